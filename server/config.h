#ifndef MUSIC_SERVER_CONFIG_H_
#define MUSIC_SERVER_CONFIG_H_

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "adapters/provider_module.h"
#include "service/auth/authenticator.h"
#include "service/core/event_log.h"
#include "service/core/quota.h"
#include "service/server/host_port.h"

namespace music::server {

/// One provider's settings (`providers.<name>.*`). Secrets are never in the file: only the names
/// of the environment variables (or files) that hold them.
struct ProviderConfig {
  std::string base_url;
  /// Environment variable holding the API key.
  std::string api_key_env;
  /// File holding the API key (used when the variable is unset or empty); "" = none.
  std::string api_key_file;
  /// The environment variables of the module's other secrets (ProviderModule::secrets), by
  /// SecretSpec::config_key (e.g. "webhook_hmac_key_env" -> "KIE_WEBHOOK_HMAC_KEY"); "" = unset.
  std::map<std::string, std::string> secret_envs;
  /// The module's number settings (ProviderModule::number_settings) the config sets, by
  /// config_key; unset ones are absent.
  std::map<std::string, double> numbers;
  /// The module's own settings (ProviderModule::settings) by SettingSpec::config_key.
  std::map<std::string, std::string> settings;
  absl::Duration connect_timeout = absl::Seconds(5);
  absl::Duration request_timeout = absl::Seconds(30);
  /// Price per task of the provider's models, overriding the adapter's (for providers that
  /// publish no per-task price); 0 = none. Micro-units of price_currency.
  int64_t price_micros = 0;
  std::string price_currency;
  /// Price of each clip operation (`providers.<name>.price_<operation>_micros`, e.g.
  /// `price_convert_to_wav_micros`; the operation is the ClipOperation name without its prefix,
  /// lower case), overriding the adapter's clip_operation_prices, in price_currency (the
  /// adapter's currency when unset); 0 or absent = the adapter's.
  std::map<music::v1::ClipOperation, int64_t> operation_price_micros;
  /// The account limits the engine keeps client side: the module's (ProviderModule::rate_limits)
  /// unless `providers.<name>.rate_limit_creates` (creates per window, 0 = none),
  /// `rate_limit_window_seconds` or `rate_limit_polls_per_second` (per task, 0 = none) change
  /// them.
  adapters::RateLimits rate_limits;
};

/// `price_<operation>_micros` of a clip operation, e.g. "price_convert_to_wav_micros".
std::string OperationPriceKey(music::v1::ClipOperation operation);

/// The settings of `module` before config: its ProviderDefaults and each secret's default_env.
ProviderConfig DefaultProviderConfig(const adapters::ProviderModule& module);

/// `catalog.models.<name>`: changes to a built-in model, or (with `provider`) a new model.
struct ModelOverride {
  /// false: listed as unavailable ("disabled in config").
  std::optional<bool> enabled;
  std::optional<int64_t> price_micros;
  std::optional<std::string> price_currency;
  /// New models only: the provider that serves it and the model whose capabilities it copies.
  std::string provider;
  std::string copy_from;
  /// The provider's model id ("" = unchanged).
  std::string provider_model;
  /// Capability limits by ModelCapabilities field name, e.g. "max_style_chars".
  std::map<std::string, int> limits;
};

/// The whole server configuration: the JSON file's keys, each with its default. README.md
/// documents every key. A default-constructed one has no providers: DefaultServerConfig() gives
/// each registered provider its defaults.
struct ServerConfig {
  std::string listen = "127.0.0.1:50051";
  std::string tenant = "default";
  std::string default_model = "suno-v4.5";
  int rpc_workers = 32;
  absl::Duration shutdown_grace = absl::Seconds(10);
  // database.*
  std::string database_path = "music.db";
  std::string database_synchronous = "FULL";
  /// Start on a new empty database although the marker next to database_path says one was
  /// created there (after a deliberate reset). Off: such a start is refused.
  bool database_allow_recreate = false;
  /// The PostgreSQL store (several replicas on one database): a libpq connection URI without a
  /// password (PGPASSWORD / PGPASSFILE hold it), e.g. "postgresql://music@db:5432/music".
  /// "" and database_url_env "": the SQLite store at database_path.
  std::string database_url;
  /// The environment variable holding the whole URL (a password may be in it: a Secret), instead
  /// of database_url.
  std::string database_url_env;
  /// PostgreSQL connections per replica.
  int database_connections = 8;
  /// How long a replica's lease on its tasks lasts without renewal (PostgreSQL): a replica that
  /// dies has its tasks taken over by the others about this long after its last renewal.
  absl::Duration database_lease = absl::Seconds(15);
  // callbacks.*
  std::string callbacks_listen = "127.0.0.1:8081";
  std::string callbacks_public_url;  // "" = http(s)://<callbacks.listen>
  /// Where the callback token secret is read (README "Callbacks"): the variable, else the file.
  /// Required: the server refuses to start without it. The previous secret (a rotation) is
  /// accepted too when its variable is set.
  std::string callbacks_token_secret_env = "MUSIC_CALLBACK_SECRET";
  std::string callbacks_token_secret_file;
  std::string callbacks_token_secret_previous_env = "MUSIC_CALLBACK_SECRET_PREVIOUS";
  /// PEM certificate (chain) and key of the callback listener; both empty: plain HTTP. Read at
  /// start: a renewed certificate takes effect at the next restart.
  std::string callbacks_tls_cert_file;
  std::string callbacks_tls_key_file;
  /// The listener's caps and timeouts (service::CallbackServerOptions).
  int callbacks_max_connections = 512;
  int callbacks_max_connections_per_peer = 32;
  absl::Duration callbacks_header_timeout = absl::Seconds(10);
  absl::Duration callbacks_body_timeout = absl::Seconds(30);
  // tasks.*
  absl::Duration poll_interval = absl::Seconds(7);
  // While a provider's callbacks arrive, its tasks are polled this often (a check on an overdue
  // callback); below poll_interval: always poll_interval.
  absl::Duration callback_poll_interval = absl::Seconds(30);
  absl::Duration task_deadline = absl::Minutes(30);
  int submit_max_attempts = 8;
  absl::Duration backoff_initial = absl::Milliseconds(500);
  absl::Duration backoff_max = absl::Seconds(60);
  absl::Duration unknown_submission_grace = absl::Minutes(10);
  // tasks.workers: EngineOptions::workers.
  int workers = 64;
  // tasks.max_submissions_in_flight: submissions with the engine's workers at once, served
  // round-robin across tenants beyond it (EngineOptions::max_submissions_in_flight).
  int max_submissions_in_flight = 64;
  // tasks.overload_submission_wait_seconds: load shedding (EngineOptions::
  // overload_submission_wait); 0: off.
  absl::Duration overload_submission_wait = absl::Seconds(5);
  // tenants.<name>.{requests_per_second,burst,max_tasks_in_flight} and tenants.default_*: the
  // per-tenant quotas (0 = unlimited).
  service::QuotaOptions quotas;
  // watch.*
  absl::Duration heartbeat_interval = absl::Seconds(30);
  // metrics.*: the Prometheus endpoint "host:port" serving /metrics; "" = none.
  std::string metrics_listen;
  /// providers.<name>.*, by provider name: one entry per registered provider module.
  std::map<std::string, ProviderConfig> providers;
  // catalog.*
  /// catalog.aliases: alias name -> model names in order. They are added to the built-in aliases
  /// (an alias of the same name replaces the built-in one).
  std::vector<std::pair<std::string, std::vector<std::string>>> aliases;
  /// catalog.models: by model name.
  std::map<std::string, ModelOverride> model_overrides;
  // routing.*
  int circuit_breaker_failures = 5;
  // billing.*: credits per USD in reconciliation reports' USD totals (seed 002: 1000).
  int64_t credits_per_usd = 1000;
  absl::Duration circuit_breaker_cooldown = absl::Seconds(30);
  // reference_audio.*
  bool reference_audio_enabled = true;
  int64_t reference_audio_max_bytes = 100 << 20;
  absl::Duration reference_audio_timeout = absl::Seconds(120);
  /// Tests only: let the fetcher reach 127.0.0.0/8 and ::1 / plain http.
  bool reference_audio_allow_loopback = false;
  bool reference_audio_allow_http = false;
  // archive.*: copies of every succeeded clip's media (README "Archive").
  bool archive_enabled = true;
  std::string archive_backend = "directory";  // "directory" or "s3"
  /// "" = the directory "archive" next to database.path.
  std::string archive_directory;
  std::string archive_s3_endpoint;
  std::string archive_s3_bucket;
  std::string archive_s3_region = "us-east-1";
  std::string archive_s3_key_prefix;
  /// Names of the environment variables holding the S3 keys (never the keys themselves).
  std::string archive_s3_access_key_id_env = "AWS_ACCESS_KEY_ID";
  std::string archive_s3_secret_access_key_env = "AWS_SECRET_ACCESS_KEY";
  int64_t archive_max_bytes = 500 << 20;
  absl::Duration archive_timeout = absl::Seconds(300);
  int archive_workers = 2;
  int archive_max_attempts = 8;
  absl::Duration archive_backoff_initial = absl::Seconds(1);
  absl::Duration archive_backoff_max = absl::Seconds(60);
  absl::Duration archive_sweep_interval = absl::Seconds(300);
  absl::Duration archive_max_age = absl::Hours(14 * 24);
  /// Tests only: let the media downloader reach 127.0.0.0/8 and ::1 / plain http.
  bool archive_allow_loopback = false;
  bool archive_allow_http = false;
  // log.*: lines below this level are dropped (debug, info, warn, error).
  service::LogLevel log_level = service::LogLevel::kInfo;
  // grpc.*: HTTP/2 connection management (gRPC core channel arguments). The server pings an idle
  // connection every keepalive_time and drops it when no ack comes within keepalive_timeout
  // (dead peers behind a NAT or a proxy). A connection older than max_connection_age gets a
  // GOAWAY (clients reconnect, so a scaled-up Deployment takes its share); its open streams get
  // max_connection_age_grace more, then end UNAVAILABLE (WatchTask clients resume with
  // since_version). Infinite = gRPC's default (no limit).
  absl::Duration grpc_keepalive_time = absl::Seconds(60);
  absl::Duration grpc_keepalive_timeout = absl::Seconds(20);
  absl::Duration grpc_max_connection_age = absl::InfiniteDuration();
  absl::Duration grpc_max_connection_age_grace = absl::InfiniteDuration();

