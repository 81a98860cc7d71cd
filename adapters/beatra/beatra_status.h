#ifndef MUSIC_ADAPTERS_BEATRA_BEATRA_STATUS_H_
#define MUSIC_ADAPTERS_BEATRA_BEATRA_STATUS_H_

#include "absl/strings/string_view.h"
#include "adapters/provider_adapter.h"

namespace music::adapters::beatra {

/// What one beatra task `status` means for the service.
struct BeatraStatusInfo {
  ProviderState state = ProviderState::kRunning;
  /// False for a status this table does not know (kept raw, treated as still running).
  bool known = true;
};

/// THE beatra status table (CONTRACT-NOTES "beatra"; WIRE.md "Statuses"): queued -> kPending,
/// running -> kRunning, succeeded -> kSucceeded, failed -> kFailed, canceled -> kCanceled.
/// Anything else is kRunning with known=false, so a status added later never ends a task.
BeatraStatusInfo MapBeatraStatus(absl::string_view status);

}  // namespace music::adapters::beatra

#endif  // MUSIC_ADAPTERS_BEATRA_BEATRA_STATUS_H_
