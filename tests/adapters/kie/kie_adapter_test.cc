// The kie.ai adapter against a fake HttpClient: exact request shapes (WIRE.md), the error table,
// callbacks and their signatures, and that the API key never leaks into an error.

#include "adapters/kie/kie_adapter.h"

#include <rapidjson/document.h>

#include <limits>
#include <memory>
#include <ostream>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/time/time.h"
#include "adapters/kie/kie_signature.h"
#include "adapters/provider_auth.h"
#include "adapters/provider_errors.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/testing/fake_clock.h"
#include "tests/testing/fake_http_client.h"
#include "tests/testing/status_matchers.h"

namespace music::adapters::kie {
namespace {

using http::FakeHttpClient;

using absl::StatusCode;
using ::testing::UnorderedElementsAreArray;

// The provider task id of a Submit, or its error.
absl::StatusOr<std::string> SubmitId(ProviderAdapter* adapter, const SubmitRequest& request) {
  absl::StatusOr<SubmitResult> result = adapter->Submit(request);
  if (!result.ok()) return result.status();
  return result->provider_task_id;
}
template <typename A>
absl::StatusOr<std::string> SubmitId(const A& adapter, const SubmitRequest& request) {
  return SubmitId(adapter.get(), request);
}

// Polls by kind and provider task id.
template <typename A>
absl::StatusOr<ProviderUpdate> PollTask(const A& adapter, music::v1::TaskKind kind,
                                        std::string provider_task_id) {
  PollTarget target;
  target.kind = kind;
  target.provider_task_id = std::move(provider_task_id);
  return adapter->Poll(target);
}

constexpr char kApiKey[] = "kie-secret-api-key-0123456789";
constexpr char kHmacKey[] = "whsec-test";
constexpr char kCallbackUrl[] = "https://svc.example/callbacks/kie/task-1";
constexpr char kCreated[] = R"({"code":200,"msg":"success","data":{"taskId":"5c79****be8e"}})";

// 2023-11-14T22:13:20Z.
const absl::Time kNow = absl::FromUnixSeconds(1700000000);

class KieAdapterTest : public ::testing::Test {
 protected:
  std::unique_ptr<ProviderAdapter> Adapter(std::string hmac_key = "") {
    KieOptions options;
    options.base_url = "https://kie.test/";
    options.api_key = kApiKey;
    options.webhook_hmac_key = std::move(hmac_key);
    options.request_timeout = absl::Seconds(12);
    return NewKieAdapter(options, client_, &clock_);
  }

  static SubmitRequest Music(music::v1::TaskInput input) {
    SubmitRequest request;
    request.kind = music::v1::TASK_KIND_MUSIC;
    request.task_id = "task-1";
    request.provider_model = "V4_5";
    request.input = std::move(input);
    request.callback_url = kCallbackUrl;
    return request;
  }

  // Submits `request`, answered by kCreated, and returns the parsed JSON body that was sent.
  rapidjson::Document SubmitAndParseBody(const SubmitRequest& request) {
    client_->Answer(200, kCreated);
    absl::StatusOr<std::string> task_id = SubmitId(Adapter(), request);
    EXPECT_THAT(task_id, IsOk());
    if (task_id.ok()) {
      EXPECT_EQ(*task_id, "5c79****be8e");
    }
    rapidjson::Document doc;
    doc.Parse(client_->last().body.c_str());
    EXPECT_FALSE(doc.HasParseError()) << client_->last().body;
    EXPECT_TRUE(doc.IsObject());
    return doc;
  }

