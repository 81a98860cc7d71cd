#include "tools/chaos/chaos.h"

#include <grpcpp/grpcpp.h>
#include <httplib.h>
#include <rapidjson/document.h>

#include <algorithm>
#include <atomic>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <deque>
#include <filesystem>
#include <fstream>
#include <memory>
#include <random>
#include <set>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/status/status.h"
#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_split.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/clock.h"
#include "music/v1/billing_service.grpc.pb.h"
#include "music/v1/music_service.grpc.pb.h"
#include "tools/chaos/process.h"

namespace music::chaos {
namespace {

using music::v1::BillingService;
using music::v1::MusicService;
using music::v1::TaskState;

constexpr char kReadyLine[] = "music-server listening";
constexpr size_t kMaxProblems = 10;

// Progress on stderr, with the time of day: the replicas' logs carry the same UTC times.
// Signals received: the first stops the load and the kills, the second the settling too.
std::atomic<int> interrupts{0};

bool Interrupted() { return interrupts.load() >= 1; }
bool SettleInterrupted() { return interrupts.load() >= 2; }

void Log(const std::string& line) {
  std::fprintf(stderr, "chaos: %s %s\n",
               absl::FormatTime("%H:%M:%E3S", absl::Now(), absl::UTCTimeZone()).c_str(),
               line.c_str());
}

bool IsTerminal(TaskState state) {
  return state == music::v1::TASK_STATE_SUCCEEDED || state == music::v1::TASK_STATE_FAILED ||
         state == music::v1::TASK_STATE_CANCELED;
}

// Errors after which the same request may be sent again: the answer was lost or the server was
// not there. A create is idempotent by request_id, so resending is safe whatever the first attempt
// did; the codes that say the request itself is wrong are not retried.
bool IsRetryable(grpc::StatusCode code) {
  switch (code) {
    case grpc::StatusCode::INVALID_ARGUMENT:
    case grpc::StatusCode::ALREADY_EXISTS:
    case grpc::StatusCode::FAILED_PRECONDITION:
    case grpc::StatusCode::PERMISSION_DENIED:
    case grpc::StatusCode::UNAUTHENTICATED:
    case grpc::StatusCode::NOT_FOUND:
    case grpc::StatusCode::UNIMPLEMENTED:
    case grpc::StatusCode::OUT_OF_RANGE:
      return false;
    default:
      return true;
  }
}

std::string RandomToken() {
  std::random_device device;
  return absl::StrCat(absl::Hex(device(), absl::kZeroPad8), absl::Hex(device(), absl::kZeroPad8),
                      absl::Hex(device(), absl::kZeroPad8), absl::Hex(device(), absl::kZeroPad8));
}

// The stubs of one connection to a replica.
struct Connection {
  std::shared_ptr<grpc::Channel> channel;
  std::unique_ptr<MusicService::Stub> music;
  std::unique_ptr<BillingService::Stub> billing;
};

// One music-server process and the connection that reaches it.
struct Replica {
  int index = 0;
  int port = 0;
  int callback_port = 0;
  std::string config_path;
  std::unique_ptr<ChildProcess> process;
  std::atomic<bool> up{false};  // read by the clients to pick a live replica
  int ready_lines = 0;          // "listening" lines in its log so far (one per life)

  /// The current connection; a caller keeps its copy for the length of its call.
  std::shared_ptr<const Connection> connection() {
    absl::MutexLock lock(&mu);
    return current;
  }
  /// After a failed call: a new connection, at most every 200 ms. gRPC 1.51's channel stays in
  /// TRANSIENT_FAILURE for seconds after its server is back (calls fail at once with the last
  /// connect error; asking it to connect does not help), while a new channel connects in
  /// milliseconds: the attack is on the server, not on gRPC's reconnect backoff.
  void Reconnect() {
    absl::MutexLock lock(&mu);
    if (current != nullptr && absl::Now() - made < absl::Milliseconds(200)) return;
    grpc::ChannelArguments args;
    args.SetInt(GRPC_ARG_INITIAL_RECONNECT_BACKOFF_MS, 100);
    args.SetInt(GRPC_ARG_MAX_RECONNECT_BACKOFF_MS, 500);
    // Its own subchannel, not the dead one from the process-wide pool.
    args.SetInt(GRPC_ARG_USE_LOCAL_SUBCHANNEL_POOL, 1);
    auto c = std::make_shared<Connection>();
    c->channel = grpc::CreateCustomChannel(absl::StrCat("127.0.0.1:", port),
                                           grpc::InsecureChannelCredentials(), args);
    c->music = MusicService::NewStub(c->channel);
    c->billing = BillingService::NewStub(c->channel);
    current = std::move(c);
    made = absl::Now();
  }

