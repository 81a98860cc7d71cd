// The kie.ai clip operations (seed 004 "Advanced Features"; wire details in
// shared/seeds/CONTRACT-NOTES.md, kie.ai section; WIRE.md "Clip operations"): WAV conversion,
// vocal separation / stems, music video (each a provider task: create, record-info, callback),
// and the calls that answer at once: timestamped lyrics, style boost and the credit balance.
#ifndef MUSIC_ADAPTERS_KIE_KIE_CLIP_OPERATIONS_H_
#define MUSIC_ADAPTERS_KIE_KIE_CLIP_OPERATIONS_H_

#include <optional>
#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "adapters/provider_adapter.h"
#include "music/v1/music_service.pb.h"
#include "music/v1/task.pb.h"

namespace music::adapters::kie {

/// Longest `author` / `domainName` of `POST /api/v1/mp4/generate`, characters (CONTRACT-NOTES).
inline constexpr size_t kMaxVideoTextChars = 50;

/// A clip operation's create: its route and JSON body.
struct ClipOperationCreate {
  const char* path = nullptr;
  std::string body;
};

/// The create of `input.clip_operation()`: `POST /api/v1/wav/generate {taskId, audioId,
/// callBackUrl}`, `POST /api/v1/vocal-removal/generate {..., type: separate_vocal | split_stem}`
/// or `POST /api/v1/mp4/generate {..., author?, domainName?}`; `taskId` is
/// input.source_provider_task_id(), `audioId` input.source_clip_id() (CONTRACT-NOTES).
/// INVALID_ARGUMENT for an unset operation, a missing source or an over-long author/domain.
absl::StatusOr<ClipOperationCreate> BuildClipOperationCreate(const music::v1::TaskInput& input,
                                                             absl::string_view callback_url);

/// The record-info route of `operation` (`/api/v1/wav/record-info`,
/// `/api/v1/vocal-removal/record-info`, `/api/v1/mp4/record-info`); nullptr when unset.
const char* ClipOperationRecordPath(music::v1::ClipOperation operation);

/// For a WAV create answered with code 409 ("a WAV for that clip exists already",
/// CONTRACT-NOTES): the earlier task `data` names, read from `data` as a string or from
/// `data.taskId` / `data.task_id`. nullopt when the body is not such an answer.
std::optional<std::string> ParseKieWavConflict(absl::string_view body);

/// Reads a record-info answer of `operation` (envelope code 200): `data.successFlag` (string or
/// integer) through the operation's flag table, `errorCode`, `errorMessage` and the result in
/// `data.response` (`audioWavUrl`; `originUrl`, `vocalUrl`, ... as stem names; `videoUrl`). A
/// SUCCESS without the result's URL is kFailed/INTERNAL (a provider fault, not success). INTERNAL
/// when malformed.
absl::StatusOr<ProviderUpdate> ParseKieClipOperationRecord(music::v1::ClipOperation operation,
                                                           absl::string_view body);

/// Reads a clip operation callback `{code: 200 | 500, msg, data: {task_id, ...}}` with the
/// result in either spelling the notes list: `audioWavUrl` / `audio_wav_url`,
/// `vocal_removal_info` / `vocal_separation_info` {snake_case urls}, `video_url`. code 200 with
/// a result is kSucceeded, code 200 without one kFailed/INTERNAL, another code kFailed.
/// INVALID_ARGUMENT when malformed.
absl::StatusOr<ProviderUpdate> ParseKieClipOperationCallback(absl::string_view body);

/// Reads a `get-timestamped-lyrics` answer: `data {alignedWords: [{word, success, startS | start_s,
/// endS | end_s, palign | p_align}], waveformData, hootCer, isStreamed}` (seconds). INTERNAL when
/// malformed.
absl::StatusOr<music::v1::GetTimestampedLyricsResponse> ParseKieTimestampedLyrics(
    absl::string_view body);

/// Reads a `POST /api/v1/style/generate` answer: `data {taskId, result, creditsConsumed,
/// creditsRemaining, successFlag, errorCode, errorMessage}` (credits, as numbers). INTERNAL when
/// malformed or without `result`; FAILED_PRECONDITION when `successFlag` says it failed.
absl::StatusOr<StyleBoost> ParseKieStyleBoost(absl::string_view body);

/// Reads a `GET /api/v1/chat/credit` answer `{code: 200, msg, data: <integer credits>}` as
/// micro-credits. INTERNAL when malformed.
absl::StatusOr<ProviderBalance> ParseKieCredit(absl::string_view body);

}  // namespace music::adapters::kie

#endif  // MUSIC_ADAPTERS_KIE_KIE_CLIP_OPERATIONS_H_
