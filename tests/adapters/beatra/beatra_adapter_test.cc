// The beatra adapter against a fake HttpClient: exact request shapes (WIRE.md "Create",
// "Uploads", "Cancel"), the error table over HTTP answers, and that the API key never leaks.

#include "adapters/beatra/beatra_adapter.h"

#include <google/protobuf/util/json_util.h>
#include <rapidjson/document.h>

#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "adapters/beatra/beatra_request_body.h"
#include "adapters/provider_errors.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/testing/fake_http_client.h"
#include "tests/testing/status_matchers.h"

namespace music::adapters::beatra {
namespace {

using http::FakeHttpClient;

using absl::StatusCode;
using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::Not;
using ::testing::UnorderedElementsAre;

constexpr char kApiKey[] = "beatra-secret-api-key-0123456789";
constexpr char kCreated[] =
    R"({"task_id":"task_7f3a","object":"task","model":"suno-5.5","status":"queued",)"
    R"("progress":{"percent":0,"stage":"queued","message":"Waiting"},"output":null,"error":null,)"
    R"("billing":{"charged_credits":"80.0000","charged_credits_usd_reference":"0.0800","currency":"credits"}})";

std::vector<std::string> Keys(const rapidjson::Value& obj) {
  std::vector<std::string> keys;
  for (const auto& m : obj.GetObject()) keys.emplace_back(m.name.GetString());
  return keys;
}

rapidjson::Document Parse(const std::string& body) {
  rapidjson::Document doc;
  doc.Parse(body.c_str());
  EXPECT_FALSE(doc.HasParseError()) << body;
  EXPECT_TRUE(doc.IsObject()) << body;
  return doc;
}

class BeatraAdapterTest : public ::testing::Test {
 protected:
  std::unique_ptr<ProviderAdapter> Adapter() {
    BeatraOptions options;
    options.base_url = "https://beatra.test/";
    options.api_key = kApiKey;
    options.request_timeout = absl::Seconds(12);
    options.upload_timeout = absl::Seconds(99);
    return NewBeatraAdapter(options, client_);
  }

  static SubmitRequest Music(std::string model = "suno-5.5") {
    SubmitRequest request;
    request.kind = music::v1::TASK_KIND_MUSIC;
    request.task_id = "tsk_1";
    request.request_id = "req-caller-1";
    request.idempotency_key = "tsk_1.beatra";
    request.provider_model = std::move(model);
    request.input.set_prompt("a calm piano piece");
    return request;
  }

  absl::StatusOr<SubmitResult> Submit(const SubmitRequest& request) {
    return Adapter()->Submit(request);
  }

  absl::StatusOr<ProviderUpdate> Poll(std::string id) {
    PollTarget target;
    target.kind = music::v1::TASK_KIND_MUSIC;
    target.provider_task_id = std::move(id);
    return Adapter()->Poll(target);
  }