  absl::Mutex mu;
  std::shared_ptr<const Connection> current ABSL_GUARDED_BY(mu);
  absl::Time made ABSL_GUARDED_BY(mu);
};

// What the clients saw of one task.
struct TaskRecord {
  std::string request_id;
  std::set<int> terminal_states;  // every terminal state any reader saw
  TaskState last_state = music::v1::TASK_STATE_UNSPECIFIED;
  grpc::StatusCode last_get = grpc::StatusCode::UNKNOWN;  // of the last GetTask
  std::string last_get_message;
  bool watched = false;
  absl::Time acknowledged_at;                       // the first OK answer of its create
  absl::Time terminal_at = absl::InfiniteFuture();  // when a reader first saw it terminal
};

class ChaosRun {
 public:
  explicit ChaosRun(ChaosOptions options) : options_(std::move(options)) {}
  ~ChaosRun() { TearDown(); }

  absl::StatusOr<ChaosReport> Run() {
    if (absl::Status s = SetUp(); !s.ok()) return s;
    const absl::Time load_end = absl::Now() + options_.load_time;
    load_deadline_ = load_end;
    // Creates still retrying when the load ends get this long to be answered.
    retry_deadline_ = load_end + absl::Seconds(20);
    settle_deadline_ = load_end + options_.settle_time;

    std::vector<std::thread> creators;
    for (int i = 0; i < kCreators; ++i) creators.emplace_back([this] { CreateLoop(); });
    std::vector<std::thread> watchers;
    for (int i = 0; i < options_.watchers_per_replica * options_.replicas; ++i) {
      watchers.emplace_back([this, i] { WatchLoop(i % options_.replicas); });
    }
    std::thread observer([this] { ObserveLoop(); });
    Attack(load_end);
    load_stopped_.store(true);
    for (std::thread& t : creators) t.join();
    observer.join();
    EnsureAllUp();
    const absl::Time settle_start = absl::Now();
    Settle();
    {
      absl::MutexLock lock(&mu_);
      report_.settle_wait = absl::Now() - settle_start;
    }
    watchers_stop_.store(true);
    for (std::thread& t : watchers) t.join();
    Check();
    absl::MutexLock lock(&mu_);
    return report_;
  }

  // Kept unless the run passed (the operator reads the logs of a failed one).
  const std::string& work_dir() const { return work_dir_; }
  void RemoveWorkDirOnExit(bool remove) { remove_work_dir_ = remove; }

 private:
  static constexpr int kCreators = 4;

