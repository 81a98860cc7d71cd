// The PiAPI adapter against a fake HttpClient: exact request shapes (WIRE.md, seed 003 examples),
// the error table, webhooks (shared secret, repeats), and that the API key never leaks.
#include "adapters/piapi/piapi_adapter.h"

#include <rapidjson/document.h>

#include <limits>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/time/time.h"
#include "adapters/provider_auth.h"
#include "adapters/provider_errors.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/testing/fake_http_client.h"
#include "tests/testing/status_matchers.h"

namespace music::adapters::piapi {
namespace {

using http::FakeHttpClient;

using absl::StatusCode;
using ::testing::UnorderedElementsAre;

constexpr char kApiKey[] = "piapi-secret-api-key-0123456789";
constexpr char kSecret[] = "whsec-piapi-test";
constexpr char kCallbackUrl[] = "https://svc.example/callbacks/piapi/task-1";
constexpr char kCreated[] =
    R"({"code":200,"data":{"task_id":"pi-task-1","model":"music-u","status":"pending"},)"
    R"("message":"success"})";

std::vector<std::string> Keys(const rapidjson::Value& obj) {
  std::vector<std::string> keys;
  for (const auto& m : obj.GetObject()) keys.emplace_back(m.name.GetString());
  return keys;
}

std::string Str(const rapidjson::Value& obj, const char* key) {
  auto it = obj.FindMember(key);
  if (it == obj.MemberEnd() || !it->value.IsString()) return "<missing>";
  return it->value.GetString();
}

class PiapiAdapterTest : public ::testing::Test {
 protected:
  std::unique_ptr<ProviderAdapter> Adapter(std::string secret = kSecret,
                                           std::optional<double> consume_usd_per_unit = {}) {
    PiapiOptions options;
    options.base_url = "https://piapi.test/";
    options.api_key = kApiKey;
    options.webhook_secret = std::move(secret);
    options.consume_usd_per_unit = consume_usd_per_unit;
    options.request_timeout = absl::Seconds(12);
    return NewPiapiAdapter(options, client_);
  }

  static SubmitRequest Music(music::v1::TaskInput input) {
    SubmitRequest request;
    request.kind = music::v1::TASK_KIND_MUSIC;
    request.task_id = "task-1";
    request.provider_model = "music-u";
    request.input = std::move(input);
    request.callback_url = kCallbackUrl;
    request.request_id = "req-1";
    request.idempotency_key = "task-1.piapi";
    return request;
  }

  // Submits `request` (answered kCreated) and returns the JSON body that was sent.
  rapidjson::Document SubmitAndParse(const SubmitRequest& request, std::string secret = kSecret) {
    client_->Answer(200, kCreated);
    absl::StatusOr<SubmitResult> result = Adapter(std::move(secret))->Submit(request);
    EXPECT_THAT(result, IsOk());
    if (result.ok()) {
      EXPECT_EQ(result->provider_task_id, "pi-task-1");
      EXPECT_EQ(result->endpoint, "/api/v1/task");
    }
    const http::Request sent = client_->last();
    EXPECT_EQ(sent.method, "POST");
    EXPECT_EQ(sent.url, "https://piapi.test/api/v1/task");
    EXPECT_EQ(http::FindHeader(sent.headers, "x-api-key"), kApiKey);
    EXPECT_EQ(http::FindHeader(sent.headers, "Content-Type"), "application/json");
    EXPECT_EQ(http::FindHeader(sent.headers, "Authorization"), "");
    EXPECT_EQ(sent.timeout, absl::Seconds(12));
    rapidjson::Document doc;
    doc.Parse(sent.body.c_str());
    EXPECT_FALSE(doc.HasParseError()) << sent.body;
    EXPECT_TRUE(doc.IsObject());
    return doc;
  }

  // Submits with the next answer being (status, body) and returns the error.
  absl::Status SubmitError(int status, std::string body, http::Headers headers = {}) {
    client_->Answer(status, std::move(body), std::move(headers));
    music::v1::TaskInput input;
    input.set_prompt("x");
    absl::StatusOr<SubmitResult> result = Adapter()->Submit(Music(input));
    EXPECT_FALSE(result.ok());
    return result.status();
  }

  absl::StatusOr<ProviderUpdate> PollWith(int status, std::string body,
                                          std::string task_id = "pi-task-1") {
    client_->Answer(status, std::move(body));
    PollTarget target;
    target.kind = music::v1::TASK_KIND_MUSIC;
    target.provider_task_id = std::move(task_id);
    return Adapter()->Poll(target);
  }

