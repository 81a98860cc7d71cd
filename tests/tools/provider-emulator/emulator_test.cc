// provider-emulator over real HTTP: an in-process emulator on port 0, httplib clients, and a
// callback receiver on port 0. Task durations are a few hundred milliseconds; waits are bounded
// polling loops.
#include "tools/provider-emulator/emulator.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <httplib.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <rapidjson/document.h>

#include <cstdint>
#include <cstdlib>
#include <functional>
#include <memory>
#include <regex>
#include <string>
#include <thread>
#include <tuple>
#include <vector>

#include "absl/strings/escaping.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "tests/testing/fake_clock.h"
#include "tests/testing/status_matchers.h"
#include "tests/testing/wait_for.h"
#include "tools/provider-emulator/core.h"
#include "tools/provider-emulator/kie_contract.h"

namespace music::emulator {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;

constexpr char kKey[] = "test-kie-key";
constexpr double kClipSeconds = 1.5;

// ---------------------------------------------------------------------------------------------
// Helpers.

// The kit's deadline-bounded wait (fails the test at the deadline).
bool WaitUntil(const std::function<bool()>& done, absl::Duration timeout = absl::Seconds(5)) {
  return WaitFor(done, timeout);
}

rapidjson::Document ParseJson(const std::string& text) {
  rapidjson::Document doc;
  doc.Parse(text.data(), text.size());
  EXPECT_FALSE(doc.HasParseError()) << text;
  return doc;
}

bool IsJson(const std::string& text) {
  rapidjson::Document doc;
  doc.Parse(text.data(), text.size());
  return !doc.HasParseError();
}

std::string Str(const rapidjson::Value& obj, const char* name) {
  auto it = obj.FindMember(name);
  if (it == obj.MemberEnd() || !it->value.IsString()) return "<missing or not a string>";
  return std::string(it->value.GetString(), it->value.GetStringLength());
}

std::string HmacBase64(const std::string& key, const std::string& message) {
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int length = 0;
  HMAC(EVP_sha256(), key.data(), static_cast<int>(key.size()),
       reinterpret_cast<const unsigned char*>(message.data()), message.size(), digest, &length);
  return absl::Base64Escape(absl::string_view(reinterpret_cast<char*>(digest), length));
}

uint32_t U32(const std::string& s, size_t at) {
  return static_cast<uint8_t>(s[at]) | static_cast<uint8_t>(s[at + 1]) << 8 |
         static_cast<uint8_t>(s[at + 2]) << 16 |
         static_cast<uint32_t>(static_cast<uint8_t>(s[at + 3])) << 24;
}
uint16_t U16(const std::string& s, size_t at) {
  return static_cast<uint16_t>(static_cast<uint8_t>(s[at]) | static_cast<uint8_t>(s[at + 1]) << 8);
}

// One callback the receiver got.
struct Received {
  std::string task_id;
  std::string type;  // data.callbackType
  int code = 0;
  std::string body;
  std::string timestamp;  // X-Webhook-Timestamp
  std::string signature;  // X-Webhook-Signature
};

// A webhook endpoint on port 0 that records every POST to /cb.
class CallbackReceiver {
 public:
  CallbackReceiver() {
    server_.Post("/cb", [this](const httplib::Request& req, httplib::Response& res) {
      absl::MutexLock lock(&mu_);
      ++attempts_;
      if (fail_next_ > 0) {
        --fail_next_;
        res.status = 500;
        return;
      }
      Received r;
      r.body = req.body;
      r.timestamp = req.get_header_value("X-Webhook-Timestamp");
      r.signature = req.get_header_value("X-Webhook-Signature");
      rapidjson::Document doc;
      doc.Parse(req.body.data(), req.body.size());
      if (!doc.HasParseError() && doc.IsObject() && doc.HasMember("data") &&
          doc["data"].IsObject()) {
        r.code = doc.HasMember("code") && doc["code"].IsInt() ? doc["code"].GetInt() : 0;
        r.task_id = Str(doc["data"], "task_id");
        r.type = Str(doc["data"], "callbackType");
      }
      received_.push_back(std::move(r));
      res.set_content(R"({"status":"received"})", "application/json");
    });
    port_ = server_.bind_to_any_port("127.0.0.1");
    thread_ = std::thread([this] { server_.listen_after_bind(); });
    WaitUntil([this] { return server_.is_running(); });
  }
  ~CallbackReceiver() {
    server_.stop();
    thread_.join();
  }

  std::string url() const { return absl::StrCat("http://127.0.0.1:", port_, "/cb"); }

  // Answers the next n deliveries 500.
  void FailNext(int n) {
    absl::MutexLock lock(&mu_);
    fail_next_ = n;
  }
  int attempts() {
    absl::MutexLock lock(&mu_);
    return attempts_;
  }
  std::vector<Received> For(const std::string& task_id) {
    absl::MutexLock lock(&mu_);
    std::vector<Received> out;
    for (const Received& r : received_) {
      if (r.task_id == task_id) out.push_back(r);
    }
    return out;
  }
  std::vector<std::string> TypesFor(const std::string& task_id) {
    std::vector<std::string> types;
    for (const Received& r : For(task_id)) types.push_back(r.type);
    return types;
  }
  // Waits until `task_id` has at least `n` callbacks.
  bool WaitFor(const std::string& task_id, size_t n, absl::Duration timeout = absl::Seconds(5)) {
    return WaitUntil([&] { return For(task_id).size() >= n; }, timeout);
  }

 private:
  httplib::Server server_;
  std::thread thread_;
  int port_ = 0;
  absl::Mutex mu_;
  std::vector<Received> received_ ABSL_GUARDED_BY(mu_);
  int fail_next_ ABSL_GUARDED_BY(mu_) = 0;
  int attempts_ ABSL_GUARDED_BY(mu_) = 0;
};

// ---------------------------------------------------------------------------------------------
// Fixture.

class EmulatorTest : public ::testing::Test {
 protected:
  void SetUp() override { StartEmulator(DefaultOptions()); }
  void TearDown() override {
    if (emulator_) emulator_->Stop();  // before the receiver goes away
  }

  static EmulatorOptions DefaultOptions() {
    EmulatorOptions options;
    options.kie_api_key = kKey;
    options.task_duration = absl::Milliseconds(400);
    options.clip_seconds = kClipSeconds;
    options.callback_retry_backoff = absl::Milliseconds(20);
    options.callback_timeout = absl::Seconds(2);
    options.faults.slow_delay = absl::Milliseconds(300);
    return options;
  }

  void StartEmulator(const EmulatorOptions& options) {
    if (emulator_) emulator_->Stop();
    emulator_ = std::make_unique<ProviderEmulator>(options);
    ASSERT_THAT(emulator_->Start(), IsOk());
  }

  httplib::Result Post(const std::string& path, const std::string& body,
                       const std::string& key = kKey) {
    httplib::Client client(emulator_->base_url());
    client.set_read_timeout(std::chrono::seconds(10));
    httplib::Headers headers;
    if (!key.empty()) headers.emplace("Authorization", absl::StrCat("Bearer ", key));
    return client.Post(path.c_str(), headers, body, "application/json");
  }

  httplib::Result Get(const std::string& path_or_url, const std::string& key = kKey) {
    std::string path = path_or_url;
    if (absl::StartsWith(path, emulator_->base_url())) {
      path = path.substr(emulator_->base_url().size());
    }
    httplib::Client client(emulator_->base_url());
    client.set_read_timeout(std::chrono::seconds(10));
    httplib::Headers headers;
    if (!key.empty()) headers.emplace("Authorization", absl::StrCat("Bearer ", key));
    return client.Get(path.c_str(), headers);
  }

  // A valid simple-mode generate body; `prompt` may carry [emu:...] directives.
  std::string GenerateBody(const std::string& prompt, const std::string& model = "V4_5") {
    return absl::StrCat(R"({"prompt":")", prompt,
                        R"(","customMode":false,"instrumental":true,"model":")", model,
                        R"(","callBackUrl":")", receiver_.url(), R"("})");
  }

  // Creates a task (asserting HTTP 200 + code 200) and returns its id.
  std::string Create(const std::string& path, const std::string& body) {
    httplib::Result res = Post(path, body);
    EXPECT_TRUE(res);
    if (!res) return "";
    EXPECT_EQ(res->status, 200) << res->body;
    rapidjson::Document doc = ParseJson(res->body);
    if (!doc.IsObject() || !doc.HasMember("data") || !doc["data"].IsObject()) return "";
    EXPECT_EQ(doc["code"].GetInt(), 200);
    EXPECT_EQ(Str(doc, "msg"), "success");
    return Str(doc["data"], "taskId");
  }
  std::string CreateMusic(const std::string& prompt = "calm piano") {
    return Create("/api/v1/generate", GenerateBody(prompt));
  }
  std::string CreateLyrics(const std::string& prompt = "a song about the sea") {
    return Create("/api/v1/lyrics", absl::StrCat(R"({"prompt":")", prompt, R"(","callBackUrl":")",
                                                 receiver_.url(), R"("})"));
  }

  // The record-info answer (HTTP 200 asserted).
  rapidjson::Document Poll(const std::string& task_id, bool lyrics = false) {
    httplib::Result res = Get(absl::StrCat(lyrics ? "/api/v1/lyrics" : "/api/v1/generate",
                                           "/record-info?taskId=", task_id));
    EXPECT_TRUE(res);
    if (!res) return rapidjson::Document();
    EXPECT_EQ(res->status, 200) << res->body;
    return ParseJson(res->body);
  }
  std::string Status(const std::string& task_id, bool lyrics = false) {
    rapidjson::Document doc = Poll(task_id, lyrics);
    if (!doc.IsObject() || !doc["data"].IsObject()) return "<bad answer>";
    return Str(doc["data"], "status");
  }
  bool WaitForStatus(const std::string& task_id, const std::string& status, bool lyrics = false) {
    return WaitUntil([&] { return Status(task_id, lyrics) == status; });
  }

  void SetFaults(const std::function<void(FaultConfig&)>& edit) {
    FaultConfig faults = emulator_->faults();
    edit(faults);
    emulator_->SetFaults(faults);
  }

  CallbackReceiver receiver_;
  std::unique_ptr<ProviderEmulator> emulator_;
};

// ---------------------------------------------------------------------------------------------
// Auth and validation.

TEST_F(EmulatorTest, RejectsMissingOrWrongBearerKey) {
  for (const std::string& key : {std::string(), std::string("wrong-key")}) {
    httplib::Result res = Post("/api/v1/generate", GenerateBody("x"), key);
    ASSERT_TRUE(res);
    EXPECT_EQ(res->status, 401);
    rapidjson::Document doc = ParseJson(res->body);
    EXPECT_EQ(doc["code"].GetInt(), 401);
    EXPECT_TRUE(doc["data"].IsNull());
  }
  httplib::Result poll = Get("/api/v1/generate/record-info?taskId=abc", "wrong-key");
  ASSERT_TRUE(poll);
  EXPECT_EQ(poll->status, 401);
  EXPECT_EQ(emulator_->TaskCount(), 0);
  EXPECT_EQ(emulator_->stats().unauthorized, 3);
}

