#include "service/core/watch_hub.h"

#include <algorithm>

namespace music::service {

WatchHub::WatchHub(absl::Duration heartbeat_interval, const Clock* clock, bool ticker_thread)
    : heartbeat_interval_(heartbeat_interval),
      clock_(clock),
      next_heartbeat_(clock->Now() + heartbeat_interval) {
  if (ticker_thread) ticker_ = std::thread([this] { TickerLoop(); });
}

WatchHub::~WatchHub() {
  Shutdown();
  if (ticker_.joinable()) ticker_.join();
}

int64_t WatchHub::Subscribe(const std::string& task_id, TaskWatcher* watcher) {
  absl::MutexLock lock(&mu_);
  if (shut_down_) {
    watcher->OnShutdown();
    return 0;
  }
  const int64_t token = next_token_++;
  watchers_.emplace(token, Entry{task_id, watcher});
  by_task_.emplace(task_id, token);
  return token;
}

void WatchHub::Unsubscribe(int64_t token) {
  absl::MutexLock lock(&mu_);
  auto it = watchers_.find(token);
  if (it == watchers_.end()) return;
  auto range = by_task_.equal_range(it->second.task_id);
  for (auto b = range.first; b != range.second; ++b) {
    if (b->second == token) {
      by_task_.erase(b);
      break;
    }
  }
  watchers_.erase(it);
}

void WatchHub::Publish(const music::v1::Task& task) {
  absl::MutexLock lock(&mu_);
  auto range = by_task_.equal_range(task.task_id());
  for (auto it = range.first; it != range.second; ++it) {
    watchers_.at(it->second).watcher->OnTaskChanged(task);
  }
}

void WatchHub::Shutdown() {
  {
    absl::MutexLock lock(&mu_);
    if (shut_down_) return;
    shut_down_ = true;
    for (auto& [token, entry] : watchers_) entry.watcher->OnShutdown();
  }
  stop_.Notify();
}

int WatchHub::size() const {
  absl::MutexLock lock(&mu_);
  return static_cast<int>(watchers_.size());
}

bool WatchHub::Tick() {
  absl::MutexLock lock(&mu_);
  const absl::Time now = clock_->Now();
  if (shut_down_ || now < next_heartbeat_) return false;
  next_heartbeat_ = now + heartbeat_interval_;
  for (auto& [token, entry] : watchers_) entry.watcher->OnHeartbeat();
  return true;
}

void WatchHub::TickerLoop() {
  while (true) {
    absl::Duration wait;
    {
      absl::MutexLock lock(&mu_);
      // Re-read at least once per interval, so a clock that jumps is noticed in time.
      wait = std::min(heartbeat_interval_,
                      std::max(absl::ZeroDuration(), next_heartbeat_ - clock_->Now()));
    }
    if (stop_.WaitForNotificationWithTimeout(wait)) return;
    Tick();
  }
}

}  // namespace music::service
