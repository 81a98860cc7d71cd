// The PiAPI adapter's SubmitAsync/PollAsync against Submit/Poll on the same answers
// (tests/adapters/async_equivalence.h).

#include <memory>
#include <string>
#include <utility>

#include "absl/time/time.h"
#include "adapters/piapi/piapi_adapter.h"
#include "gtest/gtest.h"
#include "tests/adapters/async_equivalence.h"
#include "tests/testing/fake_clock.h"

namespace music::adapters::piapi {
namespace {

using equivalence::ExpectPollAsyncMatchesPoll;
using equivalence::ExpectSubmitAsyncMatchesSubmit;
using equivalence::Http;
using equivalence::With;

class PiapiAsyncTest : public ::testing::Test {
 protected:
  equivalence::AdapterFactory Factory() {
    return [this](std::shared_ptr<http::HttpClient> client) {
      PiapiOptions options;
      options.base_url = "https://piapi.test/";
      options.api_key = "piapi-secret-api-key-0123456789";
      options.webhook_secret = "whsec-piapi-test";
      options.request_timeout = absl::Seconds(12);
      return NewPiapiAdapter(options, std::move(client), &clock_);
    };
  }

  FakeClock clock_{absl::FromUnixSeconds(1700000000)};
};

TEST_F(PiapiAsyncTest, PollAsyncReadsTasksLikePoll) {
  PollTarget target;
  target.kind = music::v1::TASK_KIND_MUSIC;
  target.provider_task_id = "pi/task 1";
  const int ok = ExpectPollAsyncMatchesPoll(
      Factory(), target,
      With({
          Http("completed", 200,
               R"({"code":200,"data":{"task_id":"pi/task 1","status":"Completed","output":)"
               R"({"clips":{"c1":{"id":"c1","audio_url":"https://a/c1.mp3"}}},"meta":{"usage":)"
               R"({"type":"usd","frozen":0,"consume":0.05}}},"message":"success"})"),
          Http("failed", 200,
               R"({"code":200,"data":{"task_id":"pi/task 1","status":"Failed",)"
               R"("error":{"code":10000,"message":"failed to freeze point"}}})"),
          Http("other task", 200,
               R"({"code":200,"data":{"task_id":"other","status":"Completed"}})"),
          Http("truncated", 200, R"({"code":200,"da)"),
      }));
  EXPECT_EQ(ok, 2);

  target.kind = music::v1::TASK_KIND_UNSPECIFIED;  // no such task: refused before sending
  EXPECT_EQ(ExpectPollAsyncMatchesPoll(Factory(), target, {Http("unused", 200, "")}), 0);
}

TEST_F(PiapiAsyncTest, SubmitAsyncReadsCreatesLikeSubmit) {
  SubmitRequest request;
  request.kind = music::v1::TASK_KIND_MUSIC;
  request.task_id = "task-1";
  request.provider_model = "music-u";
  request.input.set_prompt("night breeze, piano");
  request.callback_url = "https://svc.example/callbacks/piapi/task-1";
  request.request_id = "req-1";
  request.idempotency_key = "task-1.piapi";
  const int ok = ExpectSubmitAsyncMatchesSubmit(
      Factory(), request,
      With({
          Http("created", 200,
               R"({"code":200,"data":{"task_id":"pi-task-1","model":"music-u","status":)"
               R"("pending"},"message":"success"})"),
          Http("no task id", 200, R"({"code":200,"data":{},"message":"success"})"),
          Http("code in body", 200, R"({"code":10000,"data":null,"message":"no credits"})"),
      }));
  EXPECT_EQ(ok, 1);

  request.provider_model.clear();  // refused before sending
  EXPECT_EQ(ExpectSubmitAsyncMatchesSubmit(Factory(), request, {Http("unused", 200, "")}), 0);
}

}  // namespace
}  // namespace music::adapters::piapi
