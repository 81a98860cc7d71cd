// load_client: the gRPC client side of tools/perf/run. One mode per run (--mode):
//   frame     writes gRPC-framed request bodies for h2load into --out_dir: create.bin (a
//             CreateMusicRequest), health.bin (an empty HealthCheckRequest), noop.bin (empty)
//   count     prints how many tasks are stored (ListTasks pages, optionally one --state)
//   rate      CreateMusic at a fixed rate (--rate per second) for --seconds, open loop: the
//             latency of a call is measured from the moment it was due, so a stalled server is
//             not hidden by a client that waits for it (coordinated omission)
//   create    --count creates with --concurrency in flight, as fast as they are answered
//   submit    --count tasks, --interval_ms apart; for each, the time from the create's answer
//             until WatchTask shows it no longer PENDING (it reached its provider), at most
//             --give_up_seconds (a task still pending then makes max_ms that bound)
// Results go to stdout as one line of `key=value` pairs; tools/perf/run turns them into PERF
// lines. Every figure counts only calls answered OK.
#include <grpcpp/grpcpp.h>

#include <algorithm>
#include <atomic>
#include <cstdint>
#include <cstdio>
#include <fstream>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/flags/usage.h"
#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "grpc/health/v1/health.pb.h"
#include "music/v1/music_service.grpc.pb.h"

ABSL_FLAG(std::string, mode, "", "frame | count | rate | create | submit");
ABSL_FLAG(std::string, target, "127.0.0.1:50051", "gRPC address host:port");
ABSL_FLAG(std::string, out_dir, ".", "frame: where the bodies are written");
ABSL_FLAG(std::string, model, "", "Model of the created tasks (empty: the server's default)");
ABSL_FLAG(std::string, prompt, "benchmark song", "Prompt of the created tasks");
ABSL_FLAG(std::string, state, "", "count: only tasks in this state, e.g. SUCCEEDED");
ABSL_FLAG(double, rate, 100, "rate: creates per second");
ABSL_FLAG(double, seconds, 5, "rate: how long");
ABSL_FLAG(int, max_outstanding, 2000,
          "rate: calls in flight at most; a call due beyond that is counted as skipped");
ABSL_FLAG(int, count, 100, "create, submit: how many tasks");
ABSL_FLAG(int, concurrency, 64, "create: calls in flight");
ABSL_FLAG(double, interval_ms, 200, "submit: pause between two tasks");
ABSL_FLAG(double, give_up_seconds, 30,
          "submit: a task still PENDING this long after its create counts as not submitted");
ABSL_FLAG(int, channels, 4, "Connections to open (calls are spread over them)");

namespace {

using music::v1::MusicService;

struct Clients {
  std::vector<std::shared_ptr<grpc::Channel>> channels;
  std::vector<std::unique_ptr<MusicService::Stub>> stubs;
  MusicService::Stub* Next(int64_t i) { return stubs[i % stubs.size()].get(); }
};

Clients Connect() {
  Clients c;
  for (int i = 0; i < std::max(1, absl::GetFlag(FLAGS_channels)); ++i) {
    grpc::ChannelArguments args;
    args.SetInt("perf.channel", i);  // distinct arguments: distinct connections
    c.channels.push_back(grpc::CreateCustomChannel(absl::GetFlag(FLAGS_target),
                                                   grpc::InsecureChannelCredentials(), args));
    c.stubs.push_back(MusicService::NewStub(c.channels.back()));
  }
  return c;
}

music::v1::CreateMusicRequest CreateRequest() {
  music::v1::CreateMusicRequest req;
  req.set_prompt(absl::GetFlag(FLAGS_prompt));
  req.set_model(absl::GetFlag(FLAGS_model));
  return req;  // no request_id: every call is a new task
}

// 0x00, the 4-byte big-endian length, the message: one gRPC length-prefixed message.
bool WriteFrame(const std::string& path, const std::string& message) {
  std::string frame(5, '\0');
  const uint32_t n = message.size();
  frame[1] = static_cast<char>(n >> 24);
  frame[2] = static_cast<char>(n >> 16);
  frame[3] = static_cast<char>(n >> 8);
  frame[4] = static_cast<char>(n);
  frame += message;
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out << frame;
  return static_cast<bool>(out);
}

int Frame() {
  const std::string dir = absl::GetFlag(FLAGS_out_dir);
  const bool ok = WriteFrame(dir + "/create.bin", CreateRequest().SerializeAsString()) &&
                  WriteFrame(dir + "/health.bin",
                             grpc::health::v1::HealthCheckRequest().SerializeAsString()) &&
                  WriteFrame(dir + "/noop.bin", "");
  if (!ok) std::fprintf(stderr, "load_client: cannot write into %s\n", dir.c_str());
  return ok ? 0 : 1;
}

int Count() {
  Clients clients = Connect();
  music::v1::ListTasksRequest req;
  req.set_page_size(1000);
  if (const std::string s = absl::GetFlag(FLAGS_state); !s.empty()) {
    music::v1::TaskState state;
    if (!music::v1::TaskState_Parse("TASK_STATE_" + s, &state)) {
      std::fprintf(stderr, "load_client: unknown --state %s\n", s.c_str());
      return 64;
    }
    req.set_state(state);
  }
  int64_t n = 0;
  do {
    music::v1::ListTasksResponse resp;
    grpc::ClientContext ctx;
    ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(30));
    grpc::Status s = clients.Next(0)->ListTasks(&ctx, req, &resp);
    if (!s.ok()) {
      std::fprintf(stderr, "load_client: ListTasks: %s\n", s.error_message().c_str());
      return 1;
    }
    n += resp.tasks_size();
    req.set_page_token(resp.next_page_token());
  } while (!req.page_token().empty());
  std::printf("tasks=%lld\n", static_cast<long long>(n));
  return 0;
}

