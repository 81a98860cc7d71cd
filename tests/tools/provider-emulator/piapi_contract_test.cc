// The PiAPI contract of the provider emulator over real HTTP (adapters/piapi/WIRE.md), and the
// PiAPI adapter against it with real libcurl traffic. Task durations are a few hundred
// milliseconds; waits are bounded polling loops.
#include "tools/provider-emulator/piapi_contract.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <httplib.h>
#include <rapidjson/document.h>

#include <functional>
#include <memory>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_replace.h"
#include "absl/synchronization/mutex.h"
#include "absl/synchronization/notification.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "adapters/http/curl_http_client.h"
#include "adapters/piapi/piapi_adapter.h"
#include "adapters/provider_auth.h"
#include "adapters/provider_errors.h"
#include "tests/testing/status_matchers.h"
#include "tests/testing/wait_for.h"
#include "tools/provider-emulator/core.h"
#include "tools/provider-emulator/emulator.h"

namespace music::emulator {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;

constexpr char kKey[] = "test-piapi-key";
constexpr char kSecret[] = "piapi-webhook-secret";
constexpr double kClipSeconds = 1.5;

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

std::string Str(const rapidjson::Value& obj, const char* name) {
  if (!obj.IsObject()) return "<not an object>";
  auto it = obj.FindMember(name);
  if (it == obj.MemberEnd() || !it->value.IsString()) return "<missing or not a string>";
  return std::string(it->value.GetString(), it->value.GetStringLength());
}

// One webhook delivery the receiver got.
struct Received {
  std::string secret;  // x-webhook-secret
  std::string body;
  std::string task_id;
  std::string status;
  int64_t timestamp = 0;
};

// A webhook endpoint on port 0 that records every POST to /cb.
class WebhookReceiver {
 public:
  WebhookReceiver() {
    server_.Post("/cb", [this](const httplib::Request& req, httplib::Response& res) {
      Received r;
      r.secret = req.get_header_value("x-webhook-secret");
      r.body = req.body;
      rapidjson::Document doc;
      doc.Parse(req.body.data(), req.body.size());
      if (!doc.HasParseError() && doc.IsObject() && doc.HasMember("data")) {
        r.task_id = Str(doc["data"], "task_id");
        r.status = Str(doc["data"], "status");
        if (doc.HasMember("timestamp") && doc["timestamp"].IsInt64()) {
          r.timestamp = doc["timestamp"].GetInt64();
        }
      }
      absl::MutexLock lock(&mu_);
      received_.push_back(std::move(r));
      res.set_content(R"({"status":"received"})", "application/json");
    });
    port_ = server_.bind_to_any_port("127.0.0.1");
    thread_ = std::thread([this] { server_.listen_after_bind(); });
    WaitUntil([this] { return server_.is_running(); });
  }
  ~WebhookReceiver() {
    server_.stop();
    thread_.join();
  }

  std::string url() const { return absl::StrCat("http://127.0.0.1:", port_, "/cb"); }

  std::vector<Received> For(const std::string& task_id) {
    absl::MutexLock lock(&mu_);
    std::vector<Received> out;
    for (const Received& r : received_) {
      if (r.task_id == task_id) out.push_back(r);
    }
    return out;
  }
  std::vector<std::string> StatusesFor(const std::string& task_id) {
    std::vector<std::string> out;
    for (const Received& r : For(task_id)) out.push_back(r.status);
    return out;
  }
  bool WaitFor(const std::string& task_id, size_t n, absl::Duration timeout = absl::Seconds(5)) {
    return WaitUntil([&] { return For(task_id).size() >= n; }, timeout);
  }

 private:
  httplib::Server server_;
  std::thread thread_;
  int port_ = 0;
  absl::Mutex mu_;
  std::vector<Received> received_ ABSL_GUARDED_BY(mu_);
};

class PiapiContractTest : public ::testing::Test {
 protected:
  void SetUp() override { StartEmulator(DefaultOptions()); }
  // Every callback attempt made so far has ended: answered, given up, or followed by a retry.
  bool SenderIdle() const {
    const EmulatorStats s = emulator_->stats();
    return s.callback_attempts == s.callbacks_sent + s.callbacks_failed + s.callbacks_retried;
  }
  void TearDown() override {
    if (emulator_) emulator_->Stop();  // before the receiver goes away
  }

