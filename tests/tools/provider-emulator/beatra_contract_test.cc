// The beatra contract of the provider emulator over real HTTP (adapters/beatra/WIRE.md): routes,
// auth, the task envelope over time, Idempotency-Key dedupe, error envelopes, cancel, uploads,
// listing and usage records; then the beatra adapter against it over libcurl.
#include "tools/provider-emulator/beatra_contract.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <httplib.h>
#include <rapidjson/document.h>

#include <functional>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/synchronization/notification.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "adapters/beatra/beatra_adapter.h"
#include "adapters/http/curl_http_client.h"
#include "adapters/provider_auth.h"
#include "adapters/provider_errors.h"
#include "tests/testing/fake_clock.h"
#include "tests/testing/status_matchers.h"
#include "tests/testing/wait_for.h"
#include "tools/provider-emulator/core.h"
#include "tools/provider-emulator/emulator.h"

namespace music::emulator {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;

constexpr char kKey[] = "test-beatra-key";
constexpr double kClipSeconds = 1.5;

// The kit's deadline-bounded wait (fails the test at the deadline).
bool WaitUntil(const std::function<bool()>& done, absl::Duration timeout = absl::Seconds(10)) {
  return WaitFor(done, timeout);
}

rapidjson::Document ParseJson(const std::string& text) {
  rapidjson::Document doc;
  doc.Parse(text.data(), text.size());
  EXPECT_FALSE(doc.HasParseError()) << text;
  return doc;
}

std::string Str(const rapidjson::Value& obj, const char* name) {
  if (!obj.IsObject()) return "<not an object>";
  auto it = obj.FindMember(name);
  if (it == obj.MemberEnd() || !it->value.IsString()) return "<missing or not a string>";
  return std::string(it->value.GetString(), it->value.GetStringLength());
}

// The error envelope's code, after checking its shape.
std::string ErrorCode(const httplib::Result& res) {
  if (!res) return "<no answer>";
  rapidjson::Document doc = ParseJson(res->body);
  if (!doc.IsObject() || !doc.HasMember("error") || !doc["error"].IsObject()) return "<no error>";
  const rapidjson::Value& e = doc["error"];
  EXPECT_TRUE(e.HasMember("message") && e["message"].IsString()) << res->body;
  EXPECT_TRUE(e.HasMember("retryable") && e["retryable"].IsBool()) << res->body;
  EXPECT_EQ(Str(e, "request_id"), res->get_header_value("X-Request-Id")) << res->body;
  return Str(e, "code");
}

class BeatraContractTest : public ::testing::Test {
 protected:
  void SetUp() override {
    EmulatorOptions options;
    options.beatra_api_key = kKey;
    options.task_duration = absl::Milliseconds(800);
    options.clip_seconds = kClipSeconds;
    options.faults.slow_delay = absl::Milliseconds(1500);
    emulator_ = std::make_unique<ProviderEmulator>(options);
    ASSERT_THAT(emulator_->Start(), IsOk());
    client_ = std::make_unique<httplib::Client>("127.0.0.1", emulator_->port());
    client_->set_read_timeout(10, 0);
  }
  void TearDown() override { emulator_->Stop(); }

  httplib::Headers Auth(const std::string& idempotency_key = "") const {
    httplib::Headers h = {{"Authorization", absl::StrCat("Bearer ", kKey)}};
    if (!idempotency_key.empty()) h.emplace("Idempotency-Key", idempotency_key);
    return h;
  }

  httplib::Result Create(const std::string& body, const std::string& key = "",
                         const std::string& path = "/beatra/v1/music/text-to-music") {
    return client_->Post(path.c_str(), Auth(key), body, "application/json");
  }

  httplib::Result Get(const std::string& task_id) {
    return client_->Get(absl::StrCat("/beatra/v1/tasks/", task_id).c_str(), Auth());
  }

  // Creates a task and returns its id ("" on failure).
  std::string CreateTask(const std::string& body, const std::string& key = "") {
    auto res = Create(body, key);
    EXPECT_TRUE(res);
    if (!res) return "";
    EXPECT_EQ(res->status, 202) << res->body;
    return Str(ParseJson(res->body), "task_id");
  }

  // Polls until the task is terminal; returns the last envelope body.
  std::string WaitTerminal(const std::string& task_id) {
    std::string body;
    WaitUntil([&] {
      auto res = Get(task_id);
      if (!res || res->status != 200) return false;
      body = res->body;
      const std::string status = Str(ParseJson(body), "status");
      return status == "succeeded" || status == "failed" || status == "canceled";
    });
    return body;
  }

  std::string FetchAudio(const std::string& url) {
    const std::string base = emulator_->base_url();
    EXPECT_TRUE(absl::StartsWith(url, base)) << url;
    auto res = client_->Get(url.substr(base.size()).c_str());
    if (!res || res->status != 200) return "";
    return res->body;
  }