double Percentile(std::vector<double>* v, double p) {
  if (v->empty()) return 0;
  std::sort(v->begin(), v->end());
  return (*v)[std::min(v->size() - 1, static_cast<size_t>(v->size() * p))];
}

// What the callbacks of a batch of asynchronous calls share.
struct Tally {
  absl::Mutex mu;
  std::vector<double> latencies_ms ABSL_GUARDED_BY(mu);
  int64_t ok ABSL_GUARDED_BY(mu) = 0;
  int64_t failed ABSL_GUARDED_BY(mu) = 0;
  int64_t outstanding ABSL_GUARDED_BY(mu) = 0;
};

// One CreateMusic in flight; deletes itself when answered.
struct Call {
  grpc::ClientContext ctx;
  music::v1::CreateMusicRequest req;
  music::v1::CreateMusicResponse resp;
  absl::Time due;
};

void StartCreate(MusicService::Stub* stub, absl::Time due, Tally* tally) {
  auto* call = new Call;
  call->req = CreateRequest();
  call->due = due;
  call->ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(60));
  stub->async()->CreateMusic(&call->ctx, &call->req, &call->resp,
                             [call, tally](const grpc::Status& s) {
                               const double ms = absl::ToDoubleMilliseconds(absl::Now() - call->due);
                               {
                                 absl::MutexLock lock(&tally->mu);
                                 --tally->outstanding;
                                 if (s.ok()) {
                                   ++tally->ok;
                                   tally->latencies_ms.push_back(ms);
                                 } else {
                                   ++tally->failed;
                                 }
                               }
                               delete call;
                             });
}

void WaitIdle(Tally* tally) {
  absl::MutexLock lock(&tally->mu);
  tally->mu.Await(absl::Condition(
      +[](int64_t* n) { return *n == 0; }, &tally->outstanding));
}

int Rate() {
  Clients clients = Connect();
  const double rate = absl::GetFlag(FLAGS_rate);
  const double seconds = absl::GetFlag(FLAGS_seconds);
  const int max_outstanding = absl::GetFlag(FLAGS_max_outstanding);
  if (rate <= 0 || seconds <= 0) {
    std::fprintf(stderr, "load_client: --rate and --seconds must be > 0\n");
    return 64;
  }
  Tally tally;
  int64_t skipped = 0;
  const int64_t total = static_cast<int64_t>(rate * seconds);
  const absl::Time start = absl::Now();
  for (int64_t i = 0; i < total; ++i) {
    const absl::Time due = start + absl::Seconds(i / rate);
    if (const absl::Duration wait = due - absl::Now(); wait > absl::ZeroDuration()) {
      absl::SleepFor(wait);  // a benchmark client pacing itself on real time
    }
    {
      absl::MutexLock lock(&tally.mu);
      if (tally.outstanding >= max_outstanding) {
        ++skipped;
        continue;
      }
      ++tally.outstanding;
    }
    StartCreate(clients.Next(i), due, &tally);
  }
  const absl::Duration sent_in = absl::Now() - start;
  WaitIdle(&tally);
  absl::MutexLock lock(&tally.mu);
  std::vector<double>& l = tally.latencies_ms;
  const double p50 = Percentile(&l, 0.50), p99 = Percentile(&l, 0.99);
  const double max = l.empty() ? 0 : l.back();
  std::printf("ok=%lld failed=%lld skipped=%lld offered_per_s=%.1f sent_seconds=%.3f "
              "p50_ms=%.3f p99_ms=%.3f max_ms=%.3f\n",
              static_cast<long long>(tally.ok), static_cast<long long>(tally.failed),
              static_cast<long long>(skipped), rate, absl::ToDoubleSeconds(sent_in), p50, p99,
              max);
  return 0;
}

