#include "adapters/kie/kie_status.h"

namespace music::adapters::kie {
namespace {

struct Row {
  absl::string_view status;
  ProviderState state;
  absl::StatusCode error_code;
  bool lyrics_ready;
  bool first_clip_ready;
  bool music;   // in the music status list
  bool lyrics;  // in the lyrics status list
};

using absl::StatusCode;
using C = absl::StatusCode;  // keeps the table narrow
constexpr ProviderState kPending = ProviderState::kPending;
constexpr ProviderState kRunning = ProviderState::kRunning;
constexpr ProviderState kSucceeded = ProviderState::kSucceeded;
constexpr ProviderState kFailed = ProviderState::kFailed;

// THE kie.ai state table (adapters/kie/WIRE.md); nothing else in the adapter interprets statuses.
// The music/lyrics columns only tell the partial stages apart: a failure status ends a task of
// either kind, since waiting on a task the provider has given up on would never end.
// clang-format off
constexpr Row kTable[] = {
  // status                  state       error code              lyrics first  music lyrics
  //                                                             ready  clip   list  list
  {"PENDING",                kPending,   C::kOk,                 false, false, true, true},
  {"TEXT_SUCCESS",           kRunning,   C::kOk,                 true,  false, true, false},
  {"FIRST_SUCCESS",          kRunning,   C::kOk,                 false, true,  true, false},
  {"SUCCESS",                kSucceeded, C::kOk,                 false, false, true, true},
  {"CREATE_TASK_FAILED",     kFailed,    C::kFailedPrecondition, false, false, true, true},
  {"GENERATE_AUDIO_FAILED",  kFailed,    C::kInternal,           false, false, true, true},
  {"GENERATE_LYRICS_FAILED", kFailed,    C::kInternal,           false, false, true, true},
  {"CALLBACK_EXCEPTION",     kFailed,    C::kInternal,           false, false, true, true},
  {"SENSITIVE_WORD_ERROR",   kFailed,    C::kInvalidArgument,    false, false, true, true},
};
// clang-format on

}  // namespace

KieStatusInfo MapKieStatus(absl::string_view status, bool lyrics) {
  for (const Row& row : kTable) {
    if (row.status != status || !(lyrics ? row.lyrics : row.music)) continue;
    return KieStatusInfo{row.state, row.error_code, row.lyrics_ready, row.first_clip_ready, true};
  }
  // A status added by the provider later must not end a task: keep polling / waiting.
  return KieStatusInfo{kRunning, StatusCode::kOk, false, false, false};
}

std::optional<absl::StatusCode> KieDocumentedFailureCode(int code) {
  switch (code) {
    case 400:  // copyrighted lyrics
    case 413:  // the audio matches an existing work
      return StatusCode::kInvalidArgument;
    case 408:  // timeout
      return StatusCode::kDeadlineExceeded;
    default:
      return std::nullopt;
  }
}

absl::StatusCode KieFailureCode(int code) {
  return KieDocumentedFailureCode(code).value_or(StatusCode::kInternal);
}

KieStatusInfo MapKieCallback(absl::string_view callback_type, int code) {
  if (code != 200 || callback_type == "error") {
    return KieStatusInfo{kFailed, KieFailureCode(code), false, false, true};
  }
  if (callback_type == "text") return KieStatusInfo{kRunning, StatusCode::kOk, true, false, true};
  if (callback_type == "first") return KieStatusInfo{kRunning, StatusCode::kOk, false, true, true};
  if (callback_type == "complete") {
    return KieStatusInfo{kSucceeded, StatusCode::kOk, false, false, true};
  }
  return KieStatusInfo{kRunning, StatusCode::kOk, false, false, false};
}

}  // namespace music::adapters::kie
