// The TokenLab adapter against a fake HttpClient: exact request shapes (WIRE.md, seed 000), the
// error table, poll_url handling (only on base_url's origin), the model
// list, and that the API key never leaks into an error.

#include "adapters/tokenlab/tokenlab_adapter.h"

#include <rapidjson/document.h>

#include <limits>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/time/time.h"
#include "adapters/internal/url_encode.h"
#include "adapters/provider_auth.h"
#include "adapters/provider_errors.h"
#include "adapters/tokenlab/tokenlab_url.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/testing/fake_http_client.h"
#include "tests/testing/status_matchers.h"

namespace music::adapters::tokenlab {
namespace {

using http::FakeHttpClient;

using absl::StatusCode;
using ::testing::HasSubstr;
using ::testing::Not;

constexpr char kApiKey[] = "tl-secret-api-key-0123456789";
constexpr char kBase[] = "https://api.tokenlab.sh";
constexpr char kCreated[] = R"({"id":"ldtask_1","task_id":"ldtask_1","status":"pending",
  "poll_url":"https://api.tokenlab.sh/v1/tasks/ldtask_1","model":"suno_music"})";

rapidjson::Document Json(const std::string& text) {
  rapidjson::Document doc;
  doc.Parse(text.data(), text.size());
  EXPECT_FALSE(doc.HasParseError()) << text;
  return doc;
}

// The body's members as "name=value" strings (strings quoted), sorted by rapidjson order.
std::vector<std::string> Members(const std::string& body) {
  rapidjson::Document doc = Json(body);
  std::vector<std::string> out;
  if (!doc.IsObject()) return out;
  for (const auto& m : doc.GetObject()) {
    std::string value;
    if (m.value.IsString()) {
      value = absl::StrCat("\"", m.value.GetString(), "\"");
    } else if (m.value.IsInt64()) {
      value = absl::StrCat(m.value.GetInt64());
    } else if (m.value.IsNumber()) {
      value = absl::StrCat(m.value.GetDouble());
    } else {
      value = "<other>";
    }
    out.push_back(absl::StrCat(m.name.GetString(), "=", value));
  }
  return out;
}

class TokenlabAdapterTest : public ::testing::Test {
 protected:
  std::unique_ptr<ProviderAdapter> Adapter(std::string base_url = kBase) {
    TokenlabOptions options;
    options.base_url = std::move(base_url);
    options.api_key = kApiKey;
    options.request_timeout = absl::Seconds(12);
    return NewTokenlabAdapter(options, client_);
  }

  static SubmitRequest Music(music::v1::TaskInput input) {
    SubmitRequest request;
    request.kind = music::v1::TASK_KIND_MUSIC;
    request.task_id = "tsk_1";
    request.provider_model = "suno_music";
    request.input = std::move(input);
    request.request_id = "caller-req-1";
    request.idempotency_key = "tsk_1.tokenlab";
    return request;
  }

  // Submits `request` (answered with kCreated) and returns the body sent.
  std::string SubmitBody(const SubmitRequest& request) {
    client_->Answer(200, kCreated);
    absl::StatusOr<SubmitResult> result = Adapter()->Submit(request);
    EXPECT_THAT(result, IsOk());
    return client_->last().body;
  }

  absl::StatusOr<ProviderUpdate> PollWith(const std::string& poll_url, int status, std::string body,
                                          http::Headers headers = {}, std::string base = kBase) {
    client_->Answer(status, std::move(body), std::move(headers));
    PollTarget target;
    target.kind = music::v1::TASK_KIND_MUSIC;
    target.provider_task_id = "ldtask_1";
    target.poll_url = poll_url;
    return Adapter(std::move(base))->Poll(target);
  }

  std::shared_ptr<FakeHttpClient> client_ = std::make_shared<FakeHttpClient>();
};

