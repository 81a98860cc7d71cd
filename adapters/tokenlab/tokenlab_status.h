#ifndef MUSIC_ADAPTERS_TOKENLAB_TOKENLAB_STATUS_H_
#define MUSIC_ADAPTERS_TOKENLAB_TOKENLAB_STATUS_H_

#include "absl/status/status.h"
#include "absl/strings/string_view.h"
#include "adapters/provider_adapter.h"

namespace music::adapters::tokenlab {

/// What one TokenLab task status means for the service.
struct TokenlabStatusInfo {
  ProviderState state = ProviderState::kRunning;
  /// False for a status this table does not know (kept raw, treated as still running).
  bool known = true;
};

/// THE TokenLab state table (WIRE.md "Status table"; seed 000 "Poll For Completion",
/// CONTRACT-NOTES "TokenLab"): pending -> kPending, processing -> kRunning, completed ->
/// kSucceeded, failed -> kFailed, and failed with `cancelled: true` or `cancellation_status:
/// "cancelled"` -> kCanceled. Compared case-insensitively. An unknown status is kRunning with
/// known=false, so a status added later never ends a task (the task deadline does).
TokenlabStatusInfo MapTokenlabStatus(absl::string_view status, bool cancelled);

/// The gRPC-style code for a failed task's `error.code` (WIRE.md "Task failure codes"):
/// insufficient_balance / spend_limit_exceeded FAILED_PRECONDITION; content_policy_violation,
/// invalid_request, unsupported_parameter INVALID_ARGUMENT; timeout DEADLINE_EXCEEDED; anything
/// else (generation_failed, unknown or none) INTERNAL.
absl::StatusCode TokenlabFailureCode(absl::string_view error_code);

}  // namespace music::adapters::tokenlab

#endif  // MUSIC_ADAPTERS_TOKENLAB_TOKENLAB_STATUS_H_
