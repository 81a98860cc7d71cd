#include "service/core/rate_limiter.h"

#include <algorithm>

namespace music::service {

SlidingWindowLimiter::SlidingWindowLimiter(int limit, absl::Duration window)
    : limit_(limit), window_(window) {}

void SlidingWindowLimiter::ExpireLocked(absl::Time now) {
  // Grants older than one window no longer count.
  while (!grants_.empty() && grants_.front() + window_ <= now) grants_.pop_front();
}

std::optional<absl::Time> SlidingWindowLimiter::Acquire(absl::Time now) {
  if (limit_ <= 0) return std::nullopt;
  absl::MutexLock lock(&mu_);
  ExpireLocked(now);
  if (static_cast<int>(grants_.size()) + in_flight_ < limit_) {
    grants_.push_back(grants_.empty() ? now : std::max(now, grants_.back()));
    return std::nullopt;
  }
  return grants_.empty() ? now + window_ : grants_.front() + window_;
}

std::optional<absl::Time> SlidingWindowLimiter::AcquireUntilRelease(absl::Time now) {
  if (limit_ <= 0) return std::nullopt;
  absl::MutexLock lock(&mu_);
  ExpireLocked(now);
  if (static_cast<int>(grants_.size()) + in_flight_ < limit_) {
    ++in_flight_;
    return std::nullopt;
  }
  return grants_.empty() ? now + window_ : grants_.front() + window_;
}

void SlidingWindowLimiter::Release(absl::Time answered) {
  if (limit_ <= 0) return;
  absl::MutexLock lock(&mu_);
  if (in_flight_ == 0) return;  // a Release without its grant changes nothing
  --in_flight_;
  // Kept in order (the deque's front is the oldest) when two releases read the clock in one
  // order and lock in the other: the later time stands, which only frees the slot later.
  grants_.push_back(grants_.empty() ? answered : std::max(answered, grants_.back()));
}

void SlidingWindowLimiter::Return() {
  if (limit_ <= 0) return;
  absl::MutexLock lock(&mu_);
  if (in_flight_ > 0) --in_flight_;
}

std::optional<absl::Time> RecentRequests::NextAllowed(absl::Time now, int limit,
                                                      absl::Duration window) const {
  if (limit <= 0 || static_cast<int>(times_.size()) < limit) return std::nullopt;
  const absl::Time oldest = times_[next_ % times_.size()];
  if (oldest + window <= now) return std::nullopt;
  return oldest + window;
}

void RecentRequests::Record(absl::Time answered, int limit) {
  if (limit <= 0) return;
  if (static_cast<int>(times_.size()) < limit) {
    times_.push_back(answered);
    return;
  }
  times_[next_ % times_.size()] = answered;
  next_ = (next_ + 1) % times_.size();
}

}  // namespace music::service
