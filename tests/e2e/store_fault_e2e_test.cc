// A real SQLite file locked by another process under a running server (issue 10, "Where it
// stands": "with the database locked for 8 s, one of four polling tasks stayed RUNNING for
// good"). Every task resumes once the lock is gone, without a restart.
#include <sqlite3.h>

#include <string>
#include <thread>
#include <vector>

#include "tests/e2e/e2e_fixture.h"
#include "tests/testing/wait_for.h"

namespace music::e2e {
namespace {

TEST_F(E2eTest, ADatabaseLockedForEightSecondsStrandsNoTask) {
  std::vector<std::string> ids;
  for (int i = 0; i < 4; ++i) {
    ids.push_back(CreateMusic(absl::StrCat("locked song ", i, " [emu:lose_callbacks]")).task_id());
    ASSERT_FALSE(ids.back().empty());
  }
  ASSERT_TRUE(WaitFor(
      [&] {
        for (const std::string& id : ids) {
          if (GetTask(id).state() != music::v1::TASK_STATE_RUNNING) return false;
        }
        return true;
      },
      absl::Seconds(10), "all four tasks RUNNING"));

  // Another process takes the write lock and holds it past the store's 5 s busy timeout, while
  // the provider finishes the tasks: their polls' writes fail UNAVAILABLE. Callbacks are lost
  // (the prompts' directive), so only the engine's own retries can bring the results in; before
  // they existed, this test ended with tasks RUNNING.
  sqlite3* other = nullptr;
  ASSERT_EQ(sqlite3_open(db_path_.c_str(), &other), SQLITE_OK);
  ASSERT_EQ(sqlite3_exec(other, "BEGIN EXCLUSIVE", nullptr, nullptr, nullptr), SQLITE_OK)
      << sqlite3_errmsg(other);
  std::atomic<bool> never{false};
  ServerDelay(absl::Seconds(8), never);  // the fault: the lock is held this long
  EXPECT_EQ(sqlite3_exec(other, "COMMIT", nullptr, nullptr, nullptr), SQLITE_OK);
  sqlite3_close(other);

  for (const std::string& id : ids) {
    const music::v1::Task done = WaitDone(id);
    EXPECT_EQ(done.state(), music::v1::TASK_STATE_SUCCEEDED) << done.DebugString();
  }
  EXPECT_EQ(emulator_->TaskCount(), 4) << "one provider task per service task";
}

}  // namespace
}  // namespace music::e2e
