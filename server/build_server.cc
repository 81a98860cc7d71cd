#include "server/build_server.h"

#include <prometheus/exposer.h>
#include <prometheus/registry.h>

#include <cstdlib>
#include <exception>
#include <fstream>
#include <sstream>
#include <utility>
#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "adapters/http/curl_http_client.h"
#include "adapters/http/safe_fetcher.h"
#include "persistence/archive/local_archive_store.h"
#include "persistence/archive/s3_archive_store.h"
#include "persistence/postgres/postgres_store.h"
#include "persistence/sqlite/sqlite_task_store.h"
#include "server/catalog_builder.h"
#include "service/core/event_log.h"
#include "service/core/usage_formats.h"

namespace music::server {
namespace {

// A callback token secret shorter than this is refused (it is the whole of the callbacks'
// authentication when a provider signs nothing).
constexpr size_t kMinCallbackSecretBytes = 16;

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
  options.callbacks.max_connections = config.callbacks_max_connections;
  options.callbacks.max_connections_per_peer = config.callbacks_max_connections_per_peer;
  options.callbacks.header_timeout = config.callbacks_header_timeout;
  options.callbacks.body_timeout = config.callbacks_body_timeout;
  options.callbacks.tls_cert_file = config.callbacks_tls_cert_file;
  options.callbacks.tls_key_file = config.callbacks_tls_key_file;
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
  options.engine.max_submissions_in_flight = config.max_submissions_in_flight;
  options.engine.overload_submission_wait = config.overload_submission_wait;
  options.engine.quotas = config.quotas;
  options.engine.circuit_breaker.failure_threshold = config.circuit_breaker_failures;
  options.engine.circuit_breaker.cool_down = config.circuit_breaker_cooldown;
  for (const auto& [name, provider] : config.providers) {
    options.engine.rate_limits[name] = provider.rate_limits;
  }
  options.credits_per_usd = config.credits_per_usd;
  options.reference_audio_uploads = config.reference_audio_enabled;
  options.max_reference_audio_bytes = static_cast<size_t>(config.reference_audio_max_bytes);
  options.archiver.workers = config.archive_workers;
  options.archiver.max_attempts = config.archive_max_attempts;
  options.archiver.backoff_initial = config.archive_backoff_initial;
  options.archiver.backoff_max = config.archive_backoff_max;
  options.archiver.sweep_interval = config.archive_sweep_interval;
  options.archiver.max_age = config.archive_max_age;
  options.tls.cert_file = config.grpc_tls_cert_file;
  options.tls.key_file = config.grpc_tls_key_file;
  options.tls.client_ca_file = config.grpc_tls_client_ca_file;
  options.tls.require_client_cert = config.grpc_tls_require_client_cert;
  options.tls.refresh_seconds = static_cast<unsigned int>(config.grpc_tls_refresh_seconds);
  options.keepalive_time = config.grpc_keepalive_time;
  options.keepalive_timeout = config.grpc_keepalive_timeout;
  options.max_connection_age = config.grpc_max_connection_age;
  options.max_connection_age_grace = config.grpc_max_connection_age_grace;
  options.max_receive_message_bytes = config.grpc_max_receive_message_bytes;
  return options;
}

// The /metrics endpoint on `listen` over everything `metrics` holds; its bound port in *port.
// UNAVAILABLE naming metrics.listen when it cannot listen there.
absl::StatusOr<std::shared_ptr<prometheus::Exposer>> StartMetricsEndpoint(
    const std::string& listen, const service::Metrics& metrics, int* port) {
  std::string host;
  int requested = 0;
  if (auto st = SplitHostPort(listen, "metrics.listen", &host, &requested); !st.ok()) return st;
  std::shared_ptr<prometheus::Exposer> exposer;
  try {
    // civetweb's one listener thread plus two workers: a scrape every few seconds needs no more.
    exposer = std::make_shared<prometheus::Exposer>(listen, 2);
  } catch (const std::exception& e) {
    // prometheus-cpp reports a port it cannot bind by throwing; nothing else here throws.
    return absl::UnavailableError(
        absl::StrCat("config key \"metrics.listen\": cannot listen on ", listen, ": ", e.what()));
  }
  for (const auto& collectable : metrics.Collectables()) exposer->RegisterCollectable(collectable);
  const std::vector<int> ports = exposer->GetListeningPorts();
  *port = ports.empty() ? requested : ports.front();
  return exposer;
}

// The SSRF-safe fetcher of one kind of media (reference audio, the archive): each kind has its
// own size and time limits and its own loopback / plain-http allowances in the config.
std::unique_ptr<http::ReferenceAudioFetcher> NewMediaFetcher(int64_t max_bytes,
                                                             absl::Duration timeout,
                                                             bool allow_loopback, bool allow_http) {
  http::SafeFetchOptions fetch_options;
  fetch_options.max_bytes = static_cast<size_t>(max_bytes);
  fetch_options.total_timeout = timeout;
  fetch_options.allow_loopback = allow_loopback;
  fetch_options.allow_http = allow_http;
  return http::NewSafeFetcher(fetch_options);
}

}  // namespace

