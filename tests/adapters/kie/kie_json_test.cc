// The kie.ai readers against the provider's own examples (seed 004, WIRE.md) and broken variants:
// each broken body gives a clean error or a failed update, never a crash.

#include "adapters/kie/kie_json.h"

#include <string>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_replace.h"
#include "adapters/kie/kie_status.h"
#include "gtest/gtest.h"

namespace music::adapters::kie {
namespace {

using absl::StatusCode;

// Seed 004 "Successful Response".
constexpr char kSeedCreateAnswer[] = R"({
  "code": 200,
  "msg": "success",
  "data": {
    "taskId": "5c79****be8e"
  }
})";

// Seed 004 "Task Status Response".
constexpr char kSeedTaskStatus[] = R"({
  "code": 200,
  "msg": "success",
  "data": {
    "taskId": "5c79****be8e",
    "status": "SUCCESS",
    "response": {
      "sunoData": [
        {
          "id": "e231****-****-****-****-****8cadc7dc",
          "audioUrl": "https://example.cn/****.mp3",
          "streamAudioUrl": "https://example.cn/****",
          "imageUrl": "https://example.cn/****.jpeg",
          "prompt": "A calm and relaxing piano track",
          "title": "Peaceful Piano",
          "tags": "calm, relaxing, piano",
          "duration": 198.44,
          "createTime": "2025-01-01 00:00:00"
        }
      ]
    }
  }
})";

// WIRE.md "Poll": the full record-info shape, while the second clip is still rendering.
constexpr char kWireMusicRecord[] = R"({"code":200,"msg":"success","data":{"taskId":"t-1",
  "parentMusicId":"","param":"{\"prompt\":\"x\"}","response":{"taskId":"t-1","sunoData":[
  {"id":"c1","audioUrl":"https://cdn/c1.mp3","streamAudioUrl":"https://cdn/s1","imageUrl":
  "https://cdn/c1.jpg","prompt":"[Verse] la","modelName":"chirp-v4-5","title":"T1","tags":"folk",
  "createTime":"2025-01-01 00:00:00","duration":120},
  {"id":"c2","audioUrl":"","streamAudioUrl":"https://cdn/s2","imageUrl":null,"prompt":null,
  "modelName":"chirp-v4-5","title":"T2","tags":"folk","createTime":null,"duration":null}]},
  "status":"FIRST_SUCCESS","type":"chirp-v4-5","operationType":"generate","errorCode":null,
  "errorMessage":null}})";

// WIRE.md "Poll": lyrics record-info.
constexpr char kWireLyricsRecord[] = R"({"code":200,"msg":"success","data":{"taskId":"l-1",
  "param":"{}","response":{"taskId":"l-1","data":[{"text":"[Verse]\nline","title":"Song A",
  "status":"complete","errorMessage":""},{"text":"[Chorus]\nla la","title":"Song B",
  "status":"complete","errorMessage":""}]},"status":"SUCCESS","type":"LYRICS","errorCode":null,
  "errorMessage":null}})";

// WIRE.md "Callbacks": a music `complete` callback with both snake_case clips.
constexpr char kWireCompleteCallback[] = R"({"code":200,"msg":"All generated successfully.",
  "data":{"callbackType":"complete","task_id":"t-1","data":[
  {"id":"c1","audio_url":"https://cdn/c1.mp3","source_audio_url":"https://src/c1.mp3",
  "stream_audio_url":"https://cdn/s1","source_stream_audio_url":"https://src/s1",
  "image_url":"https://cdn/c1.jpg","source_image_url":"https://src/c1.jpg","prompt":"[Verse] la",
  "model_name":"chirp-v4-5","title":"T1","tags":"folk","createTime":"2025-01-01 00:00:00",
  "duration":198.44},
  {"id":"c2","audio_url":"https://cdn/c2.mp3","stream_audio_url":"https://cdn/s2",
  "image_url":"https://cdn/c2.jpg","prompt":"[Verse] la","model_name":"chirp-v4-5","title":"T2",
  "tags":"folk","createTime":"2025-01-01 00:00:00","duration":201}]}})";

