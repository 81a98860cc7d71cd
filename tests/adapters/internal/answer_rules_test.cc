#include "adapters/internal/answer_rules.h"

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

TEST(RequireAnswerForTaskTest, TakesTheAskedIdWhenTheAnswerNamesNone) {
  ProviderUpdate update;
  update.error_message = "kept";
  ASSERT_TRUE(RequireAnswerForTask("Acme", "t1", update).ok());
  EXPECT_EQ(update.provider_task_id, "t1");
  EXPECT_EQ(update.error_message, "kept");
}

TEST(RequireAnswerForTaskTest, AcceptsTheSameTask) {
  ProviderUpdate update;
  update.provider_task_id = "t1";
  ASSERT_TRUE(RequireAnswerForTask("Acme", "t1", update).ok());
  EXPECT_EQ(update.provider_task_id, "t1");
}

TEST(RequireAnswerForTaskTest, RejectsAnotherTask) {
  ProviderUpdate update;
  update.provider_task_id = "t2\n";
  const absl::Status s = RequireAnswerForTask("Acme", "t1", update);
  EXPECT_EQ(s.code(), absl::StatusCode::kInternal);
  // The provider's id is escaped: it is untrusted text going into a message.
  EXPECT_EQ(s.message(), "Acme answered for task \"t2\\n\" instead of the one asked for");
  EXPECT_FALSE(IsOutcomeUnknown(s));
  EXPECT_EQ(update.provider_task_id, "t2\n");
}

}  // namespace
}  // namespace music::adapters::internal
