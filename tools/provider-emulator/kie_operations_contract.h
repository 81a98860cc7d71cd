// kie.ai's clip operations (seed 004 "Advanced Features"; shared/seeds/CONTRACT-NOTES.md, kie.ai
// section), an independent reading of the documents: it includes no adapter code.
#ifndef MUSIC_TOOLS_PROVIDER_EMULATOR_KIE_OPERATIONS_CONTRACT_H_
#define MUSIC_TOOLS_PROVIDER_EMULATOR_KIE_OPERATIONS_CONTRACT_H_

#include <httplib.h>

#include <functional>
#include <memory>
#include <optional>
#include <string>

#include "tools/provider-emulator/core.h"

namespace music::emulator {

/// What the kie generation contract knows of a clip it made.
struct KieClipInfo {
  /// The sung text (the clip's `prompt`); "" for an instrumental clip.
  std::string lyrics;
};

/// Hooks into the kie generation contract that owns the clips and the account.
struct KieOperationHooks {
  /// The clip `audio_id` of generation task `task_id`, or nullopt when that task has no such
  /// clip (the operations then answer 404).
  std::function<std::optional<KieClipInfo>(const std::string& task_id, const std::string& audio_id)>
      find_clip;
  /// Checks `Authorization: Bearer <key>`, answering 401 itself when it fails.
  std::function<bool(const httplib::Request&, httplib::Response*)> authorized;
};

/// The routes: `POST /api/v1/wav/generate` + `GET /api/v1/wav/record-info` (a second WAV of the
/// same clip answers code 409 naming the earlier task), `POST /api/v1/vocal-removal/generate`
/// (`type` separate_vocal | split_stem) + record-info, `POST /api/v1/mp4/generate` + record-info,
/// each with its callback; `POST /api/v1/generate/get-timestamped-lyrics`,
/// `POST /api/v1/style/generate` and `GET /api/v1/chat/credit`, which answer at once. Stems and
/// WAVs are real WAV files served at /audio/<id>.wav. A task fails (GENERATE_*_FAILED, callback
/// code 500) under the generate_audio_failed fault.
class KieOperations {
 public:
  virtual ~KieOperations() = default;
  virtual void RegisterRoutes(httplib::Server* server) = 0;
  /// Operation tasks created so far.
  virtual int64_t TaskCount() const = 0;
};

/// `core` and the hooks' targets must outlive the result.
std::unique_ptr<KieOperations> NewKieOperations(const EmulatorCore* core, KieOperationHooks hooks);

}  // namespace music::emulator

#endif  // MUSIC_TOOLS_PROVIDER_EMULATOR_KIE_OPERATIONS_CONTRACT_H_
