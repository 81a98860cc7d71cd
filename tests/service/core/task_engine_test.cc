#include "service/core/task_engine.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <atomic>
#include <functional>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "adapters/provider_errors.h"
#include "tests/testing/engine_fixture.h"
#include "tests/testing/status_matchers.h"

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

class TaskEngineTest : public EngineFixture {
 protected:
  void SetUp() override { Open(adapters::ResubmitPolicy::kAtMostOnce); }

  void Open(adapters::ResubmitPolicy policy) {
    OpenStore();
    provider_ = std::make_shared<FakeProvider>(policy);
    registry_.Add(provider_);
    catalog_ = std::make_unique<Catalog>(provider_->Models(), "fake-model");
  }

  void StartEngine() { EngineFixture::StartEngine(DefaultOptions()); }

  CreateSpec Spec(const std::string& request_id = "", const std::string& prompt = "a song") {
    CreateSpec spec;
    spec.tenant = "default";
    spec.request_id = request_id;
    spec.kind = music::v1::TASK_KIND_MUSIC;
    spec.model = catalog_->Find("fake-model");
    spec.input.set_prompt(prompt);
    return spec;
  }

  std::string CreateRunning() {
    auto created = engine_->Create(Spec());
    EXPECT_THAT(created, IsOk());
    const std::string id = created->task.task_id();
    RunUntilIdle();
    EXPECT_EQ(Get(id).task.state(), music::v1::TASK_STATE_RUNNING);
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

  std::shared_ptr<FakeProvider> provider_;
};

TEST_F(TaskEngineTest, CreateSubmitsPollsAndSucceeds) {
  StartEngine();
  RecordingWatcher watcher;
  auto created = engine_->Create(Spec());
  ASSERT_THAT(created, IsOk());
  const std::string id = created->task.task_id();
  const int64_t token = hub_->Subscribe(id, &watcher);
  EXPECT_EQ(created->task.state(), music::v1::TASK_STATE_PENDING);
  EXPECT_EQ(created->task.version(), 1);

  RunUntilIdle();
  ASSERT_EQ(Get(id).task.state(), music::v1::TASK_STATE_RUNNING);
  EXPECT_EQ(provider_->submits(), 1);
  EXPECT_EQ(provider_->last_submit().callback_url,
            absl::StrCat("http://cb.example/callbacks/fake/", id, "/", Token(id)));
  EXPECT_EQ(provider_->last_submit().provider_model, "F1");
  EXPECT_EQ(Get(id).task.provider_task_id(), "prov-1");
  EXPECT_EQ(Get(id).submission, SubmissionState::kSubmitted);

  provider_->QueuePoll(Success());
  Advance(absl::Seconds(5));
  ASSERT_EQ(Get(id).task.state(), music::v1::TASK_STATE_SUCCEEDED);
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
  ASSERT_THAT(created, IsOk());
  const std::string id = created->task.task_id();
  RunUntilIdle();
  ASSERT_TRUE(Get(id).task.version() >= 3);  // submitting, then backoff
  EXPECT_EQ(Get(id).attempts, 1);
  EXPECT_EQ(Get(id).submission, SubmissionState::kNotSubmitted);
  Advance(absl::Seconds(3));
  EXPECT_EQ(provider_->submits(), 1);  // Retry-After (4 s) not over yet
  Advance(absl::Seconds(2));
  ASSERT_EQ(Get(id).task.provider_task_id(), "prov-ok");
  EXPECT_EQ(provider_->submits(), 2);
}

TEST_F(TaskEngineTest, PermanentProviderErrorFailsTask) {
  absl::Status no_credits = absl::FailedPreconditionError("insufficient credits");
  adapters::SetProviderErrorCode(no_credits, "402");
  provider_->QueueSubmit(no_credits);
  StartEngine();
  auto created = engine_->Create(Spec());
  const std::string id = created->task.task_id();
  RunUntilIdle();
  ASSERT_EQ(Get(id).task.state(), music::v1::TASK_STATE_FAILED);
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
    RunUntilIdle();
    Advance(absl::Seconds(8));
  }
  RunUntilIdle();
  ASSERT_EQ(Get(id).task.state(), music::v1::TASK_STATE_FAILED);
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
  RunUntilIdle();
  ASSERT_EQ(Get(id).submission, SubmissionState::kUnknown);
  Advance(absl::Seconds(10));
  EXPECT_EQ(provider_->submits(), 1);

