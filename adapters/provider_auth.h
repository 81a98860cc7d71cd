// "The provider refused the service's own credentials": a provider's 401/403 to our API key. The
// caller authenticated to us fine, so this is not its UNAUTHENTICATED; the adapters' error tables
// turn those answers into ProviderAuthError and the engine (ProviderHealth) lists the provider
// unavailable until a request to it succeeds again.
#ifndef MUSIC_ADAPTERS_PROVIDER_AUTH_H_
#define MUSIC_ADAPTERS_PROVIDER_AUTH_H_

#include "absl/status/status.h"
#include "absl/strings/string_view.h"

namespace music::adapters {

/// The AIP-193 reason of a ProviderAuthError, in the API's error domain music.v1.
inline constexpr char kProviderAuthReason[] = "PROVIDER_AUTH";

/// A provider's 401/403 to our API key. FAILED_PRECONDITION, not UNAUTHENTICATED: the caller's
/// credentials are fine, it is the service's key at the provider that is refused; and not
/// UNAVAILABLE: retrying the same request cannot help until an operator fixes the key (the
/// system is not in the state the request needs, AIP-193), while an alias moves on at once to its
/// next provider, as on 402 out of credits. Carries `provider_error_code` (the provider's code
/// for it, else the HTTP status; GetProviderErrorCode) and the PROVIDER_AUTH mark.
absl::Status ProviderAuthError(absl::string_view message, absl::string_view provider_error_code);

/// True for a ProviderAuthError (FAILED_PRECONDITION with the PROVIDER_AUTH mark).
bool IsProviderAuthError(const absl::Status& status);

}  // namespace music::adapters

#endif  // MUSIC_ADAPTERS_PROVIDER_AUTH_H_