  std::shared_ptr<FakeHttpClient> client_ = std::make_shared<FakeHttpClient>();
  FakeClock clock_{kNow};
};

std::vector<std::string> Keys(const rapidjson::Document& doc) {
  std::vector<std::string> keys;
  for (const auto& m : doc.GetObject()) keys.emplace_back(m.name.GetString());
  return keys;
}

std::string Str(const rapidjson::Document& doc, const char* key) {
  const auto it = doc.FindMember(key);
  if (it == doc.MemberEnd() || !it->value.IsString()) return "<not a string>";
  return it->value.GetString();
}

// 1 true, 0 false, -1 missing or not a bool: the field must be a JSON boolean.
int Bool(const rapidjson::Document& doc, const char* key) {
  const auto it = doc.FindMember(key);
  if (it == doc.MemberEnd() || !it->value.IsBool()) return -1;
  return it->value.GetBool() ? 1 : 0;
}

// ---------------------------------------------------------------------------------------------
// Identity and catalog.

TEST_F(KieAdapterTest, Identity) {
  auto adapter = Adapter();
  EXPECT_EQ(adapter->provider(), "kie");
  EXPECT_EQ(adapter->resubmit_policy(), ResubmitPolicy::kAtMostOnce);
  absl::Status cancel = adapter->Cancel("5c79****be8e");
  EXPECT_THAT(cancel, StatusIs(StatusCode::kUnimplemented));
  EXPECT_TRUE(client_->requests().empty());
}

TEST_F(KieAdapterTest, ModelsCatalog) {
  struct Expected {
    const char* name;
    const char* provider_model;
    int duration, custom_prompt, style;
  };
  const Expected expected[] = {{"suno-v3.5", "V3_5", 240, 3000, 200},
                               {"suno-v4", "V4", 240, 3000, 200},
                               {"suno-v4.5", "V4_5", 480, 5000, 1000},
                               {"suno-v4.5-plus", "V4_5PLUS", 480, 5000, 1000},
                               // CONTRACT-NOTES.md (kie.ai): "Models documented by kie.ai: ...
                               // V4_5PLUS, V4_5ALL, V5 (no V5_5)".
                               {"suno-v4.5-all", "V4_5ALL", 480, 5000, 1000},
                               {"suno-v5", "V5", 480, 5000, 1000}};
  std::vector<music::v1::Model> models = Adapter()->Models();
  ASSERT_EQ(models.size(), std::size(expected));
  for (size_t i = 0; i < models.size(); ++i) {
    const music::v1::Model& m = models[i];
    SCOPED_TRACE(m.name());
    EXPECT_EQ(m.name(), expected[i].name);
    EXPECT_EQ(m.provider(), "kie");
    EXPECT_EQ(m.provider_model(), expected[i].provider_model);
    const music::v1::ModelCapabilities& c = m.capabilities();
    EXPECT_TRUE(c.music() && c.lyrics() && c.continuation() && c.instrumental());
    // CONTRACT-NOTES "kie.ai" Extend: `defaultParamFlag` + `continueAt`.
    EXPECT_EQ(c.continuation_style(), music::v1::CONTINUATION_STYLE_SOURCE_PARAMETERS_OR_CUSTOM);
    EXPECT_EQ(c.max_duration_seconds(), expected[i].duration);
    EXPECT_EQ(c.max_prompt_chars(), 500);
    EXPECT_EQ(c.max_custom_prompt_chars(), expected[i].custom_prompt);
    EXPECT_EQ(c.max_style_chars(), expected[i].style);
    EXPECT_EQ(c.max_title_chars(), 80);
    EXPECT_EQ(c.max_lyrics_prompt_chars(), 200);
    // CONTRACT-NOTES.md kie.ai "Generate (and extend) optional fields" names no model: all take
    // them, so ListModels says so for each.
    EXPECT_TRUE(c.negative_tags() && c.vocal_gender() && c.style_weight() && c.weirdness() &&
                c.audio_weight() && c.persona_id());
  }
}

// ---------------------------------------------------------------------------------------------
// Request shapes.

TEST_F(KieAdapterTest, SimpleModeSendsOnlyPromptAndTheFixedFields) {
  music::v1::TaskInput input;
  input.set_prompt("A calm and relaxing piano track with soft melodies");
  input.set_instrumental(true);
  rapidjson::Document body = SubmitAndParseBody(Music(input));
  EXPECT_THAT(Keys(body), UnorderedElementsAreArray(
                              {"prompt", "customMode", "instrumental", "model", "callBackUrl"}));
  EXPECT_EQ(Str(body, "prompt"), input.prompt());
  EXPECT_EQ(Bool(body, "customMode"), 0);
  EXPECT_EQ(Bool(body, "instrumental"), 1);
  EXPECT_EQ(Str(body, "model"), "V4_5");
  EXPECT_EQ(Str(body, "callBackUrl"), kCallbackUrl);

  const http::Request sent = client_->last();
  EXPECT_EQ(sent.method, "POST");
  EXPECT_EQ(sent.url, "https://kie.test/api/v1/generate");
  EXPECT_EQ(http::FindHeader(sent.headers, "Authorization"), absl::StrCat("Bearer ", kApiKey));
  EXPECT_EQ(http::FindHeader(sent.headers, "Content-Type"), "application/json");
  EXPECT_EQ(sent.timeout, absl::Seconds(12));
}

TEST_F(KieAdapterTest, SimpleModeKeepsNegativeTags) {
  music::v1::TaskInput input;
  input.set_prompt("synthwave");
  input.set_negative_tags("metal");
  rapidjson::Document body = SubmitAndParseBody(Music(input));
  EXPECT_THAT(Keys(body), UnorderedElementsAreArray({"prompt", "customMode", "instrumental",
                                                     "model", "callBackUrl", "negativeTags"}));
  EXPECT_EQ(Bool(body, "customMode"), 0);
  EXPECT_EQ(Bool(body, "instrumental"), 0);
  EXPECT_EQ(Str(body, "negativeTags"), "metal");
}

TEST_F(KieAdapterTest, CustomModeSendsLyricsAsPrompt) {
  music::v1::TaskInput input;
  input.set_prompt("ignored description");
  input.set_lyrics("[Verse]\nchildhood dreams");
  input.set_style("Folk, Acoustic");
  input.set_title("Childhood Dreams");
  input.set_negative_tags("Heavy Metal");
  rapidjson::Document body = SubmitAndParseBody(Music(input));
  EXPECT_THAT(Keys(body),
              UnorderedElementsAreArray({"prompt", "customMode", "instrumental", "model",
                                         "callBackUrl", "style", "title", "negativeTags"}));
  EXPECT_EQ(Str(body, "prompt"), "[Verse]\nchildhood dreams");
  EXPECT_EQ(Bool(body, "customMode"), 1);
  EXPECT_EQ(Bool(body, "instrumental"), 0);
  EXPECT_EQ(Str(body, "style"), "Folk, Acoustic");
  EXPECT_EQ(Str(body, "title"), "Childhood Dreams");
  EXPECT_EQ(Str(body, "negativeTags"), "Heavy Metal");
}

TEST_F(KieAdapterTest, CustomModeFallsBackToPromptWithoutLyrics) {
  music::v1::TaskInput input;
  input.set_prompt("words to sing");
  input.set_style("Pop");
  input.set_title("T");
  rapidjson::Document body = SubmitAndParseBody(Music(input));
  EXPECT_THAT(Keys(body), UnorderedElementsAreArray({"prompt", "customMode", "instrumental",
                                                     "model", "callBackUrl", "style", "title"}));
  EXPECT_EQ(Str(body, "prompt"), "words to sing");
  EXPECT_EQ(Bool(body, "customMode"), 1);
}

TEST_F(KieAdapterTest, CustomInstrumentalWithoutTextOmitsPrompt) {
  music::v1::TaskInput input;
  input.set_style("Ambient");
  input.set_title("Drift");
  input.set_instrumental(true);
  rapidjson::Document body = SubmitAndParseBody(Music(input));
  EXPECT_THAT(Keys(body), UnorderedElementsAreArray({"customMode", "instrumental", "model",
                                                     "callBackUrl", "style", "title"}));
  EXPECT_EQ(Bool(body, "customMode"), 1);
  EXPECT_EQ(Bool(body, "instrumental"), 1);
}

TEST_F(KieAdapterTest, TitleAloneSelectsCustomMode) {
  music::v1::TaskInput input;
  input.set_prompt("p");
  input.set_title("Only a title");
  rapidjson::Document body = SubmitAndParseBody(Music(input));
  EXPECT_EQ(Bool(body, "customMode"), 1);
  EXPECT_EQ(body.HasMember("style"), false);
}

TEST_F(KieAdapterTest, ExtendWithSourceParameters) {
  SubmitRequest request = Music({});
  request.kind = music::v1::TASK_KIND_CONTINUATION;
  request.input.set_continue_from_clip_id("e231-clip");
  request.input.set_prompt("not sent");
  rapidjson::Document body = SubmitAndParseBody(request);
  EXPECT_THAT(Keys(body),
              UnorderedElementsAreArray({"audioId", "defaultParamFlag", "model", "callBackUrl"}));
  EXPECT_EQ(Str(body, "audioId"), "e231-clip");
  EXPECT_EQ(Bool(body, "defaultParamFlag"), 0);
  EXPECT_EQ(Str(body, "model"), "V4_5");
  EXPECT_EQ(Str(body, "callBackUrl"), kCallbackUrl);
  EXPECT_EQ(client_->last().url, "https://kie.test/api/v1/generate/extend");
}

TEST_F(KieAdapterTest, ExtendWithOwnParameters) {
  SubmitRequest request = Music({});
  request.kind = music::v1::TASK_KIND_CONTINUATION;
  request.input.set_continue_from_clip_id("e231-clip");
  request.input.set_prompt("Continue with a hopeful chorus");
  request.input.set_style("Folk, Uplifting");
  request.input.set_title("Childhood Dreams Extended");
  request.input.set_continue_at_seconds(60);
  rapidjson::Document body = SubmitAndParseBody(request);
  EXPECT_THAT(Keys(body),
              UnorderedElementsAreArray({"audioId", "defaultParamFlag", "model", "callBackUrl",
                                         "prompt", "style", "title", "continueAt"}));
  EXPECT_EQ(Bool(body, "defaultParamFlag"), 1);
  EXPECT_EQ(Str(body, "prompt"), "Continue with a hopeful chorus");
  EXPECT_EQ(Str(body, "style"), "Folk, Uplifting");
  EXPECT_EQ(Str(body, "title"), "Childhood Dreams Extended");
  ASSERT_TRUE(body["continueAt"].IsNumber());
  EXPECT_DOUBLE_EQ(body["continueAt"].GetDouble(), 60);
}

TEST_F(KieAdapterTest, ExtendWithFractionalContinueAt) {
  SubmitRequest request = Music({});
  request.kind = music::v1::TASK_KIND_CONTINUATION;
  request.input.set_continue_from_clip_id("c");
  request.input.set_continue_at_seconds(42.5);
  rapidjson::Document body = SubmitAndParseBody(request);
  ASSERT_TRUE(body["continueAt"].IsNumber());
  EXPECT_DOUBLE_EQ(body["continueAt"].GetDouble(), 42.5);
}

// CONTRACT-NOTES.md kie.ai: "Generate (and extend) optional fields: `negativeTags`;
// `vocalGender` `m` | `f` (custom mode only); `styleWeight`, `weirdnessConstraint`, `audioWeight`,
// each a number in [0, 1] with at most 2 decimals; `personaId` (custom mode only)."
music::v1::TaskInput WithEveryOption(music::v1::TaskInput input) {
  input.set_negative_tags("Heavy Metal");
  input.set_vocal_gender(music::v1::VOCAL_GENDER_FEMALE);
  input.set_style_weight(0.65);
  input.set_weirdness(0.29);  // a binary fraction: must still go out as 0.29
  input.set_audio_weight(0);  // set to 0, not unset: sent
  input.set_persona_id("persona-7f3a");
  return input;
}

double Num(const rapidjson::Document& doc, const char* key) {
  const auto it = doc.FindMember(key);
  if (it == doc.MemberEnd() || !it->value.IsNumber()) return -1;
  return it->value.GetDouble();
}

TEST_F(KieAdapterTest, CustomModeSendsEveryGenerateOption) {
  music::v1::TaskInput input;
  input.set_lyrics("[Verse]\nneon rain");
  input.set_style("Synthwave");
  input.set_title("Neon");
  SubmitRequest request = Music(WithEveryOption(input));
  request.provider_model = "V4_5PLUS";
  rapidjson::Document body = SubmitAndParseBody(request);
  EXPECT_THAT(Keys(body),
              UnorderedElementsAreArray({"prompt", "customMode", "instrumental", "model",
                                         "callBackUrl", "style", "title", "negativeTags",
                                         "vocalGender", "styleWeight", "weirdnessConstraint",
                                         "audioWeight", "personaId"}));
  EXPECT_EQ(Str(body, "model"), "V4_5PLUS");
  EXPECT_EQ(Str(body, "negativeTags"), "Heavy Metal");
  EXPECT_EQ(Str(body, "vocalGender"), "f");
  EXPECT_DOUBLE_EQ(Num(body, "styleWeight"), 0.65);
  EXPECT_DOUBLE_EQ(Num(body, "weirdnessConstraint"), 0.29);
  EXPECT_DOUBLE_EQ(Num(body, "audioWeight"), 0);
  EXPECT_EQ(Str(body, "personaId"), "persona-7f3a");
  // "at most 2 decimals" on the wire too, not the double's 17 digits.
  EXPECT_THAT(client_->last().body, ::testing::HasSubstr(R"("weirdnessConstraint":0.29,)"));
}

TEST_F(KieAdapterTest, VocalGenderMaleIsM) {
  music::v1::TaskInput input;
  input.set_prompt("words");
  input.set_style("Blues");
  input.set_title("T");
  input.set_vocal_gender(music::v1::VOCAL_GENDER_MALE);
  rapidjson::Document body = SubmitAndParseBody(Music(input));
  EXPECT_EQ(Str(body, "vocalGender"), "m");
  EXPECT_FALSE(body.HasMember("styleWeight"));  // unset weights are left out
  EXPECT_FALSE(body.HasMember("personaId"));
}

TEST_F(KieAdapterTest, SimpleModeNeverSendsVoiceOrPersona) {
  music::v1::TaskInput input;
  input.set_prompt("synthwave");
  rapidjson::Document body = SubmitAndParseBody(Music(WithEveryOption(input)));
  // vocalGender and personaId are "custom mode only"; the weights and negativeTags are not.
  EXPECT_THAT(Keys(body), UnorderedElementsAreArray({"prompt", "customMode", "instrumental",
                                                     "model", "callBackUrl", "negativeTags",
                                                     "styleWeight", "weirdnessConstraint",
                                                     "audioWeight"}));
  EXPECT_EQ(Bool(body, "customMode"), 0);
}

TEST_F(KieAdapterTest, ExtendWithOwnParametersSendsEveryOption) {
  SubmitRequest request = Music(WithEveryOption({}));
  request.kind = music::v1::TASK_KIND_CONTINUATION;
  request.input.set_continue_from_clip_id("e231-clip");
  request.input.set_prompt("a hopeful chorus");
  request.input.set_style("Folk");
  request.input.set_title("Extended");
  request.input.set_continue_at_seconds(60);
  rapidjson::Document body = SubmitAndParseBody(request);
  EXPECT_THAT(Keys(body), UnorderedElementsAreArray(
                              {"audioId", "defaultParamFlag", "model", "callBackUrl", "prompt",
                               "style", "title", "continueAt", "negativeTags", "vocalGender",
                               "styleWeight", "weirdnessConstraint", "audioWeight", "personaId"}));
  EXPECT_EQ(Str(body, "negativeTags"), "Heavy Metal");
  EXPECT_EQ(Str(body, "vocalGender"), "f");
  EXPECT_DOUBLE_EQ(Num(body, "styleWeight"), 0.65);
  EXPECT_EQ(Str(body, "personaId"), "persona-7f3a");
}

TEST_F(KieAdapterTest, ExtendWithSourceParametersSendsNegativeTagsAndWeights) {
  SubmitRequest request = Music(WithEveryOption({}));
  request.kind = music::v1::TASK_KIND_CONTINUATION;
  request.input.set_continue_from_clip_id("e231-clip");
  rapidjson::Document body = SubmitAndParseBody(request);
  // defaultParamFlag false reuses the source clip's parameters: no voice or persona to set.
  EXPECT_THAT(Keys(body), UnorderedElementsAreArray({"audioId", "defaultParamFlag", "model",
                                                     "callBackUrl", "negativeTags", "styleWeight",
                                                     "weirdnessConstraint", "audioWeight"}));
  EXPECT_EQ(Bool(body, "defaultParamFlag"), 0);
}

TEST_F(KieAdapterTest, LyricsSendsPromptAndCallbackOnly) {
  SubmitRequest request = Music({});
  request.kind = music::v1::TASK_KIND_LYRICS;
  request.provider_model = "";  // lyrics take no model
  request.input.set_prompt("a song about the sea");
  rapidjson::Document body = SubmitAndParseBody(request);
  EXPECT_THAT(Keys(body), UnorderedElementsAreArray({"prompt", "callBackUrl"}));
  EXPECT_EQ(Str(body, "prompt"), "a song about the sea");
  EXPECT_EQ(Str(body, "callBackUrl"), kCallbackUrl);
  EXPECT_EQ(client_->last().url, "https://kie.test/api/v1/lyrics");
}

TEST_F(KieAdapterTest, RejectsUnusableRequestsWithoutSending) {
  SubmitRequest unspecified = Music({});
  unspecified.kind = music::v1::TASK_KIND_UNSPECIFIED;
  SubmitRequest no_clip = Music({});
  no_clip.kind = music::v1::TASK_KIND_CONTINUATION;
  SubmitRequest infinite = no_clip;
  infinite.input.set_continue_from_clip_id("c");
  infinite.input.set_continue_at_seconds(std::numeric_limits<double>::infinity());
  SubmitRequest no_model = Music({});
  no_model.provider_model.clear();
  for (const SubmitRequest& request : {unspecified, no_clip, infinite, no_model}) {
    absl::StatusOr<std::string> result = SubmitId(Adapter(), request);
    EXPECT_THAT(result, StatusIs(StatusCode::kInvalidArgument)) << result.status();
  }
  EXPECT_TRUE(client_->requests().empty());
}

// ---------------------------------------------------------------------------------------------
// Create errors.

struct ErrorCase {
  int code;
  bool lyrics_endpoint;
  StatusCode expected;
};

void PrintTo(const ErrorCase& c, std::ostream* os) {
  *os << c.code << (c.lyrics_endpoint ? " on /api/v1/lyrics" : "");
}

class SubmitErrorTest : public KieAdapterTest, public ::testing::WithParamInterface<ErrorCase> {
 protected:
  SubmitRequest Request() {
    SubmitRequest request = Music({});
    request.input.set_prompt("p");
    if (GetParam().lyrics_endpoint) request.kind = music::v1::TASK_KIND_LYRICS;
    return request;
  }
};

TEST_P(SubmitErrorTest, BodyCodeWins) {
  const ErrorCase& c = GetParam();
  // kie.ai may answer HTTP 200 with the error in the body.
  client_->Answer(200, absl::StrCat(R"({"code":)", c.code, R"(,"msg":"nope","data":null})"));
  absl::StatusOr<std::string> result = SubmitId(Adapter(), Request());
  ASSERT_FALSE(result.ok());
  EXPECT_THAT(result, StatusIs(c.expected)) << result.status();
  EXPECT_EQ(GetProviderErrorCode(result.status()), absl::StrCat(c.code));
  EXPECT_FALSE(IsOutcomeUnknown(result.status()));
  EXPECT_NE(result.status().message().find("nope"), absl::string_view::npos);
}

TEST_P(SubmitErrorTest, HttpStatusWhenTheBodyDoesNotParse) {
  const ErrorCase& c = GetParam();
  client_->Answer(c.code, "<html>error</html>");
  absl::StatusOr<std::string> result = SubmitId(Adapter(), Request());
  ASSERT_FALSE(result.ok());
  EXPECT_THAT(result, StatusIs(c.expected)) << result.status();
  EXPECT_EQ(GetProviderErrorCode(result.status()), absl::StrCat(c.code));
}

INSTANTIATE_TEST_SUITE_P(Table, SubmitErrorTest,
                         ::testing::Values(ErrorCase{429, false, StatusCode::kResourceExhausted},
                                           ErrorCase{402, false, StatusCode::kFailedPrecondition},
                                           // Our key refused: PROVIDER_AUTH.
                                           ErrorCase{401, false, StatusCode::kFailedPrecondition},
                                           ErrorCase{403, false, StatusCode::kFailedPrecondition},
                                           ErrorCase{404, false, StatusCode::kNotFound},
                                           ErrorCase{409, false, StatusCode::kAlreadyExists},
                                           ErrorCase{400, false, StatusCode::kInvalidArgument},
                                           ErrorCase{422, false, StatusCode::kInvalidArgument},
                                           ErrorCase{451, false, StatusCode::kPermissionDenied},
                                           ErrorCase{455, false, StatusCode::kUnavailable},
                                           ErrorCase{500, false, StatusCode::kUnavailable},
                                           ErrorCase{503, false, StatusCode::kUnavailable},
                                           // POST /api/v1/lyrics swaps 405 and 429.
                                           ErrorCase{405, true, StatusCode::kResourceExhausted},
                                           ErrorCase{429, true, StatusCode::kFailedPrecondition},
                                           ErrorCase{402, true, StatusCode::kFailedPrecondition},
                                           ErrorCase{500, true, StatusCode::kUnavailable}),
                         [](const auto& info) {
                           return absl::StrCat(info.param.lyrics_endpoint ? "Lyrics" : "Generate",
                                               info.param.code);
                         });

// A 401/403 refuses the service's own key (the caller authenticated to us fine): a server-side
// FAILED_PRECONDITION marked PROVIDER_AUTH, in the body's code or the HTTP status, on creates and
// polls alike; 402 (credits) and 451 are not auth errors.
TEST_F(KieAdapterTest, OurKeyRefusedIsProviderAuthNotUnauthenticated) {
  client_->Answer(401, R"({"code":401,"msg":"You do not have access permissions","data":null})");
  absl::StatusOr<std::string> created = SubmitId(Adapter(), Music({}));
  EXPECT_THAT(created, StatusIs(StatusCode::kFailedPrecondition));
  EXPECT_TRUE(IsProviderAuthError(created.status())) << created.status();
  EXPECT_EQ(GetProviderErrorCode(created.status()), "401");
  client_->Answer(200, R"({"code":403,"msg":"forbidden","data":null})");
  auto polled = PollTask(Adapter(), music::v1::TASK_KIND_MUSIC, "t");
  EXPECT_THAT(polled, StatusIs(StatusCode::kFailedPrecondition));
  EXPECT_TRUE(IsProviderAuthError(polled.status())) << polled.status();
  client_->Answer(402, R"({"code":402,"msg":"Insufficient Credits","data":null})");
  absl::StatusOr<std::string> broke = SubmitId(Adapter(), Music({}));
  EXPECT_THAT(broke, StatusIs(StatusCode::kFailedPrecondition));
  EXPECT_FALSE(IsProviderAuthError(broke.status()));
  client_->Answer(451, R"({"code":451,"msg":"unavailable for legal reasons","data":null})");
  EXPECT_FALSE(IsProviderAuthError(SubmitId(Adapter(), Music({})).status()));
}

TEST_F(KieAdapterTest, RateLimitCarriesRetryAfterSeconds) {
  client_->Answer(429, R"({"code":429,"msg":"rate limited","data":null})", {{"retry-after", "17"}});
  absl::StatusOr<std::string> result = SubmitId(Adapter(), Music({}));
  EXPECT_THAT(result, StatusIs(StatusCode::kResourceExhausted));
  EXPECT_EQ(GetRetryAfter(result.status()), absl::Seconds(17));
}

TEST_F(KieAdapterTest, RateLimitCarriesRetryAfterHttpDate) {
  // kNow + 90 s.
  client_->Answer(429, "", {{"Retry-After", "Tue, 14 Nov 2023 22:14:50 GMT"}});
  absl::StatusOr<std::string> result = SubmitId(Adapter(), Music({}));
  EXPECT_THAT(result, StatusIs(StatusCode::kResourceExhausted));
  EXPECT_EQ(GetRetryAfter(result.status()), absl::Seconds(90));
}

TEST_F(KieAdapterTest, LyricsRateLimitIs405WithRetryAfter) {
  SubmitRequest request = Music({});
  request.kind = music::v1::TASK_KIND_LYRICS;
  client_->Answer(405, R"({"code":405,"msg":"rate limited"})", {{"Retry-After", "3"}});
  absl::StatusOr<std::string> result = SubmitId(Adapter(), request);
  EXPECT_THAT(result, StatusIs(StatusCode::kResourceExhausted));
  EXPECT_EQ(GetRetryAfter(result.status()), absl::Seconds(3));
  // On the lyrics endpoint 429 means "no credits": no point waiting.
  client_->Answer(429, R"({"code":429,"msg":"insufficient credits"})", {{"Retry-After", "3"}});
  result = SubmitId(Adapter(), request);
  EXPECT_THAT(result, StatusIs(StatusCode::kFailedPrecondition));
  EXPECT_EQ(GetRetryAfter(result.status()), std::nullopt);
}

TEST_F(KieAdapterTest, MalformedSuccessIsOutcomeUnknown) {
  for (const char* body : {
           R"({"code":200,"msg":"success","data":{"taskId":"5c79)",
           R"({"code":200,"msg":"success","data":{}})",
           R"({"code":200,"msg":"success","data":null})",
           R"({"code":"200","msg":"success","data":{"taskId":"x"}})",
           "",
       }) {
    client_->Answer(200, body);
    absl::StatusOr<std::string> result = SubmitId(Adapter(), Music({}));
    ASSERT_FALSE(result.ok()) << body;
    EXPECT_THAT(result, StatusIs(StatusCode::kInternal)) << body;
    EXPECT_TRUE(IsOutcomeUnknown(result.status())) << body;
  }
}

TEST_F(KieAdapterTest, BodySuccessWinsOverHttpStatus) {
  client_->Answer(500, kCreated);
  absl::StatusOr<std::string> result = SubmitId(Adapter(), Music({}));
  ASSERT_THAT(result, IsOk());
  EXPECT_EQ(*result, "5c79****be8e");
}

TEST_F(KieAdapterTest, TransportErrorsPassThroughWithTheirMarks) {
  absl::Status timeout = absl::DeadlineExceededError("GET failed: Timeout was reached");
  MarkOutcomeUnknown(timeout);
  client_->Fail(timeout);
  absl::StatusOr<std::string> result = SubmitId(Adapter(), Music({}));
  EXPECT_THAT(result, StatusIs(StatusCode::kDeadlineExceeded));
  EXPECT_TRUE(IsOutcomeUnknown(result.status()));

  client_->Fail(absl::UnavailableError("Couldn't connect to server"));
  result = SubmitId(Adapter(), Music({}));
  EXPECT_THAT(result, StatusIs(StatusCode::kUnavailable));
  EXPECT_FALSE(IsOutcomeUnknown(result.status()));
}

// ---------------------------------------------------------------------------------------------
// Poll.

constexpr char kSeedTaskStatus[] = R"({"code":200,"msg":"success","data":{"taskId":"a b/c?d&e",
  "status":"SUCCESS","response":{"sunoData":[{"id":"e231","audioUrl":"https://example.cn/1.mp3",
  "streamAudioUrl":"https://example.cn/1","imageUrl":"https://example.cn/1.jpeg","prompt":"p",
  "title":"Peaceful Piano","tags":"calm","duration":198.44,
  "createTime":"2025-01-01 00:00:00"}]}}})";