TEST_F(EmulatorTest, ValidatesCreateBodiesWith422) {
  const std::string url = receiver_.url();
  const std::string long500(500, 'a');
  const std::string long501(501, 'a');
  struct Case {
    const char* path;
    std::string body;
    std::string message;  // part of msg
  };
  const std::vector<Case> cases = {
      {"/api/v1/generate",
       R"({"prompt":"p","customMode":false,"instrumental":true,"model":"V4_5"})", "callBackUrl"},
      {"/api/v1/generate", GenerateBody(long501), "prompt"},
      {"/api/v1/generate", GenerateBody("p", "V9"), "model"},
      // CONTRACT-NOTES.md (kie.ai): "Models documented by kie.ai: ... V5 (no V5_5)".
      {"/api/v1/generate", GenerateBody("p", "V5_5"), "model"},
      {"/api/v1/generate",
       absl::StrCat(R"({"prompt":"la","customMode":true,"instrumental":false,"model":"V4",)",
                    R"("title":"t","callBackUrl":")", url, R"("})"),
       "style"},
      {"/api/v1/generate",
       absl::StrCat(R"({"customMode":true,"instrumental":false,"model":"V4","style":"s",)",
                    R"("title":"t","callBackUrl":")", url, R"("})"),
       "prompt"},
      {"/api/v1/generate",
       absl::StrCat(R"({"prompt":"la","customMode":true,"instrumental":false,"model":"V4",)",
                    R"("style":")", std::string(201, 's'), R"(","title":"t","callBackUrl":")", url,
                    R"("})"),
       "style"},
      {"/api/v1/generate",
       absl::StrCat(R"({"prompt":"la","customMode":true,"instrumental":false,"model":"V5",)",
                    R"("style":"s","title":")", std::string(81, 't'), R"(","callBackUrl":")", url,
                    R"("})"),
       "title"},
      {"/api/v1/generate", R"({"prompt": "unterminated)", "JSON"},
      {"/api/v1/generate", R"([1,2,3])", "JSON"},
      {"/api/v1/generate",
       absl::StrCat(R"({"prompt":5,"customMode":false,"instrumental":true,"model":"V4_5",)",
                    R"("callBackUrl":")", url, R"("})"),
       "prompt"},
      {"/api/v1/generate",
       R"({"prompt":"p","customMode":false,"instrumental":true,"model":"V4_5",)"
       R"("callBackUrl":"ftp://x"})",
       "callBackUrl"},
      {"/api/v1/lyrics",
       absl::StrCat(R"({"prompt":")", std::string(201, 'l'), R"(","callBackUrl":")", url, R"("})"),
       "prompt"},
      {"/api/v1/lyrics", R"({"prompt":"sea"})", "callBackUrl"},
      // A member CONTRACT-NOTES.md (kie.ai) does not name for the route is refused (seed 000's
      // "Unsupported parameter" rule, as a strict provider would): a TokenLab-style `tags`, a
      // `continueAt` on generate, a `model` on lyrics.
      {"/api/v1/generate",
       absl::StrCat(R"({"prompt":"p","customMode":false,"instrumental":true,"model":"V4_5",)",
                    R"("tags":"folk","callBackUrl":")", url, R"("})"),
       "Unsupported parameter: 'tags'"},
      {"/api/v1/generate",
       absl::StrCat(R"({"prompt":"p","customMode":false,"instrumental":true,"model":"V4_5",)",
                    R"("continueAt":3,"callBackUrl":")", url, R"("})"),
       "Unsupported parameter: 'continueAt'"},
      {"/api/v1/lyrics",
       absl::StrCat(R"({"prompt":"sea","model":"V4_5","callBackUrl":")", url, R"("})"),
       "Unsupported parameter: 'model'"},
      {"/api/v1/generate/extend",
       absl::StrCat(R"({"audioId":"a","defaultParamFlag":false,"model":"V4_5","taskId":"t",)",
                    R"("callBackUrl":")", url, R"("})"),
       "Unsupported parameter: 'taskId'"},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.body);
    httplib::Result res = Post(c.path, c.body);
    ASSERT_TRUE(res);
    EXPECT_EQ(res->status, 422);
    rapidjson::Document doc = ParseJson(res->body);
    ASSERT_TRUE(doc.IsObject());
    EXPECT_EQ(doc["code"].GetInt(), 422);
    EXPECT_THAT(Str(doc, "msg"), HasSubstr(c.message));
    EXPECT_TRUE(doc["data"].IsNull());
  }
  EXPECT_EQ(emulator_->TaskCount(), 0);
  EXPECT_EQ(emulator_->stats().creates_invalid, static_cast<int64_t>(cases.size()));

  // The limits are inclusive, and V5 allows a longer style than V4.
  CreateMusic(long500);
  Create("/api/v1/generate",
         absl::StrCat(R"({"prompt":"la","customMode":true,"instrumental":false,"model":"V5",)",
                      R"("style":")", std::string(201, 's'), R"(","title":")", std::string(80, 't'),
                      R"(","callBackUrl":")", url, R"("})"));
  // Instrumental custom mode needs no prompt.
  Create("/api/v1/generate",
         absl::StrCat(R"({"customMode":true,"instrumental":true,"model":"V3_5","style":"s",)",
                      R"("title":"t","callBackUrl":")", url, R"("})"));
  // CONTRACT-NOTES.md (kie.ai) documents V4_5ALL with the V4_5 limits (a 1000-char style).
  Create("/api/v1/generate",
         absl::StrCat(R"({"prompt":"la","customMode":true,"instrumental":false,"model":"V4_5ALL",)",
                      R"("style":")", std::string(1000, 's'), R"(","title":"t","callBackUrl":")",
                      url, R"("})"));
  EXPECT_EQ(emulator_->TaskCount(), 4);
}

// CONTRACT-NOTES.md kie.ai: "Generate (and extend) optional fields: `negativeTags`; `vocalGender`
// `m` | `f` (custom mode only); `styleWeight`, `weirdnessConstraint`, `audioWeight`, each a number
// in [0, 1] with at most 2 decimals; `personaId` (custom mode only)."
class KieGenerateOptionsTest : public EmulatorTest {
 protected:
  // A custom-mode V4_5PLUS generate body with `options` (",\"k\":v" members) appended.
  std::string CustomBody(const std::string& options, bool custom = true) {
    return absl::StrCat(
        custom ? R"({"prompt":"[Verse] la","customMode":true,"style":"synthwave","title":"Neon",)"
               : R"({"prompt":"neon rain","customMode":false,)",
        R"("instrumental":false,"model":"V4_5PLUS","callBackUrl":")", receiver_.url(), R"(")",
        options, "}");
  }
  // The 422 message of a refused create, or "<accepted>".
  std::string Refusal(const std::string& path, const std::string& body) {
    httplib::Result res = Post(path, body);
    if (!res) return "<no answer>";
    if (res->status != 422) return absl::StrCat("<HTTP ", res->status, ">");
    rapidjson::Document doc = ParseJson(res->body);
    if (!doc.IsObject() || !doc.HasMember("code") || doc["code"].GetInt() != 422) return "<body>";
    return Str(doc, "msg");
  }
};

constexpr char kEveryOption[] =
    R"(,"negativeTags":"metal","vocalGender":"f","styleWeight":0.65,)"
    R"("weirdnessConstraint":0.29,"audioWeight":0,"personaId":"persona-7f3a")";

TEST_F(KieGenerateOptionsTest, AcceptsEveryOptionAndKeepsTheRequestInParam) {
  const std::string id = Create("/api/v1/generate", CustomBody(kEveryOption));
  rapidjson::Document doc = Poll(id);
  ASSERT_TRUE(doc["data"].IsObject());
  EXPECT_EQ(Str(doc["data"], "type"), "chirp-v4-5-plus");
  // record-info `param` is "a JSON string of the request" (CONTRACT-NOTES).
  rapidjson::Document param = ParseJson(Str(doc["data"], "param"));
  ASSERT_TRUE(param.IsObject());
  EXPECT_EQ(Str(param, "vocalGender"), "f");
  EXPECT_EQ(Str(param, "personaId"), "persona-7f3a");
  EXPECT_DOUBLE_EQ(param["weirdnessConstraint"].GetDouble(), 0.29);
  // The bounds are inclusive, integers are numbers, and the weights need no custom mode.
  Create("/api/v1/generate", CustomBody(R"(,"styleWeight":1,"audioWeight":0.0,"vocalGender":"m")"));
  Create("/api/v1/generate",
         CustomBody(R"(,"styleWeight":0.5,"weirdnessConstraint":1.00,"negativeTags":"x")",
                    /*custom=*/false));
  EXPECT_EQ(emulator_->TaskCount(), 3);
}

TEST_F(KieGenerateOptionsTest, RefusesBadOptionsWith422) {
  struct Case {
    std::string body;
    const char* message;
  };
  const std::vector<Case> cases = {
      {CustomBody(R"(,"styleWeight":1.01)"), "styleWeight must be between 0 and 1"},
      {CustomBody(R"(,"weirdnessConstraint":-0.1)"), "weirdnessConstraint must be between 0 and 1"},
      {CustomBody(R"(,"audioWeight":0.125)"), "audioWeight allows at most 2 decimal places"},
      {CustomBody(R"(,"styleWeight":"0.5")"), "styleWeight must be a number"},
      {CustomBody(R"(,"vocalGender":"male")"), "vocalGender must be m or f"},
      {CustomBody(R"(,"vocalGender":"F")"), "vocalGender must be m or f"},
      {CustomBody(R"(,"vocalGender":"m")", /*custom=*/false), "vocalGender is only for custom mode"},
      {CustomBody(R"(,"personaId":"p-1")", /*custom=*/false), "personaId is only for custom mode"},
      {CustomBody(R"(,"personaId":7)"), "personaId must be a string"},
      {CustomBody(R"(,"negativeTags":["metal"])"), "negativeTags must be a string"},
  };
  for (const Case& c : cases) {
    EXPECT_THAT(Refusal("/api/v1/generate", c.body), HasSubstr(c.message)) << c.body;
  }
  EXPECT_EQ(emulator_->TaskCount(), 0);
  EXPECT_EQ(emulator_->stats().creates_invalid, static_cast<int64_t>(cases.size()));
}

TEST_F(KieGenerateOptionsTest, ExtendTakesTheOptionsWithItsOwnParameters) {
  const std::string source = Create("/api/v1/generate", CustomBody(""));
  ASSERT_TRUE(WaitForStatus(source, "SUCCESS"));
  const std::string clip_id = Str(Poll(source)["data"]["response"]["sunoData"][0], "id");
  auto extend = [&](const std::string& params, const std::string& options) {
    return absl::StrCat(R"({"audioId":")", clip_id, R"(","model":"V4_5PLUS","callBackUrl":")",
                        receiver_.url(), R"(",)", params, options, "}");
  };
  const std::string own_params =
      R"("defaultParamFlag":true,"prompt":"more","style":"rock","title":"Part 2","continueAt":30)";
  const std::string own = Create("/api/v1/generate/extend", extend(own_params, kEveryOption));
  rapidjson::Document param = ParseJson(Str(Poll(own)["data"], "param"));
  ASSERT_TRUE(param.IsObject());
  EXPECT_EQ(Str(param, "negativeTags"), "metal");
  EXPECT_EQ(Str(param, "vocalGender"), "f");
  // Reusing the source's parameters: weights and negativeTags yes, voice and persona no.
  Create("/api/v1/generate/extend",
         extend(R"("defaultParamFlag":false)", R"(,"negativeTags":"metal","styleWeight":0.4)"));
  EXPECT_THAT(Refusal("/api/v1/generate/extend",
                      extend(R"("defaultParamFlag":false)", R"(,"vocalGender":"m")")),
              HasSubstr("vocalGender is only for custom mode"));
  EXPECT_THAT(Refusal("/api/v1/generate/extend",
                      extend(R"("defaultParamFlag":false)", R"(,"personaId":"p")")),
              HasSubstr("personaId is only for custom mode"));
  EXPECT_THAT(Refusal("/api/v1/generate/extend", extend(own_params, R"(,"audioWeight":2)")),
              HasSubstr("audioWeight must be between 0 and 1"));
  EXPECT_EQ(emulator_->stats().extend_creates, 2);
}

