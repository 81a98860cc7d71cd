// The SQLite store's group commit (persistence/sqlite/sqlite_group_commit.h): concurrent writes
// share one transaction, a failing write is rolled back alone, a failed COMMIT fails its whole
// batch and stores nothing of it, batches respect their cap, and reads do not queue behind
// writes. Deterministic: a batch hook holds the first leader while the test queues writes (the
// store reports how many wait), so the next batch holds exactly those.
#include <sqlite3.h>

#include <functional>
#include <memory>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "domain/ledger.h"
#include "domain/task_record.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "music/v1/task.pb.h"
#include "persistence/commit_stats.h"
#include "persistence/sqlite/sqlite_task_store.h"
#include "persistence/task_store.h"
#include "tests/persistence/sqlite/fault_vfs.h"
#include "tests/persistence/store_test_util.h"
#include "tests/testing/status_matchers.h"
#include "tests/testing/temp_dir.h"

namespace music::persistence {
namespace {

using store_test::kBase;
using store_test::MakeRecord;
using ::testing::ElementsAre;
using ::testing::SizeIs;

// Holds the leader of the first batch in the store's batch hook until Release(); writes queued
// meanwhile form the next batch. Records every batch's size. `later(i)` runs in the hook of
// batch i >= 1 (0 is the held one).
class BatchGate {
 public:
  explicit BatchGate(SqliteStore& store, std::function<void(int)> later = nullptr)
      : store_(store), later_(std::move(later)) {
    store_.SetBatchHookForTesting([this](int n) { OnBatch(n); });
  }
  ~BatchGate() { store_.SetBatchHookForTesting(nullptr); }
  BatchGate(const BatchGate&) = delete;
  BatchGate& operator=(const BatchGate&) = delete;

  // Returns once the first leader is held in the hook.
  void AwaitHeld() {
    absl::MutexLock lock(&mu_);
    mu_.Await(absl::Condition(&held_));
  }
  void Release() {
    absl::MutexLock lock(&mu_);
    released_ = true;
  }
  std::vector<int> sizes() {
    absl::MutexLock lock(&mu_);
    return sizes_;
  }

 private:
  void OnBatch(int n) {
    int index;
    {
      absl::MutexLock lock(&mu_);
      index = static_cast<int>(sizes_.size());
      sizes_.push_back(n);
      if (index == 0) {
        held_ = true;
        mu_.Await(absl::Condition(&released_));
      }
    }
    if (index > 0 && later_) later_(index);
  }

  SqliteStore& store_;
  const std::function<void(int)> later_;
  absl::Mutex mu_;
  bool held_ ABSL_GUARDED_BY(mu_) = false;
  bool released_ ABSL_GUARDED_BY(mu_) = false;
  std::vector<int> sizes_ ABSL_GUARDED_BY(mu_);
};

// A version-1 task of tenant-a priced `price` CREDITS micros, and its RESERVE row.
struct PricedTask {
  domain::TaskRecord record;
  billing::BillingTransaction reserve;
};

PricedTask Priced(const std::string& id, int64_t price = 12'000'000) {
  PricedTask t;
  t.record = MakeRecord(id);
  music::v1::Model model;
  model.set_name("suno-v4.5");
  model.set_provider_model("V4_5");
  model.mutable_price()->set_amount_micros(price);
  model.mutable_price()->set_currency("CREDITS");
  t.reserve = billing::Reserve(&model, t.record, kBase);
  return t;
}

// The next version of `r` with a progress note (Update input).
domain::TaskRecord Next(domain::TaskRecord r, const std::string& note) {
  r.task.set_version(r.task.version() + 1);
  r.task.mutable_progress()->set_provider_status(note);
  return r;
}

// Runs each job on a thread of its own, then waits for all (the caller releases what they wait
// for in between).
class Threads {
 public:
  void Run(std::function<void()> job) { threads_.emplace_back(std::move(job)); }
  void JoinAll() {
    for (std::thread& t : threads_) t.join();
    threads_.clear();
  }
  ~Threads() { JoinAll(); }

 private:
  std::vector<std::thread> threads_;
};

class SqliteGroupCommitTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_FALSE(dir_.path().empty());
    path_ = dir_.File("music.db");
    store_ = Open(Options());
    ASSERT_NE(store_, nullptr);
  }

  SqliteOptions Options() const {
    SqliteOptions o;
    o.path = path_;
    return o;
  }

