#ifndef MUSIC_SERVICE_SERVER_CONFIG_H_
#define MUSIC_SERVICE_SERVER_CONFIG_H_

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"

namespace music::service {

/// One provider's settings (`providers.<name>.*`). Secrets are never in the file: only the names
/// of the environment variables (or files) that hold them.
struct ProviderConfig {
  std::string base_url;
  /// Environment variable holding the API key.
  std::string api_key_env;
  /// File holding the API key (used when the variable is unset or empty); "" = none.
  std::string api_key_file;
  /// kie.ai: environment variable holding the callback HMAC key; unset = signatures not checked.
  std::string webhook_hmac_key_env;
  /// PiAPI: environment variable holding the webhook secret.
  std::string webhook_secret_env;
  absl::Duration connect_timeout = absl::Seconds(5);
  absl::Duration request_timeout = absl::Seconds(30);
  /// Price per task of the provider's models that carry none from the adapter (kie.ai, TokenLab
  /// publish no per-task price in their seeds); 0 = none. Micro-units of price_currency.
  int64_t price_micros = 0;
  std::string price_currency;
};

/// Defaults of each provider's settings.
ProviderConfig DefaultKieConfig();
ProviderConfig DefaultPiapiConfig();
ProviderConfig DefaultTokenlabConfig();
ProviderConfig DefaultBeatraConfig();

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

/// The whole server configuration/// The whole server configuration: the JSON file's keys, each
/// with its default. README.md documents every key.
struct ServerConfig {
  std::string listen = "127.0.0.1:50051";
  std::string tenant = "default";
  std::string default_model = "suno-v4.5";
  int rpc_workers = 4;
  absl::Duration shutdown_grace = absl::Seconds(10);
  // database.*
  std::string database_path = "music.db";
  std::string database_synchronous = "FULL";
  // callbacks.*
  std::string callbacks_listen = "127.0.0.1:8081";
  std::string callbacks_public_url;  // "" = http://<callbacks.listen>
  // tasks.*
  absl::Duration poll_interval = absl::Seconds(7);
  absl::Duration task_deadline = absl::Minutes(30);
  int submit_max_attempts = 8;
  absl::Duration backoff_initial = absl::Milliseconds(500);
  absl::Duration backoff_max = absl::Seconds(60);
  absl::Duration unknown_submission_grace = absl::Minutes(10);
  int workers = 8;
  // watch.*
  absl::Duration heartbeat_interval = absl::Seconds(30);
  // providers.<name>.*
  ProviderConfig kie = DefaultKieConfig();
  ProviderConfig piapi = DefaultPiapiConfig();
  ProviderConfig tokenlab = DefaultTokenlabConfig();
  ProviderConfig beatra = DefaultBeatraConfig();
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
};

/// The settings of provider `name` ("kie", "piapi", "tokenlab", "beatra"), or nullptr.
const ProviderConfig* FindProviderConfig(const ServerConfig& config, absl::string_view name);

/// Parses a JSON config. Missing keys keep their defaults; an unknown key, a value of the wrong
/// type or out of range is INVALID_ARGUMENT naming the key (e.g. "tasks.poll_interval_seconds").
absl::StatusOr<ServerConfig> ParseConfig(absl::string_view json);

/// Reads and parses a config file. NOT_FOUND when it cannot be read; otherwise as ParseConfig.
absl::StatusOr<ServerConfig> LoadConfigFile(const std::string& path);

/// Splits "host:port" (IPv6 as "[::1]:port"). INVALID_ARGUMENT naming `key` when malformed.
absl::Status SplitHostPort(absl::string_view address, absl::string_view key, std::string* host,
                           int* port);

}  // namespace music::service

#endif  // MUSIC_SERVICE_SERVER_CONFIG_H_
