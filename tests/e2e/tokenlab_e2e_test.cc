// TokenLab tasks through the whole service: gRPC in, the TokenLab adapter over real libcurl to the
// emulator's TokenLab contract (/tokenlab), SQLite underneath. The kie.ai adapter stays registered
// (base AddProviders); the default model is TokenLab's.
#include <httplib.h>

#include <algorithm>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "adapters/tokenlab/tokenlab_adapter.h"
#include "tests/e2e/e2e_fixture.h"

namespace music::e2e {
namespace {

constexpr char kTokenlabKey[] = "e2e-tokenlab-key";
constexpr char kModel[] = "tokenlab-suno-music";

// One request the TokenLab adapter sent.
struct Sent {
  std::string method;
  std::string url;
  std::string body;
  std::string authorization;
  absl::Time time;
};

// Passes requests through and records them. With `tag_poll_urls`, the `poll_url` of every create
// answer gets "?via=poll_url" appended (the emulator ignores the query), so a poll that used the
// stored poll_url can be told apart from one on the fixed route.
class RecordingClient final : public http::HttpClient {
 public:
  explicit RecordingClient(std::shared_ptr<http::HttpClient> inner) : inner_(std::move(inner)) {}

  absl::StatusOr<http::Response> Send(const http::Request& request) override {
    {
      absl::MutexLock lock(&mu_);
      sent_.push_back({request.method, request.url, request.body,
                       std::string(http::FindHeader(request.headers, "Authorization")),
                       RealClock::Get()->Now()});
    }
    absl::StatusOr<http::Response> response = inner_->Send(request);
    if (response.ok() && tag_poll_urls_ && request.method == "POST") {
      std::string& body = response->body;
      constexpr char kKey[] = R"("poll_url":")";
      const size_t start = body.find(kKey);
      if (start != std::string::npos) {
        const size_t end = body.find('"', start + sizeof(kKey) - 1);
        if (end != std::string::npos) body.insert(end, "?via=poll_url");
      }
    }
    return response;
  }

  std::vector<Sent> sent() const {
    absl::MutexLock lock(&mu_);
    return sent_;
  }
  void set_tag_poll_urls(bool on) { tag_poll_urls_ = on; }

 private:
  const std::shared_ptr<http::HttpClient> inner_;
  bool tag_poll_urls_ = false;  // set before the server starts
  mutable absl::Mutex mu_;
  std::vector<Sent> sent_ ABSL_GUARDED_BY(mu_);
};

class TokenlabE2eTest : public E2eTest {
 protected:
  void ConfigureEmulator(emulator::EmulatorOptions& eo) override {
    eo.tokenlab_api_key = kTokenlabKey;
  }

  void AddProviders(std::shared_ptr<http::HttpClient> client, bool with_key,
                    service::ProviderRegistry* registry,
                    std::vector<music::v1::Model>* models) override {
    E2eTest::AddProviders(client, with_key, registry, models);  // kie.ai stays as it was
    recorder_ = std::make_shared<RecordingClient>(client);
    recorder_->set_tag_poll_urls(tag_poll_urls_);
    adapters::tokenlab::TokenlabOptions options;
    options.base_url = absl::StrCat(TokenlabHost(), "/tokenlab");
    options.api_key = with_key ? kTokenlabKey : "";
    options.request_timeout = absl::Seconds(1);
    std::shared_ptr<adapters::ProviderAdapter> adapter =
        adapters::tokenlab::NewTokenlabAdapter(options, recorder_);
    // As server/catalog_builder.cc: the live model list decides (seed 000 "Query the current
    // model catalog"); lyrics only where it documents them.
    auto live = with_key ? adapter->FetchModels()
                         : absl::StatusOr<std::vector<music::v1::Model>>(adapter->Models());
    ASSERT_TRUE(live.ok()) << live.status();
    for (auto m : *live) {
      m.set_available(with_key);
      if (!with_key) m.set_unavailable_reason("no API key");
      models->push_back(m);
    }
    registry->Add(std::move(adapter));
  }

  std::string DefaultModel() override { return kModel; }

  // Where the adapter reaches the emulator; the emulator's own URLs use 127.0.0.1.
  virtual std::string TokenlabHost() { return emulator_->base_url(); }

