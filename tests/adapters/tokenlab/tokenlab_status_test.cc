// The TokenLab state table (WIRE.md "Status table") and the task failure codes.

#include "adapters/tokenlab/tokenlab_status.h"

#include "gtest/gtest.h"

namespace music::adapters::tokenlab {
namespace {

TEST(TokenlabStatusTest, DocumentedStatusesMapOntoProviderStates) {
  // Seed 000 "Poll For Completion": pending, processing, completed, failed.
  EXPECT_EQ(MapTokenlabStatus("pending", false).state, ProviderState::kPending);
  EXPECT_EQ(MapTokenlabStatus("processing", false).state, ProviderState::kRunning);
  EXPECT_EQ(MapTokenlabStatus("completed", false).state, ProviderState::kSucceeded);
  EXPECT_EQ(MapTokenlabStatus("failed", false).state, ProviderState::kFailed);
  for (const char* s : {"pending", "processing", "completed", "failed"}) {
    EXPECT_TRUE(MapTokenlabStatus(s, false).known) << s;
  }
}

TEST(TokenlabStatusTest, FailedAndCancelledIsCanceled) {
  // CONTRACT-NOTES: a canceled task reads failed + cancelled: true.
  EXPECT_EQ(MapTokenlabStatus("failed", true).state, ProviderState::kCanceled);
  // A cancellation flag on a task still running is not an end.
  EXPECT_EQ(MapTokenlabStatus("processing", true).state, ProviderState::kRunning);
  EXPECT_EQ(MapTokenlabStatus("completed", true).state, ProviderState::kSucceeded);
}

TEST(TokenlabStatusTest, CaseInsensitiveAndUnknownKeepsRunning) {
  EXPECT_EQ(MapTokenlabStatus("COMPLETED", false).state, ProviderState::kSucceeded);
  const TokenlabStatusInfo unknown = MapTokenlabStatus("queued_for_mastering", false);
  EXPECT_EQ(unknown.state, ProviderState::kRunning);
  EXPECT_FALSE(unknown.known);
  EXPECT_FALSE(MapTokenlabStatus("", false).known);
}

TEST(TokenlabStatusTest, FailureCodes) {
  EXPECT_EQ(TokenlabFailureCode("insufficient_balance"), absl::StatusCode::kFailedPrecondition);
  EXPECT_EQ(TokenlabFailureCode("spend_limit_exceeded"), absl::StatusCode::kFailedPrecondition);
  EXPECT_EQ(TokenlabFailureCode("content_policy_violation"), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(TokenlabFailureCode("unsupported_parameter"), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(TokenlabFailureCode("timeout"), absl::StatusCode::kDeadlineExceeded);
  EXPECT_EQ(TokenlabFailureCode("generation_failed"), absl::StatusCode::kInternal);
  EXPECT_EQ(TokenlabFailureCode(""), absl::StatusCode::kInternal);
}

}  // namespace
}  // namespace music::adapters::tokenlab