  std::shared_ptr<FakeHttpClient> client_ = std::make_shared<FakeHttpClient>();
};

// Seed 003 "Request Body Example of Udio Simple Prompt", with the service's callback URL.
TEST_F(PiapiAdapterTest, SimplePromptBodyMatchesTheSeed) {
  music::v1::TaskInput input;
  input.set_prompt("night breeze, piano");
  rapidjson::Document doc = SubmitAndParse(Music(input));
  EXPECT_THAT(Keys(doc), UnorderedElementsAre("model", "task_type", "input", "config"));
  EXPECT_EQ(Str(doc, "model"), "music-u");
  EXPECT_EQ(Str(doc, "task_type"), "generate_music");
  const rapidjson::Value& in = doc["input"];
  EXPECT_THAT(Keys(in), UnorderedElementsAre("gpt_description_prompt", "negative_tags",
                                             "lyrics_type", "seed"));
  EXPECT_EQ(Str(in, "gpt_description_prompt"), "night breeze, piano");
  EXPECT_EQ(Str(in, "negative_tags"), "");
  EXPECT_EQ(Str(in, "lyrics_type"), "generate");
  ASSERT_TRUE(in["seed"].IsInt64());
  EXPECT_EQ(in["seed"].GetInt64(), -1);
  const rapidjson::Value& config = doc["config"];
  EXPECT_THAT(Keys(config), UnorderedElementsAre("service_mode", "webhook_config"));
  EXPECT_EQ(Str(config, "service_mode"), "public");
  EXPECT_THAT(Keys(config["webhook_config"]), UnorderedElementsAre("endpoint", "secret"));
  EXPECT_EQ(Str(config["webhook_config"], "endpoint"), kCallbackUrl);
  EXPECT_EQ(Str(config["webhook_config"], "secret"), kSecret);
}

// Seed 003 "Request Body Example of Udio Instrumental".
TEST_F(PiapiAdapterTest, InstrumentalBody) {
  music::v1::TaskInput input;
  input.set_prompt("night breeze");
  input.set_instrumental(true);
  input.set_negative_tags("rock,metal");
  input.set_seed(1234);
  rapidjson::Document doc = SubmitAndParse(Music(input));
  const rapidjson::Value& in = doc["input"];
  EXPECT_THAT(Keys(in), UnorderedElementsAre("gpt_description_prompt", "negative_tags",
                                             "lyrics_type", "seed"));
  EXPECT_EQ(Str(in, "lyrics_type"), "instrumental");
  EXPECT_EQ(Str(in, "gpt_description_prompt"), "night breeze");
  EXPECT_EQ(Str(in, "negative_tags"), "rock,metal");
  EXPECT_EQ(in["seed"].GetInt64(), 1234);

  // A custom-mode instrumental without a prompt describes itself by its style.
  music::v1::TaskInput custom;
  custom.set_instrumental(true);
  custom.set_style("ambient, synth");
  custom.set_title("Drift");
  doc = SubmitAndParse(Music(custom));
  EXPECT_EQ(Str(doc["input"], "lyrics_type"), "instrumental");
  EXPECT_EQ(Str(doc["input"], "gpt_description_prompt"), "ambient, synth");
  EXPECT_EQ(Str(doc["input"], "title"), "Drift");
}

// Seed 003 "Request Body Example of Udio Full Lyrics".
TEST_F(PiapiAdapterTest, UserLyricsBody) {
  const std::string lyrics =
      "[Verse]\nIn the gentle evening air,\nWhispers dance without a care.\nStars ignite our "
      "dreams above,\nWrapped in warmth, we find our love.\n[Chorus]\n";
  music::v1::TaskInput input;
  input.set_lyrics(lyrics);
  input.set_style("dream pop");
  input.set_title("Evening Air");
  rapidjson::Document doc = SubmitAndParse(Music(input));
  const rapidjson::Value& in = doc["input"];
  EXPECT_THAT(Keys(in), UnorderedElementsAre("gpt_description_prompt", "prompt", "negative_tags",
                                             "lyrics_type", "seed", "title"));
  EXPECT_EQ(Str(in, "lyrics_type"), "user");
  EXPECT_EQ(Str(in, "prompt"), lyrics);
  EXPECT_EQ(Str(in, "gpt_description_prompt"), "dream pop");
  EXPECT_EQ(Str(in, "title"), "Evening Air");

  // In custom mode without `lyrics`, the prompt is the words to sing (task.proto).
  music::v1::TaskInput words;
  words.set_prompt("la la la");
  words.set_style("pop");
  words.set_title("La");
  doc = SubmitAndParse(Music(words));
  EXPECT_EQ(Str(doc["input"], "lyrics_type"), "user");
  EXPECT_EQ(Str(doc["input"], "prompt"), "la la la");
  EXPECT_EQ(Str(doc["input"], "gpt_description_prompt"), "pop");
}

// Seed 003 "Udio Song Extend Example" + CONTRACT-NOTES (continue_song_id + continue_at):
//   "input": {"gpt_description_prompt": "winter snow, Folk music", "lyrics": "",
//             "negative_tags": "", "lyrics_type": "generate", "seed": -1,
//             "continue_song_id": "1307fd94-adbc-4787-b8e3-2e89f84ef22b", "continue_at": 0}
// The same request through ContinueClip (a description, continue_at 0) gives this body; only the
// empty `"lyrics": ""` is not sent (the Create Task schema has no such member, WIRE.md).
TEST_F(PiapiAdapterTest, ContinuationBodyIsSeed003ExtendExample) {
  SubmitRequest request;
  request.kind = music::v1::TASK_KIND_CONTINUATION;
  request.provider_model = "music-u";
  request.input.set_continue_from_clip_id("1307fd94-adbc-4787-b8e3-2e89f84ef22b");
  request.input.set_continue_at_seconds(0);
  request.input.set_prompt("winter snow, Folk music");
  rapidjson::Document doc = SubmitAndParse(request);
  EXPECT_EQ(Str(doc, "model"), "music-u");
  EXPECT_EQ(Str(doc, "task_type"), "generate_music");
  const rapidjson::Value& in = doc["input"];
  EXPECT_THAT(Keys(in),
              UnorderedElementsAre("gpt_description_prompt", "negative_tags", "lyrics_type", "seed",
                                   "continue_song_id", "continue_at"));
  EXPECT_EQ(Str(in, "gpt_description_prompt"), "winter snow, Folk music");
  EXPECT_EQ(Str(in, "negative_tags"), "");
  EXPECT_EQ(Str(in, "lyrics_type"), "generate");
  ASSERT_TRUE(in["seed"].IsInt64());
  EXPECT_EQ(in["seed"].GetInt64(), -1);
  EXPECT_EQ(Str(in, "continue_song_id"), "1307fd94-adbc-4787-b8e3-2e89f84ef22b");
  ASSERT_TRUE(in["continue_at"].IsInt64());
  EXPECT_EQ(in["continue_at"].GetInt64(), 0);
}

// CONTINUATION_STYLE_DESCRIPTION_OR_LYRICS: the prompt describes (with the style), the lyrics
// are the words (`lyrics_type: "user"`, sent in `prompt` as seed 003 "Udio Full Lyrics" does).
TEST_F(PiapiAdapterTest, ContinuationBody) {
  SubmitRequest request;
  request.kind = music::v1::TASK_KIND_CONTINUATION;
  request.provider_model = "music-u";
  request.callback_url = kCallbackUrl;
  request.input.set_continue_from_clip_id("1307fd94-adbc-4787-b8e3-2e89f84ef22b");
  request.input.set_continue_at_seconds(12.5);
  request.input.set_prompt("winter snow");
  request.input.set_style("Folk music");
  request.input.set_title("Carry On");
  rapidjson::Document doc = SubmitAndParse(request);
  EXPECT_DOUBLE_EQ(doc["input"]["continue_at"].GetDouble(), 12.5);
  EXPECT_EQ(Str(doc["input"], "lyrics_type"), "generate");
  EXPECT_EQ(Str(doc["input"], "gpt_description_prompt"), "winter snow, Folk music");
  EXPECT_EQ(Str(doc["input"], "title"), "Carry On");
  EXPECT_FALSE(doc["input"].HasMember("prompt"));

  request.input.set_lyrics("[Chorus] carry on");
  doc = SubmitAndParse(request);
  EXPECT_EQ(Str(doc["input"], "lyrics_type"), "user");
  EXPECT_EQ(Str(doc["input"], "prompt"), "[Chorus] carry on");
  EXPECT_EQ(Str(doc["input"], "gpt_description_prompt"), "winter snow, Folk music");

  request.input.clear_prompt();
  request.input.clear_style();
  doc = SubmitAndParse(request);
  EXPECT_EQ(Str(doc["input"], "lyrics_type"), "user");
  EXPECT_EQ(Str(doc["input"], "prompt"), "[Chorus] carry on");

  // Nothing to sing: refused before sending (the old service sent `gpt_description_prompt: ""`
  // for every continue_at 0 continuation).
  request.input.clear_lyrics();
  request.input.clear_title();
  const size_t sent = client_->count();
  EXPECT_THAT(Adapter()->Submit(request), StatusIs(StatusCode::kInvalidArgument));
  EXPECT_EQ(client_->count(), sent);
  request.input.set_prompt("winter snow");
  request.input.set_continue_at_seconds(std::numeric_limits<double>::quiet_NaN());
  EXPECT_THAT(Adapter()->Submit(request), StatusIs(StatusCode::kInvalidArgument));
  request.input.set_continue_at_seconds(-1);
  EXPECT_THAT(Adapter()->Submit(request), StatusIs(StatusCode::kInvalidArgument));
  request.input.set_continue_at_seconds(1);
  request.input.clear_continue_from_clip_id();
  EXPECT_THAT(Adapter()->Submit(request), StatusIs(StatusCode::kInvalidArgument));
}

TEST_F(PiapiAdapterTest, NoWebhookConfigWithoutSecretOrCallbackUrl) {
  music::v1::TaskInput input;
  input.set_prompt("p");
  rapidjson::Document doc = SubmitAndParse(Music(input), /*secret=*/"");
  EXPECT_THAT(Keys(doc["config"]), UnorderedElementsAre("service_mode"));
  SubmitRequest no_url = Music(input);
  no_url.callback_url.clear();
  doc = SubmitAndParse(no_url);
  EXPECT_THAT(Keys(doc["config"]), UnorderedElementsAre("service_mode"));
}

TEST_F(PiapiAdapterTest, ServiceModeOption) {
  PiapiOptions options;
  options.api_key = kApiKey;
  options.service_mode = "private";
  client_->Answer(200, kCreated);
  music::v1::TaskInput input;
  input.set_prompt("p");
  ASSERT_THAT(NewPiapiAdapter(options, client_)->Submit(Music(input)), IsOk());
  rapidjson::Document doc;
  doc.Parse(client_->last().body.c_str());
  EXPECT_EQ(Str(doc["config"], "service_mode"), "private");
  EXPECT_EQ(client_->last().url, "https://api.piapi.ai/api/v1/task");
}

// CONTRACT-NOTES "PiAPI": "PiAPI also documents a `generate_lyrics` task (`input.prompt` ->
// `output.lyrics_pairs[{title, text}]`)".
TEST_F(PiapiAdapterTest, LyricsTasksUseGenerateLyrics) {
  SubmitRequest empty = Music({});
  empty.kind = music::v1::TASK_KIND_LYRICS;
  EXPECT_THAT(Adapter()->Submit(empty), StatusIs(StatusCode::kInvalidArgument));
  EXPECT_EQ(client_->count(), 0u);

  SubmitRequest request = Music({});
  request.kind = music::v1::TASK_KIND_LYRICS;
  request.input.set_prompt("a song about the sea");
  client_->Answer(200, R"({"code":200,"data":{"task_id":"pi-lyrics-1","status":"pending"}})");
  auto created = Adapter()->Submit(request);
  ASSERT_THAT(created, IsOk());
  EXPECT_EQ(created->provider_task_id, "pi-lyrics-1");
  rapidjson::Document doc;
  doc.Parse(client_->last().body.c_str());
  ASSERT_TRUE(doc.IsObject());
  EXPECT_EQ(Str(doc, "model"), "music-u");
  EXPECT_EQ(Str(doc, "task_type"), "generate_lyrics");
  ASSERT_TRUE(doc["input"].IsObject());
  EXPECT_EQ(doc["input"].MemberCount(), 1u);
  EXPECT_EQ(Str(doc["input"], "prompt"), "a song about the sea");
  EXPECT_FALSE(doc["config"].HasMember("webhook_config"));

  client_->Answer(200, R"({"code":200,"data":{"task_id":"pi-lyrics-1","status":"Completed",
      "output":{"lyrics_pairs":[{"title":"Sea","text":"[Verse] waves"},
                                {"title":"Tide","text":"[Verse] tides"}]}}})");
  PollTarget target;
  target.kind = music::v1::TASK_KIND_LYRICS;
  target.provider_task_id = "pi-lyrics-1";
  auto done = Adapter()->Poll(target);
  ASSERT_THAT(done, IsOk());
  EXPECT_EQ(done->state, ProviderState::kSucceeded);
  ASSERT_EQ(done->lyric_variants.size(), 2u);
  EXPECT_EQ(done->lyric_variants[0].title(), "Sea");
  EXPECT_EQ(done->lyric_variants[0].text(), "[Verse] waves");
  EXPECT_TRUE(done->clips.empty());
}