  std::unique_ptr<ProviderEmulator> emulator_;
  std::unique_ptr<httplib::Client> client_;
};

constexpr char kSunoBody[] =
    R"({"model":"suno-5.5","prompt":"a calm piano piece","instrumental":false,)"
    R"("title":"Calm","metadata":{"task_id":"tsk_1"},"model_options":{"suno":{"tempo":90}}})";
constexpr char kMinimaxBody[] =
    R"({"model":"minimax-music-2.6","prompt":"lofi beat","instrumental":true})";

TEST_F(BeatraContractTest, EveryAnswerHasRequestIdAndAuthIsRequired) {
  auto res = client_->Post("/beatra/v1/music/text-to-music", kSunoBody, "application/json");
  ASSERT_TRUE(res);
  EXPECT_EQ(res->status, 401);
  EXPECT_EQ(ErrorCode(res), "unauthorized");
  EXPECT_TRUE(absl::StartsWith(res->get_header_value("X-Request-Id"), "req_"));
  httplib::Headers wrong = {{"Authorization", "Bearer nope"}};
  res = client_->Get("/beatra/v1/tasks/task_x", wrong);
  ASSERT_TRUE(res);
  EXPECT_EQ(res->status, 401);
  res = Get("task_missing");
  ASSERT_TRUE(res);
  EXPECT_EQ(res->status, 404);
  EXPECT_EQ(ErrorCode(res), "not_found");
  EXPECT_GE(emulator_->stats().unauthorized, 2);
}

TEST_F(BeatraContractTest, SunoTaskRunsToTwoClipsWithBillingAndRealAudio) {
  auto res = Create(kSunoBody, "key-suno-1");
  ASSERT_TRUE(res);
  ASSERT_EQ(res->status, 202) << res->body;
  EXPECT_FALSE(res->get_header_value("X-Request-Id").empty());
  rapidjson::Document created = ParseJson(res->body);
  const std::string id = Str(created, "task_id");
  EXPECT_TRUE(absl::StartsWith(id, "task_")) << id;
  EXPECT_EQ(Str(created, "status"), "queued");
  EXPECT_EQ(Str(created, "model"), "suno-5.5");
  EXPECT_EQ(Str(created["billing"], "charged_credits"), "80.0000");
  EXPECT_EQ(Str(created["billing"], "charged_credits_usd_reference"), "0.0800");
  EXPECT_EQ(Str(created["billing"], "currency"), "credits");
  EXPECT_FALSE(created["billing"].HasMember("refunded_credits"));
  EXPECT_TRUE(created["output"].IsNull());
  EXPECT_EQ(created["progress"]["percent"].GetInt(), 0);
  EXPECT_EQ(Str(created["metadata"], "task_id"), "tsk_1");
  ASSERT_TRUE(created["usage"]["lines"].IsArray());
  EXPECT_EQ(created["usage"]["lines"].Size(), 1u);

  // Running: progress between 0 and 100 with a stage and a message.
  bool saw_running = false;
  WaitUntil([&] {
    auto r = Get(id);
    if (!r) return false;
    rapidjson::Document doc = ParseJson(r->body);
    if (Str(doc, "status") != "running") return Str(doc, "status") == "succeeded";
    saw_running = true;
    const int percent = doc["progress"]["percent"].GetInt();
    EXPECT_GT(percent, 0);
    EXPECT_LT(percent, 100);
    EXPECT_FALSE(Str(doc["progress"], "stage").empty());
    EXPECT_FALSE(Str(doc["progress"], "message").empty());
    EXPECT_NE(Str(doc, "started_at"), "<missing or not a string>");
    return true;
  });
  EXPECT_TRUE(saw_running);

  rapidjson::Document done = ParseJson(WaitTerminal(id));
  ASSERT_EQ(Str(done, "status"), "succeeded");
  EXPECT_EQ(done["progress"]["percent"].GetInt(), 100);
  EXPECT_TRUE(done["error"].IsNull());
  EXPECT_NE(Str(done, "completed_at"), "<missing or not a string>");
  const rapidjson::Value& clips = done["output"]["clips"];
  ASSERT_TRUE(clips.IsArray());
  ASSERT_EQ(clips.Size(), 2u);
  for (const auto& clip : clips.GetArray()) {
    EXPECT_TRUE(absl::StartsWith(Str(clip, "artifact_id"), "art_"));
    EXPECT_FALSE(Str(clip, "id").empty());
    EXPECT_DOUBLE_EQ(clip["duration_seconds"].GetDouble(), kClipSeconds);
    const std::string wav = FetchAudio(Str(clip, "audio_url"));
    ASSERT_GT(wav.size(), 44u);
    EXPECT_EQ(wav.substr(0, 4), "RIFF");
    EXPECT_EQ(wav.substr(8, 4), "WAVE");
  }
  EXPECT_EQ(Str(done["billing"], "charged_credits"), "80.0000");
  EXPECT_FALSE(done["billing"].HasMember("refunded_credits"));
}

TEST_F(BeatraContractTest, MinimaxTaskHasOneClip) {
  const std::string id = CreateTask(kMinimaxBody, "key-mm-1");
  rapidjson::Document done = ParseJson(WaitTerminal(id));
  ASSERT_EQ(Str(done, "status"), "succeeded");
  ASSERT_EQ(done["output"]["clips"].Size(), 1u);
  EXPECT_EQ(Str(done["billing"], "charged_credits"), "50.0000");
  EXPECT_EQ(Str(done["billing"], "charged_credits_usd_reference"), "0.0500");
  EXPECT_EQ(FetchAudio(Str(done["output"]["clips"][0], "audio_url")).substr(0, 4), "RIFF");
}

TEST_F(BeatraContractTest, IdempotencyKeyDedupes) {
  const std::string id = CreateTask(kSunoBody, "key-dup");
  ASSERT_FALSE(id.empty());
  // The same body with its keys in another order is the same request.
  const std::string reordered =
      R"({"prompt":"a calm piano piece","model":"suno-5.5","model_options":{"suno":{"tempo":90}},)"
      R"("metadata":{"task_id":"tsk_1"},"title":"Calm","instrumental":false})";
  auto again = Create(reordered, "key-dup");
  ASSERT_TRUE(again);
  EXPECT_EQ(again->status, 202);
  EXPECT_EQ(Str(ParseJson(again->body), "task_id"), id);
  EXPECT_EQ(again->get_header_value("Idempotent-Replayed"), "true");
  EXPECT_EQ(emulator_->TaskCount(), 1);

  auto conflict = Create(kMinimaxBody, "key-dup");
  ASSERT_TRUE(conflict);
  EXPECT_EQ(conflict->status, 409);
  EXPECT_EQ(ErrorCode(conflict), "idempotency_conflict");
  // The same body on the other endpoint is another request too.
  auto other = Create(kSunoBody, "key-dup", "/beatra/v1/music/reference-audio-to-music");
  ASSERT_TRUE(other);
  EXPECT_EQ(other->status, 409);
  EXPECT_EQ(emulator_->TaskCount(), 1);

  // Without a key every create is a new task.
  CreateTask(kSunoBody);
  CreateTask(kSunoBody);
  EXPECT_EQ(emulator_->TaskCount(), 3);
  EXPECT_EQ(emulator_->stats().creates_accepted, 3);
}

TEST_F(BeatraContractTest, ValidationErrors) {
  struct Case {
    std::string body;
    int status;
    std::string code;
  } cases[] = {
      {"not json", 422, "invalid_request"},
      {R"({"prompt":"x"})", 422, "invalid_request"},
      {R"({"model":"suno-9","prompt":"x"})", 400, "unsupported_model"},
      {R"({"model":"suno-5.5"})", 422, "invalid_request"},
      {R"({"model":"suno-5.5","prompt":"x","instrumental":"yes"})", 422, "invalid_request"},
      {R"({"model":"suno-5.5","prompt":"x","metadata":[]})", 422, "invalid_request"},
      {R"({"model":"suno-5.5","prompt":"x","model_options":{"minimax":{}}})", 422,
       "unsupported_option"},
      {R"({"model":"minimax-music-2.6","prompt":"x","model_options":{"suno":{}}})", 422,
       "unsupported_option"},
      {R"({"model":"suno-5.5","prompt":"x","model_options":{"suno":3}})", 422,
       "unsupported_option"},
      {R"({"model":"suno-5.5","prompt":"x","reference_audio":{"artifact_id":"a"}})", 422,
       "invalid_request"},
      // seed 002: "Shared fields stay at the top level: model, prompt, lyrics, instrumental,
      // title, and metadata. Model-specific knobs live under model_options": a top-level member
      // it does not name (a knob outside model_options, a callback the page calls "Planned") is
      // refused.
      {R"({"model":"suno-5.5","prompt":"x","style":"folk"})", 422, "invalid_request"},
      {R"({"model":"suno-5.5","prompt":"x","callback_url":"https://h/cb"})", 422,
       "invalid_request"},
  };
  for (const Case& c : cases) {
    auto res = Create(c.body, "");
    ASSERT_TRUE(res);
    EXPECT_EQ(res->status, c.status) << c.body;
    EXPECT_EQ(ErrorCode(res), c.code) << c.body;
  }
  EXPECT_EQ(emulator_->TaskCount(), 0);
}

TEST_F(BeatraContractTest, CreateErrorDirectives) {
  auto res = Create(R"({"model":"suno-5.5","prompt":"x [emu:create_error=insufficient_balance]"})",
                    "key-402");
  ASSERT_TRUE(res);
  EXPECT_EQ(res->status, 402);
  EXPECT_EQ(ErrorCode(res), "insufficient_balance");
  res = Create(R"({"model":"suno-5.5","prompt":"x [emu:create_error=insufficient_balance]"})",
               "key-402");
  EXPECT_EQ(res->status, 402);  // every time

  // Retryable errors fire once per key: the retry with the same key gets the task.
  const std::string limited =
      R"({"model":"suno-5.5","prompt":"y [emu:create_error=rate_limited]"})";
  res = Create(limited, "key-429");
  ASSERT_TRUE(res);
  EXPECT_EQ(res->status, 429);
  EXPECT_EQ(res->get_header_value("Retry-After"), "1");
  EXPECT_EQ(ErrorCode(res), "rate_limited");
  EXPECT_TRUE(ParseJson(res->body)["error"]["retryable"].GetBool());
  res = Create(limited, "key-429");
  EXPECT_EQ(res->status, 202);

  const std::string billing =
      R"({"model":"suno-5.5","prompt":"z [emu:create_error=billing_failed]"})";
  res = Create(billing, "key-500");
  ASSERT_TRUE(res);
  EXPECT_EQ(res->status, 500);
  EXPECT_EQ(ErrorCode(res), "billing_failed");
  EXPECT_TRUE(ParseJson(res->body)["error"]["retryable"].GetBool());
  res = Create(billing, "key-500");
  EXPECT_EQ(res->status, 202);
  EXPECT_EQ(emulator_->TaskCount(), 2);
}

TEST_F(BeatraContractTest, SharedCreateFaults) {
  FaultConfig faults;
  faults.create_429_count = 1;
  faults.create_500_count = 1;
  emulator_->SetFaults(faults);
  auto res = Create(kSunoBody, "k1");
  ASSERT_TRUE(res);
  EXPECT_EQ(res->status, 429);
  EXPECT_EQ(ErrorCode(res), "rate_limited");
  EXPECT_EQ(res->get_header_value("Retry-After"), "1");
  res = Create(kSunoBody, "k1");
  EXPECT_EQ(res->status, 500);
  EXPECT_EQ(ErrorCode(res), "internal_error");
  res = Create(kSunoBody, "k1");
  EXPECT_EQ(res->status, 202);
  EXPECT_EQ(emulator_->stats().creates_rate_limited, 1);
  EXPECT_EQ(emulator_->stats().creates_server_error, 1);

  // A malformed answer still made the task; the same key then returns it whole.
  const std::string body = R"({"model":"suno-5.5","prompt":"m [emu:malformed_create]"})";
  res = Create(body, "k2");
  ASSERT_TRUE(res);
  EXPECT_EQ(res->status, 202);
  rapidjson::Document broken;
  broken.Parse(res->body.data(), res->body.size());
  EXPECT_TRUE(broken.HasParseError());
  EXPECT_EQ(emulator_->TaskCount(), 2);
  res = Create(body, "k2");
  EXPECT_TRUE(absl::StartsWith(Str(ParseJson(res->body), "task_id"), "task_"));
  EXPECT_EQ(emulator_->TaskCount(), 2);
  EXPECT_EQ(emulator_->stats().creates_malformed, 1);
}

TEST_F(BeatraContractTest, PollFaultsAndNoAudio) {
  const std::string id = CreateTask(R"({"model":"suno-5.5","prompt":"p [emu:malformed_poll=2]"})");
  auto res = Get(id);
  ASSERT_TRUE(res);
  EXPECT_EQ(res->status, 200);
  rapidjson::Document doc;
  doc.Parse(res->body.data(), res->body.size());
  EXPECT_TRUE(doc.HasParseError());
  Get(id);
  res = Get(id);
  EXPECT_EQ(Str(ParseJson(res->body), "task_id"), id);
  EXPECT_EQ(emulator_->stats().polls_malformed, 2);

  FaultConfig faults;
  faults.poll_500_rate = 1;
  emulator_->SetFaults(faults);
  res = Get(id);
  EXPECT_EQ(res->status, 500);
  EXPECT_EQ(ErrorCode(res), "internal_error");
  emulator_->SetFaults(FaultConfig{});

  const std::string silent =
      CreateTask(R"({"model":"minimax-music-2.6","prompt":"[emu:no_audio]"})");
  rapidjson::Document done = ParseJson(WaitTerminal(silent));
  EXPECT_EQ(Str(done, "status"), "succeeded");
  ASSERT_EQ(done["output"]["clips"].Size(), 1u);
  EXPECT_EQ(Str(done["output"]["clips"][0], "audio_url"), "");
}

TEST_F(BeatraContractTest, TaskErrorFailsWithRefund) {
  const std::string id =
      CreateTask(R"({"model":"suno-5.5","prompt":"[emu:task_error=generation_failed]"})");
  rapidjson::Document done = ParseJson(WaitTerminal(id));
  ASSERT_EQ(Str(done, "status"), "failed");
  EXPECT_EQ(Str(done["error"], "code"), "generation_failed");
  EXPECT_FALSE(done["error"]["retryable"].GetBool());
  EXPECT_TRUE(done["output"].IsNull());
  EXPECT_EQ(Str(done["billing"], "charged_credits"), "80.0000");
  EXPECT_EQ(Str(done["billing"], "refunded_credits"), "80.0000");
  EXPECT_EQ(Str(done["billing"], "refunded_credits_usd_reference"), "0.0800");
  EXPECT_EQ(done["usage"]["lines"].Size(), 2u);
}

TEST_F(BeatraContractTest, CancelIsBestEffortAndIdempotent) {
  const std::string id =
      CreateTask(R"({"model":"suno-5.5","prompt":"long [emu:duration_ms=5000]"})");
  const std::string path = absl::StrCat("/beatra/v1/tasks/", id, "/cancel");
  auto res = client_->Post(path.c_str(), Auth(), "{}", "application/json");
  ASSERT_TRUE(res);
  ASSERT_EQ(res->status, 200) << res->body;
  rapidjson::Document canceled = ParseJson(res->body);
  EXPECT_EQ(Str(canceled, "status"), "canceled");
  EXPECT_NE(Str(canceled, "cancel_requested_at"), "<missing or not a string>");
  EXPECT_EQ(Str(canceled["billing"], "refunded_credits"), "80.0000");
  const std::string first_at = Str(canceled, "cancel_requested_at");
  res = client_->Post(path.c_str(), Auth(), "{}", "application/json");
  ASSERT_TRUE(res);
  EXPECT_EQ(res->status, 200);
  EXPECT_EQ(Str(ParseJson(res->body), "cancel_requested_at"), first_at);
  EXPECT_EQ(Str(ParseJson(Get(id)->body), "status"), "canceled");

  // A finished task stays finished.
  const std::string done_id = CreateTask(kMinimaxBody);
  WaitTerminal(done_id);
  res = client_->Post(absl::StrCat("/beatra/v1/tasks/", done_id, "/cancel").c_str(), Auth(), "{}",
                      "application/json");
  ASSERT_TRUE(res);
  EXPECT_EQ(res->status, 200);
  EXPECT_EQ(Str(ParseJson(res->body), "status"), "succeeded");
  EXPECT_FALSE(ParseJson(res->body)["billing"].HasMember("refunded_credits"));

  res = client_->Post("/beatra/v1/tasks/task_nope/cancel", Auth(), "{}", "application/json");
  ASSERT_TRUE(res);
  EXPECT_EQ(res->status, 404);
  EXPECT_EQ(ErrorCode(res), "not_found");
}

TEST_F(BeatraContractTest, ListTasksNewestFirstWithLimit) {
  const std::string a = CreateTask(kMinimaxBody);
  const std::string b = CreateTask(kMinimaxBody);
  const std::string c = CreateTask(kMinimaxBody);
  auto res = client_->Get("/beatra/v1/tasks?limit=2", Auth());
  ASSERT_TRUE(res);
  ASSERT_EQ(res->status, 200);
  rapidjson::Document doc = ParseJson(res->body);
  ASSERT_EQ(doc["data"].Size(), 2u);
  EXPECT_EQ(Str(doc["data"][0], "task_id"), c);
  EXPECT_EQ(Str(doc["data"][1], "task_id"), b);
  EXPECT_TRUE(doc["has_more"].GetBool());
  res = client_->Get("/beatra/v1/tasks", Auth());
  EXPECT_EQ(ParseJson(res->body)["data"].Size(), 3u);
  EXPECT_EQ(Str(ParseJson(res->body)["data"][2], "task_id"), a);
  for (const char* bad : {"0", "101", "x", "-1"}) {
    res = client_->Get(absl::StrCat("/beatra/v1/tasks?limit=", bad).c_str(), Auth());
    ASSERT_TRUE(res);
    EXPECT_EQ(res->status, 422) << bad;
    EXPECT_EQ(ErrorCode(res), "invalid_request");
  }
  res = client_->Get("/beatra/v1/tasks?limit=100", Auth());
  EXPECT_EQ(res->status, 200);
}

TEST_F(BeatraContractTest, UploadsAndReferenceAudioToMusic) {
  // CONTRACT-NOTES "beatra": "Uploads: multipart `file`, `purpose` (`reference_audio` for
  // music), `media_type`, `metadata` (a JSON string)". Without `purpose` (the old adapter's
  // upload): refused.
  httplib::MultipartFormDataItems file_only = {
      {"file", std::string("RIFF....WAVE", 12), "ref.wav", "audio/wav"}};
  auto res = client_->Post("/beatra/v1/uploads", Auth(), file_only);
  ASSERT_TRUE(res);
  EXPECT_EQ(res->status, 422) << res->body;
  EXPECT_EQ(ErrorCode(res), "invalid_request");
  httplib::MultipartFormDataItems other_purpose = file_only;
  other_purpose.push_back({"purpose", "avatar", "", ""});
  res = client_->Post("/beatra/v1/uploads", Auth(), other_purpose);
  ASSERT_TRUE(res);
  EXPECT_EQ(res->status, 422) << res->body;
  httplib::MultipartFormDataItems bad_metadata = file_only;
  bad_metadata.push_back({"purpose", "reference_audio", "", ""});
  bad_metadata.push_back({"metadata", "not json", "", ""});
  res = client_->Post("/beatra/v1/uploads", Auth(), bad_metadata);
  ASSERT_TRUE(res);
  EXPECT_EQ(res->status, 422) << res->body;

  httplib::MultipartFormDataItems items = {
      {"purpose", "reference_audio", "", ""},
      {"media_type", "audio", "", ""},
      {"metadata", R"({"filename":"ref.wav"})", "", ""},
      {"file", std::string("RIFF....WAVE", 12), "ref.wav", "audio/wav"}};
  res = client_->Post("/beatra/v1/uploads", Auth(), items);
  ASSERT_TRUE(res);
  ASSERT_EQ(res->status, 201) << res->body;
  rapidjson::Document up = ParseJson(res->body);
  const std::string artifact = Str(up, "artifact_id");
  EXPECT_TRUE(absl::StartsWith(artifact, "art_"));
  EXPECT_EQ(Str(up, "filename"), "ref.wav");
  EXPECT_EQ(up["size_bytes"].GetUint64(), 12u);

  const std::string body = absl::StrCat(
      R"({"model":"minimax-music-2.6","prompt":"like this","reference_audio":{"artifact_id":")",
      artifact, R"("}})");
  res = Create(body, "ref-1", "/beatra/v1/music/reference-audio-to-music");
  ASSERT_TRUE(res);
  ASSERT_EQ(res->status, 202) << res->body;
  EXPECT_EQ(Str(ParseJson(res->body), "type"), "music.reference_audio_to_music");
  rapidjson::Document done = ParseJson(WaitTerminal(Str(ParseJson(res->body), "task_id")));
  EXPECT_EQ(Str(done, "status"), "succeeded");

  res = Create(R"({"model":"suno-5.5","prompt":"x","reference_audio":{"artifact_id":"art_no"}})",
               "", "/beatra/v1/music/reference-audio-to-music");
  EXPECT_EQ(res->status, 422);
  res = Create(R"({"model":"suno-5.5","prompt":"x"})", "",
               "/beatra/v1/music/reference-audio-to-music");
  EXPECT_EQ(res->status, 422);
  EXPECT_EQ(ErrorCode(res), "invalid_request");

  // Not multipart, or no `file` part.
  res = client_->Post("/beatra/v1/uploads", Auth(), "raw", "audio/wav");
  EXPECT_EQ(res->status, 422);
  httplib::MultipartFormDataItems wrong = {{"audio", "x", "a.wav", "audio/wav"}};
  res = client_->Post("/beatra/v1/uploads", Auth(), wrong);
  EXPECT_EQ(res->status, 422);
  EXPECT_EQ(ErrorCode(res), "invalid_request");
}

