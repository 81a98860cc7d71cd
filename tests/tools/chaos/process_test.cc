// tools/chaos's child processes (real processes: /bin/sh, /bin/sleep) and its report's verdict.
#include "tools/chaos/process.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <csignal>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>

#include "absl/strings/str_cat.h"
#include "absl/time/time.h"
#include "tests/testing/wait_for.h"
#include "tools/chaos/chaos.h"

namespace music::chaos {
namespace {

using ::testing::Contains;
using ::testing::HasSubstr;
using ::testing::Pair;

class ProcessTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string pattern = (std::filesystem::temp_directory_path() / "chaos-test-XXXXXX").string();
    ASSERT_NE(::mkdtemp(pattern.data()), nullptr);
    dir_ = pattern;
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }

  std::string Read(const std::string& path) {
    std::ifstream in(path);
    std::stringstream content;
    content << in.rdbuf();
    return content.str();
  }

  std::string dir_;
};

TEST_F(ProcessTest, RunsWithTheAddedEnvironmentAndAppendsItsOutputToTheLog) {
  const std::string log = absl::StrCat(dir_, "/child.log");
  ChildProcess child({"/bin/sh", "-c", "echo out $CHAOS_TEST_VALUE; echo err >&2"},
                     {"CHAOS_TEST_VALUE=42"}, log);
  ASSERT_TRUE(child.Start().ok());
  ASSERT_TRUE(WaitFor([&] { return !child.Running(); }, absl::Seconds(10), "child exits"));
  ASSERT_TRUE(child.Start().ok());  // a second life appends to the same log
  ASSERT_TRUE(WaitFor([&] { return !child.Running(); }, absl::Seconds(10), "child exits"));
  EXPECT_EQ(Read(log), "out 42\nerr\nout 42\nerr\n");
  EXPECT_TRUE(FileContains(log, "out 42"));
  EXPECT_FALSE(FileContains(log, "out 43"));
}

TEST_F(ProcessTest, StopKillsAndReaps) {
  ChildProcess child({"/bin/sleep", "60"}, {}, absl::StrCat(dir_, "/sleep.log"));
  ASSERT_TRUE(child.Start().ok());
  EXPECT_TRUE(child.Running());
  EXPECT_GT(child.pid(), 0);
  EXPECT_FALSE(child.Start().ok());  // one life at a time
  child.Stop(SIGKILL);
  EXPECT_FALSE(child.Running());
  EXPECT_EQ(child.pid(), 0);
  child.Stop(SIGKILL);  // nothing runs: no-op
}

TEST_F(ProcessTest, StartFailsForAMissingProgram) {
  ChildProcess child({absl::StrCat(dir_, "/no-such-program")}, {}, absl::StrCat(dir_, "/x.log"));
  EXPECT_FALSE(child.Start().ok());
  EXPECT_FALSE(child.Running());
}

TEST(RunAndCaptureTest, ReturnsStdoutAndFailsOnANonZeroExit) {
  absl::StatusOr<std::string> out = RunAndCapture({"/bin/sh", "-c", "echo one; echo two"});
  ASSERT_TRUE(out.ok()) << out.status();
  EXPECT_EQ(*out, "one\ntwo\n");
  EXPECT_FALSE(RunAndCapture({"/bin/sh", "-c", "exit 3"}).ok());
}

TEST(PickFreePortTest, IsAUsablePort) {
  absl::StatusOr<int> port = PickFreePort();
  ASSERT_TRUE(port.ok()) << port.status();
  EXPECT_GT(*port, 0);
  EXPECT_LT(*port, 65536);
}

TEST(ChaosReportTest, PassesOnlyWithoutLossDuplicateWatchViolationOrLedgerViolation) {
  ChaosReport report;
  report.creates_acknowledged = 10;
  report.ledger_violations = 0;
  EXPECT_TRUE(report.Passed());
  EXPECT_THAT(report.Figures(), Contains(Pair("result", "PASS")));
  EXPECT_THAT(report.Figures(), Contains(Pair("ledger", "balanced")));

  for (int64_t ChaosReport::*figure :
       {&ChaosReport::tasks_lost, &ChaosReport::duplicates, &ChaosReport::watch_violations,
        &ChaosReport::ledger_violations, &ChaosReport::idempotency_violations,
        &ChaosReport::terminal_conflicts, &ChaosReport::tasks_too_slow}) {
    ChaosReport failed = report;
    failed.*figure = 1;
    EXPECT_FALSE(failed.Passed());
    EXPECT_THAT(failed.Figures(), Contains(Pair("result", "FAIL")));
  }
  ChaosReport unasked = report;
  unasked.ledger_violations = -1;  // CheckLedger never answered: no proof, no pass
  EXPECT_FALSE(unasked.Passed());
  EXPECT_THAT(unasked.Figures(), Contains(Pair("ledger violations", "unknown")));
  ChaosReport idle = report;
  idle.creates_acknowledged = 0;  // nothing was attacked
  EXPECT_FALSE(idle.Passed());
  ChaosReport unknown_submissions = report;
  unknown_submissions.duplicates = -1;  // the emulator's counts could not be read
  EXPECT_FALSE(unknown_submissions.Passed());
}

}  // namespace
}  // namespace music::chaos