  static EmulatorOptions DefaultOptions() {
    EmulatorOptions options;
    options.piapi_api_key = kKey;
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

  httplib::Result Post(const std::string& body, const std::string& key = kKey) {
    httplib::Client client(emulator_->base_url());
    client.set_read_timeout(std::chrono::seconds(10));
    httplib::Headers headers;
    if (!key.empty()) headers.emplace("x-api-key", key);
    return client.Post("/api/v1/task", headers, body, "application/json");
  }

  httplib::Result Get(const std::string& path_or_url, const std::string& key = kKey) {
    std::string path = path_or_url;
    if (absl::StartsWith(path, emulator_->base_url())) {
      path = path.substr(emulator_->base_url().size());
    }
    httplib::Client client(emulator_->base_url());
    client.set_read_timeout(std::chrono::seconds(10));
    httplib::Headers headers;
    if (!key.empty()) headers.emplace("x-api-key", key);
    return client.Get(path.c_str(), headers);
  }

  // A generate_music body (seed 003 simple prompt); `prompt` may carry [emu:...] directives.
  std::string Body(const std::string& prompt, bool webhook = true,
                   const std::string& extra_input = "") {
    return absl::StrCat(
        R"({"model":"music-u","task_type":"generate_music","input":{"gpt_description_prompt":")",
        prompt, R"(","negative_tags":"","lyrics_type":"generate","seed":-1)", extra_input,
        R"(},"config":{"service_mode":"public","webhook_config":{"endpoint":")",
        webhook ? receiver_.url() : "", R"(","secret":")", webhook ? kSecret : "", R"("}}})");
  }

  // Creates a task (asserting HTTP 200 + code 200) and returns its id.
  std::string Create(const std::string& body) {
    httplib::Result res = Post(body);
    EXPECT_TRUE(res);
    if (!res) return "";
    EXPECT_EQ(res->status, 200) << res->body;
    rapidjson::Document doc = ParseJson(res->body);
    if (!doc.IsObject() || !doc.HasMember("data") || !doc["data"].IsObject()) return "";
    EXPECT_EQ(doc["code"].GetInt(), 200);
    EXPECT_EQ(Str(doc, "message"), "success");
    return Str(doc["data"], "task_id");
  }

  rapidjson::Document Poll(const std::string& task_id) {
    httplib::Result res = Get(absl::StrCat("/api/v1/task/", task_id));
    EXPECT_TRUE(res);
    if (!res) return rapidjson::Document();
    EXPECT_EQ(res->status, 200) << res->body;
    return ParseJson(res->body);
  }
  std::string Status(const std::string& task_id) {
    rapidjson::Document doc = Poll(task_id);
    if (!doc.IsObject() || !doc.HasMember("data")) return "<bad answer>";
    return Str(doc["data"], "status");
  }
  bool WaitStatus(const std::string& task_id, const std::string& status) {
    return WaitUntil([&] { return Status(task_id) == status; });
  }

  WebhookReceiver receiver_;
  std::unique_ptr<ProviderEmulator> emulator_;
};

TEST_F(PiapiContractTest, RequiresTheApiKeyInPiapisEnvelope) {
  for (const std::string& key : {std::string(), std::string("wrong")}) {
    httplib::Result res = Post(Body("x"), key);
    ASSERT_TRUE(res);
    EXPECT_EQ(res->status, 401);
    rapidjson::Document doc = ParseJson(res->body);
    EXPECT_EQ(doc["code"].GetInt(), 401);
    EXPECT_TRUE(doc["data"].IsNull());
    EXPECT_FALSE(Str(doc, "message").empty());
    res = Get("/api/v1/task/anything", key);
    ASSERT_TRUE(res);
    EXPECT_EQ(res->status, 401);
  }
  EXPECT_EQ(emulator_->stats().unauthorized, 4);
  EXPECT_EQ(emulator_->TaskCount(), 0);
}

TEST_F(PiapiContractTest, TaskGoesPendingProcessingCompletedWithTwoPlayableClips) {
  const std::string id = Create(Body("night breeze, piano [emu:duration_ms=600]", false));
  ASSERT_FALSE(id.empty());
  rapidjson::Document pending = Poll(id);
  EXPECT_EQ(Str(pending["data"], "status"), "Pending");
  EXPECT_EQ(Str(pending["data"], "model"), "music-u");
  EXPECT_EQ(Str(pending["data"], "task_type"), "generate_music");
  EXPECT_TRUE(pending["data"]["output"].IsNull());
  // consume / frozen in PiAPI's own (undocumented, CONTRACT-NOTES "PiAPI") unit, not dollars.
  EXPECT_EQ(Str(pending["data"]["meta"]["usage"], "type"), "point");
  EXPECT_DOUBLE_EQ(pending["data"]["meta"]["usage"]["frozen"].GetDouble(), 40000);
  EXPECT_DOUBLE_EQ(pending["data"]["meta"]["usage"]["consume"].GetDouble(), 0);

  ASSERT_TRUE(WaitStatus(id, "Processing"));
  rapidjson::Document processing = Poll(id);
  const rapidjson::Value& running_clips = processing["data"]["output"]["clips"];
  ASSERT_TRUE(running_clips.IsObject());
  EXPECT_EQ(running_clips.MemberCount(), 2u);
  for (const auto& m : running_clips.GetObject()) EXPECT_EQ(m.value.MemberCount(), 0u);

  ASSERT_TRUE(WaitStatus(id, "Completed"));
  rapidjson::Document done = Poll(id);
  const rapidjson::Value& data = done["data"];
  EXPECT_EQ(done["code"].GetInt(), 200);
  EXPECT_DOUBLE_EQ(data["meta"]["usage"]["consume"].GetDouble(), 40000);
  EXPECT_DOUBLE_EQ(data["meta"]["usage"]["frozen"].GetDouble(), 0);
  EXPECT_EQ(data["error"]["code"].GetInt(), 0);
  const rapidjson::Value& clips = data["output"]["clips"];
  ASSERT_EQ(clips.MemberCount(), 2u);
  int empty_ids = 0;
  for (const auto& m : clips.GetObject()) {
    const std::string key = m.name.GetString();
    const std::string clip_id = Str(m.value, "id");
    if (clip_id.empty()) ++empty_ids;
    if (!clip_id.empty()) {
      EXPECT_EQ(clip_id, key);
    }
    EXPECT_DOUBLE_EQ(m.value["metadata"]["duration"].GetDouble(), kClipSeconds);
    const std::string audio = Str(m.value, "audio_url");
    EXPECT_EQ(audio, absl::StrCat(emulator_->base_url(), "/audio/", key, ".wav"));
    httplib::Result wav = Get(audio, "");
    ASSERT_TRUE(wav);
    EXPECT_EQ(wav->status, 200);
    ASSERT_GT(wav->body.size(), 44u);
    EXPECT_EQ(wav->body.substr(0, 4), "RIFF");
    EXPECT_EQ(wav->body.substr(8, 4), "WAVE");
  }
  EXPECT_EQ(empty_ids, 1);  // as in the seed's example: the map key is the id
  EXPECT_EQ(emulator_->stats().generate_creates, 1);
  EXPECT_EQ(emulator_->TaskCount(), 1);
}

