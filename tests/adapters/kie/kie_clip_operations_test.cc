// The kie.ai clip operations through the adapter against a fake HttpClient: the routes and bodies
// of CONTRACT-NOTES.md ("Advanced Features"), the successFlag table, 409 for a second WAV, both
// callback spellings the notes list, and the calls that answer at once.

#include "adapters/kie/kie_clip_operations.h"

#include <rapidjson/document.h>

#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "adapters/kie/kie_adapter.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/testing/fake_clock.h"
#include "tests/testing/fake_http_client.h"
#include "tests/testing/status_matchers.h"

namespace music::adapters::kie {
namespace {

using absl::StatusCode;
using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::UnorderedElementsAre;

constexpr char kCallbackUrl[] = "https://svc.example/callbacks/kie/task-1";

class KieClipOperationsTest : public ::testing::Test {
 protected:
  std::unique_ptr<ProviderAdapter> Adapter() {
    KieOptions options;
    options.base_url = "https://kie.test";
    options.api_key = "kie-key";
    return NewKieAdapter(options, client_, &clock_);
  }

  static SubmitRequest Operation(music::v1::ClipOperation op) {
    SubmitRequest request;
    request.kind = music::v1::TASK_KIND_CLIP_OPERATION;
    request.task_id = "task-1";
    request.provider_model = "V4_5";
    request.input.set_clip_operation(op);
    request.input.set_source_clip_id("clip-9");
    request.input.set_source_provider_task_id("gen-7");
    request.callback_url = kCallbackUrl;
    return request;
  }

  absl::StatusOr<ProviderUpdate> Poll(music::v1::ClipOperation op, std::string body) {
    client_->Answer(200, std::move(body));
    PollTarget target;
    target.kind = music::v1::TASK_KIND_CLIP_OPERATION;
    target.provider_task_id = "op-1";
    target.clip_operation = op;
    return Adapter()->Poll(target);
  }

  absl::StatusOr<ProviderUpdate> Callback(std::string body) {
    http::Request request;
    request.method = "POST";
    request.body = std::move(body);
    return Adapter()->ParseCallback(music::v1::TASK_KIND_CLIP_OPERATION, request);
  }

  // The keys of the JSON object `body`.
  static std::vector<std::string> Keys(const std::string& body) {
    rapidjson::Document doc;
    doc.Parse(body.c_str());
    std::vector<std::string> keys;
    if (!doc.IsObject()) return keys;
    for (const auto& m : doc.GetObject()) keys.emplace_back(m.name.GetString());
    return keys;
  }

  std::shared_ptr<http::FakeHttpClient> client_ = std::make_shared<http::FakeHttpClient>();
  FakeClock clock_{absl::FromUnixSeconds(1700000000)};
};

// CONTRACT-NOTES: `POST /api/v1/wav/generate {taskId, audioId, callBackUrl}` -> `data.taskId`.
TEST_F(KieClipOperationsTest, WavCreateSendsTheSourceTaskAndClip) {
  client_->Answer(200, R"({"code":200,"msg":"success","data":{"taskId":"wav-1"}})");
  auto result = Adapter()->Submit(Operation(music::v1::CLIP_OPERATION_CONVERT_TO_WAV));
  ASSERT_THAT(result, IsOk());
  EXPECT_EQ(result->provider_task_id, "wav-1");
  EXPECT_EQ(result->endpoint, "/api/v1/wav/generate");
  const http::Request sent = client_->last();
  EXPECT_EQ(sent.method, "POST");
  EXPECT_EQ(sent.url, "https://kie.test/api/v1/wav/generate");
  EXPECT_EQ(sent.body, R"({"taskId":"gen-7","audioId":"clip-9","callBackUrl":")" +
                           std::string(kCallbackUrl) + R"("})");
}

