// The billing side of the SQLite store: ledger rows written atomically with their task change,
// paginated listing, idempotent usage import, reconciliation runs and CheckLedger.
#include <sqlite3.h>
#include <stdlib.h>

#include <memory>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/time/time.h"
#include "gtest/gtest.h"
#include "persistence/sqlite/sqlite_task_store.h"
#include "domain/ledger.h"
#include "tests/testing/temp_dir.h"

namespace music::persistence {
namespace {

using billing::BillingTransaction;
using billing::TransactionKind;

const absl::Time kBase = absl::FromUnixSeconds(1700000000);

void RawExec(const std::string& path, const std::string& sql) {
  sqlite3* db = nullptr;
  ASSERT_EQ(sqlite3_open(path.c_str(), &db), SQLITE_OK);
  char* error = nullptr;
  const int rc = sqlite3_exec(db, sql.c_str(), nullptr, nullptr, &error);
  EXPECT_EQ(rc, SQLITE_OK) << sql << ": " << (error != nullptr ? error : "");
  sqlite3_free(error);
  sqlite3_close(db);
}

// The error of running `sql`, or "" when it succeeded.
std::string RawExecError(const std::string& path, const std::string& sql) {
  sqlite3* db = nullptr;
  if (sqlite3_open(path.c_str(), &db) != SQLITE_OK) return "open failed";
  char* error = nullptr;
  const int rc = sqlite3_exec(db, sql.c_str(), nullptr, nullptr, &error);
  std::string out = rc == SQLITE_OK ? "" : (error != nullptr ? error : "error");
  sqlite3_free(error);
  sqlite3_close(db);
  return out;
}

class SqliteBillingStoreTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_FALSE(dir_.path().empty());
    path_ = dir_.File("music.db");
    SqliteOptions o;
    o.path = path_;
    o.synchronous = "NORMAL";
    auto store = OpenSqliteStore(o);
    ASSERT_TRUE(store.ok()) << store.status();
    store_ = std::move(*store);
  }

  // A priced task as the engine creates it, with its RESERVE.
  domain::TaskRecord NewTask(const std::string& id, absl::Time t, int64_t price = 12'000'000) {
    domain::TaskRecord r;
    r.task.set_task_id(id);
    r.task.set_tenant("tenant-a");
    r.task.set_kind(music::v1::TASK_KIND_MUSIC);
    r.task.set_state(music::v1::TASK_STATE_PENDING);
    r.task.set_model("suno-v4.5");
    r.task.set_provider("kie");
    r.task.set_version(1);
    music::v1::Model model;
    model.set_name("suno-v4.5");
    model.set_provider_model("V4_5");
    model.mutable_price()->set_amount_micros(price);
    model.mutable_price()->set_currency("CREDITS");
    BillingTransaction reserve = billing::Reserve(&model, r, t);
    auto created = store_->Create(r, absl::MakeConstSpan(&reserve, 1));
    EXPECT_TRUE(created.ok() && created->created) << created.status();
    return r;
  }

  // Moves `r` to `state` with its ledger rows, as the engine's terminal write does.
  absl::Status Finish(domain::TaskRecord& r, music::v1::TaskState state, absl::Time t) {
    r.task.set_state(state);
    r.task.set_version(r.task.version() + 1);
    std::vector<BillingTransaction> rows = billing::Finish(r, t);
    return store_->Update(r, rows);
  }

  TempDir dir_{"billing"};
  std::string path_;
  std::unique_ptr<SqliteStore> store_;
};

TEST_F(SqliteBillingStoreTest, CreateWritesTheReservationWithTheTask) {
  NewTask("task-1", kBase);
  BillingListQuery q;
  q.tenant = "tenant-a";
  auto page = store_->ListBillingTransactions(q);
  ASSERT_TRUE(page.ok()) << page.status();
  ASSERT_EQ(page->transactions.size(), 1u);
  const BillingTransaction& t = page->transactions[0];
  EXPECT_EQ(t.billing_transaction_id, "btx_task-1_RESERVE");
  EXPECT_EQ(t.kind, TransactionKind::kReserve);
  EXPECT_EQ(t.amount_micros, 12'000'000);
  EXPECT_EQ(t.provider_model, "V4_5");
  EXPECT_EQ(t.time, kBase);
  EXPECT_EQ(store_->Get("task-1")->task.billing().reserved_micros(), 12'000'000);
  EXPECT_EQ(store_->Get("task-1")->task.billing().currency(), "CREDITS");
}