// WIRE.md: the error callback, verbatim.
constexpr char kWireErrorCallback[] =
    R"({"code":501,"msg":"Audio generation failed","data":{"callbackType":
  "error","task_id":"t-1","data":null}})";

// WIRE.md: the lyrics callback.
constexpr char kWireLyricsCallback[] =
    R"({"code":200,"msg":"All generated successfully.","data":{"callbackType":"complete",
  "task_id":"l-1","data":[{"text":"[Verse] hello","title":"Hello","status":"complete",
  "error_message":""}]}})";

// ---------------------------------------------------------------------------------------------
// Envelope and create answer.

TEST(ParseKieEnvelopeTest, SeedCreateAnswer) {
  auto envelope = ParseKieEnvelope(kSeedCreateAnswer);
  ASSERT_TRUE(envelope.has_value());
  EXPECT_EQ(envelope->code, 200);
  EXPECT_EQ(envelope->msg, "success");
}

TEST(ParseKieEnvelopeTest, ErrorEnvelopeWithNullData) {
  auto envelope = ParseKieEnvelope(R"({"code":429,"msg":"rate limited","data":null})");
  ASSERT_TRUE(envelope.has_value());
  EXPECT_EQ(envelope->code, 429);
  EXPECT_EQ(envelope->msg, "rate limited");
}

TEST(ParseKieEnvelopeTest, NoEnvelopeWhenCodeIsNotAnInteger) {
  EXPECT_FALSE(ParseKieEnvelope(R"({"code":"200","msg":"success"})").has_value());
  EXPECT_FALSE(ParseKieEnvelope(R"({"code":200.5})").has_value());
  EXPECT_FALSE(ParseKieEnvelope(R"({"msg":"no code"})").has_value());
  EXPECT_FALSE(ParseKieEnvelope(R"([200])").has_value());
  EXPECT_FALSE(ParseKieEnvelope("<html>502 Bad Gateway</html>").has_value());
  EXPECT_FALSE(ParseKieEnvelope("").has_value());
  EXPECT_FALSE(ParseKieEnvelope(R"({"code":200,)").has_value());
}

TEST(ParseKieEnvelopeTest, NonStringMsgKeepsTheCode) {
  auto envelope = ParseKieEnvelope(R"({"code":500,"msg":{"oops":1}})");
  ASSERT_TRUE(envelope.has_value());
  EXPECT_EQ(envelope->code, 500);
  EXPECT_EQ(envelope->msg, "");
}

TEST(ParseKieCreateAnswerTest, SeedExample) {
  absl::StatusOr<std::string> task_id = ParseKieCreateAnswer(kSeedCreateAnswer);
  ASSERT_TRUE(task_id.ok()) << task_id.status();
  EXPECT_EQ(*task_id, "5c79****be8e");
}

TEST(ParseKieCreateAnswerTest, BrokenAnswersAreInternal) {
  for (const char* body : {
           "",
           R"({"code":200,"msg":"success","data":{"taskId":"5c79)",  // truncated
           R"({"code":200,"msg":"success"})",                        // no data
           R"({"code":200,"msg":"success","data":null})",
           R"({"code":200,"msg":"success","data":{}})",
           R"({"code":200,"msg":"success","data":{"taskId":""}})",
           R"({"code":200,"msg":"success","data":{"taskId":42}})",
           R"({"code":"200","msg":"success","data":{"taskId":"5c79****be8e"}})",
           R"({"msg":"success","data":{"taskId":"5c79****be8e"}})",
           R"({"code":500,"msg":"error","data":{"taskId":"5c79****be8e"}})",
           R"({"code":200,"msg":"success","data":["taskId"]})",
           R"("just a string")",
           "null",
       }) {
    absl::StatusOr<std::string> task_id = ParseKieCreateAnswer(body);
    ASSERT_FALSE(task_id.ok()) << body;
    EXPECT_EQ(task_id.status().code(), StatusCode::kInternal) << body;
  }
}

