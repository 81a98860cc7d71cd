#include "service/core/task_engine.h"

#include <gtest/gtest.h>
#include <stdlib.h>

#include <atomic>
#include <functional>
#include <thread>
#include <vector>

#include "adapters/provider_errors.h"
#include "persistence/sqlite/sqlite_task_store.h"
#include "tests/testing/fake_clock.h"
#include "tests/service/core/fake_provider.h"

namespace music::service {
namespace {

using domain::SubmissionState;
using domain::TaskRecord;

// Records every task version published, in order.
class RecordingWatcher : public TaskWatcher {
 public:
  void OnTaskChanged(const music::v1::Task& task) override {
    absl::MutexLock lock(&mu_);
    versions_.push_back(task.version());
  }
  void OnHeartbeat() override {}
  void OnShutdown() override {}
  std::vector<int64_t> versions() {
    absl::MutexLock lock(&mu_);
    return versions_;
  }

 private:
  absl::Mutex mu_;
  std::vector<int64_t> versions_;
};

class TaskEngineTest : public ::testing::Test {
 protected:
  void SetUp() override { Open(adapters::ResubmitPolicy::kAtMostOnce); }

  void Open(adapters::ResubmitPolicy policy) {
    std::string tmpl = ::testing::TempDir() + "/engine_XXXXXX";
    ASSERT_NE(mkdtemp(tmpl.data()), nullptr);
    dir_ = tmpl;
    persistence::SqliteOptions o;
    o.path = dir_ + "/tasks.db";
    o.synchronous = "NORMAL";
    auto store = persistence::OpenSqliteTaskStore(o);
    ASSERT_TRUE(store.ok()) << store.status();
    store_ = std::move(*store);
    provider_ = std::make_shared<FakeProvider>(policy);
    registry_.Add(provider_);
    catalog_ = std::make_unique<Catalog>(provider_->Models(), "fake-model");
    hub_ = std::make_unique<WatchHub>(absl::Hours(1));
  }

  void StartEngine() {
    EngineOptions o;
    o.poll_interval = absl::Seconds(5);
    o.task_deadline = absl::Seconds(60);
    o.backoff_initial = absl::Seconds(1);
    o.backoff_max = absl::Seconds(8);
    o.max_submit_attempts = 3;
    o.unknown_submission_grace = absl::Seconds(30);
    o.callback_base_url = "http://cb.example";
    o.workers = 2;
    o.scheduler_tick = absl::Milliseconds(2);
    engine_ = std::make_unique<TaskEngine>(o, store_.get(), &registry_, catalog_.get(), &clock_,
                                           hub_.get());
    ASSERT_TRUE(engine_->Start().ok());
  }

  void TearDown() override {
    if (engine_) engine_->Shutdown();
  }

  CreateSpec Spec(const std::string& request_id = "", const std::string& prompt = "a song") {
    CreateSpec spec;
    spec.tenant = "default";
    spec.request_id = request_id;
    spec.kind = music::v1::TASK_KIND_MUSIC;
    spec.model = catalog_->Find("fake-model");
    spec.input.set_prompt(prompt);
    return spec;
  }

  TaskRecord Get(const std::string& id) {
    auto r = store_->Get(id);
    EXPECT_TRUE(r.ok()) << r.status();
    return r.ok() ? *r : TaskRecord{};
  }

  // Waits (bounded, real time) for the engine's threads to reach a state.
  bool WaitFor(const std::function<bool()>& done) {
    for (int i = 0; i < 2000; ++i) {
      if (done()) return true;
      engine_->Kick();
      absl::SleepFor(absl::Milliseconds(2));
    }
    return done();
  }
  // Gives the engine's threads a chance to (wrongly) act, for negative checks.
  void Settle() {
    for (int i = 0; i < 20; ++i) {
      engine_->Kick();
      absl::SleepFor(absl::Milliseconds(2));
    }
  }
  void Advance(absl::Duration d) {
    clock_.Advance(d);
    engine_->Kick();
  }