TEST_F(TokenlabAdapterTest, Identity) {
  auto adapter = Adapter();
  EXPECT_EQ(adapter->provider(), "tokenlab");
  // CONTRACT-NOTES "TokenLab": "No idempotency header and no lookup of a task by `request_id` is
  // documented": a create whose answer was lost is never sent again.
  EXPECT_EQ(adapter->resubmit_policy(), ResubmitPolicy::kAtMostOnce);
  EXPECT_THAT(adapter->FindByRequestId(Music({})), StatusIs(StatusCode::kUnimplemented));
  EXPECT_THAT(adapter->ParseCallback(music::v1::TASK_KIND_MUSIC, http::Request{}),
              StatusIs(StatusCode::kUnimplemented));
  EXPECT_THAT(adapter->Cancel("ldtask_1"), StatusIs(StatusCode::kUnimplemented));
  EXPECT_THAT(adapter->UploadReferenceAudio({}), StatusIs(StatusCode::kUnimplemented));
  EXPECT_TRUE(client_->requests().empty());
}

TEST_F(TokenlabAdapterTest, CatalogEntry) {
  std::vector<music::v1::Model> models = Adapter()->Models();
  ASSERT_EQ(models.size(), 1u);
  const music::v1::Model& m = models[0];
  EXPECT_EQ(m.name(), "tokenlab-suno-music");
  EXPECT_EQ(m.provider(), "tokenlab");
  EXPECT_EQ(m.provider_model(), "suno_music");
  EXPECT_TRUE(m.capabilities().music());
  // Seed 000: "For lyric-only flows, send action: "LYRICS" with a model whose public contract
  // documents lyric generation": the built-in entry is not lyrics-capable until the live model
  // list says so (FetchModelsTakesLyricsFromTheLiveList).
  EXPECT_FALSE(m.capabilities().lyrics());
  EXPECT_TRUE(m.capabilities().continuation());
  // Seed 000 "Continue an existing clip": `continue_clip_id`, optional `continue_at`.
  EXPECT_EQ(m.capabilities().continuation_style(), music::v1::CONTINUATION_STYLE_OPTIONAL_FIELDS);
  EXPECT_TRUE(m.capabilities().instrumental());
  EXPECT_EQ(m.capabilities().clips_per_task(), 1);
  EXPECT_FALSE(m.capabilities().reference_audio());
  EXPECT_FALSE(m.capabilities().seed());
  EXPECT_FALSE(m.capabilities().negative_tags());
  EXPECT_EQ(m.capabilities().model_option_namespaces_size(), 0);
  EXPECT_EQ(m.price().amount_micros(), 100000);
  EXPECT_EQ(m.price().currency(), "USD");

  TokenlabOptions options;
  options.price.set_amount_micros(70000);
  auto priced = NewTokenlabAdapter(options, client_)->Models();
  EXPECT_EQ(priced[0].price().amount_micros(), 70000);
  EXPECT_EQ(priced[0].price().currency(), "USD");
}

// The seed's own example (seed 000 "Create A Music Task"), sent exactly, plus `user` (the caller
// identifier the reference page lists, CONTRACT-NOTES "TokenLab") carrying our task id. Never
// `request_id`: "`request_id` is NOT a request field ... Undocumented fields get "Unsupported
// parameter"" (CONTRACT-NOTES), seed 000 "Common Errors": "Unsupported parameter | Field is not in
// the model public contract".
TEST_F(TokenlabAdapterTest, SeedCreateExampleIsSentExactly) {
  music::v1::TaskInput input;
  input.set_prompt("An upbeat synth-pop track with warm vocals and a clean chorus");
  input.set_title("Morning Static");
  input.set_style("synth-pop, upbeat");
  client_->Answer(200, kCreated);
  absl::StatusOr<SubmitResult> result = Adapter()->Submit(Music(input));
  ASSERT_THAT(result, IsOk());

  const http::Request sent = client_->last();
  EXPECT_EQ(sent.method, "POST");
  EXPECT_EQ(sent.url, "https://api.tokenlab.sh/v1/music/generations");
  EXPECT_EQ(http::FindHeader(sent.headers, "Authorization"), absl::StrCat("Bearer ", kApiKey));
  EXPECT_EQ(http::FindHeader(sent.headers, "Content-Type"), "application/json");
  EXPECT_EQ(http::FindHeader(sent.headers, "Accept"), "application/json");
  EXPECT_EQ(sent.timeout, absl::Seconds(12));

  constexpr char kSeedBody[] = R"({
    "model": "suno_music",
    "prompt": "An upbeat synth-pop track with warm vocals and a clean chorus",
    "title": "Morning Static",
    "tags": "synth-pop, upbeat",
    "action": "MUSIC"
  })";
  std::vector<std::string> expected = Members(kSeedBody);
  expected.push_back(R"(user="tsk_1")");
  EXPECT_THAT(Members(sent.body), ::testing::UnorderedElementsAreArray(expected));

  EXPECT_EQ(result->provider_task_id, "ldtask_1");
  EXPECT_EQ(result->poll_url, "https://api.tokenlab.sh/v1/tasks/ldtask_1");
  EXPECT_EQ(result->endpoint, "/v1/music/generations");
  EXPECT_TRUE(result->provider_billing_transaction_id.empty());
}