// ---------------------------------------------------------------------------------------------
// Music record-info.

TEST(ParseKieMusicRecordTest, SeedTaskStatusResponse) {
  absl::StatusOr<ProviderUpdate> update = ParseKieMusicRecord(kSeedTaskStatus);
  ASSERT_TRUE(update.ok()) << update.status();
  EXPECT_EQ(update->provider_task_id, "5c79****be8e");
  EXPECT_EQ(update->state, ProviderState::kSucceeded);
  EXPECT_EQ(update->provider_status, "SUCCESS");
  EXPECT_EQ(update->error_code, StatusCode::kOk);
  ASSERT_EQ(update->clips.size(), 1u);
  const music::v1::Clip& clip = update->clips[0];
  EXPECT_EQ(clip.clip_id(), "e231****-****-****-****-****8cadc7dc");
  EXPECT_EQ(clip.audio_url(), "https://example.cn/****.mp3");
  EXPECT_EQ(clip.stream_audio_url(), "https://example.cn/****");
  EXPECT_EQ(clip.image_url(), "https://example.cn/****.jpeg");
  EXPECT_EQ(clip.lyrics(), "A calm and relaxing piano track");
  EXPECT_EQ(clip.title(), "Peaceful Piano");
  EXPECT_EQ(clip.tags(), "calm, relaxing, piano");
  EXPECT_DOUBLE_EQ(clip.duration_seconds(), 198.44);
  EXPECT_EQ(clip.model_name(), "");
}

TEST(ParseKieMusicRecordTest, WireShapeWhileRunningToleratesNulls) {
  absl::StatusOr<ProviderUpdate> update = ParseKieMusicRecord(kWireMusicRecord);
  ASSERT_TRUE(update.ok()) << update.status();
  EXPECT_EQ(update->state, ProviderState::kRunning);
  EXPECT_TRUE(update->first_clip_ready);
  EXPECT_FALSE(update->lyrics_ready);
  EXPECT_EQ(update->provider_status, "FIRST_SUCCESS");
  EXPECT_EQ(update->provider_error_code, "");
  EXPECT_EQ(update->error_message, "");
  // While running, clips without audio yet are kept (their stream URL is useful).
  ASSERT_EQ(update->clips.size(), 2u);
  EXPECT_EQ(update->clips[0].model_name(), "chirp-v4-5");
  EXPECT_DOUBLE_EQ(update->clips[0].duration_seconds(), 120);
  EXPECT_EQ(update->clips[1].audio_url(), "");
  EXPECT_EQ(update->clips[1].stream_audio_url(), "https://cdn/s2");
  EXPECT_EQ(update->clips[1].image_url(), "");
  EXPECT_DOUBLE_EQ(update->clips[1].duration_seconds(), 0);
}

TEST(ParseKieMusicRecordTest, PendingWithNullResponse) {
  absl::StatusOr<ProviderUpdate> update = ParseKieMusicRecord(
      R"({"code":200,"msg":"success","data":{"taskId":"t","status":"PENDING","response":null,
          "errorCode":null,"errorMessage":null}})");
  ASSERT_TRUE(update.ok()) << update.status();
  EXPECT_EQ(update->state, ProviderState::kPending);
  EXPECT_TRUE(update->clips.empty());
}

TEST(ParseKieMusicRecordTest, TextSuccessWithNullSunoData) {
  absl::StatusOr<ProviderUpdate> update = ParseKieMusicRecord(
      R"({"code":200,"data":{"taskId":"t","status":"TEXT_SUCCESS","response":{"sunoData":null}}})");
  ASSERT_TRUE(update.ok()) << update.status();
  EXPECT_EQ(update->state, ProviderState::kRunning);
  EXPECT_TRUE(update->lyrics_ready);
}

