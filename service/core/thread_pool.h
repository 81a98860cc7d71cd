#ifndef MUSIC_SERVICE_CORE_THREAD_POOL_H_
#define MUSIC_SERVICE_CORE_THREAD_POOL_H_

#include <deque>
#include <functional>
#include <string>
#include <thread>
#include <vector>

#include "absl/synchronization/mutex.h"
#include "service/core/executor.h"

namespace music::service {

/// A fixed set of threads running queued closures in FIFO order (urgent ones first). The service's blocking work
/// (database, provider HTTP) runs here so gRPC reactions never block.
class ThreadPool final : public Executor {
 public:
  /// Starts `threads` (>= 1) workers. A non-empty `name` names them "<name>-<index>" (cut to the
  /// 15 bytes Linux keeps), so `top -H`, `perf` and /proc/<pid>/task/*/comm tell the pools
  /// apart; empty: they keep the process's name.
  explicit ThreadPool(int threads, const std::string& name = "");
  /// Runs what is queued, then joins the workers.
  ~ThreadPool() override;
  ThreadPool(const ThreadPool&) = delete;
  ThreadPool& operator=(const ThreadPool&) = delete;

  /// Queues `fn`. After Shutdown() the closure is dropped and false is returned.
  bool Schedule(std::function<void()> fn) override;
  /// Queues `fn` ahead of every closure queued by Schedule.
  bool ScheduleUrgent(std::function<void()> fn) override;
  /// Stops taking work, runs what is queued, joins the workers. Idempotent.
  void Shutdown();

 private:
  void Work();

  absl::Mutex mu_;
  std::deque<std::function<void()>> queue_ ABSL_GUARDED_BY(mu_);
  std::deque<std::function<void()>> urgent_ ABSL_GUARDED_BY(mu_);
  bool stopping_ ABSL_GUARDED_BY(mu_) = false;
  std::vector<std::thread> threads_;
};

}  // namespace music::service

#endif  // MUSIC_SERVICE_CORE_THREAD_POOL_H_
