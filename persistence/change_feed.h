// Task changes committed by any replica on a shared store, so that a WatchTask stream on one
// replica sees what another wrote. PostgreSQL: LISTEN/NOTIFY (a notification per committed task
// write, delivered in commit order), with a catch-up read on every (re)connection because
// notifications sent while the listener was away are lost.
#ifndef MUSIC_PERSISTENCE_CHANGE_FEED_H_
#define MUSIC_PERSISTENCE_CHANGE_FEED_H_

#include <cstdint>
#include <functional>
#include <string>

#include "absl/status/status.h"

namespace music::persistence {

/// One committed task write.
struct TaskChange {
  std::string task_id;
  /// The task's version after the write (a lease claim repeats the current version).
  int64_t version = 0;
  /// The replica that wrote it (LeaseStore::replica_id()).
  std::string writer;
};

/// Thread-safe.
class TaskChangeFeed {
 public:
  virtual ~TaskChangeFeed() = default;
  /// Starts a thread that calls `on_change` for each committed task write of any replica, in
  /// commit order, and `on_resync` after each (re)connection to the store, the first included:
  /// changes may have been missed while it was away, so the caller reads again what it follows.
  /// Both run on the feed's thread, one at a time; they may read the store. While the store is
  /// unreachable the feed reconnects with backoff. FAILED_PRECONDITION when already started.
  virtual absl::Status Start(std::function<void(const TaskChange&)> on_change,
                             std::function<void()> on_resync) = 0;
  /// Stops and joins the thread; no callback runs once it returns. Idempotent.
  virtual void Stop() = 0;
};

}  // namespace music::persistence

#endif  // MUSIC_PERSISTENCE_CHANGE_FEED_H_