  std::shared_ptr<FakeHttpClient> client_ = std::make_shared<FakeHttpClient>();
};

// --- Identity and catalog ----------------------------------------------------------------------

TEST_F(BeatraAdapterTest, IdentityPolicyAndCallbacks) {
  auto adapter = Adapter();
  EXPECT_EQ(adapter->provider(), "beatra");
  EXPECT_EQ(adapter->resubmit_policy(), ResubmitPolicy::kIdempotencyKey);
  http::Request callback;
  EXPECT_THAT(adapter->ParseCallback(music::v1::TASK_KIND_MUSIC, callback),
              StatusIs(StatusCode::kUnimplemented));
  EXPECT_THAT(adapter->FetchModels(), StatusIs(StatusCode::kUnimplemented));
  EXPECT_THAT(adapter->FindByRequestId(Music()), StatusIs(StatusCode::kUnimplemented));
}

TEST_F(BeatraAdapterTest, CatalogEntries) {
  const std::vector<music::v1::Model> models = Adapter()->Models();
  ASSERT_EQ(models.size(), 2u);
  const music::v1::Model& suno = models[0];
  EXPECT_EQ(suno.name(), "beatra-suno-5.5");
  EXPECT_EQ(suno.provider(), "beatra");
  EXPECT_EQ(suno.provider_model(), "suno-5.5");
  EXPECT_EQ(suno.price().amount_micros(), 80'000'000);
  EXPECT_EQ(suno.price().currency(), "CREDITS");
  EXPECT_EQ(suno.capabilities().clips_per_task(), 2);
  EXPECT_TRUE(suno.capabilities().reference_audio());
  EXPECT_THAT(suno.capabilities().model_option_namespaces(), ElementsAre("suno"));
  EXPECT_TRUE(suno.capabilities().music());
  EXPECT_TRUE(suno.capabilities().instrumental());
  EXPECT_FALSE(suno.capabilities().lyrics());
  EXPECT_FALSE(suno.capabilities().continuation());
  EXPECT_FALSE(suno.capabilities().seed());
  EXPECT_FALSE(suno.capabilities().negative_tags());
  EXPECT_FALSE(suno.available());  // left to the service

  const music::v1::Model& minimax = models[1];
  EXPECT_EQ(minimax.name(), "beatra-minimax-music-2.6");
  EXPECT_EQ(minimax.provider_model(), "minimax-music-2.6");
  EXPECT_EQ(minimax.price().amount_micros(), 50'000'000);
  EXPECT_EQ(minimax.price().currency(), "CREDITS");
  EXPECT_EQ(minimax.capabilities().clips_per_task(), 1);
  EXPECT_TRUE(minimax.capabilities().reference_audio());
  EXPECT_THAT(minimax.capabilities().model_option_namespaces(), ElementsAre("minimax"));
  EXPECT_FALSE(minimax.capabilities().lyrics());
  EXPECT_FALSE(minimax.capabilities().continuation());
}

// --- Create ------------------------------------------------------------------------------------

TEST_F(BeatraAdapterTest, TextToMusicRequestIsExact) {
  client_->Answer(202, kCreated, {{"X-Request-Id", "req_1"}});
  auto result = Submit(Music());
  ASSERT_THAT(result, IsOk());
  EXPECT_EQ(result->provider_task_id, "task_7f3a");
  EXPECT_EQ(result->endpoint, "/v1/music/text-to-music");
  EXPECT_TRUE(result->poll_url.empty());

  const http::Request sent = client_->last();
  EXPECT_EQ(sent.method, "POST");
  EXPECT_EQ(sent.url, "https://beatra.test/v1/music/text-to-music");
  EXPECT_EQ(sent.timeout, absl::Seconds(12));
  EXPECT_EQ(http::FindHeader(sent.headers, "Authorization"), absl::StrCat("Bearer ", kApiKey));
  EXPECT_EQ(http::FindHeader(sent.headers, "Idempotency-Key"), "tsk_1.beatra");
  EXPECT_EQ(http::FindHeader(sent.headers, "Content-Type"), "application/json");
  EXPECT_EQ(http::FindHeader(sent.headers, "Accept"), "application/json");

  rapidjson::Document body = Parse(sent.body);
  EXPECT_THAT(Keys(body), ElementsAre("model", "prompt", "instrumental", "metadata"));
  EXPECT_STREQ(body["model"].GetString(), "suno-5.5");
  EXPECT_STREQ(body["prompt"].GetString(), "a calm piano piece");
  EXPECT_FALSE(body["instrumental"].GetBool());
  EXPECT_THAT(Keys(body["metadata"]), ElementsAre("task_id", "request_id"));
  EXPECT_STREQ(body["metadata"]["task_id"].GetString(), "tsk_1");
  EXPECT_STREQ(body["metadata"]["request_id"].GetString(), "req-caller-1");
}

TEST_F(BeatraAdapterTest, CustomModeMapsStyleTitleLyrics) {
  SubmitRequest request = Music();
  request.input.set_prompt("");
  request.input.set_style("synthwave, dreamy");
  request.input.set_title("Night Drive");
  request.input.set_lyrics("[Verse] neon lights");
  request.request_id = "";
  client_->Answer(202, kCreated);
  ASSERT_THAT(Submit(request), IsOk());
  rapidjson::Document body = Parse(client_->last().body);
  EXPECT_THAT(Keys(body),
              ElementsAre("model", "prompt", "lyrics", "instrumental", "title", "metadata"));
  EXPECT_STREQ(body["prompt"].GetString(), "synthwave, dreamy");
  EXPECT_STREQ(body["lyrics"].GetString(), "[Verse] neon lights");
  EXPECT_STREQ(body["title"].GetString(), "Night Drive");
  EXPECT_THAT(Keys(body["metadata"]), ElementsAre("task_id"));

  // Custom mode without lyrics: the prompt is the words to sing.
  request.input.set_lyrics("");
  request.input.set_prompt("la la la");
  client_->Answer(202, kCreated);
  ASSERT_THAT(Submit(request), IsOk());
  body = Parse(client_->last().body);
  EXPECT_STREQ(body["prompt"].GetString(), "synthwave, dreamy");
  EXPECT_STREQ(body["lyrics"].GetString(), "la la la");

  // An instrumental has no words: the prompt joins the description.
  request.input.set_instrumental(true);
  client_->Answer(202, kCreated);
  ASSERT_THAT(Submit(request), IsOk());
  body = Parse(client_->last().body);
  EXPECT_STREQ(body["prompt"].GetString(), "synthwave, dreamy\nla la la");
  EXPECT_FALSE(body.HasMember("lyrics"));
  EXPECT_TRUE(body["instrumental"].GetBool());
}

// Sets input.model_options from JSON text.
void SetOptions(SubmitRequest& request, const std::string& json) {
  // protobuf's own Status type, not absl::Status: checked by hand.
  ASSERT_TRUE(
      google::protobuf::util::JsonStringToMessage(json, request.input.mutable_model_options())
          .ok());
}

TEST_F(BeatraAdapterTest, ModelOptionsOnlyTheModelsNamespaceSorted) {
  SubmitRequest request = Music("minimax-music-2.6");
  SetOptions(request, R"({"minimax":{"tempo":120,"bitrate":"high","mix":{"z":1,"a":true}}})");
  client_->Answer(202, kCreated);
  ASSERT_THAT(Submit(request), IsOk());
  const std::string sent = client_->last().body;
  rapidjson::Document body = Parse(sent);
  EXPECT_THAT(Keys(body),
              ElementsAre("model", "prompt", "instrumental", "metadata", "model_options"));
  EXPECT_STREQ(body["model"].GetString(), "minimax-music-2.6");
  EXPECT_THAT(Keys(body["model_options"]), ElementsAre("minimax"));
  EXPECT_THAT(Keys(body["model_options"]["minimax"]), ElementsAre("bitrate", "mix", "tempo"));
  EXPECT_THAT(Keys(body["model_options"]["minimax"]["mix"]), ElementsAre("a", "z"));
  EXPECT_EQ(body["model_options"]["minimax"]["tempo"].GetDouble(), 120);

  // The same request gives the same bytes and key (a resend is never a 409).
  client_->Answer(202, kCreated);
  ASSERT_THAT(Submit(request), IsOk());
  EXPECT_EQ(client_->last().body, sent);
  EXPECT_EQ(http::FindHeader(client_->last().headers, "Idempotency-Key"), "tsk_1.beatra");
}

TEST_F(BeatraAdapterTest, ForeignNamespaceIsInvalidArgumentBeforeSending) {
  SubmitRequest suno = Music("suno-5.5");
  SetOptions(suno, R"({"minimax":{"tempo":120}})");
  auto result = Submit(suno);
  EXPECT_THAT(result, StatusIs(StatusCode::kInvalidArgument));
  EXPECT_THAT(result.status().message(), HasSubstr("model_options.minimax"));

  SubmitRequest both = Music("suno-5.5");
  SetOptions(both, R"({"suno":{"a":1},"udio":{}})");
  EXPECT_THAT(Submit(both), StatusIs(StatusCode::kInvalidArgument));

  SubmitRequest scalar = Music("suno-5.5");
  SetOptions(scalar, R"({"suno":5})");
  EXPECT_THAT(Submit(scalar), StatusIs(StatusCode::kInvalidArgument));
  EXPECT_TRUE(client_->requests().empty());
}

TEST_F(BeatraAdapterTest, RefusedBeforeSending) {
  SubmitRequest unknown_model = Music("suno-9");
  EXPECT_THAT(Submit(unknown_model), StatusIs(StatusCode::kInvalidArgument));
  SubmitRequest lyrics = Music();
  lyrics.kind = music::v1::TASK_KIND_LYRICS;
  EXPECT_THAT(Submit(lyrics), StatusIs(StatusCode::kInvalidArgument));
  SubmitRequest continuation = Music();
  continuation.kind = music::v1::TASK_KIND_CONTINUATION;
  EXPECT_THAT(Submit(continuation), StatusIs(StatusCode::kInvalidArgument));
  SubmitRequest no_key = Music();
  no_key.idempotency_key.clear();
  EXPECT_THAT(Submit(no_key), StatusIs(StatusCode::kInvalidArgument));
  SubmitRequest negative = Music();
  negative.input.set_negative_tags("metal");
  EXPECT_THAT(Submit(negative), StatusIs(StatusCode::kInvalidArgument));
  SubmitRequest seed = Music();
  seed.input.set_seed(7);
  EXPECT_THAT(Submit(seed), StatusIs(StatusCode::kInvalidArgument));
  SubmitRequest uri_only = Music();
  uri_only.input.set_reference_audio_uri("https://example.com/a.wav");
  EXPECT_THAT(Submit(uri_only), StatusIs(StatusCode::kInvalidArgument));
  EXPECT_TRUE(client_->requests().empty());
}

TEST_F(BeatraAdapterTest, ReferenceAudioGoesToItsEndpoint) {
  SubmitRequest request = Music();
  request.reference_artifact_id = "art_ref";
  request.input.set_reference_audio_id("ref_1");
  client_->Answer(202, kCreated);
  auto result = Submit(request);
  ASSERT_THAT(result, IsOk());
  EXPECT_EQ(result->endpoint, "/v1/music/reference-audio-to-music");
  const http::Request sent = client_->last();
  EXPECT_EQ(sent.url, "https://beatra.test/v1/music/reference-audio-to-music");
  EXPECT_EQ(http::FindHeader(sent.headers, "Idempotency-Key"), "tsk_1.beatra");
  rapidjson::Document body = Parse(sent.body);
  EXPECT_THAT(Keys(body),
              ElementsAre("model", "prompt", "instrumental", "metadata", "reference_audio"));
  EXPECT_THAT(Keys(body["reference_audio"]), ElementsAre("artifact_id"));
  EXPECT_STREQ(body["reference_audio"]["artifact_id"].GetString(), "art_ref");
}

// --- Error table over HTTP ---------------------------------------------------------------------

std::string Envelope(const std::string& code, bool retryable) {
  return absl::StrCat(R"({"error":{"code":")", code, R"(","message":"msg for )", code,
                      R"(","retryable":)", retryable ? "true" : "false",
                      R"(,"request_id":"req_env"}})");
}

