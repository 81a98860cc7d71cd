#include "service/core/provider_health.h"

#include <utility>

#include "absl/strings/str_cat.h"
#include "adapters/provider_auth.h"
#include "adapters/provider_errors.h"

namespace music::service {

std::string ProviderHealthServiceName(absl::string_view provider) {
  return absl::StrCat("music.v1.provider/", provider);
}

void ProviderHealth::SetOnChange(OnChange on_change) {
  absl::MutexLock lock(&mu_);
  on_change_ = std::move(on_change);
}

void ProviderHealth::Record(absl::string_view provider, const absl::Status& outcome) {
  const bool refused = adapters::IsProviderAuthError(outcome);
  if (!refused && !outcome.ok()) return;
  // The listener runs under the lock, so it sees the flips in order; it must not call back.
  absl::MutexLock lock(&mu_);
  auto it = refused_.find(provider);
  if (refused) {
    const bool flipped = it == refused_.end();
    refused_[provider] = absl::StrCat(
        provider, " refused the service's API key (", adapters::GetProviderErrorCode(outcome),
        ") at ", absl::FormatTime("%Y-%m-%dT%H:%M:%SZ", clock_->Now(), absl::UTCTimeZone()),
        "; check the key configured for it (providers.", provider,
        ".api_key_env); the next successful request brings it back");
    if (flipped && on_change_) on_change_(std::string(provider), false);
  } else if (it != refused_.end()) {
    refused_.erase(it);
    if (on_change_) on_change_(std::string(provider), true);
  }
}

std::optional<std::string> ProviderHealth::UnavailableReason(absl::string_view provider) const {
  absl::MutexLock lock(&mu_);
  auto it = refused_.find(provider);
  if (it == refused_.end()) return std::nullopt;
  return it->second;
}

}  // namespace music::service