TEST_F(PiapiContractTest, ValidationErrors) {
  const std::string cases[] = {
      "not json",
      R"({"model":"music-x","task_type":"generate_music","input":{"lyrics_type":"generate","gpt_description_prompt":"x"}})",
      R"({"model":"music-u","task_type":"generate_lyrics","input":{"lyrics_type":"generate","gpt_description_prompt":"x"}})",
      R"({"model":"music-u","task_type":"generate_music"})",
      R"({"model":"music-u","task_type":"generate_music","input":{"gpt_description_prompt":"x"}})",
      R"({"model":"music-u","task_type":"generate_music","input":{"lyrics_type":"rap","gpt_description_prompt":"x"}})",
      R"({"model":"music-u","task_type":"generate_music","input":{"lyrics_type":"user"}})",
      R"({"model":"music-u","task_type":"generate_music","input":{"lyrics_type":"generate"}})",
      R"({"model":"music-u","task_type":"generate_music","input":{"lyrics_type":"generate","gpt_description_prompt":5}})",
      R"({"model":"music-u","task_type":"generate_music","input":{"lyrics_type":"generate","gpt_description_prompt":"x"},"config":{"webhook_config":{"endpoint":"ftp://x"}}})",
  };
  for (const std::string& body : cases) {
    httplib::Result res = Post(body);
    ASSERT_TRUE(res);
    EXPECT_EQ(res->status, 400) << body << " -> " << res->body;
    rapidjson::Document doc = ParseJson(res->body);
    EXPECT_EQ(doc["code"].GetInt(), 400);
  }
  httplib::Result res = Post(Body("x", false, R"(,"continue_song_id":"nope","continue_at":0)"));
  ASSERT_TRUE(res);
  EXPECT_EQ(res->status, 404);
  res = Get("/api/v1/task/no-such-task");
  ASSERT_TRUE(res);
  EXPECT_EQ(res->status, 404);
  EXPECT_EQ(ParseJson(res->body)["code"].GetInt(), 404);
  EXPECT_EQ(emulator_->TaskCount(), 0);
  EXPECT_EQ(emulator_->stats().polls_not_found, 1);
}

// A strict provider refuses what its document does not name (seed 000 "Common Errors":
// "Unsupported parameter | Field is not in the model public contract"). seed 003 names `model`,
// `task_type`, `input` {prompt, negative_tags, title, gpt_description_prompt, seed, lyrics_type;
// the extend example's lyrics, continue_song_id, continue_at} and `config` {service_mode,
// webhook_config {endpoint, secret}}: anything else is a 400 naming it, and no task is made.
TEST_F(PiapiContractTest, RefusesMembersSeed003DoesNotName) {
  const std::pair<std::string, std::string> cases[] = {
      {absl::StrCat(Body("x").substr(0, Body("x").size() - 1), R"(,"request_id":"r1"})"),
       "'request_id'"},
      {Body("x", true, R"(,"tags":"folk")"), "'input.tags'"},
      {Body("x", true, R"(,"style":"folk")"), "'input.style'"},
      {absl::StrReplaceAll(Body("x"), {{R"("service_mode")", R"("priority":1,"service_mode")"}}),
       "'config.priority'"},
      {absl::StrReplaceAll(Body("x"), {{R"("secret")", R"("signing":"hmac","secret")"}}),
       "'config.webhook_config.signing'"},
  };
  for (const auto& [body, named] : cases) {
    httplib::Result res = Post(body);
    ASSERT_TRUE(res);
    EXPECT_EQ(res->status, 400) << body << " -> " << res->body;
    EXPECT_THAT(res->body, HasSubstr(absl::StrCat("Unsupported parameter: ", named))) << body;
  }
  EXPECT_EQ(emulator_->TaskCount(), 0);
  // Every documented member, the extend example's included, is accepted.
  EXPECT_FALSE(Create(Body("x", true, R"(,"prompt":"","title":"t","lyrics":"")")).empty());
}

