// kie.ai's file upload API (CONTRACT-NOTES.md kie.ai, "File upload"): the audio the operations on
// the caller's own audio take as `uploadUrl` is stored there first. Its own base URL
// (https://kieai.redpandaai.co), the same API key. WIRE.md "File upload".
#ifndef MUSIC_ADAPTERS_KIE_KIE_FILE_UPLOAD_H_
#define MUSIC_ADAPTERS_KIE_KIE_FILE_UPLOAD_H_

#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "adapters/http/http_types.h"
#include "adapters/provider_adapter.h"

namespace music::adapters::kie {

/// The folder the adapter stores reference audio under (`uploadPath`).
inline constexpr char kKieUploadPath[] = "music-gateway/reference-audio";
/// Largest upload sent, bytes (the service's reference-audio cap; kie.ai documents none).
inline constexpr size_t kKieMaxUploadBytes = 100 << 20;

/// The body of `POST /api/file-stream-upload`: multipart/form-data with the parts `file` (the
/// bytes, with their file name and content type), `uploadPath` (kKieUploadPath) and `fileName`.
/// `boundary` must not occur in the bytes (NewKieMultipartBoundary).
std::string BuildKieFileUploadBody(const ReferenceAudioUpload& upload,
                                   absl::string_view boundary);

/// A random multipart boundary that does not occur in `content`.
std::string NewKieMultipartBoundary(absl::string_view content);

/// Reads the upload answer `{success, code, msg, data {fileName, filePath, downloadUrl, fileSize,
/// mimeType, uploadedAt}}` and returns `data.downloadUrl`, the public URL the audio operations
/// take as `uploadUrl` (kie.ai deletes the file after 3 days). Call after CheckKieAnswer accepted
/// the envelope code. INTERNAL when the body is malformed, `success` is not true, or there is
/// no https/http downloadUrl.
absl::StatusOr<std::string> ParseKieFileUploadAnswer(absl::string_view body);

}  // namespace music::adapters::kie

#endif  // MUSIC_ADAPTERS_KIE_KIE_FILE_UPLOAD_H_
