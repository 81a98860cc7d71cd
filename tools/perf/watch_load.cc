// tools/perf/watch_load: WatchTask at scale against a real music-server process.
//
// The parent starts the provider emulator (tasks that run for an hour) and music-server with a
// config (SQLite in a temporary directory, a short heartbeat so that a measurement window spans
// several heartbeat ticks), creates idle tasks, then for each N of --streams:
//   1. forks --clients client processes (this program, --role=client), each opening N/clients
//      idle WatchTask streams over --channels connections, plus one stream on every probe task;
//   2. reads the server's VmRSS (/proc/<pid>/status) once every stream has its first message;
//   3. cancels the probe tasks one by one, spread over --window_heartbeats heartbeat intervals;
//      every client measures, per probe stream, the time from the change (the task's update_time,
//      stamped by the server just before its durable write) to the message's arrival;
//   4. ends the clients (their connections close, so every stream ends) and reads VmRSS again
//      once it has settled.
// It prints a table and one `PERF {json}` line per figure.
#include <fcntl.h>
#include <grpcpp/grpcpp.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cmath>
#include <csignal>
#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <iostream>
#include <memory>
#include <mutex>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "music/v1/music_service.grpc.pb.h"

ABSL_FLAG(std::string, role, "parent", "parent or client (internal)");
ABSL_FLAG(std::string, streams, "10000,50000,100000", "Idle stream counts, comma separated");
ABSL_FLAG(int, clients, 4, "Client processes");
ABSL_FLAG(int, channels, 8, "Connections per client process");
ABSL_FLAG(int, idle_tasks, 1000, "Tasks the idle streams watch (round robin)");
ABSL_FLAG(int, probes, 200, "Tasks changed (canceled) during each window");
ABSL_FLAG(double, heartbeat_seconds, 30, "The server's watch.heartbeat_seconds (the default)");
ABSL_FLAG(double, window_heartbeats, 2.2, "Measurement window, in heartbeat intervals");
ABSL_FLAG(std::string, server_bin, "build/service/music-server", "music-server binary");
ABSL_FLAG(std::string, emulator_bin, "build/tools/provider-emulator/provider-emulator",
          "provider-emulator binary");
ABSL_FLAG(double, hold_seconds, 0, "Keep the server running this long at the end (to inspect it)");
ABSL_FLAG(std::string, target, "", "client: server address");
ABSL_FLAG(std::string, ids_file, "", "client: idle task ids, one a line");
ABSL_FLAG(std::string, probes_file, "", "client: probe task ids, one a line");
ABSL_FLAG(int, count, 0, "client: idle streams to open");
ABSL_FLAG(int, seed, 0, "client: offset into the idle ids");

namespace {

using music::v1::MusicService;
using music::v1::WatchTaskResponse;

double NowUnixMicros() { return absl::ToUnixMicros(absl::Now()); }

std::vector<std::string> ReadLines(const std::string& path) {
  std::vector<std::string> out;
  std::ifstream in(path);
  for (std::string line; std::getline(in, line);) {
    if (!line.empty()) out.push_back(line);
  }
  return out;
}

// ---------------------------------------------------------------- client process

struct ClientState {
  std::atomic<int> ready{0};
  std::atomic<int> failed{0};
  std::atomic<int64_t> heartbeats{0};
  absl::Mutex mu;
  std::vector<double> latencies_ms ABSL_GUARDED_BY(mu);
};

// One WatchTask stream. Probe streams record the latency of the terminal change.
class WatchStream final : public grpc::ClientReadReactor<WatchTaskResponse> {
 public:
  WatchStream(MusicService::Stub* stub, const std::string& task_id, bool probe, ClientState* st)
      : probe_(probe), st_(st) {
    request_.set_task_id(task_id);
    stub->async()->WatchTask(&ctx_, &request_, this);
    StartRead(&response_);
    StartCall();
  }
  void Cancel() { ctx_.TryCancel(); }
  void OnReadDone(bool ok) override {
    if (!ok) return;  // OnDone follows
    if (!first_) {
      first_ = true;
      st_->ready.fetch_add(1);
    }
    if (response_.has_heartbeat()) {
      st_->heartbeats.fetch_add(1);
    } else if (probe_ && response_.task().state() == music::v1::TASK_STATE_CANCELED) {
      const auto& t = response_.task().update_time();
      const double changed = static_cast<double>(t.seconds()) * 1e6 + t.nanos() / 1e3;
      absl::MutexLock lock(&st_->mu);
      st_->latencies_ms.push_back((NowUnixMicros() - changed) / 1e3);
    }
    StartRead(&response_);
  }
  void OnDone(const grpc::Status& s) override {
    if (!first_) st_->failed.fetch_add(1);
    if (!s.ok() && !first_) {
      static std::atomic<int> logged{0};
      if (logged.fetch_add(1) < 3) {
        std::cerr << "watch_load client: stream ended: " << s.error_message() << "\n";
      }
    }
  }

