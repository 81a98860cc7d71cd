#include "server/build_server.h"

#include <cstdlib>
#include <fstream>
#include <sstream>
#include <utility>
#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "adapters/http/curl_http_client.h"
#include "adapters/http/safe_fetcher.h"
#include "persistence/sqlite/sqlite_task_store.h"
#include "server/catalog_builder.h"
#include "service/core/event_log.h"
#include "service/core/usage_formats.h"

namespace music::server {
namespace {

// Reads a secret from the variable `env` through `secrets`, else from `file` (named by config
// key `file_key`). Never logged. An unreadable file stops start-up (NOT_FOUND naming the key); an
// unset variable with no file is an empty secret (the provider is then unavailable).
absl::StatusOr<std::string> ReadSecret(const SecretLookup& secrets, const std::string& env,
                                       const std::string& file, absl::string_view file_key) {
  if (!env.empty()) {
    if (std::string v = secrets(env); !v.empty()) return v;
  }
  if (file.empty()) return std::string();
  std::ifstream in(file);
  if (!in) {
    return absl::NotFoundError(absl::StrCat("config key \"", file_key, "\": cannot read ", file));
  }
  std::stringstream buffer;
  buffer << in.rdbuf();
  return std::string(absl::StripAsciiWhitespace(buffer.str()));
}

service::ServerOptions OptionsFrom(const ServerConfig& config) {
  service::ServerOptions options;
  options.listen = config.listen;
  options.callbacks_listen = config.callbacks_listen;
  options.callbacks_public_url = config.callbacks_public_url;
  options.tenant = config.tenant;
  options.heartbeat_interval = config.heartbeat_interval;
  options.shutdown_grace = config.shutdown_grace;
  options.rpc_workers = config.rpc_workers;
  options.engine.poll_interval = config.poll_interval;
  options.engine.callback_poll_interval = config.callback_poll_interval;
  options.engine.task_deadline = config.task_deadline;
  options.engine.max_submit_attempts = config.submit_max_attempts;
  options.engine.backoff_initial = config.backoff_initial;
  options.engine.backoff_max = config.backoff_max;
  options.engine.unknown_submission_grace = config.unknown_submission_grace;
  options.engine.workers = config.workers;
  options.engine.circuit_breaker.failure_threshold = config.circuit_breaker_failures;
  options.engine.circuit_breaker.cool_down = config.circuit_breaker_cooldown;
  options.credits_per_usd = config.credits_per_usd;
  options.reference_audio_uploads = config.reference_audio_enabled;
  options.max_reference_audio_bytes = static_cast<size_t>(config.reference_audio_max_bytes);
  options.keepalive_time = config.grpc_keepalive_time;
  options.keepalive_timeout = config.grpc_keepalive_timeout;
  options.max_connection_age = config.grpc_max_connection_age;
  options.max_connection_age_grace = config.grpc_max_connection_age_grace;
  return options;
}

}  // namespace

SecretLookup EnvironmentSecrets() {
  return [](const std::string& name) -> std::string {
    const char* v = std::getenv(name.c_str());
    return v == nullptr ? std::string() : std::string(v);
  };
}

absl::StatusOr<std::unique_ptr<service::MusicServer>> BuildServer(
    const ServerConfig& config, const adapters::ProviderModuleRegistry& registry,
    const SecretLookup& secrets, const Clock* clock, std::string* provider_summary) {
  // Providers, each with its own HTTP client (its own timeouts and connection cache) and its key
  // from its own environment variable or file. One without a key stays in the catalog, marked
  // unavailable, and is never called.
  auto providers = std::make_unique<service::ProviderRegistry>();
  std::vector<CatalogProvider> catalog_providers;
  std::vector<std::string> summary;
  for (const adapters::ProviderModule& module : registry.modules()) {
    const ProviderConfig* p = FindProviderConfig(config, module.name);
    if (p == nullptr) {
      return absl::InvalidArgumentError(absl::StrCat("config key \"providers.", module.name,
                                                     "\": no settings for a registered provider"));
    }
    adapters::ProviderSettings settings;
    auto key = ReadSecret(secrets, p->api_key_env, p->api_key_file,
                          absl::StrCat("providers.", module.name, ".api_key_file"));
    if (!key.ok()) return key.status();
    settings.api_key = *std::move(key);
    // Whatever path a secret takes into a message (a provider echoing our request in its error),
    // the event log writes it as "[redacted]".
    service::AddEventLogSecret(settings.api_key);
    for (const adapters::SecretSpec& spec : module.secrets) {
      auto env = p->secret_envs.find(spec.config_key);
      settings.secrets[spec.config_key] =
          env == p->secret_envs.end() || env->second.empty() ? "" : secrets(env->second);
      service::AddEventLogSecret(settings.secrets[spec.config_key]);
    }
    settings.base_url = p->base_url;
    settings.request_timeout = p->request_timeout;
    settings.price_micros = p->price_micros;
    settings.price_currency = p->price_currency;
    http::CurlOptions curl_options;
    curl_options.connect_timeout = p->connect_timeout;
    curl_options.request_timeout = p->request_timeout;
    settings.http = std::shared_ptr<http::HttpClient>(http::NewCurlHttpClient(curl_options));
    settings.clock = clock;
    auto adapter = module.make_adapter(settings);
    if (!adapter.ok()) return adapter.status();
    const bool available = !settings.api_key.empty();
    catalog_providers.push_back({*adapter, available ? "" : NoApiKeyReason(module.name, *p)});
    providers->Add(*std::move(adapter));
    summary.push_back(
        absl::StrCat(module.name, available ? " available" : " unavailable (no API key)"));
  }

  auto catalog = BuildCatalog(config, registry, catalog_providers);
  if (!catalog.ok()) return catalog.status();

  service::ServerOptions options = OptionsFrom(config);
  options.usage_formats = service::UsageFormatsFromRegistry(registry);
  // Reference-audio URLs are downloaded by the SSRF-safe fetcher; the server owns it.
  if (config.reference_audio_enabled) {
    http::SafeFetchOptions fetch_options;
    fetch_options.max_bytes = static_cast<size_t>(config.reference_audio_max_bytes);
    fetch_options.total_timeout = config.reference_audio_timeout;
    fetch_options.allow_loopback = config.reference_audio_allow_loopback;
    fetch_options.allow_http = config.reference_audio_allow_http;
    options.owned_reference_fetcher = http::NewSafeFetcher(fetch_options);
    options.engine.reference_fetcher = options.owned_reference_fetcher.get();
  }

  // The store is opened last, so a bad config never creates or migrates a database file.
  persistence::SqliteOptions db_options;
  db_options.path = config.database_path;
  db_options.synchronous = config.database_synchronous;
  auto stores = persistence::OpenSqliteStores(db_options);
  if (!stores.ok()) return stores.status();

  auto server = service::MusicServer::Start(std::move(options), *std::move(stores),
                                            std::move(providers), *std::move(catalog), clock);
  if (!server.ok()) return server.status();
  if (provider_summary != nullptr) *provider_summary = absl::StrJoin(summary, ", ");
  return server;
}

}  // namespace music::server