TEST_F(SqliteBillingStoreTest, RequestIdReplayAddsNoReservation) {
  domain::TaskRecord r;
  r.task.set_task_id("task-1");
  r.task.set_tenant("tenant-a");
  r.task.set_request_id("req-1");
  r.task.set_version(1);
  BillingTransaction reserve = billing::Reserve(nullptr, r, kBase);
  ASSERT_TRUE(store_->Create(r, absl::MakeConstSpan(&reserve, 1))->created);
  domain::TaskRecord replay = r;
  replay.task.set_task_id("task-2");
  BillingTransaction reserve2 = billing::Reserve(nullptr, replay, kBase);
  auto result = store_->Create(replay, absl::MakeConstSpan(&reserve2, 1));
  ASSERT_TRUE(result.ok()) << result.status();
  EXPECT_FALSE(result->created);
  BillingListQuery q;
  q.tenant = "tenant-a";
  ASSERT_EQ(store_->ListBillingTransactions(q)->transactions.size(), 1u);
  EXPECT_EQ(store_->ListBillingTransactions(q)->transactions[0].task_id, "task-1");
}

TEST_F(SqliteBillingStoreTest, RejectedVersionWritesNoLedgerRow) {
  domain::TaskRecord r = NewTask("task-1", kBase);
  domain::TaskRecord stale = r;
  ASSERT_TRUE(Finish(r, music::v1::TASK_STATE_SUCCEEDED, kBase + absl::Seconds(5)).ok());
  // A second writer from the same version: its failure and refund must not land.
  absl::Status lost = Finish(stale, music::v1::TASK_STATE_FAILED, kBase + absl::Seconds(6));
  EXPECT_EQ(lost.code(), absl::StatusCode::kAborted) << lost;
  BillingListQuery q;
  q.tenant = "tenant-a";
  auto page = store_->ListBillingTransactions(q);
  ASSERT_EQ(page->transactions.size(), 2u);  // RESERVE + SETTLE
  EXPECT_EQ(page->transactions[0].kind, TransactionKind::kSettle);
  auto check = store_->CheckLedger();
  ASSERT_TRUE(check.ok()) << check.status();
  EXPECT_TRUE(check->empty());
}

TEST_F(SqliteBillingStoreTest, ATakenTransactionIdRollsBackTheTaskChange) {
  domain::TaskRecord r = NewTask("task-1", kBase);
  // A REFUND row already there (as if a crashed writer had left one): the terminal write with
  // the same id must fail and leave the task as it was.
  domain::TaskRecord copy = r;
  copy.task.set_state(music::v1::TASK_STATE_FAILED);
  std::vector<BillingTransaction> rows = billing::Finish(copy, kBase);
  RawExec(path_,
          absl::StrCat("INSERT INTO billing_transactions VALUES ('", rows[0].billing_transaction_id,
                       "', 'tenant-a', 'task-1', '', 'kie', '', '', 'm', 'V4_5', '', "
                       "'REFUND', 12000000, 'CREDITS', 1)"));
  absl::Status s = Finish(r, music::v1::TASK_STATE_FAILED, kBase);
  EXPECT_EQ(s.code(), absl::StatusCode::kAlreadyExists) << s;
  auto stored = store_->Get("task-1");
  ASSERT_TRUE(stored.ok());
  EXPECT_EQ(stored->task.state(), music::v1::TASK_STATE_PENDING);
  EXPECT_EQ(stored->task.version(), 1);
}