  absl::Status SetUp() {
    if (options_.store != "sqlite" && options_.store != "postgres") {
      return absl::InvalidArgumentError("--store must be sqlite or postgres");
    }
    if (options_.replicas < 1) return absl::InvalidArgumentError("--replicas must be >= 1");
    if (options_.store == "sqlite" && options_.replicas != 1) {
      return absl::InvalidArgumentError(
          "--store=sqlite runs one replica: a SQLite file belongs to one server");
    }
    for (const std::string* program : {&options_.music_server, &options_.emulator}) {
      if (::access(program->c_str(), X_OK) != 0) {
        return absl::NotFoundError(absl::StrCat("not an executable: ", *program));
      }
    }
    work_dir_ = options_.work_dir;
    if (work_dir_.empty()) {
      std::string pattern = (std::filesystem::temp_directory_path() / "chaos-XXXXXX").string();
      if (::mkdtemp(pattern.data()) == nullptr) {
        return absl::InternalError("cannot create a temporary directory");
      }
      work_dir_ = pattern;
      remove_work_dir_ = !options_.keep_work_dir;
    } else {
      std::filesystem::create_directories(work_dir_);
    }
    Log(absl::StrCat("work directory ", work_dir_));

    // Fresh secrets per run: nothing the tool prints or logs contains them.
    env_ = {absl::StrCat("MUSIC_CALLBACK_SECRET=chaos-callback-", RandomToken()),
            absl::StrCat("KIE_API_KEY=chaos-kie-", RandomToken())};

    if (absl::Status s = StartEmulator(); !s.ok()) return s;
    std::string database;
    if (options_.store == "postgres") {
      auto url = StartPostgres();
      if (!url.ok()) return url.status();
      database = absl::StrCat(R"({"url": ")", *url, R"(")",
                              options_.lease_seconds > 0
                                  ? absl::StrCat(R"(, "lease_seconds": )", options_.lease_seconds)
                                  : "",
                              "}");
    } else {
      database = absl::StrCat(R"({"path": ")", work_dir_, R"(/music.db"})");
    }
    std::set<int> taken = {emulator_port_};
    auto pick = [&taken]() -> absl::StatusOr<int> {
      for (int attempt = 0; attempt < 20; ++attempt) {
        auto port = PickFreePort();
        if (!port.ok()) return port.status();
        if (taken.insert(*port).second) return *port;
      }
      return absl::UnavailableError("no free loopback port");
    };
    for (int i = 0; i < options_.replicas; ++i) {
      auto r = std::make_unique<Replica>();
      r->index = i;
      auto port = pick();
      if (!port.ok()) return port.status();
      auto callback_port = pick();
      if (!callback_port.ok()) return callback_port.status();
      r->port = *port;
      r->callback_port = *callback_port;
      r->config_path = absl::StrCat(work_dir_, "/replica-", i, ".json");
      if (absl::Status s = WriteConfig(*r, database); !s.ok()) return s;
      r->process = std::make_unique<ChildProcess>(
          std::vector<std::string>{options_.music_server, "--config", r->config_path}, env_,
          absl::StrCat(work_dir_, "/replica-", i, ".log"));
      r->Reconnect();
      replicas_.push_back(std::move(r));
    }
    for (auto& r : replicas_) {
      if (absl::Status s = StartReplica(*r); !s.ok()) return s;
    }
    return absl::OkStatus();
  }

  absl::Status StartEmulator() {
    const std::string port_file = absl::StrCat(work_dir_, "/emulator.port");
    emulator_ = std::make_unique<ChildProcess>(
        std::vector<std::string>{
            options_.emulator, "--port", "0", "--port_file", port_file, "--task_duration_ms",
            absl::StrCat(absl::ToInt64Milliseconds(options_.task_duration)),
            // A callback to a killed replica is refused at once: retries for about 11 s (retry n
            // waits n x 200 ms) carry it over a restart, which is what a task whose create answer
            // was lost with its replica needs to learn its provider task.
            "--callback_timeout_ms", "2000", "--callback_max_retries", "10",
            "--callback_retry_backoff_ms", "200"},
        env_, absl::StrCat(work_dir_, "/emulator.log"));
    if (absl::Status s = emulator_->Start(); !s.ok()) return s;
    const absl::Time deadline = absl::Now() + absl::Seconds(20);
    while (absl::Now() < deadline) {
      std::ifstream in(port_file);
      int port = 0;
      if (in >> port && port > 0 && FileContains(emulator_->log_path(), "listening")) {
        emulator_port_ = port;
        return absl::OkStatus();
      }
      if (!emulator_->Running()) break;
      absl::SleepFor(absl::Milliseconds(20));
    }
    return absl::UnavailableError(
        absl::StrCat("the provider emulator did not start; see ", emulator_->log_path()));
  }

  absl::StatusOr<std::string> StartPostgres() {
    if (::access(options_.pg_scratch.c_str(), X_OK) != 0) {
      return absl::NotFoundError(absl::StrCat("not an executable: ", options_.pg_scratch));
    }
    pg_dir_ = absl::StrCat(work_dir_, "/pg");
    auto out = RunAndCapture({options_.pg_scratch, "start", pg_dir_});
    if (!out.ok()) return out.status();
    const std::vector<std::string> lines =
        absl::StrSplit(absl::StripTrailingAsciiWhitespace(*out), '\n');
    const std::string url = lines.empty() ? "" : lines.back();
    if (url.rfind("postgresql://", 0) != 0) {
      return absl::InternalError(absl::StrCat("pg-scratch printed no URL: ", *out));
    }
    Log(absl::StrCat("PostgreSQL at ", url));
    return url;
  }

