#include "adapters/piapi/piapi_status.h"

#include "absl/strings/match.h"

namespace music::adapters::piapi {
namespace {

struct Row {
  absl::string_view status;
  ProviderState state;
};

// THE PiAPI state table (WIRE.md "Statuses"); nothing else in the adapter interprets statuses.
// Staged is documented as Midjourney-only but is in the shared enum: it is a queue, so pending.
// clang-format off
constexpr Row kTable[] = {
  {"Staged",     ProviderState::kPending},
  {"Pending",    ProviderState::kPending},
  {"Processing", ProviderState::kRunning},
  {"Completed",  ProviderState::kSucceeded},
  {"Failed",     ProviderState::kFailed},
};
// clang-format on

}  // namespace

PiapiStatusInfo MapPiapiStatus(absl::string_view status) {
  for (const Row& row : kTable) {
    if (absl::EqualsIgnoreCase(row.status, status))
      return PiapiStatusInfo{row.state, true, row.status};
  }
  return PiapiStatusInfo{ProviderState::kRunning, false, {}};
}

absl::StatusCode PiapiTaskErrorCode(int64_t code) {
  if (code == 10000) return absl::StatusCode::kFailedPrecondition;
  if (code >= 400 && code <= 499) return absl::StatusCode::kInvalidArgument;
  return absl::StatusCode::kInternal;
}

}  // namespace music::adapters::piapi