  std::unique_ptr<SqliteStore> Open(const SqliteOptions& o) {
    absl::StatusOr<std::unique_ptr<SqliteStore>> store = OpenSqliteStore(o);
    EXPECT_TRUE(store.ok()) << store.status();
    return store.ok() ? *std::move(store) : nullptr;
  }

  CommitStats Stats() {
    std::optional<CommitStats> stats = store_->GetCommitStats();
    EXPECT_TRUE(stats.has_value());
    return stats.value_or(CommitStats());
  }

  // Starts Create(first) on a thread and returns once its batch is held by `gate`.
  void HoldFirstBatch(BatchGate& gate, Threads& threads, absl::Status* first) {
    threads.Run([this, first] { *first = store_->Create(MakeRecord("first")).status(); });
    gate.AwaitHeld();
  }

  TempDir dir_{"sqlite_group_commit"};
  std::string path_;
  std::unique_ptr<SqliteStore> store_;
};

TEST_F(SqliteGroupCommitTest, ConcurrentWritersShareOneTransaction) {
  constexpr int kCreates = 8;
  constexpr int kUpdates = 8;
  std::vector<domain::TaskRecord> existing;
  for (int i = 0; i < kUpdates; ++i) {
    PricedTask t = Priced(absl::StrCat("old-", i));
    ASSERT_THAT(store_->Create(t.record, absl::MakeConstSpan(&t.reserve, 1)), IsOk());
    existing.push_back(t.record);
  }
  const CommitStats before = Stats();
  EXPECT_EQ(before.commits, kUpdates);
  EXPECT_EQ(before.max_batch, 1);

  BatchGate gate(*store_);
  Threads threads;
  absl::Status first = absl::UnknownError("not run");
  HoldFirstBatch(gate, threads, &first);
  std::vector<absl::Status> results(kCreates + kUpdates, absl::UnknownError("not run"));
  for (int i = 0; i < kCreates; ++i) {
    threads.Run([this, i, &results] {
      PricedTask t = Priced(absl::StrCat("new-", i));
      results[i] = store_->Create(t.record, absl::MakeConstSpan(&t.reserve, 1)).status();
    });
  }
  for (int i = 0; i < kUpdates; ++i) {
    threads.Run([this, i, &results, &existing] {
      // Terminal, with its SETTLE row: the engine's last write of a task.
      domain::TaskRecord r = Next(existing[i], "done");
      r.task.set_state(music::v1::TASK_STATE_SUCCEEDED);
      const std::vector<billing::BillingTransaction> rows = billing::Finish(r, kBase);
      results[kCreates + i] = store_->Update(r, rows);
    });
  }
  store_->AwaitQueuedWritesForTesting(kCreates + kUpdates);
  // Queued, not yet committed: a read sees none of it, and does not wait for it.
  EXPECT_THAT(store_->Get("new-0"), StatusIs(absl::StatusCode::kNotFound));
  gate.Release();
  threads.JoinAll();

  EXPECT_THAT(first, IsOk());
  for (const absl::Status& s : results) EXPECT_THAT(s, IsOk());
  EXPECT_THAT(gate.sizes(), ElementsAre(1, kCreates + kUpdates));
  const CommitStats after = Stats();
  EXPECT_EQ(after.commits - before.commits, 2);
  EXPECT_EQ(after.writes_committed - before.writes_committed, 1 + kCreates + kUpdates);
  EXPECT_EQ(after.writes_rejected, 0);
  EXPECT_EQ(after.failed_commits, 0);
  EXPECT_EQ(after.max_batch, kCreates + kUpdates);
  EXPECT_EQ(after.batch_sizes[CommitStats::BucketOf(kCreates + kUpdates)], 1);
  EXPECT_GE(after.commit_time_total, after.commit_time_max);
  EXPECT_GT(after.commit_time_max, absl::ZeroDuration());

  // Durable and complete: another store on the file sees every write and a consistent ledger.
  std::unique_ptr<SqliteStore> other = Open(Options());
  ASSERT_NE(other, nullptr);
  for (int i = 0; i < kCreates; ++i) EXPECT_THAT(other->Get(absl::StrCat("new-", i)), IsOk());
  for (int i = 0; i < kUpdates; ++i) {
    absl::StatusOr<domain::TaskRecord> got = other->Get(absl::StrCat("old-", i));
    ASSERT_THAT(got, IsOk());
    EXPECT_EQ(got->task.state(), music::v1::TASK_STATE_SUCCEEDED);
  }
  absl::StatusOr<std::vector<LedgerViolation>> violations = other->CheckLedger();
  ASSERT_THAT(violations, IsOk());
  EXPECT_THAT(*violations, SizeIs(0));
}

