// beatra through the whole service: gRPC in, the beatra adapter over libcurl to the provider
// emulator's beatra contract (adapters/beatra/WIRE.md), SQLite underneath. kie.ai stays
// registered (the base fixture's providers) so existing behaviour is unchanged.
#include <rapidjson/document.h>

#include <algorithm>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "adapters/beatra/beatra_adapter.h"
#include "google/rpc/error_details.pb.h"
#include "google/rpc/status.pb.h"
#include "tests/e2e/e2e_fixture.h"

namespace music::e2e {
namespace {

constexpr char kBeatraKey[] = "e2e-beatra-key";

std::vector<std::string> ViolatedFields(const grpc::Status& s) {
  std::vector<std::string> fields;
  google::rpc::Status details;
  if (!details.ParseFromString(s.error_details())) return fields;
  for (const auto& any : details.details()) {
    google::rpc::BadRequest bad;
    if (any.type_url() == "type.googleapis.com/google.rpc.BadRequest" &&
        bad.ParseFromString(any.value())) {
      for (const auto& v : bad.field_violations()) fields.push_back(v.field());
    }
  }
  return fields;
}

bool Names(const std::vector<std::string>& fields, const std::string& field) {
  return std::find(fields.begin(), fields.end(), field) != fields.end();
}

class BeatraE2eTest : public E2eTest {
 protected:
  void ConfigureEmulator(emulator::EmulatorOptions& eo) override { eo.beatra_api_key = kBeatraKey; }

  void AddProviders(std::shared_ptr<http::HttpClient> client, bool with_key,
                    service::ProviderRegistry* registry,
                    std::vector<music::v1::Model>* models) override {
    E2eTest::AddProviders(client, with_key, registry, models);  // kie.ai, as before
    adapters::beatra::BeatraOptions bo;
    bo.base_url = absl::StrCat(emulator_->base_url(), "/beatra");
    bo.api_key = with_key ? kBeatraKey : "";
    bo.request_timeout = absl::Seconds(1);
    std::shared_ptr<adapters::ProviderAdapter> beatra =
        adapters::beatra::NewBeatraAdapter(bo, client);
    AddAdapter(beatra, with_key, registry, models);
  }

  std::string DefaultModel() override { return "beatra-suno-5.5"; }

  music::v1::Task CreateWithModel(const std::string& model, const std::string& prompt) {
    music::v1::CreateMusicRequest req;
    req.set_model(model);
    req.set_prompt(prompt);
    music::v1::CreateMusicResponse resp;
    grpc::ClientContext ctx;
    grpc::Status s = stub_->CreateMusic(&ctx, req, &resp);
    EXPECT_TRUE(s.ok()) << s.error_message();
    return resp.task();
  }

  // The emulator's own view of a beatra task (GET /beatra/v1/tasks/{id}).
  rapidjson::Document EmulatorTask(const std::string& provider_task_id) {
    auto client = http::NewCurlHttpClient({});
    http::Request get;
    get.url = absl::StrCat(emulator_->base_url(), "/beatra/v1/tasks/", provider_task_id);
    get.headers.emplace_back("Authorization", absl::StrCat("Bearer ", kBeatraKey));
    rapidjson::Document doc;
    auto res = client->Send(get);
    EXPECT_TRUE(res.ok()) << res.status();
    if (!res.ok()) return doc;
    EXPECT_EQ(res->status, 200) << res->body;
    doc.Parse(res->body.data(), res->body.size());
    EXPECT_FALSE(doc.HasParseError()) << res->body;
    return doc;
  }

  static std::string Str(const rapidjson::Value& obj, const char* name) {
    if (!obj.IsObject() || !obj.HasMember(name) || !obj[name].IsString()) return "<missing>";
    return obj[name].GetString();
  }