  http::Request cb;
  cb.body = "text";
  ASSERT_THAT(engine_->HandleCallback("fake", id, Token(id, "fake"), cb), IsOk());
  EXPECT_EQ(Get(id).task.provider_task_id(), "prov-late");
  EXPECT_EQ(Get(id).submission, SubmissionState::kSubmitted);
  EXPECT_TRUE(Get(id).task.progress().lyrics_ready());

  provider_->QueuePoll(Success());
  Advance(absl::Seconds(5));
  ASSERT_EQ(Get(id).task.state(), music::v1::TASK_STATE_SUCCEEDED);
  EXPECT_EQ(provider_->submits(), 1);
}

TEST_F(TaskEngineTest, LostSubmissionWithoutCallbackFailsAfterGrace) {
  absl::Status timeout = absl::DeadlineExceededError("timeout");
  adapters::MarkOutcomeUnknown(timeout);
  provider_->QueueSubmit(timeout);
  StartEngine();
  auto created = engine_->Create(Spec());
  const std::string id = created->task.task_id();
  RunUntilIdle();
  ASSERT_EQ(Get(id).submission, SubmissionState::kUnknown);
  Advance(absl::Seconds(31));
  ASSERT_EQ(Get(id).task.state(), music::v1::TASK_STATE_FAILED);
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
  RunUntilIdle();
  ASSERT_EQ(provider_->submits(), 1);
  Advance(absl::Seconds(2));
  ASSERT_EQ(Get(id).task.provider_task_id(), "prov-2");
  EXPECT_EQ(provider_->submits(), 2);
}

TEST_F(TaskEngineTest, DeadlineFailsStuckTask) {
  StartEngine();
  const std::string id = CreateRunning();
  Advance(absl::Seconds(61));
  ASSERT_EQ(Get(id).task.state(), music::v1::TASK_STATE_FAILED);
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
  }
  RunUntilIdle();
  ASSERT_EQ(Get(id).task.state(), music::v1::TASK_STATE_SUCCEEDED);
  EXPECT_GE(provider_->polls(), 3);
}

TEST_F(TaskEngineTest, CancelIsFinalAndReachesProvider) {
  StartEngine();
  const std::string id = CreateRunning();
  auto canceled = engine_->Cancel("default", id);
  ASSERT_THAT(canceled, IsOk());
  EXPECT_EQ(canceled->state(), music::v1::TASK_STATE_CANCELED);
  RunUntilIdle();
  ASSERT_EQ(provider_->cancels(), 1);

  provider_->DefineCallback("complete", Success());
  http::Request cb;
  cb.body = "complete";
  EXPECT_THAT(engine_->HandleCallback("fake", id, Token(id, "fake"), cb), IsOk());  // accepted, changes nothing
  provider_->QueuePoll(Success());
  Advance(absl::Seconds(10));
  EXPECT_EQ(Get(id).task.state(), music::v1::TASK_STATE_CANCELED);
  EXPECT_EQ(Get(id).task.version(), canceled->version());

  // Canceling again returns it; another tenant cannot see it.
  EXPECT_THAT(engine_->Cancel("default", id), IsOk());
  EXPECT_THAT(engine_->Cancel("other", id), StatusIs(absl::StatusCode::kNotFound));
}

TEST_F(TaskEngineTest, CancelOfSucceededTaskIsFailedPrecondition) {
  StartEngine();
  const std::string id = CreateRunning();
  provider_->QueuePoll(Success());
  Advance(absl::Seconds(5));
  ASSERT_EQ(Get(id).task.state(), music::v1::TASK_STATE_SUCCEEDED);
  EXPECT_THAT(engine_->Cancel("default", id), StatusIs(absl::StatusCode::kFailedPrecondition));
}

