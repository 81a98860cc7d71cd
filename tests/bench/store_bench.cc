// store_bench: durable writes per second on the SQLite store (or, with --postgres_url, the
// PostgreSQL store: one connection per writer thread, synchronous_commit as the server has it) with 1, 16 and 64 writer threads
// (synchronous=FULL by default), the batch sizes the group commit formed, and the latency of a
// reader running next to the writers. Prints its figures; not a test.
//
// Each writer thread loops for --seconds: Create (a new task with its RESERVE row, as
// CreateMusic stores it), then Update (the task submitted: the engine's next write). Both are
// durable when they return. Every level runs on a fresh database file in --dir, which must be on
// a real disk (fsync on tmpfs costs nothing).
//
// Before/after: build this file against a tree without group commit with
// -DSTORE_BENCH_BASELINE (no TaskStore::GetCommitStats there); it prints the same table without
// the batch columns.
#include <stdlib.h>

#include <algorithm>
#include <array>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <fstream>
#include <memory>
#include <optional>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_split.h"
#include "absl/synchronization/notification.h"
#include "absl/time/time.h"
#include "domain/billing_types.h"
#include "domain/task_record.h"
#include "music/v1/task.pb.h"
#include "persistence/postgres/postgres_store.h"
#include "persistence/sqlite/sqlite_task_store.h"
#include "persistence/task_store.h"

ABSL_FLAG(std::string, threads, "1,16,64", "Writer thread counts, comma separated");
ABSL_FLAG(double, seconds, 3, "Measured seconds per level");
ABSL_FLAG(std::string, synchronous, "FULL", "SQLite synchronous setting: FULL, NORMAL or EXTRA");
ABSL_FLAG(std::string, dir, "",
          "Directory for the database files (default: a new one under /tmp); on a real disk");
ABSL_FLAG(std::string, postgres_url, "",
          "Measure the PostgreSQL store on this database instead (libpq URI; tools/pg-scratch "
          "start DIR prints one)");
ABSL_FLAG(bool, reader, true,
          "Run one reader thread next to the writers: a Get every --read_interval_ms");
ABSL_FLAG(double, read_interval_ms, 1,
          "Pause between the reader's Gets (paced, so that it measures latency without taking a "
          "core from the writers)");

namespace {

using SteadyClock = std::chrono::steady_clock;

std::string LoadAverage() {
  std::ifstream in("/proc/loadavg");
  std::string one, five, fifteen;
  in >> one >> five >> fifteen;
  return absl::StrCat(one, " ", five, " ", fifteen);
}

// The p-th percentile (0..100) of `v` in milliseconds; sorts v.
double PercentileMs(std::vector<double>& v, double p) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  const size_t i = std::min(v.size() - 1, static_cast<size_t>(p / 100.0 * v.size()));
  return v[i];
}

double MsSince(SteadyClock::time_point t) {
  return std::chrono::duration<double, std::milli>(SteadyClock::now() - t).count();
}

// A new task as the engine stores it on CreateMusic, and its RESERVE row.
music::domain::TaskRecord NewTask(const std::string& id, absl::Time now,
                                  music::billing::BillingTransaction* reserve) {
  music::domain::TaskRecord r;
  r.task.set_task_id(id);
  r.task.set_tenant("bench");
  r.task.set_request_id("req-" + id);
  r.task.set_kind(music::v1::TASK_KIND_MUSIC);
  r.task.set_state(music::v1::TASK_STATE_PENDING);
  r.task.set_model("suno-v4.5");
  r.task.set_provider("kie");
  r.task.mutable_input()->set_prompt("a calm piano piece, benchmark edition");
  r.task.set_version(1);
  r.task.mutable_create_time()->set_seconds(absl::ToUnixSeconds(now));
  r.task.mutable_update_time()->set_seconds(absl::ToUnixSeconds(now));
  r.task.mutable_billing()->set_currency("CREDITS");
  r.task.mutable_billing()->set_reserved_micros(12'000'000);
  r.request_fingerprint = "fp-" + id;
  r.next_action_time = now;
  r.deadline = now + absl::Minutes(30);
  reserve->billing_transaction_id = "btx_" + id + "_RESERVE";
  reserve->tenant = "bench";
  reserve->task_id = id;
  reserve->request_id = r.task.request_id();
  reserve->provider = "kie";
  reserve->model = "suno-v4.5";
  reserve->provider_model = "V4_5";
  reserve->kind = music::billing::TransactionKind::kReserve;
  reserve->amount_micros = 12'000'000;
  reserve->time = now;
  return r;
}

// The group commit's figures over one level (from CommitStats; absent in a baseline build).
struct Batches {
  int64_t commits = 0;
  int64_t writes = 0;
  int64_t max_batch = 0;
  absl::Duration commit_time;
  std::array<int64_t, 64> sizes{};  // log2 buckets, as CommitStats::batch_sizes
};