TEST_F(PiapiAdapterTest, CreateErrorTable) {
  struct Case {
    int http;
    std::string body;
    StatusCode code;
    std::string provider_code;
  };
  const std::string freeze =
      R"({"code":500,"data":{"task_id":"","status":"Failed","meta":{"usage":{"type":"usd",)"
      R"("frozen":0,"consume":0}},"error":{"code":10000,"raw_message":"failed to freeze point",)"
      R"("message":"failed to freeze point"}},"message":"failed to freeze point"})";
  const Case cases[] = {
      {500, freeze, StatusCode::kFailedPrecondition, "10000"},
      {200, R"({"code":10000,"data":null,"message":"failed to freeze point"})",
       StatusCode::kFailedPrecondition, "10000"},
      {200, R"({"code":200,"data":{"task_id":"","error":{"code":10000,"message":"m"}}})",
       StatusCode::kFailedPrecondition, "10000"},
      {402, R"({"code":402,"data":null,"message":"insufficient credits"})",
       StatusCode::kFailedPrecondition, "402"},
      {400, R"({"code":400,"data":null,"message":"bad lyrics_type"})", StatusCode::kInvalidArgument,
       "400"},
      {422, "", StatusCode::kInvalidArgument, "422"},
      // Our key refused: a server-side FAILED_PRECONDITION (PROVIDER_AUTH), not the caller's
      // UNAUTHENTICATED.
      {401, R"({"code":401,"data":null,"message":"Unauthorized"})",
       StatusCode::kFailedPrecondition, "401"},
      {403, "", StatusCode::kFailedPrecondition, "403"},
      {404, "not json", StatusCode::kNotFound, "404"},
      {429, R"({"code":429,"data":null,"message":"slow down"})", StatusCode::kResourceExhausted,
       "429"},
      {500, R"({"code":500,"data":null,"message":"internal"})", StatusCode::kUnavailable, "500"},
      {503, "<html>maintenance</html>", StatusCode::kUnavailable, "503"},
      {200, R"({"code":500,"data":null,"message":"internal"})", StatusCode::kUnavailable, "500"},
      {200, R"({"code":400,"data":null,"message":"bad"})", StatusCode::kInvalidArgument, "400"},
      {418, "", StatusCode::kFailedPrecondition, "418"},
      {302, "", StatusCode::kInternal, "302"},
  };
  for (const Case& c : cases) {
    const absl::Status status = SubmitError(c.http, c.body);
    EXPECT_EQ(status.code(), c.code) << c.http << " " << c.body << " -> " << status;
    EXPECT_EQ(GetProviderErrorCode(status), c.provider_code) << c.body;
    EXPECT_FALSE(IsOutcomeUnknown(status)) << c.body;
  }
}

