// What only the SQLite task store does: its file (schema, WAL, reopening), corrupt rows, schema
// migrations, option checks and file locks. The behaviour every store shares is the contract
// suite's (tests/persistence/contract/, run on SQLite by sqlite_store_contract_test.cc).
#include "persistence/sqlite/sqlite_task_store.h"

#include <sqlite3.h>
#include <stdlib.h>

#include <filesystem>
#include <fstream>
#include <memory>
#include <string>

#include "absl/status/status.h"
#include "gmock/gmock.h"
#include "absl/status/statusor.h"
#include "absl/strings/str_cat.h"
#include "absl/time/time.h"
#include "domain/task_record.h"
#include "gtest/gtest.h"
#include "music/v1/task.pb.h"
#include "persistence/task_store.h"
#include "tests/persistence/store_test_util.h"
#include "tests/testing/temp_dir.h"

namespace music::persistence {
namespace {

using store_test::ExpectSameRecord;
using store_test::MakeRecord;
using store_test::Query;

// Runs SQL on the file through a connection of its own, as another process would.
void RawExec(const std::string& path, const std::string& sql) {
  sqlite3* db = nullptr;
  ASSERT_EQ(sqlite3_open(path.c_str(), &db), SQLITE_OK);
  char* error = nullptr;
  const int rc = sqlite3_exec(db, sql.c_str(), nullptr, nullptr, &error);
  EXPECT_EQ(rc, SQLITE_OK) << sql << ": " << (error != nullptr ? error : "");
  sqlite3_free(error);
  sqlite3_close(db);
}

// The first column of the first row of a query, as text.
std::string RawQuery(const std::string& path, const std::string& sql) {
  sqlite3* db = nullptr;
  if (sqlite3_open(path.c_str(), &db) != SQLITE_OK) {
    sqlite3_close(db);
    return "<open failed>";
  }
  sqlite3_stmt* stmt = nullptr;
  std::string out = "<no row>";
  if (sqlite3_prepare_v2(db, sql.c_str(), -1, &stmt, nullptr) != SQLITE_OK) {
    out = std::string("<prepare failed: ") + sqlite3_errmsg(db) + ">";
  } else if (sqlite3_step(stmt) == SQLITE_ROW) {
    const unsigned char* text = sqlite3_column_text(stmt, 0);
    out = text != nullptr ? reinterpret_cast<const char*>(text) : "<null>";
  }
  sqlite3_finalize(stmt);
  sqlite3_close(db);
  return out;
}

class SqliteTaskStoreTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_FALSE(temp_dir_.path().empty());
    dir_ = temp_dir_.path();
    path_ = dir_ + "/tasks.db";
    store_ = Open();
    ASSERT_NE(store_, nullptr);
  }

  void TearDown() override { store_.reset(); }

  std::unique_ptr<TaskStore> Open() {
    SqliteOptions options;
    options.path = path_;
    absl::StatusOr<std::unique_ptr<TaskStore>> store = OpenSqliteTaskStore(options);
    EXPECT_TRUE(store.ok()) << store.status();
    return store.ok() ? *std::move(store) : nullptr;
  }

  domain::TaskRecord MustCreate(const domain::TaskRecord& record) {
    return store_test::MustCreate(*store_, record);
  }

  TempDir temp_dir_{"sqlite_task_store"};
  std::string dir_;
  std::string path_;
  std::unique_ptr<TaskStore> store_;
};

TEST_F(SqliteTaskStoreTest, ReopenKeepsDataAndSchema) {
  domain::TaskRecord r = MakeRecord("task-1", "tenant-a", "req-1");
  r.task.add_clips()->set_clip_id("clip-1");
  r.deadline = absl::InfiniteFuture();
  r.poll_url = "https://api.tokenlab.test/v1/tasks/ldtask_1";
  r.reference_artifact_id = "art_1";
  r.provider_endpoint = "/v1/music/generations";
  MustCreate(r);
  const std::string schema_before =
      RawQuery(path_, "SELECT group_concat(sql, ';') FROM sqlite_master");

  for (int i = 0; i < 2; ++i) {
    store_.reset();
    store_ = Open();
    ASSERT_NE(store_, nullptr);
  }
  EXPECT_EQ(RawQuery(path_, "PRAGMA user_version"), absl::StrCat(SqliteSchemaVersion()));
  EXPECT_EQ(RawQuery(path_, "PRAGMA journal_mode"), "wal");
  EXPECT_EQ(RawQuery(path_, "SELECT group_concat(sql, ';') FROM sqlite_master"), schema_before);
  EXPECT_EQ(RawQuery(path_, "SELECT count(*) FROM tasks"), "1");

  absl::StatusOr<domain::TaskRecord> got = store_->Get("task-1");
  ASSERT_TRUE(got.ok()) << got.status();
  ExpectSameRecord(*got, r);
  EXPECT_TRUE(store_->FindByClipId("tenant-a", "clip-1").ok());
  // The unique request-id index survived too.
  absl::StatusOr<CreateResult> again = store_->Create(MakeRecord("task-2", "tenant-a", "req-1"));
  ASSERT_TRUE(again.ok()) << again.status();
  EXPECT_FALSE(again->created);
}

