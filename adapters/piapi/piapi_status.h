#ifndef MUSIC_ADAPTERS_PIAPI_PIAPI_STATUS_H_
#define MUSIC_ADAPTERS_PIAPI_PIAPI_STATUS_H_

#include <cstdint>

#include "absl/status/status.h"
#include "absl/strings/string_view.h"
#include "adapters/provider_adapter.h"

namespace music::adapters::piapi {

/// What one PiAPI `data.status` means for the service.
struct PiapiStatusInfo {
  ProviderState state = ProviderState::kRunning;
  /// False for a status this table does not know (kept raw, treated as still running).
  bool known = true;
  /// The table's spelling of a known status ("Completed" for "completed"); "" when unknown.
  absl::string_view canonical;
};

/// THE PiAPI status table (seed 003 "Get Task" `status` enum; WIRE.md "Statuses"), compared
/// case-insensitively (CONTRACT-NOTES: "Completed" and "completed" both occur): Staged and
/// Pending -> kPending, Processing -> kRunning, Completed -> kSucceeded, Failed -> kFailed.
/// Anything else -> kRunning with known = false (a new status must not end a task).
PiapiStatusInfo MapPiapiStatus(absl::string_view status);

/// The code to report for a Failed task's `data.error.code` (WIRE.md "Errors"): 10000 (failed
/// to freeze points: out of credits) FAILED_PRECONDITION, 400..499 INVALID_ARGUMENT, anything
/// else (0, 500, unknown) INTERNAL.
absl::StatusCode PiapiTaskErrorCode(int64_t code);

}  // namespace music::adapters::piapi

#endif  // MUSIC_ADAPTERS_PIAPI_PIAPI_STATUS_H_
