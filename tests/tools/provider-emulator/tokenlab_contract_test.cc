// The emulator's TokenLab contract over real HTTP (adapters/tokenlab/WIRE.md "Emulator"): the
// documented shapes, the timeline, the directives and shared faults, the request-id lookup and the
// usage records; then the TokenLab adapter against it with real libcurl traffic.
#include "tools/provider-emulator/tokenlab_contract.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <httplib.h>
#include <rapidjson/document.h>

#include <cstdint>
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
#include "adapters/http/curl_http_client.h"
#include "adapters/provider_auth.h"
#include "adapters/provider_errors.h"
#include "adapters/tokenlab/tokenlab_adapter.h"
#include "tests/testing/fake_clock.h"
#include "tests/testing/status_matchers.h"
#include "tests/testing/wait_for.h"
#include "tools/provider-emulator/core.h"
#include "tools/provider-emulator/emulator.h"

namespace music::emulator {
namespace {

using ::testing::HasSubstr;

constexpr char kKey[] = "test-tokenlab-key";
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

bool IsJson(const std::string& text) {
  rapidjson::Document doc;
  doc.Parse(text.data(), text.size());
  return !doc.HasParseError();
}

std::string Str(const rapidjson::Value& obj, const char* name) {
  if (!obj.IsObject()) return "<not an object>";
  auto it = obj.FindMember(name);
  if (it == obj.MemberEnd()) return "<missing>";
  if (it->value.IsNull()) return "<null>";
  if (!it->value.IsString()) return "<not a string>";
  return std::string(it->value.GetString(), it->value.GetStringLength());
}

std::string Body(const std::string& prompt, const std::string& user,
                 const std::string& extra = "") {
  return absl::StrCat(
      R"({"model":"suno_music","prompt":")", prompt,
      R"(","title":"Morning Static","tags":"synth-pop, upbeat","action":"MUSIC")",
      user.empty() ? "" : absl::StrCat(R"(,"user":")", user, "\""), extra, "}");
}

class TokenlabContractTest : public ::testing::Test {
 protected:
  void SetUp() override {
    EmulatorOptions options;
    options.tokenlab_api_key = kKey;
    options.task_duration = absl::Milliseconds(400);
    options.clip_seconds = kClipSeconds;
    options.faults.slow_delay = absl::Milliseconds(600);
    emulator_ = std::make_unique<ProviderEmulator>(options);
    ASSERT_THAT(emulator_->Start(), IsOk());
    client_ = std::make_unique<httplib::Client>("127.0.0.1", emulator_->port());
    client_->set_read_timeout(5, 0);
    headers_ = {{"Authorization", absl::StrCat("Bearer ", kKey)}};
  }
  void TearDown() override { emulator_->Stop(); }

  httplib::Result Create(const std::string& body) {
    return client_->Post("/tokenlab/v1/music/generations", headers_, body, "application/json");
  }
  httplib::Result Get(const std::string& path) { return client_->Get(path.c_str(), headers_); }

  // Creates a task; returns its id (fails the test on a non-200).
  std::string CreateOk(const std::string& body) {
    auto res = Create(body);
    EXPECT_TRUE(res) << "no answer";
    if (!res) return "";
    EXPECT_EQ(res->status, 200) << res->body;
    rapidjson::Document doc = ParseJson(res->body);
    return doc.IsObject() ? Str(doc, "id") : "";
  }

  // Polls until the status is terminal; returns the last body.
  std::string PollUntilTerminal(const std::string& id) {
    std::string body;
    EXPECT_TRUE(WaitUntil([&] {
      auto res = Get(absl::StrCat("/tokenlab/v1/tasks/", id));
      if (!res || res->status != 200) return false;
      body = res->body;
      rapidjson::Document doc = ParseJson(body);
      const std::string status = Str(doc, "status");
      return status == "completed" || status == "failed";
    }));
    return body;
  }

  std::unique_ptr<ProviderEmulator> emulator_;
  std::unique_ptr<httplib::Client> client_;
  httplib::Headers headers_;
};