  void ExpectPlayable(const music::v1::Clip& clip) {
    EXPECT_FALSE(clip.clip_id().empty());
    EXPECT_TRUE(absl::StartsWith(clip.artifact_id(), "art_")) << clip.DebugString();
    EXPECT_TRUE(absl::StartsWith(clip.audio_url(), emulator_->base_url())) << clip.audio_url();
    EXPECT_GT(clip.duration_seconds(), 0);
    auto http = http::NewCurlHttpClient({});
    http::Request get;
    get.url = clip.audio_url();
    auto audio = http->Send(get);
    ASSERT_TRUE(audio.ok()) << audio.status();
    EXPECT_EQ(audio->status, 200);
    ASSERT_GT(audio->body.size(), 44u);
    EXPECT_EQ(audio->body.substr(0, 4), "RIFF");
    EXPECT_EQ(audio->body.substr(8, 4), "WAVE");
  }
};

TEST_F(BeatraE2eTest, Suno55SucceedsWithTwoClipsCarryingArtifactIds) {
  const auto created = CreateMusic("a calm piano piece");
  EXPECT_EQ(created.provider(), "beatra");
  EXPECT_EQ(created.model(), "beatra-suno-5.5");
  const auto done = WaitDone(created.task_id());
  ASSERT_EQ(done.state(), music::v1::TASK_STATE_SUCCEEDED) << done.DebugString();
  EXPECT_TRUE(absl::StartsWith(done.provider_task_id(), "task_"));
  ASSERT_EQ(done.clips_size(), 2);
  for (const auto& clip : done.clips()) ExpectPlayable(clip);
  EXPECT_NE(done.clips(0).artifact_id(), done.clips(1).artifact_id());
  EXPECT_EQ(done.billing().provider_charged_micros(), 80'000'000);
  EXPECT_EQ(done.billing().provider_refunded_micros(), 0);
  EXPECT_EQ(emulator_->TaskCount(), 1);
}

TEST_F(BeatraE2eTest, MinimaxSucceedsWithOneClip) {
  const auto created = CreateWithModel("beatra-minimax-music-2.6", "a lofi beat");
  EXPECT_EQ(created.provider(), "beatra");
  const auto done = WaitDone(created.task_id());
  ASSERT_EQ(done.state(), music::v1::TASK_STATE_SUCCEEDED) << done.DebugString();
  ASSERT_EQ(done.clips_size(), 1);
  ExpectPlayable(done.clips(0));
  EXPECT_EQ(done.billing().provider_charged_micros(), 50'000'000);
}

TEST_F(BeatraE2eTest, ProgressIsSurfacedWhileRunning) {
  const auto created = CreateMusic("a slow build [emu:duration_ms=3000]");
  const auto w = Watch(created.task_id());
  ASSERT_TRUE(w.status.ok()) << w.status.error_message();
  ASSERT_FALSE(w.tasks.empty());
  bool saw_partial = false;
  int last_percent = -1;
  for (const auto& t : w.tasks) {
    const auto& p = t.progress();
    EXPECT_GE(p.percent(), last_percent) << "percent only grows";
    last_percent = p.percent();
    if (t.state() == music::v1::TASK_STATE_RUNNING && p.percent() > 0 && p.percent() < 100) {
      saw_partial = true;
      EXPECT_FALSE(p.stage().empty());
      EXPECT_FALSE(p.message().empty());
    }
  }
  EXPECT_TRUE(saw_partial);
  EXPECT_EQ(w.tasks.back().state(), music::v1::TASK_STATE_SUCCEEDED);
}

TEST_F(BeatraE2eTest, CancelReachesTheProviderAndIsRefunded) {
  const auto task = CreateMusic("cancel me [emu:duration_ms=6000]");
  std::string provider_task_id;
  WaitFor(
      [&] {
        provider_task_id = GetTask(task.task_id()).provider_task_id();
        return !provider_task_id.empty();
      },
      absl::Seconds(3), "the provider task id");
  ASSERT_FALSE(provider_task_id.empty());
  ASSERT_EQ(GetTask(task.task_id()).state(), music::v1::TASK_STATE_RUNNING);
  music::v1::CancelTaskRequest req;
  req.set_task_id(task.task_id());
  music::v1::CancelTaskResponse resp;
  grpc::ClientContext ctx;
  ASSERT_TRUE(stub_->CancelTask(&ctx, req, &resp).ok());
  EXPECT_EQ(resp.task().state(), music::v1::TASK_STATE_CANCELED);

  // The adapter's POST /v1/tasks/{id}/cancel runs in the background: wait for the provider.
  rapidjson::Document at_provider;
  WaitFor(
      [&] {
        at_provider = EmulatorTask(provider_task_id);
        return Str(at_provider, "status") == "canceled";
      },
      absl::Seconds(4), "the cancel at the provider");
  ASSERT_EQ(Str(at_provider, "status"), "canceled");
  EXPECT_NE(Str(at_provider, "cancel_requested_at"), "<missing>");
  EXPECT_EQ(Str(at_provider["billing"], "charged_credits"), "80.0000");
  EXPECT_EQ(Str(at_provider["billing"], "refunded_credits"), "80.0000");
  EXPECT_EQ(GetTask(task.task_id()).state(), music::v1::TASK_STATE_CANCELED);
}

// A create whose answer is lost is resent by the engine with the same Idempotency-Key; the
// emulator answers with the task the first create made.
class BeatraLostCreateTest : public BeatraE2eTest,
                             public ::testing::WithParamInterface<const char*> {};

TEST_P(BeatraLostCreateTest, ResentWithTheSameKeyMakesOneTask) {
  const auto done = WaitDone(CreateMusic(GetParam()).task_id());
  ASSERT_EQ(done.state(), music::v1::TASK_STATE_SUCCEEDED) << done.DebugString();
  EXPECT_EQ(done.clips_size(), 2);
  EXPECT_EQ(emulator_->TaskCount(), 1) << "one provider task per service task";
  const auto stats = emulator_->stats();
  EXPECT_EQ(stats.creates_accepted, 1);
  EXPECT_EQ(stats.creates_malformed + stats.creates_slow, 1) << "the first answer was lost";
}

INSTANTIATE_TEST_SUITE_P(Beatra, BeatraLostCreateTest,
                         ::testing::Values("lost answer [emu:malformed_create]",
                                           "slow answer [emu:slow_create]"),
                         [](const ::testing::TestParamInfo<const char*>& info) {
                           return info.index == 0 ? std::string("MalformedCreate")
                                                  : std::string("SlowCreateTimesOut");
                         });

TEST_F(BeatraE2eTest, InsufficientBalanceFailsFailedPrecondition) {
  const auto done =
      WaitDone(CreateMusic("no money [emu:create_error=insufficient_balance]").task_id());
  ASSERT_EQ(done.state(), music::v1::TASK_STATE_FAILED) << done.DebugString();
  EXPECT_EQ(done.error().code(), static_cast<int>(absl::StatusCode::kFailedPrecondition));
  EXPECT_EQ(done.error().provider_error_code(), "insufficient_balance");
  EXPECT_EQ(emulator_->TaskCount(), 0);
}

TEST_F(BeatraE2eTest, RateLimitedCreateIsRetriedAndSucceeds) {
  const auto done = WaitDone(CreateMusic("busy [emu:create_error=rate_limited]").task_id());
  ASSERT_EQ(done.state(), music::v1::TASK_STATE_SUCCEEDED) << done.DebugString();
  EXPECT_EQ(emulator_->TaskCount(), 1);
  EXPECT_EQ(emulator_->stats().creates_rate_limited, 1);
}

TEST_F(BeatraE2eTest, TaskErrorFailsTheTaskWithTheProvidersCode) {
  const auto done =
      WaitDone(CreateWithModel("beatra-minimax-music-2.6", "x [emu:task_error=generation_failed]")
                   .task_id());
  ASSERT_EQ(done.state(), music::v1::TASK_STATE_FAILED) << done.DebugString();
  EXPECT_EQ(done.error().code(), static_cast<int>(absl::StatusCode::kInternal));
  EXPECT_EQ(done.error().provider_error_code(), "generation_failed");
  EXPECT_EQ(done.billing().provider_refunded_micros(), 50'000'000);
}

// CONTRACT-NOTES "beatra": the task envelope's `error {code, message, retryable}`. A provider task
// that fails with `retryable: true` is replaced by a new one under a new Idempotency-Key (the old
// key would only replay the failed task), and the service task is billed once.
TEST_F(BeatraE2eTest, RetryableTaskFailureIsResubmittedUnderANewKeyAndBilledOnce) {
  const auto created = CreateMusic("second time lucky [emu:task_error_once=internal_error]");
  const auto done = WaitDone(created.task_id());
  ASSERT_EQ(done.state(), music::v1::TASK_STATE_SUCCEEDED) << done.DebugString();
  EXPECT_EQ(done.clips_size(), 2);
  EXPECT_EQ(emulator_->TaskCount(), 2) << "the failed provider task and its replacement";
  EXPECT_EQ(emulator_->stats().idempotency_keys, 2) << "each provider task under its own key";
  ASSERT_EQ(done.resubmissions_size(), 1);
  const music::v1::ProviderResubmission& r = done.resubmissions(0);
  EXPECT_EQ(r.provider(), "beatra");
  EXPECT_EQ(r.provider_error_code(), "internal_error");
  EXPECT_EQ(r.code(), static_cast<int>(absl::StatusCode::kUnavailable));
  ASSERT_TRUE(absl::StartsWith(r.provider_task_id(), "task_"));
  EXPECT_NE(r.provider_task_id(), done.provider_task_id());
  // The emulator agrees: the first task failed retryable (and was refunded), the second ran.
  rapidjson::Document first = EmulatorTask(r.provider_task_id());
  EXPECT_EQ(Str(first, "status"), "failed");
  ASSERT_TRUE(first.IsObject() && first.HasMember("error") && first["error"].IsObject());
  EXPECT_EQ(Str(first["error"], "code"), "internal_error");
  EXPECT_TRUE(first["error"].HasMember("retryable") && first["error"]["retryable"].IsBool() &&
              first["error"]["retryable"].GetBool());
  EXPECT_EQ(Str(EmulatorTask(done.provider_task_id()), "status"), "succeeded");
  EXPECT_EQ(done.billing().provider_charged_micros(), 80'000'000);
  EXPECT_EQ(done.billing().provider_refunded_micros(), 0);
  // One reservation, one settlement of the price, nothing refunded.
  std::map<music::v1::BillingTransactionKind, int> kinds;
  int64_t settled = 0;
  for (const auto& t : AllTransactions()) {
    if (t.task_id() != created.task_id()) continue;
    ++kinds[t.kind()];
    if (t.kind() == music::v1::BILLING_TRANSACTION_KIND_SETTLE) settled += t.amount_micros();
  }
  EXPECT_EQ(kinds[music::v1::BILLING_TRANSACTION_KIND_RESERVE], 1);
  EXPECT_EQ(kinds[music::v1::BILLING_TRANSACTION_KIND_SETTLE], 1);
  EXPECT_EQ(kinds[music::v1::BILLING_TRANSACTION_KIND_REFUND], 0);
  EXPECT_EQ(settled, 80'000'000);
}

TEST_F(BeatraE2eTest, LyricsAndContinuationAreRefusedNamingModel) {
  music::v1::CreateLyricsRequest lyrics;
  lyrics.set_model("beatra-suno-5.5");
  lyrics.set_prompt("a song about the sea");
  music::v1::CreateLyricsResponse lyrics_resp;
  grpc::ClientContext lyrics_ctx;
  grpc::Status s = stub_->CreateLyrics(&lyrics_ctx, lyrics, &lyrics_resp);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::INVALID_ARGUMENT) << s.error_message();
  EXPECT_TRUE(Names(ViolatedFields(s), "model")) << s.error_message();

  // A continuation of a finished beatra clip: the model does not continue clips.
  const auto source = WaitDone(CreateMusic("source song").task_id());
  ASSERT_EQ(source.state(), music::v1::TASK_STATE_SUCCEEDED) << source.DebugString();
  music::v1::ContinueClipRequest cont;
  cont.set_clip_id(source.clips(0).clip_id());
  cont.set_model("beatra-suno-5.5");
  music::v1::ContinueClipResponse cont_resp;
  grpc::ClientContext cont_ctx;
  s = stub_->ContinueClip(&cont_ctx, cont, &cont_resp);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::INVALID_ARGUMENT) << s.error_message();
  EXPECT_TRUE(Names(ViolatedFields(s), "model")) << s.error_message();
  EXPECT_EQ(emulator_->TaskCount(), 1);
}

TEST_F(BeatraE2eTest, KieStillWorksAlongside) {
  const auto created = CreateWithModel("suno-v4.5", "a kie song");
  EXPECT_EQ(created.provider(), "kie");
  const auto done = WaitDone(created.task_id());
  EXPECT_EQ(done.state(), music::v1::TASK_STATE_SUCCEEDED) << done.DebugString();
}

}  // namespace
}  // namespace music::e2e
