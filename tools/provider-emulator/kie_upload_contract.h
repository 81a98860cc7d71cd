// kie.ai's file upload API (shared/seeds/CONTRACT-NOTES.md kie.ai, "File upload"), served under
// kKieUploadPrefix (emulator.h): an adapter's upload base URL is the emulator's base_url() plus
// the prefix.
// Internal to the emulator; the kie contract registers these routes with its own.
#ifndef MUSIC_TOOLS_PROVIDER_EMULATOR_KIE_UPLOAD_CONTRACT_H_
#define MUSIC_TOOLS_PROVIDER_EMULATOR_KIE_UPLOAD_CONTRACT_H_

#include <optional>
#include <string>

#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_map.h"
#include "absl/strings/string_view.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "tools/provider-emulator/core.h"

namespace music::emulator {

/// kie.ai deletes uploaded files after 3 days (CONTRACT-NOTES.md): their downloadUrl then 404s.
inline constexpr absl::Duration kKieUploadLifetime = absl::Hours(72);

/// The files uploaded so far. Thread-safe.
class KieUploadStore {
 public:
  struct File {
    std::string id;
    std::string file_name;
    std::string upload_path;
    std::string mime_type;
    std::string bytes;
    std::string download_url;
    absl::Time uploaded;
  };

  void Put(File file);
  /// The file with this id, if any.
  std::optional<File> Find(absl::string_view id) const;
  /// The file whose downloadUrl is `url`, if it is still kept at `now`.
  std::optional<File> FindByDownloadUrl(absl::string_view url, absl::Time now) const;

 private:
  mutable absl::Mutex mu_;
  absl::flat_hash_map<std::string, File> files_ ABSL_GUARDED_BY(mu_);
  absl::flat_hash_map<std::string, std::string> by_url_ ABSL_GUARDED_BY(mu_);  // url -> id
};

/// Adds `POST <prefix>/api/file-stream-upload` (multipart `file`, `uploadPath`, `fileName`;
/// Bearer `options.kie_api_key`) answering `{success, code, msg, data {fileName, filePath,
/// downloadUrl, fileSize, mimeType, uploadedAt}}`, and `GET <prefix>/files/<id>/<name>` serving
/// the bytes for kKieUploadLifetime. `core` and `store` outlive the server.
void RegisterKieUploadRoutes(httplib::Server* server, const EmulatorCore* core,
                             KieUploadStore* store);

}  // namespace music::emulator

#endif  // MUSIC_TOOLS_PROVIDER_EMULATOR_KIE_UPLOAD_CONTRACT_H_