  // ---- auth.* and grpc.tls.* (issue 11 A: caller identity, roles, TLS; README "Callers") ----
  /// "none": every call runs as `tenant` with every role (refused on a listen address that is not
  /// loopback unless auth_allow_unauthenticated); "required": a configured caller or
  /// UNAUTHENTICATED. "" (unset) = "required" when callers are configured, else "none".
  std::string auth_mode;
  bool auth_allow_unauthenticated = false;
  /// auth.callers.<name>: {tenant, roles, token_sha256, mesh_ids}.
  std::vector<service::auth::CallerConfig> auth_callers;
  /// Metadata carrying the mesh's identity (e.g. x-forwarded-client-cert), trusted only from
  /// auth_trusted_peers; "" = none.
  std::string auth_mesh_identity_header;
  std::vector<service::auth::Cidr> auth_trusted_peers;
  /// TLS on the gRPC port: PEM files (all "" = plaintext); reloaded when they change.
  std::string grpc_tls_cert_file;
  std::string grpc_tls_key_file;
  std::string grpc_tls_client_ca_file;
  bool grpc_tls_require_client_cert = false;
  int grpc_tls_refresh_seconds = 60;
  // Largest request message the server reads, bytes (grpc.max_receive_message_bytes, 64 KiB to
  // 64 MiB); a larger one is refused RESOURCE_EXHAUSTED before it is decoded. The default stays
  // a few MiB above an UploadReferenceAudio chunk (1 MiB; uploads are streamed, so a whole file
  // is never one message).
  int grpc_max_receive_message_bytes = 8 << 20;
};

/// Whether `config` authenticates callers (auth.mode "required", explicit or implied).
bool AuthRequired(const ServerConfig& config);

/// FAILED_PRECONDITION naming auth.mode when `config` serves unauthenticated callers (no callers,
/// auth.mode "none") on a listen address that is not loopback, unless auth.allow_unauthenticated.
/// BuildServer calls it after command-line overrides of listen.
absl::Status CheckUnauthenticatedListen(const ServerConfig& config);

/// The archive directory `config` names: archive.directory, else "archive" beside database.path.
std::string ArchiveDirectory(const ServerConfig& config);

/// The defaults, with `providers` holding DefaultProviderConfig() of every module of `registry`.
ServerConfig DefaultServerConfig(const adapters::ProviderModuleRegistry& registry);

/// The settings of provider `name` (a registered module's name), or nullptr.
const ProviderConfig* FindProviderConfig(const ServerConfig& config, absl::string_view name);

/// Parses a JSON config; `providers.<name>.*` is read for every module of `registry` (base_url,
/// api_key_env, api_key_file, connect_timeout_seconds, request_timeout_seconds, price_micros,
/// price_currency, and the config_key of each of its secrets). Missing keys keep their defaults
/// (DefaultServerConfig(registry)); an unknown key (a provider `registry` lacks included), a
/// value of the wrong type or out of range is INVALID_ARGUMENT naming the key (e.g.
/// "tasks.poll_interval_seconds").
absl::StatusOr<ServerConfig> ParseConfig(absl::string_view json,
                                         const adapters::ProviderModuleRegistry& registry);

/// Reads and parses a config file. NOT_FOUND when it cannot be read; otherwise as ParseConfig.
absl::StatusOr<ServerConfig> LoadConfigFile(const std::string& path,
                                            const adapters::ProviderModuleRegistry& registry);

/// What a deployment must match in `config`, as one JSON object (music-server --check_config):
/// {"listen": [{"key": "listen", "address": "0.0.0.0:50051", "port": 50051}, ...] (every listen
/// address: gRPC, callbacks), "secret_envs": [...] (every environment variable the providers'
/// secrets, the callback token secrets and, with archive.backend s3, the bucket's keys are read
/// from, sorted, no empties), "required_secret_envs": [...] (those the server does not start
/// without: the callback token secret's, unless it comes from a file), "shutdown_grace_seconds":
/// 10}. Names no secret.
std::string DescribeConfig(const ServerConfig& config);

/// Splits "host:port" (service/server/host_port.h).
using service::SplitHostPort;

}  // namespace music::server

#endif  // MUSIC_SERVER_CONFIG_H_