// CONTRACT-NOTES "kie.ai": record-info "`errorCode` (400 copyrighted lyrics, 408 timeout, 413
// audio matches an existing work)"; callback "`code` values: 200, 400, 408, 413, ...". One table
// for both: the old poll path read these as INTERNAL while a callback read INVALID_ARGUMENT.
TEST(ParseKieMusicRecordTest, FailureCarriesErrorCodeAndMessage) {
  absl::StatusOr<ProviderUpdate> update = ParseKieMusicRecord(
      R"({"code":200,"data":{"taskId":"t","status":"GENERATE_AUDIO_FAILED","response":null,
          "errorCode":413,"errorMessage":"Audio matches an existing work"}})");
  ASSERT_TRUE(update.ok()) << update.status();
  EXPECT_EQ(update->state, ProviderState::kFailed);
  EXPECT_EQ(update->error_code, StatusCode::kInvalidArgument);
  EXPECT_EQ(update->provider_error_code, "413");
  EXPECT_EQ(update->error_message, "Audio matches an existing work");
}

TEST(ParseKieMusicRecordTest, SensitiveWordWithoutMessageGetsOne) {
  absl::StatusOr<ProviderUpdate> update =
      ParseKieMusicRecord(R"({"code":200,"data":{"taskId":"t","status":"SENSITIVE_WORD_ERROR"}})");
  ASSERT_TRUE(update.ok()) << update.status();
  EXPECT_EQ(update->state, ProviderState::kFailed);
  EXPECT_EQ(update->error_code, StatusCode::kInvalidArgument);
  EXPECT_NE(update->error_message.find("SENSITIVE_WORD_ERROR"), std::string::npos);
}

TEST(ParseKieMusicRecordTest, UnknownStatusKeepsRunningAndRaw) {
  absl::StatusOr<ProviderUpdate> update =
      ParseKieMusicRecord(R"({"code":200,"data":{"taskId":"t","status":"QUEUED_SOMEWHERE"}})");
  ASSERT_TRUE(update.ok()) << update.status();
  EXPECT_EQ(update->state, ProviderState::kRunning);
  EXPECT_EQ(update->provider_status, "QUEUED_SOMEWHERE");
}

TEST(ParseKieMusicRecordTest, SuccessWithoutAudioFails) {
  for (const char* response : {
           R"(null)",
           R"({"sunoData":null})",
           R"({"sunoData":[]})",
           R"({"sunoData":[{"id":"c1","audioUrl":""},{"id":"c2","audioUrl":null}]})",
           R"({"sunoData":[{"id":"c1","streamAudioUrl":"https://cdn/s1"}]})",
       }) {
    absl::StatusOr<ProviderUpdate> update = ParseKieMusicRecord(absl::StrCat(
        R"({"code":200,"data":{"taskId":"t","status":"SUCCESS","response":)", response, "}}"));
    ASSERT_TRUE(update.ok()) << response << ": " << update.status();
    EXPECT_EQ(update->state, ProviderState::kFailed) << response;
    EXPECT_EQ(update->error_code, StatusCode::kInternal) << response;
    EXPECT_NE(update->error_message.find("success without audio"), std::string::npos);
  }
}

TEST(ParseKieMusicRecordTest, SuccessDropsClipsWithoutAudio) {
  absl::StatusOr<ProviderUpdate> update = ParseKieMusicRecord(
      R"({"code":200,"data":{"taskId":"t","status":"SUCCESS","response":{"sunoData":[
          {"id":"c1","audioUrl":""},{"id":"c2","audioUrl":"https://cdn/c2.mp3"}]}}})");
  ASSERT_TRUE(update.ok()) << update.status();
  EXPECT_EQ(update->state, ProviderState::kSucceeded);
  ASSERT_EQ(update->clips.size(), 1u);
  EXPECT_EQ(update->clips[0].clip_id(), "c2");
}

TEST(ParseKieMusicRecordTest, ErrorCodeAsStringIsKept) {
  absl::StatusOr<ProviderUpdate> update = ParseKieMusicRecord(
      R"({"code":200,"data":{"taskId":"t","status":"CREATE_TASK_FAILED","errorCode":"408"}})");
  ASSERT_TRUE(update.ok()) << update.status();
  EXPECT_EQ(update->provider_error_code, "408");
  EXPECT_EQ(update->error_code, StatusCode::kDeadlineExceeded);  // 408: timeout
}

