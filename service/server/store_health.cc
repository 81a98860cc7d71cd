#include "service/server/store_health.h"

#include <string>
#include <utility>

#include "service/core/event_log.h"

namespace music::service {

StoreHealthMonitor::StoreHealthMonitor(persistence::TaskStore* store, absl::Duration interval,
                                       OnChange on_change)
    : store_(store), interval_(interval), on_change_(std::move(on_change)) {}

StoreHealthMonitor::~StoreHealthMonitor() { Stop(); }

void StoreHealthMonitor::Start() {
  CheckNow().IgnoreError();
  thread_ = std::thread([this] { Run(); });
}

absl::Status StoreHealthMonitor::CheckNow() {
  absl::Status status = store_->CheckHealth();
  const int now = status.ok() ? 1 : 0;
  // Held across the report so two checks cannot deliver their flips out of order; on_change
  // only sets the health service's status (no lock of ours inside it).
  absl::MutexLock report(&report_mu_);
  {
    absl::MutexLock lock(&mu_);
    if (last_ == now) return status;
    last_ = now;
  }
  if (status.ok()) {
    LogEvent(LogLevel::kInfo, "store.healthy");
  } else {
    LogEvent(LogLevel::kError, "store.unhealthy", {{"error", status.ToString()}});
  }
  on_change_(status);
  return status;
}

void StoreHealthMonitor::Stop() {
  {
    absl::MutexLock lock(&mu_);
    stopping_ = true;
  }
  if (thread_.joinable()) thread_.join();
}

void StoreHealthMonitor::Run() {
  while (true) {
    {
      absl::MutexLock lock(&mu_);
      mu_.AwaitWithTimeout(absl::Condition(&stopping_), interval_);
      if (stopping_) return;
    }
    CheckNow().IgnoreError();
  }
}

}  // namespace music::service