TEST_F(EmulatorTest, UnknownTaskIs404AndMissingTaskIdIs422) {
  httplib::Result res = Get("/api/v1/generate/record-info?taskId=0123456789abcdef0123456789abcdef");
  ASSERT_TRUE(res);
  EXPECT_EQ(res->status, 404);
  EXPECT_EQ(ParseJson(res->body)["code"].GetInt(), 404);

  // A music task is not a lyrics task.
  const std::string music = CreateMusic();
  res = Get(absl::StrCat("/api/v1/lyrics/record-info?taskId=", music));
  ASSERT_TRUE(res);
  EXPECT_EQ(res->status, 404);

  res = Get("/api/v1/generate/record-info");
  ASSERT_TRUE(res);
  EXPECT_EQ(res->status, 422);
  EXPECT_EQ(emulator_->stats().polls_not_found, 2);
}

// ---------------------------------------------------------------------------------------------
// Lifecycle, shapes, callbacks, audio.

TEST_F(EmulatorTest, MusicTaskWalksThroughEveryStageWithWireShapes) {
  const std::string task_id = CreateMusic("calm piano");
  EXPECT_TRUE(std::regex_match(task_id, std::regex("[0-9a-f]{32}"))) << task_id;
  EXPECT_EQ(emulator_->TaskCount(), 1);

  std::vector<std::string> seen;
  const std::regex uuid("[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}");
  const std::regex datetime("\\d{4}-\\d{2}-\\d{2} \\d{2}:\\d{2}:\\d{2}");
  const std::string base = emulator_->base_url();
  ASSERT_TRUE(WaitUntil([&] {
    rapidjson::Document doc = Poll(task_id);
    if (!doc.IsObject()) return false;
    EXPECT_EQ(doc["code"].GetInt(), 200);
    EXPECT_EQ(Str(doc, "msg"), "success");
    const rapidjson::Value& data = doc["data"];
    const std::string status = Str(data, "status");
    if (seen.empty() || seen.back() != status) seen.push_back(status);
    EXPECT_EQ(Str(data, "taskId"), task_id);
    EXPECT_EQ(Str(data, "parentMusicId"), "");
    EXPECT_EQ(Str(data, "type"), "chirp-v4-5");
    EXPECT_EQ(Str(data, "operationType"), "generate");
    EXPECT_TRUE(data["errorCode"].IsNull());
    EXPECT_TRUE(data["errorMessage"].IsNull());
    rapidjson::Document param = ParseJson(Str(data, "param"));
    EXPECT_EQ(Str(param, "prompt"), "calm piano");
    EXPECT_EQ(Str(param, "callBackUrl"), receiver_.url());
    if (status == "PENDING") {
      EXPECT_TRUE(data["response"].IsNull());
      return false;
    }
    const rapidjson::Value& response = data["response"];
    EXPECT_TRUE(response.IsObject());
    if (!response.IsObject()) return false;
    EXPECT_EQ(Str(response, "taskId"), task_id);
    const rapidjson::Value& clips = response["sunoData"];
    EXPECT_TRUE(clips.IsArray() && clips.Size() == 2);
    if (!clips.IsArray() || clips.Size() != 2) return false;
    const int ready = status == "TEXT_SUCCESS" ? 0 : status == "FIRST_SUCCESS" ? 1 : 2;
    for (int i = 0; i < 2; ++i) {
      const rapidjson::Value& clip = clips[i];
      const std::string id = Str(clip, "id");
      EXPECT_TRUE(std::regex_match(id, uuid)) << id;
      EXPECT_EQ(Str(clip, "audioUrl"), i < ready ? absl::StrCat(base, "/audio/", id, ".wav") : "");
      EXPECT_EQ(Str(clip, "streamAudioUrl"), absl::StrCat(base, "/stream/", id));
      EXPECT_EQ(Str(clip, "imageUrl"), absl::StrCat(base, "/images/", id, ".png"));
      EXPECT_EQ(Str(clip, "prompt"), "calm piano");
      EXPECT_EQ(Str(clip, "modelName"), "chirp-v4-5");
      EXPECT_FALSE(Str(clip, "title").empty());
      EXPECT_FALSE(Str(clip, "tags").empty());
      EXPECT_TRUE(std::regex_match(Str(clip, "createTime"), datetime));
      if (i < ready) {
        EXPECT_TRUE(clip["duration"].IsNumber());
        if (clip["duration"].IsNumber()) {
          EXPECT_DOUBLE_EQ(clip["duration"].GetDouble(), kClipSeconds);
        }
      } else {
        EXPECT_TRUE(clip["duration"].IsNull());
      }
    }
    return status == "SUCCESS";
  }));
  EXPECT_THAT(seen, ElementsAre("PENDING", "TEXT_SUCCESS", "FIRST_SUCCESS", "SUCCESS"));
  EXPECT_GE(emulator_->stats().polls, 4);
}

TEST_F(EmulatorTest, SendsTextFirstCompleteCallbacksInSnakeCase) {
  const std::string task_id = CreateMusic("callback song");
  ASSERT_TRUE(receiver_.WaitFor(task_id, 3));
  EXPECT_THAT(receiver_.TypesFor(task_id), ElementsAre("text", "first", "complete"));
  const std::vector<Received> got = receiver_.For(task_id);
  for (const Received& r : got) {
    EXPECT_EQ(r.code, 200);
    EXPECT_TRUE(r.signature.empty());  // no HMAC key configured
  }
  rapidjson::Document text = ParseJson(got[0].body);
  EXPECT_TRUE(text["data"]["data"].IsArray());
  EXPECT_EQ(text["data"]["data"].Size(), 0u);

  rapidjson::Document first = ParseJson(got[1].body);
  ASSERT_EQ(first["data"]["data"].Size(), 2u);
  EXPECT_FALSE(Str(first["data"]["data"][0], "audio_url").empty());
  EXPECT_EQ(Str(first["data"]["data"][1], "audio_url"), "");

  rapidjson::Document complete = ParseJson(got[2].body);
  EXPECT_EQ(Str(complete, "msg"), "All generated successfully.");
  const rapidjson::Value& clips = complete["data"]["data"];
  ASSERT_EQ(clips.Size(), 2u);
  const std::string base = emulator_->base_url();
  for (const rapidjson::Value& clip : clips.GetArray()) {
    const std::string id = Str(clip, "id");
    EXPECT_EQ(Str(clip, "audio_url"), absl::StrCat(base, "/audio/", id, ".wav"));
    EXPECT_EQ(Str(clip, "source_audio_url"), Str(clip, "audio_url"));
    EXPECT_EQ(Str(clip, "stream_audio_url"), absl::StrCat(base, "/stream/", id));
    EXPECT_FALSE(Str(clip, "source_stream_audio_url").empty());
    EXPECT_EQ(Str(clip, "image_url"), absl::StrCat(base, "/images/", id, ".png"));
    EXPECT_FALSE(Str(clip, "source_image_url").empty());
    EXPECT_EQ(Str(clip, "prompt"), "callback song");
    EXPECT_EQ(Str(clip, "model_name"), "chirp-v4-5");
    EXPECT_FALSE(Str(clip, "title").empty());
    EXPECT_FALSE(Str(clip, "tags").empty());
    EXPECT_FALSE(Str(clip, "createTime").empty());
    EXPECT_FALSE(clip.HasMember("audioUrl"));
    ASSERT_TRUE(clip["duration"].IsNumber());
    EXPECT_DOUBLE_EQ(clip["duration"].GetDouble(), kClipSeconds);
  }
  EXPECT_TRUE(WaitUntil([&] { return emulator_->stats().callbacks_sent == 3; }));
}

TEST_F(EmulatorTest, SignsCallbacksWhenKeyed) {
  EmulatorOptions options = DefaultOptions();
  options.kie_webhook_hmac_key = "hmac-secret";
  options.task_duration = absl::Milliseconds(100);
  StartEmulator(options);
  const std::string task_id = CreateMusic();
  ASSERT_TRUE(receiver_.WaitFor(task_id, 3));
  const int64_t now = absl::ToUnixSeconds(RealClock::Get()->Now());
  for (const Received& r : receiver_.For(task_id)) {
    int64_t timestamp = 0;
    ASSERT_TRUE(absl::SimpleAtoi(r.timestamp, &timestamp)) << r.timestamp;
    EXPECT_LE(std::abs(now - timestamp), 5);
    EXPECT_EQ(r.signature, HmacBase64("hmac-secret", absl::StrCat(task_id, ".", r.timestamp)));
    EXPECT_EQ(r.signature, KieWebhookSignature("hmac-secret", task_id, r.timestamp));
  }
}

TEST_F(EmulatorTest, MediaExpiredAnswers403UntilTurnedOff) {
  const std::string task_id = CreateMusic();
  ASSERT_TRUE(WaitForStatus(task_id, "SUCCESS"));
  rapidjson::Document doc = Poll(task_id);
  const rapidjson::Value& clip = doc["data"]["response"]["sunoData"][0];
  const std::string audio = Str(clip, "audioUrl");
  const std::string image = Str(clip, "imageUrl");
  ASSERT_FALSE(image.empty());

  httplib::Result res = Post("/_emulator/faults", R"({"media_expired":true})", "");
  ASSERT_TRUE(res);
  ASSERT_EQ(res->status, 200) << res->body;
  EXPECT_TRUE(ParseJson(res->body)["media_expired"].GetBool());
  for (const std::string& url : {audio, image}) {
    res = Get(url, /*key=*/"");
    ASSERT_TRUE(res);
    EXPECT_EQ(res->status, 403) << url;
    EXPECT_THAT(res->body, HasSubstr("link expired"));
  }
  EXPECT_EQ(Post("/_emulator/faults", R"({"media_expired":1})", "")->status, 422);

  res = Post("/_emulator/faults", R"({"media_expired":false})", "");
  ASSERT_TRUE(res);
  res = Get(audio, /*key=*/"");
  ASSERT_TRUE(res);
  EXPECT_EQ(res->status, 200);
  EXPECT_EQ(res->body.substr(0, 4), "RIFF");
}

