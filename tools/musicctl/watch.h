#ifndef MUSIC_TOOLS_MUSICCTL_WATCH_H_
#define MUSIC_TOOLS_MUSICCTL_WATCH_H_

#include <cstdint>
#include <optional>
#include <string>

#include "absl/time/time.h"
#include "music/v1/music_service.grpc.pb.h"
#include "music/v1/task.pb.h"
#include "tools/musicctl/console.h"

namespace music::musicctl {

/// How WatchUntilDone waits and reconnects.
struct WatchConfig {
  /// Total time for the watch, reconnects included.
  absl::Duration timeout = absl::Seconds(600);
  /// Deadline of the GetTask used when a stream ends before the task does.
  absl::Duration rpc_timeout = absl::Seconds(30);
  /// First reconnect delay; doubles up to `max_backoff`. Reset once a stream delivers a message.
  absl::Duration initial_backoff = absl::Milliseconds(500);
  absl::Duration max_backoff = absl::Seconds(5);
};

/// Watches `task_id` from `since_version` until it reaches a terminal state, printing one line per
/// change (or one JSON WatchTaskResponse per line with console.json), heartbeats only with
/// console.verbose. Reconnects with since_version = the last version seen when the stream breaks
/// with UNAVAILABLE. `last` is the task as the caller already knows it, if at all. At the end
/// prints the final task in full (human mode) and returns kExitOk when it SUCCEEDED,
/// kExitTaskFailed when it FAILED or was CANCELED, kExitRpcError on RPC errors or timeout.
int WatchUntilDone(music::v1::MusicService::StubInterface& stub, const std::string& task_id,
                   int64_t since_version, std::optional<music::v1::Task> last,
                   const WatchConfig& config, const Console& console);

/// The exit code for a task in a terminal state (kExitOk for SUCCEEDED, else kExitTaskFailed).
int ExitCodeFor(const music::v1::Task& task);

}  // namespace music::musicctl

#endif  // MUSIC_TOOLS_MUSICCTL_WATCH_H_
