#ifndef MUSIC_SERVICE_CORE_RATE_LIMITER_H_
#define MUSIC_SERVICE_CORE_RATE_LIMITER_H_

#include <cstddef>
#include <deque>
#include <optional>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"

namespace music::service {

/// A sliding-window limiter: at most `limit` grants in any `window` (e.g. kie.ai's 20 creates per
/// 10 s, CONTRACT-NOTES kie.ai "Limits"). It never sleeps or blocks: a refused caller gets the
/// time the next slot frees and reschedules its step for then on its own timer. Thread-safe;
/// Acquire is O(1) amortised (each grant is pushed and popped once).
class SlidingWindowLimiter {
 public:
  /// `limit` <= 0 disables the limiter (every Acquire is granted).
  SlidingWindowLimiter(int limit, absl::Duration window);

  /// Takes a slot at `now` and returns nullopt ("go"), or returns the earliest time a slot frees
  /// (taking nothing). `now` comes from the injected domain::Clock.
  std::optional<absl::Time> Acquire(absl::Time now);

  /// As Acquire, but the slot is held until Release(): it counts from the moment the request's
  /// answer arrived, not from the moment it was sent. The provider counts a request when it
  /// receives it, which is somewhere between the two; counting from the answer means network
  /// latency (a first request slowed by its connection set-up, a later one on a warm
  /// connection) can never make the provider see `limit` + 1 requests in one window. While
  /// every slot is held by a request in flight, the refusal says `now + window` (no slot can
  /// free earlier: the earliest answer is still to come).
  std::optional<absl::Time> AcquireUntilRelease(absl::Time now);
  /// Ends a slot AcquireUntilRelease granted: it counts for one window from `answered` (the
  /// injected clock's time when the answer, or the failure, arrived; or when the caller gave up
  /// sending). Exactly once per grant.
  void Release(absl::Time answered);
  /// Gives back a slot AcquireUntilRelease granted for a request that was not sent after all:
  /// it counts for nothing. Instead of Release, exactly once per grant.
  void Return();

 private:
  // Drops the grants that left the window at `now`.
  void ExpireLocked(absl::Time now) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  const int limit_;
  const absl::Duration window_;
  absl::Mutex mu_;
  // Times slots were taken (Acquire) or released (Release), oldest first.
  std::deque<absl::Time> grants_ ABSL_GUARDED_BY(mu_);
  // Slots taken by AcquireUntilRelease and not yet released.
  int in_flight_ ABSL_GUARDED_BY(mu_) = 0;
};

/// The answer times of one task's last `limit` requests, for a per-task limit (kie.ai
/// record-info: 3 requests/s per task, CONTRACT-NOTES kie.ai). Like AcquireUntilRelease, a
/// request counts from its answer. Not thread-safe: the engine keeps one per task in flight in
/// its own state, under its own lock, and a task has at most one poll in flight. Memory: `limit`
/// times.
class RecentRequests {
 public:
  /// nullopt when a request may be sent at `now` under `limit` per `window` (`limit` <= 0:
  /// always); else the earliest time one may.
  std::optional<absl::Time> NextAllowed(absl::Time now, int limit, absl::Duration window) const;
  /// A request's answer arrived at `answered` (non-decreasing between calls).
  void Record(absl::Time answered, int limit);

 private:
  // A ring of at most `limit` times; once full, the oldest is at next_.
  std::vector<absl::Time> times_;
  size_t next_ = 0;
};

}  // namespace music::service

#endif  // MUSIC_SERVICE_CORE_RATE_LIMITER_H_