TEST_F(EmulatorTest, ServesPlayableWavForReadyClipsOnly) {
  const std::string task_id = CreateMusic();
  // Before its stage a clip's audio is not there yet.
  ASSERT_TRUE(WaitForStatus(task_id, "TEXT_SUCCESS"));
  rapidjson::Document early = Poll(task_id);
  const std::string early_id = Str(early["data"]["response"]["sunoData"][1], "id");
  httplib::Result res = Get(absl::StrCat("/audio/", early_id, ".wav"));
  ASSERT_TRUE(res);
  EXPECT_EQ(res->status, 404);

  ASSERT_TRUE(WaitForStatus(task_id, "SUCCESS"));
  rapidjson::Document doc = Poll(task_id);
  const rapidjson::Value& clip = doc["data"]["response"]["sunoData"][1];
  res = Get(Str(clip, "audioUrl"), /*key=*/"");
  ASSERT_TRUE(res);
  ASSERT_EQ(res->status, 200);
  EXPECT_EQ(res->get_header_value("Content-Type"), "audio/wav");
  const std::string& wav = res->body;
  const uint32_t samples = static_cast<uint32_t>(kClipSeconds * 22050);
  ASSERT_EQ(wav.size(), 44u + samples * 2);
  EXPECT_EQ(wav.substr(0, 4), "RIFF");
  EXPECT_EQ(U32(wav, 4), wav.size() - 8);
  EXPECT_EQ(wav.substr(8, 4), "WAVE");
  EXPECT_EQ(wav.substr(12, 4), "fmt ");
  EXPECT_EQ(U32(wav, 16), 16u);
  EXPECT_EQ(U16(wav, 20), 1);  // PCM
  EXPECT_EQ(U16(wav, 22), 1);  // mono
  EXPECT_EQ(U32(wav, 24), 22050u);
  EXPECT_EQ(U32(wav, 28), 44100u);
  EXPECT_EQ(U16(wav, 32), 2);
  EXPECT_EQ(U16(wav, 34), 16);
  EXPECT_EQ(wav.substr(36, 4), "data");
  EXPECT_EQ(U32(wav, 40), samples * 2);
  int16_t peak = 0;
  for (size_t i = 44; i + 1 < wav.size(); i += 2) {
    peak = std::max<int16_t>(peak, static_cast<int16_t>(U16(wav, i)));
  }
  EXPECT_GT(peak, 1000);  // not silence

  // Deterministic per clip, different between clips.
  httplib::Result again = Get(Str(clip, "audioUrl"), "");
  ASSERT_TRUE(again);
  EXPECT_EQ(again->body, wav);
  httplib::Result other = Get(Str(doc["data"]["response"]["sunoData"][0], "audioUrl"), "");
  ASSERT_TRUE(other);
  EXPECT_NE(other->body, wav);

  httplib::Result stream = Get(Str(clip, "streamAudioUrl"), "");
  ASSERT_TRUE(stream);
  EXPECT_EQ(stream->status, 200);
  httplib::Result image = Get(Str(clip, "imageUrl"), "");
  ASSERT_TRUE(image);
  EXPECT_EQ(image->status, 200);
  EXPECT_EQ(image->get_header_value("Content-Type"), "image/png");
  EXPECT_EQ(image->body.substr(1, 3), "PNG");

  for (const char* path : {"/audio/00000000-0000-4000-8000-000000000000.wav",
                           "/images/00000000-0000-4000-8000-000000000000.png", "/audio/x.mp3"}) {
    httplib::Result missing = Get(path, "");
    ASSERT_TRUE(missing);
    EXPECT_EQ(missing->status, 404) << path;
  }
  EXPECT_GE(emulator_->stats().audio_served, 4);
  EXPECT_GE(emulator_->stats().audio_not_found, 2);
}

TEST_F(EmulatorTest, LyricsTaskHasTwoVariantsAndACompleteCallback) {
  const std::string task_id = CreateLyrics("the sea");
  rapidjson::Document pending = Poll(task_id, /*lyrics=*/true);
  EXPECT_EQ(Str(pending["data"], "status"), "PENDING");
  EXPECT_TRUE(pending["data"]["response"].IsNull());

  ASSERT_TRUE(WaitForStatus(task_id, "SUCCESS", /*lyrics=*/true));
  rapidjson::Document doc = Poll(task_id, /*lyrics=*/true);
  const rapidjson::Value& data = doc["data"];
  EXPECT_EQ(Str(data, "taskId"), task_id);
  EXPECT_EQ(Str(data, "type"), "LYRICS");
  EXPECT_EQ(Str(ParseJson(Str(data, "param")), "prompt"), "the sea");
  EXPECT_TRUE(data["errorCode"].IsNull());
  EXPECT_TRUE(data["errorMessage"].IsNull());
  EXPECT_EQ(Str(data["response"], "taskId"), task_id);
  const rapidjson::Value& variants = data["response"]["data"];
  ASSERT_EQ(variants.Size(), 2u);
  for (const rapidjson::Value& v : variants.GetArray()) {
    EXPECT_THAT(Str(v, "text"), HasSubstr("[Verse]"));
    EXPECT_FALSE(Str(v, "title").empty());
    EXPECT_EQ(Str(v, "status"), "complete");
    EXPECT_EQ(Str(v, "errorMessage"), "");
  }
  EXPECT_NE(Str(variants[0], "text"), Str(variants[1], "text"));

  ASSERT_TRUE(receiver_.WaitFor(task_id, 1));
  rapidjson::Document callback = ParseJson(receiver_.For(task_id)[0].body);
  EXPECT_EQ(callback["code"].GetInt(), 200);
  EXPECT_EQ(Str(callback["data"], "callbackType"), "complete");
  ASSERT_EQ(callback["data"]["data"].Size(), 2u);
  EXPECT_EQ(Str(callback["data"]["data"][0], "error_message"), "");
  EXPECT_EQ(Str(callback["data"]["data"][0], "status"), "complete");

  // Lyrics tasks are not visible through the music poll.
  httplib::Result res = Get(absl::StrCat("/api/v1/generate/record-info?taskId=", task_id));
  ASSERT_TRUE(res);
  EXPECT_EQ(res->status, 404);
  EXPECT_EQ(emulator_->stats().lyrics_creates, 1);
}

TEST_F(EmulatorTest, ExtendsAClipItCreated) {
  const std::string url = receiver_.url();
  const std::string source =
      Create("/api/v1/generate",
             absl::StrCat(R"({"prompt":"[Verse] la la","customMode":true,"instrumental":false,)",
                          R"("model":"V4","style":"folk","title":"Source Song","callBackUrl":")",
                          url, R"("})"));
  ASSERT_TRUE(WaitForStatus(source, "SUCCESS"));
  const std::string clip_id = Str(Poll(source)["data"]["response"]["sunoData"][0], "id");

  auto extend_body = [&](const std::string& audio_id, const std::string& model,
                         const std::string& extra) {
    return absl::StrCat(R"({"audioId":")", audio_id, R"(","model":")", model,
                        R"(","callBackUrl":")", url, R"(",)", extra, "}");
  };
  // Reusing the source parameters.
  const std::string reuse =
      Create("/api/v1/generate/extend", extend_body(clip_id, "V4", R"("defaultParamFlag":false)"));
  rapidjson::Document doc = Poll(reuse);
  EXPECT_EQ(Str(doc["data"], "operationType"), "extend");
  EXPECT_EQ(Str(doc["data"], "parentMusicId"), clip_id);
  EXPECT_EQ(Str(doc["data"], "type"), "chirp-v4");
  ASSERT_TRUE(WaitForStatus(reuse, "SUCCESS"));
  doc = Poll(reuse);
  EXPECT_EQ(Str(doc["data"]["response"]["sunoData"][0], "title"), "Source Song");
  EXPECT_EQ(Str(doc["data"]["response"]["sunoData"][0], "tags"), "folk");
  ASSERT_TRUE(receiver_.WaitFor(reuse, 3));

  // With its own parameters.
  const std::string own = Create(
      "/api/v1/generate/extend",
      extend_body(clip_id, "V4",
                  R"("defaultParamFlag":true,"prompt":"more","style":"rock","title":"Part 2",)"
                  R"("continueAt":60)"));
  ASSERT_TRUE(WaitForStatus(own, "SUCCESS"));
  EXPECT_EQ(Str(Poll(own)["data"]["response"]["sunoData"][1], "title"), "Part 2");

  // Unknown audioId: 404. Another model, or missing own parameters: 422.
  httplib::Result res = Post("/api/v1/generate/extend",
                             extend_body("no-such-clip", "V4", R"("defaultParamFlag":false)"));
  ASSERT_TRUE(res);
  EXPECT_EQ(res->status, 404);
  EXPECT_EQ(ParseJson(res->body)["code"].GetInt(), 404);
  res = Post("/api/v1/generate/extend", extend_body(clip_id, "V5", R"("defaultParamFlag":false)"));
  ASSERT_TRUE(res);
  EXPECT_EQ(res->status, 422);
  EXPECT_THAT(res->body, HasSubstr("model"));
  res = Post("/api/v1/generate/extend",
             extend_body(clip_id, "V4",
                         R"("defaultParamFlag":true,"prompt":"p","style":"s",)"
                         R"("title":"t")"));
  ASSERT_TRUE(res);
  EXPECT_EQ(res->status, 422);
  EXPECT_THAT(res->body, HasSubstr("continueAt"));
  res = Post("/api/v1/generate/extend", extend_body(clip_id, "V4", R"("prompt":"p")"));
  ASSERT_TRUE(res);
  EXPECT_EQ(res->status, 422);
  EXPECT_THAT(res->body, HasSubstr("defaultParamFlag"));
  EXPECT_EQ(emulator_->TaskCount(), 3);
  EXPECT_EQ(emulator_->stats().extend_creates, 2);
}

// kie.ai's file upload API and the operations on uploaded audio (CONTRACT-NOTES.md kie.ai,
// "File upload" and "From uploaded audio"; kie_upload_contract.cc).
class KieUploadTest : public EmulatorTest {
 protected:
  // Uploads `bytes` with POST /kie-upload/api/file-stream-upload; the HTTP answer.
  httplib::Result Upload(const std::string& bytes, bool with_upload_path = true,
                         const std::string& key = kKey) {
    httplib::Client client(emulator_->base_url());
    httplib::Headers headers;
    if (!key.empty()) headers.emplace("Authorization", absl::StrCat("Bearer ", key));
    httplib::MultipartFormDataItems items = {{"file", bytes, "my song.mp3", "audio/mpeg"},
                                             {"fileName", "my song.mp3", "", ""}};
    if (with_upload_path) items.push_back({"uploadPath", "tests/audio", "", ""});
    return client.Post(absl::StrCat(kKieUploadPrefix, "/api/file-stream-upload").c_str(), headers,
                       items);
  }

  // Uploads and returns data.downloadUrl.
  std::string UploadedUrl() {
    httplib::Result res = Upload("ID3 audio bytes");
    EXPECT_TRUE(res);
    if (!res) return "";
    EXPECT_EQ(res->status, 200) << res->body;
    rapidjson::Document doc = ParseJson(res->body);
    return doc.IsObject() && doc["data"].IsObject() ? Str(doc["data"], "downloadUrl") : "";
  }

  // A body for `path` with `fields` (JSON members without braces) and the callback URL.
  std::string OpBody(const std::string& fields) {
    return absl::StrCat("{", fields, R"(,"callBackUrl":")", receiver_.url(), R"("})");
  }
};

