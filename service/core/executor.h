#ifndef MUSIC_SERVICE_CORE_EXECUTOR_H_
#define MUSIC_SERVICE_CORE_EXECUTOR_H_

#include <functional>
#include <utility>

namespace music::service {

/// Runs closures later, on threads it chooses. The engine hands its steps (database and provider
/// work) to one, so production runs them on a ThreadPool while a test drives them one by one
/// (tests/testing/manual_executor.h) without threads or sleeps.
class Executor {
 public:
  virtual ~Executor() = default;
  /// Queues `fn` to run once. Returns false (and drops `fn` without running it) when the executor
  /// no longer takes work, e.g. after a shutdown. Thread-safe.
  virtual bool Schedule(std::function<void()> fn) = 0;
  /// As Schedule, ahead of the closures queued by Schedule (the engine's submissions go ahead of
  /// its polls). Default: the same queue as Schedule.
  virtual bool ScheduleUrgent(std::function<void()> fn) { return Schedule(std::move(fn)); }
};

}  // namespace music::service

#endif  // MUSIC_SERVICE_CORE_EXECUTOR_H_