TEST_F(TaskEngineTest, CallbackRejections) {
  StartEngine();
  const std::string id = CreateRunning();
  const int64_t version = Get(id).task.version();
  http::Request forged;
  forged.body = "forged";
  EXPECT_THAT(engine_->HandleCallback("fake", id, Token(id, "fake"), forged),
              StatusIs(absl::StatusCode::kUnauthenticated));
  http::Request garbage;
  garbage.body = "garbage";
  EXPECT_THAT(engine_->HandleCallback("fake", id, Token(id, "fake"), garbage),
              StatusIs(absl::StatusCode::kInvalidArgument));
  EXPECT_THAT(engine_->HandleCallback("fake", "tsk_nope", Token("tsk_nope", "fake"), garbage),
              StatusIs(absl::StatusCode::kNotFound));
  EXPECT_THAT(engine_->HandleCallback("kie", id, Token(id, "kie"), garbage), StatusIs(absl::StatusCode::kNotFound));
  adapters::ProviderUpdate other = Success();
  other.provider_task_id = "someone-else";
  provider_->DefineCallback("other", other);
  http::Request mismatch;
  mismatch.body = "other";
  EXPECT_THAT(engine_->HandleCallback("fake", id, Token(id, "fake"), mismatch),
              StatusIs(absl::StatusCode::kFailedPrecondition));
  EXPECT_EQ(Get(id).task.version(), version);
  EXPECT_EQ(Get(id).task.state(), music::v1::TASK_STATE_RUNNING);
}

// Fail closed: whatever the provider signs (the fake signs nothing here), a delivery whose URL
// token is not this task's is refused before its body is parsed, and changes nothing.
TEST_F(TaskEngineTest, CallbackWithoutThisTasksTokenIsRefusedBeforeItsBodyIsRead) {
  StartEngine();
  const std::string id = CreateRunning();
  const std::string other = CreateRunning();
  const int64_t version = Get(id).task.version();
  provider_->DefineCallback("complete", Success());
  http::Request cb;
  cb.body = "complete";
  const std::string right = Token(id);
  std::string flipped = right;
  flipped.back() = flipped.back() == 'A' ? 'B' : 'A';
  for (const std::string& token :
       {std::string(), flipped, Token(other), Token(id, "kie"), right.substr(0, 31),
        right + "A", CallbackToken("another-secret", "fake", id)}) {
    EXPECT_THAT(engine_->HandleCallback("fake", id, token, cb),
                StatusIs(absl::StatusCode::kUnauthenticated))
        << "token \"" << token << "\"";
  }
  // Refused before the body: garbage under a wrong token is not INVALID_ARGUMENT.
  http::Request garbage;
  garbage.body = "garbage";
  EXPECT_THAT(engine_->HandleCallback("fake", id, flipped, garbage),
              StatusIs(absl::StatusCode::kUnauthenticated));
  EXPECT_EQ(Get(id).task.version(), version);
  EXPECT_EQ(Get(id).task.state(), music::v1::TASK_STATE_RUNNING);
  EXPECT_EQ(Get(other).task.state(), music::v1::TASK_STATE_RUNNING);
  // The URL handed out carries the token that is accepted.
  EXPECT_EQ(engine_->CallbackUrl("fake", id),
            absl::StrCat("http://cb.example/callbacks/fake/", id, "/", right));
  EXPECT_EQ(right.size(), 32u);  // 192 bits, base64url
  ASSERT_THAT(engine_->HandleCallback("fake", id, right, cb), IsOk());
  EXPECT_EQ(Get(id).task.state(), music::v1::TASK_STATE_SUCCEEDED);
}

TEST_F(TaskEngineTest, LostSubmissionIsNotAdoptedFromAForgedCallback) {
  StartEngine();
  const std::string other = CreateRunning();
  absl::Status timeout = absl::DeadlineExceededError("timeout");
  adapters::MarkOutcomeUnknown(timeout);
  provider_->QueueSubmit(timeout);
  adapters::ProviderUpdate forged = Success();
  forged.provider_task_id = "attacker-task";
  provider_->DefineCallback("forged-complete", forged);
  auto created = engine_->Create(Spec());
  ASSERT_THAT(created.status(), IsOk());
  const std::string id = created->task.task_id();
  RunUntilIdle();
  ASSERT_EQ(Get(id).submission, SubmissionState::kUnknown);
  http::Request cb;
  cb.body = "forged-complete";
  for (const std::string& token : {std::string(), Token(other), Token(id, "kie")}) {
    EXPECT_THAT(engine_->HandleCallback("fake", id, token, cb),
                StatusIs(absl::StatusCode::kUnauthenticated));
  }
  EXPECT_EQ(Get(id).submission, SubmissionState::kUnknown);
  EXPECT_EQ(Get(id).task.provider_task_id(), "");
  EXPECT_NE(Get(id).task.state(), music::v1::TASK_STATE_SUCCEEDED);
}