struct Level {
  int threads = 0;
  double seconds = 0;
  int64_t writes = 0;
  int64_t errors = 0;
  std::vector<double> write_ms;
  int64_t reads = 0;
  std::vector<double> read_ms;
  std::optional<Batches> stats;
};

std::shared_ptr<music::persistence::TaskStore> OpenStore(const std::string& path, int threads) {
  if (const std::string url = absl::GetFlag(FLAGS_postgres_url); !url.empty()) {
    music::persistence::PostgresOptions options;
    options.url = url;
    options.connections = std::max(1, threads) + 1;  // the writers and the reader
    absl::StatusOr<music::persistence::Stores> stores =
        music::persistence::OpenPostgresStores(options);
    if (!stores.ok()) {
      std::fprintf(stderr, "store_bench: %s\n", std::string(stores.status().message()).c_str());
      return nullptr;
    }
    return stores->tasks;
  }
  music::persistence::SqliteOptions options;
  options.path = path;
  options.synchronous = absl::GetFlag(FLAGS_synchronous);
  absl::StatusOr<std::unique_ptr<music::persistence::TaskStore>> store =
      music::persistence::OpenSqliteTaskStore(options);
  if (!store.ok()) {
    std::fprintf(stderr, "store_bench: %s\n", std::string(store.status().message()).c_str());
    return nullptr;
  }
  return *std::move(store);
}

bool RunLevel(const std::string& dir, Level& level) {
  const std::string path = absl::StrCat(dir, "/store-", level.threads, ".db");
  std::shared_ptr<music::persistence::TaskStore> store = OpenStore(path, level.threads);
  if (store == nullptr) return false;
  // One task the reader keeps reading.
  music::billing::BillingTransaction reserve;
  // Ids unique per run and level: a PostgreSQL database is shared by the levels (and reruns).
  const std::string run = absl::StrCat(absl::ToUnixMicros(absl::Now()), "-", level.threads);
  const std::string read_me = absl::StrCat("read-me-", run);
  if (!store->Create(NewTask(read_me, absl::Now(), &reserve)).ok()) return false;

  absl::Notification start;
  std::atomic<bool> stop{false};
  std::vector<std::vector<double>> write_ms(level.threads);
  std::vector<int64_t> errors(level.threads, 0);
  std::vector<std::thread> threads;
  for (int t = 0; t < level.threads; ++t) {
    threads.emplace_back([&, t] {
      start.WaitForNotification();
      for (int i = 0; !stop.load(std::memory_order_relaxed); ++i) {
        music::billing::BillingTransaction row;
        music::domain::TaskRecord r = NewTask(absl::StrCat("w", run, "-", t, "-", i), absl::Now(), &row);
        SteadyClock::time_point t0 = SteadyClock::now();
        absl::StatusOr<music::persistence::CreateResult> created =
            store->Create(r, absl::MakeConstSpan(&row, 1));
        write_ms[t].push_back(MsSince(t0));
        if (!created.ok()) {
          ++errors[t];
          continue;
        }
        r.task.set_version(2);
        r.task.set_state(music::v1::TASK_STATE_RUNNING);
        r.task.set_provider_task_id(absl::StrCat("p-", t, "-", i));
        r.submission = music::domain::SubmissionState::kSubmitted;
        t0 = SteadyClock::now();
        const absl::Status updated = store->Update(r);
        write_ms[t].push_back(MsSince(t0));
        if (!updated.ok()) ++errors[t];
      }
    });
  }
  std::thread reader;
  if (absl::GetFlag(FLAGS_reader)) {
    const double interval_ms = absl::GetFlag(FLAGS_read_interval_ms);
    reader = std::thread([&, interval_ms] {
      start.WaitForNotification();
      while (!stop.load(std::memory_order_relaxed)) {
        const SteadyClock::time_point t0 = SteadyClock::now();
        const bool ok = store->Get(read_me).ok();
        level.read_ms.push_back(MsSince(t0));
        if (ok) ++level.reads;
        std::this_thread::sleep_for(std::chrono::duration<double, std::milli>(interval_ms));
      }
    });
  }
#ifndef STORE_BENCH_BASELINE
  const music::persistence::CommitStats before =
      store->GetCommitStats().value_or(music::persistence::CommitStats());
#endif
  const SteadyClock::time_point begin = SteadyClock::now();
  start.Notify();
  std::this_thread::sleep_for(std::chrono::duration<double>(level.seconds));
  stop = true;
  for (std::thread& t : threads) t.join();
  if (reader.joinable()) reader.join();
  level.seconds = MsSince(begin) / 1000.0;
  for (int t = 0; t < level.threads; ++t) {
    level.writes += static_cast<int64_t>(write_ms[t].size()) - errors[t];
    level.errors += errors[t];
    level.write_ms.insert(level.write_ms.end(), write_ms[t].begin(), write_ms[t].end());
  }
#ifndef STORE_BENCH_BASELINE
  const std::optional<music::persistence::CommitStats> after = store->GetCommitStats();
  if (after.has_value()) {
    // The interval's counts; the maximum is since open (the open's own write is a batch of 1).
    Batches b;
    b.commits = after->commits - before.commits;
    b.writes = after->writes_committed - before.writes_committed;
    b.max_batch = after->max_batch;
    b.commit_time = after->commit_time_total - before.commit_time_total;
    for (int i = 0; i < music::persistence::CommitStats::kBuckets; ++i) {
      b.sizes[i] = after->batch_sizes[i] - before.batch_sizes[i];
    }
    level.stats = b;
  }
#endif
  return true;
}

