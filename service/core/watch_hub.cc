#include "service/core/watch_hub.h"

namespace music::service {

WatchHub::WatchHub(absl::Duration heartbeat_interval) : heartbeat_interval_(heartbeat_interval) {
  ticker_ = std::thread([this] { Tick(); });
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

void WatchHub::Tick() {
  while (!stop_.WaitForNotificationWithTimeout(heartbeat_interval_)) {
    absl::MutexLock lock(&mu_);
    for (auto& [token, entry] : watchers_) entry.watcher->OnHeartbeat();
  }
}

}  // namespace music::service
