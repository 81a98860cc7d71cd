// What the engine counts: the music_tasks gauge through a task's life, task durations, provider
// calls by endpoint and outcome, polls, callbacks (received, refused by reason, duplicates),
// ledger amounts and the oldest due step; read back from the registry as Prometheus would.
// Real SQLite, a fake provider, a fake clock, a manual executor.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <map>
#include <memory>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "service/core/metrics.h"
#include "service/core/task_engine.h"
#include "tests/testing/engine_fixture.h"
#include "tests/testing/metrics_reader.h"
#include "tests/testing/status_matchers.h"

namespace music::service {
namespace {

constexpr int64_t kPrice = 12'000'000;  // 12 credits

class EngineMetricsTest : public EngineFixture {
 protected:
  void SetUp() override {
    OpenStore();
    provider_ = std::make_shared<FakeProvider>();
    registry_.Add(provider_);
    std::vector<music::v1::Model> models = provider_->Models();
    models[0].mutable_price()->set_amount_micros(kPrice);
    models[0].mutable_price()->set_currency("CREDITS");
    catalog_ = std::make_unique<Catalog>(models, "fake-model");
    EngineOptions o = DefaultOptions();
    o.metrics = &metrics_;
    StartEngine(o);
  }

  std::string Create() {
    CreateSpec spec;
    spec.tenant = "default";
    spec.kind = music::v1::TASK_KIND_MUSIC;
    spec.model = catalog_->Find("fake-model");
    spec.input.set_prompt("a song");
    auto created = engine_->Create(spec);
    EXPECT_THAT(created, IsOk());
    return created.ok() ? created->task.task_id() : "";
  }

  double Tasks(const std::string& state) {
    return Value(metrics_, "music_tasks", {{"state", state}, {"kind", "music"}, {"provider", "fake"}});
  }
  double Calls(const std::string& endpoint, const std::string& outcome) {
    return Value(metrics_, "music_provider_requests_total",
                 {{"provider", "fake"}, {"endpoint", endpoint}, {"outcome", outcome}});
  }

  static adapters::ProviderUpdate Success() {
    adapters::ProviderUpdate u;
    u.state = adapters::ProviderState::kSucceeded;
    u.provider_status = "SUCCESS";
    music::v1::Clip c;
    c.set_clip_id("clip-1");
    c.set_audio_url("http://audio/clip-1.wav");
    u.clips.push_back(c);
    return u;
  }
  static adapters::ProviderUpdate Running() {
    adapters::ProviderUpdate u;
    u.state = adapters::ProviderState::kRunning;
    u.provider_status = "TEXT_SUCCESS";
    return u;
  }

  // The engine (the fixture's) points into metrics_: it goes first.
  void TearDown() override {
    EngineFixture::TearDown();
    engine_.reset();
  }

