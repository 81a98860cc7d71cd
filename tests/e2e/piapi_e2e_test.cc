// PiAPI Udio music-u through the whole service: gRPC in, real HTTP (libcurl) to the provider
// emulator's PiAPI contract, webhooks back to the server's callback port, SQLite underneath.
#include <httplib.h>
#include <rapidjson/document.h>

#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "adapters/piapi/piapi_adapter.h"
#include "tests/e2e/e2e_fixture.h"

namespace music::e2e {
namespace {

constexpr char kPiapiKey[] = "e2e-piapi-key";
constexpr char kWebhookSecret[] = "e2e-piapi-webhook-secret";

class PiapiE2eTest : public E2eTest {
 protected:
  void ConfigureEmulator(emulator::EmulatorOptions& options) override {
    options.piapi_api_key = kPiapiKey;
  }

  // kie.ai (the base) stays registered; PiAPI is added and is the default model.
  void AddProviders(std::shared_ptr<http::HttpClient> client, bool with_key,
                    service::ProviderRegistry* registry,
                    std::vector<music::v1::Model>* models) override {
    E2eTest::AddProviders(client, with_key, registry, models);
    adapters::piapi::PiapiOptions options;
    options.base_url = emulator_->base_url();
    options.api_key = with_key ? kPiapiKey : "";
    options.webhook_secret = kWebhookSecret;
    options.request_timeout = absl::Seconds(1);
    AddAdapter(adapters::piapi::NewPiapiAdapter(options, client), with_key, registry, models);
  }

  std::string DefaultModel() override { return "udio-music-u"; }

  music::v1::Task Create(const music::v1::CreateMusicRequest& req) {
    music::v1::CreateMusicResponse resp;
    grpc::ClientContext ctx;
    grpc::Status s = stub_->CreateMusic(&ctx, req, &resp);
    EXPECT_TRUE(s.ok()) << s.error_message();
    return resp.task();
  }

  // The provider task id, once the service has it.
  std::string WaitProviderTaskId(const std::string& task_id) {
    std::string id;
    WaitFor(
        [&] {
          id = GetTask(task_id).provider_task_id();
          return !id.empty();
        },
        absl::Seconds(3), "the provider task id");
    return id;
  }

  // The emulator's own view of a PiAPI task (GET /api/v1/task/{id}): what the adapter sent.
  rapidjson::Document EmulatorTask(const std::string& provider_task_id) {
    httplib::Client client(emulator_->base_url());
    httplib::Result res = client.Get(absl::StrCat("/api/v1/task/", provider_task_id).c_str(),
                                     httplib::Headers{{"x-api-key", kPiapiKey}});
    rapidjson::Document doc;
    EXPECT_TRUE(res);
    if (!res) return doc;
    EXPECT_EQ(res->status, 200) << res->body;
    doc.Parse(res->body.data(), res->body.size());
    EXPECT_FALSE(doc.HasParseError()) << res->body;
    return doc;
  }

  static std::string Str(const rapidjson::Value& obj, const char* name) {
    if (!obj.IsObject()) return "<not an object>";
    auto it = obj.FindMember(name);
    if (it == obj.MemberEnd() || !it->value.IsString()) return "<missing>";
    return it->value.GetString();
  }

  void ExpectPlayable(const music::v1::Task& done) {
    ASSERT_EQ(done.state(), music::v1::TASK_STATE_SUCCEEDED) << done.DebugString();
    EXPECT_EQ(done.provider(), "piapi");
    ASSERT_EQ(done.clips_size(), 2);
    for (const auto& clip : done.clips()) {
      EXPECT_FALSE(clip.clip_id().empty());
      EXPECT_TRUE(absl::StartsWith(clip.audio_url(), emulator_->base_url())) << clip.audio_url();
      EXPECT_GT(clip.duration_seconds(), 0);
    }
    http::Request get;
    get.url = done.clips(1).audio_url();
    auto audio = http::NewCurlHttpClient({})->Send(get);
    ASSERT_TRUE(audio.ok()) << audio.status();
    EXPECT_EQ(audio->status, 200);
    ASSERT_GT(audio->body.size(), 44u);
    EXPECT_EQ(audio->body.substr(0, 4), "RIFF");
    EXPECT_EQ(audio->body.substr(8, 4), "WAVE");
  }

