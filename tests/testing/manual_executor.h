#ifndef MUSIC_TESTS_TESTING_MANUAL_EXECUTOR_H_
#define MUSIC_TESTS_TESTING_MANUAL_EXECUTOR_H_

#include <cstddef>
#include <deque>
#include <functional>
#include <utility>

#include "absl/synchronization/mutex.h"
#include "service/core/executor.h"

namespace music::service {

/// An Executor that runs nothing by itself: closures wait in FIFO order until the test runs them
/// on its own thread (RunOne / RunUntilIdle). Closures left at destruction are dropped, not run.
/// Schedule is thread-safe; run closures from one thread.
class ManualExecutor final : public Executor {
 public:
  bool Schedule(std::function<void()> fn) override {
    absl::MutexLock lock(&mu_);
    if (stopped_) return false;
    queue_.push_back(std::move(fn));
    return true;
  }

  /// Queues `fn` ahead of every closure queued by Schedule (after earlier urgent ones).
  bool ScheduleUrgent(std::function<void()> fn) override {
    absl::MutexLock lock(&mu_);
    if (stopped_) return false;
    queue_.insert(queue_.begin() + urgent_, std::move(fn));
    ++urgent_;
    return true;
  }

  /// Runs the oldest queued closure (urgent ones first). False when none was queued.
  bool RunOne() {
    std::function<void()> fn;
    {
      absl::MutexLock lock(&mu_);
      if (queue_.empty()) return false;
      fn = std::move(queue_.front());
      queue_.pop_front();
      if (urgent_ > 0) --urgent_;
    }
    fn();  // without the lock: it may schedule more
    return true;
  }
  /// Runs closures (including those they schedule) until none is queued. Returns how many ran.
  int RunUntilIdle() {
    int ran = 0;
    while (RunOne()) ++ran;
    return ran;
  }
  /// Closures waiting to run.
  int pending() const {
    absl::MutexLock lock(&mu_);
    return static_cast<int>(queue_.size());
  }
  /// Takes no more work (Schedule returns false) and drops what is queued, like a pool that shut
  /// down.
  void Stop() {
    absl::MutexLock lock(&mu_);
    stopped_ = true;
    queue_.clear();
    urgent_ = 0;
  }

 private:
  mutable absl::Mutex mu_;
  std::deque<std::function<void()>> queue_ ABSL_GUARDED_BY(mu_);
  bool stopped_ ABSL_GUARDED_BY(mu_) = false;
  // The first urgent_ closures of queue_ came through ScheduleUrgent.
  size_t urgent_ ABSL_GUARDED_BY(mu_) = 0;
};

}  // namespace music::service

#endif  // MUSIC_TESTS_TESTING_MANUAL_EXECUTOR_H_