TEST_F(TokenlabAdapterTest, BillingTransactionFromBodyOrHeader) {
  client_->Answer(200, R"({"id":"ldtask_1","billing_transaction_id":"btx_body"})",
                  {{"X-Billing-Transaction-ID", "btx_header"}, {"X-Task-ID", "ldtask_1"}});
  music::v1::TaskInput input;
  input.set_prompt("p");
  auto from_body = Adapter()->Submit(Music(input));
  ASSERT_THAT(from_body, IsOk());
  EXPECT_EQ(from_body->provider_billing_transaction_id, "btx_body");

  client_->Answer(200, R"({"id":"ldtask_2"})", {{"X-Billing-Transaction-ID", "btx_header"}});
  auto from_header = Adapter()->Submit(Music(input));
  ASSERT_THAT(from_header, IsOk());
  EXPECT_EQ(from_header->provider_billing_transaction_id, "btx_header");
}

TEST_F(TokenlabAdapterTest, LyricsBody) {
  SubmitRequest request = Music({});
  request.kind = music::v1::TASK_KIND_LYRICS;
  request.input.set_prompt("a song about the sea");
  EXPECT_THAT(
      Members(SubmitBody(request)),
      ::testing::UnorderedElementsAre(R"(model="suno_music")", R"(prompt="a song about the sea")",
                                      R"(action="LYRICS")", R"(user="tsk_1")"));
}

TEST_F(TokenlabAdapterTest, ContinuationBody) {
  SubmitRequest request = Music({});
  request.kind = music::v1::TASK_KIND_CONTINUATION;
  request.input.set_continue_from_clip_id("clip_9");
  request.input.set_continue_at_seconds(30);
  request.input.set_prompt("[Chorus] carry on");
  request.input.set_style("folk");
  request.input.set_title("Carry On");
  EXPECT_THAT(Members(SubmitBody(request)),
              ::testing::UnorderedElementsAre(
                  R"(model="suno_music")", R"(prompt="[Chorus] carry on")", R"(title="Carry On")",
                  R"(tags="folk")", R"(action="MUSIC")", R"(continue_clip_id="clip_9")",
                  "continue_at=30", R"(user="tsk_1")"));

  request.input.set_continue_at_seconds(12.5);
  rapidjson::Document doc = Json(SubmitBody(request));
  ASSERT_TRUE(doc["continue_at"].IsDouble());
  EXPECT_DOUBLE_EQ(doc["continue_at"].GetDouble(), 12.5);

  // 0: the source clip's own parameters; continue_at is optional in seed 000 and left out.
  SubmitRequest plain = Music({});
  plain.kind = music::v1::TASK_KIND_CONTINUATION;
  plain.input.set_continue_from_clip_id("clip_9");
  EXPECT_THAT(Members(SubmitBody(plain)),
              ::testing::UnorderedElementsAre(R"(model="suno_music")", R"(action="MUSIC")",
                                              R"(continue_clip_id="clip_9")",
                                              R"(user="tsk_1")"));
}

