// The engine's client-side rate limits (EngineOptions::rate_limits, task_engine.cc "Rate
// limits"): one create limiter per provider account shared by every task, a poll limit per task,
// requests over a limit rescheduled on the engine's timer (not sent, not lost), and the wait
// recorded on the task (stored) and in music_provider_rate_limit_wait_seconds.
// Real SQLite, a fake provider, a FakeClock and a ManualExecutor: nothing sleeps.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <set>
#include <string>
#include <vector>

#include "service/core/metrics.h"
#include "service/core/task_engine.h"
#include "tests/testing/engine_fixture.h"
#include "tests/testing/metrics_reader.h"
#include "tests/testing/status_matchers.h"

namespace music::service {
namespace {

using domain::SubmissionState;

absl::Duration Wait(const music::v1::Task& task) {
  return absl::Seconds(task.rate_limit_wait().seconds()) +
         absl::Nanoseconds(task.rate_limit_wait().nanos());
}

class EngineRateLimitTest : public EngineFixture {
 protected:
  void SetUp() override {
    OpenStore();
    provider_ = std::make_shared<FakeProvider>();
    registry_.Add(provider_);
    catalog_ = std::make_unique<Catalog>(provider_->Models(), "fake-model");
  }
  // The engine points into metrics_: it goes first.
  void TearDown() override {
    EngineFixture::TearDown();
    engine_.reset();
  }

  void Start(adapters::RateLimits limits, absl::Duration poll_interval = absl::Seconds(5)) {
    EngineOptions o = DefaultOptions();
    o.metrics = &metrics_;
    o.poll_interval = poll_interval;
    o.rate_limits["fake"] = limits;
    StartEngine(o);
  }

  std::string Create() { return CreateMusicTask(); }

  Histogram WaitMetric() {
    return HistogramOf(metrics_, "music_provider_rate_limit_wait_seconds", {{"provider", "fake"}});
  }