  /// POSTs to the task's callback URL, with its token unless `token` says otherwise.
  http::Response PostCallback(const std::string& task_id, const std::string& body,
                              const http::Headers& headers,
                              std::optional<std::string> token = std::nullopt) {
    http::Request req;
    req.method = "POST";
    const std::string t = token.value_or(CallbackTokenOf("piapi", task_id));
    req.url = absl::StrCat("http://127.0.0.1:", server_->callback_port(), "/callbacks/piapi/",
                           task_id, t.empty() ? "" : "/", t);
    req.body = body;
    req.headers = headers;
    req.headers.emplace_back("Content-Type", "application/json");
    auto resp = http::NewCurlHttpClient({})->Send(req);
    EXPECT_TRUE(resp.ok()) << resp.status();
    return resp.ok() ? *resp : http::Response{};
  }
};

TEST_F(PiapiE2eTest, SimplePromptSucceedsWithPlayableAudioAndUsdBilling) {
  const auto created = CreateMusic("night breeze, piano");
  EXPECT_EQ(created.provider(), "piapi");
  EXPECT_EQ(created.model(), "udio-music-u");
  const auto done = WaitDone(created.task_id());
  ExpectPlayable(done);
  // The emulator reports `consume: 40000` in PiAPI's undocumented unit: no conversion is
  // configured, so no provider charge is booked (the old adapter booked $40,000); the $0.05 price
  // is what the task costs.
  EXPECT_EQ(done.billing().provider_charged_micros(), 0);
  EXPECT_EQ(done.billing().charged_micros(), 50000);
  rapidjson::Document sent = EmulatorTask(done.provider_task_id());
  EXPECT_EQ(Str(sent["data"]["input"], "lyrics_type"), "generate");
  EXPECT_EQ(Str(sent["data"]["input"], "gpt_description_prompt"), "night breeze, piano");
  EXPECT_EQ(sent["data"]["input"]["seed"].GetDouble(), -1);
}

// CONTRACT-NOTES "PiAPI": "PiAPI also documents a `generate_lyrics` task (`input.prompt` ->
// `output.lyrics_pairs[{title, text}]`)": CreateLyrics on the PiAPI model runs one.
TEST_F(PiapiE2eTest, CreateLyricsRunsAGenerateLyricsTask) {
  music::v1::CreateLyricsRequest req;
  req.set_model("udio-music-u");
  req.set_prompt("a song about the sea");
  music::v1::CreateLyricsResponse resp;
  grpc::ClientContext ctx;
  grpc::Status s = stub_->CreateLyrics(&ctx, req, &resp);
  ASSERT_TRUE(s.ok()) << s.error_message();
  EXPECT_EQ(resp.task().provider(), "piapi");
  const auto done = WaitDone(resp.task().task_id());
  ASSERT_EQ(done.state(), music::v1::TASK_STATE_SUCCEEDED) << done.DebugString();
  ASSERT_EQ(done.lyric_variants_size(), 2);
  EXPECT_TRUE(absl::StrContains(done.lyric_variants(0).text(), "a song about the sea"));
  EXPECT_EQ(done.clips_size(), 0);
  rapidjson::Document sent = EmulatorTask(done.provider_task_id());
  EXPECT_EQ(Str(sent["data"], "task_type"), "generate_lyrics");
}

TEST_F(PiapiE2eTest, CustomLyricsAreSentAsLyricsTypeUser) {
  music::v1::CreateMusicRequest req;
  req.set_lyrics("[Verse]\nIn the gentle evening air\n[Chorus]\nStars above");
  req.set_style("dream pop");
  req.set_title("Evening Air");
  const auto done = WaitDone(Create(req).task_id());
  ExpectPlayable(done);
  rapidjson::Document sent = EmulatorTask(done.provider_task_id());
  const rapidjson::Value& input = sent["data"]["input"];
  EXPECT_EQ(Str(input, "lyrics_type"), "user");
  EXPECT_EQ(Str(input, "prompt"), req.lyrics());
  EXPECT_EQ(Str(input, "gpt_description_prompt"), "dream pop");
  EXPECT_EQ(Str(input, "title"), "Evening Air");
  // CreateMusicRequest.seed is not copied into TaskInput by service/core/music_api.cc yet, so
  // the adapter's seed mapping (0 -> -1, else as given) is covered by the unit tests only.
  EXPECT_EQ(done.clips(0).title(), "Evening Air");
}

TEST_F(PiapiE2eTest, InstrumentalIsSentAsLyricsTypeInstrumental) {
  music::v1::CreateMusicRequest req;
  req.set_prompt("night breeze");
  req.set_instrumental(true);
  req.set_negative_tags("metal");
  const auto done = WaitDone(Create(req).task_id());
  ExpectPlayable(done);
  rapidjson::Document sent = EmulatorTask(done.provider_task_id());
  EXPECT_EQ(Str(sent["data"]["input"], "lyrics_type"), "instrumental");
  EXPECT_EQ(Str(sent["data"]["input"], "gpt_description_prompt"), "night breeze");
  EXPECT_EQ(Str(sent["data"]["input"], "negative_tags"), "metal");
}

TEST_F(PiapiE2eTest, ContinueClipOfASucceededTask) {
  const auto source = WaitDone(CreateMusic("an upbeat folk song").task_id());
  ASSERT_EQ(source.state(), music::v1::TASK_STATE_SUCCEEDED) << source.DebugString();
  const std::string clip_id = source.clips(1).clip_id();  // the one whose `id` was empty

  music::v1::ContinueClipRequest req;
  req.set_clip_id(clip_id);
  req.set_continue_at_seconds(2);
  req.set_lyrics("[Chorus] carry on");
  req.set_style("folk");
  req.set_title("Carry On");
  music::v1::ContinueClipResponse resp;
  grpc::ClientContext ctx;
  grpc::Status s = stub_->ContinueClip(&ctx, req, &resp);
  ASSERT_TRUE(s.ok()) << s.error_message();
  EXPECT_EQ(resp.task().kind(), music::v1::TASK_KIND_CONTINUATION);
  EXPECT_EQ(resp.task().provider(), "piapi");
  const auto done = WaitDone(resp.task().task_id());
  ASSERT_EQ(done.state(), music::v1::TASK_STATE_SUCCEEDED) << done.DebugString();
  ASSERT_GE(done.clips_size(), 1);
  EXPECT_NE(done.clips(0).clip_id(), clip_id);
  EXPECT_DOUBLE_EQ(done.clips(0).duration_seconds(), 2 + 32);  // udio32 adds 32 s
  rapidjson::Document sent = EmulatorTask(done.provider_task_id());
  EXPECT_EQ(Str(sent["data"]["input"], "continue_song_id"), clip_id);
  EXPECT_EQ(sent["data"]["input"]["continue_at"].GetDouble(), 2);
  EXPECT_EQ(Str(sent["data"]["input"], "lyrics_type"), "user");
  EXPECT_EQ(Str(sent["data"]["input"], "prompt"), "[Chorus] carry on");
  EXPECT_EQ(Str(sent["data"]["input"], "gpt_description_prompt"), "folk");
  EXPECT_EQ(emulator_->stats().extend_creates, 1);
}

// Seed 003 "Udio Song Extend Example" through the real server: a description
// (`gpt_description_prompt` "winter snow, Folk music", `lyrics_type` "generate") and
// `continue_at: 0`. The model declares CONTINUATION_STYLE_DESCRIPTION_OR_LYRICS in ListModels, so
// validation lets it through (the old kie.ai-only rule answered INVALID_ARGUMENT "prompt: must
// be empty when continue_at_seconds is 0"), and the emulator's PiAPI contract accepts the body.
TEST_F(PiapiE2eTest, ContinueClipSendsSeed003ExtendExample) {
  music::v1::ListModelsResponse models;
  {
    grpc::ClientContext ctx;
    ASSERT_TRUE(stub_->ListModels(&ctx, {}, &models).ok());
  }
  const music::v1::Model* udio = nullptr;
  for (const music::v1::Model& m : models.models()) {
    if (m.name() == "udio-music-u") udio = &m;
  }
  ASSERT_NE(udio, nullptr);
  EXPECT_EQ(udio->capabilities().continuation_style(),
            music::v1::CONTINUATION_STYLE_DESCRIPTION_OR_LYRICS);

  const auto source = WaitDone(CreateMusic("night breeze, piano").task_id());
  ASSERT_EQ(source.state(), music::v1::TASK_STATE_SUCCEEDED) << source.DebugString();
  const std::string clip_id = source.clips(0).clip_id();

  music::v1::ContinueClipRequest req;
  req.set_clip_id(clip_id);
  req.set_continue_at_seconds(0);
  req.set_prompt("winter snow, Folk music");
  music::v1::ContinueClipResponse resp;
  grpc::ClientContext ctx;
  grpc::Status s = stub_->ContinueClip(&ctx, req, &resp);
  ASSERT_TRUE(s.ok()) << s.error_code() << " " << s.error_message();
  EXPECT_EQ(resp.task().input().prompt(), "winter snow, Folk music");
  const auto done = WaitDone(resp.task().task_id());
  ASSERT_EQ(done.state(), music::v1::TASK_STATE_SUCCEEDED) << done.DebugString();
  ASSERT_GE(done.clips_size(), 1);
  // continue_at 0 extends the whole source clip by udio32's 32 s.
  EXPECT_DOUBLE_EQ(done.clips(0).duration_seconds(), source.clips(0).duration_seconds() + 32);
  rapidjson::Document sent = EmulatorTask(done.provider_task_id());
  const rapidjson::Value& input = sent["data"]["input"];
  EXPECT_EQ(Str(input, "gpt_description_prompt"), "winter snow, Folk music");
  EXPECT_EQ(Str(input, "lyrics_type"), "generate");
  EXPECT_EQ(Str(input, "negative_tags"), "");
  EXPECT_EQ(input["seed"].GetDouble(), -1);
  EXPECT_EQ(Str(input, "continue_song_id"), clip_id);
  EXPECT_EQ(input["continue_at"].GetDouble(), 0);
  EXPECT_EQ(emulator_->stats().extend_creates, 1);
  EXPECT_EQ(emulator_->stats().creates_invalid, 0);

  // Neither a description nor lyrics: INVALID_ARGUMENT naming prompt, nothing created.
  music::v1::ContinueClipRequest bare;
  bare.set_clip_id(clip_id);
  grpc::ClientContext bare_ctx;
  grpc::Status refused = stub_->ContinueClip(&bare_ctx, bare, &resp);
  EXPECT_EQ(refused.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_TRUE(absl::StrContains(refused.error_message(), "prompt")) << refused.error_message();
  EXPECT_EQ(emulator_->stats().extend_creates, 1);
}

TEST_F(PiapiE2eTest, CancelOfARunningTaskIsLocalAndFinal) {
  const auto task = CreateMusic("cancel me [emu:duration_ms=1500]");
  ASSERT_FALSE(WaitProviderTaskId(task.task_id()).empty());
  ASSERT_EQ(GetTask(task.task_id()).state(), music::v1::TASK_STATE_RUNNING);
  music::v1::CancelTaskRequest req;
  req.set_task_id(task.task_id());
  music::v1::CancelTaskResponse resp;
  grpc::ClientContext ctx;
  ASSERT_TRUE(stub_->CancelTask(&ctx, req, &resp).ok());
  EXPECT_EQ(resp.task().state(), music::v1::TASK_STATE_CANCELED);
  // PiAPI finishes and sends its webhooks meanwhile.
  WaitFor([&] { return emulator_->stats().callbacks_sent >= 3; }, absl::Seconds(10),
          "PiAPI's webhooks");
  const auto after = GetTask(task.task_id());
  EXPECT_EQ(after.state(), music::v1::TASK_STATE_CANCELED);
  EXPECT_EQ(after.version(), resp.task().version());
  EXPECT_GE(emulator_->stats().callbacks_sent, 3);  // the webhooks came and changed nothing
}

TEST_F(PiapiE2eTest, WebhooksCompleteTheTaskWhilePollsCannotAnswer) {
  emulator::FaultConfig faults;
  faults.poll_slow_rate = 1;  // every poll waits 2.5 s: past the adapter's 1 s timeout
  faults.slow_delay = absl::Milliseconds(2500);
  emulator_->SetFaults(faults);
  const absl::Time start = RealClock::Get()->Now();
  const auto done = WaitDone(CreateMusic("webhooks only").task_id());
  ExpectPlayable(done);
  EXPECT_LT(RealClock::Get()->Now() - start,
            absl::Milliseconds(2400));  // sooner than any poll can answer
  EXPECT_GE(emulator_->stats().callbacks_sent, 3);
}

TEST_F(PiapiE2eTest, ForgedWebhookIsRefusedAndChangesNothing) {
  const auto task = CreateMusic("forge target [emu:duration_ms=6000]");
  const std::string provider_task_id = WaitProviderTaskId(task.task_id());
  ASSERT_FALSE(provider_task_id.empty());
  // The create webhook lands first.
  WaitFor([&] { return emulator_->stats().callbacks_sent >= 1; }, absl::Seconds(5),
          "the create webhook");
  const auto before = GetTask(task.task_id());
  const std::string body = absl::StrCat(
      R"({"timestamp": 1900000000000, "data": {"task_id": ")", provider_task_id,
      R"(", "model": "music-u", "status": "completed", "output": {"clips": {"forged-clip": )",
      R"({"id": "forged-clip", "audio_url": "https://evil.example/x.mp3", "title": "Forged"}}},)",
      R"( "meta": {"usage": {"type": "usd", "frozen": 0, "consume": 0}}}})");
  EXPECT_EQ(PostCallback(task.task_id(), body, {{"x-webhook-secret", "wrong"}}).status, 401);
  EXPECT_EQ(PostCallback(task.task_id(), body,
                         {{"x-webhook-secret", std::string(sizeof(kWebhookSecret) - 1, 'x')}})
                .status,
            401);
  EXPECT_EQ(PostCallback(task.task_id(), body, {}).status, 401);
  EXPECT_EQ(PostCallback(task.task_id(), "{not json", {}).status, 401);
  // With PiAPI's own secret right but not this task's URL token: refused too.
  const auto other = CreateMusic("another task");
  for (const std::string& token :
       {std::string(), CallbackTokenOf("piapi", other.task_id()),
        CallbackTokenOf("kie", task.task_id()),
        service::CallbackToken("not-the-server-secret", "piapi", task.task_id())}) {
    EXPECT_EQ(PostCallback(task.task_id(), body, {{"x-webhook-secret", kWebhookSecret}}, token)
                  .status,
              401)
        << "token \"" << token << "\"";
  }
  const auto after = GetTask(task.task_id());
  EXPECT_EQ(after.version(), before.version());
  EXPECT_EQ(after.state(), before.state());
  EXPECT_EQ(after.SerializeAsString(), before.SerializeAsString());
  const auto done = WaitDone(task.task_id());
  ExpectPlayable(done);
  for (const auto& clip : done.clips()) EXPECT_NE(clip.clip_id(), "forged-clip");
}

TEST_F(PiapiE2eTest, RepeatedWebhookIsAcknowledgedAndChangesNothing) {
  const auto task = CreateMusic("repeat target [emu:duration_ms=6000]");
  const std::string provider_task_id = WaitProviderTaskId(task.task_id());
  ASSERT_FALSE(provider_task_id.empty());
  // A genuine delivery (the secret is right) saying what the task is (pending until 1.5 s), so
  // polls meanwhile change nothing either; then a "failed" body with the same timestamp: only the
  // timestamp says it is a repeat.
  const std::string timestamp = "1900000000123";
  const std::string first =
      absl::StrCat(R"({"timestamp": )", timestamp, R"(, "data": {"task_id": ")", provider_task_id,
                   R"(", "status": "pending"}})");
  EXPECT_EQ(PostCallback(task.task_id(), first, {{"x-webhook-secret", kWebhookSecret}}).status,
            200);
  const auto before = GetTask(task.task_id());
  // The same timestamp again, even with another body: a repeat, acknowledged (200), ignored.
  const std::string repeat = absl::StrCat(
      R"({"timestamp": )", timestamp, R"(, "data": {"task_id": ")", provider_task_id,
      R"(", "status": "failed", "error": {"code": 500, "message": "should be ignored"}}})");
  EXPECT_EQ(PostCallback(task.task_id(), repeat, {{"x-webhook-secret", kWebhookSecret}}).status,
            200);
  EXPECT_EQ(PostCallback(task.task_id(), first, {{"x-webhook-secret", kWebhookSecret}}).status,
            200);
  const auto after = GetTask(task.task_id());
  EXPECT_EQ(after.version(), before.version());
  EXPECT_EQ(after.SerializeAsString(), before.SerializeAsString());
  ExpectPlayable(WaitDone(task.task_id()));

  // The emulator's own duplicates (same timestamp resent) do not disturb a task either.
  const auto dup = WaitDone(CreateMusic("dup [emu:duplicate_callbacks]").task_id());
  ExpectPlayable(dup);
}