TEST_F(BeatraAdapterTest, CreateErrorsMapPerTable) {
  struct Case {
    int status;
    std::string body;
    StatusCode want;
    std::string provider_code;
  };
  const std::vector<Case> cases = {
      {402, Envelope("insufficient_balance", false), StatusCode::kFailedPrecondition,
       "insufficient_balance"},
      {500, Envelope("billing_failed", true), StatusCode::kUnavailable, "billing_failed"},
      {422, Envelope("invalid_request", false), StatusCode::kInvalidArgument, "invalid_request"},
      {422, Envelope("unsupported_option", false), StatusCode::kInvalidArgument,
       "unsupported_option"},
      // The model is refused, not the request: FAILED_PRECONDITION fails an alias over.
      {400, Envelope("unsupported_model", false), StatusCode::kFailedPrecondition,
       "unsupported_model"},
      {429, Envelope("rate_limited", true), StatusCode::kResourceExhausted, "rate_limited"},
      {418, Envelope("teapot_overheated", true), StatusCode::kUnavailable, "teapot_overheated"},
      {409, Envelope("idempotency_conflict", false), StatusCode::kFailedPrecondition,
       "idempotency_conflict"},
      // Our key refused: FAILED_PRECONDITION (PROVIDER_AUTH), not the caller's UNAUTHENTICATED.
      {401, Envelope("unauthorized", false), StatusCode::kFailedPrecondition, "unauthorized"},
      {403, "", StatusCode::kFailedPrecondition, "403"},
      {502, "<html>bad gateway</html>", StatusCode::kUnavailable, "502"},
      {503, "{", StatusCode::kUnavailable, "503"},
  };
  for (const Case& c : cases) {
    client_->Answer(c.status, c.body, {{"X-Request-Id", "req_hdr"}});
    auto result = Submit(Music());
    EXPECT_THAT(result, StatusIs(c.want)) << c.status << " " << c.body;
    EXPECT_EQ(GetProviderErrorCode(result.status()), c.provider_code) << c.body;
    EXPECT_THAT(result.status().message(), HasSubstr("req_hdr")) << c.body;
    EXPECT_FALSE(IsOutcomeUnknown(result.status()));
  }
}