  music::v1::Task CreateCustom(const std::string& prompt) {
    music::v1::CreateMusicRequest req;
    req.set_prompt(prompt);
    req.set_style("synth-pop, upbeat");
    req.set_title("Morning Static");
    music::v1::CreateMusicResponse resp;
    grpc::ClientContext ctx;
    grpc::Status s = stub_->CreateMusic(&ctx, req, &resp);
    EXPECT_TRUE(s.ok()) << s.error_message();
    return resp.task();
  }

  std::vector<Sent> Requests(absl::string_view method, absl::string_view url_part) const {
    std::vector<Sent> out;
    for (const Sent& s : recorder_->sent()) {
      if (s.method == method && absl::StrContains(s.url, url_part)) out.push_back(s);
    }
    return out;
  }

  void ExpectWav(const std::string& url) {
    auto http = http::NewCurlHttpClient({});
    http::Request get;
    get.url = url;
    auto audio = http->Send(get);
    ASSERT_TRUE(audio.ok()) << audio.status();
    EXPECT_EQ(audio->status, 200);
    ASSERT_GT(audio->body.size(), 44u);
    EXPECT_EQ(audio->body.substr(0, 4), "RIFF");
    EXPECT_EQ(audio->body.substr(8, 4), "WAVE");
  }

  bool tag_poll_urls_ = false;
  std::shared_ptr<RecordingClient> recorder_;
};

TEST_F(TokenlabE2eTest, MusicSucceedsWithMappedFieldsAndPlayableAudio) {
  const auto created = CreateCustom("An upbeat synth-pop track with warm vocals");
  EXPECT_EQ(created.provider(), "tokenlab");
  EXPECT_EQ(created.model(), kModel);
  const auto done = WaitDone(created.task_id());
  ASSERT_EQ(done.state(), music::v1::TASK_STATE_SUCCEEDED) << done.DebugString();
  EXPECT_TRUE(absl::StartsWith(done.provider_task_id(), "ldtask_"));
  ASSERT_EQ(done.clips_size(), 1);
  const auto& clip = done.clips(0);
  EXPECT_TRUE(absl::StartsWith(clip.clip_id(), "clip_"));
  EXPECT_TRUE(absl::StartsWith(clip.audio_url(), emulator_->base_url())) << clip.audio_url();
  EXPECT_TRUE(absl::EndsWith(clip.video_url(), ".mp4")) << clip.video_url();
  EXPECT_EQ(clip.title(), "Morning Static");
  EXPECT_EQ(clip.tags(), "synth-pop, upbeat");
  EXPECT_TRUE(absl::StrContains(clip.lyrics(), "warm vocals")) << clip.lyrics();
  EXPECT_GT(clip.duration_seconds(), 0);
  ExpectWav(clip.audio_url());
  // The billing ids the provider gave (seed 000 "Billing And Reconciliation").
  EXPECT_TRUE(absl::StartsWith(done.billing().provider_billing_transaction_id(), "btx_"))
      << done.billing().DebugString();
  EXPECT_EQ(done.billing().provider_charged_micros(), 100000);

  // The create carried the documented body and only that (CONTRACT-NOTES "TokenLab": "`request_id`
  // is NOT a request field"); `user` (a caller identifier) carries the task id.
  auto creates = Requests("POST", "/tokenlab/v1/music/generations");
  ASSERT_EQ(creates.size(), 1u);
  EXPECT_TRUE(absl::StrContains(creates[0].body, R"("action":"MUSIC")")) << creates[0].body;
  EXPECT_TRUE(absl::StrContains(creates[0].body, R"("tags":"synth-pop, upbeat")"))
      << creates[0].body;
  EXPECT_TRUE(absl::StrContains(creates[0].body, absl::StrCat(R"("user":")", done.task_id(), "\"")))
      << creates[0].body;
  EXPECT_FALSE(absl::StrContains(creates[0].body, "request_id")) << creates[0].body;
  EXPECT_EQ(creates[0].authorization, absl::StrCat("Bearer ", kTokenlabKey));
  EXPECT_EQ(emulator_->TaskCount(), 1);
}

