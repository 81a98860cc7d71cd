#include "tools/provider-emulator/rate_limit.h"

namespace music::emulator {

bool SlidingWindowLimit::Admit(absl::string_view key, absl::Time now) {
  if (limit_ <= 0) return true;
  absl::MutexLock lock(&mu_);
  std::deque<absl::Time>& times = admitted_[key];
  while (!times.empty() && times.front() <= now - window_) times.pop_front();
  if (static_cast<int>(times.size()) >= limit_) return false;
  times.push_back(now);
  return true;
}

}  // namespace music::emulator