TEST_F(KieAdapterTest, PollMusicUrlEncodesTheTaskId) {
  client_->Answer(200, kSeedTaskStatus);
  absl::StatusOr<ProviderUpdate> update =
      PollTask(Adapter(), music::v1::TASK_KIND_MUSIC, "a b/c?d&e");
  ASSERT_THAT(update, IsOk());
  const http::Request sent = client_->last();
  EXPECT_EQ(sent.method, "GET");
  EXPECT_EQ(sent.url, "https://kie.test/api/v1/generate/record-info?taskId=a%20b%2Fc%3Fd%26e");
  EXPECT_EQ(http::FindHeader(sent.headers, "Authorization"), absl::StrCat("Bearer ", kApiKey));
  EXPECT_EQ(update->provider_task_id, "a b/c?d&e");
  EXPECT_EQ(update->state, ProviderState::kSucceeded);
  ASSERT_EQ(update->clips.size(), 1u);
  EXPECT_EQ(update->clips[0].audio_url(), "https://example.cn/1.mp3");
}

TEST_F(KieAdapterTest, PollContinuationUsesTheMusicEndpoint) {
  client_->Answer(200, R"({"code":200,"data":{"taskId":"t","status":"PENDING","response":null}})");
  absl::StatusOr<ProviderUpdate> update =
      PollTask(Adapter(), music::v1::TASK_KIND_CONTINUATION, "t");
  ASSERT_THAT(update, IsOk());
  EXPECT_EQ(client_->last().url, "https://kie.test/api/v1/generate/record-info?taskId=t");
  EXPECT_EQ(update->state, ProviderState::kPending);
}