class TokenlabPollUrlTest : public TokenlabE2eTest {
 protected:
  void SetUp() override {
    tag_poll_urls_ = true;
    TokenlabE2eTest::SetUp();
  }
};

TEST_F(TokenlabPollUrlTest, PollsGoToThePollUrlTheCreateReturned) {
  const auto done = WaitDone(CreateMusic("calm piano").task_id());
  ASSERT_EQ(done.state(), music::v1::TASK_STATE_SUCCEEDED) << done.DebugString();
  const auto polls = Requests("GET", absl::StrCat("/tokenlab/v1/tasks/", done.provider_task_id()));
  ASSERT_GE(polls.size(), 1u);
  for (const Sent& poll : polls) {
    EXPECT_EQ(poll.url, absl::StrCat(emulator_->base_url(), "/tokenlab/v1/tasks/",
                                     done.provider_task_id(), "?via=poll_url"));
  }
  EXPECT_GE(emulator_->stats().polls, static_cast<int64_t>(polls.size()));
}

// The adapter reaches the emulator as "localhost"; the poll_url it is handed names 127.0.0.1,
// another origin, so it must not get the API key: polls use the fixed route on base_url.
class TokenlabForeignPollUrlTest : public TokenlabE2eTest {
 protected:
  std::string TokenlabHost() override {
    return absl::StrCat("http://localhost:", emulator_->port());
  }
};

TEST_F(TokenlabForeignPollUrlTest, KeyNeverGoesToAnotherOrigin) {
  const auto done = WaitDone(CreateMusic("calm piano").task_id());
  ASSERT_EQ(done.state(), music::v1::TASK_STATE_SUCCEEDED) << done.DebugString();
  const auto sent = recorder_->sent();
  ASSERT_FALSE(sent.empty());
  for (const Sent& s : sent) {
    EXPECT_TRUE(absl::StartsWith(s.url, absl::StrCat("http://localhost:", emulator_->port())))
        << s.url;
  }
  EXPECT_GE(Requests("GET", "/tokenlab/v1/tasks/ldtask_").size(), 1u);
}

TEST_F(TokenlabE2eTest, CustomModeInstrumentalWithoutPromptSucceeds) {
  music::v1::CreateMusicRequest req;
  req.set_style("ambient");
  req.set_title("Drift");
  req.set_instrumental(true);
  music::v1::CreateMusicResponse resp;
  grpc::ClientContext ctx;
  grpc::Status s = stub_->CreateMusic(&ctx, req, &resp);
  ASSERT_TRUE(s.ok()) << s.error_message();
  const auto done = WaitDone(resp.task().task_id());
  ASSERT_EQ(done.state(), music::v1::TASK_STATE_SUCCEEDED) << done.DebugString();
  auto creates = Requests("POST", "/tokenlab/v1/music/generations");
  ASSERT_EQ(creates.size(), 1u);
  EXPECT_TRUE(absl::StrContains(creates[0].body, R"("tags":"ambient, instrumental")"))
      << creates[0].body;
  EXPECT_TRUE(absl::StrContains(creates[0].body, R"("prompt":"ambient, instrumental")"))
      << creates[0].body;
}

TEST_F(TokenlabE2eTest, LyricsSucceedWithVariants) {
  music::v1::CreateLyricsRequest req;
  req.set_prompt("a song about the sea");
  music::v1::CreateLyricsResponse resp;
  grpc::ClientContext ctx;
  ASSERT_TRUE(stub_->CreateLyrics(&ctx, req, &resp).ok());
  EXPECT_EQ(resp.task().provider(), "tokenlab");
  const auto done = WaitDone(resp.task().task_id());
  ASSERT_EQ(done.state(), music::v1::TASK_STATE_SUCCEEDED) << done.DebugString();
  ASSERT_GE(done.lyric_variants_size(), 1);
  EXPECT_TRUE(absl::StrContains(done.lyric_variants(0).text(), "the sea"))
      << done.lyric_variants(0).text();
  EXPECT_EQ(done.clips_size(), 0);
  auto creates = Requests("POST", "/tokenlab/v1/music/generations");
  ASSERT_EQ(creates.size(), 1u);
  EXPECT_TRUE(absl::StrContains(creates[0].body, R"("action":"LYRICS")")) << creates[0].body;
}

