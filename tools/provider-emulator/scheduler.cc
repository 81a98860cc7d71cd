#include "tools/provider-emulator/scheduler.h"

#include <algorithm>
#include <utility>

namespace music::emulator {

namespace {
constexpr absl::Duration kMaxWait = absl::Milliseconds(50);
}  // namespace

Scheduler::~Scheduler() { Stop(); }

void Scheduler::Start() {
  thread_ = std::thread([this] { Loop(); });
}

void Scheduler::Stop() {
  {
    absl::MutexLock lock(&mu_);
    stopping_ = true;
    jobs_.clear();
    cv_.SignalAll();
  }
  if (thread_.joinable()) thread_.join();
}

void Scheduler::ScheduleAt(absl::Time due, std::function<void()> job) {
  absl::MutexLock lock(&mu_);
  if (stopping_) return;
  jobs_.emplace(std::make_pair(due, next_seq_++), std::move(job));
  cv_.Signal();
}

void Scheduler::ScheduleAfter(absl::Duration delay, std::function<void()> job) {
  ScheduleAt(clock_->Now() + delay, std::move(job));
}

void Scheduler::Loop() {
  mu_.Lock();
  while (!stopping_) {
    if (jobs_.empty()) {
      cv_.Wait(&mu_);
      continue;
    }
    auto first = jobs_.begin();
    const absl::Time due = first->first.first;
    const absl::Duration left = due - clock_->Now();
    if (left > absl::ZeroDuration()) {
      // Re-read the clock at least every kMaxWait: an injected clock may jump while we wait.
      cv_.WaitWithTimeout(&mu_, std::min(left, kMaxWait));
      continue;
    }
    std::function<void()> job = std::move(first->second);
    jobs_.erase(first);
    mu_.Unlock();
    job();
    mu_.Lock();
  }
  mu_.Unlock();
}

}  // namespace music::emulator
