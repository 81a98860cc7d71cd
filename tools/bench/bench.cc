// tools/bench: CreateMusic throughput and latency against the SQLite store, with 1, 16 and 64
// concurrent clients, next to a no-op unary handler on the same server in the same run.
//
// The server is the real one (gRPC callback API, worker pool, task engine, SQLite in WAL mode).
// The provider is a null adapter that accepts every submission at once, so the engine's own
// follow-up writes (submitting, submitted) compete with the creates as they would in production,
// but no provider HTTP is measured.
#include <grpcpp/generic/generic_stub.h>
#include <grpcpp/grpcpp.h>

#include <algorithm>
#include <cstdlib>
#include <atomic>
#include <condition_variable>
#include <cstdio>
#include <mutex>
#include <thread>
#include <vector>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "domain/clock.h"
#include "music/v1/music_service.grpc.pb.h"
#include "persistence/sqlite/sqlite_task_store.h"
#include "service/core/event_log.h"
#include "service/server/music_server.h"

ABSL_FLAG(std::string, clients, "1,16,64", "Concurrency levels, comma separated");
ABSL_FLAG(double, seconds, 5, "Measured seconds per level and call");
ABSL_FLAG(std::string, synchronous, "FULL", "SQLite synchronous setting: FULL or NORMAL");
ABSL_FLAG(std::string, database, "", "SQLite file (default: a new temporary file)");

namespace {

using music::service::MusicServer;

// Accepts everything at once; tasks then wait for polls the benchmark never reaches.
class NullProvider : public music::adapters::ProviderAdapter {
 public:
  std::string provider() const override { return "null"; }
  music::adapters::ResubmitPolicy resubmit_policy() const override {
    return music::adapters::ResubmitPolicy::kAtMostOnce;
  }
  std::vector<music::v1::Model> Models() const override {
    music::v1::Model m;
    m.set_name("null-model");
    m.set_provider("null");
    m.set_provider_model("N");
    m.set_available(true);
    auto* c = m.mutable_capabilities();
    c->set_music(true);
    c->set_max_prompt_chars(500);
    return {m};
  }
  absl::StatusOr<music::adapters::SubmitResult> Submit(
      const music::adapters::SubmitRequest& r) override {
    music::adapters::SubmitResult result;
    result.provider_task_id = "null-" + r.task_id;
    return result;
  }
  absl::StatusOr<music::adapters::ProviderUpdate> Poll(
      const music::adapters::PollTarget&) override {
    return music::adapters::ProviderUpdate{};
  }
  absl::StatusOr<music::adapters::ProviderUpdate> ParseCallback(
      music::v1::TaskKind, const music::http::Request&) override {
    return absl::UnimplementedError("no callbacks");
  }
  absl::Status Cancel(absl::string_view) override { return absl::OkStatus(); }
};

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

struct Result {
  double calls_per_second = 0;
  double p50_ms = 0, p99_ms = 0;
  int64_t errors = 0;
};

// Runs `clients` threads, each calling `call` in a loop for `seconds`.
template <typename Call>
Result Measure(int clients, double seconds, Call call) {
  std::vector<std::vector<double>> latencies(clients);
  std::atomic<int64_t> errors{0};
  const absl::Time end = music::RealClock::Get()->Now() + absl::Seconds(seconds);
  std::vector<std::thread> threads;
  for (int i = 0; i < clients; ++i) {
    threads.emplace_back([&, i] {
      int64_t n = 0;
      while (music::RealClock::Get()->Now() < end) {
        const absl::Time start = music::RealClock::Get()->Now();
        if (!call(i, n++)) ++errors;
        latencies[i].push_back(absl::ToDoubleMilliseconds(music::RealClock::Get()->Now() - start));
      }
    });
  }
  for (auto& t : threads) t.join();
  std::vector<double> all;
  for (auto& l : latencies) all.insert(all.end(), l.begin(), l.end());
  std::sort(all.begin(), all.end());
  Result r;
  r.errors = errors;
  if (all.empty()) return r;
  r.calls_per_second = all.size() / seconds;
  r.p50_ms = all[all.size() / 2];
  r.p99_ms = all[std::min(all.size() - 1, all.size() * 99 / 100)];
  return r;
}

}  // namespace

