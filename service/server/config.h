#ifndef MUSIC_SERVICE_SERVER_CONFIG_H_
#define MUSIC_SERVICE_SERVER_CONFIG_H_

#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"

namespace music::service {

/// kie.ai provider settings (`providers.kie.*`). Secrets are never in the file: only the names of
/// the environment variables (or files) that hold them.
struct KieConfig {
  std::string base_url = "https://api.kie.ai";
  /// Environment variable holding the API key.
  std::string api_key_env = "KIE_API_KEY";
  /// File holding the API key (used when the variable is unset or empty); "" = none.
  std::string api_key_file;
  /// Environment variable holding the callback HMAC key; unset = signatures not checked.
  std::string webhook_hmac_key_env = "KIE_WEBHOOK_HMAC_KEY";
  absl::Duration connect_timeout = absl::Seconds(5);
  absl::Duration request_timeout = absl::Seconds(30);
};

/// The whole server configuration: the JSON file's keys, each with its default. README.md
/// documents every key.
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
  // providers.kie.*
  KieConfig kie;
};

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