// CONTRACT-NOTES: "code 409 = a WAV for that clip exists already (`data` names the earlier
// task)": the earlier task is adopted. (Before this change the adapter refused the task kind.)
TEST_F(KieClipOperationsTest, WavConflictAdoptsTheEarlierTask) {
  client_->Answer(200, R"({"code":409,"msg":"exists","data":{"taskId":"wav-earlier"}})");
  auto result = Adapter()->Submit(Operation(music::v1::CLIP_OPERATION_CONVERT_TO_WAV));
  ASSERT_THAT(result, IsOk());
  EXPECT_EQ(result->provider_task_id, "wav-earlier");
  // `data` as the bare task id is read too.
  client_->Answer(409, R"({"code":409,"msg":"exists","data":"wav-earlier-2"})");
  result = Adapter()->Submit(Operation(music::v1::CLIP_OPERATION_CONVERT_TO_WAV));
  ASSERT_THAT(result, IsOk());
  EXPECT_EQ(result->provider_task_id, "wav-earlier-2");
  // A 409 without a task named stays an error.
  client_->Answer(200, R"({"code":409,"msg":"exists","data":null})");
  EXPECT_THAT(Adapter()->Submit(Operation(music::v1::CLIP_OPERATION_CONVERT_TO_WAV)),
              StatusIs(StatusCode::kAlreadyExists));
}

// CONTRACT-NOTES: vocal-removal `type` `separate_vocal` or `split_stem`.
TEST_F(KieClipOperationsTest, VocalRemovalSendsItsType) {
  for (const auto& [op, type] :
       {std::pair{music::v1::CLIP_OPERATION_SEPARATE_VOCALS, "separate_vocal"},
        std::pair{music::v1::CLIP_OPERATION_SPLIT_STEMS, "split_stem"}}) {
    client_->Answer(200, R"({"code":200,"msg":"success","data":{"taskId":"v-1"}})");
    ASSERT_THAT(Adapter()->Submit(Operation(op)), IsOk());
    EXPECT_EQ(client_->last().url, "https://kie.test/api/v1/vocal-removal/generate");
    EXPECT_THAT(Keys(client_->last().body),
                ElementsAre("taskId", "audioId", "callBackUrl", "type"));
    EXPECT_THAT(client_->last().body, HasSubstr(absl::StrCat("\"type\":\"", type, "\"")));
  }
}

// CONTRACT-NOTES: `POST /api/v1/mp4/generate {taskId, audioId, callBackUrl, author?,
// domainName?}` (each <= 50 chars): unset optional fields are left out.
TEST_F(KieClipOperationsTest, VideoSendsAuthorAndDomainOnlyWhenSet) {
  client_->Answer(200, R"({"code":200,"msg":"success","data":{"taskId":"mp4-1"}})");
  ASSERT_THAT(Adapter()->Submit(Operation(music::v1::CLIP_OPERATION_CREATE_MUSIC_VIDEO)), IsOk());
  EXPECT_EQ(client_->last().url, "https://kie.test/api/v1/mp4/generate");
  EXPECT_THAT(Keys(client_->last().body), ElementsAre("taskId", "audioId", "callBackUrl"));

  SubmitRequest with = Operation(music::v1::CLIP_OPERATION_CREATE_MUSIC_VIDEO);
  with.input.set_video_author("The Band");
  with.input.set_video_domain_name("band.example");
  client_->Answer(200, R"({"code":200,"msg":"success","data":{"taskId":"mp4-2"}})");
  ASSERT_THAT(Adapter()->Submit(with), IsOk());
  EXPECT_THAT(Keys(client_->last().body),
              ElementsAre("taskId", "audioId", "callBackUrl", "author", "domainName"));

  with.input.set_video_author(std::string(51, 'a'));
  const size_t sent = client_->count();
  EXPECT_THAT(Adapter()->Submit(with), StatusIs(StatusCode::kInvalidArgument));
  EXPECT_EQ(client_->count(), sent);  // refused before anything is sent
}

