// perf_server: music-server as main.cc builds it (BuildServer over the built-in providers, the
// config file given), plus a no-op unary handler on the same gRPC server: /bench.Noop/Call reads
// its request and answers an empty message. tools/perf/run measures CreateMusic, Health/Check and
// that handler side by side, so the no-op figure is the ceiling of gRPC on this machine.
//
// BuildServer takes no extra service, so a ServerBuilder plugin registers the handler: gRPC calls
// every registered plugin factory in each ServerBuilder::BuildAndStart, and this process builds
// exactly one gRPC server.
#include <grpcpp/generic/async_generic_service.h>
#include <grpcpp/grpcpp.h>
#include <grpcpp/impl/server_builder_plugin.h>

#include <csignal>
#include <cstdio>
#include <fstream>
#include <memory>
#include <string>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/flags/usage.h"
#include "absl/synchronization/mutex.h"
#include "adapters/builtin_providers.h"
#include "server/build_server.h"
#include "server/config.h"

ABSL_FLAG(std::string, config, "", "JSON config file, as music-server --config");
ABSL_FLAG(std::string, port_file, "",
          "If set, \"<grpc port> <callback port>\" is written there once serving");

namespace {

// The no-op unary handler: reads the request, answers an empty message, nothing else.
class NoopService : public grpc::CallbackGenericService {
  grpc::ServerGenericBidiReactor* CreateReactor(grpc::GenericCallbackServerContext*) override {
    class Reactor : public grpc::ServerGenericBidiReactor {
     public:
      Reactor() {
        grpc::Slice empty("");
        response_ = grpc::ByteBuffer(&empty, 1);
        StartRead(&request_);
      }
      void OnReadDone(bool ok) override {
        if (!ok) {
          Finish(grpc::Status::OK);
          return;
        }
        StartWriteAndFinish(&response_, grpc::WriteOptions(), grpc::Status::OK);
      }
      void OnDone() override { delete this; }

     private:
      grpc::ByteBuffer request_, response_;
    };
    return new Reactor();
  }
};

NoopService& Noop() {
  static NoopService* const service = new NoopService();
  return *service;
}

// Adds the no-op handler to the server BuildServer builds.
class NoopPlugin : public grpc::ServerBuilderPlugin {
 public:
  std::string name() override { return "perf_noop"; }
  void UpdateServerBuilder(grpc::ServerBuilder* builder) override {
    builder->RegisterCallbackGenericService(&Noop());
  }
  void InitServer(grpc::ServerInitializer*) override {}
  void Finish(grpc::ServerInitializer*) override {}
  void ChangeArguments(const std::string&, void*) override {}
};

std::unique_ptr<grpc::ServerBuilderPlugin> MakeNoopPlugin() {
  return std::make_unique<NoopPlugin>();
}

int Fail(const std::string& message) {
  std::fprintf(stderr, "perf_server: %s\n", message.c_str());
  return 1;
}

}  // namespace

int main(int argc, char** argv) {
  absl::SetProgramUsageMessage(
      "music-server plus /bench.Noop/Call. Usage: perf_server --config FILE [--port_file F]");
  absl::ParseCommandLine(argc, argv);
  // Debian's Abseil is built with Mutex deadlock detection on, which records every lock
  // acquisition in a global graph (GraphCycles: ~2.5% of the server's CPU under load). The tests
  // keep it; the server turns it off.
  absl::SetMutexDeadlockDetectionMode(absl::OnDeadlockCycle::kIgnore);
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGTERM);
  sigaddset(&signals, SIGINT);
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);

  grpc::ServerBuilder::InternalAddPluginFactory(&MakeNoopPlugin);
  const music::adapters::ProviderModuleRegistry& registry = music::adapters::BuiltinProviders();
  music::server::ServerConfig config = music::server::DefaultServerConfig(registry);
  if (const std::string path = absl::GetFlag(FLAGS_config); !path.empty()) {
    auto loaded = music::server::LoadConfigFile(path, registry);
    if (!loaded.ok()) return Fail(std::string(loaded.status().message()));
    config = *std::move(loaded);
  }
  std::string summary;
  auto server = music::server::BuildServer(config, registry, music::server::EnvironmentSecrets(),
                                           music::RealClock::Get(), &summary);
  if (!server.ok()) return Fail(std::string(server.status().message()));
  if (const std::string path = absl::GetFlag(FLAGS_port_file); !path.empty()) {
    const std::string tmp = path + ".tmp";
    {
      std::ofstream out(tmp, std::ios::trunc);
      out << (*server)->port() << " " << (*server)->callback_port() << "\n";
      if (!out) return Fail("cannot write " + tmp);
    }
    if (std::rename(tmp.c_str(), path.c_str()) != 0) return Fail("cannot write " + path);
  }
  std::printf("perf_server: gRPC port %d, callbacks port %d, providers: %s\n", (*server)->port(),
              (*server)->callback_port(), summary.c_str());
  std::fflush(stdout);
  int signal = 0;
  sigwait(&signals, &signal);
  (*server)->Shutdown();
  return 0;
}