TEST_F(PiapiContractTest, CreateError10000IsAFailedFreezeWithoutATask) {
  httplib::Result res = Post(Body("broke [emu:create_error=10000]"));
  ASSERT_TRUE(res);
  EXPECT_EQ(res->status, 500);
  rapidjson::Document doc = ParseJson(res->body);
  EXPECT_EQ(doc["data"]["error"]["code"].GetInt(), 10000);
  EXPECT_EQ(Str(doc["data"]["error"], "message"), "failed to freeze point");
  EXPECT_EQ(doc["data"]["meta"]["usage"]["consume"].GetDouble(), 0);
  EXPECT_EQ(Str(doc["data"], "task_id"), "");
  EXPECT_EQ(emulator_->TaskCount(), 0);
  EXPECT_EQ(emulator_->stats().creates_rejected, 1);
}

TEST_F(PiapiContractTest, TaskErrorEndsFailedWithDataError) {
  const std::string id = Create(Body("doomed [emu:task_error=content_policy]"));
  ASSERT_TRUE(WaitStatus(id, "Failed"));
  rapidjson::Document doc = Poll(id);
  EXPECT_EQ(doc["data"]["error"]["code"].GetInt(), 500);
  EXPECT_TRUE(absl::StrContains(Str(doc["data"]["error"], "message"), "content_policy"));
  EXPECT_DOUBLE_EQ(doc["data"]["meta"]["usage"]["consume"].GetDouble(), 0);
  EXPECT_TRUE(doc["data"]["output"].IsNull());
  ASSERT_TRUE(receiver_.WaitFor(id, 3));
  EXPECT_EQ(receiver_.For(id).back().status, "failed");

  const std::string freeze = Create(Body("late freeze [emu:task_error=10000]"));
  ASSERT_TRUE(WaitStatus(freeze, "Failed"));
  EXPECT_EQ(Poll(freeze)["data"]["error"]["code"].GetInt(), 10000);
}

TEST_F(PiapiContractTest, WebhooksCarryTheSecretAndLowerCaseStatuses) {
  const std::string id = Create(Body("hooks"));
  ASSERT_TRUE(receiver_.WaitFor(id, 3));
  const std::vector<Received> got = receiver_.For(id);
  EXPECT_THAT(receiver_.StatusesFor(id), ElementsAre("pending", "processing", "completed"));
  for (size_t i = 0; i < got.size(); ++i) {
    EXPECT_EQ(got[i].secret, kSecret);
    EXPECT_GT(got[i].timestamp, 0);
    if (i > 0) {
      EXPECT_GT(got[i].timestamp, got[i - 1].timestamp);
    }
    rapidjson::Document doc = ParseJson(got[i].body);
    EXPECT_TRUE(doc.HasMember("timestamp"));
    EXPECT_EQ(Str(doc["data"], "model"), "music-u");
    // The secret is sent in the header only, never echoed in the body.
    EXPECT_FALSE(absl::StrContains(got[i].body, kSecret));
  }
  rapidjson::Document last = ParseJson(got.back().body);
  EXPECT_EQ(last["data"]["output"]["clips"].MemberCount(), 2u);
  // No webhook_config endpoint: no deliveries.
  const std::string quiet = Create(Body("quiet", false));
  ASSERT_TRUE(WaitStatus(quiet, "Completed"));
  // Completed: every stage is past. Wait until the sender has no delivery in flight before
  // checking that none arrived.
  ASSERT_TRUE(WaitUntil([&] { return SenderIdle(); }));
  EXPECT_TRUE(receiver_.For(quiet).empty());
}

TEST_F(PiapiContractTest, WebhookFaults) {
  const std::string dup = Create(Body("dup [emu:duplicate_callbacks]"));
  const std::string lost = Create(Body("lost [emu:lose_callbacks]"));
  const std::string reordered = Create(Body("reorder [emu:reorder_callbacks]"));
  ASSERT_TRUE(receiver_.WaitFor(dup, 6));
  ASSERT_TRUE(receiver_.WaitFor(reordered, 3));
  const std::vector<Received> d = receiver_.For(dup);
  ASSERT_EQ(d.size(), 6u);
  for (size_t i = 0; i < d.size(); i += 2) {
    EXPECT_EQ(d[i].timestamp, d[i + 1].timestamp);  // a repeat resends the same timestamp
    EXPECT_EQ(d[i].body, d[i + 1].body);
  }
  EXPECT_THAT(receiver_.StatusesFor(reordered), ElementsAre("completed", "processing", "pending"));
  ASSERT_TRUE(WaitStatus(lost, "Completed"));
  // Completed: every stage is past. Wait until the sender has no delivery in flight before
  // checking that none arrived.
  ASSERT_TRUE(WaitUntil([&] { return SenderIdle(); }));
  EXPECT_TRUE(receiver_.For(lost).empty());
  EXPECT_EQ(emulator_->stats().callbacks_dropped, 3);
}

