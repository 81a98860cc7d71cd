// The TokenLab adapter's SubmitAsync/PollAsync against Submit/Poll on the same answers
// (tests/adapters/async_equivalence.h). FindByRequestId and FetchModels stay blocking.

#include <memory>
#include <string>
#include <utility>

#include "absl/time/time.h"
#include "adapters/tokenlab/tokenlab_adapter.h"
#include "gtest/gtest.h"
#include "tests/adapters/async_equivalence.h"
#include "tests/testing/fake_clock.h"

namespace music::adapters::tokenlab {
namespace {

using equivalence::ExpectPollAsyncMatchesPoll;
using equivalence::ExpectSubmitAsyncMatchesSubmit;
using equivalence::Http;
using equivalence::With;

class TokenlabAsyncTest : public ::testing::Test {
 protected:
  equivalence::AdapterFactory Factory() {
    return [this](std::shared_ptr<http::HttpClient> client) {
      TokenlabOptions options;
      options.base_url = "https://api.tokenlab.sh";
      options.api_key = "tl-secret-api-key-0123456789";
      options.request_timeout = absl::Seconds(12);
      return NewTokenlabAdapter(options, std::move(client), &clock_);
    };
  }

  FakeClock clock_{absl::FromUnixSeconds(1700000000)};
};

TEST_F(TokenlabAsyncTest, PollAsyncReadsTasksLikePoll) {
  const auto answers = With({
      Http("completed", 200,
           R"({"id":"ldtask_1","status":"completed","audio_url":"https://a/1.mp3",)"
           R"("video_url":"https://v/1.mp4","title":"T","lyrics":"L"})",
           {{"X-Billing-Transaction-ID", "btx_h"}}),
      Http("pending", 200, R"({"id":"ldtask_1","status":"pending"})"),
      Http("other task", 200, R"({"id":"ldtask_2","status":"completed"})"),
      Http("truncated", 200, R"({"id":"ldtask_1","sta)"),
  });
  PollTarget target;
  target.kind = music::v1::TASK_KIND_MUSIC;
  target.provider_task_id = "ldtask_1";
  // The fixed route, then the poll_url on the same origin, then one on another origin (ignored).
  EXPECT_EQ(ExpectPollAsyncMatchesPoll(Factory(), target, answers), 2);
  target.poll_url = "https://api.tokenlab.sh/v1/tasks/ldtask_1?via=poll_url";
  EXPECT_EQ(ExpectPollAsyncMatchesPoll(Factory(), target, answers), 2);
  target.poll_url = "https://elsewhere.example/v1/tasks/ldtask_1";
  EXPECT_EQ(ExpectPollAsyncMatchesPoll(Factory(), target, answers), 2);
  target.kind = music::v1::TASK_KIND_LYRICS;
  EXPECT_EQ(ExpectPollAsyncMatchesPoll(Factory(), target, answers), 2);
}

TEST_F(TokenlabAsyncTest, SubmitAsyncReadsCreatesLikeSubmit) {
  SubmitRequest request;
  request.kind = music::v1::TASK_KIND_MUSIC;
  request.task_id = "tsk_1";
  request.provider_model = "suno_music";
  request.input.set_prompt("a calm piano piece");
  request.request_id = "caller-req-1";
  request.idempotency_key = "tsk_1.tokenlab";
  const int ok = ExpectSubmitAsyncMatchesSubmit(
      Factory(), request,
      With({
          Http("created", 200,
               R"({"id":"ldtask_1","task_id":"ldtask_1","status":"pending",)"
               R"("poll_url":"https://api.tokenlab.sh/v1/tasks/ldtask_1","model":"suno_music"})"),
          Http("billing header", 200, R"({"id":"ldtask_2"})",
               {{"X-Billing-Transaction-ID", "btx_header"}}),
          Http("X-Task-ID differs", 200, R"({"id":"ldtask_1"})", {{"X-Task-ID", "ldtask_9"}}),
          Http("402", 402, R"({"error":{"code":"insufficient_credits","message":"top up"}})"),
      }));
  EXPECT_EQ(ok, 2);
}

}  // namespace
}  // namespace music::adapters::tokenlab