TEST_F(TokenlabAdapterTest, InstrumentalAndCustomLyrics) {
  music::v1::TaskInput input;
  input.set_style("ambient");
  input.set_title("Drift");
  input.set_instrumental(true);
  rapidjson::Document doc = Json(SubmitBody(Music(input)));
  EXPECT_STREQ(doc["tags"].GetString(), "ambient, instrumental");
  // No prompt and no lyrics: the tags describe the music (TokenLab requires a prompt).
  EXPECT_STREQ(doc["prompt"].GetString(), "ambient, instrumental");

  music::v1::TaskInput bare;
  bare.set_prompt("calm piano");
  bare.set_instrumental(true);
  EXPECT_STREQ(Json(SubmitBody(Music(bare)))["tags"].GetString(), "instrumental");

  music::v1::TaskInput lyrics;
  lyrics.set_style("folk");
  lyrics.set_title("Home");
  lyrics.set_lyrics("[Verse]\ncoming home");
  rapidjson::Document sung = Json(SubmitBody(Music(lyrics)));
  EXPECT_STREQ(sung["prompt"].GetString(), "[Verse]\ncoming home");
  EXPECT_STREQ(sung["tags"].GetString(), "folk");
}

TEST_F(TokenlabAdapterTest, UnsupportedInputIsRefusedBeforeSending) {
  std::vector<SubmitRequest> requests;
  music::v1::TaskInput negative;
  negative.set_prompt("p");
  negative.set_negative_tags("metal");
  requests.push_back(Music(negative));
  music::v1::TaskInput seeded;
  seeded.set_prompt("p");
  seeded.set_seed(7);
  requests.push_back(Music(seeded));
  music::v1::TaskInput reference;
  reference.set_prompt("p");
  reference.set_reference_audio_id("ref_1");
  requests.push_back(Music(reference));
  SubmitRequest no_model = Music({});
  no_model.provider_model.clear();
  requests.push_back(no_model);
  SubmitRequest bad_kind = Music({});
  bad_kind.kind = music::v1::TASK_KIND_UNSPECIFIED;
  requests.push_back(bad_kind);
  SubmitRequest no_clip = Music({});
  no_clip.kind = music::v1::TASK_KIND_CONTINUATION;
  requests.push_back(no_clip);
  SubmitRequest nan_at = Music({});
  nan_at.kind = music::v1::TASK_KIND_CONTINUATION;
  nan_at.input.set_continue_from_clip_id("c");
  nan_at.input.set_continue_at_seconds(std::numeric_limits<double>::quiet_NaN());
  requests.push_back(nan_at);
  for (const SubmitRequest& request : requests) {
    EXPECT_THAT(Adapter()->Submit(request), StatusIs(StatusCode::kInvalidArgument));
  }
  EXPECT_TRUE(client_->requests().empty());
}

struct ErrorCase {
  int http_status;
  std::string body;
  http::Headers headers;
  StatusCode code;
  std::string provider_code;
  absl::Duration retry_after;  // zero: none expected
};

TEST_F(TokenlabAdapterTest, CreateErrorTable) {
  const std::vector<ErrorCase> cases = {
      {402,
       R"({"error":{"code":"insufficient_balance","message":"Insufficient balance","type":"billing_error"}})",
       {},
       StatusCode::kFailedPrecondition,
       "insufficient_balance",
       absl::ZeroDuration()},
      {402,
       R"({"error":{"code":"spend_limit_exceeded","message":"Spend limit"}})",
       {},
       StatusCode::kFailedPrecondition,
       "spend_limit_exceeded",
       absl::ZeroDuration()},
      {429,
       R"({"error":{"code":"rate_limit_exceeded","message":"slow down"}})",
       {{"Retry-After", "7"}},
       StatusCode::kResourceExhausted,
       "rate_limit_exceeded",
       absl::Seconds(7)},
      {500, "<html>oops</html>", {}, StatusCode::kUnavailable, "500", absl::ZeroDuration()},
      {503,
       R"({"error":{"message":"maintenance"}})",
       {{"Retry-After", "30"}},
       StatusCode::kUnavailable,
       "503",
       absl::Seconds(30)},
      {400,
       R"({"error":{"code":"unsupported_parameter","message":"Unsupported parameter: foo"}})",
       {},
       StatusCode::kInvalidArgument,
       "unsupported_parameter",
       absl::ZeroDuration()},
      {422,
       R"({"error":"bad prompt"})",
       {},
       StatusCode::kInvalidArgument,
       "422",
       absl::ZeroDuration()},
      {401,
       R"({"error":{"code":"invalid_api_key","message":"Invalid API key"}})",
       {},
       StatusCode::kFailedPrecondition,  // our key refused: PROVIDER_AUTH, not the caller's
       "invalid_api_key",
       absl::ZeroDuration()},
      {403, "", {}, StatusCode::kFailedPrecondition, "403", absl::ZeroDuration()},
      {404, "", {}, StatusCode::kNotFound, "404", absl::ZeroDuration()},
      {418, "", {}, StatusCode::kFailedPrecondition, "418", absl::ZeroDuration()},
      {302, "", {}, StatusCode::kInternal, "302", absl::ZeroDuration()},
  };
  music::v1::TaskInput input;
  input.set_prompt("p");
  for (const ErrorCase& c : cases) {
    client_->Answer(c.http_status, c.body, c.headers);
    absl::Status status = Adapter()->Submit(Music(input)).status();
    EXPECT_EQ(status.code(), c.code) << c.http_status << " " << status;
    EXPECT_EQ(GetProviderErrorCode(status), c.provider_code) << c.http_status;
    EXPECT_FALSE(IsOutcomeUnknown(status)) << c.http_status;
    if (c.retry_after > absl::ZeroDuration()) {
      EXPECT_EQ(GetRetryAfter(status), c.retry_after) << c.http_status;
    } else {
      EXPECT_FALSE(GetRetryAfter(status).has_value()) << c.http_status;
    }
  }
  client_->Answer(
      400, R"({"error":{"code":"unsupported_parameter","message":"Unsupported parameter: foo"}})");
  EXPECT_THAT(Adapter()->Submit(Music(input)).status().message(),
              HasSubstr("Unsupported parameter"));
}

