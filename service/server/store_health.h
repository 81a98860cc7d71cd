// Keeps the gRPC health status in step with the store: a replica whose store cannot take writes
// (SQLite: its file deleted or replaced; later PostgreSQL: unreachable) reports NOT_SERVING so the
// load balancer stops sending it work, and SERVING again once the store is back (issue 10,
// "Health is NOT_SERVING while a replica cannot reach its store").
#ifndef MUSIC_SERVICE_SERVER_STORE_HEALTH_H_
#define MUSIC_SERVICE_SERVER_STORE_HEALTH_H_

#include <functional>
#include <thread>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "persistence/task_store.h"

namespace music::service {

/// Checks TaskStore::CheckHealth() every `interval` on a thread of its own (the check is a
/// couple of syscalls, never on an RPC or engine thread) and calls `on_change(status)` when the
/// answer flips between OK and not OK (and once for the first check), logging each change.
class StoreHealthMonitor {
 public:
  using OnChange = std::function<void(const absl::Status& status)>;

  /// `store` outlives the monitor. Starts no thread: see Start().
  StoreHealthMonitor(persistence::TaskStore* store, absl::Duration interval, OnChange on_change);
  /// Stops the thread.
  ~StoreHealthMonitor();
  StoreHealthMonitor(const StoreHealthMonitor&) = delete;
  StoreHealthMonitor& operator=(const StoreHealthMonitor&) = delete;

  /// Checks once now (reporting a change), then every interval on the monitor's thread.
  void Start();
  /// Checks once on the calling thread; reports a change. Returns the store's answer.
  absl::Status CheckNow() ABSL_LOCKS_EXCLUDED(mu_);
  /// Stops the thread; idempotent.
  void Stop() ABSL_LOCKS_EXCLUDED(mu_);

 private:
  void Run() ABSL_LOCKS_EXCLUDED(mu_);

  persistence::TaskStore* const store_;
  const absl::Duration interval_;
  const OnChange on_change_;
  absl::Mutex mu_;
  bool stopping_ ABSL_GUARDED_BY(mu_) = false;
  // -1: nothing reported yet; 0: last reported not OK; 1: OK.
  int last_ ABSL_GUARDED_BY(mu_) = -1;
  // Serialises reports so on_change sees the flips in order.
  absl::Mutex report_mu_;
  std::thread thread_;
};

}  // namespace music::service

#endif  // MUSIC_SERVICE_SERVER_STORE_HEALTH_H_