TEST_F(BeatraContractTest, UploadOver100MiBIs413) {
  httplib::MultipartFormDataItems items = {
      {"purpose", "reference_audio", "", ""},
      {"file", std::string((size_t{100} << 20) + 1, 'x'), "big.wav", "audio/wav"}};
  auto res = client_->Post("/beatra/v1/uploads", Auth(), items);
  ASSERT_TRUE(res);
  EXPECT_EQ(res->status, 413);
  EXPECT_EQ(ErrorCode(res), "payload_too_large");
}

// ---------------------------------------------------------------------------------------------
// Usage records: the contract on its own server, so its UsageRecords() can be read.

class BeatraUsageTest : public ::testing::Test {
 protected:
  void SetUp() override {
    core_.options.beatra_api_key = kKey;
    core_.options.task_duration = absl::Milliseconds(300);
    core_.options.clock = &clock_;  // tasks end when the test moves the clock
    core_.public_base_url = "http://127.0.0.1:1";
    core_.faults = &faults_;
    core_.clips = &clips_;
    core_.stats = &stats_;
    core_.stopping = &stopping_;
    contract_ = NewBeatraContract(&core_);
    contract_->RegisterRoutes(&server_);
    port_ = server_.bind_to_any_port("127.0.0.1");
    thread_ = std::thread([this] { server_.listen_after_bind(); });
    WaitUntil([this] { return server_.is_running(); });
    client_ = std::make_unique<httplib::Client>("127.0.0.1", port_);
  }
  void TearDown() override {
    stopping_.Notify();
    server_.stop();
    thread_.join();
  }