TEST_F(PiapiContractTest, ExtendAdds32Seconds) {
  const std::string source = Create(Body("source", false));
  ASSERT_TRUE(WaitStatus(source, "Completed"));
  rapidjson::Document doc = Poll(source);
  const std::string clip_id = doc["data"]["output"]["clips"].MemberBegin()->name.GetString();
  const std::string ext =
      Create(Body("winter snow, Folk music", false,
                  absl::StrCat(R"(,"continue_song_id":")", clip_id, R"(","continue_at":0)")));
  ASSERT_FALSE(ext.empty());
  ASSERT_TRUE(WaitStatus(ext, "Completed"));
  rapidjson::Document extended = Poll(ext);
  EXPECT_EQ(Str(extended["data"]["input"], "continue_song_id"), clip_id);
  for (const auto& m : extended["data"]["output"]["clips"].GetObject()) {
    EXPECT_DOUBLE_EQ(m.value["metadata"]["duration"].GetDouble(), kClipSeconds + 32);
    EXPECT_EQ(Str(m.value["metadata"], "type"), "extend");
  }
  EXPECT_EQ(emulator_->stats().extend_creates, 1);
}

// Seed 003 "Udio Song Extend Example", verbatim but for the song id (the emulator knows only its
// own clips): accepted, and read as a description-driven extend from continue_at 0.
TEST_F(PiapiContractTest, Seed003ExtendExampleIsAccepted) {
  const std::string source = Create(Body("source", false));
  ASSERT_TRUE(WaitStatus(source, "Completed"));
  const std::string clip_id =
      Poll(source)["data"]["output"]["clips"].MemberBegin()->name.GetString();
  const std::string ext = Create(absl::StrCat(R"({
    "model": "music-u",
    "task_type": "generate_music",
    "input": {
        "gpt_description_prompt": "winter snow, Folk music",
        "lyrics": "",
        "negative_tags": "",
        "lyrics_type": "generate",
        "seed": -1,
        "continue_song_id": ")",
                                              clip_id, R"(",
        "continue_at": 0

    },
    "config": {
        "service_mode": "public",
        "webhook_config": {
            "endpoint": "",
            "secret": ""
        }
    }
})"));
  ASSERT_FALSE(ext.empty());
  ASSERT_TRUE(WaitStatus(ext, "Completed"));
  rapidjson::Document extended = Poll(ext);
  const rapidjson::Value& input = extended["data"]["input"];
  EXPECT_EQ(Str(input, "gpt_description_prompt"), "winter snow, Folk music");
  EXPECT_EQ(Str(input, "lyrics_type"), "generate");
  EXPECT_EQ(Str(input, "continue_song_id"), clip_id);
  EXPECT_EQ(input["continue_at"].GetDouble(), 0);
  EXPECT_EQ(emulator_->stats().extend_creates, 1);
}

// What an extend must say (seed 003): lyrics_type generate makes the song "from
// gpt-description-prompt" (an extend too: the seed's example sends one), user "from exact
// prompt" (the words in `prompt`, or `lyrics`, the member CONTRACT-NOTES lists).
TEST_F(PiapiContractTest, ExtendNeedsADescriptionOrTheWords) {
  const std::string source = Create(Body("source", false));
  ASSERT_TRUE(WaitStatus(source, "Completed"));
  const std::string clip_id =
      Poll(source)["data"]["output"]["clips"].MemberBegin()->name.GetString();
  const std::string song = absl::StrCat(R"(,"continue_song_id":")", clip_id, R"(")");
  // The body the old service sent for every continue_at 0 continuation: no description.
  httplib::Result res = Post(Body("", false, absl::StrCat(song, R"(,"continue_at":0)")));
  ASSERT_TRUE(res);
  EXPECT_EQ(res->status, 400) << res->body;
  EXPECT_TRUE(absl::StrContains(res->body, "gpt_description_prompt")) << res->body;
  // continue_at is required with continue_song_id, and a number.
  res = Post(Body("winter", false, song));
  ASSERT_TRUE(res);
  EXPECT_EQ(res->status, 400) << res->body;
  res = Post(Body("winter", false, absl::StrCat(song, R"(,"continue_at":"0")")));
  ASSERT_TRUE(res);
  EXPECT_EQ(res->status, 400) << res->body;
  res = Post(Body("winter", false, absl::StrCat(song, R"(,"continue_at":0,"lyrics":7)")));
  ASSERT_TRUE(res);
  EXPECT_EQ(res->status, 400) << res->body;
  EXPECT_EQ(emulator_->stats().extend_creates, 0);

  // The words under either spelling.
  const std::string user = absl::StrCat(
      R"({"model":"music-u","task_type":"generate_music","input":{"lyrics_type":"user",)",
      R"("negative_tags":"","seed":-1,"continue_at":0,"continue_song_id":")", clip_id, R"(",)");
  const std::string by_prompt = Create(absl::StrCat(user, R"("prompt":"[Verse] snow"}})"));
  const std::string by_lyrics = Create(absl::StrCat(user, R"("lyrics":"[Verse] snow"}})"));
  ASSERT_TRUE(WaitStatus(by_prompt, "Completed"));
  ASSERT_TRUE(WaitStatus(by_lyrics, "Completed"));
  EXPECT_EQ(Str(Poll(by_lyrics)["data"]["input"], "lyrics"), "[Verse] snow");
  EXPECT_EQ(emulator_->stats().extend_creates, 2);
}

