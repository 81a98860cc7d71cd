#ifndef MUSIC_SERVER_CATALOG_BUILDER_H_
#define MUSIC_SERVER_CATALOG_BUILDER_H_

#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "adapters/provider_adapter.h"
#include "adapters/provider_module.h"
#include "server/config.h"
#include "service/core/catalog.h"

namespace music::server {

/// One wired provider: its adapter and whether it can be used.
struct CatalogProvider {
  std::shared_ptr<adapters::ProviderAdapter> adapter;
  /// "" when usable; else why not (e.g. NoApiKeyReason(...)), shown by ListModels.
  std::string unavailable_reason;
};

/// "no API key: set $<api_key_env>" (and the file key when one is configured).
std::string NoApiKeyReason(absl::string_view provider, const ProviderConfig& config);

/// Builds the catalog of a deployment: each provider's built-in models (its live list from
/// FetchModels when it has one and answers; failures keep the built-in entries), marked available
/// or not; per-provider prices (providers.<p>.price_micros, when set, override the adapters');
/// `catalog.models` overrides and additions; the built-in aliases plus `catalog.aliases`; and the
/// default model. The built-in aliases are those of `registry`'s modules (AliasMember lists).
/// INVALID_ARGUMENT naming the config key on an unknown model, provider or alias
/// member, or a default_model that is neither a model nor an alias. Never fails for a provider
/// without a key: its models are listed as unavailable.
absl::StatusOr<std::unique_ptr<service::Catalog>> BuildCatalog(
    const ServerConfig& config, const adapters::ProviderModuleRegistry& registry,
    const std::vector<CatalogProvider>& providers);

}  // namespace music::server

#endif  // MUSIC_SERVER_CATALOG_BUILDER_H_