 private:
  const bool probe_;
  ClientState* const st_;
  grpc::ClientContext ctx_;
  music::v1::WatchTaskRequest request_;
  WatchTaskResponse response_;
  bool first_ = false;
};

int RunClient() {
  const auto ids = ReadLines(absl::GetFlag(FLAGS_ids_file));
  const auto probes = ReadLines(absl::GetFlag(FLAGS_probes_file));
  const int count = absl::GetFlag(FLAGS_count);
  std::vector<std::unique_ptr<MusicService::Stub>> stubs;
  for (int i = 0; i < absl::GetFlag(FLAGS_channels); ++i) {
    grpc::ChannelArguments args;
    args.SetInt("watch_load.channel", i);  // a distinct connection per channel
    args.SetInt(GRPC_ARG_USE_LOCAL_SUBCHANNEL_POOL, 1);
    stubs.push_back(MusicService::NewStub(grpc::CreateCustomChannel(
        absl::GetFlag(FLAGS_target), grpc::InsecureChannelCredentials(), args)));
  }
  ClientState st;
  std::vector<std::unique_ptr<WatchStream>> streams;
  const int total = count + static_cast<int>(probes.size());
  streams.reserve(total);
  const int seed = absl::GetFlag(FLAGS_seed);
  for (int i = 0; i < total; ++i) {
    // Keep at most 2,000 streams waiting for their first message: the server loads each task.
    while (i - st.ready.load() - st.failed.load() > 2000) absl::SleepFor(absl::Milliseconds(1));
    const bool probe = i >= count;
    const std::string& id = probe ? probes[i - count] : ids[(seed + i) % ids.size()];
    streams.push_back(
        std::make_unique<WatchStream>(stubs[i % stubs.size()].get(), id, probe, &st));
  }
  while (st.ready.load() + st.failed.load() < total) absl::SleepFor(absl::Milliseconds(5));
  std::cout << "READY " << st.ready.load() << " " << st.failed.load() << std::endl;
  std::string line;
  std::getline(std::cin, line);  // "STOP" or EOF
  {
    absl::MutexLock lock(&st.mu);
    std::cout << "HEARTBEATS " << st.heartbeats.load() << "\n";
    std::cout << "LAT";
    for (double v : st.latencies_ms) std::cout << " " << v;
    std::cout << "\nDONE" << std::endl;
  }
  // Leave without tearing 25,000 reactors down one by one: the connections close with the
  // process, and the server ends every stream.
  std::_Exit(0);
}

// ---------------------------------------------------------------- parent process

struct Child {
  pid_t pid = -1;
  FILE* out = nullptr;  // its stdout
  FILE* in = nullptr;   // its stdin
};

// Starts argv with stdout (and stderr) to `log`, or to a pipe when `log` is empty.
Child Spawn(const std::vector<std::string>& argv, const std::string& log,
            const std::vector<std::string>& env = {}) {
  int out_pipe[2] = {-1, -1}, in_pipe[2] = {-1, -1};
  if (log.empty() && (pipe(out_pipe) != 0 || pipe(in_pipe) != 0)) {
    perror("pipe");
    std::exit(2);
  }
  const pid_t pid = fork();
  if (pid == 0) {
    if (log.empty()) {
      dup2(out_pipe[1], 1);
      dup2(in_pipe[0], 0);
      close(out_pipe[0]);
      close(in_pipe[1]);
    } else {
      const int fd = open(log.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
      dup2(fd, 1);
      dup2(fd, 2);
    }
    for (const auto& e : env) putenv(const_cast<char*>(e.c_str()));
    std::vector<char*> args;
    for (const auto& a : argv) args.push_back(const_cast<char*>(a.c_str()));
    args.push_back(nullptr);
    execv(args[0], args.data());
    perror("execv");
    std::_Exit(127);
  }
  Child c;
  c.pid = pid;
  if (log.empty()) {
    close(out_pipe[1]);
    close(in_pipe[0]);
    c.out = fdopen(out_pipe[0], "r");
    c.in = fdopen(in_pipe[1], "w");
  }
  return c;
}

std::string ReadFile(const std::string& path) {
  std::ifstream in(path);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

// Waits until `path` contains `needle` (a process starting up); false after 30 s.
bool WaitForText(const std::string& path, const std::string& needle) {
  for (int i = 0; i < 3000; ++i) {
    if (ReadFile(path).find(needle) != std::string::npos) return true;
    absl::SleepFor(absl::Milliseconds(10));
  }
  return false;
}

double RssMiB(pid_t pid) {
  std::ifstream in(absl::StrCat("/proc/", pid, "/status"));
  for (std::string line; std::getline(in, line);) {
    if (line.rfind("VmRSS:", 0) == 0) {
      int64_t kb = 0;
      std::istringstream(line.substr(6)) >> kb;
      return static_cast<double>(kb) / 1024.0;
    }
  }
  return -1;
}

std::vector<std::string> CreateTasks(const std::string& target, int n, const std::string& tag) {
  std::vector<std::string> ids(n);
  std::atomic<int> next{0}, errors{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < 16; ++t) {
    threads.emplace_back([&] {
      auto stub = MusicService::NewStub(
          grpc::CreateChannel(target, grpc::InsecureChannelCredentials()));
      for (int i = next++; i < n; i = next++) {
        music::v1::CreateMusicRequest req;
        req.set_request_id(absl::StrCat(tag, "-", i));
        req.set_prompt(absl::StrCat("watch load ", tag, " ", i));
        music::v1::CreateMusicResponse resp;
        grpc::ClientContext ctx;
        const grpc::Status s = stub->CreateMusic(&ctx, req, &resp);
        if (!s.ok()) {
          if (errors++ < 3) std::cerr << "CreateMusic: " << s.error_message() << "\n";
          continue;
        }
        ids[i] = resp.task().task_id();
      }
    });
  }
  for (auto& t : threads) t.join();
  ids.erase(std::remove(ids.begin(), ids.end(), std::string()), ids.end());
  return ids;
}

void WriteLines(const std::string& path, const std::vector<std::string>& lines) {
  std::ofstream out(path);
  for (const auto& l : lines) out << l << "\n";
}

double Percentile(std::vector<double> v, double p) {
  if (v.empty()) return -1;
  std::sort(v.begin(), v.end());
  const auto rank = static_cast<size_t>(std::lround(p * static_cast<double>(v.size() - 1)));
  const size_t i = std::min(v.size() - 1, rank);
  return v[i];
}

std::string Label(int n) { return n % 1000 == 0 ? absl::StrCat(n / 1000, "k") : absl::StrCat(n); }

void Perf(const std::string& name, double measured, const std::string& unit,
          const std::string& target) {
  std::cout << "PERF "
            << absl::StrFormat(R"({"name":"%s","measured":%.1f,"unit":"%s","target":"%s"})", name,
                               measured, unit, target)
            << std::endl;
}

struct Round {
  int streams = 0;
  int opened = 0, failed = 0;
  double rss_before = 0, rss_open = 0, rss_closed = 0;
  double open_seconds = 0;
  std::vector<double> lat;
  int64_t heartbeats = 0;
  int cancel_errors = 0;
  double window_seconds = 0;
};

double LoadAverage() {
  double l = -1;
  std::ifstream("/proc/loadavg") >> l;
  return l;
}

int RunParent(const char* self) {
  const double hb = absl::GetFlag(FLAGS_heartbeat_seconds);
  char tmpl[] = "/tmp/watch_load.XXXXXX";
  const std::string dir = mkdtemp(tmpl);
  const std::string key = "watch-load-key";
  Child emulator = Spawn({absl::GetFlag(FLAGS_emulator_bin), "--port", "0", "--port_file",
                          dir + "/emulator.port", "--task_duration_ms", "36000000",
                          "--kie_api_key", key},
                         dir + "/emulator.log");
  if (!WaitForText(dir + "/emulator.port", "\n") && ReadFile(dir + "/emulator.port").empty()) {
    std::cerr << "emulator did not start: " << ReadFile(dir + "/emulator.log");
    return 1;
  }
  absl::SleepFor(absl::Milliseconds(100));
  std::string eport = ReadFile(dir + "/emulator.port");
  eport.erase(std::remove(eport.begin(), eport.end(), '\n'), eport.end());
  {
    std::ofstream config(dir + "/config.json");
    config << "{\"listen\": \"127.0.0.1:0\", \"database\": {\"path\": \"" << dir
           << "/music.db\"}, \"callbacks\": {\"listen\": \"127.0.0.1:0\"},"
           << " \"tasks\": {\"poll_interval_seconds\": 3600},"
           << " \"watch\": {\"heartbeat_seconds\": " << hb << "},"
           << " \"providers\": {\"kie\": {\"base_url\": \"http://127.0.0.1:" << eport << "\"}}}";
  }
  Child server = Spawn({absl::GetFlag(FLAGS_server_bin), "--config", dir + "/config.json"},
                       dir + "/server.log",
                       // The server refuses to start without a callback token secret.
                       {"KIE_API_KEY=" + key, "MUSIC_CALLBACK_SECRET=watch-load-callback-secret"});
  if (!WaitForText(dir + "/server.log", "music-server listening")) {
    std::cerr << "music-server did not start: " << ReadFile(dir + "/server.log");
    return 1;
  }
  const std::string log = ReadFile(dir + "/server.log");
  const size_t at = log.find("(port ");
  const std::string target =
      absl::StrCat("127.0.0.1:", std::atoi(log.c_str() + at + 6));
  std::cerr << "server pid " << server.pid << " at " << target << ", work dir " << dir << "\n";

  const auto idle = CreateTasks(target, absl::GetFlag(FLAGS_idle_tasks), "idle");
  WriteLines(dir + "/idle.txt", idle);
  std::cerr << idle.size() << " idle tasks\n";

  std::vector<Round> rounds;
  for (absl::string_view s : absl::StrSplit(absl::GetFlag(FLAGS_streams), ',')) {
    Round r;
    if (!absl::SimpleAtoi(s, &r.streams)) return 2;
    const auto probes = CreateTasks(target, absl::GetFlag(FLAGS_probes),
                                    absl::StrCat("probe", r.streams, "-", rounds.size()));
    WriteLines(dir + "/probes.txt", probes);
    absl::SleepFor(absl::Seconds(1));  // the engine submits them to the emulator
    r.rss_before = RssMiB(server.pid);
    const int nclients = absl::GetFlag(FLAGS_clients);
    std::vector<Child> clients;
    const absl::Time open_start = absl::Now();
    for (int c = 0; c < nclients; ++c) {
      clients.push_back(Spawn(
          {self, "--role=client", "--target", target, "--ids_file", dir + "/idle.txt",
           "--probes_file", dir + "/probes.txt", "--count", absl::StrCat(r.streams / nclients),
           "--seed", absl::StrCat(c * 7919), "--channels",
           absl::StrCat(absl::GetFlag(FLAGS_channels))},
          ""));
    }
    char buf[1 << 16];
    for (auto& c : clients) {
      if (!fgets(buf, sizeof buf, c.out)) return 3;
      int ok = 0, failed = 0;
      std::sscanf(buf, "READY %d %d", &ok, &failed);
      r.opened += ok;
      r.failed += failed;
    }
    r.open_seconds = absl::ToDoubleSeconds(absl::Now() - open_start);
    absl::SleepFor(absl::Seconds(2));
    r.rss_open = RssMiB(server.pid);
    std::cerr << Label(r.streams) << ": " << r.opened << " streams open in " << r.open_seconds
              << " s, server RSS " << r.rss_open << " MiB; changing " << probes.size()
              << " tasks\n";

    // The window: probe changes spread evenly over several heartbeat intervals.
    r.window_seconds = hb * absl::GetFlag(FLAGS_window_heartbeats);
    auto stub =
        MusicService::NewStub(grpc::CreateChannel(target, grpc::InsecureChannelCredentials()));
    const absl::Time w0 = absl::Now();
    for (size_t i = 0; i < probes.size(); ++i) {
      absl::SleepFor(w0 + absl::Seconds(r.window_seconds * i / probes.size()) - absl::Now());
      music::v1::CancelTaskRequest req;
      req.set_task_id(probes[i]);
      music::v1::CancelTaskResponse resp;
      grpc::ClientContext ctx;
      ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(10));
      const grpc::Status st = stub->CancelTask(&ctx, req, &resp);
      if (!st.ok()) {
        ++r.cancel_errors;
        std::cerr << "CancelTask: " << st.error_message() << "\n";
      }
    }
    absl::SleepFor(absl::Seconds(2));  // the last deliveries
    for (auto& c : clients) {
      std::fputs("STOP\n", c.in);
      std::fflush(c.in);
    }
    for (auto& c : clients) {
      std::string line;
      while (fgets(buf, sizeof buf, c.out)) {
        line += buf;
        if (line.back() != '\n') continue;
        if (line.rfind("HEARTBEATS ", 0) == 0) r.heartbeats += std::atoll(line.c_str() + 11);
        if (line.rfind("LAT", 0) == 0) {
          for (absl::string_view v : absl::StrSplit(line.substr(3), ' ', absl::SkipWhitespace())) {
            double d;
            if (absl::SimpleAtod(absl::StripAsciiWhitespace(v), &d)) r.lat.push_back(d);
          }
        }
        if (line == "DONE\n") break;
        line.clear();
      }
      fclose(c.out);
      fclose(c.in);
      waitpid(c.pid, nullptr, 0);
    }
    // Closed: the server ends every stream and may give memory back some time later (the RSS
    // does not move while freed memory is kept), so wait up to 60 s for it to fall to the target,
    // reading every 0.5 s.
    const double given_back = r.rss_before + 0.2 * (r.rss_open - r.rss_before);
    double last = RssMiB(server.pid);
    for (int i = 0; i < 120 && last >= given_back; ++i) {
      absl::SleepFor(absl::Milliseconds(500));
      last = RssMiB(server.pid);
    }
    r.rss_closed = last;
    std::cerr << Label(r.streams) << ": after close " << r.rss_closed << " MiB, "
              << r.lat.size() << " deliveries measured of " << probes.size() * nclients << ", "
              << r.cancel_errors << " changes failed; delivery p50 " << Percentile(r.lat, 0.5)
              << " ms, p99 " << Percentile(r.lat, 0.99) << " ms, max " << Percentile(r.lat, 1.0)
              << " ms\n";
    rounds.push_back(std::move(r));
  }
  const double load = LoadAverage();
  absl::SleepFor(absl::Seconds(absl::GetFlag(FLAGS_hold_seconds)));
  kill(server.pid, SIGTERM);
  kill(emulator.pid, SIGTERM);
  waitpid(server.pid, nullptr, 0);
  waitpid(emulator.pid, nullptr, 0);

  std::cout << absl::StrFormat(
      "watch_load: heartbeat %.1f s, window %.1f s, %d client processes x %d connections, load "
      "average %.2f (2 cores)\n",
      hb, hb * absl::GetFlag(FLAGS_window_heartbeats), absl::GetFlag(FLAGS_clients),
      absl::GetFlag(FLAGS_channels), load);
  std::cout << absl::StrFormat("%-8s %8s %9s %10s %10s %10s %8s %8s %8s %8s %6s\n", "streams",
                               "opened", "open s", "RSS 0 MiB", "RSS open", "RSS closed",
                               "p50 ms", "p99 ms", "max ms", "samples", "hb");
  for (const auto& r : rounds) {
    std::cout << absl::StrFormat("%-8s %8d %9.1f %10.1f %10.1f %10.1f %8.1f %8.1f %8.1f %8d %6d\n",
                                 Label(r.streams), r.opened, r.open_seconds, r.rss_before,
                                 r.rss_open, r.rss_closed, Percentile(r.lat, 0.5),
                                 Percentile(r.lat, 0.99), Percentile(r.lat, 1.0),
                                 static_cast<int>(r.lat.size()), static_cast<int>(r.heartbeats));
  }
  for (const auto& r : rounds) {
    const std::string l = Label(r.streams);
    // The issue's target is for 100,000 streams; smaller rounds are for the curve.
    Perf("watch_idle_rss_" + l, r.rss_open, "MiB", r.streams == 100000 ? "< 2048" : "");
    Perf("watch_rss_after_close_" + l, r.rss_closed, "MiB",
         absl::StrFormat("< %.0f", r.rss_before + 0.2 * (r.rss_open - r.rss_before)));
    Perf("watch_delivery_p50_" + l, Percentile(r.lat, 0.5), "ms", "");
    Perf("watch_delivery_p99_" + l, Percentile(r.lat, 0.99), "ms", "< 50");
    Perf("watch_delivery_max_" + l, Percentile(r.lat, 1.0), "ms", "");
  }
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  absl::ParseCommandLine(argc, argv);
  if (absl::GetFlag(FLAGS_role) == "client") return RunClient();
  // Many streams share few connections, but raise the descriptor limit anyway (the script
  // tools/perf/watch_load does too): the children inherit it.
  rlimit lim{};
  if (getrlimit(RLIMIT_NOFILE, &lim) == 0) {
    lim.rlim_cur = lim.rlim_max;
    setrlimit(RLIMIT_NOFILE, &lim);
  }
  signal(SIGPIPE, SIG_IGN);
  return RunParent("/proc/self/exe");
}
