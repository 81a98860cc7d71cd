// music-server: parses flags, loads the config, blocks the stop signals, builds the server from
// the built-in provider modules (BuildServer) and waits for SIGTERM / SIGINT.
#include <csignal>
#include <iostream>
#include <string>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/flags/usage.h"
#include "absl/synchronization/mutex.h"
#include "adapters/builtin_providers.h"
#include "server/build_server.h"
#include "server/config.h"
#include "service/core/event_log.h"

ABSL_FLAG(std::string, config, "", "JSON config file (README.md, Configuration); none: defaults");
ABSL_FLAG(std::string, listen, "", "gRPC address host:port; overrides the config's \"listen\"");
ABSL_FLAG(std::string, database, "", "SQLite file; overrides the config's \"database.path\"");
ABSL_FLAG(bool, check_config, false,
          "parse --config strictly, print what it names (listen addresses, secret variables) as "
          "JSON and exit: 0 when valid, 1 with the error otherwise; starts nothing");

namespace {

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
  // Debian's Abseil is built with Mutex deadlock detection on, which records every lock
  // acquisition in a global graph (GraphCycles: ~2.5% of the server's CPU under load). The tests
  // keep it; the server turns it off.
  absl::SetMutexDeadlockDetectionMode(absl::OnDeadlockCycle::kIgnore);

  // Block the stop signals in every thread; the main thread waits for them below.
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGTERM);
  sigaddset(&signals, SIGINT);
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);

  const music::adapters::ProviderModuleRegistry& registry = music::adapters::BuiltinProviders();
  music::server::ServerConfig config = music::server::DefaultServerConfig(registry);
  if (const std::string path = absl::GetFlag(FLAGS_config); !path.empty()) {
    auto loaded = music::server::LoadConfigFile(path, registry);
    if (!loaded.ok()) return Fail(loaded.status());
    config = *std::move(loaded);
  }
  if (absl::GetFlag(FLAGS_check_config)) {
    std::cout << music::server::DescribeConfig(config) << std::endl;
    return 0;
  }
  if (!absl::GetFlag(FLAGS_listen).empty()) config.listen = absl::GetFlag(FLAGS_listen);
  if (!absl::GetFlag(FLAGS_database).empty()) config.database_path = absl::GetFlag(FLAGS_database);

  // The log level is the process's (every server in it logs through one event log).
  music::service::SetEventLogLevel(config.log_level);
  std::string summary;
  auto server = music::server::BuildServer(config, registry, music::server::EnvironmentSecrets(),
                                           music::RealClock::Get(), &summary);
  if (!server.ok()) return Fail(server.status());
  std::cout << "music-server listening on " << config.listen << " (port " << (*server)->port()
            << "), callbacks on port " << (*server)->callback_port() << ", database "
            << (config.database_url.empty() && config.database_url_env.empty()
                    ? config.database_path
                    : "PostgreSQL")
            << ", providers: " << summary << std::endl;

  if (const int metrics_port = (*server)->metrics_port(); metrics_port != 0) {
    std::cout << "music-server: metrics on port " << metrics_port << " (/metrics)" << std::endl;
  }

  int signal = 0;
  sigwait(&signals, &signal);
  std::cout << "music-server: " << (signal == SIGTERM ? "SIGTERM" : "SIGINT") << ", shutting down"
            << std::endl;
  (*server)->Shutdown();
  std::cout << "music-server: stopped" << std::endl;
  return 0;
}