  std::string CreateRunning() {
    auto created = engine_->Create(Spec());
    EXPECT_TRUE(created.ok());
    const std::string id = created->task.task_id();
    EXPECT_TRUE(WaitFor([&] { return Get(id).task.state() == music::v1::TASK_STATE_RUNNING; }));
    return id;
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

  std::string dir_;
  FakeClock clock_;
  std::unique_ptr<persistence::TaskStore> store_;
  std::shared_ptr<FakeProvider> provider_;
  ProviderRegistry registry_;
  std::unique_ptr<Catalog> catalog_;
  std::unique_ptr<WatchHub> hub_;
  std::unique_ptr<TaskEngine> engine_;
};

TEST_F(TaskEngineTest, CreateSubmitsPollsAndSucceeds) {
  StartEngine();
  RecordingWatcher watcher;
  auto created = engine_->Create(Spec());
  ASSERT_TRUE(created.ok()) << created.status();
  const std::string id = created->task.task_id();
  const int64_t token = hub_->Subscribe(id, &watcher);
  EXPECT_EQ(created->task.state(), music::v1::TASK_STATE_PENDING);
  EXPECT_EQ(created->task.version(), 1);

  ASSERT_TRUE(WaitFor([&] { return Get(id).task.state() == music::v1::TASK_STATE_RUNNING; }));
  EXPECT_EQ(provider_->submits(), 1);
  EXPECT_EQ(provider_->last_submit().callback_url, "http://cb.example/callbacks/fake/" + id);
  EXPECT_EQ(provider_->last_submit().provider_model, "F1");
  EXPECT_EQ(Get(id).task.provider_task_id(), "prov-1");
  EXPECT_EQ(Get(id).submission, SubmissionState::kSubmitted);

  provider_->QueuePoll(Success());
  Advance(absl::Seconds(5));
  ASSERT_TRUE(WaitFor([&] { return Get(id).task.state() == music::v1::TASK_STATE_SUCCEEDED; }));
  const auto task = Get(id).task;
  EXPECT_EQ(task.clips(0).audio_url(), "http://audio/clip-1.wav");
  EXPECT_TRUE(task.has_end_time());
  // Every write was published, in order, one version at a time.
  auto versions = watcher.versions();
  ASSERT_FALSE(versions.empty());
  for (size_t i = 1; i < versions.size(); ++i) EXPECT_EQ(versions[i], versions[i - 1] + 1);
  EXPECT_EQ(versions.back(), task.version());
  hub_->Unsubscribe(token);
}

TEST_F(TaskEngineTest, RateLimitedSubmissionWaitsForRetryAfter) {
  absl::Status limited = absl::ResourceExhaustedError("429");
  adapters::SetRetryAfter(limited, absl::Seconds(4));
  provider_->QueueSubmit(limited);
  provider_->QueueSubmit(std::string("prov-ok"));
  StartEngine();
  auto created = engine_->Create(Spec());
  ASSERT_TRUE(created.ok());
  const std::string id = created->task.task_id();
  ASSERT_TRUE(WaitFor([&] { return Get(id).task.version() >= 3; }));  // submitting, then backoff
  EXPECT_EQ(Get(id).attempts, 1);
  EXPECT_EQ(Get(id).submission, SubmissionState::kNotSubmitted);
  Advance(absl::Seconds(3));
  Settle();
  EXPECT_EQ(provider_->submits(), 1);  // Retry-After (4 s) not over yet
  Advance(absl::Seconds(2));
  ASSERT_TRUE(WaitFor([&] { return Get(id).task.provider_task_id() == "prov-ok"; }));
  EXPECT_EQ(provider_->submits(), 2);
}

TEST_F(TaskEngineTest, PermanentProviderErrorFailsTask) {
  absl::Status no_credits = absl::FailedPreconditionError("insufficient credits");
  adapters::SetProviderErrorCode(no_credits, "402");
  provider_->QueueSubmit(no_credits);
  StartEngine();
  auto created = engine_->Create(Spec());
  const std::string id = created->task.task_id();
  ASSERT_TRUE(WaitFor([&] { return Get(id).task.state() == music::v1::TASK_STATE_FAILED; }));
  EXPECT_EQ(Get(id).task.error().code(), static_cast<int>(absl::StatusCode::kFailedPrecondition));
  EXPECT_EQ(Get(id).task.error().provider_error_code(), "402");
  EXPECT_EQ(provider_->submits(), 1);
}

TEST_F(TaskEngineTest, RetryableErrorsStopAfterMaxAttempts) {
  provider_->QueueSubmit(absl::UnavailableError("503"));
  StartEngine();
  auto created = engine_->Create(Spec());
  const std::string id = created->task.task_id();
  for (int i = 0; i < 10 && Get(id).task.state() != music::v1::TASK_STATE_FAILED; ++i) {
    WaitFor([&] { return provider_->submits() > i; });
    Advance(absl::Seconds(8));
  }
  ASSERT_TRUE(WaitFor([&] { return Get(id).task.state() == music::v1::TASK_STATE_FAILED; }));
  EXPECT_EQ(provider_->submits(), 3);
  EXPECT_EQ(Get(id).task.error().code(), static_cast<int>(absl::StatusCode::kUnavailable));
}

TEST_F(TaskEngineTest, LostSubmissionAnswerIsAdoptedFromCallbackNotResent) {
  absl::Status timeout = absl::DeadlineExceededError("timeout");
  adapters::MarkOutcomeUnknown(timeout);
  provider_->QueueSubmit(timeout);
  adapters::ProviderUpdate running;
  running.provider_task_id = "prov-late";
  running.state = adapters::ProviderState::kRunning;
  running.lyrics_ready = true;
  running.provider_status = "TEXT_SUCCESS";
  provider_->DefineCallback("text", running);
  StartEngine();
  auto created = engine_->Create(Spec());
  const std::string id = created->task.task_id();
  ASSERT_TRUE(WaitFor([&] { return Get(id).submission == SubmissionState::kUnknown; }));
  Advance(absl::Seconds(10));
  Settle();
  EXPECT_EQ(provider_->submits(), 1);

  http::Request cb;
  cb.body = "text";
  ASSERT_TRUE(engine_->HandleCallback("fake", id, cb).ok());
  EXPECT_EQ(Get(id).task.provider_task_id(), "prov-late");
  EXPECT_EQ(Get(id).submission, SubmissionState::kSubmitted);
  EXPECT_TRUE(Get(id).task.progress().lyrics_ready());

  provider_->QueuePoll(Success());
  Advance(absl::Seconds(5));
  ASSERT_TRUE(WaitFor([&] { return Get(id).task.state() == music::v1::TASK_STATE_SUCCEEDED; }));
  EXPECT_EQ(provider_->submits(), 1);
}

TEST_F(TaskEngineTest, LostSubmissionWithoutCallbackFailsAfterGrace) {
  absl::Status timeout = absl::DeadlineExceededError("timeout");
  adapters::MarkOutcomeUnknown(timeout);
  provider_->QueueSubmit(timeout);
  StartEngine();
  auto created = engine_->Create(Spec());
  const std::string id = created->task.task_id();
  ASSERT_TRUE(WaitFor([&] { return Get(id).submission == SubmissionState::kUnknown; }));
  Advance(absl::Seconds(31));
  ASSERT_TRUE(WaitFor([&] { return Get(id).task.state() == music::v1::TASK_STATE_FAILED; }));
  EXPECT_EQ(Get(id).task.error().code(), static_cast<int>(absl::StatusCode::kUnavailable));
  EXPECT_EQ(provider_->submits(), 1);
}

// A provider whose creates carry an idempotency key (beatra-like): resending is safe.
class IdempotentProviderEngineTest : public TaskEngineTest {
 protected:
  void SetUp() override { Open(adapters::ResubmitPolicy::kIdempotencyKey); }
};

TEST_F(IdempotentProviderEngineTest, LostSubmissionIsResent) {
  absl::Status timeout = absl::DeadlineExceededError("timeout");
  adapters::MarkOutcomeUnknown(timeout);
  provider_->QueueSubmit(timeout);
  provider_->QueueSubmit(std::string("prov-2"));
  StartEngine();
  auto created = engine_->Create(Spec());
  const std::string id = created->task.task_id();
  ASSERT_TRUE(WaitFor([&] { return provider_->submits() == 1; }));
  Advance(absl::Seconds(2));
  ASSERT_TRUE(WaitFor([&] { return Get(id).task.provider_task_id() == "prov-2"; }));
  EXPECT_EQ(provider_->submits(), 2);
}

TEST_F(TaskEngineTest, DeadlineFailsStuckTask) {
  StartEngine();
  const std::string id = CreateRunning();
  Advance(absl::Seconds(61));
  ASSERT_TRUE(WaitFor([&] { return Get(id).task.state() == music::v1::TASK_STATE_FAILED; }));
  EXPECT_EQ(Get(id).task.error().code(), static_cast<int>(absl::StatusCode::kDeadlineExceeded));
}

TEST_F(TaskEngineTest, FailedPollsRetryAndNeverFailTheTask) {
  StartEngine();
  const std::string id = CreateRunning();
  provider_->QueuePoll(absl::UnavailableError("500"));
  provider_->QueuePoll(absl::InternalError("malformed JSON"));
  provider_->QueuePoll(Success());
  for (int i = 0; i < 6 && Get(id).task.state() != music::v1::TASK_STATE_SUCCEEDED; ++i) {
    Advance(absl::Seconds(8));
    WaitFor([&] { return provider_->polls() > i; });
  }
  ASSERT_TRUE(WaitFor([&] { return Get(id).task.state() == music::v1::TASK_STATE_SUCCEEDED; }));
  EXPECT_GE(provider_->polls(), 3);
}

TEST_F(TaskEngineTest, CancelIsFinalAndReachesProvider) {
  StartEngine();
  const std::string id = CreateRunning();
  auto canceled = engine_->Cancel("default", id);
  ASSERT_TRUE(canceled.ok()) << canceled.status();
  EXPECT_EQ(canceled->state(), music::v1::TASK_STATE_CANCELED);
  ASSERT_TRUE(WaitFor([&] { return provider_->cancels() == 1; }));

  provider_->DefineCallback("complete", Success());
  http::Request cb;
  cb.body = "complete";
  EXPECT_TRUE(engine_->HandleCallback("fake", id, cb).ok());  // accepted, changes nothing
  provider_->QueuePoll(Success());
  Advance(absl::Seconds(10));
  Settle();
  EXPECT_EQ(Get(id).task.state(), music::v1::TASK_STATE_CANCELED);
  EXPECT_EQ(Get(id).task.version(), canceled->version());

  // Canceling again returns it; another tenant cannot see it.
  EXPECT_TRUE(engine_->Cancel("default", id).ok());
  EXPECT_TRUE(absl::IsNotFound(engine_->Cancel("other", id).status()));
}

TEST_F(TaskEngineTest, CancelOfSucceededTaskIsFailedPrecondition) {
  StartEngine();
  const std::string id = CreateRunning();
  provider_->QueuePoll(Success());
  Advance(absl::Seconds(5));
  ASSERT_TRUE(WaitFor([&] { return Get(id).task.state() == music::v1::TASK_STATE_SUCCEEDED; }));
  EXPECT_EQ(engine_->Cancel("default", id).status().code(), absl::StatusCode::kFailedPrecondition);
}

TEST_F(TaskEngineTest, CallbackRejections) {
  StartEngine();
  const std::string id = CreateRunning();
  const int64_t version = Get(id).task.version();
  http::Request forged;
  forged.body = "forged";
  EXPECT_TRUE(absl::IsUnauthenticated(engine_->HandleCallback("fake", id, forged)));
  http::Request garbage;
  garbage.body = "garbage";
  EXPECT_TRUE(absl::IsInvalidArgument(engine_->HandleCallback("fake", id, garbage)));
  EXPECT_TRUE(absl::IsNotFound(engine_->HandleCallback("fake", "tsk_nope", garbage)));
  EXPECT_TRUE(absl::IsNotFound(engine_->HandleCallback("kie", id, garbage)));
  adapters::ProviderUpdate other = Success();
  other.provider_task_id = "someone-else";
  provider_->DefineCallback("other", other);
  http::Request mismatch;
  mismatch.body = "other";
  EXPECT_TRUE(absl::IsFailedPrecondition(engine_->HandleCallback("fake", id, mismatch)));
  EXPECT_EQ(Get(id).task.version(), version);
  EXPECT_EQ(Get(id).task.state(), music::v1::TASK_STATE_RUNNING);
}

TEST_F(TaskEngineTest, DuplicateCallbacksFinishOnce) {
  StartEngine();
  const std::string id = CreateRunning();
  provider_->DefineCallback("complete", Success());
  http::Request cb;
  cb.body = "complete";
  ASSERT_TRUE(engine_->HandleCallback("fake", id, cb).ok());
  const auto done = Get(id).task;
  ASSERT_EQ(done.state(), music::v1::TASK_STATE_SUCCEEDED);
  for (int i = 0; i < 3; ++i) ASSERT_TRUE(engine_->HandleCallback("fake", id, cb).ok());
  EXPECT_EQ(Get(id).task.version(), done.version());
  EXPECT_EQ(Get(id).task.end_time().seconds(), done.end_time().seconds());
}

TEST_F(TaskEngineTest, IdempotentCreates) {
  StartEngine();
  auto first = engine_->Create(Spec("req-1"));
  ASSERT_TRUE(first.ok());
  EXPECT_TRUE(first->created);
  auto again = engine_->Create(Spec("req-1"));
  ASSERT_TRUE(again.ok());
  EXPECT_FALSE(again->created);
  EXPECT_EQ(again->task.task_id(), first->task.task_id());
  auto different = engine_->Create(Spec("req-1", "another song"));
  EXPECT_EQ(different.status().code(), absl::StatusCode::kAlreadyExists);
}

TEST_F(TaskEngineTest, ConcurrentIdempotentCreatesMakeOneTaskAndOneSubmission) {
  StartEngine();
  std::vector<std::thread> threads;
  std::vector<std::string> ids(16);
  for (int i = 0; i < 16; ++i) {
    threads.emplace_back([&, i] {
      auto r = engine_->Create(Spec("same-key"));
      if (r.ok()) ids[i] = r->task.task_id();
    });
  }
  for (auto& t : threads) t.join();
  for (const auto& id : ids) EXPECT_EQ(id, ids[0]);
  ASSERT_TRUE(WaitFor([&] { return provider_->submits() >= 1; }));
  Settle();
  EXPECT_EQ(provider_->submits(), 1);
}

TEST_F(TaskEngineTest, RestartFindsInterruptedSubmissionAndDoesNotResend) {
  // A task whose create may have been in flight when the process died.
  TaskRecord r;
  r.task.set_task_id("tsk_interrupted");
  r.task.set_tenant("default");
  r.task.set_kind(music::v1::TASK_KIND_MUSIC);
  r.task.set_model("fake-model");
  r.task.set_provider("fake");
  r.task.set_state(music::v1::TASK_STATE_PENDING);
  r.task.set_version(1);
  r.submission = SubmissionState::kSubmitting;
  r.next_action_time = clock_.Now();
  r.deadline = clock_.Now() + absl::Seconds(60);
  ASSERT_TRUE(store_->Create(r).ok());
  StartEngine();
  ASSERT_TRUE(
      WaitFor([&] { return Get("tsk_interrupted").submission == SubmissionState::kUnknown; }));
  Settle();
  EXPECT_EQ(provider_->submits(), 0);
}

TEST_F(TaskEngineTest, RestartResumesRunningTasks) {
  StartEngine();
  const std::string id = CreateRunning();
  engine_->Shutdown();
  engine_.reset();
  provider_->QueuePoll(Success());
  StartEngine();  // a new engine on the same store
  Advance(absl::Seconds(5));
  ASSERT_TRUE(WaitFor([&] { return Get(id).task.state() == music::v1::TASK_STATE_SUCCEEDED; }));
  EXPECT_EQ(provider_->submits(), 1);
}

}  // namespace
}  // namespace music::service