TEST_F(SqliteGroupCommitTest, AFailingWriteIsRolledBackAloneAndItsNeighboursCommit) {
  const domain::TaskRecord plain = store_test::MustCreate(*store_, MakeRecord("plain"));
  PricedTask settled = Priced("settled");
  ASSERT_THAT(store_->Create(settled.record, absl::MakeConstSpan(&settled.reserve, 1)), IsOk());
  ASSERT_THAT(
      store_test::FinishTask(*store_, settled.record, music::v1::TASK_STATE_SUCCEEDED, kBase),
      IsOk());
  ReconciliationRun run;
  run.run_id = "run-1";
  run.create_time = kBase;
  ASSERT_THAT(store_->SaveReconciliationRun(run), IsOk());
  const CommitStats before = Stats();

  BatchGate gate(*store_);
  Threads threads;
  absl::Status first = absl::UnknownError("not run");
  HoldFirstBatch(gate, threads, &first);
  // Each job is one write; its expected code is next to it.
  struct Job {
    std::function<absl::Status()> write;
    absl::StatusCode want;
  };
  const std::vector<Job> jobs = {
      {[&] {
         PricedTask t = Priced("good-1");
         return store_->Create(t.record, absl::MakeConstSpan(&t.reserve, 1)).status();
       },
       absl::StatusCode::kOk},
      // A version plain never reaches in this batch (it goes from 1 to 2 below).
      {[&] {
         domain::TaskRecord r = plain;
         r.task.set_version(5);
         return store_->Update(r);
       },
       absl::StatusCode::kAborted},
      // A taken task id.
      {[&] { return store_->Create(MakeRecord("plain", "tenant-a", "other-request")).status(); },
       absl::StatusCode::kAlreadyExists},
      {[&] { return store_->Update(Next(MakeRecord("missing"), "x")); },
       absl::StatusCode::kNotFound},
      // The task row would update (version 2 -> 3), then its SETTLE id is taken: the whole write
      // must roll back, task row included.
      {[&] {
         domain::TaskRecord r = Next(settled.record, "settled again");
         const std::vector<billing::BillingTransaction> rows = billing::Finish(r, kBase);
         return store_->Update(r, rows);
       },
       absl::StatusCode::kAlreadyExists},
      {[&] { return store_->Update(Next(plain, "fresh")); }, absl::StatusCode::kOk},
      {[&] { return store_->SaveReconciliationRun(run); }, absl::StatusCode::kAlreadyExists},
      {[&] {
         const billing::UsageRecord u = store_test::Usage("u-1", kBase, 5);
         return store_->InsertUsageRecords(absl::MakeConstSpan(&u, 1)).status();
       },
       absl::StatusCode::kOk},
      {[&] { return store_->Create(MakeRecord("good-2")).status(); }, absl::StatusCode::kOk},
  };
  std::vector<absl::Status> results(jobs.size(), absl::UnknownError("not run"));
  for (size_t i = 0; i < jobs.size(); ++i) {
    threads.Run([&, i] { results[i] = jobs[i].write(); });
  }
  store_->AwaitQueuedWritesForTesting(static_cast<int>(jobs.size()));
  gate.Release();
  threads.JoinAll();

  EXPECT_THAT(first, IsOk());
  int rejected = 0;
  for (size_t i = 0; i < jobs.size(); ++i) {
    EXPECT_EQ(results[i].code(), jobs[i].want) << "job " << i << ": " << results[i];
    if (jobs[i].want != absl::StatusCode::kOk) ++rejected;
  }
  EXPECT_THAT(gate.sizes(), ElementsAre(1, static_cast<int>(jobs.size())));
  const CommitStats after = Stats();
  EXPECT_EQ(after.commits - before.commits, 2);
  EXPECT_EQ(after.writes_rejected - before.writes_rejected, rejected);
  EXPECT_EQ(after.writes_committed - before.writes_committed,
            1 + static_cast<int64_t>(jobs.size()) - rejected);
  EXPECT_EQ(after.failed_commits, 0);

  EXPECT_THAT(store_->Get("good-1"), IsOk());
  EXPECT_THAT(store_->Get("good-2"), IsOk());
  absl::StatusOr<domain::TaskRecord> got = store_->Get("plain");
  ASSERT_THAT(got, IsOk());
  EXPECT_EQ(got->task.version(), 2);
  EXPECT_EQ(got->task.progress().provider_status(), "fresh");
  EXPECT_EQ(got->request_fingerprint, "fp-plain");
  got = store_->Get("settled");
  ASSERT_THAT(got, IsOk());
  EXPECT_EQ(got->task.version(), 2) << "the rejected write's task row was not rolled back";
  EXPECT_NE(got->task.progress().provider_status(), "settled again");
  EXPECT_THAT(store_->GetReconciliationRun("run-1"), IsOk());
  absl::StatusOr<std::vector<billing::UsageRecord>> usage = store_->ListUsageRecords({}, {});
  ASSERT_THAT(usage, IsOk());
  EXPECT_THAT(*usage, SizeIs(1));
  absl::StatusOr<std::vector<LedgerViolation>> violations = store_->CheckLedger();
  ASSERT_THAT(violations, IsOk());
  EXPECT_THAT(*violations, SizeIs(0));
}