  std::string Create(const std::string& body, const std::string& key) {
    httplib::Headers h = {{"Authorization", absl::StrCat("Bearer ", kKey)},
                          {"Idempotency-Key", key}};
    auto res = client_->Post("/beatra/v1/music/text-to-music", h, body, "application/json");
    EXPECT_TRUE(res && res->status == 202);
    request_ids_.push_back(res ? res->get_header_value("X-Request-Id") : "");
    return res ? Str(ParseJson(res->body), "task_id") : "";
  }

  FaultInjector faults_{FaultConfig{}};
  ClipRegistry clips_;
  StatsRecorder stats_;
  absl::Notification stopping_;
  FakeClock clock_;
  EmulatorCore core_;
  std::unique_ptr<ProviderContract> contract_;
  httplib::Server server_;
  std::thread thread_;
  int port_ = 0;
  std::unique_ptr<httplib::Client> client_;
  std::vector<std::string> request_ids_;
};

TEST_F(BeatraUsageTest, ChargePerTaskAndRefundOnFailureOrCancel) {
  EXPECT_EQ(contract_->provider(), "beatra");
  const std::string ok = Create(R"({"model":"suno-5.5","prompt":"a"})", "u1");
  const std::string failed = Create(
      R"({"model":"minimax-music-2.6","prompt":"[emu:task_error=generation_failed]"})", "u2");
  const std::string canceled =
      Create(R"({"model":"suno-5.5","prompt":"[emu:duration_ms=5000]"})", "u3");
  httplib::Headers h = {{"Authorization", absl::StrCat("Bearer ", kKey)}};
  ASSERT_EQ(client_
                ->Post(absl::StrCat("/beatra/v1/tasks/", canceled, "/cancel").c_str(), h, "{}",
                       "application/json")
                ->status,
            200);
  EXPECT_EQ(contract_->TaskCount(), 3);
  clock_.Advance(absl::Milliseconds(400));  // the ok task succeeds, the failed one fails

  const std::vector<emulator::UsageRecord> records = contract_->UsageRecords();
  ASSERT_EQ(records.size(), 5u);
  struct Want {
    std::string task;
    emulator::UsageKind kind;
    int64_t micros;
    std::string model;
    std::string request_id;
  };
  const std::vector<Want> want = {
      {ok, emulator::UsageKind::kCharge, 80'000'000, "suno-5.5", request_ids_[0]},
      {failed, emulator::UsageKind::kCharge, 50'000'000, "minimax-music-2.6", request_ids_[1]},
      {failed, emulator::UsageKind::kRefund, 50'000'000, "minimax-music-2.6", request_ids_[1]},
      {canceled, emulator::UsageKind::kCharge, 80'000'000, "suno-5.5", request_ids_[2]},
      {canceled, emulator::UsageKind::kRefund, 80'000'000, "suno-5.5", request_ids_[2]},
  };
  for (size_t i = 0; i < want.size(); ++i) {
    const emulator::UsageRecord& r = records[i];
    EXPECT_EQ(r.provider, "beatra");
    EXPECT_EQ(r.provider_task_id, want[i].task) << i;
    EXPECT_EQ(r.kind, want[i].kind) << i;
    EXPECT_EQ(r.amount_micros, want[i].micros) << i;
    EXPECT_EQ(r.currency, emulator::UsageCurrency::kCredits);
    EXPECT_EQ(r.model, want[i].model);
    EXPECT_EQ(r.endpoint, "/v1/music/text-to-music");
    EXPECT_EQ(r.request_id, want[i].request_id);
    EXPECT_FALSE(r.usage_record_id.empty());
    EXPECT_NE(r.time, absl::Time());
  }
  // Ids are stable: reading again gives the same records.
  const std::vector<emulator::UsageRecord> again = contract_->UsageRecords();
  ASSERT_EQ(again.size(), records.size());
  for (size_t i = 0; i < records.size(); ++i) {
    EXPECT_EQ(again[i].usage_record_id, records[i].usage_record_id);
    for (size_t j = 0; j < i; ++j)
      EXPECT_NE(records[i].usage_record_id, records[j].usage_record_id);
  }
}

