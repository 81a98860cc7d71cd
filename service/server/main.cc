// music-server: the one place where concrete parts (SQLite, libcurl, the kie.ai adapter) are
// chosen and wired to the service, which knows only their interfaces.
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <iostream>
#include <sstream>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/flags/usage.h"
#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "adapters/http/http_client.h"
#include "adapters/http/safe_fetcher.h"
#include "adapters/kie/kie_adapter.h"
#include "persistence/sqlite/sqlite_task_store.h"
#include "service/server/catalog_builder.h"
#include "service/server/config.h"
#include "service/server/music_server.h"

ABSL_FLAG(std::string, config, "", "JSON config file (README.md, Configuration); none: defaults");
ABSL_FLAG(std::string, listen, "", "gRPC address host:port; overrides the config's \"listen\"");
ABSL_FLAG(std::string, database, "", "SQLite file; overrides the config's \"database.path\"");

namespace {

using music::service::ServerConfig;

// Reads a secret from the environment variable `env`, else from `file` (named by config key
// `file_key`). Never logged. An unreadable file stops start-up (NOT_FOUND naming the key); an
// unset variable with no file is an empty secret (the provider is then unavailable).
absl::StatusOr<std::string> ReadSecret(const std::string& env, const std::string& file,
                                       absl::string_view file_key) {
  if (!env.empty()) {
    if (const char* v = std::getenv(env.c_str()); v != nullptr && *v != '\0') return v;
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

int Fail(const absl::Status& status) {
  std::cerr << "music-server: " << status.message() << std::endl;
  return 1;
}

}  // namespace

int main(int argc, char** argv) {
  absl::SetProgramUsageMessage(
      "Runs the music generation service. Usage: music-server "
      "[--config FILE] [--listen HOST:PORT] [--database FILE]");
  absl::ParseCommandLine(argc, argv);

  // Block the stop signals in every thread; the main thread waits for them below.
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGTERM);
  sigaddset(&signals, SIGINT);
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);

  ServerConfig config;
  if (const std::string path = absl::GetFlag(FLAGS_config); !path.empty()) {
    auto loaded = music::service::LoadConfigFile(path);
    if (!loaded.ok()) return Fail(loaded.status());
    config = *loaded;
  }
  if (!absl::GetFlag(FLAGS_listen).empty()) config.listen = absl::GetFlag(FLAGS_listen);
  if (!absl::GetFlag(FLAGS_database).empty()) config.database_path = absl::GetFlag(FLAGS_database);

  // Providers. One without an API key stays in the catalog, marked unavailable.
  music::http::CurlOptions curl_options;
  curl_options.connect_timeout = config.kie.connect_timeout;
  curl_options.request_timeout = config.kie.request_timeout;
  std::shared_ptr<music::http::HttpClient> http = music::http::NewCurlHttpClient(curl_options);

  music::adapters::kie::KieOptions kie_options;
  kie_options.base_url = config.kie.base_url;
  auto api_key =
      ReadSecret(config.kie.api_key_env, config.kie.api_key_file, "providers.kie.api_key_file");
  if (!api_key.ok()) return Fail(api_key.status());
  kie_options.api_key = *std::move(api_key);
  kie_options.webhook_hmac_key = *ReadSecret(config.kie.webhook_hmac_key_env, "", "");
  kie_options.request_timeout = config.kie.request_timeout;
  const bool kie_available = !kie_options.api_key.empty();
  std::shared_ptr<music::adapters::ProviderAdapter> kie =
      music::adapters::kie::NewKieAdapter(kie_options, http);

  // Further adapters (PiAPI, TokenLab, beatra) are added here the same way, each with its
  // providers.<name> settings; one without a key is listed as unavailable.
  auto providers = std::make_unique<music::service::ProviderRegistry>();
  std::vector<music::service::CatalogProvider> catalog_providers;
  catalog_providers.push_back(
      {kie, kie_available ? "" : music::service::NoApiKeyReason("kie", config.kie)});
  providers->Add(kie);
  auto catalog = music::service::BuildCatalog(config, catalog_providers);
  if (!catalog.ok()) return Fail(catalog.status());

  // Reference-audio URLs are downloaded by the SSRF-safe fetcher; it lives as long as main.
  std::unique_ptr<music::http::ReferenceAudioFetcher> fetcher;
  if (config.reference_audio_enabled) {
    music::http::SafeFetchOptions fetch_options;
    fetch_options.max_bytes = static_cast<size_t>(config.reference_audio_max_bytes);
    fetch_options.total_timeout = config.reference_audio_timeout;
    fetch_options.allow_loopback = config.reference_audio_allow_loopback;
    fetch_options.allow_http = config.reference_audio_allow_http;
    fetcher = music::http::NewSafeFetcher(fetch_options);
  }

  // The store is opened last, so a bad config never creates or migrates a database file.
  music::persistence::SqliteOptions db_options;
  db_options.path = config.database_path;
  db_options.synchronous = config.database_synchronous;
  auto store = music::persistence::OpenSqliteTaskStore(db_options);
  if (!store.ok()) return Fail(store.status());

  music::service::ServerOptions options;
  options.listen = config.listen;
  options.callbacks_listen = config.callbacks_listen;
  options.callbacks_public_url = config.callbacks_public_url;
  options.tenant = config.tenant;
  options.heartbeat_interval = config.heartbeat_interval;
  options.shutdown_grace = config.shutdown_grace;
  options.rpc_workers = config.rpc_workers;
  options.engine.poll_interval = config.poll_interval;
  options.engine.task_deadline = config.task_deadline;
  options.engine.max_submit_attempts = config.submit_max_attempts;
  options.engine.backoff_initial = config.backoff_initial;
  options.engine.backoff_max = config.backoff_max;
  options.engine.unknown_submission_grace = config.unknown_submission_grace;
  options.engine.workers = config.workers;
  options.engine.circuit_breaker.failure_threshold = config.circuit_breaker_failures;
  options.engine.circuit_breaker.cool_down = config.circuit_breaker_cooldown;
  options.engine.reference_fetcher = fetcher.get();
  options.reference_audio_uploads = config.reference_audio_enabled;
  options.max_reference_audio_bytes = static_cast<size_t>(config.reference_audio_max_bytes);

  auto server = music::service::MusicServer::Start(std::move(options), std::move(*store),
                                                   std::move(providers), *std::move(catalog),
                                                   music::service::RealClock::Get());
  if (!server.ok()) return Fail(server.status());
  std::cout << "music-server listening on " << config.listen << " (port " << (*server)->port()
            << "), callbacks on port " << (*server)->callback_port() << ", database "
            << config.database_path << ", provider kie "
            << (kie_available ? "available" : "unavailable (no API key)") << std::endl;

  int signal = 0;
  sigwait(&signals, &signal);
  std::cout << "music-server: " << (signal == SIGTERM ? "SIGTERM" : "SIGINT") << ", shutting down"
            << std::endl;
  (*server)->Shutdown();
  std::cout << "music-server: stopped" << std::endl;
  return 0;
}
