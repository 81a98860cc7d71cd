// The kie.ai adapter's SubmitAsync/PollAsync against Submit/Poll on the same answers
// (tests/adapters/async_equivalence.h).

#include <memory>
#include <string>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/time/time.h"
#include "adapters/kie/kie_adapter.h"
#include "gtest/gtest.h"
#include "tests/adapters/async_equivalence.h"
#include "tests/testing/fake_clock.h"

namespace music::adapters::kie {
namespace {

using equivalence::ExpectPollAsyncMatchesPoll;
using equivalence::ExpectSubmitAsyncMatchesSubmit;
using equivalence::Http;
using equivalence::With;

constexpr char kApiKey[] = "kie-secret-api-key-0123456789";

class KieAsyncTest : public ::testing::Test {
 protected:
  equivalence::AdapterFactory Factory() {
    return [this](std::shared_ptr<http::HttpClient> client) {
      KieOptions options;
      options.base_url = "https://kie.test/";
      options.api_key = kApiKey;
      options.request_timeout = absl::Seconds(12);
      return NewKieAdapter(options, std::move(client), &clock_);
    };
  }

  static PollTarget Target(music::v1::TaskKind kind, std::string id) {
    PollTarget target;
    target.kind = kind;
    target.provider_task_id = std::move(id);
    return target;
  }

  FakeClock clock_{absl::FromUnixSeconds(1700000000)};
};

TEST_F(KieAsyncTest, PollAsyncReadsMusicRecordsLikePoll) {
  // success, pending and failed are updates; the rest are errors.
  const int ok = ExpectPollAsyncMatchesPoll(
      Factory(), Target(music::v1::TASK_KIND_MUSIC, "a b/c?d&e"),
      With({
          Http("success", 200,
               R"({"code":200,"msg":"success","data":{"taskId":"a b/c?d&e","status":"SUCCESS",)"
               R"("response":{"sunoData":[{"id":"e231","audioUrl":"https://example.cn/1.mp3",)"
               R"("title":"Peaceful Piano","tags":"calm","duration":198.44}]}}})"),
          Http("pending", 200,
               R"({"code":200,"data":{"taskId":"a b/c?d&e","status":"PENDING","response":null}})"),
          Http("failed, key echoed", 200,
               absl::StrCat(R"({"code":200,"data":{"taskId":"a b/c?d&e","status":)",
                            R"("GENERATE_AUDIO_FAILED","errorMessage":"bad )", kApiKey, R"("}})")),
          Http("other task", 200, R"({"code":200,"data":{"taskId":"other","status":"SUCCESS"}})"),
          Http("code 404 in body", 200, R"({"code":404,"msg":"task not found","data":null})"),
          Http("code 455 in body", 200, R"({"code":455,"msg":"maintenance","data":null})"),
      }));
  EXPECT_EQ(ok, 3);
}

TEST_F(KieAsyncTest, PollAsyncReadsLyricsRecordsLikePoll) {
  const int ok = ExpectPollAsyncMatchesPoll(
      Factory(), Target(music::v1::TASK_KIND_LYRICS, "l-1"),
      With({Http("success", 200,
                 R"({"code":200,"msg":"success","data":{"taskId":"l-1","param":"{}",)"
                 R"("response":{"taskId":"l-1","data":[{"text":"la la","title":"T",)"
                 R"("status":"complete"}]},"status":"SUCCESS"}})")}));
  EXPECT_EQ(ok, 1);
}

TEST_F(KieAsyncTest, PollAsyncRefusesBadTargetsLikePoll) {
  ExpectPollAsyncMatchesPoll(Factory(), Target(music::v1::TASK_KIND_MUSIC, ""),
                             {Http("unused", 200, "")});
  ExpectPollAsyncMatchesPoll(Factory(), Target(music::v1::TASK_KIND_UNSPECIFIED, "t"),
                             {Http("unused", 200, "")});
}

TEST_F(KieAsyncTest, SubmitAsyncReadsCreatesLikeSubmit) {
  SubmitRequest request;
  request.kind = music::v1::TASK_KIND_MUSIC;
  request.task_id = "task-1";
  request.provider_model = "V4_5";
  request.input.set_prompt("a calm piano piece");
  request.callback_url = "https://svc.example/callbacks/kie/task-1";
  const auto answers = With({
      Http("created", 200, R"({"code":200,"msg":"success","data":{"taskId":"5c79****be8e"}})"),
      Http("no task id", 200, R"({"code":200,"msg":"success","data":{}})"),
      Http("credits", 200, R"({"code":429,"msg":"insufficient credits","data":null})"),
      Http("string code", 200, R"({"code":"200","msg":"success","data":{"taskId":"x"}})"),
  });
  EXPECT_EQ(ExpectSubmitAsyncMatchesSubmit(Factory(), request, answers), 1);

  request.kind = music::v1::TASK_KIND_LYRICS;
  EXPECT_EQ(ExpectSubmitAsyncMatchesSubmit(Factory(), request, answers), 1);

  request.kind = music::v1::TASK_KIND_CONTINUATION;  // no continue_from_clip_id: refused
  ExpectSubmitAsyncMatchesSubmit(Factory(), request, {Http("unused", 200, "")});
}

}  // namespace
}  // namespace music::adapters::kie