TEST(ParseKieMusicRecordTest, PollAndCallbackMapADocumentedCodeAlike) {
  for (int code : {400, 408, 413}) {
    absl::StatusOr<ProviderUpdate> polled = ParseKieMusicRecord(absl::StrCat(
        R"({"code":200,"data":{"taskId":"t","status":"GENERATE_AUDIO_FAILED","errorCode":)", code,
        R"(,"errorMessage":"x"}})"));
    ASSERT_TRUE(polled.ok()) << polled.status();
    EXPECT_EQ(polled->error_code, KieFailureCode(code)) << code;
    EXPECT_NE(polled->error_code, StatusCode::kInternal) << code;
  }
  // An undocumented errorCode leaves the status's own code.
  absl::StatusOr<ProviderUpdate> other = ParseKieMusicRecord(
      R"({"code":200,"data":{"taskId":"t","status":"GENERATE_AUDIO_FAILED","errorCode":501}})");
  ASSERT_TRUE(other.ok()) << other.status();
  EXPECT_EQ(other->error_code, StatusCode::kInternal);
}

constexpr char kEmbeddedNul[] = "{\"code\":200,\0\"data\":{}}";

std::string NestedGarbage(int depth) {
  return absl::StrCat(std::string(depth, '['), std::string(depth, ']'));
}

TEST(ParseKieMusicRecordTest, BrokenBodiesAreInternalErrors) {
  const std::string deep = NestedGarbage(200000);
  const std::string deep_in_data =
      absl::StrCat(R"({"code":200,"data":{"taskId":"t","status":"SUCCESS","response":)",
                   NestedGarbage(100000), "}}");
  const std::string seed = kSeedTaskStatus;
  const std::string truncated = seed.substr(0, seed.size() / 2);
  for (const std::string& body : std::initializer_list<std::string>{
           "",
           "   ",
           truncated,
           deep,
           deep_in_data,
           "null",
           "[]",
           R"({"code":200,"msg":"success"})",
           R"({"code":200,"msg":"success","data":null})",
           R"({"code":"200","data":{"taskId":"t","status":"PENDING"}})",
           R"({"data":{"taskId":"t","status":"PENDING"}})",
           R"({"code":200,"data":"SUCCESS"})",
           R"({"code":200,"data":{"taskId":"t"}})",  // no status
           R"({"code":200,"data":{"taskId":"t","status":null}})",
           R"({"code":200,"data":{"taskId":"t","status":7}})",
           R"({"code":200,"data":{"taskId":7,"status":"SUCCESS"}})",
           R"({"code":200,"data":{"taskId":"t","status":"SUCCESS","response":[]}})",
           R"({"code":200,"data":{"taskId":"t","status":"SUCCESS","response":{"sunoData":{}}}})",
           R"({"code":200,"data":{"taskId":"t","status":"SUCCESS","response":{"sunoData":[1]}}})",
           R"({"code":200,"data":{"taskId":"t","status":"SUCCESS","response":{"sunoData":[
               {"id":"c","audioUrl":5}]}}})",
           R"({"code":200,"data":{"taskId":"t","status":"SUCCESS","response":{"sunoData":[
               {"id":"c","audioUrl":"u","duration":"198.44"}]}}})",
           R"({"code":200,"data":{"taskId":"t","status":"FAILED","errorCode":{"x":1}}})",
           R"({"code":200,"data":{"taskId":"t","status":"FAILED","errorMessage":["x"]}})",
           absl::StrCat(seed, "trailing"),
           std::string(kEmbeddedNul, sizeof(kEmbeddedNul) - 1),
       }) {
    absl::StatusOr<ProviderUpdate> update = ParseKieMusicRecord(body);
    ASSERT_FALSE(update.ok()) << body.substr(0, 200);
    EXPECT_EQ(update.status().code(), StatusCode::kInternal) << body.substr(0, 200);
  }
}