TEST_F(TokenlabAdapterTest, MalformedCreateAnswerIsInternalAndOutcomeUnknown) {
  music::v1::TaskInput input;
  input.set_prompt("p");
  for (const char* body : {R"({"id":"ldtask_1","sta)", "", "{}", R"({"id":5})"}) {
    client_->Answer(200, body, {{"X-Task-ID", "ldtask_1"}});
    absl::Status status = Adapter()->Submit(Music(input)).status();
    EXPECT_THAT(status, StatusIs(StatusCode::kInternal)) << body;
    EXPECT_TRUE(IsOutcomeUnknown(status)) << body;
  }
  // A body and a header naming different tasks cannot both be right.
  client_->Answer(201, R"({"id":"ldtask_1"})", {{"X-Task-ID", "ldtask_2"}});
  absl::Status status = Adapter()->Submit(Music(input)).status();
  EXPECT_THAT(status, StatusIs(StatusCode::kInternal));
  EXPECT_TRUE(IsOutcomeUnknown(status));
}

TEST_F(TokenlabAdapterTest, TransportErrorsPassThroughWithTheirMarks) {
  music::v1::TaskInput input;
  input.set_prompt("p");
  absl::Status timeout = absl::DeadlineExceededError("curl: timed out");
  MarkOutcomeUnknown(timeout);
  client_->Fail(timeout);
  absl::Status status = Adapter()->Submit(Music(input)).status();
  EXPECT_THAT(status, StatusIs(StatusCode::kDeadlineExceeded));
  EXPECT_TRUE(IsOutcomeUnknown(status));

  client_->Fail(absl::UnavailableError("connection refused"));
  status = Adapter()->Submit(Music(input)).status();
  EXPECT_THAT(status, StatusIs(StatusCode::kUnavailable));
  EXPECT_FALSE(IsOutcomeUnknown(status));
}

TEST_F(TokenlabAdapterTest, PollUsesPollUrlOnTheSameOrigin) {
  auto update = PollWith("https://API.tokenlab.sh:443/v1/music/generations/ldtask_1", 200,
                         R"({"id":"ldtask_1","status":"processing"})");
  ASSERT_THAT(update, IsOk());
  EXPECT_EQ(update->state, ProviderState::kRunning);
  const http::Request sent = client_->last();
  EXPECT_EQ(sent.method, "GET");
  EXPECT_EQ(sent.url, "https://API.tokenlab.sh:443/v1/music/generations/ldtask_1");
  EXPECT_EQ(http::FindHeader(sent.headers, "Authorization"), absl::StrCat("Bearer ", kApiKey));
  EXPECT_EQ(sent.timeout, absl::Seconds(12));
}

