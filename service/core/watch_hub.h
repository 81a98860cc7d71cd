#ifndef MUSIC_SERVICE_CORE_WATCH_HUB_H_
#define MUSIC_SERVICE_CORE_WATCH_HUB_H_

#include <array>
#include <atomic>
#include <cstdint>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/synchronization/mutex.h"
#include "absl/synchronization/notification.h"
#include "absl/time/time.h"
#include "domain/clock.h"
#include "music/v1/task.pb.h"

namespace music::service {

/// Receives a task's changes. The hub calls these methods without any of its locks held, so they
/// may start I/O (a gRPC StartWrite), but they run on the publisher's or the ticker's thread: they
/// must not block and must not call back into the hub. Calls for one watcher may come from several
/// threads at once (a change and a heartbeat); the watcher serializes them itself.
class TaskWatcher {
 public:
  virtual ~TaskWatcher() = default;
  /// The task after a change. For one task, calls come in the order of the Publish calls.
  virtual void OnTaskChanged(const music::v1::Task& task) = 0;
  /// A heartbeat interval passed for this watcher; send a heartbeat if nothing else is being sent.
  virtual void OnHeartbeat() = 0;
  /// The server is shutting down: end the stream (UNAVAILABLE).
  virtual void OnShutdown() = 0;
};

/// Fans task changes out to WatchTask streams of this process. Thread-safe.
///
/// Scale (100,000 streams): watchers live in shards chosen by task id, each with its own lock, so
/// a Publish locks one shard and touches only the watchers of its task. Watcher methods run after
/// the shard lock is released (a delivery pins the watcher; Unsubscribe waits for the pins, which
/// last one non-blocking call). Heartbeats come from a timer wheel: each watcher sits in one of
/// kSlots slots and is visited once per interval, one interval after it subscribed, so the
/// heartbeats of many streams are spread over the interval instead of sent all at once, and each
/// step of the wheel holds a shard lock only to copy that slot's few watchers. When many watchers
/// have left, the ticker gives freed heap memory back to the system (glibc keeps it otherwise).
class WatchHub {
 public:
  /// Heartbeats each watcher every `heartbeat_interval` of `clock` (not owned, outlives the hub).
  /// With `ticker_thread` a thread steps the wheel (interval / kSlots apart); without it (tests)
  /// nothing ticks until the owner calls Tick() after moving a FakeClock.
  explicit WatchHub(absl::Duration heartbeat_interval, const Clock* clock = RealClock::Get(),
                    bool ticker_thread = true);
  ~WatchHub();

  WatchHub(const WatchHub&) = delete;
  WatchHub& operator=(const WatchHub&) = delete;

  /// Registers `watcher` for `task_id`; its first heartbeat is due one interval from now. Returns
  /// a token (never 0) for Unsubscribe. After Shutdown(), calls watcher->OnShutdown() at once,
  /// registers nothing and returns 0.
  int64_t Subscribe(const std::string& task_id, TaskWatcher* watcher);
  /// Removes a watcher; once it returns, no method of the watcher runs or will run. May wait for
  /// a watcher call that is running on another thread (one non-blocking call). Must not be called
  /// from inside a method of that watcher. Token 0 or an unknown token: nothing.
  void Unsubscribe(int64_t token);
  /// Delivers `task` to the watchers of task.task_id(), in Publish order per task: when another
  /// thread is delivering a change of the same task, this one is queued and delivered by it.
  void Publish(const music::v1::Task& task);
  /// Calls OnShutdown on every watcher and stops the ticker. Idempotent.
  void Shutdown();
  /// Number of registered watchers (for metrics and tests).
  int size() const;
  /// Whether `task_id` has a watcher here: one shard lock, O(1).
  bool HasWatchers(const std::string& task_id);
  /// The ids of the tasks with watchers here, each shard copied under its own lock (for a catch-up
  /// read after a change feed reconnected; O(watched tasks), never under one global lock).
  std::vector<std::string> WatchedTaskIds();
  /// Steps the heartbeat wheel over every slot whose time has come on the clock (at most one
  /// full turn, so a clock jump sends one heartbeat per watcher, not many), calling OnHeartbeat
  /// on the watchers of those slots. Returns whether any watcher got a heartbeat. Nothing after
  /// Shutdown().
  bool Tick();
  /// The clock heartbeats are timed (and stamped) with.
  const Clock* clock() const { return clock_; }

  /// Heartbeat slots per interval: 100,000 watchers at a 30 s interval are visited ~390 at a time,
  /// every ~117 ms.
  static constexpr int kSlots = 256;
  /// Task-id shards; a Publish contends only with work on its own shard.
  static constexpr int kShards = 64;
  /// Unsubscribes between two heap trims (each returns freed memory to the system).
  static constexpr int kTrimAfterUnsubscribes = 4096;

 private:
  struct Entry {
    TaskWatcher* watcher;
    std::string task_id;
    uint32_t slot;      // heartbeat slot
    uint32_t slot_pos;  // index in the slot's vector (swap-removed)
    int pins = 0;       // calls of the watcher running outside the lock
    bool removed = false;
  };
  // The watchers of one task, and the changes queued while a delivery of that task runs.
  struct TaskWatchers {
    std::vector<Entry*> entries;
    std::vector<music::v1::Task> queued;
    bool delivering = false;
  };
  struct Shard {
    mutable absl::Mutex mu;
    bool shut_down ABSL_GUARDED_BY(mu) = false;
    absl::flat_hash_map<int64_t, std::unique_ptr<Entry>> by_token ABSL_GUARDED_BY(mu);
    absl::flat_hash_map<std::string, TaskWatchers> by_task ABSL_GUARDED_BY(mu);
    std::array<std::vector<Entry*>, kSlots> slots ABSL_GUARDED_BY(mu);
  };

  Shard& ShardFor(const std::string& task_id);
  // Heartbeats the watchers of `slot` in every shard (each shard lock held only to copy them).
  int HeartbeatSlot(int slot);
  // Pins the watchers of `tw` into `out` (shard lock held).
  static void PinAll(const TaskWatchers& tw, std::vector<Entry*>* out);
  // Unpins `pinned` (shard lock held); Unsubscribe waits for this.
  static void UnpinAll(const std::vector<Entry*>& pinned);
  void MaybeTrimHeap();
  void TickerLoop();

  const absl::Duration heartbeat_interval_;
  const Clock* const clock_;
  std::array<Shard, kShards> shards_;

  // Slots in use (fewer than kSlots for short intervals, so the ticker never wakes more often
  // than every 10 ms) and the time between two of them.
  const int num_slots_;
  const absl::Duration slot_length_;
  // The next slot the wheel visits. A subscriber joins the slot visited last, so its first
  // heartbeat comes about one interval later.
  std::atomic<int> next_slot_{0};
  std::atomic<bool> shut_down_{false};
  std::atomic<int64_t> next_serial_{1};
  std::atomic<int> size_{0};
  std::atomic<int> unsubscribes_since_trim_{0};
  int unsubscribes_at_last_step_ = 0;  // ticker thread only
  absl::Time last_unsubscribe_seen_;   // ticker thread only

  // Serializes the wheel's bookkeeping (the ticker and a test's Tick); no watcher call runs
  // under it.
  absl::Mutex wheel_mu_;
  absl::Time next_slot_time_ ABSL_GUARDED_BY(wheel_mu_);

  absl::Notification stop_;
  std::thread ticker_;
};

}  // namespace music::service

#endif  // MUSIC_SERVICE_CORE_WATCH_HUB_H_