// The UPDATE compares the columns that never change instead of setting them (sqlite_task_store.cc
// kUpdateTaskSql): a write that would change one is refused, naming it, and stores nothing.
TEST_F(SqliteTaskStoreTest, KindAndCreateTimeCannotChange) {
  domain::TaskRecord r = MakeRecord("task-1", "tenant-a");
  MustCreate(r);
  domain::TaskRecord kind = r;
  kind.task.set_version(2);
  kind.task.set_kind(music::v1::TASK_KIND_LYRICS);
  absl::Status s = store_->Update(kind);
  EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument) << s;
  EXPECT_THAT(std::string(s.message()), ::testing::HasSubstr("kind and create_time"));

  domain::TaskRecord created = r;
  created.task.set_version(2);
  created.task.mutable_create_time()->set_seconds(r.task.create_time().seconds() + 60);
  s = store_->Update(created);
  EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument) << s;

  absl::StatusOr<domain::TaskRecord> got = store_->Get("task-1");
  ASSERT_TRUE(got.ok()) << got.status();
  EXPECT_EQ(got->task.version(), 1);
  // A stale version is still ABORTED, whatever else the write carries.
  kind.task.set_version(5);
  EXPECT_EQ(store_->Update(kind).code(), absl::StatusCode::kAborted);
}

TEST_F(SqliteTaskStoreTest, CorruptRowsAreDataLoss) {
  domain::TaskRecord r = MakeRecord("task-1");
  r.task.add_clips()->set_clip_id("clip-1");
  MustCreate(r);
  MustCreate(MakeRecord("task-2"));

  // Bytes that are not a Task: an over-long varint tag.
  RawExec(path_, "UPDATE tasks SET task = x'ffffffffffffffffffffff' WHERE task_id = 'task-1'");
  EXPECT_EQ(store_->Get("task-1").status().code(), absl::StatusCode::kDataLoss);
  EXPECT_EQ(store_->FindByClipId("tenant-a", "clip-1").status().code(),
            absl::StatusCode::kDataLoss);
  EXPECT_EQ(store_->List(Query("tenant-a")).status().code(), absl::StatusCode::kDataLoss);
  EXPECT_EQ(store_->ListActive(10).status().code(), absl::StatusCode::kDataLoss);
  EXPECT_TRUE(store_->Get("task-2").ok());

  // A valid Task that is not this row's (here: the empty one).
  RawExec(path_, "UPDATE tasks SET task = x'' WHERE task_id = 'task-1'");
  EXPECT_EQ(store_->Get("task-1").status().code(), absl::StatusCode::kDataLoss);
  // Another row's task.
  RawExec(path_,
          "UPDATE tasks SET task = (SELECT task FROM tasks WHERE task_id = 'task-2') "
          "WHERE task_id = 'task-1'");
  EXPECT_EQ(store_->Get("task-1").status().code(), absl::StatusCode::kDataLoss);
  // Bad bookkeeping columns of intact tasks.
  MustCreate(MakeRecord("task-3"));
  ASSERT_TRUE(store_->Get("task-3").ok());
  RawExec(path_,
          "UPDATE tasks SET submission = 9 WHERE task_id = 'task-2';"
          "UPDATE tasks SET attempts = 'many' WHERE task_id = 'task-3'");
  EXPECT_EQ(store_->Get("task-2").status().code(), absl::StatusCode::kDataLoss);
  EXPECT_EQ(store_->Get("task-3").status().code(), absl::StatusCode::kDataLoss);
  RawExec(path_, "UPDATE tasks SET submission = 0, attempts = 4294967296 WHERE task_id = 'task-2'");
  EXPECT_EQ(store_->Get("task-2").status().code(), absl::StatusCode::kDataLoss);
}

TEST_F(SqliteTaskStoreTest, VersionThreeDatabaseQueuesItsSucceededTasksForTheArchive) {
  domain::TaskRecord done = MakeRecord("task-1");
  done.task.set_state(music::v1::TASK_STATE_SUCCEEDED);
  done.task.add_clips()->set_audio_url("https://cdn.example/a.mp3");
  MustCreate(done);
  MustCreate(MakeRecord("task-2"));  // pending: not for the archive
  store_.reset();
  // What a version-3 file looked like: no archive_pending (nor the later traceparent).
  RawExec(path_,
          "DROP INDEX tasks_archive_pending; ALTER TABLE tasks DROP COLUMN archive_pending; "
          "ALTER TABLE tasks DROP COLUMN traceparent; PRAGMA user_version = 3");
  store_ = Open();
  ASSERT_NE(store_, nullptr);
  EXPECT_EQ(RawQuery(path_, "PRAGMA user_version"), absl::StrCat(SqliteSchemaVersion()));
  auto pending = store_->ListArchivePending({});
  ASSERT_TRUE(pending.ok()) << pending.status();
  ASSERT_EQ(pending->size(), 1u);
  EXPECT_EQ((*pending)[0].task.task_id(), "task-1");
}