// ---------------------------------------------------------------------------------------------
// Lyrics record-info.

TEST(ParseKieLyricsRecordTest, WireExample) {
  absl::StatusOr<ProviderUpdate> update = ParseKieLyricsRecord(kWireLyricsRecord);
  ASSERT_TRUE(update.ok()) << update.status();
  EXPECT_EQ(update->provider_task_id, "l-1");
  EXPECT_EQ(update->state, ProviderState::kSucceeded);
  ASSERT_EQ(update->lyric_variants.size(), 2u);
  EXPECT_EQ(update->lyric_variants[0].title(), "Song A");
  EXPECT_EQ(update->lyric_variants[0].text(), "[Verse]\nline");
  EXPECT_EQ(update->lyric_variants[1].title(), "Song B");
}

TEST(ParseKieLyricsRecordTest, SuccessWithoutTextFails) {
  absl::StatusOr<ProviderUpdate> update = ParseKieLyricsRecord(
      R"({"code":200,"data":{"taskId":"l","status":"SUCCESS","response":{"data":[
          {"text":"","title":"x","status":"failed","errorMessage":"filtered"}]}}})");
  ASSERT_TRUE(update.ok()) << update.status();
  EXPECT_EQ(update->state, ProviderState::kFailed);
  EXPECT_EQ(update->error_code, StatusCode::kInternal);
  EXPECT_NE(update->error_message.find("filtered"), std::string::npos);

  update = ParseKieLyricsRecord(
      R"({"code":200,"data":{"taskId":"l","status":"SUCCESS","response":null}})");
  ASSERT_TRUE(update.ok()) << update.status();
  EXPECT_EQ(update->state, ProviderState::kFailed);
}

TEST(ParseKieLyricsRecordTest, FailedStatus) {
  absl::StatusOr<ProviderUpdate> update = ParseKieLyricsRecord(
      R"({"code":200,"data":{"taskId":"l","status":"GENERATE_LYRICS_FAILED","response":null,
          "errorCode":null,"errorMessage":"model overloaded"}})");
  ASSERT_TRUE(update.ok()) << update.status();
  EXPECT_EQ(update->state, ProviderState::kFailed);
  EXPECT_EQ(update->error_code, StatusCode::kInternal);
  EXPECT_EQ(update->error_message, "model overloaded");
}

TEST(ParseKieLyricsRecordTest, BrokenBodiesAreInternalErrors) {
  for (const char* body : {
           "",
           R"({"code":200,"data":{"taskId":"l","status":"SUCCESS","response":{"data":{}}}})",
           R"({"code":200,"data":{"taskId":"l","status":"SUCCESS","response":{"data":["x"]}}})",
           R"({"code":200,"data":{"taskId":"l","status":"SUCCESS","response":{"data":[
               {"text":1}]}}})",
           R"({"code":200,"data":{"taskId":"l","status":"SUCCESS","response":{"data":[)",
       }) {
    absl::StatusOr<ProviderUpdate> update = ParseKieLyricsRecord(body);
    ASSERT_FALSE(update.ok()) << body;
    EXPECT_EQ(update.status().code(), StatusCode::kInternal) << body;
  }
}

// ---------------------------------------------------------------------------------------------
// Callbacks.

TEST(ParseKieMusicCallbackTest, CompleteCallback) {
  absl::StatusOr<ProviderUpdate> update = ParseKieMusicCallback(kWireCompleteCallback);
  ASSERT_TRUE(update.ok()) << update.status();
  EXPECT_EQ(update->provider_task_id, "t-1");
  EXPECT_EQ(update->state, ProviderState::kSucceeded);
  EXPECT_EQ(update->provider_status, "SUCCESS");
  ASSERT_EQ(update->clips.size(), 2u);
  const music::v1::Clip& clip = update->clips[0];
  EXPECT_EQ(clip.clip_id(), "c1");
  EXPECT_EQ(clip.audio_url(), "https://cdn/c1.mp3");  // not source_audio_url
  EXPECT_EQ(clip.stream_audio_url(), "https://cdn/s1");
  EXPECT_EQ(clip.image_url(), "https://cdn/c1.jpg");
  EXPECT_EQ(clip.lyrics(), "[Verse] la");
  EXPECT_EQ(clip.model_name(), "chirp-v4-5");
  EXPECT_EQ(clip.title(), "T1");
  EXPECT_EQ(clip.tags(), "folk");
  EXPECT_DOUBLE_EQ(clip.duration_seconds(), 198.44);
  EXPECT_DOUBLE_EQ(update->clips[1].duration_seconds(), 201);
}