// ---------------------------------------------------------------------------------------------
// The beatra adapter against the emulator, over libcurl.

class BeatraAdapterOverHttpTest : public BeatraContractTest {
 protected:
  std::unique_ptr<adapters::ProviderAdapter> Adapter(std::string key = kKey) {
    adapters::beatra::BeatraOptions options;
    options.base_url = absl::StrCat(emulator_->base_url(), "/beatra");
    options.api_key = std::move(key);
    options.request_timeout = absl::Seconds(5);
    http::CurlOptions co;
    co.request_timeout = absl::Seconds(5);
    return adapters::beatra::NewBeatraAdapter(options, http::NewCurlHttpClient(co));
  }

  static adapters::SubmitRequest Music(const std::string& model, const std::string& prompt,
                                       const std::string& task_id) {
    adapters::SubmitRequest r;
    r.kind = music::v1::TASK_KIND_MUSIC;
    r.task_id = task_id;
    r.idempotency_key = absl::StrCat(task_id, ".beatra");
    r.provider_model = model;
    r.input.set_prompt(prompt);
    return r;
  }

  // Polls through the adapter until terminal.
  adapters::ProviderUpdate PollToEnd(adapters::ProviderAdapter* adapter, const std::string& id) {
    adapters::PollTarget target;
    target.kind = music::v1::TASK_KIND_MUSIC;
    target.provider_task_id = id;
    adapters::ProviderUpdate last;
    WaitUntil([&] {
      auto u = adapter->Poll(target);
      EXPECT_THAT(u, IsOk());
      if (!u.ok()) return true;
      last = *u;
      if (last.state == adapters::ProviderState::kRunning) {
        EXPECT_GE(last.progress_percent, 0);
        EXPECT_LE(last.progress_percent, 100);
        saw_running_progress_ |= last.progress_percent > 0 && last.progress_percent < 100;
      }
      return last.state == adapters::ProviderState::kSucceeded ||
             last.state == adapters::ProviderState::kFailed ||
             last.state == adapters::ProviderState::kCanceled;
    });
    return last;
  }