  Metrics metrics_;
  std::shared_ptr<FakeProvider> provider_;
};

TEST_F(EngineMetricsTest, ATaskMovesThroughTheGaugeAndEndsInTheDurationHistogram) {
  const std::string id = Create();
  EXPECT_EQ(Tasks("pending"), 1);
  EXPECT_EQ(Value(metrics_, "music_tasks_created_total", {{"kind", "music"}, {"provider", "fake"}}),
            1);
  RunUntilIdle();  // submitted
  EXPECT_EQ(Tasks("pending"), 0);
  EXPECT_EQ(Tasks("running"), 1);
  EXPECT_EQ(Calls("submit", "OK"), 1);

  provider_->QueuePoll(Success());
  Advance(absl::Seconds(5));  // the first poll brings the result
  ASSERT_EQ(State(id), music::v1::TASK_STATE_SUCCEEDED);
  EXPECT_EQ(Tasks("running"), 0);
  EXPECT_EQ(Calls("poll", "OK"), 1);
  EXPECT_EQ(Value(metrics_, "music_polls_total", {{"provider", "fake"}}), 1);
  EXPECT_EQ(Value(metrics_, "music_tasks_ended_total",
                  {{"kind", "music"}, {"provider", "fake"}, {"state", "succeeded"}, {"code", "OK"}}),
            1);
  const Histogram h = HistogramOf(metrics_, "music_task_duration_seconds",
                                  {{"kind", "music"}, {"provider", "fake"}, {"state", "succeeded"}});
  EXPECT_EQ(h.count, 1u);
  EXPECT_DOUBLE_EQ(h.sum, 5.0);  // FakeClock time from create to the poll that ended it
}

TEST_F(EngineMetricsTest, LedgerAmountsAreCountedByKindAndCurrency) {
  const std::string a = Create();
  const std::string b = Create();
  RunUntilIdle();
  ASSERT_THAT(engine_->Cancel("default", b), IsOk());  // b: refunded in full
  provider_->QueuePoll(Success());
  Advance(absl::Seconds(5));  // a succeeds: settled at the reservation, nothing to refund
  ASSERT_EQ(State(a), music::v1::TASK_STATE_SUCCEEDED);
  const std::map<std::string, std::string> credits = {{"currency", "CREDITS"}};
  EXPECT_EQ(Value(metrics_, "music_ledger_reserved_micros_total", credits), 2 * kPrice);
  EXPECT_EQ(Value(metrics_, "music_ledger_settled_micros_total", credits), kPrice);
  EXPECT_EQ(Value(metrics_, "music_ledger_refunded_micros_total", credits), kPrice);
  EXPECT_EQ(Tasks("running"), 0);
  EXPECT_EQ(Value(metrics_, "music_tasks_ended_total",
                  {{"kind", "music"}, {"provider", "fake"}, {"state", "canceled"},
                   {"code", "CANCELLED"}}),
            1);
}

TEST_F(EngineMetricsTest, FailedProviderCallsAreCountedByOutcome) {
  provider_->QueueSubmit(absl::UnavailableError("503"));
  provider_->QueueSubmit(std::string("prov-ok"));
  const std::string id = Create();
  RunUntilIdle();
  EXPECT_EQ(Calls("submit", "UNAVAILABLE"), 1);
  EXPECT_EQ(Tasks("pending"), 1);  // waiting for its retry
  Advance(absl::Seconds(1));       // the backoff (at most backoff_initial) is over: sent again
  EXPECT_EQ(Calls("submit", "OK"), 1);
  EXPECT_EQ(Tasks("running"), 1);
  provider_->QueuePoll(absl::DeadlineExceededError("poll timed out"));
  provider_->QueuePoll(Running());
  Advance(absl::Seconds(5));
  EXPECT_EQ(Calls("poll", "DEADLINE_EXCEEDED"), 1);
  EXPECT_EQ(State(id), music::v1::TASK_STATE_RUNNING);
}

TEST_F(EngineMetricsTest, CallbacksAreCountedReceivedRefusedAndDuplicated) {
  provider_->DefineCallback("running", Running());
  const std::string id = Create();
  RunUntilIdle();
  EXPECT_THAT(Callback(id, "running"), IsOk());
  EXPECT_THAT(Callback(id, "running"), IsOk());  // the same news again: changes nothing
  EXPECT_THAT(Callback(id, "forged"), StatusIs(absl::StatusCode::kUnauthenticated));
  EXPECT_THAT(Callback(id, "garbage"), StatusIs(absl::StatusCode::kInvalidArgument));
  EXPECT_THAT(Callback("tsk_nosuchtask", "running"), StatusIs(absl::StatusCode::kNotFound));
  // A provider name from the URL that is not configured never becomes a label value.
  EXPECT_THAT(Callback(id, "running", "not-a-provider"), StatusIs(absl::StatusCode::kNotFound));

  EXPECT_EQ(Value(metrics_, "music_callbacks_received_total", {{"provider", "fake"}}), 5);
  EXPECT_EQ(Value(metrics_, "music_callbacks_received_total", {{"provider", "unknown"}}), 1);
  EXPECT_EQ(Value(metrics_, "music_callbacks_duplicate_total", {{"provider", "fake"}}), 1);
  auto refused = [&](const std::string& provider, const std::string& reason) {
    return Value(metrics_, "music_callbacks_refused_total",
                 {{"provider", provider}, {"reason", reason}});
  };
  EXPECT_EQ(refused("fake", "unauthenticated"), 1);
  EXPECT_EQ(refused("fake", "malformed"), 1);
  EXPECT_EQ(refused("fake", "unknown_task"), 1);
  EXPECT_EQ(refused("unknown", "unknown_task"), 1);
}

TEST_F(EngineMetricsTest, OldestDueAgeIsHowLongTheEarliestDueStepHasWaited) {
  EXPECT_EQ(engine_->OldestDueAge(), absl::ZeroDuration());
  Create();  // its submission is due now
  clock_.Advance(absl::Seconds(12));  // and nothing runs it
  EXPECT_EQ(engine_->OldestDueAge(), absl::Seconds(12));
  RunUntilIdle();  // submitted; the next step (a poll) is in the future
  EXPECT_EQ(engine_->OldestDueAge(), absl::ZeroDuration());
}

TEST_F(EngineMetricsTest, ARestartedEngineCountsTheResumedTasks) {
  Create();
  Create();
  RunUntilIdle();
  ASSERT_EQ(Tasks("running"), 2);
  StopEngine();  // the process exits: its gauge goes with it
  Metrics fresh;
  EngineOptions o = DefaultOptions();
  o.metrics = &fresh;
  EngineFixture::StartEngine(o);
  EXPECT_EQ(Value(fresh, "music_tasks", {{"state", "running"}, {"kind", "music"}, {"provider", "fake"}}),
            2);
  StopEngine();  // before `fresh` goes
}

}  // namespace
}  // namespace music::service