TEST_F(KieAdapterTest, PollLyricsUsesTheLyricsEndpoint) {
  client_->Answer(200, R"({"code":200,"msg":"success","data":{"taskId":"l-1","param":"{}",
      "response":{"taskId":"l-1","data":[{"text":"[Verse] hi","title":"Hi","status":"complete",
      "errorMessage":""}]},"status":"SUCCESS","type":"LYRICS","errorCode":null,
      "errorMessage":null}})");
  absl::StatusOr<ProviderUpdate> update = PollTask(Adapter(), music::v1::TASK_KIND_LYRICS, "l-1");
  ASSERT_THAT(update, IsOk());
  EXPECT_EQ(client_->last().url, "https://kie.test/api/v1/lyrics/record-info?taskId=l-1");
  EXPECT_EQ(update->state, ProviderState::kSucceeded);
  ASSERT_EQ(update->lyric_variants.size(), 1u);
  EXPECT_EQ(update->lyric_variants[0].text(), "[Verse] hi");
}

TEST_F(KieAdapterTest, PollErrors) {
  auto adapter = Adapter();
  client_->Answer(200, R"({"code":404,"msg":"task not found","data":null})");
  absl::StatusOr<ProviderUpdate> update = PollTask(adapter, music::v1::TASK_KIND_MUSIC, "t");
  EXPECT_THAT(update, StatusIs(StatusCode::kNotFound));
  EXPECT_EQ(GetProviderErrorCode(update.status()), "404");

  // Lyrics polls are not the lyrics create endpoint: 429 is a rate limit there.
  client_->Answer(429, R"({"code":429,"msg":"slow down"})", {{"Retry-After", "1"}});
  update = PollTask(adapter, music::v1::TASK_KIND_LYRICS, "t");
  EXPECT_THAT(update, StatusIs(StatusCode::kResourceExhausted));
  EXPECT_EQ(GetRetryAfter(update.status()), absl::Seconds(1));

  client_->Answer(
      200, R"({"code":200,"data":{"taskId":"t","status":"SUCCESS","response":{"sunoData":{}}}})");
  update = PollTask(adapter, music::v1::TASK_KIND_MUSIC, "t");
  EXPECT_THAT(update, StatusIs(StatusCode::kInternal));
  EXPECT_TRUE(IsRetryable(update.status()));

  client_->Answer(200, R"({"code":200,"data":{"taskId":"other","status":"SUCCESS"}})");
  update = PollTask(adapter, music::v1::TASK_KIND_MUSIC, "t");
  EXPECT_THAT(update, StatusIs(StatusCode::kInternal));

  client_->Answer(502, "Bad Gateway");
  update = PollTask(adapter, music::v1::TASK_KIND_MUSIC, "t");
  EXPECT_THAT(update, StatusIs(StatusCode::kUnavailable));

  EXPECT_THAT(PollTask(adapter, music::v1::TASK_KIND_MUSIC, ""),
              StatusIs(StatusCode::kInvalidArgument));
  EXPECT_THAT(PollTask(adapter, music::v1::TASK_KIND_UNSPECIFIED, "t"),
              StatusIs(StatusCode::kInvalidArgument));
}