  bool saw_running_progress_ = false;
};

TEST_F(BeatraAdapterOverHttpTest, SunoCreatePollDownload) {
  auto adapter = Adapter();
  auto sent = adapter->Submit(Music("suno-5.5", "a calm piano piece", "tsk_a1"));
  ASSERT_THAT(sent, IsOk());
  EXPECT_EQ(sent->endpoint, "/v1/music/text-to-music");
  const adapters::ProviderUpdate done = PollToEnd(adapter.get(), sent->provider_task_id);
  ASSERT_EQ(done.state, adapters::ProviderState::kSucceeded);
  EXPECT_TRUE(saw_running_progress_);
  EXPECT_EQ(done.progress_percent, 100);
  ASSERT_EQ(done.clips.size(), 2u);
  for (const auto& clip : done.clips) {
    EXPECT_TRUE(absl::StartsWith(clip.artifact_id(), "art_"));
    const std::string wav = FetchAudio(clip.audio_url());
    ASSERT_GT(wav.size(), 44u);
    EXPECT_EQ(wav.substr(0, 4), "RIFF");
  }
  EXPECT_TRUE(done.has_billing);
  EXPECT_EQ(done.charged_micros, 80'000'000);
  EXPECT_EQ(done.refunded_micros, 0);
  EXPECT_EQ(done.billing_currency, "CREDITS");
}