int main(int argc, char** argv) {
  absl::ParseCommandLine(argc, argv);
  music::service::SetEventLogEnabled(false);
  std::vector<int> levels;
  for (absl::string_view s : absl::StrSplit(absl::GetFlag(FLAGS_clients), ',')) {
    int n;
    if (!absl::SimpleAtoi(s, &n) || n < 1) {
      std::fprintf(stderr, "bench: bad --clients\n");
      return 64;
    }
    levels.push_back(n);
  }
  std::string db = absl::GetFlag(FLAGS_database);
  if (db.empty()) {
    std::string tmpl = "/tmp/music-bench-XXXXXX";
    if (mkdtemp(tmpl.data()) == nullptr) return 1;
    db = tmpl + "/bench.db";
  }
  music::persistence::SqliteOptions so;
  so.path = db;
  so.synchronous = absl::GetFlag(FLAGS_synchronous);
  auto store = music::persistence::OpenSqliteStores(so);
  if (!store.ok()) {
    std::fprintf(stderr, "bench: %s\n", std::string(store.status().message()).c_str());
    return 1;
  }
  auto provider = std::make_shared<NullProvider>();
  auto registry = std::make_unique<music::service::ProviderRegistry>();
  registry->Add(provider);
  NoopService noop;
  music::service::ServerOptions options;
  options.listen = "127.0.0.1:0";
  options.callbacks_listen = "127.0.0.1:0";
  // The bench sends no callbacks; the server refuses to start without a token secret.
  options.engine.callback_token_secrets = {"bench-callback-secret"};
  options.engine.poll_interval = absl::Hours(1);
  options.engine.task_deadline = absl::Hours(2);
  options.generic_service = &noop;
  auto server = MusicServer::Start(
      options, std::move(*store), std::move(registry),
      std::make_unique<music::service::Catalog>(provider->Models(), "null-model"),
      music::RealClock::Get());
  if (!server.ok()) {
    std::fprintf(stderr, "bench: %s\n", std::string(server.status().message()).c_str());
    return 1;
  }
  const std::string target = absl::StrCat("127.0.0.1:", (*server)->port());
  // A few channels, as a real client fleet would have several connections.
  std::vector<std::shared_ptr<grpc::Channel>> channels;
  for (int i = 0; i < 4; ++i) {
    grpc::ChannelArguments args;
    args.SetInt("bench.channel", i);  // distinct args: distinct connections
    channels.push_back(grpc::CreateCustomChannel(target, grpc::InsecureChannelCredentials(), args));
  }

  std::printf("CreateMusic vs a no-op unary handler, same server, same run\n");
  std::printf("store: SQLite WAL, synchronous=%s (%s), file %s\n", so.synchronous.c_str(),
              so.synchronous == "FULL"
                  ? "an acknowledged create is fsynced: it survives a process crash and a "
                    "power loss"
                  : "an acknowledged create survives a process crash, not a power loss",
              db.c_str());
  std::printf("machine: %u hardware threads; %.1f s per measurement\n\n",
              std::thread::hardware_concurrency(), absl::GetFlag(FLAGS_seconds));
  std::printf("%8s | %28s | %28s | %s\n", "clients", "CreateMusic calls/s p50 p99",
              "no-op calls/s p50 p99", "throughput ratio no-op/create");
  for (int clients : levels) {
    auto create = Measure(clients, absl::GetFlag(FLAGS_seconds), [&](int i, int64_t n) {
      auto stub = music::v1::MusicService::NewStub(channels[i % channels.size()]);
      music::v1::CreateMusicRequest req;
      req.set_prompt("benchmark song");
      req.set_request_id(absl::StrCat("bench-", clients, "-", i, "-", n));
      music::v1::CreateMusicResponse resp;
      grpc::ClientContext ctx;
      return stub->CreateMusic(&ctx, req, &resp).ok();
    });
    auto noop_result = Measure(clients, absl::GetFlag(FLAGS_seconds), [&](int i, int64_t) {
      grpc::GenericStub stub(channels[i % channels.size()]);
      grpc::Slice empty("");
      grpc::ByteBuffer req(&empty, 1), resp;
      grpc::ClientContext ctx;
      std::mutex mu;
      std::condition_variable cv;
      bool done = false;
      grpc::Status status;
      stub.UnaryCall(&ctx, "/bench.Noop/Call", grpc::StubOptions(), &req, &resp,
                     [&](const grpc::Status& s) {
                       std::lock_guard<std::mutex> lock(mu);
                       status = s;
                       done = true;
                       cv.notify_one();
                     });
      std::unique_lock<std::mutex> lock(mu);
      cv.wait(lock, [&] { return done; });
      return status.ok();
    });
    std::printf(
        "%8d | %10.0f %7.2fms %7.2fms | %10.0f %7.2fms %7.2fms | %.1fx%s\n", clients,
        create.calls_per_second, create.p50_ms, create.p99_ms, noop_result.calls_per_second,
        noop_result.p50_ms, noop_result.p99_ms,
        create.calls_per_second > 0 ? noop_result.calls_per_second / create.calls_per_second : 0.0,
        create.errors + noop_result.errors > 0
            ? absl::StrCat("  (errors: ", create.errors, " create, ", noop_result.errors, " no-op)")
                  .c_str()
            : "");
    std::fflush(stdout);
  }
  (*server)->Shutdown();
  return 0;
}
