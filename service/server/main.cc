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
#include "absl/strings/str_join.h"
#include "adapters/beatra/beatra_adapter.h"
#include "adapters/http/curl_http_client.h"
#include "adapters/http/safe_fetcher.h"
#include "adapters/kie/kie_adapter.h"
#include "adapters/piapi/piapi_adapter.h"
#include "adapters/tokenlab/tokenlab_adapter.h"
#include "adapters/usage_formats.h"
#include "persistence/sqlite/sqlite_task_store.h"
#include "service/core/usage_formats.h"
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

  // Providers, each with its own HTTP client (its own timeouts and connection cache) and its key
  // from its own environment variable or file. One without a key stays in the catalog, marked
  // unavailable, and is never called.
  auto providers = std::make_unique<music::service::ProviderRegistry>();
  std::vector<music::service::CatalogProvider> catalog_providers;
  std::vector<std::string> summary;
  auto http_for = [](const music::service::ProviderConfig& p) {
    music::http::CurlOptions curl_options;
    curl_options.connect_timeout = p.connect_timeout;
    curl_options.request_timeout = p.request_timeout;
    return std::shared_ptr<music::http::HttpClient>(music::http::NewCurlHttpClient(curl_options));
  };
  auto add = [&](const std::string& name, const music::service::ProviderConfig& p,
                 const std::string& api_key,
                 std::shared_ptr<music::adapters::ProviderAdapter> adapter) {
    const bool available = !api_key.empty();
    catalog_providers.push_back(
        {adapter, available ? "" : music::service::NoApiKeyReason(name, p)});
    providers->Add(std::move(adapter));
    summary.push_back(absl::StrCat(name, available ? " available" : " unavailable (no API key)"));
  };
  auto key_of = [](const std::string& name, const music::service::ProviderConfig& p) {
    return ReadSecret(p.api_key_env, p.api_key_file,
                      absl::StrCat("providers.", name, ".api_key_file"));
  };

  auto kie_key = key_of("kie", config.kie);
  if (!kie_key.ok()) return Fail(kie_key.status());
  music::adapters::kie::KieOptions kie_options;
  kie_options.base_url = config.kie.base_url;
  kie_options.api_key = *kie_key;
  kie_options.webhook_hmac_key = *ReadSecret(config.kie.webhook_hmac_key_env, "", "");
  kie_options.request_timeout = config.kie.request_timeout;
  add("kie", config.kie, *kie_key,
      music::adapters::kie::NewKieAdapter(kie_options, http_for(config.kie)));

  auto piapi_key = key_of("piapi", config.piapi);
  if (!piapi_key.ok()) return Fail(piapi_key.status());
  music::adapters::piapi::PiapiOptions piapi_options;
  piapi_options.base_url = config.piapi.base_url;
  piapi_options.api_key = *piapi_key;
  piapi_options.webhook_secret = *ReadSecret(config.piapi.webhook_secret_env, "", "");
  piapi_options.request_timeout = config.piapi.request_timeout;
  add("piapi", config.piapi, *piapi_key,
      music::adapters::piapi::NewPiapiAdapter(piapi_options, http_for(config.piapi)));

  auto tokenlab_key = key_of("tokenlab", config.tokenlab);
  if (!tokenlab_key.ok()) return Fail(tokenlab_key.status());
  music::adapters::tokenlab::TokenlabOptions tokenlab_options;
  tokenlab_options.base_url = config.tokenlab.base_url;
  tokenlab_options.api_key = *tokenlab_key;
  tokenlab_options.request_timeout = config.tokenlab.request_timeout;
  if (config.tokenlab.price_micros > 0) {
    tokenlab_options.price.set_amount_micros(config.tokenlab.price_micros);
    tokenlab_options.price.set_currency(config.tokenlab.price_currency);
  }
  add("tokenlab", config.tokenlab, *tokenlab_key,
      music::adapters::tokenlab::NewTokenlabAdapter(tokenlab_options, http_for(config.tokenlab)));

  auto beatra_key = key_of("beatra", config.beatra);
  if (!beatra_key.ok()) return Fail(beatra_key.status());
  music::adapters::beatra::BeatraOptions beatra_options;
  beatra_options.base_url = config.beatra.base_url;
  beatra_options.api_key = *beatra_key;
  beatra_options.request_timeout = config.beatra.request_timeout;
  add("beatra", config.beatra, *beatra_key,
      music::adapters::beatra::NewBeatraAdapter(beatra_options, http_for(config.beatra)));

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
  auto store = music::persistence::OpenSqliteStores(db_options);
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
  options.credits_per_usd = config.credits_per_usd;
  options.usage_formats =
      music::service::UsageFormatsFrom(music::adapters::BuiltinUsageFormats());
  options.reference_audio_uploads = config.reference_audio_enabled;
  options.max_reference_audio_bytes = static_cast<size_t>(config.reference_audio_max_bytes);

  auto server = music::service::MusicServer::Start(std::move(options), std::move(*store),
                                                   std::move(providers), *std::move(catalog),
                                                   music::RealClock::Get());
  if (!server.ok()) return Fail(server.status());
  std::cout << "music-server listening on " << config.listen << " (port " << (*server)->port()
            << "), callbacks on port " << (*server)->callback_port() << ", database "
            << config.database_path << ", providers: " << absl::StrJoin(summary, ", ") << std::endl;

  int signal = 0;
  sigwait(&signals, &signal);
  std::cout << "music-server: " << (signal == SIGTERM ? "SIGTERM" : "SIGINT") << ", shutting down"
            << std::endl;
  (*server)->Shutdown();
  std::cout << "music-server: stopped" << std::endl;
  return 0;
}
