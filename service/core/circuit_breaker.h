#ifndef MUSIC_SERVICE_CORE_CIRCUIT_BREAKER_H_
#define MUSIC_SERVICE_CORE_CIRCUIT_BREAKER_H_

#include <map>
#include <string>

#include "absl/status/status.h"
#include "absl/strings/string_view.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "domain/clock.h"

namespace music::service {

/// Settings of a CircuitBreaker.
struct CircuitBreakerOptions {
  /// Consecutive failures that open a provider's circuit. 0 disables the breaker.
  int failure_threshold = 5;
  /// How long an open circuit refuses requests before it lets one probe through.
  absl::Duration cool_down = absl::Seconds(30);
};

/// One circuit per provider. Closed: requests go through; `failure_threshold` consecutive
/// failures (transport errors, 5xx, timeouts, 429; see CountsAsFailure) open it. Open: requests
/// are refused until `cool_down` has passed, then the circuit is half-open and lets exactly one
/// probe through. The probe's success closes the circuit, its failure opens it for another
/// cool-down. A probe whose outcome is never recorded is replaced after another cool-down, so a
/// lost probe cannot keep the circuit shut. Thread-safe.
class CircuitBreaker {
 public:
  enum class State { kClosed, kOpen, kHalfOpen };

  /// `clock` must outlive the breaker.
  CircuitBreaker(CircuitBreakerOptions options, const Clock* clock);

  /// True when a request may go to `provider` now. In the half-open state the first caller gets
  /// true (it is the probe) and later callers false until the probe's outcome is recorded.
  bool Allow(absl::string_view provider);

  /// Records the answer of a request to `provider`: a failure when CountsAsFailure(status), else
  /// a success (the provider answered, even if it refused the request).
  void Record(absl::string_view provider, const absl::Status& status);
  void RecordSuccess(absl::string_view provider);
  void RecordFailure(absl::string_view provider);

  /// The state as of now (an open circuit past its cool-down reads as half-open).
  State state(absl::string_view provider) const;
  /// When an open circuit lets its next probe through; now when the circuit is not open.
  absl::Time RetryAt(absl::string_view provider) const;

  /// True for errors that say the provider is unwell: UNAVAILABLE (5xx, connection failures),
  /// DEADLINE_EXCEEDED (timeouts) and RESOURCE_EXHAUSTED (429). Not for 4xx refusals of a request.
  static bool CountsAsFailure(const absl::Status& status);

  const CircuitBreakerOptions& options() const { return options_; }

 private:
  struct Circuit {
    State state = State::kClosed;
    int failures = 0;
    absl::Time opened_at = absl::InfinitePast();
    absl::Time probe_at = absl::InfinitePast();  // half-open: when the probe was let through
    bool probing = false;
  };
  State StateLocked(const Circuit& c, absl::Time now) const;

  const CircuitBreakerOptions options_;
  const Clock* const clock_;
  mutable absl::Mutex mu_;
  std::map<std::string, Circuit, std::less<>> circuits_ ABSL_GUARDED_BY(mu_);
};

/// "closed", "open" or "half-open".
const char* CircuitStateName(CircuitBreaker::State state);

}  // namespace music::service

#endif  // MUSIC_SERVICE_CORE_CIRCUIT_BREAKER_H_
