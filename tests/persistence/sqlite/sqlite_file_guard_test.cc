// The SQLite store's hold on its file: the exclusive lock a second server hits, a file deleted or
// replaced under a running store, and the marker that keeps a missing file from being silently
// recreated empty (issue 10, "Store faults": the server "never creates a fresh empty database
// silently where one existed").
#include <stdio.h>
#include <unistd.h>

#include <filesystem>
#include <memory>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "domain/task_record.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "persistence/sqlite/sqlite_task_store.h"
#include "persistence/task_store.h"
#include "tests/persistence/store_test_util.h"
#include "tests/testing/status_matchers.h"
#include "tests/testing/temp_dir.h"

namespace music::persistence {
namespace {

using ::testing::AllOf;
using ::testing::HasSubstr;

class SqliteFileGuardTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_FALSE(temp_dir_.path().empty());
    path_ = temp_dir_.path() + "/music.db";
  }

  absl::StatusOr<std::unique_ptr<TaskStore>> Open(bool exclusive = true,
                                                  bool allow_recreate = false) {
    SqliteOptions options;
    options.path = path_;
    options.exclusive_lock = exclusive;
    options.allow_recreate = allow_recreate;
    return OpenSqliteTaskStore(options);
  }

  TempDir temp_dir_{"sqlite_file_guard"};
  std::string path_;
};

TEST_F(SqliteFileGuardTest, SecondExclusiveStoreOnTheSameFileIsRefusedNamingIt) {
  absl::StatusOr<std::unique_ptr<TaskStore>> first = Open();
  ASSERT_THAT(first.status(), IsOk());
  absl::StatusOr<std::unique_ptr<TaskStore>> second = Open();
  EXPECT_THAT(second.status(), StatusIs(absl::StatusCode::kFailedPrecondition,
                                        AllOf(HasSubstr(path_), HasSubstr("in use"))));
  // The refused store touched nothing: the first one still writes.
  EXPECT_THAT((*first)->Create(store_test::MakeRecord("task-1")).status(), IsOk());
  // Once the first is closed, the lock is free again.
  first->reset();
  EXPECT_THAT(Open().status(), IsOk());
}

TEST_F(SqliteFileGuardTest, DeletedFileFailsHealthAndRefusesWrites) {
  absl::StatusOr<std::unique_ptr<TaskStore>> store = Open();
  ASSERT_THAT(store.status(), IsOk());
  TaskStore& s = **store;
  ASSERT_THAT(s.Create(store_test::MakeRecord("task-1")).status(), IsOk());
  EXPECT_THAT(s.CheckHealth(), IsOk());

  ASSERT_EQ(::unlink(path_.c_str()), 0);
  EXPECT_THAT(s.CheckHealth(),
              StatusIs(absl::StatusCode::kUnavailable, AllOf(HasSubstr(path_), HasSubstr("deleted"))));
  // A write would have gone into an unlinked inode nobody opens again: refused, not "OK".
  EXPECT_THAT(s.Create(store_test::MakeRecord("task-2")).status(),
              StatusIs(absl::StatusCode::kUnavailable, HasSubstr("deleted")));
}

TEST_F(SqliteFileGuardTest, ReplacedFileFailsHealthAndRefusesWrites) {
  absl::StatusOr<std::unique_ptr<TaskStore>> store = Open();
  ASSERT_THAT(store.status(), IsOk());
  TaskStore& s = **store;
  ASSERT_THAT(s.Create(store_test::MakeRecord("task-1")).status(), IsOk());

  const std::string other = temp_dir_.path() + "/other.db";
  std::filesystem::copy_file(path_, other);
  ASSERT_EQ(::rename(other.c_str(), path_.c_str()), 0);
  EXPECT_THAT(s.CheckHealth(), StatusIs(absl::StatusCode::kUnavailable, HasSubstr("replaced")));
  EXPECT_THAT(s.Create(store_test::MakeRecord("task-2")).status(),
              StatusIs(absl::StatusCode::kUnavailable, HasSubstr("replaced")));
}

TEST_F(SqliteFileGuardTest, MissingFileWithItsMarkerIsNotRecreatedSilently) {
  {
    absl::StatusOr<std::unique_ptr<TaskStore>> store = Open();
    ASSERT_THAT(store.status(), IsOk());
    ASSERT_THAT((*store)->Create(store_test::MakeRecord("task-1")).status(), IsOk());
  }
  ASSERT_TRUE(std::filesystem::exists(path_ + ".created"));
  // The volume lost the database (and its WAL); the marker stayed.
  for (const char* suffix : {"", "-wal", "-shm"}) std::filesystem::remove(path_ + suffix);

  EXPECT_THAT(Open().status(),
              StatusIs(absl::StatusCode::kFailedPrecondition,
                       AllOf(HasSubstr(path_ + " is missing"), HasSubstr(path_ + ".created"))));
  EXPECT_FALSE(std::filesystem::exists(path_)) << "the refused open must not create the file";

  // The operator's explicit choice starts empty.
  absl::StatusOr<std::unique_ptr<TaskStore>> fresh = Open(true, /*allow_recreate=*/true);
  ASSERT_THAT(fresh.status(), IsOk());
  EXPECT_THAT((*fresh)->Get("task-1").status(), StatusIs(absl::StatusCode::kNotFound));
}

TEST_F(SqliteFileGuardTest, ExistingFileWithoutMarkerGetsOne) {
  // A file from before the marker existed (or a restored backup): opened as it is, then marked.
  {
    absl::StatusOr<std::unique_ptr<TaskStore>> store = Open();
    ASSERT_THAT(store.status(), IsOk());
  }
  ASSERT_TRUE(std::filesystem::remove(path_ + ".created"));
  ASSERT_THAT(Open().status(), IsOk());
  EXPECT_TRUE(std::filesystem::exists(path_ + ".created"));
}

TEST_F(SqliteFileGuardTest, NonExclusiveStoresMayShareAFile) {
  absl::StatusOr<std::unique_ptr<TaskStore>> first = Open(/*exclusive=*/false);
  ASSERT_THAT(first.status(), IsOk());
  EXPECT_THAT(Open(/*exclusive=*/false).status(), IsOk());
}

}  // namespace
}  // namespace music::persistence