TEST_F(PiapiContractTest, SharedFaults) {
  FaultConfig faults;
  faults.create_429_count = 1;
  faults.create_500_count = 1;
  faults.slow_delay = absl::Milliseconds(300);
  emulator_->SetFaults(faults);
  httplib::Result res = Post(Body("x"));
  ASSERT_TRUE(res);
  EXPECT_EQ(res->status, 429);
  EXPECT_EQ(res->get_header_value("Retry-After"), "1");
  EXPECT_EQ(ParseJson(res->body)["code"].GetInt(), 429);
  res = Post(Body("x"));
  ASSERT_TRUE(res);
  EXPECT_EQ(res->status, 500);
  EXPECT_EQ(emulator_->TaskCount(), 0);

  // A malformed create still creates the task.
  res = Post(Body("x [emu:malformed_create]"));
  ASSERT_TRUE(res);
  EXPECT_EQ(res->status, 200);
  rapidjson::Document doc;
  doc.Parse(res->body.data(), res->body.size());
  EXPECT_TRUE(doc.HasParseError());
  EXPECT_EQ(emulator_->TaskCount(), 1);

  const std::string id = Create(Body("y [emu:malformed_poll=1] [emu:no_audio]", false));
  httplib::Result poll = Get(absl::StrCat("/api/v1/task/", id));
  ASSERT_TRUE(poll);
  doc.Parse(poll->body.data(), poll->body.size());
  EXPECT_TRUE(doc.HasParseError());
  ASSERT_TRUE(WaitStatus(id, "Completed"));
  // Keep the document alive for the loop: a range-for over a member of the temporary Poll(id)
  // read freed memory (ASan, heap-use-after-free).
  const rapidjson::Document completed = Poll(id);
  for (const auto& m : completed["data"]["output"]["clips"].GetObject()) {
    EXPECT_EQ(Str(m.value, "audio_url"), "");
  }

  faults = FaultConfig();
  faults.poll_500_rate = 1;
  emulator_->SetFaults(faults);
  poll = Get(absl::StrCat("/api/v1/task/", id));
  ASSERT_TRUE(poll);
  EXPECT_EQ(poll->status, 500);
  const EmulatorStats stats = emulator_->stats();
  EXPECT_EQ(stats.creates_rate_limited, 1);
  EXPECT_EQ(stats.creates_server_error, 1);
  EXPECT_EQ(stats.creates_malformed, 1);
  EXPECT_EQ(stats.polls_malformed, 1);
  EXPECT_EQ(stats.polls_server_error, 1);
}

// The contract on a hand-built core, to read its usage records (the emulator does not export
// them over HTTP yet).
TEST(PiapiUsageTest, OneUsdChargePerCompletedTaskNothingForFailures) {
  EmulatorOptions options;
  options.piapi_api_key = kKey;
  options.task_duration = absl::ZeroDuration();
  StatsRecorder stats;
  FaultInjector faults(options.faults);
  ClipRegistry clips;
  Scheduler scheduler;
  CallbackSender callbacks(CallbackPolicy{}, &scheduler, &stats, 1);
  absl::Notification stopping;
  httplib::Server server;
  EmulatorCore core;
  core.options = options;
  core.scheduler = &scheduler;
  core.callbacks = &callbacks;
  core.faults = &faults;
  core.clips = &clips;
  core.stats = &stats;
  core.stopping = &stopping;
  std::unique_ptr<ProviderContract> contract = NewPiapiContract(&core);
  EXPECT_EQ(contract->provider(), "piapi");
  contract->RegisterRoutes(&server);
  const int port = server.bind_to_any_port("127.0.0.1");
  core.public_base_url = absl::StrCat("http://127.0.0.1:", port);
  scheduler.Start();
  callbacks.Start();
  std::thread thread([&] { server.listen_after_bind(); });
  WaitUntil([&] { return server.is_running(); });

  httplib::Client client(core.public_base_url);
  httplib::Headers headers = {{"x-api-key", kKey}};
  auto body = [](const std::string& prompt) {
    return absl::StrCat(R"({"model":"music-u","task_type":"generate_music","input":{)",
                        R"("gpt_description_prompt":")", prompt, R"(","lyrics_type":"generate"}})");
  };
  httplib::Result ok = client.Post("/api/v1/task", headers, body("fine"), "application/json");
  httplib::Result bad =
      client.Post("/api/v1/task", headers, body("[emu:task_error=x]"), "application/json");
  ASSERT_TRUE(ok && bad);
  const std::string ok_id = Str(ParseJson(ok->body)["data"], "task_id");
  EXPECT_EQ(Str(ParseJson(ok->body)["data"], "status"), "Completed");  // zero duration
  EXPECT_EQ(Str(ParseJson(bad->body)["data"], "status"), "Failed");
  EXPECT_EQ(contract->TaskCount(), 2);

  const std::vector<emulator::UsageRecord> records = contract->UsageRecords();
  ASSERT_EQ(records.size(), 1u);
  const emulator::UsageRecord& r = records[0];
  EXPECT_EQ(r.provider, "piapi");
  EXPECT_EQ(r.provider_task_id, ok_id);
  EXPECT_FALSE(r.usage_record_id.empty());
  EXPECT_EQ(r.model, "music-u");
  EXPECT_EQ(r.endpoint, "/api/v1/task");
  EXPECT_EQ(r.kind, emulator::UsageKind::kCharge);
  EXPECT_EQ(r.amount_micros, 50000);
  EXPECT_EQ(r.currency, emulator::UsageCurrency::kUsd);
  EXPECT_NE(r.time, absl::Time());
  // Stable: the same record every time it is read.
  EXPECT_EQ(contract->UsageRecords()[0].usage_record_id, r.usage_record_id);

  stopping.Notify();
  server.stop();
  thread.join();
  scheduler.Stop();
  callbacks.Stop();
}