TEST_F(PiapiAdapterTest, RetryAfterOnRateLimitAndUnavailable) {
  absl::Status status = SubmitError(429, R"({"code":429,"message":"x"})", {{"Retry-After", "7"}});
  EXPECT_THAT(status, StatusIs(StatusCode::kResourceExhausted));
  ASSERT_TRUE(GetRetryAfter(status).has_value());
  EXPECT_EQ(*GetRetryAfter(status), absl::Seconds(7));
  status = SubmitError(503, "", {{"retry-after", "3"}});
  EXPECT_THAT(status, StatusIs(StatusCode::kUnavailable));
  ASSERT_TRUE(GetRetryAfter(status).has_value());
  EXPECT_EQ(*GetRetryAfter(status), absl::Seconds(3));
  EXPECT_FALSE(GetRetryAfter(SubmitError(429, "")).has_value());
}

TEST_F(PiapiAdapterTest, MalformedCreateAnswerIsInternalAndOutcomeUnknown) {
  for (const char* body : {"", "{\"code\":200,\"data\":{\"task_", R"({"code":200,"data":{}})",
                           R"({"code":200,"data":{"task_id":""}})", "[]"}) {
    const absl::Status status = SubmitError(200, body);
    EXPECT_THAT(status, StatusIs(StatusCode::kInternal)) << body;
    EXPECT_TRUE(IsOutcomeUnknown(status)) << body;
  }
}

