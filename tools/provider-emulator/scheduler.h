#ifndef MUSIC_TOOLS_PROVIDER_EMULATOR_SCHEDULER_H_
#define MUSIC_TOOLS_PROVIDER_EMULATOR_SCHEDULER_H_

#include <cstdint>
#include <functional>
#include <map>
#include <thread>
#include <utility>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "domain/clock.h"

namespace music::emulator {

/// Runs jobs at their due time on one background thread, in (due time, insertion) order. Jobs must
/// be short (they hand work to other threads); jobs scheduled for the same instant run in the order
/// they were scheduled.
class Scheduler {
 public:
  /// Due times are read on `clock` (not owned, outlives the scheduler).
  explicit Scheduler(const Clock* clock = RealClock::Get()) : clock_(clock) {}
  ~Scheduler();  ///< Stops.

  Scheduler(const Scheduler&) = delete;
  Scheduler& operator=(const Scheduler&) = delete;

  /// Starts the thread. Call once.
  void Start();
  /// Drops the jobs not yet run and joins the thread (after a running job ends). Idempotent.
  void Stop();

  /// Runs `job` at `due` (at once when due is past). Ignored after Stop.
  void ScheduleAt(absl::Time due, std::function<void()> job);
  /// Runs `job` after `delay` of the clock.
  void ScheduleAfter(absl::Duration delay, std::function<void()> job);

 private:
  void Loop();

  const Clock* const clock_;
  absl::Mutex mu_;
  absl::CondVar cv_;
  std::map<std::pair<absl::Time, uint64_t>, std::function<void()>> jobs_ ABSL_GUARDED_BY(mu_);
  uint64_t next_seq_ ABSL_GUARDED_BY(mu_) = 0;
  bool stopping_ ABSL_GUARDED_BY(mu_) = false;
  std::thread thread_;
};

}  // namespace music::emulator

#endif  // MUSIC_TOOLS_PROVIDER_EMULATOR_SCHEDULER_H_