TEST_F(TokenlabE2eTest, ContinueClipOfASucceededTask) {
  const auto source = WaitDone(CreateMusic("an upbeat folk song").task_id());
  ASSERT_EQ(source.state(), music::v1::TASK_STATE_SUCCEEDED) << source.DebugString();
  const std::string clip_id = source.clips(0).clip_id();

  music::v1::ContinueClipRequest req;
  req.set_clip_id(clip_id);
  req.set_continue_at_seconds(2);
  req.set_prompt("[Chorus] carry on");
  req.set_style("folk");
  req.set_title("Carry On");
  music::v1::ContinueClipResponse resp;
  grpc::ClientContext ctx;
  grpc::Status s = stub_->ContinueClip(&ctx, req, &resp);
  ASSERT_TRUE(s.ok()) << s.error_message();
  EXPECT_EQ(resp.task().provider(), "tokenlab");
  const auto done = WaitDone(resp.task().task_id());
  ASSERT_EQ(done.state(), music::v1::TASK_STATE_SUCCEEDED) << done.DebugString();
  ASSERT_EQ(done.clips_size(), 1);
  EXPECT_NE(done.clips(0).clip_id(), clip_id);
  ExpectWav(done.clips(0).audio_url());
  auto creates = Requests("POST", "/tokenlab/v1/music/generations");
  ASSERT_EQ(creates.size(), 2u);
  EXPECT_TRUE(
      absl::StrContains(creates[1].body, absl::StrCat(R"("continue_clip_id":")", clip_id, "\"")))
      << creates[1].body;
  EXPECT_TRUE(absl::StrContains(creates[1].body, R"("continue_at":2)")) << creates[1].body;
  EXPECT_EQ(emulator_->stats().extend_creates, 1);
}

// Seed 000 "Continue an existing clip": `continue_clip_id`, optional `continue_at`; the model
// declares CONTINUATION_STYLE_OPTIONAL_FIELDS, so new words and a title may come without a
// continue_at (the old kie.ai-only rule refused a prompt or title at continue_at 0), and nothing
// at all with one.
TEST_F(TokenlabE2eTest, ContinueClipTakesOptionalFieldsAtAnyContinueAt) {
  const auto source = WaitDone(CreateMusic("an upbeat folk song").task_id());
  ASSERT_EQ(source.state(), music::v1::TASK_STATE_SUCCEEDED) << source.DebugString();
  const std::string clip_id = source.clips(0).clip_id();

  music::v1::ContinueClipRequest at_zero;
  at_zero.set_clip_id(clip_id);
  at_zero.set_prompt("[Chorus] carry on");
  at_zero.set_title("Carry On");
  music::v1::ContinueClipRequest bare;
  bare.set_clip_id(clip_id);
  bare.set_continue_at_seconds(1);
  for (const music::v1::ContinueClipRequest* req : {&at_zero, &bare}) {
    music::v1::ContinueClipResponse resp;
    grpc::ClientContext ctx;
    grpc::Status s = stub_->ContinueClip(&ctx, *req, &resp);
    ASSERT_TRUE(s.ok()) << s.error_code() << " " << s.error_message();
    const auto done = WaitDone(resp.task().task_id());
    ASSERT_EQ(done.state(), music::v1::TASK_STATE_SUCCEEDED) << done.DebugString();
  }
  auto creates = Requests("POST", "/tokenlab/v1/music/generations");
  ASSERT_EQ(creates.size(), 3u);
  // continue_at 0 is left out (optional); the given prompt and title are sent.
  EXPECT_TRUE(absl::StrContains(creates[1].body, R"("prompt":"[Chorus] carry on")"))
      << creates[1].body;
  EXPECT_TRUE(absl::StrContains(creates[1].body, R"("title":"Carry On")")) << creates[1].body;
  EXPECT_FALSE(absl::StrContains(creates[1].body, "continue_at\"")) << creates[1].body;
  EXPECT_TRUE(absl::StrContains(creates[2].body, R"("continue_at":1)")) << creates[2].body;
  EXPECT_FALSE(absl::StrContains(creates[2].body, R"("prompt")")) << creates[2].body;
  EXPECT_EQ(emulator_->stats().extend_creates, 2);

  // Lyrics are not part of this model's continuation contract.
  music::v1::ContinueClipRequest lyrics = bare;
  lyrics.set_lyrics("words");
  music::v1::ContinueClipResponse resp;
  grpc::ClientContext ctx;
  grpc::Status s = stub_->ContinueClip(&ctx, lyrics, &resp);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_TRUE(absl::StartsWith(s.error_message(), "lyrics:")) << s.error_message();
}