TEST_F(SqliteGroupCommitTest, AFailedCommitFailsEveryWriteOfItsBatchAndStoresNone) {
  ASSERT_TRUE(fault_vfs::Register());
  store_.reset();
  SqliteOptions o = Options();
  o.vfs = fault_vfs::Name();
  store_ = Open(o);
  ASSERT_NE(store_, nullptr);
  PricedTask kept = Priced("kept");
  ASSERT_THAT(store_->Create(kept.record, absl::MakeConstSpan(&kept.reserve, 1)), IsOk());
  const CommitStats before = Stats();

  constexpr int kCreates = 4;
  absl::Status first = absl::UnknownError("not run");
  std::vector<absl::Status> results(kCreates + 2, absl::UnknownError("not run"));
  {
    // The disk fills up when the second batch starts: its COMMIT cannot write the WAL.
    BatchGate gate(*store_, [](int batch) {
      if (batch == 1) fault_vfs::FailWalWrites() = true;
    });
    Threads threads;
    HoldFirstBatch(gate, threads, &first);
    for (int i = 0; i < kCreates; ++i) {
      threads.Run([this, i, &results] {
        PricedTask t = Priced(absl::StrCat("lost-", i));
        results[i] = store_->Create(t.record, absl::MakeConstSpan(&t.reserve, 1)).status();
      });
    }
    threads.Run([this, &kept, &results] {
      domain::TaskRecord r = Next(kept.record, "done");
      r.task.set_state(music::v1::TASK_STATE_FAILED);
      const std::vector<billing::BillingTransaction> rows = billing::Finish(r, kBase);
      results[kCreates] = store_->Update(r, rows);
    });
    threads.Run([this, &results] {
      const billing::UsageRecord u = store_test::Usage("u-1", kBase, 5);
      results[kCreates + 1] = store_->InsertUsageRecords(absl::MakeConstSpan(&u, 1)).status();
    });
    store_->AwaitQueuedWritesForTesting(kCreates + 2);
    gate.Release();
    threads.JoinAll();
    fault_vfs::FailWalWrites() = false;
    EXPECT_THAT(gate.sizes(), ElementsAre(1, kCreates + 2));
  }

  EXPECT_THAT(first, IsOk());
  for (const absl::Status& s : results) {
    EXPECT_THAT(s, StatusIs(absl::StatusCode::kUnavailable, ::testing::HasSubstr("full"))) << s;
    EXPECT_EQ(s, results[0]) << "every write of the batch gets the batch's error";
  }
  const CommitStats after = Stats();
  EXPECT_EQ(after.commits - before.commits, 1);
  EXPECT_EQ(after.failed_commits, 1);
  EXPECT_EQ(after.writes_failed, kCreates + 2);

  // Nothing of the batch is stored, and the store goes on.
  auto expect_state = [&](SqliteStore& store) {
    for (int i = 0; i < kCreates; ++i) {
      EXPECT_THAT(store.Get(absl::StrCat("lost-", i)), StatusIs(absl::StatusCode::kNotFound));
    }
    EXPECT_THAT(store.Get("first"), IsOk());
    absl::StatusOr<std::vector<billing::UsageRecord>> usage = store.ListUsageRecords({}, {});
    ASSERT_THAT(usage, IsOk());
    EXPECT_THAT(*usage, SizeIs(0));
    absl::StatusOr<std::vector<LedgerViolation>> violations = store.CheckLedger();
    ASSERT_THAT(violations, IsOk());
    EXPECT_THAT(*violations, SizeIs(0));
  };
  expect_state(*store_);
  absl::StatusOr<domain::TaskRecord> got = store_->Get("kept");
  ASSERT_THAT(got, IsOk());
  EXPECT_EQ(got->task.version(), 1);
  ASSERT_THAT(store_->Create(MakeRecord("after")), IsOk());
  ASSERT_THAT(store_->Update(Next(got.value(), "retried")), IsOk());

  store_.reset();
  std::unique_ptr<SqliteStore> reopened = Open(Options());
  ASSERT_NE(reopened, nullptr);
  expect_state(*reopened);
  EXPECT_THAT(reopened->Get("after"), IsOk());
  got = reopened->Get("kept");
  ASSERT_THAT(got, IsOk());
  EXPECT_EQ(got->task.progress().provider_status(), "retried");
}

