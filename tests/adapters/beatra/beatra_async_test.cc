// The beatra adapter's SubmitAsync/PollAsync against Submit/Poll on the same answers
// (tests/adapters/async_equivalence.h). Uploads and Cancel stay blocking.

#include <memory>
#include <string>
#include <utility>

#include "absl/time/time.h"
#include "adapters/beatra/beatra_adapter.h"
#include "gtest/gtest.h"
#include "tests/adapters/async_equivalence.h"
#include "tests/testing/fake_clock.h"

namespace music::adapters::beatra {
namespace {

using equivalence::ExpectPollAsyncMatchesPoll;
using equivalence::ExpectSubmitAsyncMatchesSubmit;
using equivalence::Http;
using equivalence::With;

class BeatraAsyncTest : public ::testing::Test {
 protected:
  equivalence::AdapterFactory Factory() {
    return [this](std::shared_ptr<http::HttpClient> client) {
      BeatraOptions options;
      options.base_url = "https://beatra.test/";
      options.api_key = "beatra-secret-api-key-0123456789";
      options.request_timeout = absl::Seconds(12);
      options.upload_timeout = absl::Seconds(99);
      return NewBeatraAdapter(options, std::move(client), &clock_);
    };
  }

  FakeClock clock_{absl::FromUnixSeconds(1700000000)};
};

TEST_F(BeatraAsyncTest, PollAsyncReadsTasksLikePoll) {
  PollTarget target;
  target.kind = music::v1::TASK_KIND_MUSIC;
  target.provider_task_id = "task/7 f";
  const int ok = ExpectPollAsyncMatchesPoll(
      Factory(), target,
      With({
          Http("running", 200,
               R"({"task_id":"task/7 f","status":"running","progress":{"percent":37,)"
               R"("stage":"composing","message":"Composing"},"billing":{"charged_credits":)"
               R"("80.0000","currency":"credits"}})"),
          Http("canceled", 200, R"({"task_id":"task/7 f","status":"canceled"})"),
          Http("other task", 200, R"({"task_id":"task_other","status":"succeeded"})"),
          Http("truncated", 200, R"({"task_id":"task_x","status":)", {{"X-Request-Id", "rq-1"}}),
          Http("422", 422, R"({"error":{"code":"validation_error","message":"bad"}})"),
      }));
  EXPECT_EQ(ok, 2);
}

TEST_F(BeatraAsyncTest, SubmitAsyncReadsCreatesLikeSubmit) {
  SubmitRequest request;
  request.kind = music::v1::TASK_KIND_MUSIC;
  request.task_id = "tsk_1";
  request.request_id = "req-caller-1";
  request.idempotency_key = "tsk_1.beatra";
  request.provider_model = "suno-5.5";
  request.input.set_prompt("a calm piano piece");
  const auto answers = With({
      Http("created", 200,
           R"({"task_id":"task_7f3a","object":"task","model":"suno-5.5","status":"queued",)"
           R"("progress":{"percent":0,"stage":"queued","message":"Waiting"},"output":null,)"
           R"("error":null,"billing":{"charged_credits":"80.0000","currency":"credits"}})"),
      Http("no task id", 200, R"({"object":"task"})", {{"X-Request-Id", "rq-2"}}),
      Http("409", 409, R"({"error":{"code":"idempotency_conflict","message":"other body"}})"),
  });
  EXPECT_EQ(ExpectSubmitAsyncMatchesSubmit(Factory(), request, answers), 1);
  request.reference_artifact_id = "art_1";  // the reference-audio route
  EXPECT_EQ(ExpectSubmitAsyncMatchesSubmit(Factory(), request, answers), 1);
  request.idempotency_key.clear();  // refused before sending
  EXPECT_EQ(ExpectSubmitAsyncMatchesSubmit(Factory(), request, {Http("unused", 200, "")}), 0);
}

}  // namespace
}  // namespace music::adapters::beatra