// CONTRACT-NOTES: poll `GET /api/v1/wav/record-info?taskId=` -> `response {audioWavUrl}`,
// `successFlag` PENDING / SUCCESS / ... .
TEST_F(KieClipOperationsTest, WavPollReadsFlagsAndTheUrl) {
  auto pending = Poll(music::v1::CLIP_OPERATION_CONVERT_TO_WAV,
                      R"({"code":200,"msg":"success","data":{"taskId":"op-1","musicId":"clip-9",
                      "response":null,"successFlag":"PENDING","errorCode":null,
                      "errorMessage":null}})");
  ASSERT_THAT(pending, IsOk());
  EXPECT_EQ(client_->last().url, "https://kie.test/api/v1/wav/record-info?taskId=op-1");
  EXPECT_EQ(pending->state, ProviderState::kPending);

  auto done = Poll(music::v1::CLIP_OPERATION_CONVERT_TO_WAV,
                   R"({"code":200,"msg":"success","data":{"taskId":"op-1",
                   "response":{"audioWavUrl":"https://f.example/a.wav"},"successFlag":"SUCCESS"}})");
  ASSERT_THAT(done, IsOk());
  EXPECT_EQ(done->state, ProviderState::kSucceeded);
  EXPECT_EQ(done->operation_result.wav_url(), "https://f.example/a.wav");

  // One example says GENERATE_AUDIO_FAILED for a WAV: both end the task.
  for (const char* flag : {"GENERATE_WAV_FAILED", "GENERATE_AUDIO_FAILED", "CREATE_TASK_FAILED",
                           "CALLBACK_EXCEPTION"}) {
    auto failed = Poll(music::v1::CLIP_OPERATION_CONVERT_TO_WAV,
                       absl::StrCat(R"({"code":200,"msg":"success","data":{"taskId":"op-1",
                       "response":null,"successFlag":")",
                                    flag, R"(","errorCode":500,"errorMessage":"boom"}})"));
    ASSERT_THAT(failed, IsOk());
    EXPECT_EQ(failed->state, ProviderState::kFailed) << flag;
    EXPECT_EQ(failed->provider_error_code, "500");
  }
}

// A "completed" without its URL is a provider fault, not a success.
TEST_F(KieClipOperationsTest, SuccessWithoutTheUrlIsAFailure) {
  auto done = Poll(music::v1::CLIP_OPERATION_CONVERT_TO_WAV,
                   R"({"code":200,"msg":"success","data":{"taskId":"op-1",
                   "response":{"audioWavUrl":null},"successFlag":"SUCCESS"}})");
  ASSERT_THAT(done, IsOk());
  EXPECT_EQ(done->state, ProviderState::kFailed);
  EXPECT_EQ(done->error_code, StatusCode::kInternal);
}

// CONTRACT-NOTES: vocal-removal `response {originUrl, instrumentalUrl, vocalUrl, ...}` (null
// where absent; times epoch milliseconds).
TEST_F(KieClipOperationsTest, StemPollNamesEachStem) {
  auto done =
      Poll(music::v1::CLIP_OPERATION_SPLIT_STEMS,
           R"({"code":200,"msg":"success","data":{"taskId":"op-1","createTime":1700000000000,
                   "response":{"originUrl":"o","instrumentalUrl":null,"vocalUrl":"v",
                   "drumsUrl":"d","woodwindsUrl":"w","pianoUrl":null},"successFlag":"SUCCESS"}})");
  ASSERT_THAT(done, IsOk());
  EXPECT_EQ(client_->last().url, "https://kie.test/api/v1/vocal-removal/record-info?taskId=op-1");
  EXPECT_EQ(done->state, ProviderState::kSucceeded);
  std::vector<std::string> names;
  for (const auto& [name, url] : done->operation_result.stem_urls()) names.push_back(name);
  EXPECT_THAT(names, UnorderedElementsAre("origin", "vocals", "drums", "woodwinds"));
}

// CONTRACT-NOTES: WAV callback `audioWavUrl (older docs: audio_wav_url)`; vocal separation
// `vocal_removal_info | vocal_separation_info`; video `video_url`.
TEST_F(KieClipOperationsTest, CallbacksAcceptEverySpellingTheNotesList) {
  for (const char* key : {"audioWavUrl", "audio_wav_url"}) {
    auto update = Callback(absl::StrCat(R"({"code":200,"msg":"ok","data":{"task_id":"op-1",")", key,
                                        R"(":"https://f.example/a.wav"}})"));
    ASSERT_THAT(update, IsOk()) << key;
    EXPECT_EQ(update->state, ProviderState::kSucceeded);
    EXPECT_EQ(update->provider_task_id, "op-1");
    EXPECT_EQ(update->operation_result.wav_url(), "https://f.example/a.wav") << key;
  }
  for (const char* key : {"vocal_removal_info", "vocal_separation_info"}) {
    auto update = Callback(absl::StrCat(R"({"code":200,"msg":"ok","data":{"task_id":"op-1",")", key,
                                        R"(":{"vocal_url":"v","instrumental_url":"i",
                                        "backing_vocals_url":null}}})"));
    ASSERT_THAT(update, IsOk()) << key;
    EXPECT_EQ(update->state, ProviderState::kSucceeded);
    EXPECT_EQ(update->operation_result.stem_urls().at("vocals"), "v") << key;
    EXPECT_EQ(update->operation_result.stem_urls().at("instrumental"), "i") << key;
  }
  auto video = Callback(R"({"code":200,"msg":"ok","data":{"task_id":"op-1","video_url":"m"}})");
  ASSERT_THAT(video, IsOk());
  EXPECT_EQ(video->operation_result.video_url(), "m");

  auto failed = Callback(R"({"code":500,"msg":"failed","data":{"task_id":"op-1"}})");
  ASSERT_THAT(failed, IsOk());
  EXPECT_EQ(failed->state, ProviderState::kFailed);
  EXPECT_EQ(failed->provider_error_code, "500");

  EXPECT_THAT(Callback(R"({"code":200,"msg":"ok","data":{"audioWavUrl":"x"}})"),
              StatusIs(StatusCode::kInvalidArgument));  // no task_id
}