TEST(ParseKieMusicCallbackTest, TextCallbackWithEmptyData) {
  for (const char* data : {"[]", "null"}) {
    absl::StatusOr<ProviderUpdate> update = ParseKieMusicCallback(absl::StrCat(
        R"({"code":200,"msg":"Text generation completed.","data":{"callbackType":"text",)",
        R"("task_id":"t-1","data":)", data, "}}"));
    ASSERT_TRUE(update.ok()) << update.status();
    EXPECT_EQ(update->state, ProviderState::kRunning);
    EXPECT_TRUE(update->lyrics_ready);
    EXPECT_EQ(update->provider_status, "TEXT_SUCCESS");
  }
}

TEST(ParseKieMusicCallbackTest, FirstCallback) {
  absl::StatusOr<ProviderUpdate> update = ParseKieMusicCallback(
      R"({"code":200,"msg":"First track done","data":{"callbackType":"first","task_id":"t-1",
          "data":[{"id":"c1","audio_url":"https://cdn/c1.mp3"},{"id":"c2","audio_url":""}]}})");
  ASSERT_TRUE(update.ok()) << update.status();
  EXPECT_EQ(update->state, ProviderState::kRunning);
  EXPECT_TRUE(update->first_clip_ready);
  EXPECT_EQ(update->clips.size(), 2u);
}

TEST(ParseKieMusicCallbackTest, ErrorCallback) {
  absl::StatusOr<ProviderUpdate> update = ParseKieMusicCallback(kWireErrorCallback);
  ASSERT_TRUE(update.ok()) << update.status();
  EXPECT_EQ(update->state, ProviderState::kFailed);
  EXPECT_EQ(update->error_code, StatusCode::kInternal);
  EXPECT_EQ(update->provider_error_code, "501");
  EXPECT_EQ(update->error_message, "Audio generation failed");
  EXPECT_EQ(update->provider_status, "callback:error");
}

TEST(ParseKieMusicCallbackTest, FailureCodesMapPerWire) {
  const std::pair<int, StatusCode> cases[] = {{400, StatusCode::kInvalidArgument},
                                              {408, StatusCode::kDeadlineExceeded},
                                              {413, StatusCode::kInvalidArgument},
                                              {531, StatusCode::kInternal}};
  for (const auto& [code, expected] : cases) {
    absl::StatusOr<ProviderUpdate> update = ParseKieMusicCallback(absl::StrCat(
        R"({"code":)", code,
        R"(,"msg":"failed","data":{"callbackType":"error","task_id":"t","data":null}})"));
    ASSERT_TRUE(update.ok()) << update.status();
    EXPECT_EQ(update->state, ProviderState::kFailed);
    EXPECT_EQ(update->error_code, expected) << code;
    EXPECT_EQ(update->provider_error_code, absl::StrCat(code));
  }
}

TEST(ParseKieMusicCallbackTest, CompleteWithoutAudioFails) {
  absl::StatusOr<ProviderUpdate> update = ParseKieMusicCallback(
      R"({"code":200,"msg":"ok","data":{"callbackType":"complete","task_id":"t","data":[
          {"id":"c1","audio_url":""}]}})");
  ASSERT_TRUE(update.ok()) << update.status();
  EXPECT_EQ(update->state, ProviderState::kFailed);
  EXPECT_EQ(update->error_code, StatusCode::kInternal);
  EXPECT_NE(update->error_message.find("success without audio"), std::string::npos);
}

