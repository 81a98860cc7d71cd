#include "service/core/watch_hub.h"

#include <algorithm>
#include <utility>

#include "absl/hash/hash.h"

#if defined(__GLIBC__)
#include <malloc.h>
#endif

namespace music::service {
namespace {

int SlotsFor(absl::Duration interval) {
  // One slot per 10 ms of interval at most: a wheel finer than that only wakes the ticker more.
  const int64_t by_length = absl::ToInt64Milliseconds(interval) / 10;
  return static_cast<int>(std::clamp<int64_t>(by_length, 1, WatchHub::kSlots));
}

}  // namespace

WatchHub::WatchHub(absl::Duration heartbeat_interval, const Clock* clock, bool ticker_thread)
    : heartbeat_interval_(heartbeat_interval),
      clock_(clock),
      num_slots_(SlotsFor(heartbeat_interval)),
      slot_length_(heartbeat_interval / SlotsFor(heartbeat_interval)) {
  {
    absl::MutexLock lock(&wheel_mu_);
    next_slot_time_ = clock->Now() + slot_length_;
  }
  if (ticker_thread) ticker_ = std::thread([this] { TickerLoop(); });
}

WatchHub::~WatchHub() {
  Shutdown();
  if (ticker_.joinable()) ticker_.join();
}

WatchHub::Shard& WatchHub::ShardFor(const std::string& task_id) {
  return shards_[absl::Hash<std::string>{}(task_id) % kShards];
}

int64_t WatchHub::Subscribe(const std::string& task_id, TaskWatcher* watcher) {
  Shard& shard = ShardFor(task_id);
  const int64_t shard_index = &shard - shards_.data();
  bool refused = false;
  int64_t token = 0;
  {
    absl::MutexLock lock(&shard.mu);
    if (shard.shut_down) {
      refused = true;
    } else {
      token = (next_serial_.fetch_add(1, std::memory_order_relaxed) * kShards) + shard_index;
      const int slot = (next_slot_.load(std::memory_order_relaxed) + num_slots_ - 1) % num_slots_;
      auto entry = std::make_unique<Entry>();
      entry->watcher = watcher;
      entry->task_id = task_id;
      entry->slot = static_cast<uint32_t>(slot);
      entry->slot_pos = static_cast<uint32_t>(shard.slots[slot].size());
      shard.slots[slot].push_back(entry.get());
      shard.by_task[task_id].entries.push_back(entry.get());
      shard.by_token.emplace(token, std::move(entry));
      size_.fetch_add(1, std::memory_order_relaxed);
    }
  }
  if (refused) watcher->OnShutdown();  // outside the lock, like every watcher call
  return token;
}

void WatchHub::Unsubscribe(int64_t token) {
  if (token <= 0) return;
  Shard& shard = shards_[token % kShards];
  std::unique_ptr<Entry> gone;  // freed after the lock is released
  {
    absl::MutexLock lock(&shard.mu);
    auto it = shard.by_token.find(token);
    if (it == shard.by_token.end()) return;
    Entry* const e = it->second.get();
    e->removed = true;  // no new pins
    // A delivery or heartbeat copied this watcher and is calling it: wait for that one call.
    shard.mu.Await(absl::Condition(
        +[](Entry* entry) { return entry->pins == 0; }, e));
    auto task = shard.by_task.find(e->task_id);
    std::vector<Entry*>& entries = task->second.entries;
    entries.erase(std::find(entries.begin(), entries.end(), e));
    if (entries.empty() && !task->second.delivering) shard.by_task.erase(task);
    std::vector<Entry*>& slot = shard.slots[e->slot];
    slot[e->slot_pos] = slot.back();
    slot[e->slot_pos]->slot_pos = e->slot_pos;
    slot.pop_back();
    gone = std::move(it->second);
    shard.by_token.erase(it);
  }
  size_.fetch_sub(1, std::memory_order_relaxed);
  unsubscribes_since_trim_.fetch_add(1, std::memory_order_relaxed);
}

void WatchHub::PinAll(const TaskWatchers& tw, std::vector<Entry*>* out) {
  for (Entry* e : tw.entries) {
    if (e->removed) continue;
    ++e->pins;
    out->push_back(e);
  }
}

void WatchHub::UnpinAll(const std::vector<Entry*>& pinned) {
  for (Entry* e : pinned) --e->pins;
}

void WatchHub::Publish(const music::v1::Task& task) {
  Shard& shard = ShardFor(task.task_id());
  std::vector<Entry*> pinned;
  {
    absl::MutexLock lock(&shard.mu);
    auto it = shard.by_task.find(task.task_id());
    if (it == shard.by_task.end()) return;
    if (it->second.delivering) {
      // Another thread is calling this task's watchers: it delivers this change after its own,
      // so the watchers see the changes in Publish order.
      it->second.queued.push_back(task);
      return;
    }
    it->second.delivering = true;
    PinAll(it->second, &pinned);
  }
  music::v1::Task next;
  const music::v1::Task* current = &task;
  while (true) {
    for (Entry* e : pinned) e->watcher->OnTaskChanged(*current);
    absl::MutexLock lock(&shard.mu);
    UnpinAll(pinned);
    pinned.clear();
    auto it = shard.by_task.find(task.task_id());  // kept while delivering is set
    TaskWatchers& tw = it->second;
    if (tw.queued.empty()) {
      tw.delivering = false;
      std::vector<music::v1::Task>().swap(tw.queued);  // no capacity kept per task
      if (tw.entries.empty()) shard.by_task.erase(it);
      return;
    }
    next = std::move(tw.queued.front());
    tw.queued.erase(tw.queued.begin());
    current = &next;
    PinAll(tw, &pinned);
  }
}

void WatchHub::Shutdown() {
  if (shut_down_.exchange(true)) return;
  std::vector<Entry*> pinned;
  for (Shard& shard : shards_) {
    {
      absl::MutexLock lock(&shard.mu);
      shard.shut_down = true;
      for (const auto& item : shard.by_token) {
        Entry* const e = item.second.get();
        if (e->removed) continue;
        ++e->pins;
        pinned.push_back(e);
      }
    }
    for (Entry* e : pinned) e->watcher->OnShutdown();
    absl::MutexLock lock(&shard.mu);
    UnpinAll(pinned);
    pinned.clear();
  }
  stop_.Notify();
}

int WatchHub::size() const { return size_.load(std::memory_order_relaxed); }

bool WatchHub::HasWatchers(const std::string& task_id) {
  Shard& shard = ShardFor(task_id);
  absl::MutexLock lock(&shard.mu);
  auto it = shard.by_task.find(task_id);
  return it != shard.by_task.end() && !it->second.entries.empty();
}

std::vector<std::string> WatchHub::WatchedTaskIds() {
  std::vector<std::string> ids;
  for (Shard& shard : shards_) {
    absl::MutexLock lock(&shard.mu);
    for (const auto& [id, watchers] : shard.by_task) {
      if (!watchers.entries.empty()) ids.push_back(id);
    }
  }
  return ids;
}

int WatchHub::HeartbeatSlot(int slot) {
  int sent = 0;
  std::vector<Entry*> pinned;
  for (Shard& shard : shards_) {
    {
      absl::MutexLock lock(&shard.mu);
      for (Entry* e : shard.slots[slot]) {
        if (e->removed) continue;
        ++e->pins;
        pinned.push_back(e);
      }
    }
    if (pinned.empty()) continue;
    for (Entry* e : pinned) e->watcher->OnHeartbeat();
    sent += static_cast<int>(pinned.size());
    absl::MutexLock lock(&shard.mu);
    UnpinAll(pinned);
    pinned.clear();
  }
  return sent;
}

bool WatchHub::Tick() {
  if (shut_down_.load()) return false;
  std::vector<int> due;
  {
    absl::MutexLock lock(&wheel_mu_);
    const absl::Time now = clock_->Now();
    int slot = next_slot_.load(std::memory_order_relaxed);
    while (now >= next_slot_time_ && static_cast<int>(due.size()) < num_slots_) {
      due.push_back(slot);
      slot = (slot + 1) % num_slots_;
      next_slot_time_ += slot_length_;
    }
    // More than a turn behind (a clock jump, a stalled process): one heartbeat each, then on.
    if (now >= next_slot_time_) next_slot_time_ = now + slot_length_;
    next_slot_.store(slot, std::memory_order_relaxed);
  }
  int sent = 0;
  for (int slot : due) {
    if (shut_down_.load()) break;
    sent += HeartbeatSlot(slot);
  }
  return sent > 0;
}

void WatchHub::MaybeTrimHeap() {
  // Trim once a wave of closes has settled (no unsubscribe for a second), or during steady churn
  // every 16 waves' worth: malloc_trim walks the heap, so not on every close, and a trim in the
  // middle of a wave would leave the rest of the wave's memory kept.
  const int closed = unsubscribes_since_trim_.load(std::memory_order_relaxed);
  const absl::Time now = clock_->Now();
  if (closed != unsubscribes_at_last_step_) last_unsubscribe_seen_ = now;
  unsubscribes_at_last_step_ = closed;
  if (closed < kTrimAfterUnsubscribes) return;
  const bool settled = now - last_unsubscribe_seen_ >= absl::Seconds(1);
  if (!settled && closed < 16 * kTrimAfterUnsubscribes) return;
  unsubscribes_since_trim_.fetch_sub(closed, std::memory_order_relaxed);
  unsubscribes_at_last_step_ = 0;
#if defined(__GLIBC__)
  malloc_trim(0);
#endif
}

void WatchHub::TickerLoop() {
  while (true) {
    absl::Duration wait;
    {
      absl::MutexLock lock(&wheel_mu_);
      // Re-read at least once per slot, so a clock that jumps is noticed in time.
      wait = std::min(slot_length_,
                      std::max(absl::ZeroDuration(), next_slot_time_ - clock_->Now()));
    }
    if (stop_.WaitForNotificationWithTimeout(wait)) return;
    Tick();
    MaybeTrimHeap();
  }
}

}  // namespace music::service