  absl::Status WriteConfig(const Replica& r, const std::string& database) {
    // Quick polls and heartbeats so that a run settles in seconds; the kie client-side create
    // limit (20 per 10 s, kie.ai's account limit) off, since the emulator enforces none; no
    // archive (it copies media, which is not what this run proves). A kill between a task's
    // durable "submitting" record and kie.ai's answer leaves its outcome unknown: the engine never
    // resends (kie.ai has no idempotency key) and waits unknown_submission_grace for the callback
    // before failing the task; 10 s instead of 10 min lets such a task end within the run.
    const std::string config = absl::StrCat(R"({
  "listen": "127.0.0.1:)",
                                            r.port, R"(",
  "database": )",
                                            database, R"(,
  "callbacks": {"listen": "127.0.0.1:)",
                                            r.callback_port, R"("},
  "tasks": {"poll_interval_seconds": 1, "callback_poll_interval_seconds": 2,
            "unknown_submission_grace_seconds": 10},
  "watch": {"heartbeat_seconds": 1},
  "shutdown_grace_seconds": 2,
  "log": {"level": "warn"},
  "archive": {"enabled": false},
  "providers": {"kie": {"base_url": "http://127.0.0.1:)",
                                            emulator_port_, R"(",
                        "rate_limit_creates": 0}}
}
)");
    std::ofstream out(r.config_path, std::ios::trunc);
    out << config;
    out.close();
    if (!out) return absl::InternalError(absl::StrCat("cannot write ", r.config_path));
    return absl::OkStatus();
  }

  // Starts a replica and waits until it listens (its log has one more "listening" line).
  absl::Status StartReplica(Replica& r) {
    if (absl::Status s = r.process->Start(); !s.ok()) return s;
    const absl::Time start = absl::Now();
    const absl::Time deadline = start + absl::Seconds(30);
    while (absl::Now() < deadline) {
      if (CountReadyLines(r) > r.ready_lines) {
        ++r.ready_lines;
        r.up.store(true);
        Log(absl::StrCat(
            "replica ", r.index, " (pid ", r.process->pid(), ") listening after ",
            absl::FormatDuration(absl::Trunc(absl::Now() - start, absl::Milliseconds(1)))));
        return absl::OkStatus();
      }
      if (!r.process->Running()) break;
      absl::SleepFor(absl::Milliseconds(20));
    }
    r.process->Stop(SIGKILL);
    return absl::UnavailableError(
        absl::StrCat("replica ", r.index, " did not start; see ", r.process->log_path()));
  }

  static int CountReadyLines(const Replica& r) {
    std::ifstream in(r.process->log_path());
    int n = 0;
    for (std::string line; std::getline(in, line);) n += line.rfind(kReadyLine, 0) == 0;
    return n;
  }

  // The kill loop: every kill_every a random live replica gets SIGKILL and, restart_delay
  // later, starts again on the same ports and database.
  void Attack(absl::Time load_end) {
    std::mt19937 random(std::random_device{}());
    absl::Time next_kill = absl::Now() + options_.kill_every;
    while (absl::Now() < load_end && !Interrupted()) {
      absl::SleepFor(std::min(absl::Milliseconds(100), load_end - absl::Now()));
      if (absl::Now() < next_kill || absl::Now() >= load_end) continue;
      next_kill += options_.kill_every;
      std::vector<Replica*> live;
      for (auto& r : replicas_) {
        if (r->up.load()) live.push_back(r.get());
      }
      if (live.empty()) continue;
      Replica* victim = live[std::uniform_int_distribution<size_t>(0, live.size() - 1)(random)];
      victim->up.store(false);
      victim->process->Stop(SIGKILL);
      {
        absl::MutexLock lock(&mu_);
        ++report_.kills;
      }
      Log(absl::StrCat("kill -9 replica ", victim->index));
      absl::SleepFor(options_.restart_delay);
      Restart(*victim);
    }
  }

  void Restart(Replica& r) {
    for (int attempt = 0; attempt < 5; ++attempt) {
      const absl::Status s = StartReplica(r);
      {
        absl::MutexLock lock(&mu_);
        ++(s.ok() ? report_.restarts : report_.restart_failures);
      }
      if (s.ok()) return;
      Log(absl::StrCat("restart of replica ", r.index, " failed: ", s.message()));
      absl::SleepFor(absl::Milliseconds(500));
    }
  }

  void EnsureAllUp() {
    for (auto& r : replicas_) {
      if (!r->process->Running()) {
        r->up.store(false);
        Restart(*r);
      }
    }
  }

  // A live replica, starting from `preferred` (round robin from there); `preferred` itself when
  // none is up (its channel retries until it is).
  Replica& PickReplica(size_t preferred) {
    for (size_t i = 0; i < replicas_.size(); ++i) {
      Replica& r = *replicas_[(preferred + i) % replicas_.size()];
      if (r.up.load()) return r;
    }
    return *replicas_[preferred % replicas_.size()];
  }