TEST_F(PiapiE2eTest, FailedFreezeError10000FailsWithFailedPrecondition) {
  const auto task = CreateMusic("no money [emu:create_error=10000]");
  const auto done = WaitDone(task.task_id());
  ASSERT_EQ(done.state(), music::v1::TASK_STATE_FAILED) << done.DebugString();
  EXPECT_EQ(done.error().code(), static_cast<int>(absl::StatusCode::kFailedPrecondition));
  EXPECT_EQ(done.error().provider_error_code(), "10000");
  EXPECT_TRUE(absl::StrContains(done.error().message(), "freeze")) << done.error().message();
  EXPECT_FALSE(absl::StrContains(done.error().message(), kPiapiKey));
  EXPECT_EQ(done.billing().provider_charged_micros(), 0);
  EXPECT_EQ(done.clips_size(), 0);
  EXPECT_EQ(emulator_->TaskCount(), 0);  // no provider task, nothing consumed
}

TEST_F(PiapiE2eTest, KieStaysAvailableAlongside) {
  music::v1::CreateMusicRequest req;
  req.set_model("suno-v4.5");
  req.set_prompt("a calm piano piece");
  const auto done = WaitDone(Create(req).task_id());
  EXPECT_EQ(done.state(), music::v1::TASK_STATE_SUCCEEDED) << done.DebugString();
  EXPECT_EQ(done.provider(), "kie");
}

}  // namespace
}  // namespace music::e2e