TEST_F(TokenlabE2eTest, CancelTaskOfARunningTaskEndsCanceled) {
  const auto task = CreateMusic("cancel me [emu:duration_ms=2000]");
  WaitFor([&] { return !GetTask(task.task_id()).provider_task_id().empty(); }, absl::Seconds(2),
          "the provider task");
  ASSERT_EQ(GetTask(task.task_id()).state(), music::v1::TASK_STATE_RUNNING);
  music::v1::CancelTaskRequest req;
  req.set_task_id(task.task_id());
  music::v1::CancelTaskResponse resp;
  grpc::ClientContext ctx;
  ASSERT_TRUE(stub_->CancelTask(&ctx, req, &resp).ok());
  EXPECT_EQ(resp.task().state(), music::v1::TASK_STATE_CANCELED);
  // The provider task completes meanwhile (TokenLab has no cancel: the emulator's own view).
  const std::string provider_task_id = GetTask(task.task_id()).provider_task_id();
  WaitFor(
      [&] {
        httplib::Client emulator(emulator_->base_url());
        auto res = emulator.Get("/tokenlab/v1/tasks/" + provider_task_id,
                                {{"Authorization", absl::StrCat("Bearer ", kTokenlabKey)}});
        return res && res->status == 200 && absl::StrContains(res->body, R"("status":"completed")");
      },
      absl::Seconds(10), "the provider task to complete");
  const auto after = GetTask(task.task_id());
  EXPECT_EQ(after.state(), music::v1::TASK_STATE_CANCELED);
  EXPECT_EQ(after.error().code(), static_cast<int>(absl::StatusCode::kCancelled));
}

TEST_F(TokenlabE2eTest, ProviderSideCancellationEndsCanceled) {
  const auto done = WaitDone(CreateMusic("x [emu:task_error=cancelled]").task_id());
  ASSERT_EQ(done.state(), music::v1::TASK_STATE_CANCELED) << done.DebugString();
  EXPECT_EQ(done.error().code(), static_cast<int>(absl::StatusCode::kCancelled));
  EXPECT_EQ(done.error().provider_status(), "failed");
}

TEST_F(TokenlabE2eTest, ProviderFailureEndsFailed) {
  const auto done = WaitDone(CreateMusic("x [emu:task_error=content_policy_violation]").task_id());
  ASSERT_EQ(done.state(), music::v1::TASK_STATE_FAILED) << done.DebugString();
  EXPECT_EQ(done.error().code(), static_cast<int>(absl::StatusCode::kInvalidArgument));
  EXPECT_EQ(done.error().provider_error_code(), "content_policy_violation");
}

TEST_F(TokenlabE2eTest, CompletedWithoutAudioFailsInternal) {
  const auto done = WaitDone(CreateMusic("x [emu:no_audio]").task_id());
  ASSERT_EQ(done.state(), music::v1::TASK_STATE_FAILED) << done.DebugString();
  EXPECT_EQ(done.error().code(), static_cast<int>(absl::StatusCode::kInternal));
}

// A lost create answer: TokenLab documents no lookup (CONTRACT-NOTES "TokenLab": "retry only if
// no task was created"), so the create is never sent again and nothing is looked up; the task
// fails UNAVAILABLE after unknown_submission_grace, with everything reserved given back.
struct LostCase {
  const char* name;
  const char* prompt;
};

class TokenlabLostCreateTest : public TokenlabE2eTest,
                               public ::testing::WithParamInterface<LostCase> {
 protected:
  void ConfigureServer(service::ServerOptions& options) override {
    options.engine.unknown_submission_grace = absl::Seconds(2);
  }
};

