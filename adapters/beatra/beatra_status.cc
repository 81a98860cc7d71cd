#include "adapters/beatra/beatra_status.h"

namespace music::adapters::beatra {
namespace {

struct Row {
  absl::string_view status;
  ProviderState state;
};

// THE beatra state table (adapters/beatra/WIRE.md); nothing else in the adapter reads statuses.
// clang-format off
constexpr Row kTable[] = {
    {"queued",    ProviderState::kPending},
    {"running",   ProviderState::kRunning},
    {"succeeded", ProviderState::kSucceeded},
    {"failed",    ProviderState::kFailed},
    {"canceled",  ProviderState::kCanceled},
};
// clang-format on

}  // namespace

BeatraStatusInfo MapBeatraStatus(absl::string_view status) {
  for (const Row& row : kTable) {
    if (row.status == status) return BeatraStatusInfo{row.state, true};
  }
  return BeatraStatusInfo{ProviderState::kRunning, false};
}

}  // namespace music::adapters::beatra