TEST_F(TaskEngineTest, CallbackTokensOfThePreviousSecretAreAcceptedDuringARotation) {
  EngineOptions o = DefaultOptions();
  o.callback_token_secrets = {"the-new-secret", kCallbackSecret};
  EngineFixture::StartEngine(o);
  const std::string id = CreateRunning();
  provider_->DefineCallback("complete", Success());
  http::Request cb;
  cb.body = "complete";
  // New URLs carry the new secret's token; a task created before the rotation still holds a
  // URL with the old one, which is accepted until the old secret is dropped.
  EXPECT_EQ(engine_->CallbackUrl("fake", id),
            absl::StrCat("http://cb.example/callbacks/fake/", id, "/",
                         CallbackToken("the-new-secret", "fake", id)));
  ASSERT_THAT(engine_->HandleCallback("fake", id, Token(id), cb), IsOk());
  EXPECT_EQ(Get(id).task.state(), music::v1::TASK_STATE_SUCCEEDED);
}

TEST_F(TaskEngineTest, WithoutACallbackSecretNoUrlIsHandedOutAndEveryCallbackIsRefused) {
  EngineOptions o = DefaultOptions();
  o.callback_token_secrets.clear();
  EngineFixture::StartEngine(o);
  const std::string id = CreateRunning();
  provider_->DefineCallback("complete", Success());
  http::Request cb;
  cb.body = "complete";
  EXPECT_EQ(engine_->CallbackUrl("fake", id), "");
  for (const std::string& token : {std::string(), Token(id), CallbackToken("", "fake", id)}) {
    EXPECT_THAT(engine_->HandleCallback("fake", id, token, cb),
                StatusIs(absl::StatusCode::kUnauthenticated));
  }
  EXPECT_EQ(Get(id).task.state(), music::v1::TASK_STATE_RUNNING);
}

TEST_F(TaskEngineTest, DuplicateCallbacksFinishOnce) {
  StartEngine();
  const std::string id = CreateRunning();
  provider_->DefineCallback("complete", Success());
  http::Request cb;
  cb.body = "complete";
  ASSERT_THAT(engine_->HandleCallback("fake", id, Token(id, "fake"), cb), IsOk());
  const auto done = Get(id).task;
  ASSERT_EQ(done.state(), music::v1::TASK_STATE_SUCCEEDED);
  for (int i = 0; i < 3; ++i) ASSERT_THAT(engine_->HandleCallback("fake", id, Token(id, "fake"), cb), IsOk());
  EXPECT_EQ(Get(id).task.version(), done.version());
  EXPECT_EQ(Get(id).task.end_time().seconds(), done.end_time().seconds());
}

TEST_F(TaskEngineTest, IdempotentCreates) {
  StartEngine();
  auto first = engine_->Create(Spec("req-1"));
  ASSERT_THAT(first, IsOk());
  EXPECT_TRUE(first->created);
  auto again = engine_->Create(Spec("req-1"));
  ASSERT_THAT(again, IsOk());
  EXPECT_FALSE(again->created);
  EXPECT_EQ(again->task.task_id(), first->task.task_id());
  auto different = engine_->Create(Spec("req-1", "another song"));
  EXPECT_THAT(different, StatusIs(absl::StatusCode::kAlreadyExists));
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
  RunUntilIdle();
  ASSERT_GE(provider_->submits(), 1);
  RunUntilIdle();
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
  ASSERT_THAT(store_->Create(r), IsOk());
  StartEngine();
  RunUntilIdle();
  ASSERT_EQ(Get("tsk_interrupted").submission, SubmissionState::kUnknown);
  RunUntilIdle();
  EXPECT_EQ(provider_->submits(), 0);
}

TEST_F(TaskEngineTest, RestartResumesRunningTasks) {
  StartEngine();
  const std::string id = CreateRunning();
  StopEngine();
  provider_->QueuePoll(Success());
  StartEngine();  // a new engine on the same store
  Advance(absl::Seconds(5));
  ASSERT_EQ(Get(id).task.state(), music::v1::TASK_STATE_SUCCEEDED);
  EXPECT_EQ(provider_->submits(), 1);
}

}  // namespace
}  // namespace music::service