TEST_F(KieUploadTest, StoresTheFileAndServesItsDownloadUrl) {
  httplib::Result res = Upload("ID3 audio bytes");
  ASSERT_TRUE(res);
  ASSERT_EQ(res->status, 200) << res->body;
  rapidjson::Document doc = ParseJson(res->body);
  EXPECT_TRUE(doc["success"].GetBool());
  EXPECT_EQ(doc["code"].GetInt(), 200);
  const rapidjson::Value& data = doc["data"];
  EXPECT_EQ(Str(data, "fileName"), "my song.mp3");
  EXPECT_EQ(Str(data, "filePath"), "tests/audio/my_song.mp3");
  EXPECT_EQ(Str(data, "mimeType"), "audio/mpeg");
  EXPECT_EQ(data["fileSize"].GetInt(), 15);
  EXPECT_NE(Str(data, "uploadedAt"), "<missing or not a string>");
  httplib::Result file = Get(Str(data, "downloadUrl"), /*key=*/"");  // public: no key
  ASSERT_TRUE(file);
  EXPECT_EQ(file->status, 200);
  EXPECT_EQ(file->body, "ID3 audio bytes");

  res = Upload("x", /*with_upload_path=*/false);
  ASSERT_TRUE(res);
  EXPECT_EQ(res->status, 422);
  EXPECT_THAT(res->body, HasSubstr("uploadPath"));
  res = Upload("x", true, "wrong-key");
  ASSERT_TRUE(res);
  EXPECT_EQ(res->status, 401);
}

TEST_F(KieUploadTest, OperationRoutesValidateTheDocumentedFields) {
  const std::string audio = UploadedUrl();
  ASSERT_FALSE(audio.empty());
  const std::string upload = absl::StrCat(R"("uploadUrl":")", audio, R"(")");
  struct Case {
    const char* path;
    std::string fields;
    const char* complaint;
  };
  const Case bad[] = {
      // uploadUrl required, and it must be one of this account's uploads.
      {"/api/v1/generate/upload-cover",
       R"("prompt":"p","customMode":false,"instrumental":false,"model":"V4_5")", "uploadUrl"},
      {"/api/v1/generate/upload-cover",
       R"("uploadUrl":"https://elsewhere.example/a.mp3","prompt":"p","customMode":false,)"
       R"("instrumental":false,"model":"V4_5")",
       "uploadUrl"},
      // Custom mode needs style and title.
      {"/api/v1/generate/upload-cover",
       upload + R"(,"prompt":"p","customMode":true,"instrumental":false,"model":"V4_5")", "style"},
      // upload-extend: with defaultParamFlag, continueAt (> 0) is required.
      {"/api/v1/generate/upload-extend",
       upload + R"(,"defaultParamFlag":true,"prompt":"p","style":"s","title":"t","model":"V4_5")",
       "continueAt"},
      // An undocumented member (extend's audioId) is refused.
      {"/api/v1/generate/upload-extend",
       upload + R"(,"audioId":"x","defaultParamFlag":false,"model":"V4_5")", "audioId"},
      // add-instrumental: tags required; V4_5PLUS or V5 only.
      {"/api/v1/generate/add-instrumental", upload + R"(,"title":"t","model":"V5")", "tags"},
      {"/api/v1/generate/add-instrumental", upload + R"(,"title":"t","tags":"x","model":"V4_5")",
       "V4_5PLUS"},
      // add-vocals: prompt required.
      {"/api/v1/generate/add-vocals", upload + R"(,"style":"s","title":"t","model":"V5")",
       "prompt"},
  };
  for (const Case& c : bad) {
    SCOPED_TRACE(c.fields);
    httplib::Result res = Post(c.path, OpBody(c.fields));
    ASSERT_TRUE(res);
    EXPECT_EQ(res->status, 422) << res->body;
    EXPECT_THAT(res->body, HasSubstr(c.complaint));
  }
  // callBackUrl is required on every route.
  httplib::Result res = Post("/api/v1/generate/add-vocals",
                             absl::StrCat("{", upload, R"(,"prompt":"p","style":"s",)",
                                          R"("title":"t","model":"V5"})"));
  ASSERT_TRUE(res);
  EXPECT_EQ(res->status, 422);
  EXPECT_THAT(res->body, HasSubstr("callBackUrl"));
  EXPECT_EQ(emulator_->TaskCount(), 0);
}

TEST_F(KieUploadTest, EachOperationRunsLikeGenerateWithCallbacks) {
  const std::string upload = absl::StrCat(R"("uploadUrl":")", UploadedUrl(), R"(")");
  const std::pair<const char*, std::string> ops[] = {
      {"/api/v1/generate/upload-cover",
       upload + R"(,"prompt":"words","customMode":true,"instrumental":false,"style":"jazz",)"
                R"("title":"Cover","model":"V4_5")"},
      {"/api/v1/generate/upload-extend",
       upload + R"(,"defaultParamFlag":true,"continueAt":2,"prompt":"more","style":"rock",)"
                R"("title":"Longer","model":"V4_5")"},
      {"/api/v1/generate/add-instrumental",
       upload + R"(,"title":"Backing","tags":"guitar","negativeTags":"drums","model":"V4_5PLUS")"},
      {"/api/v1/generate/add-vocals",
       upload + R"(,"prompt":"la","style":"soul","title":"Sung","model":"V5")"},
  };
  const char* operation_types[] = {"upload_cover", "upload_extend", "add_instrumental",
                                   "add_vocals"};
  for (size_t i = 0; i < std::size(ops); ++i) {
    SCOPED_TRACE(ops[i].first);
    const std::string id = Create(ops[i].first, OpBody(ops[i].second));
    ASSERT_FALSE(id.empty());
    EXPECT_EQ(Str(Poll(id)["data"], "operationType"), operation_types[i]);
    ASSERT_TRUE(WaitForStatus(id, "SUCCESS"));
    rapidjson::Document doc = Poll(id);
    EXPECT_THAT(Str(doc["data"]["response"]["sunoData"][0], "audioUrl"), HasSubstr("/audio/"));
    ASSERT_TRUE(receiver_.WaitFor(id, 3));  // text, first, complete
  }
  EXPECT_EQ(emulator_->stats().audio_operation_creates, 4);

  // The fault directives fail an operation as they fail generate.
  const std::string failing = Create(
      "/api/v1/generate/add-vocals",
      OpBody(upload + R"(,"prompt":"x [emu:fail=GENERATE_AUDIO_FAILED]","style":"s",)"
                      R"("title":"t","model":"V5")"));
  EXPECT_TRUE(WaitForStatus(failing, "GENERATE_AUDIO_FAILED"));
}

TEST_F(EmulatorTest, RetriesFailedCallbackDeliveries) {
  receiver_.FailNext(2);
  const std::string task_id = CreateLyrics();  // one callback
  ASSERT_TRUE(receiver_.WaitFor(task_id, 1));
  EXPECT_EQ(receiver_.attempts(), 3);
  EXPECT_TRUE(WaitUntil([&] { return emulator_->stats().callbacks_sent == 1; }));
  EXPECT_EQ(emulator_->stats().callbacks_retried, 2);
  EXPECT_EQ(emulator_->stats().callbacks_failed, 0);
}

TEST_F(EmulatorTest, GivesUpAfterThreeRetries) {
  receiver_.FailNext(100);
  CreateLyrics();
  ASSERT_TRUE(WaitUntil([&] { return emulator_->stats().callbacks_failed == 1; }));
  EXPECT_EQ(receiver_.attempts(), 4);  // the first attempt + 3 retries
  EXPECT_EQ(emulator_->stats().callback_attempts, 4);
  EXPECT_EQ(emulator_->stats().callbacks_sent, 0);
}