TEST_F(PiapiAdapterTest, TransportErrorsPassThrough) {
  absl::Status timeout = absl::DeadlineExceededError("timed out");
  MarkOutcomeUnknown(timeout);
  client_->Fail(timeout);
  music::v1::TaskInput input;
  input.set_prompt("x");
  absl::Status status = Adapter()->Submit(Music(input)).status();
  EXPECT_THAT(status, StatusIs(StatusCode::kDeadlineExceeded));
  EXPECT_TRUE(IsOutcomeUnknown(status));
  client_->Fail(absl::UnavailableError("connection refused"));
  status = Adapter()->Submit(Music(input)).status();
  EXPECT_THAT(status, StatusIs(StatusCode::kUnavailable));
  EXPECT_FALSE(IsOutcomeUnknown(status));
}

TEST_F(PiapiAdapterTest, PollRequestAndAnswer) {
  absl::StatusOr<ProviderUpdate> update = PollWith(
      200,
      R"({"code":200,"data":{"task_id":"pi/task 1","status":"Completed","output":{"clips":{)"
      R"("c1":{"id":"c1","audio_url":"https://a/c1.mp3"}}},"meta":{"usage":{"type":"usd",)"
      R"("frozen":0,"consume":0.05}}},"message":"success"})",
      "pi/task 1");
  ASSERT_THAT(update, IsOk());
  const http::Request sent = client_->last();
  EXPECT_EQ(sent.method, "GET");
  EXPECT_EQ(sent.url, "https://piapi.test/api/v1/task/pi%2Ftask%201");
  EXPECT_EQ(http::FindHeader(sent.headers, "x-api-key"), kApiKey);
  EXPECT_EQ(update->provider_task_id, "pi/task 1");
  EXPECT_EQ(update->state, ProviderState::kSucceeded);
  ASSERT_EQ(update->clips.size(), 1u);
  // No conversion configured: consume (unit undocumented) is not a provider charge.
  EXPECT_FALSE(update->has_billing);
  EXPECT_EQ(update->charged_micros, 0);
}