  void AddProblem(std::string problem) {
    absl::MutexLock lock(&mu_);
    AddProblemLocked(std::move(problem));
  }
  void AddProblemLocked(std::string problem) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    if (report_.problems.size() < kMaxProblems) report_.problems.push_back(std::move(problem));
  }

  // One creator: takes the next create number, waits until it is due (the rate), sends it with
  // its own request_id through the replicas round robin, and retries retryable errors with the
  // same request_id until answered.
  void CreateLoop() {
    const absl::Time start = absl::Now();
    const absl::Duration interval = absl::Seconds(1) / std::max(options_.creates_per_second, 0.1);
    while (true) {
      const int64_t n = next_create_.fetch_add(1);
      const absl::Time due = start + interval * n;
      if (due >= load_deadline_ || load_stopped_.load() || Interrupted()) return;
      if (due > absl::Now()) absl::SleepFor(due - absl::Now());
      CreateOne(n);
    }
  }

  void CreateOne(int64_t n) {
    music::v1::CreateMusicRequest request;
    request.set_request_id(absl::StrCat("chaos-", run_id_, "-", n));
    request.set_prompt(absl::StrCat("chaos song ", n));
    for (int attempt = 0;; ++attempt) {
      // Round robin over every replica, live or not, as a load balancer that has not noticed a
      // death yet: a create sent to a killed replica fails and is resent to the next one.
      Replica& r = *replicas_[static_cast<size_t>(n + attempt) % replicas_.size()];
      grpc::ClientContext context;
      context.set_deadline(absl::ToChronoTime(absl::Now() + absl::Seconds(5)));
      music::v1::CreateMusicResponse response;
      const grpc::Status status = r.connection()->music->CreateMusic(&context, request, &response);
      if (status.ok()) {
        RecordCreate(request.request_id(), response.task());
        return;
      }
      if (!IsRetryable(status.error_code())) {
        absl::MutexLock lock(&mu_);
        ++report_.create_errors;
        AddProblemLocked(absl::StrCat("create ", request.request_id(), ": code ",
                                      status.error_code(), " ", status.error_message()));
        return;
      }
      r.Reconnect();
      if (absl::Now() > retry_deadline_ || Interrupted()) {
        absl::MutexLock lock(&mu_);
        ++report_.creates_unanswered;
        return;
      }
      {
        absl::MutexLock lock(&mu_);
        ++report_.create_retries;
      }
      absl::SleepFor(absl::Milliseconds(50));
    }
  }

  void RecordCreate(const std::string& request_id, const music::v1::Task& task) {
    absl::MutexLock lock(&mu_);
    ++report_.creates_acknowledged;
    auto [it, inserted] = tasks_.try_emplace(task.task_id());
    TaskRecord& record = it->second;
    if (inserted) {
      record.request_id = request_id;
      record.acknowledged_at = absl::Now();
      order_.push_back(task.task_id());
      // Watchers take the newest tasks; older ones unwatched are checked by GetTask alone.
      watch_queue_.push_back(task.task_id());
      while (watch_queue_.size() > 64) watch_queue_.pop_front();
    } else if (record.request_id != request_id) {
      // Two request ids, one task: one of them was answered with another's task.
      ++report_.idempotency_violations;
    }
    NoteState(record, task.state());
    if (auto [prev, fresh] = by_request_.try_emplace(request_id, task.task_id());
        !fresh && prev->second != task.task_id()) {
      ++report_.idempotency_violations;
    }
  }

  void NoteState(TaskRecord& record, TaskState state) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    record.last_state = state;
    if (!IsTerminal(state)) return;
    if (record.terminal_states.empty()) record.terminal_at = absl::Now();
    record.terminal_states.insert(state);
  }

  // Whether a watcher has a task to take or should look at the stop flags.
  bool WatchWorkReady() const ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    return !watch_queue_.empty() || load_stopped_.load() || watchers_stop_.load();
  }

  // One WatchTask client: watches one acknowledged task at a time from its first version to its
  // end, reconnecting after a failure (to any live replica) with the last version it received.
  void WatchLoop(int home) {
    while (!watchers_stop_.load()) {
      std::string task_id;
      {
        absl::MutexLock lock(&mu_);
        mu_.AwaitWithTimeout(absl::Condition(this, &ChaosRun::WatchWorkReady),
                             absl::Milliseconds(200));
        if (watch_queue_.empty()) {
          if (load_stopped_.load()) return;
          continue;
        }
        task_id = watch_queue_.back();
        watch_queue_.pop_back();
        tasks_[task_id].watched = true;
        ++report_.tasks_watched;
      }
      WatchOne(task_id, home);
    }
  }

  void WatchOne(const std::string& task_id, int home) {
    int64_t last_version = 0;
    size_t replica = static_cast<size_t>(home);
    while (!watchers_stop_.load()) {
      Replica& r = PickReplica(replica);
      replica = static_cast<size_t>(r.index);
      // Declared before the context and the stream: it outlives both.
      const std::shared_ptr<const Connection> connection = r.connection();
      grpc::ClientContext context;
      // Bounded so that the end of the run is never held up by a stream; a stream that timed
      // out reconnects like one whose replica died.
      context.set_deadline(absl::ToChronoTime(absl::Now() + absl::Seconds(5)));
      music::v1::WatchTaskRequest request;
      request.set_task_id(task_id);
      request.set_since_version(last_version);
      std::unique_ptr<grpc::ClientReader<music::v1::WatchTaskResponse>> stream =
          connection->music->WatchTask(&context, request);
      music::v1::WatchTaskResponse message;
      bool terminal = false;
      while (stream->Read(&message)) {
        if (!message.has_task()) continue;  // a heartbeat
        const music::v1::Task& task = message.task();
        absl::MutexLock lock(&mu_);
        ++report_.watch_events;
        if (task.version() <= last_version) {
          ++report_.watch_violations;
          AddProblemLocked(absl::StrCat("watch of ", task_id, " on replica ", r.index, ": version ",
                                        task.version(), " after ", last_version));
        }
        last_version = std::max(last_version, task.version());
        NoteState(tasks_[task_id], task.state());
        terminal = IsTerminal(task.state());
      }
      const grpc::Status status = stream->Finish();
      if (status.ok() && terminal) return;
      if (status.ok() || status.error_code() == grpc::StatusCode::DEADLINE_EXCEEDED) {
        continue;  // same replica: nothing says it is gone
      }
      if (status.error_code() == grpc::StatusCode::NOT_FOUND) {
        // Acknowledged yet unknown: GetTask at the end counts it as lost.
        AddProblem(absl::StrCat("watch of ", task_id, ": NOT_FOUND on replica ", r.index));
        return;
      }
      r.Reconnect();
      {
        absl::MutexLock lock(&mu_);
        ++report_.watch_reconnects;
      }
      replica = (replica + 1) % replicas_.size();
      absl::SleepFor(absl::Milliseconds(100));
    }
  }

  // Polls GetTask for every acknowledged task until all are terminal or the settle time ends.
  // One GetTask per task in `task_ids` (live replicas round robin from `*next`); returns those
  // not terminal (or not readable) yet.
  std::vector<std::string> PollTasks(const std::vector<std::string>& task_ids, size_t* next) {
    std::vector<std::string> still;
    for (const std::string& task_id : task_ids) {
      Replica& r = PickReplica((*next)++);
      grpc::ClientContext context;
      context.set_deadline(absl::ToChronoTime(absl::Now() + absl::Seconds(5)));
      music::v1::GetTaskRequest request;
      request.set_task_id(task_id);
      music::v1::GetTaskResponse response;
      const grpc::Status status = r.connection()->music->GetTask(&context, request, &response);
      if (!status.ok()) r.Reconnect();
      absl::MutexLock lock(&mu_);
      TaskRecord& record = tasks_[task_id];
      record.last_get = status.error_code();
      record.last_get_message = status.error_message();
      if (status.ok()) NoteState(record, response.task().state());
      if (!status.ok() || !IsTerminal(response.task().state())) still.push_back(task_id);
    }
    return still;
  }

  // During the load: GetTask of every acknowledged task not seen terminal yet, twice a second,
  // so that each task's time to its end is known (the slowest one bounds the time a dead
  // replica's tasks waited for another to take them over).
  void ObserveLoop() {
    size_t next = 0;
    while (!load_stopped_.load()) {
      std::vector<std::string> open;
      {
        absl::MutexLock lock(&mu_);
        for (const std::string& task_id : order_) {
          if (tasks_.at(task_id).terminal_states.empty()) open.push_back(task_id);
        }
      }
      PollTasks(open, &next);
      absl::SleepFor(absl::Milliseconds(500));
    }
  }

  // After the load: GetTask of every acknowledged task (a task seen terminal before must still
  // be there), then of those not terminal, until none is left or the settle time ends.
  void Settle() {
    std::vector<std::string> pending;
    {
      absl::MutexLock lock(&mu_);
      pending = order_;
    }
    Log(absl::StrCat("load stopped; settling ", pending.size(), " tasks"));
    size_t next = 0;
    while (!pending.empty()) {
      pending = PollTasks(pending, &next);
      if (pending.empty() || absl::Now() > settle_deadline_ || SettleInterrupted()) break;
      absl::SleepFor(absl::Milliseconds(500));
    }
  }

  void Check() {
    {
      absl::MutexLock lock(&mu_);
      report_.distinct_tasks = static_cast<int64_t>(tasks_.size());
      std::vector<double> task_seconds;

      for (const std::string& task_id : order_) {
        const TaskRecord& record = tasks_.at(task_id);
        const bool found = record.last_get == grpc::StatusCode::OK;
        if (!found || !IsTerminal(record.last_state)) {
          ++report_.tasks_lost;
          AddProblemLocked(absl::StrCat("lost ", task_id, " (", record.request_id, "): ",
                                        found ? music::v1::TaskState_Name(record.last_state)
                                              : absl::StrCat("GetTask code ", record.last_get, " ",
                                                             record.last_get_message)));
          continue;
        }
        if (record.terminal_states.size() == 1) {
          ++report_.tasks_terminal_once;
        } else {
          ++report_.terminal_conflicts;
          AddProblemLocked(absl::StrCat("task ", task_id, " seen in ",
                                        record.terminal_states.size(), " terminal states"));
        }
        const absl::Duration took = record.terminal_at - record.acknowledged_at;
        task_seconds.push_back(absl::ToDoubleSeconds(took));
        if (options_.max_task_time > absl::ZeroDuration() && took > options_.max_task_time) {
          ++report_.tasks_too_slow;
          AddProblemLocked(absl::StrCat("task ", task_id, " took ", absl::FormatDuration(took)));
        }
        if (record.last_state == music::v1::TASK_STATE_SUCCEEDED) {
          ++report_.tasks_succeeded;
        } else {
          ++report_.tasks_failed;
        }
      }
      if (!task_seconds.empty()) {
        std::sort(task_seconds.begin(), task_seconds.end());
        report_.median_task_seconds = task_seconds[task_seconds.size() / 2];
        report_.slowest_task_seconds = task_seconds.back();
      }
    }
    CheckSubmissions();
    CheckLedger();
  }

  void CheckSubmissions() {
    httplib::Client client("127.0.0.1", emulator_port_);
    client.set_read_timeout(std::chrono::seconds(10));
    httplib::Result res = client.Get("/_emulator/submissions");
    rapidjson::Document doc;
    if (res && res->status == 200) doc.Parse(res->body.data(), res->body.size());
    absl::MutexLock lock(&mu_);
    if (!res || res->status != 200 || doc.HasParseError() || !doc.IsObject()) {
      // Unknown counts are a failure, not a pass: the proof is missing.
      report_.duplicates = -1;
      AddProblemLocked("GET /_emulator/submissions failed");
      return;
    }
    for (const auto& member : doc.GetObject()) {
      ++report_.tasks_submitted;
      if (member.value.IsInt64() && member.value.GetInt64() > 1) {
        ++report_.duplicates;
        AddProblemLocked(absl::StrCat("task ", member.name.GetString(), " submitted ",
                                      member.value.GetInt64(), " times"));
      }
    }
  }

  void CheckLedger() {
    for (int attempt = 0; attempt < 20; ++attempt) {
      Replica& r = PickReplica(static_cast<size_t>(attempt));
      grpc::ClientContext context;
      context.set_deadline(absl::ToChronoTime(absl::Now() + absl::Seconds(10)));
      music::v1::CheckLedgerResponse response;
      const grpc::Status status = r.connection()->billing->CheckLedger(
          &context, music::v1::CheckLedgerRequest(), &response);
      if (status.ok()) {
        absl::MutexLock lock(&mu_);
        report_.ledger_violations = response.violations_size();
        for (const auto& v : response.violations()) {
          AddProblemLocked(absl::StrCat("ledger: ", v.task_id(), " ", v.kind(), " ", v.detail()));
        }
        return;
      }
      if (!IsRetryable(status.error_code())) {
        AddProblem(
            absl::StrCat("CheckLedger: code ", status.error_code(), " ", status.error_message()));
        return;
      }
      absl::SleepFor(absl::Milliseconds(250));
    }
    AddProblem("CheckLedger: no replica answered");
  }

  void TearDown() {
    for (auto& r : replicas_) {
      if (r->process) r->process->Stop(SIGTERM);
    }
    if (emulator_) emulator_->Stop(SIGTERM);
    if (!pg_dir_.empty()) {
      if (auto s = RunAndCapture({options_.pg_scratch, "stop", pg_dir_}); !s.ok()) {
        Log(absl::StrCat("pg-scratch stop: ", s.status().message()));
      }
      pg_dir_.clear();
    }
    if (remove_work_dir_ && !work_dir_.empty()) {
      std::error_code ignored;
      std::filesystem::remove_all(work_dir_, ignored);
      work_dir_.clear();
    }
  }

  const ChaosOptions options_;
  const std::string run_id_ = RandomToken().substr(0, 12);
  std::string work_dir_;
  bool remove_work_dir_ = false;
  std::string pg_dir_;
  std::vector<std::string> env_;
  std::unique_ptr<ChildProcess> emulator_;
  int emulator_port_ = 0;
  std::vector<std::unique_ptr<Replica>> replicas_;

  absl::Time load_deadline_;
  absl::Time retry_deadline_;
  absl::Time settle_deadline_;
  std::atomic<int64_t> next_create_{0};
  std::atomic<bool> load_stopped_{false};
  std::atomic<bool> watchers_stop_{false};

  absl::Mutex mu_;
  ChaosReport report_ ABSL_GUARDED_BY(mu_);
  absl::flat_hash_map<std::string, TaskRecord> tasks_ ABSL_GUARDED_BY(mu_);
  std::vector<std::string> order_ ABSL_GUARDED_BY(mu_);  // task ids, first acknowledgement order
  absl::flat_hash_map<std::string, std::string> by_request_ ABSL_GUARDED_BY(mu_);
  std::deque<std::string> watch_queue_ ABSL_GUARDED_BY(mu_);
};

}  // namespace