// ---------------------------------------------------------------------------------------------
// Callbacks.

constexpr char kCompleteCallback[] = R"({"code":200,"msg":"All generated successfully.",
  "data":{"callbackType":"complete","task_id":"5c79****be8e","data":[{"id":"c1",
  "audio_url":"https://cdn/c1.mp3","stream_audio_url":"https://cdn/s1","image_url":"https://cdn/i",
  "prompt":"[Verse]","model_name":"chirp-v4-5","title":"T","tags":"folk",
  "createTime":"2025-01-01 00:00:00","duration":198.44}]}})";

http::Request Callback(std::string body, http::Headers headers = {}) {
  http::Request request;
  request.method = "POST";
  request.url = "/callbacks/kie/task-1";
  request.body = std::move(body);
  request.headers = std::move(headers);
  return request;
}

http::Headers Signed(absl::string_view task_id, absl::Time at, absl::string_view key = kHmacKey) {
  const std::string timestamp = absl::StrCat(absl::ToUnixSeconds(at));
  return {{"X-Webhook-Timestamp", timestamp},
          {"X-Webhook-Signature", KieCallbackSignature(key, task_id, timestamp)}};
}

TEST(KieCallbackSignatureTest, KnownVector) {
  // python3: base64(hmac.new(b"whsec-test", b"5c79****be8e.1700000000", sha256).digest())
  EXPECT_EQ(KieCallbackSignature(kHmacKey, "5c79****be8e", "1700000000"),
            "V8R04jC7bFimcnzkBdIoudCcwJj2pRHNHd/cY56H4M4=");
  EXPECT_TRUE(VerifyKieCallbackSignature(kHmacKey, "5c79****be8e", "1700000000",
                                         "V8R04jC7bFimcnzkBdIoudCcwJj2pRHNHd/cY56H4M4="));
  // Unpadded base64 is the same digest.
  EXPECT_TRUE(VerifyKieCallbackSignature(kHmacKey, "5c79****be8e", "1700000000",
                                         "V8R04jC7bFimcnzkBdIoudCcwJj2pRHNHd/cY56H4M4"));
  EXPECT_FALSE(VerifyKieCallbackSignature(kHmacKey, "5c79****be8e", "1700000001",
                                          "V8R04jC7bFimcnzkBdIoudCcwJj2pRHNHd/cY56H4M4="));
  EXPECT_FALSE(VerifyKieCallbackSignature(kHmacKey, "5c79****be8e", "1700000000", ""));
  EXPECT_FALSE(VerifyKieCallbackSignature(kHmacKey, "5c79****be8e", "1700000000", "!!!"));
  EXPECT_FALSE(VerifyKieCallbackSignature(kHmacKey, "5c79****be8e", "1700000000", "AAAA"));
}