TEST_F(TokenlabContractTest, RequiresTheBearerKey) {
  auto none = client_->Post("/tokenlab/v1/music/generations", Body("x", "r"), "application/json");
  ASSERT_TRUE(none);
  EXPECT_EQ(none->status, 401);
  EXPECT_EQ(Str(ParseJson(none->body)["error"], "code"), "invalid_api_key");
  auto wrong = client_->Get("/tokenlab/v1/tasks/ldtask_1", {{"Authorization", "Bearer nope"}});
  ASSERT_TRUE(wrong);
  EXPECT_EQ(wrong->status, 401);
  EXPECT_EQ(emulator_->stats().unauthorized, 2);
  EXPECT_EQ(emulator_->TaskCount(), 0);
}

TEST_F(TokenlabContractTest, CreateAnswerHasTheDocumentedShape) {
  auto res = Create(Body("An upbeat synth-pop track", "req-1"));
  ASSERT_TRUE(res);
  ASSERT_EQ(res->status, 200) << res->body;
  rapidjson::Document doc = ParseJson(res->body);
  const std::string id = Str(doc, "id");
  EXPECT_TRUE(absl::StartsWith(id, "ldtask_")) << id;
  EXPECT_EQ(Str(doc, "task_id"), id);
  EXPECT_EQ(res->get_header_value("X-Task-ID"), id);
  const std::string btx = res->get_header_value("X-Billing-Transaction-ID");
  EXPECT_FALSE(btx.empty());
  EXPECT_EQ(Str(doc, "billing_transaction_id"), btx);
  EXPECT_EQ(Str(doc, "status"), "pending");
  EXPECT_EQ(Str(doc, "model"), "suno_music");
  // TokenLab assigns the request id (CONTRACT-NOTES: "it is the identifier TokenLab assigns").
  EXPECT_TRUE(absl::StartsWith(Str(doc, "request_id"), "req_")) << Str(doc, "request_id");
  EXPECT_EQ(Str(doc, "poll_url"), absl::StrCat(emulator_->base_url(), "/tokenlab/v1/tasks/", id));
  EXPECT_EQ(emulator_->TaskCount(), 1);
  EXPECT_EQ(emulator_->stats().creates_accepted, 1);
  EXPECT_EQ(emulator_->stats().generate_creates, 1);
}

TEST_F(TokenlabContractTest, MusicTimelineEndsWithRealAudio) {
  const std::string id = CreateOk(Body("calm piano", "req-t"));
  ASSERT_FALSE(id.empty());
  std::vector<std::string> seen;
  std::string final_body;
  ASSERT_TRUE(WaitUntil([&] {
    auto res = Get(absl::StrCat("/tokenlab/v1/tasks/", id));
    if (!res || res->status != 200) return false;
    EXPECT_EQ(res->get_header_value("X-Task-ID"), id);
    EXPECT_FALSE(res->get_header_value("X-Billing-Transaction-ID").empty());
    rapidjson::Document doc = ParseJson(res->body);
    const std::string status = Str(doc, "status");
    if (seen.empty() || seen.back() != status) seen.push_back(status);
    final_body = res->body;
    return status == "completed";
  }));
  EXPECT_EQ(seen.front(), "pending");
  EXPECT_THAT(seen, ::testing::Contains("processing"));
  rapidjson::Document doc = ParseJson(final_body);
  EXPECT_EQ(doc["progress"].GetInt(), 100);
  const std::string audio = Str(doc, "audio_url");
  EXPECT_TRUE(absl::StartsWith(audio, absl::StrCat(emulator_->base_url(), "/audio/"))) << audio;
  EXPECT_TRUE(absl::EndsWith(Str(doc, "video_url"), ".mp4"));
  EXPECT_EQ(Str(doc, "title"), "Morning Static");
  EXPECT_EQ(Str(doc, "tags"), "synth-pop, upbeat");
  EXPECT_THAT(Str(doc, "lyrics"), HasSubstr("calm piano"));
  EXPECT_DOUBLE_EQ(doc["duration"].GetDouble(), kClipSeconds);
  EXPECT_TRUE(absl::StartsWith(Str(doc, "clip_id"), "clip_"));
  EXPECT_EQ(Str(doc["billing"], "charged"), "0.10");
  EXPECT_EQ(Str(doc["billing"], "currency"), "USD");

  auto wav = client_->Get(audio.substr(emulator_->base_url().size()).c_str());
  ASSERT_TRUE(wav);
  EXPECT_EQ(wav->status, 200);
  ASSERT_GT(wav->body.size(), 44u);
  EXPECT_EQ(wav->body.substr(0, 4), "RIFF");
  EXPECT_EQ(wav->body.substr(8, 4), "WAVE");
}

