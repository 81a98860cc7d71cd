#include "tools/provider-emulator/callback_sender.h"

#include <httplib.h>

#include <chrono>
#include <utility>

#include "absl/status/status.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"

namespace music::emulator {

absl::StatusOr<SplitUrl> SplitHttpUrl(const std::string& url) {
  size_t scheme_end = url.find("://");
  if (scheme_end == std::string::npos) {
    return absl::InvalidArgumentError(absl::StrCat("not an absolute URL: ", url));
  }
  const std::string scheme = url.substr(0, scheme_end);
  if (scheme != "http" && scheme != "https") {
    return absl::InvalidArgumentError(absl::StrCat("not an http(s) URL: ", url));
  }
  const size_t host_start = scheme_end + 3;
  size_t path_start = url.find_first_of("/?#", host_start);
  if (path_start == std::string::npos) path_start = url.size();
  if (path_start == host_start) {
    return absl::InvalidArgumentError(absl::StrCat("URL without a host: ", url));
  }
  SplitUrl split;
  split.origin = url.substr(0, path_start);
  split.path = url.substr(path_start);
  if (const size_t hash = split.path.find('#'); hash != std::string::npos) {
    split.path.resize(hash);
  }
  if (split.path.empty() || split.path[0] != '/') split.path.insert(0, "/");
  return split;
}

CallbackSender::CallbackSender(CallbackPolicy policy, Scheduler* scheduler, StatsRecorder* stats,
                               int workers)
    : policy_(policy), scheduler_(scheduler), stats_(stats), worker_count_(workers) {}

CallbackSender::~CallbackSender() { Stop(); }

void CallbackSender::Start() {
  for (int i = 0; i < worker_count_; ++i) workers_.emplace_back([this] { Work(); });
}

void CallbackSender::Stop() {
  {
    absl::MutexLock lock(&mu_);
    stopping_ = true;
    queues_.clear();
    ready_.clear();
    cv_.SignalAll();
  }
  for (std::thread& worker : workers_) {
    if (worker.joinable()) worker.join();
  }
}

void CallbackSender::Send(CallbackDelivery delivery) {
  absl::MutexLock lock(&mu_);
  if (stopping_) return;
  const std::string key = delivery.key;
  std::deque<Entry>& queue = queues_[key];
  const bool idle = queue.empty();
  queue.push_back(Entry{std::move(delivery), 0});
  if (idle) {
    ready_.push_back(key);
    cv_.Signal();
  }
}

void CallbackSender::MakeReady(const std::string& key) {
  absl::MutexLock lock(&mu_);
  if (stopping_ || !queues_.contains(key)) return;
  ready_.push_back(key);
  cv_.Signal();
}

bool CallbackSender::Attempt(const CallbackDelivery& delivery) const {
  absl::StatusOr<SplitUrl> url = SplitHttpUrl(delivery.url);
  if (!url.ok()) return false;
  httplib::Client client(url->origin);
  if (!client.is_valid()) return false;
  const auto timeout = absl::ToChronoMicroseconds(policy_.timeout);
  client.set_connection_timeout(timeout);
  client.set_read_timeout(timeout);
  client.set_write_timeout(timeout);
  httplib::Headers headers;
  if (delivery.headers) {
    for (auto& [name, value] : delivery.headers()) headers.emplace(name, value);
  }
  httplib::Result result = client.Post(url->path, headers, delivery.body, "application/json");
  return result && result->status >= 200 && result->status < 300;
}

void CallbackSender::Work() {
  mu_.Lock();
  while (true) {
    while (!stopping_ && ready_.empty()) cv_.Wait(&mu_);
    if (stopping_) break;
    const std::string key = std::move(ready_.front());
    ready_.pop_front();
    auto it = queues_.find(key);
    if (it == queues_.end() || it->second.empty()) continue;
    const CallbackDelivery delivery = it->second.front().delivery;
    mu_.Unlock();

    stats_->Add(&EmulatorStats::callback_attempts);
    const bool delivered = Attempt(delivery);

    mu_.Lock();
    if (stopping_) break;
    it = queues_.find(key);
    if (it == queues_.end() || it->second.empty()) continue;
    Entry& entry = it->second.front();
    ++entry.attempts;
    if (!delivered && entry.attempts <= policy_.max_retries) {
      stats_->Add(&EmulatorStats::callbacks_retried);
      const absl::Duration wait = policy_.backoff * entry.attempts;
      // The scheduler lock is never held while taking ours, so this cannot deadlock.
      scheduler_->ScheduleAfter(wait, [this, key] { MakeReady(key); });
      continue;
    }
    stats_->Add(delivered ? &EmulatorStats::callbacks_sent : &EmulatorStats::callbacks_failed);
    it->second.pop_front();
    if (it->second.empty()) {
      queues_.erase(it);
    } else {
      ready_.push_back(key);
      cv_.Signal();
    }
  }
  mu_.Unlock();
}

}  // namespace music::emulator