// Room for one more call: fewer than `limit` in flight.
struct Window {
  const int64_t* outstanding;
  int limit;
};
bool HasRoom(Window* w) { return *w->outstanding < w->limit; }

int Create() {
  Clients clients = Connect();
  const int count = absl::GetFlag(FLAGS_count);
  const int concurrency = std::max(1, absl::GetFlag(FLAGS_concurrency));
  Tally tally;
  const absl::Time start = absl::Now();
  for (int i = 0; i < count; ++i) {
    {
      absl::MutexLock lock(&tally.mu);
      Window window{&tally.outstanding, concurrency};
      tally.mu.Await(absl::Condition(&HasRoom, &window));
      ++tally.outstanding;
    }
    StartCreate(clients.Next(i), absl::Now(), &tally);
  }
  WaitIdle(&tally);
  const double s = absl::ToDoubleSeconds(absl::Now() - start);
  absl::MutexLock lock(&tally.mu);
  std::printf("ok=%lld failed=%lld seconds=%.3f per_s=%.1f\n", static_cast<long long>(tally.ok),
              static_cast<long long>(tally.failed), s, s > 0 ? tally.ok / s : 0.0);
  return 0;
}

// Creates one task and follows it on WatchTask (pushed by the server, so the probe adds no polling
// load to the server it measures) until it is no longer PENDING, at most `give_up`. Returns the
// wait in milliseconds from the create's answer, or -1 (create failed or gave up).
double TimeToSubmission(MusicService::Stub* stub, absl::Duration give_up) {
  music::v1::CreateMusicResponse created;
  grpc::ClientContext ctx;
  if (!stub->CreateMusic(&ctx, CreateRequest(), &created).ok()) return -1;
  const absl::Time answered = absl::Now();
  if (created.task().state() != music::v1::TASK_STATE_PENDING) return 0;
  music::v1::WatchTaskRequest watch;
  watch.set_task_id(created.task().task_id());
  grpc::ClientContext watch_ctx;
  watch_ctx.set_deadline(absl::ToChronoTime(answered + give_up));
  auto reader = stub->WatchTask(&watch_ctx, watch);
  music::v1::WatchTaskResponse event;
  while (reader->Read(&event)) {
    if (event.has_task() && event.task().state() != music::v1::TASK_STATE_PENDING) {
      const double ms = absl::ToDoubleMilliseconds(absl::Now() - answered);
      watch_ctx.TryCancel();
      while (reader->Read(&event)) {
      }
      reader->Finish().IgnoreError();
      return ms;
    }
  }
  reader->Finish().IgnoreError();
  return -1;
}

int Submit() {
  Clients clients = Connect();
  const int count = absl::GetFlag(FLAGS_count);
  const absl::Duration give_up = absl::Seconds(absl::GetFlag(FLAGS_give_up_seconds));
  // One thread per task, started --interval_ms apart, so a task stuck behind a queue does not
  // delay the next one's creation and the whole run ends within count * interval + give_up.
  std::vector<double> waits(count, -1);
  std::vector<std::thread> threads;
  for (int i = 0; i < count; ++i) {
    if (i > 0) absl::SleepFor(absl::Milliseconds(absl::GetFlag(FLAGS_interval_ms)));
    threads.emplace_back([&, i] { waits[i] = TimeToSubmission(clients.Next(i), give_up); });
  }
  for (auto& t : threads) t.join();
  std::vector<double> ok;
  for (double w : waits) {
    if (w >= 0) ok.push_back(w);
  }
  const int pending = count - static_cast<int>(ok.size());
  const double p50 = Percentile(&ok, 0.50);
  // A task still pending at the give-up waited at least that long: the maximum says so.
  double max = ok.empty() ? 0 : ok.back();
  if (pending > 0) max = absl::ToDoubleMilliseconds(give_up);
  std::printf("ok=%zu pending=%d p50_ms=%.3f max_ms=%.3f\n", ok.size(), pending, p50, max);
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  absl::SetProgramUsageMessage("gRPC load for tools/perf/run. Usage: load_client --mode MODE ...");
  absl::ParseCommandLine(argc, argv);
  const std::string mode = absl::GetFlag(FLAGS_mode);
  if (mode == "frame") return Frame();
  if (mode == "count") return Count();
  if (mode == "rate") return Rate();
  if (mode == "create") return Create();
  if (mode == "submit") return Submit();
  std::fprintf(stderr, "load_client: --mode must be frame, count, rate, create or submit\n");
  return 64;
}