TEST_F(TokenlabContractTest, LyricsTask) {
  const std::string id =
      CreateOk(R"({"model":"suno_music","prompt":"the sea","action":"LYRICS","user":"l1"})");
  rapidjson::Document doc = ParseJson(PollUntilTerminal(id));
  EXPECT_EQ(Str(doc, "status"), "completed");
  EXPECT_EQ(Str(doc, "action"), "LYRICS");
  EXPECT_THAT(Str(doc, "lyrics"), HasSubstr("the sea"));
  EXPECT_FALSE(doc.HasMember("audio_url"));
  EXPECT_EQ(emulator_->stats().lyrics_creates, 1);
}

TEST_F(TokenlabContractTest, ContinuationOfACompletedClip) {
  const std::string source = CreateOk(Body("folk", "s1"));
  rapidjson::Document done = ParseJson(PollUntilTerminal(source));
  const std::string clip = Str(done, "clip_id");
  auto bad = Create(R"({"model":"suno_music","continue_clip_id":"clip_nope","user":"c0"})");
  ASSERT_TRUE(bad);
  EXPECT_EQ(bad->status, 400);
  const std::string id = CreateOk(absl::StrCat(R"({"model":"suno_music","continue_clip_id":")",
                                               clip, R"(","continue_at":1,"user":"c1"})"));
  rapidjson::Document doc = ParseJson(PollUntilTerminal(id));
  EXPECT_EQ(Str(doc, "status"), "completed");
  EXPECT_EQ(Str(doc, "continue_clip_id"), clip);
  EXPECT_NE(Str(doc, "clip_id"), clip);
  EXPECT_EQ(emulator_->stats().extend_creates, 1);
}

TEST_F(TokenlabContractTest, ValidationAnswers400) {
  struct Case {
    std::string body;
    std::string message;
  };
  const std::vector<Case> cases = {
      {Body("x", "r", R"(,"negative_tags":"metal")"), "Unsupported parameter: 'negative_tags'"},
      // CONTRACT-NOTES "TokenLab": "`request_id` is NOT a request field ... Undocumented fields
      // get "Unsupported parameter"" (seed 000 "Common Errors"). The old adapter sent it.
      {Body("x", "r", R"(,"request_id":"tsk_1.tokenlab")"), "Unsupported parameter: 'request_id'"},
      {R"({"prompt":"x"})", "model is required"},
      {R"({"model":"udio","prompt":"x"})", "Unknown music model"},
      {R"({"model":"suno_music","prompt":"x","action":"VIDEO"})", "action"},
      {R"({"model":"suno_music","action":"MUSIC"})", "prompt is required"},
      {R"({"model":"suno_music","prompt":5})", "prompt must be a string"},
      {"not json", "JSON object"},
  };
  for (const Case& c : cases) {
    auto res = Create(c.body);
    ASSERT_TRUE(res);
    EXPECT_EQ(res->status, 400) << c.body;
    EXPECT_THAT(Str(ParseJson(res->body)["error"], "message"), HasSubstr(c.message)) << c.body;
  }
  EXPECT_EQ(emulator_->TaskCount(), 0);
  EXPECT_EQ(emulator_->stats().creates_invalid, static_cast<int64_t>(cases.size()));
}

TEST_F(TokenlabContractTest, CreateErrorDirectives) {
  auto paid = Create(Body("x [emu:create_error=402]", "p1"));
  ASSERT_TRUE(paid);
  EXPECT_EQ(paid->status, 402);
  EXPECT_EQ(Str(ParseJson(paid->body)["error"], "code"), "insufficient_balance");
  auto limit = Create(Body("x [emu:create_error=spend_limit]", "p2"));
  ASSERT_TRUE(limit);
  EXPECT_EQ(limit->status, 402);
  EXPECT_EQ(Str(ParseJson(limit->body)["error"], "code"), "spend_limit_exceeded");
  EXPECT_EQ(emulator_->TaskCount(), 0);

  // 429 once per `user`: the retry goes through.
  auto limited = Create(Body("x [emu:create_error=429]", "r429"));
  ASSERT_TRUE(limited);
  EXPECT_EQ(limited->status, 429);
  EXPECT_EQ(limited->get_header_value("Retry-After"), "1");
  EXPECT_EQ(Str(ParseJson(limited->body)["error"], "code"), "rate_limit_exceeded");
  auto retried = Create(Body("x [emu:create_error=429]", "r429"));
  ASSERT_TRUE(retried);
  EXPECT_EQ(retried->status, 200);
  EXPECT_EQ(emulator_->TaskCount(), 1);
  EXPECT_EQ(emulator_->stats().creates_rate_limited, 1);
}