TEST_F(KieAdapterTest, UnsignedCallbacksAcceptedWhenNoKeyIsConfigured) {
  absl::StatusOr<ProviderUpdate> update =
      Adapter()->ParseCallback(music::v1::TASK_KIND_MUSIC, Callback(kCompleteCallback));
  ASSERT_THAT(update, IsOk());
  EXPECT_EQ(update->provider_task_id, "5c79****be8e");
  EXPECT_EQ(update->state, ProviderState::kSucceeded);
  EXPECT_EQ(update->provider_status, "SUCCESS");
  ASSERT_EQ(update->clips.size(), 1u);
  EXPECT_EQ(update->clips[0].model_name(), "chirp-v4-5");
}

TEST_F(KieAdapterTest, SignedCallbackAccepted) {
  auto adapter = Adapter(kHmacKey);
  absl::StatusOr<ProviderUpdate> update = adapter->ParseCallback(
      music::v1::TASK_KIND_MUSIC, Callback(kCompleteCallback, Signed("5c79****be8e", kNow)));
  ASSERT_THAT(update, IsOk());
  EXPECT_EQ(update->state, ProviderState::kSucceeded);
  // Slightly old and slightly ahead (clock skew) are both fine.
  for (absl::Duration skew : {absl::Minutes(-9), absl::Minutes(9)}) {
    update =
        adapter->ParseCallback(music::v1::TASK_KIND_MUSIC,
                               Callback(kCompleteCallback, Signed("5c79****be8e", kNow + skew)));
    EXPECT_THAT(update, IsOk());
  }
}