TEST_F(SqliteBillingStoreTest, TheLedgerIsAppendOnly) {
  NewTask("task-1", kBase);
  EXPECT_NE(RawExecError(path_, "UPDATE billing_transactions SET amount_micros = 0"), "");
  EXPECT_NE(RawExecError(path_, "DELETE FROM billing_transactions"), "");
}

TEST_F(SqliteBillingStoreTest, ListIsNewestFirstPaginatedAndRanged) {
  for (int i = 0; i < 7; ++i) NewTask(absl::StrCat("task-", i), kBase + absl::Seconds(i));
  BillingListQuery q;
  q.tenant = "tenant-a";
  q.page_size = 3;
  std::vector<std::string> seen;
  for (int pages = 0; pages < 10; ++pages) {
    auto page = store_->ListBillingTransactions(q);
    ASSERT_TRUE(page.ok()) << page.status();
    for (const auto& t : page->transactions) seen.push_back(t.task_id);
    if (!page->has_more) break;
    q.after = BillingCursor{page->transactions.back().time,
                            page->transactions.back().billing_transaction_id};
  }
  EXPECT_EQ(seen, (std::vector<std::string>{"task-6", "task-5", "task-4", "task-3", "task-2",
                                            "task-1", "task-0"}));
  q.after.reset();
  q.page_size = 50;
  q.range = {kBase + absl::Seconds(2), kBase + absl::Seconds(4)};
  auto ranged = store_->ListBillingTransactions(q);
  ASSERT_EQ(ranged->transactions.size(), 2u);
  EXPECT_EQ(ranged->transactions[0].task_id, "task-3");
  q.tenant = "tenant-b";
  EXPECT_TRUE(store_->ListBillingTransactions(q)->transactions.empty());
  q.page_size = 0;
  EXPECT_EQ(store_->ListBillingTransactions(q).status().code(), absl::StatusCode::kInvalidArgument);
}

TEST_F(SqliteBillingStoreTest, ReconciliationListingKeepsWholeTasks) {
  domain::TaskRecord a = NewTask("task-a", kBase);
  ASSERT_TRUE(Finish(a, music::v1::TASK_STATE_SUCCEEDED, kBase + absl::Hours(2)).ok());
  NewTask("task-b", kBase + absl::Hours(5));
  // The range holds only task-a's RESERVE; its SETTLE (later) comes along.
  auto rows = store_->ListBillingTransactionsForReconciliation({kBase, kBase + absl::Hours(1)}, {});
  ASSERT_TRUE(rows.ok()) << rows.status();
  ASSERT_EQ(rows->size(), 2u);
  EXPECT_EQ((*rows)[0].kind, TransactionKind::kReserve);
  EXPECT_EQ((*rows)[1].kind, TransactionKind::kSettle);
  std::vector<std::string> other = {"piapi"};
  EXPECT_TRUE(store_->ListBillingTransactionsForReconciliation({}, other)->empty());
}

billing::UsageRecord Usage(const std::string& id, absl::Time t, int64_t amount) {
  billing::UsageRecord u;
  u.provider = "kie";
  u.usage_record_id = id;
  u.provider_task_id = "p-" + id;
  u.amount_micros = amount;
  u.time = t;
  return u;
}