TEST_F(TokenlabContractTest, SharedCreateFaults) {
  FaultConfig faults;
  faults.create_429_count = 1;
  faults.create_500_count = 1;
  faults.slow_delay = absl::Milliseconds(300);
  emulator_->SetFaults(faults);
  auto limited = Create(Body("x", "f1"));
  ASSERT_TRUE(limited);
  EXPECT_EQ(limited->status, 429);
  EXPECT_EQ(limited->get_header_value("Retry-After"), "1");
  auto broken = Create(Body("x", "f1"));
  ASSERT_TRUE(broken);
  EXPECT_EQ(broken->status, 500);
  EXPECT_EQ(emulator_->TaskCount(), 0);

  // Malformed: the task exists, the answer is a truncated 200 (the headers still name it).
  auto malformed = Create(Body("x [emu:malformed_create]", "f2"));
  ASSERT_TRUE(malformed);
  EXPECT_EQ(malformed->status, 200);
  EXPECT_FALSE(IsJson(malformed->body));
  EXPECT_EQ(emulator_->TaskCount(), 1);
  EXPECT_TRUE(absl::StartsWith(malformed->get_header_value("X-Task-ID"), "ldtask_"));

  const absl::Time start = RealClock::Get()->Now();
  auto slow = Create(Body("x [emu:slow_create]", "f3"));
  ASSERT_TRUE(slow);
  EXPECT_EQ(slow->status, 200);
  EXPECT_GE(RealClock::Get()->Now() - start, absl::Milliseconds(290));
  const EmulatorStats stats = emulator_->stats();
  EXPECT_EQ(stats.creates_rate_limited, 1);
  EXPECT_EQ(stats.creates_server_error, 1);
  EXPECT_EQ(stats.creates_malformed, 1);
  EXPECT_EQ(stats.creates_slow, 1);
}

TEST_F(TokenlabContractTest, PollFaultsAndUnknownTasks) {
  const std::string id = CreateOk(Body("x", "q1"));
  FaultConfig faults;
  faults.poll_500_rate = 1;
  emulator_->SetFaults(faults);
  auto broken = Get(absl::StrCat("/tokenlab/v1/tasks/", id));
  ASSERT_TRUE(broken);
  EXPECT_EQ(broken->status, 500);
  faults = FaultConfig{};
  faults.poll_malformed_rate = 1;
  emulator_->SetFaults(faults);
  auto malformed = Get(absl::StrCat("/tokenlab/v1/tasks/", id));
  ASSERT_TRUE(malformed);
  EXPECT_EQ(malformed->status, 200);
  EXPECT_FALSE(IsJson(malformed->body));
  emulator_->SetFaults(FaultConfig{});
  auto missing = Get("/tokenlab/v1/tasks/ldtask_missing");
  ASSERT_TRUE(missing);
  EXPECT_EQ(missing->status, 404);
  EXPECT_EQ(Str(ParseJson(missing->body)["error"], "code"), "task_not_found");

  const std::string once = CreateOk(Body("x [emu:malformed_poll]", "q2"));
  auto first = Get(absl::StrCat("/tokenlab/v1/tasks/", once));
  auto second = Get(absl::StrCat("/tokenlab/v1/tasks/", once));
  ASSERT_TRUE(first && second);
  EXPECT_FALSE(IsJson(first->body));
  EXPECT_TRUE(IsJson(second->body));
  const EmulatorStats stats = emulator_->stats();
  EXPECT_EQ(stats.polls_server_error, 1);
  EXPECT_EQ(stats.polls_malformed, 2);
  EXPECT_EQ(stats.polls_not_found, 1);
}