std::string Histogram(const std::array<int64_t, 64>& h) {
  std::string out;
  for (int b = 0; b < static_cast<int>(h.size()); ++b) {
    if (h[b] == 0) continue;
    const int64_t lo = int64_t{1} << b;
    const int64_t hi = (int64_t{1} << (b + 1)) - 1;
    absl::StrAppend(&out, out.empty() ? "" : " ", lo, lo == hi ? "" : absl::StrCat("-", hi), ":",
                    h[b]);
  }
  return out;
}

}  // namespace

int main(int argc, char** argv) {
  absl::ParseCommandLine(argc, argv);
  std::vector<int> levels;
  for (absl::string_view s : absl::StrSplit(absl::GetFlag(FLAGS_threads), ',')) {
    int n;
    if (!absl::SimpleAtoi(s, &n) || n < 1) {
      std::fprintf(stderr, "store_bench: bad --threads\n");
      return 64;
    }
    levels.push_back(n);
  }
  std::string dir = absl::GetFlag(FLAGS_dir);
  if (dir.empty()) {
    std::string tmpl = "/tmp/store-bench-XXXXXX";
    if (mkdtemp(tmpl.data()) == nullptr) return 1;
    dir = tmpl;
  }
  const unsigned cores = std::thread::hardware_concurrency();
  std::printf("store_bench (%s): SQLite synchronous=%s, %.1f s per level, %u cores, dir %s\n",
#ifdef STORE_BENCH_BASELINE
              "baseline",
#else
              "group commit",
#endif
              absl::GetFlag(FLAGS_synchronous).c_str(), absl::GetFlag(FLAGS_seconds), cores,
              dir.c_str());
  std::printf("load average before: %s\n", LoadAverage().c_str());
  std::printf("%7s %9s %8s %9s %9s %8s %9s %9s %10s %8s %9s\n", "threads", "writes/s", "errors",
              "p50 ms", "p99 ms", "commits", "w/commit", "max batch", "commit ms", "reads/s",
              "read p99");
  std::vector<Level> results;
  for (int n : levels) {
    Level level;
    level.threads = n;
    level.seconds = absl::GetFlag(FLAGS_seconds);
    if (!RunLevel(dir, level)) return 1;
    const double p50 = PercentileMs(level.write_ms, 50);
    const double p99 = PercentileMs(level.write_ms, 99);
    const double read_p99 = PercentileMs(level.read_ms, 99);
    std::string commits = "-", per_commit = "-", max_batch = "-", commit_ms = "-";
    if (level.stats.has_value() && level.stats->commits > 0) {
      const Batches& s = *level.stats;
      commits = absl::StrCat(s.commits);
      per_commit = absl::StrFormat("%.1f", static_cast<double>(s.writes) / s.commits);
      max_batch = absl::StrCat(s.max_batch);
      commit_ms = absl::StrFormat(
          "%.2f", absl::ToDoubleMilliseconds(s.commit_time) / static_cast<double>(s.commits));
    }
    std::printf("%7d %9.0f %8lld %9.2f %9.2f %8s %9s %9s %10s %8.0f %9.2f\n", n,
                level.writes / level.seconds, static_cast<long long>(level.errors), p50, p99,
                commits.c_str(), per_commit.c_str(), max_batch.c_str(), commit_ms.c_str(),
                level.reads / level.seconds, read_p99);
    std::fflush(stdout);
    results.push_back(std::move(level));
  }
  for (const Level& level : results) {
    if (!level.stats.has_value()) continue;
    std::printf("batch sizes, %d threads (size:transactions): %s\n", level.threads,
                Histogram(level.stats->sizes).c_str());
  }
  std::printf("load average after: %s\n", LoadAverage().c_str());
  return 0;
}