TEST_F(SqliteTaskStoreTest, VersionOneDatabaseIsUpgradedInPlace) {
  domain::TaskRecord r = MakeRecord("task-1");
  MustCreate(r);
  store_.reset();
  // What a version-1 file looked like: no poll_url / reference_artifact_id / provider_endpoint
  // (nor the later archive_pending and traceparent).
  RawExec(path_,
          "DROP INDEX tasks_archive_pending; ALTER TABLE tasks DROP COLUMN archive_pending; "
          "ALTER TABLE tasks DROP COLUMN traceparent; "
          "ALTER TABLE tasks DROP COLUMN poll_url; "
          "ALTER TABLE tasks DROP COLUMN reference_artifact_id; "
          "ALTER TABLE tasks DROP COLUMN provider_endpoint; PRAGMA user_version = 1");
  store_ = Open();
  ASSERT_NE(store_, nullptr);
  EXPECT_EQ(RawQuery(path_, "PRAGMA user_version"), absl::StrCat(SqliteSchemaVersion()));
  absl::StatusOr<domain::TaskRecord> got = store_->Get("task-1");
  ASSERT_TRUE(got.ok()) << got.status();
  ExpectSameRecord(*got, r);
  domain::TaskRecord next = *got;
  next.task.set_version(2);
  next.poll_url = "https://poll.test/1";
  ASSERT_TRUE(store_->Update(next).ok());
  EXPECT_EQ(store_->Get("task-1")->poll_url, "https://poll.test/1");
}

TEST_F(SqliteTaskStoreTest, NewerSchemaIsFailedPrecondition) {
  MustCreate(MakeRecord("task-1"));
  store_.reset();
  const std::string newer = absl::StrCat(SqliteSchemaVersion() + 1);
  RawExec(path_, "PRAGMA user_version = " + newer);
  SqliteOptions options;
  options.path = path_;
  absl::StatusOr<std::unique_ptr<TaskStore>> store = OpenSqliteTaskStore(options);
  EXPECT_EQ(store.status().code(), absl::StatusCode::kFailedPrecondition) << store.status();
  EXPECT_EQ(RawQuery(path_, "PRAGMA user_version"), newer);
  EXPECT_EQ(RawQuery(path_, "SELECT count(*) FROM tasks"), "1");
}

TEST_F(SqliteTaskStoreTest, OpenValidatesOptions) {
  auto open = [](const std::string& path, const std::string& synchronous = "FULL",
                 absl::Duration busy_timeout = absl::Seconds(5)) {
    SqliteOptions options;
    options.path = path;
    options.synchronous = synchronous;
    options.busy_timeout = busy_timeout;
    return OpenSqliteTaskStore(options).status().code();
  };
  EXPECT_EQ(open(""), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(open(":memory:"), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(open(path_, "SOMETIMES"), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(open(path_, "OFF"), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(open(path_, "FULL", absl::Seconds(-1)), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(open(path_, "normal"), absl::StatusCode::kOk);
  EXPECT_EQ(open(path_, "EXTRA"), absl::StatusCode::kOk);
  EXPECT_EQ(open(dir_ + "/no/such/dir/tasks.db"), absl::StatusCode::kUnavailable);

  const std::string junk = dir_ + "/junk.db";
  std::ofstream(junk) << std::string(4096, 'x');
  const absl::StatusCode junk_code = open(junk);
  EXPECT_EQ(junk_code, absl::StatusCode::kDataLoss);
}

TEST_F(SqliteTaskStoreTest, LockedDatabaseIsUnavailableAndRecovers) {
  SqliteOptions options;
  options.path = path_;
  options.busy_timeout = absl::ZeroDuration();
  absl::StatusOr<std::unique_ptr<TaskStore>> impatient = OpenSqliteTaskStore(options);
  ASSERT_TRUE(impatient.ok()) << impatient.status();

  sqlite3* other = nullptr;
  ASSERT_EQ(sqlite3_open(path_.c_str(), &other), SQLITE_OK);
  ASSERT_EQ(sqlite3_exec(other, "BEGIN IMMEDIATE", nullptr, nullptr, nullptr), SQLITE_OK);
  absl::StatusOr<CreateResult> result = (*impatient)->Create(MakeRecord("task-1"));
  EXPECT_EQ(result.status().code(), absl::StatusCode::kUnavailable) << result.status();
  domain::TaskRecord update = MakeRecord("task-1");
  update.task.set_version(2);
  EXPECT_EQ((*impatient)->Update(update).code(), absl::StatusCode::kUnavailable);
  // Readers are not blocked by a writer in WAL mode.
  EXPECT_EQ((*impatient)->Get("task-1").status().code(), absl::StatusCode::kNotFound);
  ASSERT_EQ(sqlite3_exec(other, "ROLLBACK", nullptr, nullptr, nullptr), SQLITE_OK);
  sqlite3_close(other);

  result = (*impatient)->Create(MakeRecord("task-1"));
  ASSERT_TRUE(result.ok()) << result.status();
  EXPECT_TRUE(result->created);
  EXPECT_TRUE(store_->Get("task-1").ok());
}

}  // namespace
}  // namespace music::persistence