TEST_F(BeatraAdapterTest, RateLimitCarriesRetryAfterAndRequestIdFromEnvelope) {
  client_->Answer(429, Envelope("rate_limited", true), {{"Retry-After", "7"}});
  auto result = Submit(Music());
  EXPECT_THAT(result, StatusIs(StatusCode::kResourceExhausted));
  EXPECT_EQ(GetRetryAfter(result.status()), absl::Seconds(7));
  // No X-Request-Id header: the envelope's request_id is quoted instead.
  EXPECT_THAT(result.status().message(), HasSubstr("req_env"));
  EXPECT_THAT(result.status().message(), HasSubstr("msg for rate_limited"));

  client_->Answer(500, Envelope("billing_failed", true), {{"Retry-After", "3"}});
  result = Submit(Music());
  EXPECT_THAT(result, StatusIs(StatusCode::kUnavailable));
  EXPECT_EQ(GetRetryAfter(result.status()), absl::Seconds(3));
}

TEST_F(BeatraAdapterTest, TransportErrorsKeepTheirMarks) {
  absl::Status timeout = absl::DeadlineExceededError("Operation timed out");
  MarkOutcomeUnknown(timeout);
  client_->Fail(timeout);
  auto result = Submit(Music());
  EXPECT_THAT(result, StatusIs(StatusCode::kDeadlineExceeded));
  EXPECT_TRUE(IsOutcomeUnknown(result.status()));

  client_->Fail(absl::UnavailableError("connection refused"));
  result = Submit(Music());
  EXPECT_THAT(result, StatusIs(StatusCode::kUnavailable));
  EXPECT_FALSE(IsOutcomeUnknown(result.status()));
}