TEST_F(EmulatorTest, UnreachableCallbackUrlDoesNotBlockOtherTasks) {
  const std::string dead =
      Create("/api/v1/lyrics", R"({"prompt":"x","callBackUrl":"http://127.0.0.1:1/unreachable"})");
  ASSERT_FALSE(dead.empty());
  const std::string live = CreateLyrics();
  ASSERT_TRUE(receiver_.WaitFor(live, 1));
  EXPECT_TRUE(WaitUntil([&] { return emulator_->stats().callbacks_failed == 1; }));
}

// ---------------------------------------------------------------------------------------------
// Create faults.

TEST_F(EmulatorTest, Create429CountAnswersRateLimitedWithRetryAfter) {
  SetFaults([](FaultConfig& f) { f.create_429_count = 2; });
  for (int i = 0; i < 2; ++i) {
    httplib::Result res = Post("/api/v1/generate", GenerateBody("x"));
    ASSERT_TRUE(res);
    EXPECT_EQ(res->status, 429);
    EXPECT_EQ(res->get_header_value("Retry-After"), "1");
    EXPECT_EQ(ParseJson(res->body)["code"].GetInt(), 429);
  }
  EXPECT_EQ(emulator_->TaskCount(), 0);
  EXPECT_FALSE(CreateMusic().empty());
  EXPECT_EQ(emulator_->TaskCount(), 1);
  EXPECT_EQ(emulator_->stats().creates_rate_limited, 2);
  EXPECT_EQ(emulator_->faults().create_429_count, 0);
}

TEST_F(EmulatorTest, LyricsRateLimitIs405) {
  SetFaults([](FaultConfig& f) { f.create_429_rate = 1; });
  httplib::Result res = Post(
      "/api/v1/lyrics", absl::StrCat(R"({"prompt":"x","callBackUrl":")", receiver_.url(), R"("})"));
  ASSERT_TRUE(res);
  EXPECT_EQ(res->status, 405);
  EXPECT_EQ(ParseJson(res->body)["code"].GetInt(), 405);
  EXPECT_EQ(res->get_header_value("Retry-After"), "1");
  EXPECT_EQ(emulator_->TaskCount(), 0);
}

// ---------------------------------------------------------------------------------------------
// kie.ai's account limits (CONTRACT-NOTES kie.ai "Limits": 20 new generation requests per 10 s per
// account, excess answered 429, not queued; record-info limited to 3 requests/s per task), on a
// FakeClock so the windows move only when the test says.

class KieLimitsTest : public EmulatorTest {
 protected:
  void SetUp() override {
    EmulatorOptions options = DefaultOptions();
    options.kie_rate_limits = true;
    options.clock = &clock_;
    StartEmulator(options);
  }
  // The emulator reads clock_, which goes first.
  void TearDown() override { emulator_.reset(); }

  FakeClock clock_;
};

TEST_F(KieLimitsTest, TheTwentyFirstCreateInTenSecondsIs429NotQueued) {
  for (int i = 0; i < 20; ++i) {
    ASSERT_FALSE(CreateMusic().empty()) << "create " << i;
    clock_.Advance(absl::Milliseconds(100));  // all 20 within 2 s
  }
  httplib::Result refused = Post("/api/v1/generate", GenerateBody("one too many"));
  ASSERT_TRUE(refused);
  EXPECT_EQ(refused->status, 429);
  EXPECT_EQ(ParseJson(refused->body)["code"].GetInt(), 429);
  EXPECT_THAT(Str(ParseJson(refused->body), "msg"), HasSubstr("rate limited"));
  // Lyrics count against the same account; their rate-limit code is 405.
  httplib::Result lyrics = Post(
      "/api/v1/lyrics", absl::StrCat(R"({"prompt":"x","callBackUrl":")", receiver_.url(), R"("})"));
  ASSERT_TRUE(lyrics);
  EXPECT_EQ(lyrics->status, 405);
  EXPECT_EQ(emulator_->TaskCount(), 20);  // refused creates made no task
  EXPECT_EQ(emulator_->stats().creates_account_limited, 2);
  // 10 s after the first create it leaves the window: one more is admitted, then the window is
  // full again (the second create is only 100 ms younger).
  clock_.Advance(absl::Seconds(10) - absl::Milliseconds(2000));
  EXPECT_FALSE(CreateMusic().empty());
  httplib::Result again = Post("/api/v1/generate", GenerateBody("still too many"));
  ASSERT_TRUE(again);
  EXPECT_EQ(again->status, 429);
  EXPECT_EQ(emulator_->TaskCount(), 21);
}

TEST_F(KieLimitsTest, RecordInfoIsLimitedToThreeRequestsPerSecondPerTask) {
  const std::string a = CreateMusic();
  const std::string b = CreateMusic();
  for (int i = 0; i < 3; ++i) EXPECT_EQ(Status(a), "PENDING");
  httplib::Result refused = Get(absl::StrCat("/api/v1/generate/record-info?taskId=", a));
  ASSERT_TRUE(refused);
  EXPECT_EQ(refused->status, 429);
  EXPECT_EQ(ParseJson(refused->body)["code"].GetInt(), 429);
  EXPECT_EQ(Status(b), "PENDING");  // per task: another task is not limited
  EXPECT_EQ(emulator_->stats().polls_rate_limited, 1);
  clock_.Advance(absl::Seconds(1));  // a second later the task has a fresh allowance
  httplib::Result later = Get(absl::StrCat("/api/v1/generate/record-info?taskId=", a));
  ASSERT_TRUE(later);
  EXPECT_EQ(later->status, 200) << later->body;
}

TEST_F(EmulatorTest, Kie402CountAnswersInsufficientCredits) {
  SetFaults([](FaultConfig& f) { f.kie_402_count = 2; });
  httplib::Result res = Post("/api/v1/generate", GenerateBody("x"));
  ASSERT_TRUE(res);
  EXPECT_EQ(res->status, 402);
  EXPECT_EQ(ParseJson(res->body)["code"].GetInt(), 402);
  EXPECT_EQ(Str(ParseJson(res->body), "msg"), "Insufficient Credits");
  // On the lyrics endpoint insufficient credits is 429 (CONTRACT-NOTES kie.ai).
  httplib::Result lyrics = Post(
      "/api/v1/lyrics", absl::StrCat(R"({"prompt":"x","callBackUrl":")", receiver_.url(), R"("})"));
  ASSERT_TRUE(lyrics);
  EXPECT_EQ(lyrics->status, 429);
  EXPECT_EQ(emulator_->TaskCount(), 0);
  EXPECT_FALSE(CreateMusic().empty());
  EXPECT_EQ(emulator_->stats().creates_out_of_credits, 2);
  EXPECT_EQ(emulator_->faults().kie_402_count, 0);
}

TEST_F(EmulatorTest, KieKeyRefusedAnswers401UntilCleared) {
  const std::string id = CreateMusic();
  SetFaults([](FaultConfig& f) { f.kie_key_refused = true; });
  httplib::Result create = Post("/api/v1/generate", GenerateBody("x"));
  ASSERT_TRUE(create);
  EXPECT_EQ(create->status, 401);
  httplib::Result poll = Get(absl::StrCat("/api/v1/generate/record-info?taskId=", id));
  ASSERT_TRUE(poll);
  EXPECT_EQ(poll->status, 401);
  SetFaults([](FaultConfig& f) { f.kie_key_refused = false; });
  EXPECT_FALSE(CreateMusic().empty());
  EXPECT_EQ(emulator_->TaskCount(), 2);
}

TEST_F(EmulatorTest, Create500CountAndRate) {
  SetFaults([](FaultConfig& f) { f.create_500_count = 1; });
  httplib::Result res = Post("/api/v1/generate", GenerateBody("x"));
  ASSERT_TRUE(res);
  EXPECT_EQ(res->status, 500);
  EXPECT_EQ(ParseJson(res->body)["code"].GetInt(), 500);
  EXPECT_FALSE(CreateMusic().empty());

  SetFaults([](FaultConfig& f) { f.create_500_rate = 1; });
  for (int i = 0; i < 3; ++i) {
    res = Post("/api/v1/generate/extend", "{}");
    ASSERT_TRUE(res);
    EXPECT_EQ(res->status, 500);
  }
  EXPECT_EQ(emulator_->TaskCount(), 1);
  EXPECT_EQ(emulator_->stats().creates_server_error, 4);
}

TEST_F(EmulatorTest, MalformedCreateStillCreatesTheTask) {
  for (const bool by_directive : {false, true}) {
    SCOPED_TRACE(by_directive);
    SetFaults([&](FaultConfig& f) { f.create_malformed_rate = by_directive ? 0 : 1; });
    const int64_t before = emulator_->TaskCount();
    httplib::Result res =
        Post("/api/v1/generate", GenerateBody(by_directive ? "x [emu:malformed_create]" : "x"));
    ASSERT_TRUE(res);
    EXPECT_EQ(res->status, 200);
    EXPECT_FALSE(IsJson(res->body)) << res->body;
    EXPECT_THAT(res->body, HasSubstr(R"("code":200)"));
    EXPECT_EQ(emulator_->TaskCount(), before + 1);
  }
  EXPECT_EQ(emulator_->stats().creates_malformed, 2);
}

TEST_F(EmulatorTest, SlowCreateWaitsSlowDelay) {
  for (const bool by_directive : {false, true}) {
    SCOPED_TRACE(by_directive);
    SetFaults([&](FaultConfig& f) { f.create_slow_rate = by_directive ? 0 : 1; });
    const absl::Time start = RealClock::Get()->Now();
    EXPECT_FALSE(CreateMusic(by_directive ? "x [emu:slow_create]" : "x").empty());
    EXPECT_GE(RealClock::Get()->Now() - start, absl::Milliseconds(290));
  }
  SetFaults([](FaultConfig& f) { f.create_slow_rate = 0; });
  const absl::Time start = RealClock::Get()->Now();
  CreateMusic();
  EXPECT_LT(RealClock::Get()->Now() - start, absl::Milliseconds(250));
  EXPECT_EQ(emulator_->stats().creates_slow, 2);
}

TEST_F(EmulatorTest, RandomFaultsAreDeterministicPerSeed) {
  auto pattern = [&] {
    std::string outcome;
    for (int i = 0; i < 24; ++i) {
      httplib::Result res = Post("/api/v1/generate", GenerateBody("x"));
      outcome += res && res->status == 429 ? 'R' : '.';
    }
    return outcome;
  };
  FaultConfig faults;
  faults.create_429_rate = 0.5;
  faults.seed = 42;
  emulator_->SetFaults(faults);
  const std::string first = pattern();
  emulator_->SetFaults(faults);
  EXPECT_EQ(pattern(), first);
  EXPECT_NE(first.find('R'), std::string::npos);
  EXPECT_NE(first.find('.'), std::string::npos);
  faults.seed = 7;
  emulator_->SetFaults(faults);
  EXPECT_NE(pattern(), first);
}

// ---------------------------------------------------------------------------------------------
// Poll faults.

TEST_F(EmulatorTest, PollFaults) {
  const std::string task_id = CreateMusic();
  const std::string path = absl::StrCat("/api/v1/generate/record-info?taskId=", task_id);

  SetFaults([](FaultConfig& f) { f.poll_500_rate = 1; });
  httplib::Result res = Get(path);
  ASSERT_TRUE(res);
  EXPECT_EQ(res->status, 500);
  EXPECT_EQ(ParseJson(res->body)["code"].GetInt(), 500);

  SetFaults([](FaultConfig& f) {
    f.poll_500_rate = 0;
    f.poll_malformed_rate = 1;
  });
  res = Get(path);
  ASSERT_TRUE(res);
  EXPECT_EQ(res->status, 200);
  EXPECT_FALSE(IsJson(res->body));
  EXPECT_THAT(res->body, HasSubstr(task_id));

  SetFaults([](FaultConfig& f) {
    f.poll_malformed_rate = 0;
    f.poll_slow_rate = 1;
  });
  const absl::Time start = RealClock::Get()->Now();
  res = Get(path);
  ASSERT_TRUE(res);
  EXPECT_EQ(res->status, 200);
  EXPECT_TRUE(IsJson(res->body));
  EXPECT_GE(RealClock::Get()->Now() - start, absl::Milliseconds(290));

  const EmulatorStats stats = emulator_->stats();
  EXPECT_EQ(stats.polls_server_error, 1);
  EXPECT_EQ(stats.polls_malformed, 1);
  EXPECT_EQ(stats.polls_slow, 1);
}

TEST_F(EmulatorTest, MalformedPollDirectiveSpoilsTheFirstPolls) {
  const std::string one = CreateMusic("x [emu:malformed_poll]");
  const std::string two = CreateMusic("x [emu:malformed_poll=2]");
  const std::string path = "/api/v1/generate/record-info?taskId=";
  auto poll_is_json = [&](const std::string& id) {
    httplib::Result res = Get(path + id);
    return res && res->status == 200 && IsJson(res->body);
  };
  EXPECT_FALSE(poll_is_json(one));
  EXPECT_TRUE(poll_is_json(one));
  EXPECT_FALSE(poll_is_json(two));
  EXPECT_FALSE(poll_is_json(two));
  EXPECT_TRUE(poll_is_json(two));
}

// ---------------------------------------------------------------------------------------------
// Task faults, by rate and by directive.

class TaskFaultTest : public EmulatorTest,
                      public ::testing::WithParamInterface<std::tuple<std::string, bool>> {
 protected:
  // Creates one task with the fault, by directive or by rate (then the rate is cleared).
  std::string CreateFaulty(const std::string& directive,
                           const std::function<void(FaultConfig&)>& rate, bool lyrics = false) {
    const bool by_directive = std::get<1>(GetParam());
    if (!by_directive) SetFaults(rate);
    const std::string prompt = by_directive ? absl::StrCat("x ", directive) : "x";
    std::string id = lyrics ? CreateLyrics(prompt) : CreateMusic(prompt);
    emulator_->SetFaults(FaultConfig());  // later tasks of the test are fault-free
    return id;
  }
};

TEST_P(TaskFaultTest, Run) {
  const std::string& fault = std::get<0>(GetParam());
  if (fault == "no_audio") {
    const std::string id =
        CreateFaulty("[emu:no_audio]", [](FaultConfig& f) { f.success_without_audio_rate = 1; });
    ASSERT_TRUE(WaitForStatus(id, "SUCCESS"));
    rapidjson::Document doc = Poll(id);
    const rapidjson::Value& clips = doc["data"]["response"]["sunoData"];
    ASSERT_EQ(clips.Size(), 2u);
    for (const rapidjson::Value& clip : clips.GetArray()) {
      EXPECT_EQ(Str(clip, "audioUrl"), "");
      httplib::Result audio = Get(absl::StrCat("/audio/", Str(clip, "id"), ".wav"), "");
      ASSERT_TRUE(audio);
      EXPECT_EQ(audio->status, 404);
    }
    ASSERT_TRUE(receiver_.WaitFor(id, 3));
    rapidjson::Document complete = ParseJson(receiver_.For(id)[2].body);
    EXPECT_EQ(Str(complete["data"], "callbackType"), "complete");
    EXPECT_EQ(Str(complete["data"]["data"][0], "audio_url"), "");
    EXPECT_EQ(Str(complete["data"]["data"][1], "audio_url"), "");
  } else if (fault == "lose_callbacks") {
    const std::string id =
        CreateFaulty("[emu:lose_callbacks]", [](FaultConfig& f) { f.lose_callback_rate = 1; });
    // A control task created afterwards finishes later; once its callbacks arrived, the lost
    // ones would have too.
    const std::string control = CreateMusic();
    ASSERT_TRUE(receiver_.WaitFor(control, 3));
    EXPECT_EQ(Status(id), "SUCCESS");
    EXPECT_TRUE(receiver_.For(id).empty());
    EXPECT_EQ(emulator_->stats().callbacks_dropped, 3);
  } else if (fault == "duplicate_callbacks") {
    const std::string id = CreateFaulty("[emu:duplicate_callbacks]",
                                        [](FaultConfig& f) { f.duplicate_callback_rate = 1; });
    ASSERT_TRUE(receiver_.WaitFor(id, 6));
    EXPECT_THAT(receiver_.TypesFor(id),
                ElementsAre("text", "text", "first", "first", "complete", "complete"));
  } else if (fault == "reorder_callbacks") {
    const std::string id = CreateFaulty("[emu:reorder_callbacks]",
                                        [](FaultConfig& f) { f.reorder_callbacks_rate = 1; });
    ASSERT_TRUE(receiver_.WaitFor(id, 3));
    EXPECT_THAT(receiver_.TypesFor(id), ElementsAre("complete", "first", "text"));
  } else if (fault == "generate_audio_failed") {
    const std::string id = CreateFaulty("[emu:fail=GENERATE_AUDIO_FAILED]",
                                        [](FaultConfig& f) { f.generate_audio_failed_rate = 1; });
    ASSERT_TRUE(WaitForStatus(id, "GENERATE_AUDIO_FAILED"));
    rapidjson::Document doc = Poll(id);
    EXPECT_EQ(doc["data"]["errorCode"].GetInt(), 501);
    EXPECT_FALSE(Str(doc["data"], "errorMessage").empty());
    ASSERT_TRUE(receiver_.WaitFor(id, 2));
    EXPECT_THAT(receiver_.TypesFor(id), ElementsAre("text", "error"));
    const Received error = receiver_.For(id)[1];
    EXPECT_EQ(error.code, 501);
    EXPECT_TRUE(ParseJson(error.body)["data"]["data"].IsNull());
  } else if (fault == "sensitive_word") {
    const std::string id = CreateFaulty("[emu:fail=SENSITIVE_WORD_ERROR]",
                                        [](FaultConfig& f) { f.sensitive_word_rate = 1; });
    ASSERT_TRUE(WaitForStatus(id, "SENSITIVE_WORD_ERROR"));
    EXPECT_EQ(Poll(id)["data"]["errorCode"].GetInt(), 400);
    ASSERT_TRUE(receiver_.WaitFor(id, 1));
    EXPECT_THAT(receiver_.TypesFor(id), ElementsAre("error"));
    EXPECT_EQ(receiver_.For(id)[0].code, 400);
  } else if (fault == "lyrics_failed") {
    const std::string id = CreateFaulty(
        "[emu:fail=GENERATE_LYRICS_FAILED]",
        [](FaultConfig& f) { f.generate_audio_failed_rate = 1; }, /*lyrics=*/true);
    ASSERT_TRUE(WaitForStatus(id, "GENERATE_LYRICS_FAILED", /*lyrics=*/true));
    ASSERT_TRUE(receiver_.WaitFor(id, 1));
    EXPECT_EQ(receiver_.For(id)[0].type, "error");
  } else {
    FAIL() << "unknown case " << fault;
  }
}

INSTANTIATE_TEST_SUITE_P(
    Faults, TaskFaultTest,
    ::testing::Combine(::testing::Values("no_audio", "lose_callbacks", "duplicate_callbacks",
                                         "reorder_callbacks", "generate_audio_failed",
                                         "sensitive_word", "lyrics_failed"),
                       ::testing::Bool()),
    [](const auto& info) {
      return absl::StrCat(std::get<0>(info.param),
                          std::get<1>(info.param) ? "_Directive" : "_Rate");
    });

// CONTRACT-NOTES "kie.ai": record-info "`errorCode` (400 copyrighted lyrics, 408 timeout, 413 audio
// matches an existing work), `errorMessage`"; the callback `code` carries the same value.
TEST_F(EmulatorTest, DocumentedErrorCodesInRecordInfoAndCallback) {
  for (int code : {400, 408, 413}) {
    const std::string id = CreateMusic(absl::StrCat("x [emu:task_error=", code, "]"));
    ASSERT_TRUE(WaitForStatus(id, "GENERATE_AUDIO_FAILED")) << code;
    rapidjson::Document doc = Poll(id);
    EXPECT_EQ(doc["data"]["errorCode"].GetInt(), code);
    EXPECT_FALSE(Str(doc["data"], "errorMessage").empty());
    ASSERT_TRUE(receiver_.WaitFor(id, 2));
    EXPECT_EQ(receiver_.For(id).back().type, "error");
    EXPECT_EQ(receiver_.For(id).back().code, code);
  }
}

// CONTRACT-NOTES "kie.ai": "Create error codes: 401, 402 insufficient credits, ... On the lyrics
// endpoint 405 means rate limited and 429 means insufficient credits."
TEST_F(EmulatorTest, InsufficientCreditsDirectiveAnswers402) {
  httplib::Result music = Post("/api/v1/generate", GenerateBody("x [emu:create_error=402]"));
  ASSERT_TRUE(music);
  EXPECT_EQ(music->status, 402);
  EXPECT_EQ(ParseJson(music->body)["code"].GetInt(), 402);
  httplib::Result lyrics =
      Post("/api/v1/lyrics", absl::StrCat(R"({"prompt":"x [emu:create_error=402]","callBackUrl":")",
                                          receiver_.url(), R"("})"));
  ASSERT_TRUE(lyrics);
  EXPECT_EQ(lyrics->status, 429);
  EXPECT_EQ(emulator_->TaskCount(), 0);
}

