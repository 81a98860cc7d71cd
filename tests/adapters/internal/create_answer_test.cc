#include "adapters/internal/create_answer.h"

#include <string>

#include "adapters/provider_errors.h"
#include "gtest/gtest.h"

namespace music::adapters::internal {
namespace {

TEST(UnreadableCreateAnswerTest, MarksTheErrorOutcomeUnknownAndKeepsIt) {
  absl::Status error = absl::InternalError("Acme sent a malformed answer: no `task_id`");
  SetProviderErrorCode(error, "200");
  const absl::Status marked = UnreadableCreateAnswer(error);
  EXPECT_TRUE(IsOutcomeUnknown(marked));
  EXPECT_FALSE(IsOutcomeUnknown(error));  // a copy is marked
  EXPECT_EQ(marked.code(), absl::StatusCode::kInternal);
  EXPECT_EQ(marked.message(), error.message());
  EXPECT_EQ(GetProviderErrorCode(marked), "200");  // other payloads stay
}

TEST(UnreadableCreateAnswerTest, LeavesOkAlone) {
  const absl::Status ok = UnreadableCreateAnswer(absl::OkStatus());
  EXPECT_TRUE(ok.ok());
  EXPECT_FALSE(IsOutcomeUnknown(ok));
}

TEST(ReadAcceptedCreateAnswerTest, PassesAValueThrough) {
  absl::StatusOr<std::string> read = ReadAcceptedCreateAnswer(absl::StatusOr<std::string>("t1"));
  ASSERT_TRUE(read.ok());
  EXPECT_EQ(*read, "t1");
}

TEST(ReadAcceptedCreateAnswerTest, MarksAnErrorOutcomeUnknown) {
  for (absl::StatusCode code : {absl::StatusCode::kInternal, absl::StatusCode::kDataLoss}) {
    absl::StatusOr<int> read =
        ReadAcceptedCreateAnswer(absl::StatusOr<int>(absl::Status(code, "x")));
    ASSERT_FALSE(read.ok());
    EXPECT_EQ(read.status().code(), code);
    EXPECT_EQ(read.status().message(), "x");
    EXPECT_TRUE(IsOutcomeUnknown(read.status()));
  }
}

}  // namespace
}  // namespace music::adapters::internal