TEST_F(TokenlabContractTest, SuccessWithoutAudio) {
  FaultConfig faults;
  faults.success_without_audio_rate = 1;
  emulator_->SetFaults(faults);
  const std::string id = CreateOk(Body("x", "n1"));
  rapidjson::Document doc = ParseJson(PollUntilTerminal(id));
  EXPECT_EQ(Str(doc, "status"), "completed");
  EXPECT_EQ(Str(doc, "audio_url"), "<null>");
  auto audio = client_->Get(absl::StrCat("/audio/", Str(doc, "clip_id"), ".wav").c_str());
  ASSERT_TRUE(audio);
  EXPECT_EQ(audio->status, 404);
}

TEST_F(TokenlabContractTest, TaskErrorsAndCancellation) {
  const std::string failed = CreateOk(Body("x [emu:task_error=generation_failed]", "e1"));
  rapidjson::Document f = ParseJson(PollUntilTerminal(failed));
  EXPECT_EQ(Str(f, "status"), "failed");
  EXPECT_EQ(Str(f["error"], "code"), "generation_failed");
  EXPECT_FALSE(f.HasMember("cancelled"));
  EXPECT_EQ(Str(f["billing"], "refunded"), "0.10");

  const std::string cancelled = CreateOk(Body("x [emu:task_error=cancelled]", "e2"));
  rapidjson::Document c = ParseJson(PollUntilTerminal(cancelled));
  EXPECT_EQ(Str(c, "status"), "failed");
  ASSERT_TRUE(c.HasMember("cancelled"));
  EXPECT_TRUE(c["cancelled"].GetBool());
  EXPECT_EQ(Str(c, "cancellation_status"), "cancelled");
}

// CONTRACT-NOTES "TokenLab": "No idempotency header and no lookup of a task by `request_id` is
// documented": the list/lookup route the old adapter used answers 404.
TEST_F(TokenlabContractTest, NoLookupRoute) {
  CreateOk(Body("x", "look-1"));
  for (const char* path : {"/tokenlab/v1/tasks?request_id=look-1", "/tokenlab/v1/tasks"}) {
    auto found = Get(path);
    ASSERT_TRUE(found);
    EXPECT_EQ(found->status, 404) << path;
  }
  EXPECT_EQ(emulator_->stats().undocumented_routes, 2);
}

// CONTRACT-NOTES "TokenLab": `GET /v1/models` -> `{object: "list", data: [{id, object: "model",
// created, owned_by, lemondata: {category, pricing_unit, capability_flags,
// supported_operations, ...}}]}`.
TEST_F(TokenlabContractTest, ModelsHaveTheDocumentedShape) {
  auto models = Get("/tokenlab/v1/models?recommended_for=music");
  ASSERT_TRUE(models);
  rapidjson::Document m = ParseJson(models->body);
  EXPECT_EQ(Str(m, "object"), "list");
  ASSERT_EQ(m["data"].Size(), 1u);
  const rapidjson::Value& model = m["data"][0];
  EXPECT_EQ(Str(model, "id"), "suno_music");
  EXPECT_EQ(Str(model, "object"), "model");
  EXPECT_FALSE(Str(model, "owned_by").empty());
  ASSERT_TRUE(model.HasMember("created") && model["created"].IsInt64());
  ASSERT_TRUE(model.HasMember("lemondata") && model["lemondata"].IsObject());
  const rapidjson::Value& lemondata = model["lemondata"];
  EXPECT_EQ(Str(lemondata, "category"), "music");
  EXPECT_FALSE(Str(lemondata, "pricing_unit").empty());
  ASSERT_TRUE(lemondata["capability_flags"].IsArray());
  ASSERT_TRUE(lemondata["supported_operations"].IsArray());
  std::vector<std::string> ops;
  for (const auto& op : lemondata["supported_operations"].GetArray()) ops.push_back(op.GetString());
  EXPECT_THAT(ops, ::testing::Contains("lyrics"));
  // Only the documented members: no invented `capabilities` / `pricing`.
  EXPECT_FALSE(model.HasMember("capabilities"));
  EXPECT_FALSE(model.HasMember("pricing"));
}

// ---------------------------------------------------------------------------------------------
// Usage records: the contract on its own server (ProviderEmulator does not expose them).