TEST_F(EmulatorTest, CreateTaskFailedDirective) {
  const std::string id = CreateMusic("x [emu:fail=CREATE_TASK_FAILED]");
  rapidjson::Document doc = Poll(id);
  EXPECT_EQ(Str(doc["data"], "status"), "CREATE_TASK_FAILED");
  EXPECT_TRUE(doc["data"]["errorCode"].IsInt());
  EXPECT_TRUE(doc["data"]["response"].IsNull());
  ASSERT_TRUE(receiver_.WaitFor(id, 1));
  EXPECT_THAT(receiver_.TypesFor(id), ElementsAre("error"));
  EXPECT_NE(receiver_.For(id)[0].code, 200);
}

TEST_F(EmulatorTest, DurationDirectiveSetsTheTaskClock) {
  const std::string quick = CreateMusic("x [emu:duration_ms=0]");
  EXPECT_EQ(Status(quick), "SUCCESS");
  const std::string slow = CreateMusic("x [emu:duration_ms=60000]");
  const std::string normal = CreateMusic("x");
  ASSERT_TRUE(WaitForStatus(normal, "SUCCESS"));
  EXPECT_EQ(Status(slow), "PENDING");
}

TEST_F(EmulatorTest, ConcurrentTasksKeepTheirOwnDirectives) {
  const std::vector<std::string> prompts = {"a",
                                            "b [emu:fail=SENSITIVE_WORD_ERROR]",
                                            "c [emu:no_audio]",
                                            "d [emu:reorder_callbacks]",
                                            "e",
                                            "f [emu:fail=GENERATE_AUDIO_FAILED]",
                                            "g",
                                            "h [emu:duplicate_callbacks]"};
  std::vector<std::string> ids(prompts.size());
  std::vector<std::thread> threads;
  for (size_t i = 0; i < prompts.size(); ++i) {
    threads.emplace_back([&, i] { ids[i] = CreateMusic(prompts[i]); });
  }
  for (std::thread& t : threads) t.join();
  EXPECT_EQ(emulator_->TaskCount(), static_cast<int64_t>(prompts.size()));
  const std::vector<std::string> final_status = {
      "SUCCESS", "SENSITIVE_WORD_ERROR",  "SUCCESS", "SUCCESS",
      "SUCCESS", "GENERATE_AUDIO_FAILED", "SUCCESS", "SUCCESS"};
  for (size_t i = 0; i < ids.size(); ++i) {
    EXPECT_TRUE(WaitForStatus(ids[i], final_status[i])) << prompts[i];
  }
  ASSERT_TRUE(receiver_.WaitFor(ids[3], 3));
  EXPECT_EQ(receiver_.TypesFor(ids[3]).front(), "complete");
  ASSERT_TRUE(receiver_.WaitFor(ids[7], 6));
  ASSERT_TRUE(receiver_.WaitFor(ids[0], 3));
  EXPECT_THAT(receiver_.TypesFor(ids[0]), ElementsAre("text", "first", "complete"));
}

// ---------------------------------------------------------------------------------------------
// Control endpoints and lifecycle.

TEST_F(EmulatorTest, ControlEndpoints) {
  httplib::Result res = Get("/_emulator/health", "");
  ASSERT_TRUE(res);
  EXPECT_EQ(res->status, 200);
  EXPECT_THAT(res->body, HasSubstr("ok"));

  res = Post("/_emulator/faults",
             R"({"create_429_count":1,"slow_delay_ms":123,"poll_500_rate":0.25})", "");
  ASSERT_TRUE(res);
  ASSERT_EQ(res->status, 200) << res->body;
  FaultConfig faults = emulator_->faults();
  EXPECT_EQ(faults.create_429_count, 1);
  EXPECT_EQ(faults.slow_delay, absl::Milliseconds(123));
  EXPECT_DOUBLE_EQ(faults.poll_500_rate, 0.25);
  res = Get("/_emulator/faults", "");
  ASSERT_TRUE(res);
  EXPECT_EQ(ParseJson(res->body)["create_429_count"].GetInt(), 1);

  httplib::Result limited = Post("/api/v1/generate", GenerateBody("x"));
  ASSERT_TRUE(limited);
  EXPECT_EQ(limited->status, 429);
  CreateMusic();

  for (const char* bad : {R"({"create_429_rate":2})", R"({"no_such_fault":1})", "not json",
                          R"({"create_500_count":-1})", R"({"poll_slow_rate":"high"})"}) {
    res = Post("/_emulator/faults", bad, "");
    ASSERT_TRUE(res);
    EXPECT_EQ(res->status, 422) << bad;
  }
  EXPECT_DOUBLE_EQ(emulator_->faults().poll_500_rate, 0.25);  // unchanged by the bad requests

  res = Post("/_emulator/faults", R"({"reset":true,"seed":9})", "");
  ASSERT_TRUE(res);
  EXPECT_EQ(res->status, 200);
  EXPECT_DOUBLE_EQ(emulator_->faults().poll_500_rate, 0);
  EXPECT_EQ(emulator_->faults().seed, 9u);

  res = Get("/_emulator/stats", "");
  ASSERT_TRUE(res);
  rapidjson::Document stats = ParseJson(res->body);
  EXPECT_EQ(stats["tasks"].GetInt64(), 1);
  EXPECT_EQ(stats["creates_accepted"].GetInt64(), 1);
  EXPECT_EQ(stats["creates_rate_limited"].GetInt64(), 1);
  EXPECT_EQ(stats["creates_rejected"].GetInt64(), 1);
  EXPECT_TRUE(stats.HasMember("callbacks_sent"));
  EXPECT_TRUE(stats.HasMember("polls"));

  res = Get("/no/such/path", "");
  ASSERT_TRUE(res);
  EXPECT_EQ(res->status, 404);
  EXPECT_EQ(ParseJson(res->body)["code"].GetInt(), 404);
}