TEST_F(BeatraAdapterOverHttpTest, MinimaxWithModelOptions) {
  auto adapter = Adapter();
  auto request = Music("minimax-music-2.6", "lofi", "tsk_a2");
  (*request.input.mutable_model_options()->mutable_fields())["minimax"]
      .mutable_struct_value()
      ->mutable_fields()
      ->
      operator[]("tempo")
      .set_number_value(80);
  auto sent = adapter->Submit(request);
  ASSERT_THAT(sent, IsOk());
  const adapters::ProviderUpdate done = PollToEnd(adapter.get(), sent->provider_task_id);
  ASSERT_EQ(done.state, adapters::ProviderState::kSucceeded);
  ASSERT_EQ(done.clips.size(), 1u);
  EXPECT_EQ(FetchAudio(done.clips[0].audio_url()).substr(0, 4), "RIFF");
  EXPECT_EQ(done.charged_micros, 50'000'000);
}

TEST_F(BeatraAdapterOverHttpTest, UploadThenReferenceAudioToMusic) {
  auto adapter = Adapter();
  std::string bytes = "RIFF";
  bytes.append(4096, '\0');
  bytes += "\r\n--not-the-boundary\r\n";
  auto artifact = adapter->UploadReferenceAudio({"ref.wav", "audio/wav", bytes});
  ASSERT_THAT(artifact, IsOk());
  EXPECT_TRUE(absl::StartsWith(*artifact, "art_"));

  auto request = Music("suno-5.5", "in this style", "tsk_a3");
  request.reference_artifact_id = *artifact;
  auto sent = adapter->Submit(request);
  ASSERT_THAT(sent, IsOk());
  EXPECT_EQ(sent->endpoint, "/v1/music/reference-audio-to-music");
  const adapters::ProviderUpdate done = PollToEnd(adapter.get(), sent->provider_task_id);
  ASSERT_EQ(done.state, adapters::ProviderState::kSucceeded);
  ASSERT_EQ(done.clips.size(), 2u);
  EXPECT_EQ(FetchAudio(done.clips[1].audio_url()).substr(0, 4), "RIFF");

  request.reference_artifact_id = "art_unknown";
  request.idempotency_key = "tsk_a3b.beatra";
  EXPECT_THAT(adapter->Submit(request), StatusIs(absl::StatusCode::kInvalidArgument));
}

TEST_F(BeatraAdapterOverHttpTest, CancelRefunds) {
  auto adapter = Adapter();
  auto sent = adapter->Submit(Music("suno-5.5", "long one [emu:duration_ms=5000]", "tsk_a4"));
  ASSERT_THAT(sent, IsOk());
  ASSERT_THAT(adapter->Cancel(sent->provider_task_id), IsOk());
  ASSERT_THAT(adapter->Cancel(sent->provider_task_id), IsOk());  // idempotent
  const adapters::ProviderUpdate done = PollToEnd(adapter.get(), sent->provider_task_id);
  EXPECT_EQ(done.state, adapters::ProviderState::kCanceled);
  EXPECT_EQ(done.charged_micros, 80'000'000);
  EXPECT_EQ(done.refunded_micros, 80'000'000);
  EXPECT_THAT(adapter->Cancel("task_unknown"), StatusIs(absl::StatusCode::kNotFound));
}

