// The engine's in-memory side: the active set (a poll that changes nothing touches no store),
// asynchronous provider requests (no worker waits on a provider), timers (each due task runs
// once), submissions ahead of polls, and callbacks as the main signal.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <atomic>
#include <string>
#include <vector>

#include "service/core/task_engine.h"
#include "tests/testing/engine_fixture.h"
#include "tests/testing/status_matchers.h"

namespace music::service {
namespace {

using domain::SubmissionState;
using domain::TaskRecord;

// Counts the reads and writes that reach the real store underneath.
class CountingTaskStore : public persistence::TaskStore {
 public:
  explicit CountingTaskStore(persistence::TaskStore* inner) : inner_(inner) {}
  absl::StatusOr<persistence::CreateResult> Create(const TaskRecord& record) override {
    ++writes;
    return inner_->Create(record);
  }
  absl::StatusOr<persistence::CreateResult> Create(
      const TaskRecord& record, absl::Span<const billing::BillingTransaction> ledger) override {
    ++writes;
    return inner_->Create(record, ledger);
  }
  absl::StatusOr<TaskRecord> Get(absl::string_view task_id) override {
    ++reads;
    return inner_->Get(task_id);
  }
  absl::Status Update(const TaskRecord& record) override {
    ++writes;
    return inner_->Update(record);
  }
  absl::Status Update(const TaskRecord& record,
                      absl::Span<const billing::BillingTransaction> ledger) override {
    ++writes;
    return inner_->Update(record, ledger);
  }
  absl::StatusOr<persistence::ListPage> List(const persistence::ListQuery& query) override {
    ++reads;
    return inner_->List(query);
  }
  absl::StatusOr<std::vector<TaskRecord>> ListActive(int limit) override {
    ++reads;
    return inner_->ListActive(limit);
  }
  absl::StatusOr<TaskRecord> FindByClipId(absl::string_view tenant,
                                          absl::string_view clip_id) override {
    ++reads;
    return inner_->FindByClipId(tenant, clip_id);
  }
  absl::StatusOr<TaskRecord> FindByProviderTaskId(absl::string_view provider,
                                                  absl::string_view provider_task_id) override {
    ++reads;
    return inner_->FindByProviderTaskId(provider, provider_task_id);
  }

  std::atomic<int> reads{0};
  std::atomic<int> writes{0};

 private:
  persistence::TaskStore* const inner_;
};

class EngineSchedulingTest : public EngineFixture {
 protected:
  void SetUp() override {
    OpenStore();
    counting_ = std::make_unique<CountingTaskStore>(store_);
    real_store_ = store_;
    store_ = counting_.get();  // the engine sees the counting store
    provider_ = std::make_shared<FakeProvider>();
    registry_.Add(provider_);
    catalog_ = std::make_unique<Catalog>(provider_->Models(), "fake-model");
  }

  CreateSpec Spec() {
    CreateSpec spec;
    spec.tenant = "default";
    spec.kind = music::v1::TASK_KIND_MUSIC;
    spec.model = catalog_->Find("fake-model");
    spec.input.set_prompt("a song");
    return spec;
  }

  std::string Create() {
    auto created = engine_->Create(Spec());
    EXPECT_THAT(created, IsOk());
    return created.ok() ? created->task.task_id() : "";
  }

  // Reads the store without counting.
  TaskRecord Stored(const std::string& id) {
    auto r = real_store_->Get(id);
    EXPECT_THAT(r, IsOk());
    return r.ok() ? *r : TaskRecord{};
  }

