// kie.ai's operations on the caller's own audio (CONTRACT-NOTES.md kie.ai, "From uploaded audio"):
// upload-cover, upload-extend, add-instrumental and add-vocals. Each is a music task: it is polled
// with generate's record-info and called back like generate (WIRE.md "Audio operations").
#ifndef MUSIC_ADAPTERS_KIE_KIE_AUDIO_OPERATIONS_H_
#define MUSIC_ADAPTERS_KIE_KIE_AUDIO_OPERATIONS_H_

#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "music/v1/task.pb.h"

namespace music::adapters::kie {

/// The route of `operation`: "/api/v1/generate/upload-cover", "/api/v1/generate/upload-extend",
/// "/api/v1/generate/add-instrumental" or "/api/v1/generate/add-vocals"; nullptr for
/// AUDIO_OPERATION_UNSPECIFIED or an unknown value.
const char* KieAudioOperationPath(music::v1::AudioOperation operation);

/// Whether kie.ai runs `operation` on `provider_model`: cover and extend on every model,
/// add-instrumental and add-vocals only on `V4_5PLUS` and `V5` (CONTRACT-NOTES.md).
bool KieModelRunsAudioOperation(absl::string_view provider_model,
                                music::v1::AudioOperation operation);

/// The JSON body of `input.audio_operation()`'s route, with `upload_url` (a downloadUrl of kie.ai's
/// file upload, WIRE.md "File upload") as `uploadUrl` and `callback_url` as `callBackUrl`:
///  - COVER: generate's fields (`prompt`, `customMode`, `instrumental`, `model`, `style`, `title`,
///    `negativeTags`) plus `uploadUrl`.
///  - EXTEND: `uploadUrl`, `defaultParamFlag` (continue_at_seconds > 0), `model`; with the flag
///    also `prompt`, `style`, `title`, `continueAt` (seconds).
///  - ADD_INSTRUMENTAL: `uploadUrl`, `title`, `tags` (= style), `negativeTags` when set, `model`.
///  - ADD_VOCALS: `uploadUrl`, `prompt`, `style`, `title`, `negativeTags` when set, `model`.
/// INVALID_ARGUMENT (nothing sent) for an unspecified operation, an empty `upload_url` or model,
/// a continue_at_seconds that is not a finite number >= 0, or add-* on another model than
/// V4_5PLUS / V5.
absl::StatusOr<std::string> BuildKieAudioOperationBody(const music::v1::TaskInput& input,
                                                       absl::string_view model,
                                                       absl::string_view callback_url,
                                                       absl::string_view upload_url);

}  // namespace music::adapters::kie

#endif  // MUSIC_ADAPTERS_KIE_KIE_AUDIO_OPERATIONS_H_