TEST_F(BeatraAdapterOverHttpTest, LostCreateAnswerIsRecoveredWithTheSameKey) {
  auto adapter = Adapter();
  const auto request = Music("suno-5.5", "lost [emu:malformed_create]", "tsk_a5");
  auto first = adapter->Submit(request);
  EXPECT_THAT(first, StatusIs(absl::StatusCode::kInternal));
  EXPECT_TRUE(adapters::IsOutcomeUnknown(first.status()));
  auto second = adapter->Submit(request);
  ASSERT_THAT(second, IsOk());
  EXPECT_EQ(emulator_->TaskCount(), 1);
  EXPECT_EQ(PollToEnd(adapter.get(), second->provider_task_id).state,
            adapters::ProviderState::kSucceeded);
}

TEST_F(BeatraAdapterOverHttpTest, ProviderErrorsMap) {
  auto adapter = Adapter();
  auto broke =
      adapter->Submit(Music("suno-5.5", "[emu:create_error=insufficient_balance]", "tsk_e1"));
  EXPECT_THAT(broke, StatusIs(absl::StatusCode::kFailedPrecondition));
  EXPECT_EQ(adapters::GetProviderErrorCode(broke.status()), "insufficient_balance");
  EXPECT_THAT(std::string(broke.status().message()), HasSubstr("req_"));

  const auto limited_request = Music("suno-5.5", "[emu:create_error=rate_limited]", "tsk_e2");
  auto limited = adapter->Submit(limited_request);
  EXPECT_THAT(limited, StatusIs(absl::StatusCode::kResourceExhausted));
  EXPECT_EQ(adapters::GetRetryAfter(limited.status()), absl::Seconds(1));
  EXPECT_THAT(adapter->Submit(limited_request), IsOk());

  auto billing = adapter->Submit(Music("suno-5.5", "[emu:create_error=billing_failed]", "tsk_e3"));
  EXPECT_THAT(billing, StatusIs(absl::StatusCode::kUnavailable));

  auto failing = adapter->Submit(
      Music("minimax-music-2.6", "[emu:task_error=content_policy_violation]", "tsk_e4"));
  ASSERT_THAT(failing, IsOk());
  const adapters::ProviderUpdate failed = PollToEnd(adapter.get(), failing->provider_task_id);
  EXPECT_EQ(failed.state, adapters::ProviderState::kFailed);
  EXPECT_EQ(failed.error_code, absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(failed.provider_error_code, "content_policy_violation");
  EXPECT_EQ(failed.refunded_micros, 50'000'000);

  auto silent = adapter->Submit(Music("suno-5.5", "[emu:no_audio]", "tsk_e5"));
  ASSERT_THAT(silent, IsOk());
  const adapters::ProviderUpdate hollow = PollToEnd(adapter.get(), silent->provider_task_id);
  EXPECT_EQ(hollow.state, adapters::ProviderState::kSucceeded);
  for (const auto& clip : hollow.clips) EXPECT_TRUE(clip.audio_url().empty());
}

TEST_F(BeatraAdapterOverHttpTest, WrongKeyIsProviderAuthWithoutLeakingIt) {
  const std::string wrong = "wrong-secret-key-xyz";
  auto adapter = Adapter(wrong);
  auto sent = adapter->Submit(Music("suno-5.5", "x", "tsk_k"));
  EXPECT_THAT(sent, StatusIs(absl::StatusCode::kFailedPrecondition));
  // Marked PROVIDER_AUTH (our key, not the caller's), with the envelope's code.
  EXPECT_TRUE(adapters::IsProviderAuthError(sent.status())) << sent.status();
  EXPECT_EQ(adapters::GetProviderErrorCode(sent.status()), "unauthorized");
  EXPECT_THAT(sent.status().ToString(), Not(HasSubstr(wrong)));
  adapters::PollTarget target{music::v1::TASK_KIND_MUSIC, "task_x", ""};
  auto polled = adapter->Poll(target);
  EXPECT_THAT(polled, StatusIs(absl::StatusCode::kFailedPrecondition));
  EXPECT_TRUE(adapters::IsProviderAuthError(polled.status())) << polled.status();
}

TEST_F(BeatraAdapterOverHttpTest, SlowCreateTimesOutThenResendFindsTheTask) {
  adapters::beatra::BeatraOptions options;
  options.base_url = absl::StrCat(emulator_->base_url(), "/beatra");
  options.api_key = kKey;
  options.request_timeout = absl::Milliseconds(400);  // slow_delay is 1.5 s
  auto adapter = adapters::beatra::NewBeatraAdapter(options, http::NewCurlHttpClient({}));
  const auto request = Music("suno-5.5", "slow [emu:slow_create]", "tsk_slow");
  auto first = adapter->Submit(request);
  EXPECT_THAT(first, StatusIs(absl::StatusCode::kDeadlineExceeded));
  EXPECT_TRUE(adapters::IsOutcomeUnknown(first.status()));
  // The resend is answered at once from the key, with the task the first one made.
  auto second = adapter->Submit(request);
  ASSERT_THAT(second, IsOk());
  EXPECT_EQ(emulator_->TaskCount(), 1);
}

}  // namespace
}  // namespace music::emulator