TEST_F(BeatraAdapterTest, Malformed2xxCreateIsInternalOutcomeUnknown) {
  for (const char* body : {"", "{\"task_id\":\"task_", "{}", R"({"task_id":7})", "[]"}) {
    client_->Answer(202, body, {{"X-Request-Id", "req_bad"}});
    auto result = Submit(Music());
    EXPECT_THAT(result, StatusIs(StatusCode::kInternal)) << body;
    EXPECT_TRUE(IsOutcomeUnknown(result.status())) << body;
    EXPECT_THAT(result.status().message(), HasSubstr("req_bad"));
  }
}

// --- Poll --------------------------------------------------------------------------------------

TEST_F(BeatraAdapterTest, PollRequestAndAnswer) {
  client_->Answer(200, R"({"task_id":"task/7 f","status":"running",
      "progress":{"percent":37,"stage":"composing","message":"Composing"},
      "billing":{"charged_credits":"80.0000","currency":"credits"}})");
  auto update = Poll("task/7 f");
  ASSERT_THAT(update, IsOk());
  const http::Request sent = client_->last();
  EXPECT_EQ(sent.method, "GET");
  EXPECT_EQ(sent.url, "https://beatra.test/v1/tasks/task%2F7%20f");
  EXPECT_EQ(sent.timeout, absl::Seconds(12));
  EXPECT_EQ(http::FindHeader(sent.headers, "Authorization"), absl::StrCat("Bearer ", kApiKey));
  EXPECT_TRUE(http::FindHeader(sent.headers, "Idempotency-Key").empty());
  EXPECT_EQ(update->provider_task_id, "task/7 f");
  EXPECT_EQ(update->state, ProviderState::kRunning);
  EXPECT_EQ(update->progress_percent, 37);
  EXPECT_EQ(update->progress_stage, "composing");
  EXPECT_EQ(update->progress_message, "Composing");
  EXPECT_TRUE(update->has_billing);
  EXPECT_EQ(update->charged_micros, 80'000'000);
}

