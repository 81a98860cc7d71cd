// Validation of CreateAudioOperation (the operations on the caller's own audio: cover, extend,
// add instrumental, add vocals; kie.ai seed 004 "Advanced Features", CONTRACT-NOTES.md kie.ai
// "From uploaded audio"). Errors name the request's fields.
#ifndef MUSIC_SERVICE_CORE_AUDIO_OPERATION_VALIDATION_H_
#define MUSIC_SERVICE_CORE_AUDIO_OPERATION_VALIDATION_H_

#include <vector>

#include "music/v1/music_service.pb.h"
#include "music/v1/task.pb.h"
#include "service/core/status_details.h"

namespace music::service {

/// The TaskInput a CreateAudioOperationRequest stores (audio_operation, the audio source and the
/// generation fields).
music::v1::TaskInput AudioOperationInput(const music::v1::CreateAudioOperationRequest& request);

/// True when `model` lists `operation` in capabilities.audio_operations.
bool ModelOffersAudioOperation(const music::v1::Model& model, music::v1::AudioOperation operation);

/// Checks what needs no model: `operation` set and known; exactly one of reference_audio_id and
/// reference_audio_uri; per operation (CONTRACT-NOTES.md kie.ai):
///  - COVER: as CreateMusic, simple mode needs `prompt`; custom mode (style or title given) needs
///    `style`, `title` and `prompt` unless `instrumental`.
///  - EXTEND: `continue_at_seconds` > 0 (kie.ai `continueAt` in (0, duration)), `prompt`, `style`,
///    `title`; no `negative_tags`.
///  - ADD_INSTRUMENTAL: `title` and `style` (sent as `tags`); no `prompt`.
///  - ADD_VOCALS: `prompt`, `style`, `title`.
///  `instrumental` only with COVER, `continue_at_seconds` only with EXTEND.
void ValidateAudioOperationFields(const music::v1::TaskInput& input,
                                  std::vector<FieldViolation>& out);

/// ValidateAudioOperationFields plus what depends on `model`: the model's length limits, and the
/// audio source's syntax (reference_audio_uri https; reference_audio_id "<provider>/<tag>/
/// <artifact>" of the model's provider, reference_audio_id.h). The operation being listed is
/// checked by the caller (FAILED_PRECONDITION).
void ValidateAudioOperation(const music::v1::TaskInput& input, const music::v1::Model& model,
                            std::vector<FieldViolation>& out);

}  // namespace music::service

#endif  // MUSIC_SERVICE_CORE_AUDIO_OPERATION_VALIDATION_H_