// CONTRACT-NOTES "PiAPI": "The unit of `meta.usage.consume` is not documented: do not book it as
// money without a configured conversion; the price is $0.05 per song". A strict stand-in answered
// `consume: 40000`, which the old adapter booked as a $40,000 provider charge.
TEST_F(PiapiAdapterTest, ConsumeIsBookedOnlyWithAConfiguredConversion) {
  constexpr char kPoints[] =
      R"({"code":200,"data":{"task_id":"pi-task-1","status":"Completed","output":{"clips":{)"
      R"("c1":{"id":"c1","audio_url":"https://a/c1.mp3"}}},"meta":{"usage":{"type":"point",)"
      R"("frozen":0,"consume":40000}}},"message":"success"})";
  PollTarget target;
  target.kind = music::v1::TASK_KIND_MUSIC;
  target.provider_task_id = "pi-task-1";
  client_->Answer(200, kPoints);
  absl::StatusOr<ProviderUpdate> plain = Adapter()->Poll(target);
  ASSERT_THAT(plain, IsOk());
  EXPECT_FALSE(plain->has_billing);
  EXPECT_EQ(plain->charged_micros, 0);

  client_->Answer(200, kPoints);
  absl::StatusOr<ProviderUpdate> converted = Adapter(kSecret, 0.00000125)->Poll(target);
  ASSERT_THAT(converted, IsOk());
  EXPECT_TRUE(converted->has_billing);
  EXPECT_EQ(converted->charged_micros, 50000);  // 40000 units at $0.00000125 = $0.05
  EXPECT_EQ(converted->billing_currency, "USD");

}

TEST_F(PiapiAdapterTest, PollErrors) {
  EXPECT_THAT(PollWith(404, R"({"code":404,"data":null,"message":"task not found"})"),
              StatusIs(StatusCode::kNotFound));
  EXPECT_THAT(PollWith(500, ""), StatusIs(StatusCode::kUnavailable));
  EXPECT_THAT(PollWith(401, ""), StatusIs(StatusCode::kFailedPrecondition));
  EXPECT_TRUE(adapters::IsProviderAuthError(PollWith(401, "").status()));
  EXPECT_THAT(PollWith(200, "{\"code\":200,\"da"), StatusIs(StatusCode::kInternal));
  EXPECT_THAT(
      PollWith(200, R"({"code":200,"data":{"task_id":"other","status":"Completed"}})").status(),
      StatusIs(StatusCode::kInternal));
  // A poll of a task that failed its freeze is a failed task, not a failed poll.
  absl::StatusOr<ProviderUpdate> failed =
      PollWith(200, R"({"code":200,"data":{"task_id":"pi-task-1","status":"Failed",)"
                    R"("error":{"code":10000,"message":"failed to freeze point"}}})");
  ASSERT_THAT(failed, IsOk());
  EXPECT_EQ(failed->state, ProviderState::kFailed);
  EXPECT_EQ(failed->error_code, StatusCode::kFailedPrecondition);
  EXPECT_EQ(failed->provider_error_code, "10000");
  PollTarget empty;
  empty.kind = music::v1::TASK_KIND_MUSIC;
  EXPECT_THAT(Adapter()->Poll(empty), StatusIs(StatusCode::kInvalidArgument));
}