// CONTRACT-NOTES: timestamped lyrics answer at once; "one stored copy spells start_s / end_s /
// p_align, so accept both".
TEST_F(KieClipOperationsTest, TimestampedLyricsAcceptBothSpellings) {
  client_->Answer(200, R"({"code":200,"msg":"success","data":{"alignedWords":[
      {"word":"hello","success":true,"startS":1.5,"endS":2.0,"palign":0.9},
      {"word":"world","success":false,"start_s":2.5,"end_s":3.25,"p_align":0.4}],
      "waveformData":[0.1,0.5],"hootCer":0.2,"isStreamed":true}})");
  ClipRef ref{"gen-7", "clip-9"};
  auto lyrics = Adapter()->GetTimestampedLyrics(ref);
  ASSERT_THAT(lyrics, IsOk());
  EXPECT_EQ(client_->last().url, "https://kie.test/api/v1/generate/get-timestamped-lyrics");
  EXPECT_EQ(client_->last().body, R"({"taskId":"gen-7","audioId":"clip-9"})");
  ASSERT_EQ(lyrics->aligned_words_size(), 2);
  EXPECT_DOUBLE_EQ(lyrics->aligned_words(1).start_seconds(), 2.5);
  EXPECT_DOUBLE_EQ(lyrics->aligned_words(1).end_seconds(), 3.25);
  EXPECT_DOUBLE_EQ(lyrics->aligned_words(1).alignment_score(), 0.4);
  EXPECT_FALSE(lyrics->aligned_words(1).aligned());
  EXPECT_EQ(lyrics->waveform_size(), 2);
  EXPECT_TRUE(lyrics->streamed());
}

// CONTRACT-NOTES: `POST /api/v1/style/generate {content}`; `GET /api/v1/chat/credit` ->
// `{code: 200, msg, data: <integer credits>}`.
TEST_F(KieClipOperationsTest, StyleBoostAndCredit) {
  client_->Answer(200, R"({"code":200,"msg":"success","data":{"taskId":"s-1","param":"pop",
      "result":"bright pop","creditsConsumed":0.5,"creditsRemaining":99.5,"successFlag":"1",
      "errorCode":null,"errorMessage":null,"createTime":"2025-01-01 00:00:00"}})");
  auto boost = Adapter()->BoostStyle("pop");
  ASSERT_THAT(boost, IsOk());
  EXPECT_EQ(client_->last().body, R"({"content":"pop"})");
  EXPECT_EQ(boost->style, "bright pop");
  EXPECT_EQ(boost->credits_consumed_micros, 500'000);
  EXPECT_EQ(boost->credits_remaining_micros, 99'500'000);

  client_->Answer(200, R"({"code":200,"msg":"success","data":1234})");
  auto balance = Adapter()->GetBalance();
  ASSERT_THAT(balance, IsOk());
  EXPECT_EQ(client_->last().method, "GET");
  EXPECT_EQ(client_->last().url, "https://kie.test/api/v1/chat/credit");
  EXPECT_EQ(balance->balance_micros, 1'234'000'000);
  EXPECT_EQ(balance->currency, "CREDITS");

  client_->Answer(401, R"({"code":401,"msg":"You do not have access permissions"})");
  EXPECT_THAT(Adapter()->GetBalance(), StatusIs(StatusCode::kFailedPrecondition));
}

}  // namespace
}  // namespace music::adapters::kie