TEST_F(TokenlabAdapterTest, PollNeverSendsTheKeyToAnotherOrigin) {
  for (const char* foreign : {
           "https://evil.example/v1/tasks/ldtask_1",
           "http://api.tokenlab.sh/v1/tasks/ldtask_1",        // other scheme
           "https://api.tokenlab.sh:8443/v1/tasks/ldtask_1",  // other port
           "https://api.tokenlab.sh@evil.example/v1/tasks/ldtask_1",
           "https://api.tokenlab.sh.evil.example/v1/tasks/ldtask_1",
           "//evil.example/v1/tasks/ldtask_1",
           "ftp://api.tokenlab.sh/v1/tasks/ldtask_1",
           "https://api.tokenlab.sh\\@evil.example/x",
       }) {
    auto update = PollWith(foreign, 200, R"({"id":"ldtask_1","status":"pending"})");
    ASSERT_THAT(update, IsOk());
    EXPECT_EQ(client_->last().url, "https://api.tokenlab.sh/v1/tasks/ldtask_1") << foreign;
  }
}

TEST(TokenlabUrlTest, SameOrigin) {
  EXPECT_TRUE(SameOrigin("https://api.tokenlab.sh", "https://api.tokenlab.sh/v1/tasks/x"));
  EXPECT_TRUE(SameOrigin("https://api.tokenlab.sh/prefix", "HTTPS://Api.TokenLab.sh:443/y?z=1"));
  EXPECT_TRUE(SameOrigin("http://127.0.0.1:8080/tokenlab", "http://127.0.0.1:8080/tokenlab/v1"));
  EXPECT_TRUE(SameOrigin("http://[::1]:9000", "http://[::1]:9000/v1/tasks/x"));
  EXPECT_FALSE(SameOrigin("http://[::1]:9000", "http://[::1]:9001/v1/tasks/x"));
  EXPECT_FALSE(SameOrigin("http://127.0.0.1:8080", "http://127.0.0.1:8081/v1"));
  EXPECT_FALSE(SameOrigin("http://127.0.0.1:8080", "http://localhost:8080/v1"));
  EXPECT_FALSE(SameOrigin("https://api.tokenlab.sh", "https://api.tokenlab.sh/x#frag"));
  EXPECT_FALSE(SameOrigin("https://api.tokenlab.sh", "https://api.tokenlab.sh:0/x"));
  EXPECT_FALSE(SameOrigin("https://api.tokenlab.sh", "https://api.tokenlab.sh:99999/x"));
  EXPECT_FALSE(SameOrigin("https://api.tokenlab.sh", "https://api.tokenlab.sh/a b"));
  EXPECT_FALSE(SameOrigin("https://api.tokenlab.sh", "https://api.tokenlab.sh\r\n/x"));
  EXPECT_FALSE(SameOrigin("https://api.tokenlab.sh", "/v1/tasks/x"));
  EXPECT_FALSE(SameOrigin("not a url", "not a url"));
  EXPECT_EQ(internal::UrlEncode("a b/c?d=e&f~_.-"), "a%20b%2Fc%3Fd%3De%26f~_.-");
}

TEST_F(TokenlabAdapterTest, PollFallsBackToTheFixedRoute) {
  ASSERT_THAT(PollWith("", 200, R"({"id":"ldtask_1","status":"pending"})"), IsOk());
  EXPECT_EQ(client_->last().url, "https://api.tokenlab.sh/v1/tasks/ldtask_1");
  // A relative poll_url is resolved against base_url's origin.
  ASSERT_THAT(
      PollWith("/v1/tasks/ldtask_1?view=full", 200, R"({"id":"ldtask_1","status":"pending"})"),
      IsOk());
  EXPECT_EQ(client_->last().url, "https://api.tokenlab.sh/v1/tasks/ldtask_1?view=full");
  // With a path prefix (the emulator's /tokenlab) and odd task ids.
  client_->Answer(200, R"({"status":"pending"})");
  PollTarget target;
  target.kind = music::v1::TASK_KIND_LYRICS;
  target.provider_task_id = "ld task/1";
  ASSERT_THAT(Adapter("http://127.0.0.1:9/tokenlab/")->Poll(target), IsOk());
  EXPECT_EQ(client_->last().url, "http://127.0.0.1:9/tokenlab/v1/tasks/ld%20task%2F1");
}

