#include "adapters/tokenlab/tokenlab_status.h"

#include "absl/strings/match.h"

namespace music::adapters::tokenlab {
namespace {

struct Row {
  absl::string_view status;
  ProviderState state;
  ProviderState state_if_cancelled;
};

constexpr ProviderState kPending = ProviderState::kPending;
constexpr ProviderState kRunning = ProviderState::kRunning;
constexpr ProviderState kSucceeded = ProviderState::kSucceeded;
constexpr ProviderState kFailed = ProviderState::kFailed;
constexpr ProviderState kCanceled = ProviderState::kCanceled;

// The only place that interprets TokenLab statuses. `cancelled` only matters on `failed`
// (CONTRACT-NOTES: a canceled task reads failed + cancelled: true); a cancellation flag on a
// running task is a request in flight, not an end.
// clang-format off
constexpr Row kTable[] = {
  // status        state       state when cancelled
  {"pending",      kPending,   kPending},
  {"processing",   kRunning,   kRunning},
  {"completed",    kSucceeded, kSucceeded},
  {"failed",       kFailed,    kCanceled},
};
// clang-format on

struct FailureRow {
  absl::string_view error_code;
  absl::StatusCode code;
};

// clang-format off
constexpr FailureRow kFailures[] = {
  {"insufficient_balance",     absl::StatusCode::kFailedPrecondition},
  {"spend_limit_exceeded",     absl::StatusCode::kFailedPrecondition},
  {"content_policy_violation", absl::StatusCode::kInvalidArgument},
  {"invalid_request",          absl::StatusCode::kInvalidArgument},
  {"unsupported_parameter",    absl::StatusCode::kInvalidArgument},
  {"timeout",                  absl::StatusCode::kDeadlineExceeded},
};
// clang-format on

}  // namespace

TokenlabStatusInfo MapTokenlabStatus(absl::string_view status, bool cancelled) {
  for (const Row& row : kTable) {
    if (absl::EqualsIgnoreCase(row.status, status)) {
      return TokenlabStatusInfo{cancelled ? row.state_if_cancelled : row.state, true};
    }
  }
  return TokenlabStatusInfo{kRunning, false};
}

absl::StatusCode TokenlabFailureCode(absl::string_view error_code) {
  for (const FailureRow& row : kFailures) {
    if (absl::EqualsIgnoreCase(row.error_code, error_code)) return row.code;
  }
  return absl::StatusCode::kInternal;
}

}  // namespace music::adapters::tokenlab
