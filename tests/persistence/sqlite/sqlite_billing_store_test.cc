// What only the SQLite billing store does: rows injected into the file behind the store's back
// (a taken transaction id, corruption CheckLedger must find), the append-only triggers and the
// migration of a schema-2 file. The behaviour every store shares is the contract suite's
// (tests/persistence/contract/, run on SQLite by sqlite_store_contract_test.cc).
#include <sqlite3.h>
#include <stdlib.h>

#include <memory>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/time/time.h"
#include "domain/ledger.h"
#include "gtest/gtest.h"
#include "persistence/sqlite/sqlite_task_store.h"
#include "tests/persistence/store_test_util.h"
#include "tests/testing/temp_dir.h"

namespace music::persistence {
namespace {

using billing::BillingTransaction;
using billing::TransactionKind;
using store_test::kBase;
using store_test::KindsFor;

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
    return store_test::NewPricedTask(*store_, id, t, price);
  }

  // Moves `r` to `state` with its ledger rows, as the engine's terminal write does.
  absl::Status Finish(domain::TaskRecord& r, music::v1::TaskState state, absl::Time t) {
    return store_test::FinishTask(*store_, r, state, t);
  }

  TempDir dir_{"billing"};
  std::string path_;
  std::unique_ptr<SqliteStore> store_;
};

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
          "reference_artifact_id, provider_endpoint, archive_pending, traceparent FROM tasks "
          "WHERE task_id = 'noreserve'");
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
          "DROP TABLE reconciliation_runs; DROP INDEX tasks_archive_pending; "
          "ALTER TABLE tasks DROP COLUMN archive_pending; ALTER TABLE tasks DROP COLUMN traceparent; "
          "PRAGMA user_version = 2");
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