SecretLookup EnvironmentSecrets() {
  return [](const std::string& name) -> std::string {
    const char* v = std::getenv(name.c_str());
    return v == nullptr ? std::string() : std::string(v);
  };
}

namespace {

// The stores `config` names: PostgreSQL when database.url or database.url_env is set (several
// replicas may share it), else the SQLite file at database.path (one server per file).
absl::StatusOr<persistence::Stores> OpenStores(const ServerConfig& config,
                                               const SecretLookup& secrets) {
  std::string url = config.database_url;
  if (!config.database_url_env.empty()) {
    url = secrets(config.database_url_env);
    if (url.empty()) {
      return absl::FailedPreconditionError(absl::StrCat(
          "database.url_env: the variable ", config.database_url_env, " is unset or empty"));
    }
  }
  if (!url.empty()) {
    persistence::PostgresOptions options;
    options.url = url;
    options.connections = config.database_connections;
    options.lease_ttl = config.database_lease;
    return persistence::OpenPostgresStores(options);
  }
  persistence::SqliteOptions options;
  options.path = config.database_path;
  options.synchronous = config.database_synchronous;
  // One server per file: a second one on the same file refuses to start, naming it.
  options.exclusive_lock = true;
  options.allow_recreate = config.database_allow_recreate;
  return persistence::OpenSqliteStores(options);
}

}  // namespace