TEST_F(SqliteGroupCommitTest, BatchesStopAtTheirCap) {
  store_.reset();
  SqliteOptions o = Options();
  o.max_batch_writes = 4;
  store_ = Open(o);
  ASSERT_NE(store_, nullptr);

  BatchGate gate(*store_);
  Threads threads;
  absl::Status first = absl::UnknownError("not run");
  HoldFirstBatch(gate, threads, &first);
  constexpr int kWrites = 10;
  std::vector<absl::Status> results(kWrites, absl::UnknownError("not run"));
  for (int i = 0; i < kWrites; ++i) {
    threads.Run([this, i, &results] {
      results[i] = store_->Create(MakeRecord(absl::StrCat("task-", i))).status();
    });
  }
  store_->AwaitQueuedWritesForTesting(kWrites);
  gate.Release();
  threads.JoinAll();

  EXPECT_THAT(first, IsOk());
  for (const absl::Status& s : results) EXPECT_THAT(s, IsOk());
  EXPECT_THAT(gate.sizes(), ElementsAre(1, 4, 4, 2));
  EXPECT_EQ(Stats().max_batch, 4);
  EXPECT_EQ(Stats().writes_committed, 1 + kWrites);
}

TEST_F(SqliteGroupCommitTest, ASingleWriterCommitsAtOnceOnItsOwnThread) {
  std::vector<int> sizes;
  store_->SetBatchHookForTesting([&sizes](int n) { sizes.push_back(n); });
  store_test::MustCreate(*store_, MakeRecord("task-1"));
  domain::TaskRecord r = store_test::MustCreate(*store_, MakeRecord("task-2"));
  ASSERT_THAT(store_->Update(Next(r, "x")), IsOk());
  store_->SetBatchHookForTesting(nullptr);
  EXPECT_THAT(sizes, ElementsAre(1, 1, 1));
  const CommitStats stats = Stats();
  EXPECT_EQ(stats.commits, 3);
  EXPECT_EQ(stats.writes_committed, 3);
  EXPECT_EQ(stats.batch_sizes[0], 3);
  EXPECT_GE(stats.write_wait_total, stats.commit_time_total);
}

TEST(CommitStatsTest, BucketsAreLog2) {
  EXPECT_EQ(CommitStats::BucketOf(0), 0);
  EXPECT_EQ(CommitStats::BucketOf(1), 0);
  EXPECT_EQ(CommitStats::BucketOf(2), 1);
  EXPECT_EQ(CommitStats::BucketOf(3), 1);
  EXPECT_EQ(CommitStats::BucketOf(4), 2);
  EXPECT_EQ(CommitStats::BucketOf(256), 8);
  EXPECT_EQ(CommitStats::BucketOf(int64_t{1} << 40), CommitStats::kBuckets - 1);
}

TEST(SqliteOptionsTest, GroupCommitOptionsAreChecked) {
  TempDir dir("sqlite_options");
  auto open = [&](int readers, int max_writes, size_t max_bytes) {
    SqliteOptions o;
    o.path = dir.File("music.db");
    o.read_connections = readers;
    o.max_batch_writes = max_writes;
    o.max_batch_bytes = max_bytes;
    return OpenSqliteStore(o).status().code();
  };
  EXPECT_EQ(open(0, 256, 1), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(open(1, 0, 1), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(open(1, 1, 0), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(open(1, 1, 1), absl::StatusCode::kOk);
}

}  // namespace
}  // namespace music::persistence