TEST_F(TokenlabAdapterTest, PollResults) {
  auto done = PollWith("", 200,
                       R"({"id":"ldtask_1","status":"completed","audio_url":"https://a/1.mp3",
                           "video_url":"https://v/1.mp4","title":"T","lyrics":"L"})",
                       {{"X-Billing-Transaction-ID", "btx_h"}});
  ASSERT_THAT(done, IsOk());
  EXPECT_EQ(done->state, ProviderState::kSucceeded);
  EXPECT_EQ(done->provider_task_id, "ldtask_1");
  EXPECT_EQ(done->provider_billing_transaction_id, "btx_h");
  ASSERT_EQ(done->clips.size(), 1u);
  EXPECT_EQ(done->clips[0].audio_url(), "https://a/1.mp3");
  EXPECT_EQ(done->clips[0].video_url(), "https://v/1.mp4");

  auto other = PollWith("", 200, R"({"id":"ldtask_2","status":"completed"})");
  EXPECT_THAT(other, StatusIs(StatusCode::kInternal));
  EXPECT_THAT(PollWith("", 200, R"({"id":"ldtask_1","sta)"), StatusIs(StatusCode::kInternal));
  EXPECT_THAT(PollWith("", 404, R"({"error":{"code":"task_not_found"}})"),
              StatusIs(StatusCode::kNotFound));
  auto busy = PollWith("", 503, "", {{"Retry-After", "2"}});
  EXPECT_THAT(busy, StatusIs(StatusCode::kUnavailable));
  EXPECT_EQ(GetRetryAfter(busy.status()), absl::Seconds(2));

  PollTarget empty;
  empty.kind = music::v1::TASK_KIND_MUSIC;
  EXPECT_THAT(Adapter()->Poll(empty), StatusIs(StatusCode::kInvalidArgument));
}

// CONTRACT-NOTES "TokenLab": "No idempotency header and no lookup of a task by `request_id` is
// documented; the guidance for a create that timed out is "check for `request_id`; retry only if
// no task was created"". The adapter has no lookup and sends nothing for one.
TEST_F(TokenlabAdapterTest, NoLookupOfALostCreate) {
  EXPECT_THAT(Adapter()->FindByRequestId(Music({})), StatusIs(StatusCode::kUnimplemented));
  EXPECT_TRUE(client_->requests().empty());
  // A 2xx create whose body cannot be read: the task may exist, so it is outcome-unknown (the
  // engine then waits and fails it UNAVAILABLE; kAtMostOnce never resends it).
  music::v1::TaskInput input;
  input.set_prompt("p");
  client_->Answer(200, R"({"id":"ldtask_1","sta)");
  absl::StatusOr<SubmitResult> lost = Adapter()->Submit(Music(input));
  EXPECT_THAT(lost, StatusIs(StatusCode::kInternal));
  EXPECT_TRUE(IsOutcomeUnknown(lost.status()));
}