  static adapters::ProviderUpdate Running() {
    adapters::ProviderUpdate u;
    u.state = adapters::ProviderState::kRunning;
    u.provider_status = "TEXT_SUCCESS";
    u.lyrics_ready = true;
    return u;
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

  std::unique_ptr<CountingTaskStore> counting_;
  persistence::TaskStore* real_store_ = nullptr;
  std::shared_ptr<FakeProvider> provider_;
};

TEST_F(EngineSchedulingTest, PollThatChangesNothingReadsAndWritesNothing) {
  StartEngine(DefaultOptions());
  const std::string id = Create();
  RunUntilIdle();
  ASSERT_EQ(Stored(id).task.state(), music::v1::TASK_STATE_RUNNING);
  provider_->QueuePoll(Running());
  Advance(absl::Seconds(5));  // the first RUNNING answer changes the progress: one write
  ASSERT_EQ(provider_->polls(), 1);
  const int64_t version = Stored(id).task.version();

  counting_->reads = 0;
  counting_->writes = 0;
  for (int i = 0; i < 3; ++i) Advance(absl::Seconds(5));
  EXPECT_EQ(provider_->polls(), 4);
  EXPECT_EQ(counting_->reads.load(), 0);
  EXPECT_EQ(counting_->writes.load(), 0);
  EXPECT_EQ(Stored(id).task.version(), version);

  // A change is still written, from the cached record, at the next version (the fake answers
  // its queue in order: one more "running", then the success).
  provider_->QueuePoll(Success());
  Advance(absl::Seconds(5));
  Advance(absl::Seconds(5));
  EXPECT_EQ(Stored(id).task.state(), music::v1::TASK_STATE_SUCCEEDED);
  EXPECT_EQ(Stored(id).task.version(), version + 1);
  EXPECT_EQ(counting_->reads.load(), 0);
  EXPECT_EQ(counting_->writes.load(), 1);
}

TEST_F(EngineSchedulingTest, RequestsInFlightHoldNoWorkerAndRunEachTaskOnce) {
  StartEngine(DefaultOptions());
  provider_->set_hold_async(true);
  const std::string id = Create();
  RunUntilIdle();
  // The create is in flight: nothing waits on the executor, the task is marked submitting.
  EXPECT_EQ(provider_->held(), 1);
  EXPECT_EQ(executor_.pending(), 0);
  EXPECT_EQ(Stored(id).submission, SubmissionState::kSubmitting);

  ASSERT_EQ(provider_->ReleaseHeld(), 1);
  EXPECT_EQ(executor_.pending(), 1);  // the follow-up (a store write) runs on the executor
  RunUntilIdle();
  ASSERT_EQ(Stored(id).task.state(), music::v1::TASK_STATE_RUNNING);

  Advance(absl::Seconds(5));
  EXPECT_EQ(provider_->polls(), 1);
  EXPECT_EQ(provider_->held(), 1);
  // While the poll is in flight the task has no timer: the next poll is timed from the answer,
  // so a slow provider is never polled twice at once.
  Advance(absl::Seconds(5));
  Advance(absl::Seconds(5));
  EXPECT_EQ(provider_->polls(), 1);
  EXPECT_EQ(executor_.pending(), 0);

  provider_->QueuePoll(Success());  // for the next poll (the one in flight has its answer)
  ASSERT_EQ(provider_->ReleaseHeld(), 1);
  RunUntilIdle();
  EXPECT_EQ(Stored(id).task.state(), music::v1::TASK_STATE_RUNNING);
  EXPECT_EQ(provider_->polls(), 1);
  Advance(absl::Seconds(5));
  EXPECT_EQ(provider_->polls(), 2);
  ASSERT_EQ(provider_->ReleaseHeld(), 1);
  RunUntilIdle();
  EXPECT_EQ(Stored(id).task.state(), music::v1::TASK_STATE_SUCCEEDED);

  // Shutdown with nothing in flight returns at once.
  engine_->Shutdown();
}

TEST_F(EngineSchedulingTest, SubmissionsRunAheadOfPolls) {
  StartEngine(DefaultOptions());
  std::vector<std::string> running;
  for (int i = 0; i < 3; ++i) running.push_back(Create());
  RunUntilIdle();
  ASSERT_EQ(provider_->submits(), 3);
  // Three polls become due, and a new task arrives at the same moment.
  clock_.Advance(absl::Seconds(5));
  const std::string fresh = Create();
  ASSERT_EQ(engine_->RunDue(), 4);
  ASSERT_EQ(executor_.pending(), 4);
  ASSERT_TRUE(executor_.RunOne());
  EXPECT_EQ(provider_->submits(), 4) << "the new task's submission ran first";
  EXPECT_EQ(provider_->polls(), 0);
  RunUntilIdle();
  EXPECT_EQ(provider_->polls(), 3);
  EXPECT_EQ(Stored(fresh).task.state(), music::v1::TASK_STATE_RUNNING);
}

TEST_F(EngineSchedulingTest, WorkingCallbacksStretchThePollInterval) {
  EngineOptions options = DefaultOptions();
  options.callback_poll_interval = absl::Seconds(60);
  options.task_deadline = absl::Hours(1);
  StartEngine(options);
  const std::string a = Create();
  RunUntilIdle();
  // No callback yet from this provider: polled every poll_interval.
  Advance(absl::Seconds(5));
  EXPECT_EQ(provider_->polls(), 1);

  provider_->DefineCallback("progress", Running());
  ASSERT_THAT(Callback(a, "progress"), IsOk());
  Advance(absl::Seconds(5));  // the poll already due at +5 s runs, then waits 60 s
  const int after_callback = provider_->polls();
  for (int i = 0; i < 10; ++i) Advance(absl::Seconds(5));  // 50 s
  EXPECT_EQ(provider_->polls(), after_callback) << "a working callback channel is not polled";
  Advance(absl::Seconds(15));
  EXPECT_EQ(provider_->polls(), after_callback + 1) << "an overdue callback is checked by a poll";

  // The channel counts as working only while callbacks keep coming (callback_trust_window).
  Advance(absl::Minutes(11));
  const int stale = provider_->polls();
  Advance(absl::Seconds(60));
  Advance(absl::Seconds(5));
  EXPECT_GE(provider_->polls(), stale + 1);
}

TEST_F(EngineSchedulingTest, EveryDueTaskRunsOncePerInterval) {
  StartEngine(DefaultOptions());
  constexpr int kTasks = 300;
  std::vector<std::string> ids;
  for (int i = 0; i < kTasks; ++i) ids.push_back(Create());
  RunUntilIdle();
  ASSERT_EQ(provider_->submits(), kTasks);
  for (int round = 1; round <= 3; ++round) {
    Advance(absl::Seconds(5));
    EXPECT_EQ(provider_->polls(), round * kTasks);
  }
  // Finished tasks leave the schedule: no poll after SUCCEEDED.
  provider_->QueuePoll(Success());
  Advance(absl::Seconds(5));
  EXPECT_EQ(provider_->polls(), 4 * kTasks);
  for (const auto& id : ids) EXPECT_EQ(Stored(id).task.state(), music::v1::TASK_STATE_SUCCEEDED);
  Advance(absl::Seconds(5));
  Advance(absl::Seconds(5));
  EXPECT_EQ(provider_->polls(), 4 * kTasks);
}

TEST_F(EngineSchedulingTest, RestartReadsTheStoreAgain) {
  StartEngine(DefaultOptions());
  const std::string id = Create();
  RunUntilIdle();
  StopEngine();
  counting_->reads = 0;
  StartEngine(DefaultOptions());
  EXPECT_GE(counting_->reads.load(), 1);  // ListActive
  provider_->QueuePoll(Success());
  Advance(absl::Seconds(10));
  EXPECT_EQ(Stored(id).task.state(), music::v1::TASK_STATE_SUCCEEDED);
}

}  // namespace
}  // namespace music::service