// ---------------------------------------------------------------------------------------------
// The adapter against the emulator (real libcurl).

class PiapiAdapterOverHttpTest : public PiapiContractTest {
 protected:
  std::unique_ptr<adapters::ProviderAdapter> Adapter(std::string key = kKey) {
    adapters::piapi::PiapiOptions options;
    options.base_url = emulator_->base_url();
    options.api_key = std::move(key);
    options.webhook_secret = kSecret;
    options.request_timeout = absl::Seconds(5);
    return adapters::piapi::NewPiapiAdapter(options, http_);
  }

  static adapters::SubmitRequest Music(const std::string& prompt) {
    adapters::SubmitRequest request;
    request.kind = music::v1::TASK_KIND_MUSIC;
    request.task_id = "task-1";
    request.provider_model = "music-u";
    request.input.set_prompt(prompt);
    return request;
  }

  // Polls until a terminal state.
  adapters::ProviderUpdate PollToEnd(adapters::ProviderAdapter* adapter,
                                     const std::string& provider_task_id,
                                     music::v1::TaskKind kind = music::v1::TASK_KIND_MUSIC) {
    adapters::PollTarget target;
    target.kind = kind;
    target.provider_task_id = provider_task_id;
    adapters::ProviderUpdate last;
    WaitUntil([&] {
      absl::StatusOr<adapters::ProviderUpdate> update = adapter->Poll(target);
      EXPECT_THAT(update, IsOk());
      if (!update.ok()) return true;
      last = *update;
      return last.state == adapters::ProviderState::kSucceeded ||
             last.state == adapters::ProviderState::kFailed;
    });
    return last;
  }

  std::shared_ptr<http::HttpClient> http_ = http::NewCurlHttpClient({});
};

TEST_F(PiapiAdapterOverHttpTest, CreatePollDownloadAndContinue) {
  auto adapter = Adapter();
  absl::StatusOr<adapters::SubmitResult> created = adapter->Submit(Music("night breeze, piano"));
  ASSERT_THAT(created, IsOk());
  EXPECT_EQ(created->endpoint, "/api/v1/task");
  const adapters::ProviderUpdate done = PollToEnd(adapter.get(), created->provider_task_id);
  ASSERT_EQ(done.state, adapters::ProviderState::kSucceeded) << done.error_message;
  EXPECT_EQ(done.provider_status, "Completed");
  ASSERT_EQ(done.clips.size(), 2u);
  // `consume: 40000` (unit undocumented) is no provider charge without a configured conversion;
  // the old adapter booked it as $40,000 (40,000,000,000 micros) here.
  EXPECT_FALSE(done.has_billing);
  EXPECT_EQ(done.charged_micros, 0);
  for (const auto& clip : done.clips) {
    EXPECT_FALSE(clip.clip_id().empty());
    EXPECT_DOUBLE_EQ(clip.duration_seconds(), kClipSeconds);
    http::Request get;
    get.url = clip.audio_url();
    absl::StatusOr<http::Response> wav = http_->Send(get);
    ASSERT_THAT(wav, IsOk());
    EXPECT_EQ(wav->status, 200);
    ASSERT_GT(wav->body.size(), 44u);
    EXPECT_EQ(wav->body.substr(0, 4), "RIFF");
  }

  adapters::SubmitRequest extend;
  extend.kind = music::v1::TASK_KIND_CONTINUATION;
  extend.provider_model = "music-u";
  extend.input.set_continue_from_clip_id(done.clips[1].clip_id());
  extend.input.set_continue_at_seconds(1);
  extend.input.set_lyrics("[Chorus] on and on");
  extend.input.set_style("folk");
  extend.input.set_title("On");
  absl::StatusOr<adapters::SubmitResult> continued = adapter->Submit(extend);
  ASSERT_THAT(continued, IsOk());
  const adapters::ProviderUpdate ext =
      PollToEnd(adapter.get(), continued->provider_task_id, music::v1::TASK_KIND_CONTINUATION);
  ASSERT_EQ(ext.state, adapters::ProviderState::kSucceeded);
  ASSERT_FALSE(ext.clips.empty());
  EXPECT_DOUBLE_EQ(ext.clips[0].duration_seconds(), 1 + 32);
  EXPECT_EQ(emulator_->stats().extend_creates, 1);
}