class TokenlabUsageTest : public ::testing::Test {
 protected:
  void SetUp() override {
    core_.options.tokenlab_api_key = kKey;
    core_.options.task_duration = absl::Milliseconds(200);
    core_.options.clock = &clock_;  // tasks end when the test moves the clock
    core_.options.clip_seconds = kClipSeconds;
    core_.scheduler = &scheduler_;
    core_.faults = &faults_;
    core_.clips = &clips_;
    core_.stats = &stats_;
    core_.stopping = &stopping_;
    contract_ = NewTokenlabContract(&core_);
    contract_->RegisterRoutes(&server_);
    const int port = server_.bind_to_any_port("127.0.0.1");
    ASSERT_GT(port, 0);
    core_.public_base_url = absl::StrCat("http://127.0.0.1:", port);
    listener_ = std::thread([this] { server_.listen_after_bind(); });
    ASSERT_TRUE(WaitUntil([this] { return server_.is_running(); }));
    client_ = std::make_unique<httplib::Client>("127.0.0.1", port);
  }
  void TearDown() override {
    stopping_.Notify();
    server_.stop();
    if (listener_.joinable()) listener_.join();
  }

  std::string Create(const std::string& prompt, const std::string& request_id) {
    auto res = client_->Post("/tokenlab/v1/music/generations",
                             {{"Authorization", absl::StrCat("Bearer ", kKey)}},
                             Body(prompt, request_id), "application/json");
    EXPECT_TRUE(res && res->status == 200);
    return res ? res->get_header_value("X-Task-ID") : "";
  }

  FakeClock clock_;
  EmulatorCore core_;
  Scheduler scheduler_{&clock_};
  FaultInjector faults_{FaultConfig{}};
  ClipRegistry clips_;
  StatsRecorder stats_;
  absl::Notification stopping_;
  httplib::Server server_;
  std::thread listener_;
  std::unique_ptr<ProviderContract> contract_;
  std::unique_ptr<httplib::Client> client_;
};

TEST_F(TokenlabUsageTest, ChargesEveryTaskAndRefundsFailedAndCancelled) {
  EXPECT_EQ(contract_->provider(), "tokenlab");
  const std::string ok = Create("fine", "u1");
  const std::string failed = Create("x [emu:task_error=generation_failed]", "u2");
  const std::string cancelled = Create("x [emu:task_error=cancelled]", "u3");
  EXPECT_EQ(contract_->TaskCount(), 3);
  clock_.Advance(absl::Milliseconds(300));  // every task past its end (200 ms)
  std::vector<emulator::UsageRecord> records = contract_->UsageRecords();
  ASSERT_EQ(records.size(), 5u);
  int charges = 0;
  int refunds = 0;
  std::vector<std::string> ids;
  for (const emulator::UsageRecord& r : records) {
    EXPECT_EQ(r.provider, "tokenlab");
    EXPECT_EQ(r.model, "suno_music");
    EXPECT_EQ(r.endpoint, "/v1/music/generations");
    EXPECT_EQ(r.amount_micros, 100000);
    EXPECT_EQ(r.currency, emulator::UsageCurrency::kUsd);
    EXPECT_TRUE(absl::StartsWith(r.provider_billing_transaction_id, "btx_"));
    EXPECT_FALSE(r.request_id.empty());
    ids.push_back(r.usage_record_id);
    if (r.kind == emulator::UsageKind::kCharge) {
      ++charges;
    } else {
      ++refunds;
      EXPECT_TRUE(r.provider_task_id == failed || r.provider_task_id == cancelled);
      EXPECT_NE(r.provider_task_id, ok);
    }
  }
  EXPECT_EQ(charges, 3);
  EXPECT_EQ(refunds, 2);
  std::sort(ids.begin(), ids.end());
  EXPECT_EQ(std::unique(ids.begin(), ids.end()), ids.end()) << "usage_record_id must be unique";
  // Stable: the same records on every export.
  std::vector<emulator::UsageRecord> again = contract_->UsageRecords();
  ASSERT_EQ(again.size(), records.size());
  for (size_t i = 0; i < again.size(); ++i) {
    EXPECT_EQ(again[i].usage_record_id, records[i].usage_record_id);
    EXPECT_EQ(again[i].time, records[i].time);
  }
}

// ---------------------------------------------------------------------------------------------
// The adapter against the emulator, real libcurl traffic.

class TokenlabAdapterEmulatorTest : public TokenlabContractTest {
 protected:
  std::unique_ptr<adapters::ProviderAdapter> Adapter(absl::Duration timeout = absl::Seconds(5)) {
    adapters::tokenlab::TokenlabOptions options;
    options.base_url = absl::StrCat(emulator_->base_url(), "/tokenlab");
    options.api_key = kKey;
    options.request_timeout = timeout;
    return adapters::tokenlab::NewTokenlabAdapter(options, http_);
  }