TEST_F(KieAdapterTest, ForgedMissingAndStaleSignaturesAreRejected) {
  auto adapter = Adapter(kHmacKey);
  const std::string ts = absl::StrCat(absl::ToUnixSeconds(kNow));
  const std::vector<std::pair<std::string, http::Headers>> cases = {
      {"no headers", {}},
      {"no signature", {{"X-Webhook-Timestamp", ts}}},
      {"no timestamp",
       {{"X-Webhook-Signature", KieCallbackSignature(kHmacKey, "5c79****be8e", ts)}}},
      {"wrong key", Signed("5c79****be8e", kNow, "another-key")},
      {"other task", Signed("other-task", kNow)},
      {"garbage signature", {{"X-Webhook-Timestamp", ts}, {"X-Webhook-Signature", "Zm9yZ2Vk"}}},
      {"timestamp not seconds",
       {{"X-Webhook-Timestamp", "yesterday"},
        {"X-Webhook-Signature", KieCallbackSignature(kHmacKey, "5c79****be8e", "yesterday")}}},
      {"stale", Signed("5c79****be8e", kNow - absl::Minutes(11))},
      {"future", Signed("5c79****be8e", kNow + absl::Minutes(11))},
  };
  for (const auto& [name, headers] : cases) {
    absl::StatusOr<ProviderUpdate> update =
        adapter->ParseCallback(music::v1::TASK_KIND_MUSIC, Callback(kCompleteCallback, headers));
    ASSERT_FALSE(update.ok()) << name;
    EXPECT_THAT(update, StatusIs(StatusCode::kUnauthenticated)) << name << ": " << update.status();
  }
}

