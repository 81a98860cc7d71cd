#ifndef MUSIC_ADAPTERS_BEATRA_BEATRA_REQUEST_BODY_H_
#define MUSIC_ADAPTERS_BEATRA_BEATRA_REQUEST_BODY_H_

#include <cstddef>
#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "adapters/provider_adapter.h"

namespace music::adapters::beatra {

/// Largest upload beatra takes (CONTRACT-NOTES "Uploads up to 100 MB"; read as 100 MiB).
constexpr size_t kMaxUploadBytes = size_t{100} << 20;

/// The JSON body of `POST /v1/music/text-to-music`, or of `POST
/// /v1/music/reference-audio-to-music` when `request.reference_artifact_id` is set (WIRE.md
/// "Create"): model, prompt, lyrics?, instrumental, title?, metadata {task_id, request_id?},
/// model_options {<namespace>: {...}}? and reference_audio {artifact_id}. The same request gives
/// the same bytes every time (object keys of model_options are sorted), so a resend with the same
/// Idempotency-Key is never a 409. INVALID_ARGUMENT for a model beatra does not document, a
/// model_options namespace other than the model's, a namespace that is not an object,
/// negative_tags or a seed (no such fields), or reference audio given only as a URI / id without
/// an uploaded artifact.
absl::StatusOr<std::string> BuildBeatraCreateBody(const SubmitRequest& request);

/// A random multipart boundary that does not occur in `content`.
std::string NewMultipartBoundary(absl::string_view content);

/// The multipart/form-data body of `POST /v1/uploads` (CONTRACT-NOTES "beatra": multipart `file`,
/// `purpose`, `media_type`, `metadata`): the fields `purpose` = "reference_audio", `media_type` =
/// "audio", `metadata` = `{"filename": <name>}` (a JSON string), then the part `file` with the
/// upload's filename (quotes, backslashes and control characters replaced by "_";
/// "reference-audio" when empty) and content type ("application/octet-stream" when empty).
std::string BuildUploadBody(const ReferenceAudioUpload& upload, absl::string_view boundary);

}  // namespace music::adapters::beatra

#endif  // MUSIC_ADAPTERS_BEATRA_BEATRA_REQUEST_BODY_H_
