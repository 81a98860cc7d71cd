#include "service/core/rate_limiter.h"

namespace music::service {

SlidingWindowLimiter::SlidingWindowLimiter(int limit, absl::Duration window)
    : limit_(limit), window_(window) {}

std::optional<absl::Time> SlidingWindowLimiter::Acquire(absl::Time now) {
  if (limit_ <= 0) return std::nullopt;
  absl::MutexLock lock(&mu_);
  // Grants older than one window no longer count.
  while (!grants_.empty() && grants_.front() + window_ <= now) grants_.pop_front();
  if (static_cast<int>(grants_.size()) < limit_) {
    grants_.push_back(now);
    return std::nullopt;
  }
  return grants_.front() + window_;
}

}  // namespace music::service