TEST_F(BeatraAdapterTest, PollErrors) {
  client_->Answer(404, Envelope("not_found", false));
  EXPECT_THAT(Poll("task_x"), StatusIs(StatusCode::kNotFound));
  client_->Answer(500, Envelope("internal_error", true));
  EXPECT_THAT(Poll("task_x"), StatusIs(StatusCode::kUnavailable));
  client_->Answer(200, R"({"task_id":"task_x","status":)");
  EXPECT_THAT(Poll("task_x"), StatusIs(StatusCode::kInternal));
  client_->Answer(200, R"({"task_id":"task_other","status":"succeeded"})");
  EXPECT_THAT(Poll("task_x"), StatusIs(StatusCode::kInternal));
  EXPECT_THAT(Poll(""), StatusIs(StatusCode::kInvalidArgument));
  PollTarget lyrics;
  lyrics.kind = music::v1::TASK_KIND_LYRICS;
  lyrics.provider_task_id = "task_x";
  EXPECT_THAT(Adapter()->Poll(lyrics), StatusIs(StatusCode::kInvalidArgument));
}

// --- Cancel ------------------------------------------------------------------------------------

TEST_F(BeatraAdapterTest, CancelIsBestEffortAndIdempotent) {
  client_->Answer(200, R"({"task_id":"task_7","status":"canceled"})");
  EXPECT_THAT(Adapter()->Cancel("task_7"), IsOk());
  const http::Request sent = client_->last();
  EXPECT_EQ(sent.method, "POST");
  EXPECT_EQ(sent.url, "https://beatra.test/v1/tasks/task_7/cancel");
  EXPECT_EQ(http::FindHeader(sent.headers, "Authorization"), absl::StrCat("Bearer ", kApiKey));

  client_->Answer(200, R"({"task_id":"task_7","status":"succeeded"})");  // already done
  EXPECT_THAT(Adapter()->Cancel("task_7"), IsOk());
  client_->Answer(409, Envelope("task_finished", false));
  EXPECT_THAT(Adapter()->Cancel("task_7"), IsOk());
  client_->Answer(404, Envelope("not_found", false));
  EXPECT_THAT(Adapter()->Cancel("task_7"), StatusIs(StatusCode::kNotFound));
  client_->Answer(503, "");
  EXPECT_THAT(Adapter()->Cancel("task_7"), StatusIs(StatusCode::kUnavailable));
  EXPECT_THAT(Adapter()->Cancel(""), StatusIs(StatusCode::kInvalidArgument));
}

// --- Uploads -----------------------------------------------------------------------------------

// CONTRACT-NOTES "beatra": "Uploads: multipart `file`, `purpose` (`reference_audio` for music),
// `media_type`, `metadata` (a JSON string) -> `artifact_id` + URL". The old body had only `file`;
// the strict emulator refuses that (422 "`purpose` is required").
TEST_F(BeatraAdapterTest, UploadIsMultipartWithFilePart) {
  client_->Answer(201, R"({"artifact_id":"art_up","filename":"ref.wav","size_bytes":9})");
  ReferenceAudioUpload upload{"my \"ref\".wav", "audio/wav", std::string("RIFF\0\r\n--x", 11)};
  auto artifact = Adapter()->UploadReferenceAudio(upload);
  ASSERT_THAT(artifact, IsOk());
  EXPECT_EQ(*artifact, "art_up");

  const http::Request sent = client_->last();
  EXPECT_EQ(sent.method, "POST");
  EXPECT_EQ(sent.url, "https://beatra.test/v1/uploads");
  EXPECT_EQ(sent.timeout, absl::Seconds(99));
  EXPECT_EQ(http::FindHeader(sent.headers, "Authorization"), absl::StrCat("Bearer ", kApiKey));
  const std::string content_type(http::FindHeader(sent.headers, "Content-Type"));
  ASSERT_TRUE(absl::StartsWith(content_type, "multipart/form-data; boundary=")) << content_type;
  const std::string boundary = content_type.substr(content_type.find('=') + 1);
  EXPECT_GE(boundary.size(), 20u);
  auto field = [&boundary](absl::string_view name, absl::string_view value) {
    return absl::StrCat("--", boundary, "\r\n", "Content-Disposition: form-data; name=\"", name,
                        "\"\r\n\r\n", value, "\r\n");
  };
  const std::string want =
      absl::StrCat(field("purpose", "reference_audio"), field("media_type", "audio"),
                   field("metadata", R"({"filename":"my _ref_.wav"})"), "--", boundary, "\r\n",
                   "Content-Disposition: form-data; name=\"file\"; filename=\"my _ref_.wav\"\r\n",
                   "Content-Type: audio/wav\r\n\r\n", upload.bytes, "\r\n--", boundary, "--\r\n");
  EXPECT_EQ(sent.body, want);
}

