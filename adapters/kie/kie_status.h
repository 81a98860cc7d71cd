#ifndef MUSIC_ADAPTERS_KIE_KIE_STATUS_H_
#define MUSIC_ADAPTERS_KIE_KIE_STATUS_H_

#include <optional>

#include "absl/status/status.h"
#include "absl/strings/string_view.h"
#include "adapters/provider_adapter.h"

namespace music::adapters::kie {

/// What one kie.ai status (or callback) means for the service.
struct KieStatusInfo {
  ProviderState state = ProviderState::kRunning;
  /// For kFailed: the code to report; kOk otherwise.
  absl::StatusCode error_code = absl::StatusCode::kOk;
  bool lyrics_ready = false;
  bool first_clip_ready = false;
  /// False for a status this table does not know (kept raw, treated as still running).
  bool known = true;
};

/// Maps a record-info `data.status` (seed 004 "Status Codes & Task States"; WIRE.md state table).
/// `lyrics` selects the lyrics-task status list (CONTRACT-NOTES): there the music stages
/// TEXT_SUCCESS and FIRST_SUCCESS are unknown. A SUCCESS is kSucceeded here; the caller applies
/// the no-audio / no-lyrics rule because it needs the results.
KieStatusInfo MapKieStatus(absl::string_view status, bool lyrics);

/// Maps a callback's `data.callbackType` and envelope `code` (WIRE.md "Callback types"):
/// text -> kRunning+lyrics_ready, first -> kRunning+first_clip_ready, complete -> kSucceeded,
/// error or code != 200 -> kFailed with KieFailureCode(code). Unknown types stay kRunning.
KieStatusInfo MapKieCallback(absl::string_view callback_type, int code);

/// THE table of kie.ai's documented failure codes, shared by a callback's `code` and record-info's
/// `errorCode` (CONTRACT-NOTES "kie.ai": "`errorCode` (400 copyrighted lyrics, 408 timeout, 413
/// audio matches an existing work)"; the callback `code` list has the same values): 400 and 413
/// INVALID_ARGUMENT, 408 DEADLINE_EXCEEDED; nullopt for any other code.
std::optional<absl::StatusCode> KieDocumentedFailureCode(int code);

/// The error code for a failed callback's `code`: KieDocumentedFailureCode, else INTERNAL.
absl::StatusCode KieFailureCode(int code);

}  // namespace music::adapters::kie

#endif  // MUSIC_ADAPTERS_KIE_KIE_STATUS_H_