// CONTRACT-NOTES "TokenLab": `GET /v1/models` -> `{object: "list", data: [{id, object: "model",
// created, owned_by, lemondata: {category, pricing_unit, capability_flags, supported_operations,
// ...}}]}`; seed 000: lyrics need "a model whose public contract documents lyric generation".
TEST_F(TokenlabAdapterTest, FetchModelsTakesLyricsFromTheLiveList) {
  client_->Answer(200, R"({"object":"list","data":[{"id":"suno_music","object":"model",
      "created":1700000000,"owned_by":"tokenlab","lemondata":{"category":"music",
      "pricing_unit":"per_task","capability_flags":["async"],
      "supported_operations":["music","lyrics","continuation"]}}]})");
  auto models = Adapter()->FetchModels();
  ASSERT_THAT(models, IsOk());
  EXPECT_EQ(client_->last().url, "https://api.tokenlab.sh/v1/models?recommended_for=music");
  ASSERT_EQ(models->size(), 1u);
  EXPECT_EQ((*models)[0].name(), "tokenlab-suno-music");
  EXPECT_TRUE((*models)[0].capabilities().lyrics());
  EXPECT_TRUE((*models)[0].capabilities().music());
  EXPECT_TRUE((*models)[0].capabilities().continuation());
  // The configured price stands: the list names a pricing unit, not a price.
  EXPECT_EQ((*models)[0].price().amount_micros(), 100000);

  // capability_flags as an object of booleans; "Generate Lyrics" spelled another way.
  client_->Answer(200, R"({"object":"list","data":[{"id":"suno_music","lemondata":{
      "capability_flags":{"generate-lyrics":true,"instrumental":true}}}]})");
  models = Adapter()->FetchModels();
  ASSERT_THAT(models, IsOk());
  EXPECT_TRUE((*models)[0].capabilities().lyrics());

  // Operations listed without lyrics: not lyrics-capable; the other flags are kept.
  client_->Answer(200, R"({"object":"list","data":[{"id":"suno_music","lemondata":{
      "supported_operations":["music"],"capability_flags":{"lyrics":false}}}]})");
  models = Adapter()->FetchModels();
  ASSERT_THAT(models, IsOk());
  EXPECT_FALSE((*models)[0].capabilities().lyrics());
  EXPECT_TRUE((*models)[0].capabilities().continuation());

  // No lemondata at all: the built-in entry as it is (no lyrics).
  client_->Answer(200, R"({"object":"list","data":[{"id":"suno_music"}]})");
  models = Adapter()->FetchModels();
  ASSERT_THAT(models, IsOk());
  EXPECT_FALSE((*models)[0].capabilities().lyrics());

  client_->Answer(200, R"({"object":"list","data":[{"id":"suno_music","lemondata":{
      "supported_operations":[7]}}]})");
  EXPECT_THAT(Adapter()->FetchModels(), StatusIs(StatusCode::kInternal));
  client_->Answer(503, "");
  EXPECT_THAT(Adapter()->FetchModels(), StatusIs(StatusCode::kUnavailable));
  client_->Answer(200, "nope");
  EXPECT_THAT(Adapter()->FetchModels(), StatusIs(StatusCode::kInternal));
}

TEST_F(TokenlabAdapterTest, ApiKeyNeverInAnErrorMessage) {
  const std::string echo = absl::StrCat(R"({"error":{"code":"invalid_api_key","message":"key )",
                                        kApiKey, R"( is invalid"}})");
  music::v1::TaskInput input;
  input.set_prompt("p");
  std::vector<absl::Status> errors;
  client_->Answer(401, echo);
  errors.push_back(Adapter()->Submit(Music(input)).status());
  client_->Fail(absl::UnavailableError(absl::StrCat("could not send Bearer ", kApiKey)));
  errors.push_back(Adapter()->Submit(Music(input)).status());
  client_->Answer(200, absl::StrCat(R"({"id":")", kApiKey, R"(","sta)"));
  errors.push_back(Adapter()->Submit(Music(input)).status());
  client_->Answer(429, echo);
  errors.push_back(Adapter()->Submit(Music(input)).status());
  client_->Answer(500, echo);
  errors.push_back(Adapter()->FetchModels().status());
  for (const absl::Status& s : errors) {
    EXPECT_FALSE(s.ok());
    EXPECT_THAT(std::string(s.message()), Not(HasSubstr(kApiKey))) << s;
    EXPECT_THAT(s.ToString(), Not(HasSubstr(kApiKey)));
  }
  auto poll = PollWith("", 401, echo);
  EXPECT_THAT(poll, StatusIs(StatusCode::kFailedPrecondition));
  EXPECT_TRUE(adapters::IsProviderAuthError(poll.status()));
  EXPECT_THAT(std::string(poll.status().message()), Not(HasSubstr(kApiKey)));
  // A failed task whose message quotes the key.
  auto failed =
      PollWith("", 200,
               absl::StrCat(R"({"id":"ldtask_1","status":"failed","error":{"message":"bad )",
                            kApiKey, R"("}})"));
  ASSERT_THAT(failed, IsOk());
  EXPECT_THAT(failed->error_message, Not(HasSubstr(kApiKey)));
}

}  // namespace
}  // namespace music::adapters::tokenlab
