#include "service/core/circuit_breaker.h"

#include <algorithm>
#include <utility>

#include "absl/strings/str_cat.h"
#include "service/core/event_log.h"

namespace music::service {

const char* CircuitStateName(CircuitBreaker::State state) {
  switch (state) {
    case CircuitBreaker::State::kClosed:
      return "closed";
    case CircuitBreaker::State::kOpen:
      return "open";
    case CircuitBreaker::State::kHalfOpen:
      return "half-open";
  }
  return "unknown";
}

CircuitBreaker::CircuitBreaker(CircuitBreakerOptions options, const Clock* clock)
    : options_(options), clock_(clock) {}

bool CircuitBreaker::CountsAsFailure(const absl::Status& status) {
  switch (status.code()) {
    case absl::StatusCode::kUnavailable:
    case absl::StatusCode::kDeadlineExceeded:
    case absl::StatusCode::kResourceExhausted:
      return true;
    default:
      return false;
  }
}

CircuitBreaker::State CircuitBreaker::StateLocked(const Circuit& c, absl::Time now) const {
  if (c.state == State::kOpen && now >= c.opened_at + options_.cool_down) return State::kHalfOpen;
  return c.state;
}

bool CircuitBreaker::Allow(absl::string_view provider) {
  if (options_.failure_threshold <= 0) return true;
  const absl::Time now = clock_->Now();
  absl::MutexLock lock(&mu_);
  auto it = circuits_.find(provider);
  if (it == circuits_.end()) return true;
  Circuit& c = it->second;
  switch (StateLocked(c, now)) {
    case State::kClosed:
      return true;
    case State::kOpen:
      return false;
    case State::kHalfOpen:
      c.state = State::kHalfOpen;
      // One probe at a time; a probe that never reports is replaced after a cool-down.
      if (c.probing && now < c.probe_at + options_.cool_down) return false;
      c.probing = true;
      c.probe_at = now;
      return true;
  }
  return true;
}

void CircuitBreaker::Record(absl::string_view provider, const absl::Status& status) {
  if (CountsAsFailure(status)) {
    RecordFailure(provider);
  } else {
    RecordSuccess(provider);
  }
}

void CircuitBreaker::RecordSuccess(absl::string_view provider) {
  if (options_.failure_threshold <= 0) return;
  absl::MutexLock lock(&mu_);
  auto it = circuits_.find(provider);
  if (it == circuits_.end()) return;
  Circuit& c = it->second;
  if (c.state != State::kClosed) {
    LogEvent(LogLevel::kInfo, "circuit.closed", {{"provider", std::string(provider)}});
  }
  c = Circuit();
}

void CircuitBreaker::RecordFailure(absl::string_view provider) {
  if (options_.failure_threshold <= 0) return;
  const absl::Time now = clock_->Now();
  absl::MutexLock lock(&mu_);
  Circuit& c = circuits_[std::string(provider)];
  const State state = StateLocked(c, now);
  if (state == State::kOpen) return;  // answers of requests sent before it opened
  c.failures += 1;
  if (state == State::kHalfOpen || c.failures >= options_.failure_threshold) {
    c.state = State::kOpen;
    c.opened_at = now;
    c.probing = false;
    LogEvent(LogLevel::kWarn, "circuit.opened",
             {{"provider", std::string(provider)},
              {"failures", absl::StrCat(c.failures)},
              {"cool_down", absl::FormatDuration(options_.cool_down)}});
  }
}

CircuitBreaker::State CircuitBreaker::state(absl::string_view provider) const {
  const absl::Time now = clock_->Now();
  absl::MutexLock lock(&mu_);
  auto it = circuits_.find(provider);
  return it == circuits_.end() ? State::kClosed : StateLocked(it->second, now);
}

absl::Time CircuitBreaker::RetryAt(absl::string_view provider) const {
  const absl::Time now = clock_->Now();
  absl::MutexLock lock(&mu_);
  auto it = circuits_.find(provider);
  if (it == circuits_.end()) return now;
  const Circuit& c = it->second;
  switch (StateLocked(c, now)) {
    case State::kOpen:
      return c.opened_at + options_.cool_down;
    case State::kHalfOpen:
      return c.probing ? std::max(now, c.probe_at + options_.cool_down) : now;
    case State::kClosed:
      return now;
  }
  return now;
}

}  // namespace music::service