TEST_P(TokenlabLostCreateTest, FailsUnavailableWithoutASecondTaskOrALookup) {
  const auto done = WaitDone(CreateMusic(GetParam().prompt).task_id());
  ASSERT_EQ(done.state(), music::v1::TASK_STATE_FAILED) << done.DebugString();
  EXPECT_EQ(done.error().code(), static_cast<int>(absl::StatusCode::kUnavailable));
  EXPECT_EQ(emulator_->TaskCount(), 1) << "one provider task per service task";
  EXPECT_EQ(Requests("POST", "/tokenlab/v1/music/generations").size(), 1u);
  EXPECT_TRUE(Requests("GET", "/tokenlab/v1/tasks?").empty());
  EXPECT_EQ(emulator_->stats().undocumented_routes, 0);
  EXPECT_EQ(done.billing().reserved_micros() - done.billing().refunded_micros(), 0)
      << done.billing().DebugString();
}

INSTANTIATE_TEST_SUITE_P(Emulator, TokenlabLostCreateTest,
                         ::testing::Values(LostCase{"MalformedCreate", "x [emu:malformed_create]"},
                                           // slow_delay 2.5 s > the 1 s client timeout.
                                           LostCase{"SlowCreate", "x [emu:slow_create]"}),
                         [](const ::testing::TestParamInfo<LostCase>& info) {
                           return info.param.name;
                         });

TEST_F(TokenlabE2eTest, InsufficientBalanceFailsFailedPrecondition) {
  const auto done = WaitDone(CreateMusic("x [emu:create_error=402]").task_id());
  ASSERT_EQ(done.state(), music::v1::TASK_STATE_FAILED) << done.DebugString();
  EXPECT_EQ(done.error().code(), static_cast<int>(absl::StatusCode::kFailedPrecondition));
  EXPECT_EQ(done.error().provider_error_code(), "insufficient_balance");
  EXPECT_EQ(emulator_->TaskCount(), 0);
}

TEST_F(TokenlabE2eTest, RateLimitedCreateIsRetriedAfterRetryAfter) {
  const auto done = WaitDone(CreateMusic("x [emu:create_error=429]").task_id());
  ASSERT_EQ(done.state(), music::v1::TASK_STATE_SUCCEEDED) << done.DebugString();
  EXPECT_EQ(emulator_->TaskCount(), 1);
  EXPECT_EQ(emulator_->stats().creates_rate_limited, 1);
  const auto creates = Requests("POST", "/tokenlab/v1/music/generations");
  ASSERT_EQ(creates.size(), 2u);
  // Retry-After: 1 was honoured (the engine's own backoff starts at 100 ms).
  EXPECT_GE(creates[1].time - creates[0].time, absl::Milliseconds(900));
}

TEST_F(TokenlabE2eTest, SharedRateLimitFaultIsRetried) {
  emulator::FaultConfig f;
  f.create_429_count = 1;
  f.create_500_count = 1;
  emulator_->SetFaults(f);
  const auto done = WaitDone(CreateMusic("retry me").task_id());
  EXPECT_EQ(done.state(), music::v1::TASK_STATE_SUCCEEDED) << done.DebugString();
  EXPECT_EQ(emulator_->TaskCount(), 1);
}

TEST_F(TokenlabE2eTest, ListModelsShowsTokenlabBesideKie) {
  music::v1::ListModelsRequest req;
  music::v1::ListModelsResponse resp;
  grpc::ClientContext ctx;
  ASSERT_TRUE(stub_->ListModels(&ctx, req, &resp).ok());
  EXPECT_EQ(resp.default_model(), kModel);
  bool tokenlab = false;
  bool kie = false;
  for (const auto& m : resp.models()) {
    if (m.name() == kModel) {
      tokenlab = true;
      EXPECT_EQ(m.provider(), "tokenlab");
      EXPECT_TRUE(m.available());
      EXPECT_EQ(m.price().amount_micros(), 100000);
    }
    kie |= m.provider() == "kie";
  }
  EXPECT_TRUE(tokenlab);
  EXPECT_TRUE(kie);
}

}  // namespace
}  // namespace music::e2e
