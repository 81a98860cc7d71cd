#ifndef MUSIC_SERVICE_CORE_WATCH_HUB_H_
#define MUSIC_SERVICE_CORE_WATCH_HUB_H_

#include <cstdint>
#include <map>
#include <string>
#include <thread>

#include "absl/synchronization/mutex.h"
#include "absl/synchronization/notification.h"
#include "absl/time/time.h"
#include "domain/clock.h"
#include "music/v1/task.pb.h"

namespace music::service {

/// Receives a task's changes. Methods are called with the hub's lock held: they must only queue
/// work (never call back into the hub, never block).
class TaskWatcher {
 public:
  virtual ~TaskWatcher() = default;
  /// The task after a change.
  virtual void OnTaskChanged(const music::v1::Task& task) = 0;
  /// The heartbeat interval passed; send a heartbeat if nothing else is being sent.
  virtual void OnHeartbeat() = 0;
  /// The server is shutting down: end the stream (UNAVAILABLE).
  virtual void OnShutdown() = 0;
};

/// Fans task changes out to WatchTask streams of this process. Thread-safe.
class WatchHub {
 public:
  /// Heartbeats every watcher each `heartbeat_interval` of `clock` (not owned, outlives the hub).
  /// With `ticker_thread` a thread calls Tick() when the interval is over; without it (tests)
  /// nothing ticks until the owner calls Tick() after moving a FakeClock.
  explicit WatchHub(absl::Duration heartbeat_interval, const Clock* clock = RealClock::Get(),
                    bool ticker_thread = true);
  ~WatchHub();

  /// Registers `watcher` for `task_id`. Returns a token for Unsubscribe. After Shutdown(), calls
  /// watcher->OnShutdown() at once and registers nothing.
  int64_t Subscribe(const std::string& task_id, TaskWatcher* watcher);
  /// Removes a watcher; once it returns, no method of the watcher runs or will run.
  void Unsubscribe(int64_t token);
  /// Delivers `task` to the watchers of task.task_id().
  void Publish(const music::v1::Task& task);
  /// Calls OnShutdown on every watcher and stops the ticker. Idempotent.
  void Shutdown();
  /// Number of registered watchers (for metrics and tests).
  int size() const;
  /// When the clock has reached the next heartbeat time (one interval after the last heartbeat,
  /// or after construction), calls OnHeartbeat on every watcher once and starts a new interval.
  /// Returns whether it did. Nothing after Shutdown().
  bool Tick();
  /// The clock heartbeats are timed (and stamped) with.
  const Clock* clock() const { return clock_; }

 private:
  struct Entry {
    std::string task_id;
    TaskWatcher* watcher;
  };
  void TickerLoop();

  const absl::Duration heartbeat_interval_;
  const Clock* const clock_;
  mutable absl::Mutex mu_;
  int64_t next_token_ ABSL_GUARDED_BY(mu_) = 1;
  std::map<int64_t, Entry> watchers_ ABSL_GUARDED_BY(mu_);
  std::multimap<std::string, int64_t> by_task_ ABSL_GUARDED_BY(mu_);
  bool shut_down_ ABSL_GUARDED_BY(mu_) = false;
  absl::Time next_heartbeat_ ABSL_GUARDED_BY(mu_);
  absl::Notification stop_;
  std::thread ticker_;
};

}  // namespace music::service

#endif  // MUSIC_SERVICE_CORE_WATCH_HUB_H_