  static adapters::SubmitRequest Music(const std::string& prompt, const std::string& key) {
    adapters::SubmitRequest request;
    request.kind = music::v1::TASK_KIND_MUSIC;
    request.task_id = key;  // sent as `user`
    request.provider_model = "suno_music";
    request.input.set_prompt(prompt);
    request.input.set_title("Morning Static");
    request.input.set_style("synth-pop");
    request.idempotency_key = absl::StrCat(key, ".tokenlab");
    return request;
  }

  adapters::ProviderUpdate PollToEnd(adapters::ProviderAdapter* adapter,
                                     const adapters::SubmitResult& submitted,
                                     music::v1::TaskKind kind = music::v1::TASK_KIND_MUSIC) {
    adapters::PollTarget target;
    target.kind = kind;
    target.provider_task_id = submitted.provider_task_id;
    target.poll_url = submitted.poll_url;
    adapters::ProviderUpdate last;
    EXPECT_TRUE(WaitUntil([&] {
      absl::StatusOr<adapters::ProviderUpdate> update = adapter->Poll(target);
      if (!update.ok()) return false;
      last = *update;
      return last.state != adapters::ProviderState::kPending &&
             last.state != adapters::ProviderState::kRunning;
    }));
    return last;
  }

  std::shared_ptr<http::HttpClient> http_ = http::NewCurlHttpClient({});
};

TEST_F(TokenlabAdapterEmulatorTest, CreatePollDownload) {
  auto adapter = Adapter();
  absl::StatusOr<adapters::SubmitResult> submitted = adapter->Submit(Music("calm piano", "k1"));
  ASSERT_THAT(submitted, IsOk());
  EXPECT_TRUE(absl::StartsWith(submitted->provider_task_id, "ldtask_"));
  EXPECT_EQ(submitted->poll_url, absl::StrCat(emulator_->base_url(), "/tokenlab/v1/tasks/",
                                              submitted->provider_task_id));
  EXPECT_FALSE(submitted->provider_billing_transaction_id.empty());
  EXPECT_EQ(submitted->endpoint, "/v1/music/generations");

  adapters::ProviderUpdate done = PollToEnd(adapter.get(), *submitted);
  ASSERT_EQ(done.state, adapters::ProviderState::kSucceeded) << done.error_message;
  EXPECT_EQ(done.provider_billing_transaction_id, submitted->provider_billing_transaction_id);
  EXPECT_TRUE(done.has_billing);
  EXPECT_EQ(done.charged_micros, 100000);
  ASSERT_EQ(done.clips.size(), 1u);
  const music::v1::Clip& clip = done.clips[0];
  EXPECT_FALSE(clip.video_url().empty());
  EXPECT_EQ(clip.title(), "Morning Static");
  EXPECT_FALSE(clip.lyrics().empty());
  http::Request get;
  get.url = clip.audio_url();
  absl::StatusOr<http::Response> wav = http_->Send(get);
  ASSERT_THAT(wav, IsOk());
  EXPECT_EQ(wav->status, 200);
  ASSERT_GT(wav->body.size(), 44u);
  EXPECT_EQ(wav->body.substr(0, 4), "RIFF");
  EXPECT_GE(emulator_->stats().polls, 1);
}

TEST_F(TokenlabAdapterEmulatorTest, LyricsAndCancelled) {
  auto adapter = Adapter();
  adapters::SubmitRequest lyrics = Music("the sea", "k2");
  lyrics.kind = music::v1::TASK_KIND_LYRICS;
  auto submitted = adapter->Submit(lyrics);
  ASSERT_THAT(submitted, IsOk());
  adapters::ProviderUpdate done = PollToEnd(adapter.get(), *submitted, music::v1::TASK_KIND_LYRICS);
  EXPECT_EQ(done.state, adapters::ProviderState::kSucceeded);
  ASSERT_EQ(done.lyric_variants.size(), 1u);
  EXPECT_THAT(done.lyric_variants[0].text(), HasSubstr("the sea"));

  auto cancelled = adapter->Submit(Music("x [emu:task_error=cancelled]", "k3"));
  ASSERT_THAT(cancelled, IsOk());
  EXPECT_EQ(PollToEnd(adapter.get(), *cancelled).state, adapters::ProviderState::kCanceled);
}