std::vector<std::pair<std::string, std::string>> ChaosReport::Figures() const {
  auto n = [](int64_t v) { return absl::StrCat(v); };
  return {
      {"kills", n(kills)},
      {"restarts", n(restarts)},
      {"restart failures", n(restart_failures)},
      {"creates acknowledged", n(creates_acknowledged)},
      {"create retries", n(create_retries)},
      {"creates unanswered", n(creates_unanswered)},
      {"create errors", n(create_errors)},
      {"idempotency violations", n(idempotency_violations)},
      {"distinct tasks", n(distinct_tasks)},
      {"tasks terminal once", n(tasks_terminal_once)},
      {"tasks succeeded", n(tasks_succeeded)},
      {"tasks failed", n(tasks_failed)},
      {"tasks lost", n(tasks_lost)},
      {"terminal conflicts", n(terminal_conflicts)},
      {"tasks submitted", n(tasks_submitted)},
      {"duplicates", n(duplicates)},
      {"tasks watched", n(tasks_watched)},
      {"watch events", n(watch_events)},
      {"watch reconnect attempts", n(watch_reconnects)},
      {"watch violations", n(watch_violations)},
      {"ledger violations", ledger_violations < 0 ? "unknown" : n(ledger_violations)},
      {"ledger", ledger_violations == 0 ? "balanced" : "NOT BALANCED"},
      {"median task seconds", absl::StrFormat("%.1f", median_task_seconds)},
      {"slowest task seconds", absl::StrFormat("%.1f", slowest_task_seconds)},
      {"tasks too slow", n(tasks_too_slow)},
      {"settle seconds", absl::StrFormat("%.1f", absl::ToDoubleSeconds(settle_wait))},
      {"result", Passed() ? "PASS" : "FAIL"},
  };
}

void InterruptChaos() { interrupts.fetch_add(1); }

absl::StatusOr<ChaosReport> RunChaos(const ChaosOptions& options) {
  ChaosRun run(options);
  absl::StatusOr<ChaosReport> report = run.Run();
  // A failed run keeps its directory: the replicas' and the emulator's logs say what happened.
  if (!report.ok() || !report->Passed()) {
    if (!run.work_dir().empty()) Log(absl::StrCat("logs kept in ", run.work_dir()));
    run.RemoveWorkDirOnExit(false);
  }
  return report;
}

}  // namespace music::chaos