  Metrics metrics_;
  std::shared_ptr<FakeProvider> provider_;
};

// 25 creates at once on a provider limited to 20 per 10 s: 20 are sent at once, the other 5 wait
// in the engine (not sent, no error, nothing written) and are sent when the window moves on;
// each of the 25 is sent exactly once, and the 10 s the 5 waited are on them and in the metric.
TEST_F(EngineRateLimitTest, TwentyFiveCreatesAtOnceTwentyNowFiveAfterTheWindow) {
  adapters::RateLimits limits;
  limits.creates_per_window = 20;
  limits.create_window = absl::Seconds(10);
  Start(limits);
  std::vector<std::string> ids;
  for (int i = 0; i < 25; ++i) ids.push_back(Create());
  RunUntilIdle();
  EXPECT_EQ(provider_->submits(), 20);
  std::vector<std::string> waiting;
  for (const std::string& id : ids) {
    const domain::TaskRecord r = Get(id);
    if (r.submission == SubmissionState::kNotSubmitted) {
      waiting.push_back(id);
      EXPECT_EQ(r.task.state(), music::v1::TASK_STATE_PENDING);
      EXPECT_EQ(r.task.version(), 1) << "a refused create writes nothing";
      EXPECT_EQ(r.attempts, 0) << "a refused create is not a failed attempt";
    }
  }
  ASSERT_EQ(waiting.size(), 5u);

  Advance(absl::Seconds(5));  // polls of the 20; still inside the window
  EXPECT_EQ(provider_->submits(), 20);
  Advance(absl::Seconds(5));  // t = 10 s: the first 20 left the window
  EXPECT_EQ(provider_->submits(), 25);

  std::set<std::string> provider_tasks;
  for (const std::string& id : ids) {
    const domain::TaskRecord r = Get(id);
    EXPECT_EQ(r.submission, SubmissionState::kSubmitted) << id;
    EXPECT_EQ(r.task.state(), music::v1::TASK_STATE_RUNNING) << id;
    provider_tasks.insert(r.task.provider_task_id());
    const bool waited = std::count(waiting.begin(), waiting.end(), id) > 0;
    EXPECT_EQ(Wait(r.task), waited ? absl::Seconds(10) : absl::ZeroDuration()) << id;
    EXPECT_EQ(r.task.has_rate_limit_wait(), waited) << id;
  }
  EXPECT_EQ(provider_tasks.size(), 25u) << "each task is one provider task";
  const Histogram h = WaitMetric();
  EXPECT_EQ(h.count, 25u);
  EXPECT_DOUBLE_EQ(h.sum, 50.0);
}

// A create's slot counts from its answer: two creates answered 3 s after they were sent keep the
// third out until 13 s, so a provider counting arrivals never sees three in 10 s.
TEST_F(EngineRateLimitTest, ACreateSlotCountsFromTheAnswer) {
  adapters::RateLimits limits;
  limits.creates_per_window = 2;
  limits.create_window = absl::Seconds(10);
  Start(limits);
  provider_->set_hold_async(true);
  const std::string a = Create(), b = Create(), c = Create();
  RunUntilIdle();
  EXPECT_EQ(provider_->submits(), 2);
  clock_.Advance(absl::Seconds(3));
  EXPECT_EQ(provider_->ReleaseHeld(), 2);
  provider_->set_hold_async(false);
  RunUntilIdle();
  Advance(absl::Seconds(7));  // t = 10 s: counted from the sending, a slot would be free
  EXPECT_EQ(provider_->submits(), 2);
  EXPECT_EQ(Get(c).submission, SubmissionState::kNotSubmitted);
  Advance(absl::Seconds(3));  // t = 13 s
  EXPECT_EQ(provider_->submits(), 3);
  EXPECT_EQ(Get(c).submission, SubmissionState::kSubmitted);
  EXPECT_EQ(Wait(Get(c).task), absl::Seconds(13));
}

// A provider without limits: nothing waits and nothing is recorded.
TEST_F(EngineRateLimitTest, NoLimitsNothingWaits) {
  Start(adapters::RateLimits{});
  for (int i = 0; i < 30; ++i) Create();
  RunUntilIdle();
  EXPECT_EQ(provider_->submits(), 30);
  EXPECT_EQ(WaitMetric().count, 0u);
}

// Polls of one task never exceed its provider's polls per second in any 1 s window (kie.ai: 3,
// CONTRACT-NOTES.md), while the poll interval (the engine's minimum, 334 ms) asks for more at
// limits below 3; the limit does not starve the task either, and the time its polls waited is
// stored on it and matches the metric.
class EnginePollLimitTest : public EngineRateLimitTest,
                            public ::testing::WithParamInterface<int> {};

TEST_P(EnginePollLimitTest, PollsOfOneTaskStayUnderTheLimitPerSecond) {
  const int per_second = GetParam();
  adapters::RateLimits limits;
  limits.polls_per_second = per_second;
  Start(limits, /*poll_interval=*/absl::ZeroDuration());  // kMinPollInterval
  const std::string id = Create();
  RunUntilIdle();
  ASSERT_EQ(Get(id).submission, SubmissionState::kSubmitted);
  // When each poll was sent: the clock only moves in 10 ms steps, so every step of the engine
  // (and every limiter time) is on that grid.
  std::vector<absl::Time> polls;
  auto collect = [&] {
    while (static_cast<int>(polls.size()) < provider_->polls()) polls.push_back(clock_.Now());
  };
  collect();  // the first poll follows the create at once
  const absl::Time end = clock_.Now() + absl::Seconds(6);
  while (clock_.Now() < end) {
    Advance(absl::Milliseconds(10));
    collect();
  }
  for (size_t i = 0; i + per_second < polls.size(); ++i) {
    EXPECT_GE(polls[i + per_second] - polls[i], absl::Seconds(1))
        << "poll " << i + per_second << " is the " << per_second + 1 << "th within 1 s";
  }
  EXPECT_GE(static_cast<int>(polls.size()), 5 * std::min(per_second, 2));
  const music::v1::Task task = Get(id).task;
  const Histogram h = WaitMetric();
  EXPECT_EQ(h.count, polls.size());
  EXPECT_NEAR(absl::ToDoubleSeconds(Wait(task)), h.sum, 1e-6);
  if (per_second < 3) {
    EXPECT_GT(Wait(task), absl::ZeroDuration()) << "the 334 ms interval asks for more";
  } else {
    EXPECT_EQ(Wait(task), absl::ZeroDuration()) << "3 per second is what 334 ms gives";
  }
}

INSTANTIATE_TEST_SUITE_P(PerSecond, EnginePollLimitTest, ::testing::Values(1, 2, 3));

// Callbacks are not limited: a task whose polls are all used up still takes its callback.
TEST_F(EngineRateLimitTest, CallbacksAreNotLimited) {
  adapters::RateLimits limits;
  limits.creates_per_window = 1;
  limits.create_window = absl::Seconds(10);
  limits.polls_per_second = 1;
  Start(limits, absl::ZeroDuration());
  const std::string id = Create();
  RunUntilIdle();
  Advance(absl::Milliseconds(400));  // the poll after the create used the second's one poll
  EXPECT_EQ(provider_->polls(), 1);
  adapters::ProviderUpdate done;
  done.state = adapters::ProviderState::kSucceeded;
  done.provider_status = "SUCCESS";
  music::v1::Clip clip;
  clip.set_clip_id("clip-1");
  clip.set_audio_url("http://audio/clip-1.wav");
  done.clips.push_back(clip);
  provider_->DefineCallback("complete", done);
  EXPECT_THAT(Callback(id, "complete"), IsOk());
  EXPECT_EQ(State(id), music::v1::TASK_STATE_SUCCEEDED);
}

}  // namespace
}  // namespace music::service