TEST_F(SqliteBillingStoreTest, UsageImportIsIdempotent) {
  std::vector<billing::UsageRecord> records = {Usage("u1", kBase, 1), Usage("u2", kBase, 2)};
  auto first = store_->InsertUsageRecords(records);
  ASSERT_TRUE(first.ok()) << first.status();
  EXPECT_EQ(first->inserted, 2);
  EXPECT_EQ(first->duplicates, 0);
  records.push_back(Usage("u3", kBase + absl::Seconds(1), 3));
  auto second = store_->InsertUsageRecords(records);
  ASSERT_TRUE(second.ok());
  EXPECT_EQ(second->inserted, 1);
  EXPECT_EQ(second->duplicates, 2);
  auto all = store_->ListUsageRecords({}, {});
  ASSERT_TRUE(all.ok());
  ASSERT_EQ(all->size(), 3u);
  EXPECT_EQ((*all)[2].usage_record_id, "u3");
  EXPECT_EQ((*all)[2].amount_micros, 3);
  EXPECT_EQ((*all)[2].time, kBase + absl::Seconds(1));
  EXPECT_EQ(
      store_->ListUsageRecords({kBase + absl::Seconds(1), absl::InfiniteFuture()}, {})->size(), 1u);
  // All or nothing: a bad record adds nothing.
  std::vector<billing::UsageRecord> bad = {Usage("u4", kBase, 4), Usage("", kBase, 5)};
  EXPECT_EQ(store_->InsertUsageRecords(bad).status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(store_->ListUsageRecords({}, {})->size(), 3u);
}

TEST_F(SqliteBillingStoreTest, ReconciliationRunsRoundTripAndPage) {
  for (int i = 0; i < 3; ++i) {
    ReconciliationRun run;
    run.run_id = absl::StrCat("run-", i);
    run.create_time = kBase + absl::Seconds(i);
    run.range = {kBase, kBase + absl::Hours(24)};
    run.providers = {"kie", "piapi"};
    run.tolerance_micros = 5;
    run.tasks = 10 + i;
    run.discrepancies = i;
    run.outcome_tasks = {{"MATCHED", 10}, {"AMOUNT_MISMATCH", i}};
    run.difference_usd_micros = -7;
    run.summary = "summary";
    run.report_json = "{\"x\":1}";
    ASSERT_TRUE(store_->SaveReconciliationRun(run).ok());
  }
  ReconciliationRun dup;
  dup.run_id = "run-0";
  EXPECT_EQ(store_->SaveReconciliationRun(dup).code(), absl::StatusCode::kAlreadyExists);
  auto got = store_->GetReconciliationRun("run-1");
  ASSERT_TRUE(got.ok()) << got.status();
  EXPECT_EQ(got->providers, (std::vector<std::string>{"kie", "piapi"}));
  EXPECT_EQ(got->outcome_tasks.size(), 2u);
  EXPECT_EQ(got->outcome_tasks[1].second, 1);
  EXPECT_EQ(got->report_json, "{\"x\":1}");
  EXPECT_EQ(got->range.end, kBase + absl::Hours(24));
  EXPECT_EQ(store_->GetReconciliationRun("nope").status().code(), absl::StatusCode::kNotFound);
  auto page = store_->ListReconciliationRuns(2, std::nullopt);
  ASSERT_TRUE(page.ok());
  ASSERT_EQ(page->runs.size(), 2u);
  EXPECT_TRUE(page->has_more);
  EXPECT_EQ(page->runs[0].run_id, "run-2");
  auto rest = store_->ListReconciliationRuns(
      2, BillingCursor{page->runs[1].create_time, page->runs[1].run_id});
  ASSERT_EQ(rest->runs.size(), 1u);
  EXPECT_EQ(rest->runs[0].run_id, "run-0");
  EXPECT_FALSE(rest->has_more);
}

// The kinds CheckLedger reported for `task_id`.
std::vector<std::string> KindsFor(const std::vector<LedgerViolation>& v, const std::string& id) {
  std::vector<std::string> kinds;
  for (const auto& x : v) {
    if (x.task_id == id) kinds.push_back(x.kind);
  }
  return kinds;
}

TEST_F(SqliteBillingStoreTest, CheckLedgerFindsInjectedCorruption) {
  domain::TaskRecord ok = NewTask("ok", kBase);
  ASSERT_TRUE(Finish(ok, music::v1::TASK_STATE_SUCCEEDED, kBase).ok());
  domain::TaskRecord dup = NewTask("dup", kBase);
  ASSERT_TRUE(Finish(dup, music::v1::TASK_STATE_SUCCEEDED, kBase).ok());
  domain::TaskRecord failed = NewTask("failed", kBase);
  ASSERT_TRUE(Finish(failed, music::v1::TASK_STATE_FAILED, kBase).ok());
  NewTask("unfinished", kBase);
  NewTask("noreserve", kBase);
  auto clean = store_->CheckLedger();
  ASSERT_TRUE(clean.ok()) << clean.status();
  EXPECT_TRUE(clean->empty());

  auto insert = [&](const std::string& id, const std::string& task, const std::string& kind,
                    int64_t amount) {
    RawExec(path_,
            absl::StrCat("INSERT INTO billing_transactions VALUES ('", id, "', 'tenant-a', '", task,
                         "', '', 'kie', '', '', 'm', 'V4_5', '', '", kind, "', ", amount,
                         ", 'CREDITS', 1)"));
  };
  insert("x1", "dup", "SETTLE", 12'000'000);  // a second SETTLE
  insert("x2", "failed", "SETTLE", 0);        // a failed task settled
  insert("x3", "ghost", "RESERVE", 1);        // no such task
  // "unfinished" ends FAILED without its REFUND: rewrite the task row only.
  RawExec(path_, "UPDATE tasks SET state = 4 WHERE task_id = 'unfinished'");
  // "noreserve": build a task row without its RESERVE by copying one and renaming it.
  RawExec(path_,
          "INSERT INTO tasks SELECT 'copy', tenant, 'r-copy', request_fingerprint, state, kind, "
          "provider, provider_task_id, submission, attempts, next_action_us, deadline_us, "
          "unknown_since_us, create_time_us, update_time_us, version, task, poll_url, "
          "reference_artifact_id, provider_endpoint FROM tasks WHERE task_id = 'noreserve'");
  auto found = store_->CheckLedger();
  ASSERT_TRUE(found.ok()) << found.status();
  EXPECT_EQ(KindsFor(*found, "ok"), std::vector<std::string>{});
  EXPECT_EQ(KindsFor(*found, "dup"),
            (std::vector<std::string>{"DUPLICATE_SETTLE", "UNBALANCED", "BILLING_MISMATCH"}));
  EXPECT_EQ(KindsFor(*found, "failed"), std::vector<std::string>{"SETTLED_NOT_SUCCEEDED"});
  EXPECT_EQ(KindsFor(*found, "ghost"), std::vector<std::string>{"ORPHAN"});
  EXPECT_EQ(KindsFor(*found, "unfinished"), (std::vector<std::string>{"UNFINISHED", "UNBALANCED"}));
  EXPECT_EQ(KindsFor(*found, "copy"),
            (std::vector<std::string>{"MISSING_RESERVE", "BILLING_MISMATCH"}));
}

TEST_F(SqliteBillingStoreTest, SchemaTwoFileGainsTheLedgerAndItsOldTasksAreNotFlagged) {
  // A task stored before the ledger existed: no Task.billing, no rows.
  domain::TaskRecord legacy;
  legacy.task.set_task_id("legacy");
  legacy.task.set_tenant("tenant-a");
  legacy.task.set_state(music::v1::TASK_STATE_SUCCEEDED);
  legacy.task.set_version(1);
  ASSERT_TRUE(store_->Create(legacy).ok());
  store_.reset();
  RawExec(path_,
          "DROP TABLE billing_transactions; DROP TABLE usage_records; "
          "DROP TABLE reconciliation_runs; PRAGMA user_version = 2");
  SqliteOptions o;
  o.path = path_;
  auto reopened = OpenSqliteStore(o);
  ASSERT_TRUE(reopened.ok()) << reopened.status();
  store_ = std::move(*reopened);
  auto check = store_->CheckLedger();
  ASSERT_TRUE(check.ok()) << check.status();
  EXPECT_TRUE(check->empty());
  NewTask("new", kBase);  // the ledger works on the upgraded file
  BillingListQuery q;
  q.tenant = "tenant-a";
  EXPECT_EQ(store_->ListBillingTransactions(q)->transactions.size(), 1u);
  EXPECT_NE(RawExecError(path_, "DELETE FROM billing_transactions"), "");  // triggers are back
}

}  // namespace
}  // namespace music::persistence
