// Whether a provider takes our API key. A provider answering 401/403 to a submit or a poll has
// refused the service's own credentials (revoked, expired, mistyped): that is not the caller's
// UNAUTHENTICATED but a server-side fault, and every task on that provider would meet it. The
// engine records it here; ListModels then lists the provider's models unavailable (with the
// reason) and the provider's health service reports NOT_SERVING, until a request to the provider
// succeeds again (the next submit or poll is the probe: creates are not refused meanwhile, so an
// operator fixing the key sees it come back with the next task).
#ifndef MUSIC_SERVICE_CORE_PROVIDER_HEALTH_H_
#define MUSIC_SERVICE_CORE_PROVIDER_HEALTH_H_

#include <functional>
#include <optional>
#include <string>

#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_map.h"
#include "absl/status/status.h"
#include "absl/strings/string_view.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "domain/clock.h"

namespace music::service {

/// The gRPC health service name of a provider: "music.v1.provider/<provider>" (SERVING while it
/// takes our key).
std::string ProviderHealthServiceName(absl::string_view provider);

/// Per-provider "our key refused" state. Thread-safe.
class ProviderHealth {
 public:
  /// Called with (provider, available) when a provider's state flips, in order (under the
  /// lock: it must not call back into ProviderHealth).
  using OnChange = std::function<void(const std::string& provider, bool available)>;

  /// `clock` outlives this (the time of a refusal, in the reason).
  explicit ProviderHealth(const Clock* clock) : clock_(clock) {}

  /// Sets the change listener (the health service); call before the engine starts.
  void SetOnChange(OnChange on_change) ABSL_LOCKS_EXCLUDED(mu_);

  /// The outcome of a request to `provider`: an auth refusal (adapters::IsProviderAuthError)
  /// marks it unavailable; an OK answer marks it available again; anything else (5xx, timeouts,
  /// the caller's content refused) says nothing about our key and changes nothing.
  void Record(absl::string_view provider, const absl::Status& outcome) ABSL_LOCKS_EXCLUDED(mu_);

  /// Why `provider` is unavailable ("kie refused the service's API key (HTTP 401) at <time>; ..."),
  /// or nullopt while it takes our key.
  std::optional<std::string> UnavailableReason(absl::string_view provider) const
      ABSL_LOCKS_EXCLUDED(mu_);

 private:
  const Clock* const clock_;
  mutable absl::Mutex mu_;
  absl::flat_hash_map<std::string, std::string> refused_ ABSL_GUARDED_BY(mu_);  // -> reason
  OnChange on_change_ ABSL_GUARDED_BY(mu_);
};

}  // namespace music::service

#endif  // MUSIC_SERVICE_CORE_PROVIDER_HEALTH_H_