absl::StatusOr<std::unique_ptr<service::MusicServer>> BuildServer(
    const ServerConfig& config, const adapters::ProviderModuleRegistry& registry,
    const SecretLookup& secrets, const Clock* clock, std::string* provider_summary) {
  if (auto st = CheckUnauthenticatedListen(config); !st.ok()) return st;
  // Providers, each with its own HTTP client (its own timeouts and connection cache) and its key
  // from its own environment variable or file. One without a key stays in the catalog, marked
  // unavailable, and is never called.
  // One registry for the whole process; the endpoint (when configured) reads it at scrape time.
  auto metrics = std::make_shared<service::Metrics>(std::make_shared<prometheus::Registry>());
  auto providers = std::make_unique<service::ProviderRegistry>();
  std::vector<CatalogProvider> catalog_providers;
  std::vector<std::string> summary;
  // Every provider's transport, so a shutdown whose grace ran out can end their requests.
  std::vector<std::weak_ptr<http::HttpClient>> transports;
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
    settings.numbers = p->numbers;
    settings.base_url = p->base_url;
    settings.settings = p->settings;
    settings.request_timeout = p->request_timeout;
    settings.price_micros = p->price_micros;
    settings.price_currency = p->price_currency;
    http::CurlOptions curl_options;
    curl_options.connect_timeout = p->connect_timeout;
    curl_options.request_timeout = p->request_timeout;
    // The transport's per-host queue (the concurrency limit) reports each request's wait.
    curl_options.queue_wait_observer = [wait = &metrics->HttpQueueWait(module.name)](
                                           absl::Duration waited) {
      wait->Observe(absl::ToDoubleSeconds(waited));
    };
    settings.http =
        std::shared_ptr<http::HttpClient>(http::NewCurlHttpClient(std::move(curl_options)));
    transports.push_back(settings.http);
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
  // Callers (README "Callers"): tokens by hash, mesh identities, client certificates. Without
  // callers every call runs as `tenant` with every role, which is said loudly.
  service::auth::AuthConfig auth;
  auth.open_tenant = config.tenant;
  if (AuthRequired(config)) {
    auth.callers = config.auth_callers;
    auth.mesh_identity_header = config.auth_mesh_identity_header;
    auth.trusted_peers = config.auth_trusted_peers;
  } else {
    service::LogEvent(service::LogLevel::kWarn, "auth.unauthenticated",
                      {{"tenant", config.tenant}, {"listen", config.listen},
                       {"why", "auth.mode none: every caller has every role"}});
  }
  options.authenticator = service::auth::NewAuthenticator(std::move(auth));
  // Callbacks fail closed: every callback URL carries a token under this secret, so the server
  // does not start without one (README "Callbacks").
  auto token_secret = ReadSecret(secrets, config.callbacks_token_secret_env,
                                 config.callbacks_token_secret_file, "callbacks.token_secret_file");
  if (!token_secret.ok()) return token_secret.status();
  if (token_secret->size() < kMinCallbackSecretBytes) {
    return absl::FailedPreconditionError(absl::StrCat(
        "the callback token secret (", config.callbacks_token_secret_env.empty()
                                           ? config.callbacks_token_secret_file
                                           : "$" + config.callbacks_token_secret_env,
        ") is ", token_secret->empty() ? "not set" : "too short",
        ": callbacks need one of at least ", kMinCallbackSecretBytes,
        " characters (e.g. openssl rand -base64 32)"));
  }
  options.engine.callback_token_secrets = {*token_secret};
  service::AddEventLogSecret(*token_secret);
  if (!config.callbacks_token_secret_previous_env.empty()) {
    // Accepted during a rotation, for the tasks created under it.
    if (std::string previous = secrets(config.callbacks_token_secret_previous_env);
        !previous.empty()) {
      service::AddEventLogSecret(previous);
      options.engine.callback_token_secrets.push_back(std::move(previous));
    }
  }
  options.usage_formats = service::UsageFormatsFromRegistry(registry);
  options.engine.abort_provider_calls = [transports = std::move(transports)] {
    for (const auto& weak : transports) {
      if (std::shared_ptr<http::HttpClient> client = weak.lock()) client->AbortInFlight();
    }
  };
  // Reference-audio URLs are downloaded by the SSRF-safe fetcher; the server owns it.
  if (config.reference_audio_enabled) {
    options.owned_reference_fetcher = NewMediaFetcher(
        config.reference_audio_max_bytes, config.reference_audio_timeout,
        config.reference_audio_allow_loopback, config.reference_audio_allow_http);
    options.engine.reference_fetcher = options.owned_reference_fetcher.get();
  }

  options.metrics = metrics;
  if (!config.metrics_listen.empty()) {
    auto endpoint = StartMetricsEndpoint(config.metrics_listen, *metrics, &options.metrics_port);
    if (!endpoint.ok()) return endpoint.status();
    options.owned_metrics_endpoint = *std::move(endpoint);
  }

  // The archive: a directory beside the database by default, or an S3-compatible bucket whose
  // keys come from the environment variables the config names. Media is downloaded by its own
  // SSRF-safe fetcher (its own size and time limits). Checked here (no I/O); the directory is
  // created after the database opened, so a bad config creates neither.
  std::shared_ptr<persistence::ArchiveStore> archive;
  if (config.archive_enabled) {
    if (config.archive_backend == "s3") {
      persistence::S3ArchiveOptions s3;
      s3.endpoint = config.archive_s3_endpoint;
      s3.bucket = config.archive_s3_bucket;
      s3.region = config.archive_s3_region;
      s3.key_prefix = config.archive_s3_key_prefix;
      s3.access_key_id = secrets(config.archive_s3_access_key_id_env);
      s3.secret_access_key = secrets(config.archive_s3_secret_access_key_env);
      if (s3.access_key_id.empty() || s3.secret_access_key.empty()) {
        return absl::FailedPreconditionError(absl::StrCat(
            "archive.backend s3: set the environment variables ",
            config.archive_s3_access_key_id_env, " and ",
            config.archive_s3_secret_access_key_env));
      }
      s3.request_timeout = config.archive_timeout;
      auto opened = persistence::OpenS3ArchiveStore(std::move(s3));
      if (!opened.ok()) return opened.status();
      archive = *std::move(opened);
    }
    options.owned_archive_fetcher =
        NewMediaFetcher(config.archive_max_bytes, config.archive_timeout,
                        config.archive_allow_loopback, config.archive_allow_http);
    options.archive_fetcher = options.owned_archive_fetcher.get();
  }

  // The store is opened last, so a bad config never creates or migrates a database.
  auto stores = OpenStores(config, secrets);
  if (!stores.ok()) return stores.status();
  if (config.archive_enabled && archive == nullptr) {
    auto opened = persistence::OpenLocalArchiveStore(ArchiveDirectory(config));
    if (!opened.ok()) return opened.status();
    archive = *std::move(opened);
  }
  stores->archive = std::move(archive);

  auto server = service::MusicServer::Start(std::move(options), *std::move(stores),
                                            std::move(providers), *std::move(catalog), clock);
  if (!server.ok()) return server.status();
  if (provider_summary != nullptr) *provider_summary = absl::StrJoin(summary, ", ");
  return server;
}

}  // namespace music::server
