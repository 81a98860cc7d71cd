// The PiAPI status table (seed 003 `status` enum, compared case-insensitively per CONTRACT-NOTES)
// and the failed-task error codes.
#include "adapters/piapi/piapi_status.h"

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "gtest/gtest.h"

namespace music::adapters::piapi {
namespace {

TEST(PiapiStatusTest, EveryDocumentedStatusInAnyCase) {
  struct Case {
    const char* status;
    ProviderState state;
  };
  const Case cases[] = {
      {"Staged", ProviderState::kPending},      {"staged", ProviderState::kPending},
      {"Pending", ProviderState::kPending},     {"pending", ProviderState::kPending},
      {"PENDING", ProviderState::kPending},     {"Processing", ProviderState::kRunning},
      {"processing", ProviderState::kRunning},  {"Completed", ProviderState::kSucceeded},
      {"completed", ProviderState::kSucceeded}, {"COMPLETED", ProviderState::kSucceeded},
      {"Failed", ProviderState::kFailed},       {"failed", ProviderState::kFailed},
  };
  for (const Case& c : cases) {
    const PiapiStatusInfo info = MapPiapiStatus(c.status);
    EXPECT_EQ(info.state, c.state) << c.status;
    EXPECT_TRUE(info.known) << c.status;
    EXPECT_TRUE(absl::EqualsIgnoreCase(info.canonical, c.status)) << c.status;
    EXPECT_TRUE(absl::ascii_isupper(info.canonical[0])) << c.status;
  }
}

TEST(PiapiStatusTest, UnknownStatusKeepsTheTaskRunning) {
  for (const char* status : {"", "complete", "done", "Retry", "Completed "}) {
    const PiapiStatusInfo info = MapPiapiStatus(status);
    EXPECT_EQ(info.state, ProviderState::kRunning) << status;
    EXPECT_FALSE(info.known) << status;
    EXPECT_TRUE(info.canonical.empty()) << status;
  }
}

TEST(PiapiStatusTest, TaskErrorCodes) {
  EXPECT_EQ(PiapiTaskErrorCode(10000), absl::StatusCode::kFailedPrecondition);
  EXPECT_EQ(PiapiTaskErrorCode(400), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(PiapiTaskErrorCode(422), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(PiapiTaskErrorCode(500), absl::StatusCode::kInternal);
  EXPECT_EQ(PiapiTaskErrorCode(0), absl::StatusCode::kInternal);
  EXPECT_EQ(PiapiTaskErrorCode(-5), absl::StatusCode::kInternal);
}

}  // namespace
}  // namespace music::adapters::piapi