TEST_F(KieAdapterTest, SignatureTimestampIsTheHeaderAsSent) {
  // A replay with the timestamp reformatted ("+1700000000") must not verify against the
  // original signature, even though it parses to the same instant.
  auto adapter = Adapter(kHmacKey);
  http::Headers headers = Signed("5c79****be8e", kNow);
  headers[0].second = "+" + headers[0].second;
  absl::StatusOr<ProviderUpdate> update =
      adapter->ParseCallback(music::v1::TASK_KIND_MUSIC, Callback(kCompleteCallback, headers));
  EXPECT_THAT(update, StatusIs(StatusCode::kUnauthenticated));
}

TEST_F(KieAdapterTest, MalformedCallbackIsInvalidArgument) {
  auto adapter = Adapter();
  for (const char* body : {"", "{", R"({"code":200,"data":{"callbackType":"complete"}})",
                           R"({"code":"200","data":{"callbackType":"text","task_id":"t"}})"}) {
    absl::StatusOr<ProviderUpdate> update =
        adapter->ParseCallback(music::v1::TASK_KIND_MUSIC, Callback(body));
    EXPECT_THAT(update, StatusIs(StatusCode::kInvalidArgument)) << body;
  }
  EXPECT_THAT(adapter->ParseCallback(music::v1::TASK_KIND_UNSPECIFIED, Callback(kCompleteCallback))
                  .status(),
              StatusIs(StatusCode::kInvalidArgument));
}

TEST_F(KieAdapterTest, LyricsAndErrorCallbacks) {
  auto adapter = Adapter(kHmacKey);
  absl::StatusOr<ProviderUpdate> update = adapter->ParseCallback(
      music::v1::TASK_KIND_LYRICS,
      Callback(R"({"code":200,"msg":"All generated successfully.","data":{"callbackType":
          "complete","task_id":"l-1","data":[{"text":"[Verse] x","title":"X","status":"complete",
          "error_message":""}]}})",
               Signed("l-1", kNow)));
  ASSERT_THAT(update, IsOk());
  EXPECT_EQ(update->state, ProviderState::kSucceeded);
  ASSERT_EQ(update->lyric_variants.size(), 1u);

  update = adapter->ParseCallback(
      music::v1::TASK_KIND_CONTINUATION,
      Callback(R"({"code":408,"msg":"Timed out","data":{"callbackType":"error","task_id":"t",
          "data":null}})",
               Signed("t", kNow)));
  ASSERT_THAT(update, IsOk());
  EXPECT_EQ(update->state, ProviderState::kFailed);
  EXPECT_EQ(update->error_code, StatusCode::kDeadlineExceeded);
  EXPECT_EQ(update->provider_error_code, "408");
  EXPECT_EQ(update->provider_status, "callback:error");
}

// ---------------------------------------------------------------------------------------------
// The API key stays out of errors.

TEST_F(KieAdapterTest, ApiKeyNeverAppearsInErrors) {
  auto adapter = Adapter(kHmacKey);
  const std::string echo = absl::StrCat("invalid key Bearer ", kApiKey);
  std::vector<absl::Status> errors;

  client_->Fail(absl::InternalError(absl::StrCat("transport said ", kApiKey)));
  errors.push_back(SubmitId(adapter, Music({})).status());
  client_->Answer(401, absl::StrCat(R"({"code":401,"msg":")", echo, R"("})"));
  errors.push_back(SubmitId(adapter, Music({})).status());
  client_->Answer(200, absl::StrCat(R"({"code":200,"data":{"taskId":)", kApiKey, "}}"));
  errors.push_back(SubmitId(adapter, Music({})).status());
  client_->Answer(
      200, absl::StrCat(R"({"code":200,"data":{"taskId":")", kApiKey, R"(","status":"SUCCESS"}})"));
  errors.push_back(PollTask(adapter, music::v1::TASK_KIND_MUSIC, "t").status());
  client_->Answer(500, echo);
  errors.push_back(PollTask(adapter, music::v1::TASK_KIND_LYRICS, "t").status());
  errors.push_back(
      adapter->ParseCallback(music::v1::TASK_KIND_MUSIC, Callback(kCompleteCallback)).status());
  errors.push_back(adapter->ParseCallback(music::v1::TASK_KIND_MUSIC, Callback(echo)).status());
  errors.push_back(adapter->Cancel(kApiKey));

  for (const absl::Status& status : errors) {
    EXPECT_FALSE(status.ok());
    EXPECT_EQ(status.ToString().find(kApiKey), std::string::npos) << status;
  }

  // Provider failure text reaches the task's error_message: it is redacted as well.
  client_->Answer(200, absl::StrCat(R"({"code":200,"data":{"taskId":"t","status":)",
                                    R"("GENERATE_AUDIO_FAILED","errorMessage":")", echo, R"("}})"));
  absl::StatusOr<ProviderUpdate> update = PollTask(adapter, music::v1::TASK_KIND_MUSIC, "t");
  ASSERT_THAT(update, IsOk());
  EXPECT_EQ(update->error_message.find(kApiKey), std::string::npos);
  EXPECT_NE(update->error_message.find("[redacted]"), std::string::npos);
}

}  // namespace
}  // namespace music::adapters::kie