TEST_F(BeatraAdapterTest, UploadLimitsAndErrors) {
  ReferenceAudioUpload empty{"a.wav", "audio/wav", ""};
  EXPECT_THAT(Adapter()->UploadReferenceAudio(empty), StatusIs(StatusCode::kInvalidArgument));
  ReferenceAudioUpload huge{"a.wav", "audio/wav", std::string(kMaxUploadBytes + 1, 'x')};
  EXPECT_THAT(Adapter()->UploadReferenceAudio(huge), StatusIs(StatusCode::kInvalidArgument));
  EXPECT_TRUE(client_->requests().empty());

  ReferenceAudioUpload ok{"a.wav", "", "bytes"};
  client_->Answer(413, Envelope("payload_too_large", false));
  EXPECT_THAT(Adapter()->UploadReferenceAudio(ok), StatusIs(StatusCode::kInvalidArgument));
  EXPECT_THAT(client_->last().body, HasSubstr("Content-Type: application/octet-stream"));
  client_->Answer(201, R"({"artifact":"x"})");
  EXPECT_THAT(Adapter()->UploadReferenceAudio(ok), StatusIs(StatusCode::kInternal));
}

TEST(BeatraMultipartTest, BoundaryNeverInContent) {
  const std::string boundary = NewMultipartBoundary("abc");
  EXPECT_TRUE(absl::StartsWith(boundary, "----beatra-"));
  EXPECT_NE(boundary, NewMultipartBoundary("abc"));  // random
}

// --- Secrets -----------------------------------------------------------------------------------

TEST_F(BeatraAdapterTest, ApiKeyNeverInErrors) {
  const std::string leak = absl::StrCat("Bearer ", kApiKey, " rejected");
  std::vector<absl::Status> errors;
  client_->Fail(absl::UnavailableError(absl::StrCat("curl: ", kApiKey)));
  errors.push_back(Submit(Music()).status());
  client_->Answer(401, Envelope(leak, false), {{"X-Request-Id", kApiKey}});
  errors.push_back(Submit(Music()).status());
  client_->Answer(401, absl::StrCat(R"({"error":{"code":"unauthorized","message":")", leak,
                                    R"(","request_id":")", kApiKey, R"("}})"));
  errors.push_back(Submit(Music()).status());
  client_->Answer(202, absl::StrCat("{\"task_id\":\"", kApiKey));
  errors.push_back(Submit(Music()).status());
  client_->Fail(absl::DeadlineExceededError(kApiKey));
  errors.push_back(Poll("t").status());
  client_->Answer(500, Envelope(kApiKey, true));
  errors.push_back(Poll("t").status());
  client_->Fail(absl::UnavailableError(kApiKey));
  errors.push_back(Adapter()->Cancel("t"));
  client_->Fail(absl::UnavailableError(kApiKey));
  errors.push_back(Adapter()->UploadReferenceAudio({"a", "b", "c"}).status());
  for (const absl::Status& s : errors) {
    EXPECT_FALSE(s.ok());
    EXPECT_THAT(std::string(s.message()), Not(HasSubstr(kApiKey))) << s;
    EXPECT_THAT(s.ToString(), Not(HasSubstr(kApiKey)));
  }
  // A failed task whose message quotes the key.
  client_->Answer(
      200, absl::StrCat(R"({"task_id":"t","status":"failed","error":{"code":"x","message":")",
                        kApiKey, R"("}})"));
  auto update = Poll("t");
  ASSERT_THAT(update, IsOk());
  EXPECT_THAT(update->error_message, Not(HasSubstr(kApiKey)));
}

}  // namespace
}  // namespace music::adapters::beatra