TEST_F(PiapiAdapterTest, ApiKeyNeverInErrors) {
  const std::string echo =
      absl::StrCat(R"({"code":401,"data":null,"message":"bad key )", kApiKey, R"("})");
  absl::Status status = SubmitError(401, echo);
  EXPECT_FALSE(absl::StrContains(status.message(), kApiKey)) << status;
  EXPECT_TRUE(absl::StrContains(status.message(), "[redacted]")) << status;
  client_->Fail(absl::UnavailableError(absl::StrCat("curl: header x-api-key: ", kApiKey)));
  music::v1::TaskInput input;
  input.set_prompt("x");
  status = Adapter()->Submit(Music(input)).status();
  EXPECT_FALSE(absl::StrContains(status.message(), kApiKey)) << status;
  absl::StatusOr<ProviderUpdate> update = PollWith(
      200, absl::StrCat(R"({"code":200,"data":{"task_id":"pi-task-1","status":"Failed",)",
                        R"("error":{"code":500,"message":"key )", kApiKey, R"( refused"}}})"));
  ASSERT_THAT(update, IsOk());
  EXPECT_FALSE(absl::StrContains(update->error_message, kApiKey)) << update->error_message;
  status = PollWith(500, absl::StrCat(R"({"code":500,"message":")", kApiKey, R"("})")).status();
  EXPECT_FALSE(absl::StrContains(status.message(), kApiKey)) << status;
}

http::Request Delivery(std::string body, http::Headers headers) {
  http::Request request;
  request.method = "POST";
  request.url = "/callbacks/piapi/task-1";
  request.body = std::move(body);
  request.headers = std::move(headers);
  return request;
}

constexpr char kWebhook[] =
    R"({"timestamp":1723018391,"data":{"task_id":"pi-task-1","status":"completed",)"
    R"("output":{"clips":{"c1":{"id":"c1","audio_url":"https://a/c1.mp3"}}},)"
    R"("meta":{"usage":{"type":"usd","frozen":0,"consume":0.05}},"error":{"code":0,"message":""}}})";

TEST_F(PiapiAdapterTest, WebhookWithTheSecretIsParsed) {
  auto adapter = Adapter();
  absl::StatusOr<ProviderUpdate> update = adapter->ParseCallback(
      music::v1::TASK_KIND_MUSIC, Delivery(kWebhook, {{"X-Webhook-Secret", kSecret}}));
  ASSERT_THAT(update, IsOk());
  EXPECT_EQ(update->provider_task_id, "pi-task-1");
  EXPECT_EQ(update->state, ProviderState::kSucceeded);
  ASSERT_EQ(update->clips.size(), 1u);
  EXPECT_FALSE(update->has_billing);  // consume's unit is undocumented; no conversion configured
  // The same delivery again (same task, same timestamp): a repeat.
  EXPECT_THAT(adapter
                  ->ParseCallback(music::v1::TASK_KIND_MUSIC,
                                  Delivery(kWebhook, {{"x-webhook-secret", kSecret}}))
                  .status(),
              StatusIs(StatusCode::kAlreadyExists));
  // Another timestamp is a new delivery.
  std::string later = kWebhook;
  later.replace(later.find("1723018391"), 10, "1723018392");
  EXPECT_THAT(adapter->ParseCallback(music::v1::TASK_KIND_CONTINUATION,
                                     Delivery(later, {{"x-webhook-secret", kSecret}})),
              IsOk());
}

