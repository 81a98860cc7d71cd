#ifndef MUSIC_SERVICE_CORE_RATE_LIMITER_H_
#define MUSIC_SERVICE_CORE_RATE_LIMITER_H_

#include <deque>
#include <optional>

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

 private:
  const int limit_;
  const absl::Duration window_;
  absl::Mutex mu_;
  std::deque<absl::Time> grants_ ABSL_GUARDED_BY(mu_);
};

}  // namespace music::service

#endif  // MUSIC_SERVICE_CORE_RATE_LIMITER_H_