TEST_F(TokenlabAdapterEmulatorTest, ErrorsMapToTheTable) {
  auto adapter = Adapter();
  absl::Status paid = adapter->Submit(Music("x [emu:create_error=402]", "k4")).status();
  EXPECT_THAT(paid, StatusIs(absl::StatusCode::kFailedPrecondition)) << paid;
  EXPECT_EQ(adapters::GetProviderErrorCode(paid), "insufficient_balance");
  absl::Status limited = adapter->Submit(Music("x [emu:create_error=429]", "k5")).status();
  EXPECT_THAT(limited, StatusIs(absl::StatusCode::kResourceExhausted)) << limited;
  EXPECT_EQ(adapters::GetRetryAfter(limited), absl::Seconds(1));
  EXPECT_THAT(adapter->Submit(Music("x [emu:create_error=429]", "k5")), IsOk());
  EXPECT_EQ(emulator_->TaskCount(), 1);
}

// The adapter's create is accepted as it is: only documented members (the old one sent
// `request_id` and every create was refused 400 "Unsupported parameter: 'request_id'"). A lost
// answer stays outcome-unknown; nothing looks it up (no documented route).
TEST_F(TokenlabAdapterEmulatorTest, LostCreateAnswersAreNotLookedUp) {
  auto adapter = Adapter(absl::Milliseconds(250));
  EXPECT_EQ(adapter->resubmit_policy(), adapters::ResubmitPolicy::kAtMostOnce);
  absl::Status lost = adapter->Submit(Music("x [emu:malformed_create]", "k6")).status();
  EXPECT_THAT(lost, StatusIs(absl::StatusCode::kInternal)) << lost;
  EXPECT_TRUE(adapters::IsOutcomeUnknown(lost));
  absl::Status timed_out = adapter->Submit(Music("x [emu:slow_create]", "k7")).status();
  EXPECT_THAT(timed_out, StatusIs(absl::StatusCode::kDeadlineExceeded)) << timed_out;
  EXPECT_TRUE(adapters::IsOutcomeUnknown(timed_out));
  EXPECT_THAT(adapter->FindByRequestId(Music("x", "k6")),
              StatusIs(absl::StatusCode::kUnimplemented));
  EXPECT_EQ(emulator_->TaskCount(), 2);
  EXPECT_EQ(emulator_->stats().undocumented_routes, 0);
  EXPECT_EQ(emulator_->stats().creates_invalid, 0);
}

TEST_F(TokenlabAdapterEmulatorTest, FetchModels) {
  auto adapter = Adapter();
  EXPECT_FALSE(adapter->Models()[0].capabilities().lyrics());
  auto models = adapter->FetchModels();
  ASSERT_THAT(models, IsOk());
  ASSERT_EQ(models->size(), 1u);
  EXPECT_EQ((*models)[0].provider_model(), "suno_music");
  // The emulated list documents lyric generation for suno_music (`supported_operations`).
  EXPECT_TRUE((*models)[0].capabilities().lyrics());
  EXPECT_EQ((*models)[0].price().amount_micros(), 100000);
  EXPECT_EQ((*models)[0].price().currency(), "USD");
}

TEST_F(TokenlabAdapterEmulatorTest, WrongKeyIsProviderAuth) {
  adapters::tokenlab::TokenlabOptions options;
  options.base_url = absl::StrCat(emulator_->base_url(), "/tokenlab");
  options.api_key = "wrong-key-123";
  auto adapter = adapters::tokenlab::NewTokenlabAdapter(options, http_);
  absl::Status status = adapter->Submit(Music("x", "k8")).status();
  EXPECT_THAT(status, StatusIs(absl::StatusCode::kFailedPrecondition));
  // Marked PROVIDER_AUTH (our key, not the caller's), with the envelope's code.
  EXPECT_TRUE(adapters::IsProviderAuthError(status)) << status;
  EXPECT_EQ(adapters::GetProviderErrorCode(status), "invalid_api_key");
  EXPECT_THAT(std::string(status.message()), ::testing::Not(HasSubstr("wrong-key-123")));
}

}  // namespace
}  // namespace music::emulator