TEST(ParseKieMusicCallbackTest, BrokenBodiesAreInvalidArgument) {
  const std::string complete = kWireCompleteCallback;
  for (const std::string& body : std::initializer_list<std::string>{
           "",
           complete.substr(0, complete.size() - 3),
           NestedGarbage(200000),
           R"({"code":"200","data":{"callbackType":"complete","task_id":"t","data":[]}})",
           R"({"msg":"no code","data":{"callbackType":"complete","task_id":"t","data":[]}})",
           R"({"code":200,"data":null})",
           R"({"code":200,"data":{"task_id":"t","data":[]}})",              // no callbackType
           R"({"code":200,"data":{"callbackType":"complete","data":[]}})",  // no task_id
           R"({"code":200,"data":{"callbackType":"complete","task_id":"t","data":{}}})",
           R"({"code":200,"data":{"callbackType":"complete","task_id":"t","data":["c"]}})",
           R"({"code":200,"data":{"callbackType":"complete","task_id":"t","data":[
               {"id":"c","audio_url":["u"]}]}})",
           R"({"code":200,"data":{"callbackType":3,"task_id":"t","data":[]}})",
       }) {
    absl::StatusOr<ProviderUpdate> update = ParseKieMusicCallback(body);
    ASSERT_FALSE(update.ok()) << body.substr(0, 200);
    EXPECT_EQ(update.status().code(), StatusCode::kInvalidArgument) << body.substr(0, 200);
  }
}

TEST(ParseKieLyricsCallbackTest, WireExample) {
  absl::StatusOr<ProviderUpdate> update = ParseKieLyricsCallback(kWireLyricsCallback);
  ASSERT_TRUE(update.ok()) << update.status();
  EXPECT_EQ(update->provider_task_id, "l-1");
  EXPECT_EQ(update->state, ProviderState::kSucceeded);
  EXPECT_EQ(update->provider_status, "SUCCESS");
  ASSERT_EQ(update->lyric_variants.size(), 1u);
  EXPECT_EQ(update->lyric_variants[0].title(), "Hello");
  EXPECT_EQ(update->lyric_variants[0].text(), "[Verse] hello");
}

TEST(ParseKieLyricsCallbackTest, CompleteWithoutTextFails) {
  absl::StatusOr<ProviderUpdate> update = ParseKieLyricsCallback(
      R"({"code":200,"msg":"ok","data":{"callbackType":"complete","task_id":"l","data":[
          {"text":"","title":"","status":"failed","error_message":"sensitive words"}]}})");
  ASSERT_TRUE(update.ok()) << update.status();
  EXPECT_EQ(update->state, ProviderState::kFailed);
  EXPECT_NE(update->error_message.find("sensitive words"), std::string::npos);
}

TEST(ParseKieLyricsCallbackTest, ErrorCode) {
  absl::StatusOr<ProviderUpdate> update = ParseKieLyricsCallback(
      R"({"code":400,"msg":"copyrighted","data":{"callbackType":"complete","task_id":"l",
          "data":null}})");
  ASSERT_TRUE(update.ok()) << update.status();
  EXPECT_EQ(update->state, ProviderState::kFailed);
  EXPECT_EQ(update->error_code, StatusCode::kInvalidArgument);
  EXPECT_EQ(update->provider_error_code, "400");
}

TEST(ParseKieLyricsCallbackTest, BrokenBodiesAreInvalidArgument) {
  for (const char* body : {
           "{",
           R"({"code":200,"data":{"callbackType":"complete","task_id":"l","data":[{"text":5}]}})",
           R"({"code":200,"data":{"callbackType":"complete","task_id":"l","data":[
               {"text":"x","error_message":false}]}})",
       }) {
    absl::StatusOr<ProviderUpdate> update = ParseKieLyricsCallback(body);
    ASSERT_FALSE(update.ok()) << body;
    EXPECT_EQ(update.status().code(), StatusCode::kInvalidArgument) << body;
  }
}

}  // namespace
}  // namespace music::adapters::kie