TEST_F(PiapiAdapterTest, ForgedWebhooksAreUnauthenticatedAndDoNotPoisonRepeats) {
  auto adapter = Adapter();
  const std::string wrong_same_length(sizeof(kSecret) - 1, 'x');
  const http::Headers forged[] = {
      {},
      {{"x-webhook-secret", ""}},
      {{"x-webhook-secret", "whsec-piapi-tes"}},    // prefix
      {{"x-webhook-secret", "whsec-piapi-testX"}},  // longer
      {{"x-webhook-secret", wrong_same_length}},
      {{"x-api-key", kApiKey}},
  };
  for (const http::Headers& headers : forged) {
    EXPECT_THAT(
        adapter->ParseCallback(music::v1::TASK_KIND_MUSIC, Delivery(kWebhook, headers)).status(),
        StatusIs(StatusCode::kUnauthenticated));
  }
  // Garbage without the secret is refused before its body is read.
  EXPECT_THAT(adapter->ParseCallback(music::v1::TASK_KIND_MUSIC, Delivery("{nope", {})),
              StatusIs(StatusCode::kUnauthenticated));
  // The forged attempts did not mark the real delivery as seen.
  EXPECT_THAT(adapter->ParseCallback(music::v1::TASK_KIND_MUSIC,
                                     Delivery(kWebhook, {{"x-webhook-secret", kSecret}})),
              IsOk());
}

TEST_F(PiapiAdapterTest, WebhooksRefusedWhenNoSecretIsConfigured) {
  auto adapter = Adapter(/*secret=*/"");
  EXPECT_THAT(adapter
                  ->ParseCallback(music::v1::TASK_KIND_MUSIC,
                                  Delivery(kWebhook, {{"x-webhook-secret", ""}}))
                  .status(),
              StatusIs(StatusCode::kUnauthenticated));
  EXPECT_THAT(adapter->ParseCallback(music::v1::TASK_KIND_MUSIC, Delivery(kWebhook, {})),
              StatusIs(StatusCode::kUnauthenticated));
}

TEST_F(PiapiAdapterTest, MalformedWebhookIsInvalidArgument) {
  auto adapter = Adapter();
  for (const char* body : {"", "{", R"({"data":{"task_id":"t","status":"pending"}})",
                           R"({"timestamp":1,"data":{"status":"pending"}})"}) {
    EXPECT_THAT(adapter
                    ->ParseCallback(music::v1::TASK_KIND_MUSIC,
                                    Delivery(body, {{"x-webhook-secret", kSecret}}))
                    .status(),
                StatusIs(StatusCode::kInvalidArgument))
        << body;
  }
  EXPECT_THAT(adapter
                  ->ParseCallback(music::v1::TASK_KIND_LYRICS,
                                  Delivery(kWebhook, {{"x-webhook-secret", kSecret}}))
                  .status(),
              StatusIs(StatusCode::kInvalidArgument));
}

TEST_F(PiapiAdapterTest, CatalogPolicyAndUnsupportedCalls) {
  auto adapter = Adapter();
  EXPECT_EQ(adapter->provider(), "piapi");
  EXPECT_EQ(adapter->resubmit_policy(), ResubmitPolicy::kAtMostOnce);
  const std::vector<music::v1::Model> models = adapter->Models();
  ASSERT_EQ(models.size(), 1u);
  const music::v1::Model& m = models[0];
  EXPECT_EQ(m.name(), "udio-music-u");
  EXPECT_EQ(m.provider(), "piapi");
  EXPECT_EQ(m.provider_model(), "music-u");
  EXPECT_TRUE(m.capabilities().music());
  EXPECT_TRUE(m.capabilities().lyrics());  // generate_lyrics (CONTRACT-NOTES "PiAPI")
  EXPECT_TRUE(m.capabilities().continuation());
  EXPECT_TRUE(m.capabilities().instrumental());
  EXPECT_EQ(m.capabilities().continuation_added_seconds(), 32);
  EXPECT_EQ(m.capabilities().continuation_style(),
            music::v1::CONTINUATION_STYLE_DESCRIPTION_OR_LYRICS);
  EXPECT_EQ(m.capabilities().clips_per_task(), 2);
  EXPECT_TRUE(m.capabilities().seed());
  EXPECT_TRUE(m.capabilities().negative_tags());
  EXPECT_FALSE(m.capabilities().reference_audio());
  EXPECT_TRUE(m.capabilities().model_option_namespaces().empty());
  EXPECT_EQ(m.price().amount_micros(), 50000);
  EXPECT_EQ(m.price().currency(), "USD");
  EXPECT_FALSE(m.available());
  EXPECT_THAT(adapter->Cancel("pi-task-1"), StatusIs(StatusCode::kUnimplemented));
  EXPECT_THAT(adapter->FindByRequestId(Music({})), StatusIs(StatusCode::kUnimplemented));
  EXPECT_THAT(adapter->UploadReferenceAudio({}), StatusIs(StatusCode::kUnimplemented));
  EXPECT_THAT(adapter->FetchModels(), StatusIs(StatusCode::kUnimplemented));
  EXPECT_EQ(client_->count(), 0u);
}

}  // namespace
}  // namespace music::adapters::piapi