// CONTRACT-NOTES "PiAPI": "PiAPI also documents a `generate_lyrics` task (`input.prompt` ->
// `output.lyrics_pairs[{title, text}]`)".
TEST_F(PiapiAdapterOverHttpTest, LyricsThroughGenerateLyrics) {
  auto adapter = Adapter();
  adapters::SubmitRequest lyrics = Music("a song about the sea");
  lyrics.kind = music::v1::TASK_KIND_LYRICS;
  absl::StatusOr<adapters::SubmitResult> created = adapter->Submit(lyrics);
  ASSERT_THAT(created, IsOk());
  const adapters::ProviderUpdate done =
      PollToEnd(adapter.get(), created->provider_task_id, music::v1::TASK_KIND_LYRICS);
  ASSERT_EQ(done.state, adapters::ProviderState::kSucceeded) << done.error_message;
  ASSERT_EQ(done.lyric_variants.size(), 2u);
  EXPECT_THAT(done.lyric_variants[0].text(), ::testing::HasSubstr("a song about the sea"));
  EXPECT_FALSE(done.lyric_variants[0].title().empty());
  EXPECT_TRUE(done.clips.empty());
  EXPECT_EQ(emulator_->stats().lyrics_creates, 1);
}

TEST_F(PiapiAdapterOverHttpTest, ErrorsOverHttp) {
  absl::Status status = Adapter()->Submit(Music("x [emu:create_error=10000]")).status();
  EXPECT_THAT(status, StatusIs(absl::StatusCode::kFailedPrecondition)) << status;
  EXPECT_EQ(adapters::GetProviderErrorCode(status), "10000");
  status = Adapter("wrong-key")->Submit(Music("x")).status();
  EXPECT_THAT(status, StatusIs(absl::StatusCode::kFailedPrecondition)) << status;
  // Marked PROVIDER_AUTH (our key, not the caller's), with the HTTP status as the code.
  EXPECT_TRUE(adapters::IsProviderAuthError(status)) << status;
  EXPECT_EQ(adapters::GetProviderErrorCode(status), "401");
  EXPECT_FALSE(absl::StrContains(status.message(), "wrong-key"));
  status = Adapter()->Submit(Music("x [emu:malformed_create]")).status();
  EXPECT_THAT(status, StatusIs(absl::StatusCode::kInternal));
  EXPECT_TRUE(adapters::IsOutcomeUnknown(status));

  auto adapter = Adapter();
  absl::StatusOr<adapters::SubmitResult> failing =
      adapter->Submit(Music("x [emu:task_error=10000]"));
  ASSERT_THAT(failing, IsOk());
  const adapters::ProviderUpdate failed = PollToEnd(adapter.get(), failing->provider_task_id);
  EXPECT_EQ(failed.state, adapters::ProviderState::kFailed);
  EXPECT_EQ(failed.error_code, absl::StatusCode::kFailedPrecondition);
  EXPECT_EQ(failed.provider_error_code, "10000");
  EXPECT_EQ(failed.charged_micros, 0);

  FaultConfig faults;
  faults.create_429_count = 1;
  emulator_->SetFaults(faults);
  status = adapter->Submit(Music("x")).status();
  EXPECT_THAT(status, StatusIs(absl::StatusCode::kResourceExhausted));
  ASSERT_TRUE(adapters::GetRetryAfter(status).has_value());
  EXPECT_EQ(*adapters::GetRetryAfter(status), absl::Seconds(1));
  adapters::PollTarget missing;
  missing.kind = music::v1::TASK_KIND_MUSIC;
  missing.provider_task_id = "no-such-task";
  EXPECT_THAT(adapter->Poll(missing), StatusIs(absl::StatusCode::kNotFound));
}

TEST_F(PiapiAdapterOverHttpTest, WebhooksParseAndRepeatsAreDropped) {
  auto adapter = Adapter();
  adapters::SubmitRequest request = Music("hooks [emu:duplicate_callbacks]");
  request.callback_url = receiver_.url();
  absl::StatusOr<adapters::SubmitResult> created = adapter->Submit(request);
  ASSERT_THAT(created, IsOk());
  ASSERT_TRUE(receiver_.WaitFor(created->provider_task_id, 6));
  int parsed = 0, repeats = 0;
  adapters::ProviderState last = adapters::ProviderState::kPending;
  for (const Received& r : receiver_.For(created->provider_task_id)) {
    http::Request delivery;
    delivery.method = "POST";
    delivery.body = r.body;
    delivery.headers = {{"x-webhook-secret", r.secret}};
    absl::StatusOr<adapters::ProviderUpdate> update =
        adapter->ParseCallback(music::v1::TASK_KIND_MUSIC, delivery);
    if (absl::IsAlreadyExists(update.status())) {
      ++repeats;
      continue;
    }
    ASSERT_THAT(update, IsOk());
    EXPECT_EQ(update->provider_task_id, created->provider_task_id);
    last = update->state;
    ++parsed;
  }
  EXPECT_EQ(parsed, 3);
  EXPECT_EQ(repeats, 3);
  EXPECT_EQ(last, adapters::ProviderState::kSucceeded);
}

}  // namespace
}  // namespace music::emulator