TEST(CallbackTaskIdTest, IsThePathSegmentAfterTheProvider) {
  EXPECT_EQ(CallbackTaskId("http://127.0.0.1:9/callbacks/kie/t-1/tok?x=1"), "t-1");
  EXPECT_EQ(CallbackTaskId("https://h/base/callbacks/piapi/t-2"), "t-2");
  EXPECT_EQ(CallbackTaskId("http://h/callbacks/kie/t-3?callbacks/kie/other"), "t-3");
  EXPECT_EQ(CallbackTaskId("/callbacks/kie/t-4/tok"), "t-4");
  EXPECT_EQ(CallbackTaskId("http://callbacks/kie/t-5"), "");  // a host, not a path
  EXPECT_EQ(CallbackTaskId("http://h/callbacks/kie"), "");
  EXPECT_EQ(CallbackTaskId("http://h/callbacks//t-6"), "");
  EXPECT_EQ(CallbackTaskId("http://h/cb"), "");
  EXPECT_EQ(CallbackTaskId(""), "");
}

// Accepted creates are counted per task the callback URL names; rejected creates and URLs that
// name no task are not.
TEST_F(EmulatorTest, SubmissionsCountsAcceptedCreatesPerCallbackTask) {
  auto body = [](const std::string& callback_url) {
    return absl::StrCat(R"({"prompt":"calm piano","customMode":false,"instrumental":true,)",
                        R"("model":"V4_5","callBackUrl":")", callback_url, R"("})");
  };
  const std::string base = absl::StrCat(emulator_->base_url(), "/callbacks/kie/");
  Create("/api/v1/generate", body(absl::StrCat(base, "task-a/token-1")));
  Create("/api/v1/generate", body(absl::StrCat(base, "task-a/token-2?attempt=2")));
  Create("/api/v1/generate", body(absl::StrCat(base, "task-b/token")));
  Create("/api/v1/lyrics", absl::StrCat(R"({"prompt":"the sea","callBackUrl":")", base,
                                        R"(task-c/token"})"));
  CreateMusic();  // receiver_.url() names no task
  SetFaults([](FaultConfig& f) { f.create_500_count = 1; });
  httplib::Result refused = Post("/api/v1/generate", body(absl::StrCat(base, "task-d/token")));
  ASSERT_TRUE(refused);
  EXPECT_EQ(refused->status, 500);

  EXPECT_THAT(emulator_->SubmissionsByTask(),
              ::testing::UnorderedElementsAre(::testing::Pair("task-a", 2),
                                              ::testing::Pair("task-b", 1),
                                              ::testing::Pair("task-c", 1)));
  httplib::Result res = Get("/_emulator/submissions", "");
  ASSERT_TRUE(res);
  EXPECT_EQ(res->status, 200);
  EXPECT_EQ(res->body, R"({"task-a":2,"task-b":1,"task-c":1})");
}

TEST_F(EmulatorTest, LifecycleAndPorts) {
  EXPECT_GT(emulator_->port(), 0);
  EXPECT_EQ(emulator_->base_url(), absl::StrCat("http://127.0.0.1:", emulator_->port()));
  EXPECT_THAT(emulator_->Start(), StatusIs(absl::StatusCode::kFailedPrecondition));

  // A taken port cannot be bound.
  EmulatorOptions options = DefaultOptions();
  options.port = emulator_->port();
  ProviderEmulator clash(options);
  EXPECT_FALSE(clash.Start().ok());

  // public_base_url shapes the URLs handed out.
  options = DefaultOptions();
  options.public_base_url = "http://media.example.test:9/";
  options.task_duration = absl::ZeroDuration();
  StartEmulator(options);
  rapidjson::Document doc = Poll(CreateMusic());
  EXPECT_TRUE(absl::StartsWith(Str(doc["data"]["response"]["sunoData"][0], "audioUrl"),
                               "http://media.example.test:9/audio/"));

  const int port = emulator_->port();
  const absl::Time start = RealClock::Get()->Now();
  emulator_->Stop();
  emulator_->Stop();  // idempotent
  EXPECT_LT(RealClock::Get()->Now() - start, absl::Seconds(3));
  httplib::Client client("127.0.0.1", port);
  EXPECT_FALSE(client.Get("/_emulator/health"));
}

// ---------------------------------------------------------------------------------------------
// kie.ai clip operations (CONTRACT-NOTES "Advanced Features"; kie_operations_contract.cc).

class EmulatorOperationsTest : public EmulatorTest {
 protected:
  // A finished generation and its first clip.
  std::pair<std::string, std::string> SourceClip() {
    const std::string task = CreateMusic();
    EXPECT_TRUE(WaitForStatus(task, "SUCCESS"));
    rapidjson::Document doc = Poll(task);
    const auto& clips = doc["data"]["response"]["sunoData"];
    return {task, Str(clips[0], "id")};
  }
  std::string OperationBody(const std::string& task, const std::string& clip,
                            const std::string& extra = "") {
    return absl::StrCat(R"({"taskId":")", task, R"(","audioId":")", clip, R"(","callBackUrl":")",
                        receiver_.url(), "\"", extra, "}");
  }
  rapidjson::Document Record(const std::string& route, const std::string& id) {
    httplib::Result res = Get(absl::StrCat(route, "?taskId=", id));
    EXPECT_TRUE(res);
    if (!res) return rapidjson::Document();
    EXPECT_EQ(res->status, 200) << res->body;
    return ParseJson(res->body);
  }
};

TEST_F(EmulatorOperationsTest, WavValidatesAnswers409ForASecondAndServesARealWav) {
  const auto [task, clip] = SourceClip();
  // Only the members the notes name; a clip of another task is unknown.
  EXPECT_EQ(Post("/api/v1/wav/generate", OperationBody(task, clip, R"(,"type":"x")"))->status, 422);
  EXPECT_EQ(Post("/api/v1/wav/generate",
                 absl::StrCat(R"({"taskId":")", task, R"(","audioId":")", clip, R"("})"))
                ->status,
            422);  // no callBackUrl
  EXPECT_EQ(Post("/api/v1/wav/generate", OperationBody(task, "no-such-clip"))->status, 404);

  const std::string wav = Create("/api/v1/wav/generate", OperationBody(task, clip));
  httplib::Result again = Post("/api/v1/wav/generate", OperationBody(task, clip));
  ASSERT_TRUE(again);
  rapidjson::Document conflict = ParseJson(again->body);
  EXPECT_EQ(conflict["code"].GetInt(), 409);
  EXPECT_EQ(Str(conflict["data"], "taskId"), wav);
  EXPECT_EQ(emulator_->stats().clip_operation_creates, 1);

  EXPECT_EQ(Str(Record("/api/v1/wav/record-info", wav)["data"], "successFlag"), "PENDING");
  EXPECT_EQ(Get(absl::StrCat("/api/v1/mp4/record-info?taskId=", wav))->status, 404);
  ASSERT_TRUE(WaitUntil([&] {
    return Str(Record("/api/v1/wav/record-info", wav)["data"], "successFlag") == "SUCCESS";
  }));
  rapidjson::Document done = Record("/api/v1/wav/record-info", wav);
  EXPECT_EQ(Str(done["data"], "musicId"), clip);
  httplib::Result file = Get(Str(done["data"]["response"], "audioWavUrl"), "");
  ASSERT_TRUE(file);
  EXPECT_EQ(file->status, 200);
  EXPECT_EQ(file->body.substr(0, 4), "RIFF");
  ASSERT_TRUE(receiver_.WaitFor(wav, 1));
  EXPECT_EQ(receiver_.For(wav)[0].code, 200);
  EXPECT_THAT(receiver_.For(wav)[0].body, ::testing::HasSubstr("\"audioWavUrl\""));
}

TEST_F(EmulatorOperationsTest, SplitStemGivesTwelveWavStemsAndTheOtherCallbackSpelling) {
  const auto [task, clip] = SourceClip();
  EXPECT_EQ(
      Post("/api/v1/vocal-removal/generate", OperationBody(task, clip, R"(,"type":"all")"))->status,
      422);
  const std::string id = Create("/api/v1/vocal-removal/generate",
                                OperationBody(task, clip, R"(,"type":"split_stem")"));
  const std::string route = "/api/v1/vocal-removal/record-info";
  ASSERT_TRUE(
      WaitUntil([&] { return Str(Record(route, id)["data"], "successFlag") == "SUCCESS"; }));
  rapidjson::Document done = Record(route, id);
  const auto& response = done["data"]["response"];
  EXPECT_TRUE(response["instrumentalUrl"].IsNull());
  EXPECT_TRUE(done["data"]["createTime"].IsInt64());  // epoch milliseconds here
  int stems = 0;
  for (const auto& m : response.GetObject()) {
    if (!m.value.IsString() || std::string(m.name.GetString()) == "originUrl") continue;
    ++stems;
    httplib::Result file = Get(m.value.GetString(), "");
    ASSERT_TRUE(file);
    EXPECT_EQ(file->body.substr(0, 4), "RIFF") << m.name.GetString();
  }
  EXPECT_EQ(stems, 12);
  ASSERT_TRUE(receiver_.WaitFor(id, 1));
  EXPECT_THAT(receiver_.For(id)[0].body, ::testing::HasSubstr("\"vocal_separation_info\""));
}

TEST_F(EmulatorOperationsTest, AFailedOperationReportsItsFlagAndCallsBack500) {
  const auto [task, clip] = SourceClip();
  SetFaults([](FaultConfig& f) { f.generate_audio_failed_rate = 1; });
  const std::string id =
      Create("/api/v1/mp4/generate", OperationBody(task, clip, R"(,"author":"Band")"));
  const std::string route = "/api/v1/mp4/record-info";
  ASSERT_TRUE(WaitUntil(
      [&] { return Str(Record(route, id)["data"], "successFlag") == "GENERATE_MP4_FAILED"; }));
  EXPECT_EQ(Record(route, id)["data"]["errorCode"].GetInt(), 500);
  ASSERT_TRUE(receiver_.WaitFor(id, 1));
  EXPECT_EQ(receiver_.For(id)[0].code, 500);
  EXPECT_EQ(
      Post("/api/v1/mp4/generate",
           OperationBody(task, clip, absl::StrCat(R"(,"author":")", std::string(51, 'a'), "\"")))
          ->status,
      422);
}

TEST_F(EmulatorOperationsTest, TimestampedLyricsStyleAndCreditAnswerAtOnce) {
  const auto [task, clip] = SourceClip();
  httplib::Result lyrics =
      Post("/api/v1/generate/get-timestamped-lyrics",
           absl::StrCat(R"({"taskId":")", task, R"(","audioId":")", clip, R"("})"));
  ASSERT_TRUE(lyrics);
  rapidjson::Document doc = ParseJson(lyrics->body);
  ASSERT_EQ(doc["code"].GetInt(), 200) << lyrics->body;
  EXPECT_EQ(doc["data"]["alignedWords"].Size(), 2u);  // "calm piano"
  EXPECT_TRUE(doc["data"]["alignedWords"][0]["startS"].IsNumber());

  httplib::Result style = Post("/api/v1/style/generate", R"({"content":"lofi"})");
  ASSERT_TRUE(style);
  EXPECT_THAT(Str(ParseJson(style->body)["data"], "result"), ::testing::StartsWith("lofi"));
  httplib::Result credit = Get("/api/v1/chat/credit");
  ASSERT_TRUE(credit);
  EXPECT_EQ(ParseJson(credit->body)["data"].GetInt(), 4999);
  EXPECT_EQ(Get("/api/v1/chat/credit", "wrong")->status, 401);
}

}  // namespace
}  // namespace music::emulator
