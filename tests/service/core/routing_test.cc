// Routing through model aliases with failover, the circuit breaker in the engine, and reference
// audio at submit: three FakeProviders, a FakeClock and a real SQLite file.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "adapters/provider_auth.h"
#include "adapters/provider_errors.h"
#include "service/core/provider_health.h"
#include "service/core/reference_audio_id.h"
#include "service/core/task_engine.h"
#include "tests/testing/engine_fixture.h"
#include "tests/testing/fake_reference_audio_fetcher.h"
#include "tests/testing/status_matchers.h"

namespace music::service {
namespace {

using domain::SubmissionState;
using domain::TaskRecord;

using FakeFetcher = http::FakeReferenceAudioFetcher;

http::FetchedAudio Mp3(const std::string& url = "https://cdn.example/hum.mp3") {
  http::FetchedAudio a;
  a.bytes = std::string("ID3\x04", 4) + std::string(1000, 'x');
  a.content_type = "application/octet-stream";
  a.final_url = url;
  return a;
}

class RoutingTest : public EngineFixture {
 protected:
  void SetUp() override { Open(adapters::ResubmitPolicy::kAtMostOnce); }

  void Open(adapters::ResubmitPolicy policy_a,
            adapters::ResubmitPolicy others = adapters::ResubmitPolicy::kAtMostOnce) {
    OpenStore();
    a_ = std::make_shared<FakeProvider>(policy_a, "a");
    b_ = std::make_shared<FakeProvider>(others, "b");
    c_ = std::make_shared<FakeProvider>(others, "c");
    for (auto* p : {&a_, &b_, &c_}) {
      (*p)->set_reference_audio(true);
      registry_.Add(*p);
    }
    BuildCatalog();
  }

  void BuildCatalog(const std::vector<std::string>& route = {"a-model", "b-model", "c-model"}) {
    std::vector<music::v1::Model> models;
    for (auto* p : {&a_, &b_, &c_}) {
      for (auto& m : (*p)->Models()) models.push_back(m);
    }
    music::v1::ModelAlias alias;
    alias.set_name("route");
    for (const auto& m : route) alias.add_models(m);
    auto catalog = Catalog::Create(models, {alias}, "route");
    ASSERT_THAT(catalog, IsOk());
    catalog_ = std::move(*catalog);
  }

  void StartEngine(int max_attempts = 3, int breaker_threshold = 5,
                   http::ReferenceAudioFetcher* fetcher = nullptr) {
    EngineOptions o = DefaultOptions();
    o.task_deadline = absl::Seconds(600);
    o.max_submit_attempts = max_attempts;
    o.callback_base_url.clear();
    o.circuit_breaker.failure_threshold = breaker_threshold;
    o.circuit_breaker.cool_down = absl::Seconds(30);
    o.reference_fetcher = fetcher;
    o.provider_health = health_;
    EngineFixture::StartEngine(o);
  }

  CreateSpec Spec(const std::string& name = "route", const std::string& first = "a-model") {
    CreateSpec spec;
    spec.tenant = "default";
    spec.kind = music::v1::TASK_KIND_MUSIC;
    spec.model = catalog_->Find(first);
    spec.model_name = name;
    spec.input.set_prompt("a song");
    return spec;
  }

  std::string Create(const CreateSpec& spec) {
    auto created = engine_->Create(spec);
    EXPECT_THAT(created, IsOk());
    return created.ok() ? created->task.task_id() : "";
  }

  // Moves time in backoff-sized steps until `done` (bounded).
  bool AdvanceUntil(const std::function<bool()>& done, absl::Duration step = absl::Seconds(8)) {
    RunUntilIdle();
    for (int i = 0; i < 40 && !done(); ++i) Advance(step);
    return done();
  }

  static absl::Status NoCredits() {
    absl::Status s = absl::FailedPreconditionError("insufficient credits");
    adapters::SetProviderErrorCode(s, "402");
    return s;
  }

  std::shared_ptr<FakeProvider> a_, b_, c_;
  ProviderHealth* health_ = nullptr;  // a test's own, when it checks provider health
};

TEST_F(RoutingTest, ServerErrorsFailOverAfterTheRetryBudget) {
  a_->QueueSubmit(absl::UnavailableError("HTTP 503"));
  StartEngine(/*max_attempts=*/3);
  const std::string id = Create(Spec());
  EXPECT_EQ(Get(id).task.model(), "route");
  EXPECT_EQ(Get(id).task.provider(), "a");
  ASSERT_TRUE(AdvanceUntil([&] { return State(id) == music::v1::TASK_STATE_RUNNING; }));
  const auto task = Get(id).task;
  EXPECT_EQ(a_->submits(), 3);
  EXPECT_EQ(b_->submits(), 1);
  EXPECT_EQ(task.model(), "route");
  EXPECT_EQ(task.provider(), "b");
  EXPECT_EQ(task.provider_model(), "F1");
  ASSERT_EQ(task.failovers_size(), 1);
  EXPECT_EQ(task.failovers(0).provider(), "a");
  EXPECT_EQ(task.failovers(0).code(), static_cast<int>(absl::StatusCode::kUnavailable));
  EXPECT_EQ(task.failovers(0).message(), "HTTP 503");
  EXPECT_TRUE(task.failovers(0).has_time());
  // A fresh idempotency key per provider.
  EXPECT_EQ(b_->last_submit().idempotency_key, id + ".b");
  EXPECT_EQ(b_->last_submit().callback_url, "");
}

TEST_F(RoutingTest, OutOfCreditsFailsOverAtOnce) {
  a_->QueueSubmit(NoCredits());
  StartEngine();
  const std::string id = Create(Spec());
  RunUntilIdle();
  ASSERT_EQ(State(id), music::v1::TASK_STATE_RUNNING);
  EXPECT_EQ(a_->submits(), 1);
  EXPECT_EQ(b_->submits(), 1);
  const auto task = Get(id).task;
  EXPECT_EQ(task.provider(), "b");
  ASSERT_EQ(task.failovers_size(), 1);
  EXPECT_EQ(task.failovers(0).code(), static_cast<int>(absl::StatusCode::kFailedPrecondition));

  // Polls go to b only.
  Advance(absl::Seconds(5));
  ASSERT_GE(b_->polls(), 1);
  EXPECT_EQ(a_->polls(), 0);
}

TEST_F(RoutingTest, OpenCircuitIsSkippedWithoutARequest) {
  StartEngine(3, /*breaker_threshold=*/2);
  engine_->circuit_breaker().RecordFailure("a");
  engine_->circuit_breaker().RecordFailure("a");
  const std::string id = Create(Spec());
  RunUntilIdle();
  ASSERT_EQ(State(id), music::v1::TASK_STATE_RUNNING);
  EXPECT_EQ(a_->submits(), 0);
  EXPECT_EQ(b_->submits(), 1);
  const auto task = Get(id).task;
  ASSERT_EQ(task.failovers_size(), 1);
  EXPECT_EQ(task.failovers(0).provider(), "a");
  EXPECT_NE(task.failovers(0).message().find("circuit open"), std::string::npos);
}

TEST_F(RoutingTest, CircuitOpeningCutsTheRetryBudgetShort) {
  a_->QueueSubmit(absl::UnavailableError("HTTP 502"));
  StartEngine(/*max_attempts=*/8, /*breaker_threshold=*/2);
  const std::string id = Create(Spec());
  ASSERT_TRUE(AdvanceUntil([&] { return State(id) == music::v1::TASK_STATE_RUNNING; }));
  EXPECT_EQ(a_->submits(), 2);  // the second failure opened the circuit
  EXPECT_EQ(Get(id).task.provider(), "b");
}

TEST_F(RoutingTest, ContentRefusalDoesNotFailOver) {
  a_->QueueSubmit(absl::InvalidArgumentError("prompt violates the content policy"));
  StartEngine();
  const std::string id = Create(Spec());
  RunUntilIdle();
  ASSERT_EQ(State(id), music::v1::TASK_STATE_FAILED);
  RunUntilIdle();
  EXPECT_EQ(b_->submits(), 0);
  const auto task = Get(id).task;
  EXPECT_EQ(task.error().code(), static_cast<int>(absl::StatusCode::kInvalidArgument));
  EXPECT_EQ(task.failovers_size(), 0);
  EXPECT_EQ(task.provider(), "a");
}

TEST_F(RoutingTest, AtMostOnceCreateWithUnknownOutcomeNeverFailsOver) {
  absl::Status timeout = absl::DeadlineExceededError("timeout after sending");
  adapters::MarkOutcomeUnknown(timeout);
  a_->QueueSubmit(timeout);
  StartEngine();
  const std::string id = Create(Spec());
  RunUntilIdle();
  ASSERT_EQ(Get(id).submission, SubmissionState::kUnknown);
  Advance(absl::Seconds(31));  // past the grace: the task fails, nothing goes elsewhere
  RunUntilIdle();
  ASSERT_EQ(State(id), music::v1::TASK_STATE_FAILED);
  RunUntilIdle();
  EXPECT_EQ(a_->submits(), 1);
  EXPECT_EQ(b_->submits(), 0);
  EXPECT_EQ(c_->submits(), 0);
  EXPECT_EQ(Get(id).task.failovers_size(), 0);
  EXPECT_EQ(Get(id).task.error().code(), static_cast<int>(absl::StatusCode::kUnavailable));
}

TEST_F(RoutingTest, TimeoutKnownNotToHaveReachedTheProviderFailsOver) {
  a_->QueueSubmit(absl::DeadlineExceededError("connect timeout"));  // not marked unknown
  StartEngine(/*max_attempts=*/1);
  const std::string id = Create(Spec());
  RunUntilIdle();
  ASSERT_EQ(State(id), music::v1::TASK_STATE_RUNNING);
  EXPECT_EQ(Get(id).task.provider(), "b");
}

TEST_F(RoutingTest, AllProvidersFailingFailsTheTaskWithTheLastErrorAndEveryFailover) {
  a_->QueueSubmit(NoCredits());
  b_->QueueSubmit(absl::UnavailableError("HTTP 500"));
  absl::Status c_error = absl::FailedPreconditionError("account suspended");
  adapters::SetProviderErrorCode(c_error, "451");
  c_->QueueSubmit(c_error);
  StartEngine(/*max_attempts=*/2);
  const std::string id = Create(Spec());
  ASSERT_TRUE(AdvanceUntil([&] { return State(id) == music::v1::TASK_STATE_FAILED; }));
  const auto task = Get(id).task;
  EXPECT_EQ(task.provider(), "c");
  EXPECT_EQ(task.error().code(), static_cast<int>(absl::StatusCode::kFailedPrecondition));
  EXPECT_NE(task.error().message().find("account suspended"), std::string::npos);
  EXPECT_EQ(task.error().provider_error_code(), "451");
  ASSERT_EQ(task.failovers_size(), 2);
  EXPECT_EQ(task.failovers(0).provider(), "a");
  EXPECT_EQ(task.failovers(1).provider(), "b");
  EXPECT_EQ(task.failovers(1).code(), static_cast<int>(absl::StatusCode::kUnavailable));
  EXPECT_EQ(a_->submits(), 1);
  EXPECT_EQ(b_->submits(), 2);
  EXPECT_EQ(c_->submits(), 1);
}

TEST_F(RoutingTest, PlainModelNeverFailsOver) {
  a_->QueueSubmit(NoCredits());
  StartEngine();
  const std::string id = Create(Spec("a-model"));
  RunUntilIdle();
  ASSERT_EQ(State(id), music::v1::TASK_STATE_FAILED);
  RunUntilIdle();
  EXPECT_EQ(b_->submits(), 0);
  EXPECT_EQ(Get(id).task.failovers_size(), 0);
}

TEST_F(RoutingTest, ContinuationsStayWithTheClipsProvider) {
  a_->QueueSubmit(NoCredits());
  StartEngine();
  CreateSpec spec = Spec();
  spec.kind = music::v1::TASK_KIND_CONTINUATION;
  spec.input.Clear();
  spec.input.set_continue_from_clip_id("clip-1");
  const std::string id = Create(spec);
  RunUntilIdle();
  ASSERT_EQ(State(id), music::v1::TASK_STATE_FAILED);
  RunUntilIdle();
  EXPECT_EQ(b_->submits(), 0);
  EXPECT_EQ(Get(id).task.failovers_size(), 0);
}

// CONTRACT-NOTES "kie.ai" (extend): "The model must match the source clip's model". A
// continuation whose first attempt is refused does not move to another model of the same
// provider either.
TEST_F(RoutingTest, ContinuationsKeepTheSourceClipsModel) {
  std::vector<music::v1::Model> models;
  for (auto* p : {&a_, &b_, &c_}) {
    for (auto& m : (*p)->Models()) models.push_back(m);
  }
  music::v1::Model other = models[0];
  other.set_name("a-model-2");
  other.set_provider_model("a-2");
  models.push_back(other);
  music::v1::ModelAlias alias;
  alias.set_name("route");
  for (const char* m : {"a-model", "a-model-2", "b-model"}) alias.add_models(m);
  auto catalog = Catalog::Create(models, {alias}, "route");
  ASSERT_THAT(catalog, IsOk());
  catalog_ = std::move(*catalog);
  a_->QueueSubmit(NoCredits());
  StartEngine();
  CreateSpec spec = Spec();
  spec.kind = music::v1::TASK_KIND_CONTINUATION;
  spec.input.Clear();
  spec.input.set_continue_from_clip_id("clip-1");
  const std::string id = Create(spec);
  RunUntilIdle();
  ASSERT_EQ(State(id), music::v1::TASK_STATE_FAILED);
  EXPECT_EQ(a_->submits(), 1);
  EXPECT_EQ(Get(id).task.provider_model(), models[0].provider_model());
  EXPECT_EQ(Get(id).task.failovers_size(), 0);

  // A music task on the same route does move on.
  a_->QueueSubmit(NoCredits());
  const std::string music = Create(Spec());
  RunUntilIdle();
  ASSERT_GE(Get(music).task.failovers_size(), 1);
  EXPECT_EQ(Get(music).task.failovers(0).provider(), "a");
}

TEST_F(RoutingTest, UnavailableAndIncapableMembersAreSkipped) {
  // b cannot take this task (no seeds); c can.
  b_->set_reference_audio(false);
  BuildCatalog();
  a_->QueueSubmit(NoCredits());
  StartEngine();
  CreateSpec spec = Spec();
  spec.input.set_seed(42);
  const std::string id = Create(spec);
  RunUntilIdle();
  ASSERT_EQ(State(id), music::v1::TASK_STATE_RUNNING);
  EXPECT_EQ(b_->submits(), 0);
  EXPECT_EQ(c_->submits(), 1);
  EXPECT_EQ(Get(id).task.provider(), "c");
}

TEST_F(RoutingTest, SingleProviderWithOpenCircuitWaitsForTheCoolDown) {
  StartEngine(3, /*breaker_threshold=*/1);
  engine_->circuit_breaker().RecordFailure("a");
  const std::string id = Create(Spec("a-model"));
  RunUntilIdle();
  EXPECT_EQ(a_->submits(), 0);
  Advance(absl::Seconds(29));
  EXPECT_EQ(a_->submits(), 0);
  Advance(absl::Seconds(1));
  ASSERT_EQ(State(id), music::v1::TASK_STATE_RUNNING);
  EXPECT_EQ(a_->submits(), 1);  // the probe, which closed the circuit
  EXPECT_EQ(engine_->circuit_breaker().state("a"), CircuitBreaker::State::kClosed);
}

TEST_F(RoutingTest, TasksWaitingForTheCircuitGoWhenTheProviderAnswersAgain) {
  StartEngine(3, /*breaker_threshold=*/1);
  const std::string running = Create(Spec("a-model"));
  RunUntilIdle();
  ASSERT_EQ(State(running), music::v1::TASK_STATE_RUNNING);
  engine_->circuit_breaker().RecordFailure("a");
  const std::string waiting = Create(Spec("a-model"));
  RunUntilIdle();
  EXPECT_EQ(a_->submits(), 1);  // refused by the open circuit, waiting for its cool-down
  // The running task's poll succeeds 5 s later: the provider is back, the waiter goes now
  // instead of after the 30 s cool-down.
  Advance(absl::Seconds(5));
  ASSERT_EQ(State(waiting), music::v1::TASK_STATE_RUNNING);
  EXPECT_EQ(a_->submits(), 2);
  EXPECT_EQ(engine_->circuit_breaker().state("a"), CircuitBreaker::State::kClosed);
}

TEST_F(RoutingTest, PollFailuresOpenTheCircuit) {
  StartEngine(3, /*breaker_threshold=*/2);
  const std::string id = Create(Spec("a-model"));
  RunUntilIdle();
  ASSERT_EQ(State(id), music::v1::TASK_STATE_RUNNING);
  a_->QueuePoll(absl::UnavailableError("HTTP 503"));
  ASSERT_TRUE(AdvanceUntil([&] { return a_->polls() >= 2; }));
  EXPECT_EQ(engine_->circuit_breaker().state("a"), CircuitBreaker::State::kOpen);
}

TEST_F(RoutingTest, RestartInTheMiddleKeepsTheRoute) {
  a_->QueueSubmit(NoCredits());
  b_->QueueSubmit(absl::UnavailableError("HTTP 503"));
  b_->QueueSubmit(std::string("prov-b"));
  StartEngine(/*max_attempts=*/3);
  const std::string id = Create(Spec());
  RunUntilIdle();
  ASSERT_TRUE(b_->submits() == 1 && Get(id).attempts == 1);
  StopEngine();
  StartEngine(/*max_attempts=*/3);  // a new engine on the same store
  ASSERT_TRUE(AdvanceUntil([&] { return State(id) == music::v1::TASK_STATE_RUNNING; }));
  const auto task = Get(id).task;
  EXPECT_EQ(task.provider(), "b");
  EXPECT_EQ(task.provider_task_id(), "prov-b");
  EXPECT_EQ(task.failovers_size(), 1);
  EXPECT_EQ(a_->submits(), 1);
  EXPECT_EQ(b_->submits(), 2);
  EXPECT_EQ(c_->submits(), 0);
}

// A (beatra-like) provider that deduplicates creates by idempotency key.
class IdempotentRoutingTest : public RoutingTest {
 protected:
  void SetUp() override { Open(adapters::ResubmitPolicy::kIdempotencyKey); }
};

TEST_F(IdempotentRoutingTest, LostCreatesAreResentWithTheSameKeyThenFailOver) {
  absl::Status timeout = absl::DeadlineExceededError("timeout after sending");
  adapters::MarkOutcomeUnknown(timeout);
  a_->QueueSubmit(timeout);
  StartEngine(/*max_attempts=*/2);
  const std::string id = Create(Spec());
  ASSERT_TRUE(AdvanceUntil([&] { return State(id) == music::v1::TASK_STATE_RUNNING; }));
  EXPECT_EQ(a_->submits(), 2);  // the provider deduplicates: resending is safe
  EXPECT_EQ(a_->last_submit().idempotency_key, id + ".a");
  EXPECT_EQ(b_->submits(), 1);
  EXPECT_EQ(b_->last_submit().idempotency_key, id + ".b");
  ASSERT_EQ(Get(id).task.failovers_size(), 1);
  EXPECT_EQ(Get(id).task.failovers(0).code(),
            static_cast<int>(absl::StatusCode::kDeadlineExceeded));
}

// A (TokenLab-like) provider that can look creates up by request id.
class LookupRoutingTest : public RoutingTest {
 protected:
  void SetUp() override { Open(adapters::ResubmitPolicy::kLookupByRequestId); }
};

TEST_F(LookupRoutingTest, LostCreateFailsOverOnlyAfterTheLookupSaysNotFound) {
  absl::Status timeout = absl::DeadlineExceededError("timeout after sending");
  adapters::MarkOutcomeUnknown(timeout);
  a_->QueueSubmit(timeout);
  a_->QueueLookup(absl::UnavailableError("lookup failed"));
  a_->QueueLookup(absl::NotFoundError("no such task"));
  StartEngine(/*max_attempts=*/1);
  const std::string id = Create(Spec());
  ASSERT_TRUE(AdvanceUntil([&] { return State(id) == music::v1::TASK_STATE_RUNNING; }));
  EXPECT_EQ(a_->submits(), 1);
  EXPECT_EQ(a_->lookups(), 2);  // a failed lookup is no licence to move on
  EXPECT_EQ(b_->submits(), 1);
  ASSERT_EQ(Get(id).task.failovers_size(), 1);
  EXPECT_EQ(Get(id).task.provider(), "b");
}

TEST_F(LookupRoutingTest, LostCreateFoundByLookupStaysPut) {
  absl::Status timeout = absl::DeadlineExceededError("timeout after sending");
  adapters::MarkOutcomeUnknown(timeout);
  a_->QueueSubmit(timeout);
  a_->QueueLookup(std::string("prov-found"));
  StartEngine(/*max_attempts=*/1);
  const std::string id = Create(Spec());
  ASSERT_TRUE(AdvanceUntil([&] { return State(id) == music::v1::TASK_STATE_RUNNING; }));
  EXPECT_EQ(Get(id).task.provider_task_id(), "prov-found");
  EXPECT_EQ(b_->submits(), 0);
}

// Reference audio at submit.

TEST_F(RoutingTest, ReferenceUrlIsFetchedUploadedAndNeverFetchedAgain) {
  FakeFetcher fetcher;
  fetcher.Queue(Mp3());
  a_->QueueSubmit(absl::UnavailableError("HTTP 503"));
  a_->QueueSubmit(std::string("prov-a"));
  StartEngine(3, 5, &fetcher);
  CreateSpec spec = Spec("a-model");
  spec.input.set_reference_audio_uri("https://cdn.example/hum.mp3?sig=1");
  const std::string id = Create(spec);
  ASSERT_TRUE(AdvanceUntil([&] { return State(id) == music::v1::TASK_STATE_RUNNING; }));
  EXPECT_EQ(fetcher.fetches(), 1);
  ASSERT_EQ(a_->uploads().size(), 1u);
  EXPECT_EQ(a_->uploads()[0].filename, "hum.mp3");
  EXPECT_EQ(a_->uploads()[0].content_type, "audio/mpeg");
  EXPECT_EQ(a_->uploads()[0].bytes, Mp3().bytes);
  EXPECT_EQ(a_->submits(), 2);
  EXPECT_EQ(a_->last_submit().reference_artifact_id, "art-1");
  EXPECT_EQ(Get(id).reference_artifact_id, "art-1");
}

TEST_F(RoutingTest, ReferenceUrlWithoutFetcherFails) {
  StartEngine();
  CreateSpec spec = Spec("a-model");
  spec.input.set_reference_audio_uri("https://cdn.example/hum.mp3");
  const std::string id = Create(spec);
  RunUntilIdle();
  ASSERT_EQ(State(id), music::v1::TASK_STATE_FAILED);
  EXPECT_EQ(Get(id).task.error().code(), static_cast<int>(absl::StatusCode::kFailedPrecondition));
  EXPECT_NE(Get(id).task.error().message().find("reference audio URLs are disabled"),
            std::string::npos);
  EXPECT_EQ(a_->submits(), 0);
}

TEST_F(RoutingTest, RefusedReferenceUrlFailsWithTheFetchersCode) {
  FakeFetcher fetcher;
  fetcher.Queue(absl::PermissionDeniedError("the host resolves to a private address"));
  StartEngine(3, 5, &fetcher);
  CreateSpec spec = Spec("a-model");
  spec.input.set_reference_audio_uri("https://internal.example/x.mp3");
  const std::string id = Create(spec);
  RunUntilIdle();
  ASSERT_EQ(State(id), music::v1::TASK_STATE_FAILED);
  const auto task = Get(id).task;
  EXPECT_EQ(task.error().code(), static_cast<int>(absl::StatusCode::kPermissionDenied));
  EXPECT_NE(task.error().message().find("reference_audio_uri"), std::string::npos);
  EXPECT_NE(task.error().message().find("private address"), std::string::npos);
  EXPECT_EQ(a_->uploads().size(), 0u);
  EXPECT_EQ(a_->submits(), 0);
}

TEST_F(RoutingTest, NonAudioReferenceFails) {
  FakeFetcher fetcher;
  http::FetchedAudio html;
  html.bytes = "<html>hello</html>";
  html.content_type = "text/html";
  fetcher.Queue(html);
  StartEngine(3, 5, &fetcher);
  CreateSpec spec = Spec("a-model");
  spec.input.set_reference_audio_uri("https://cdn.example/page");
  const std::string id = Create(spec);
  RunUntilIdle();
  ASSERT_EQ(State(id), music::v1::TASK_STATE_FAILED);
  EXPECT_EQ(Get(id).task.error().code(), static_cast<int>(absl::StatusCode::kInvalidArgument));
  EXPECT_EQ(a_->uploads().size(), 0u);
}

TEST_F(RoutingTest, TransientFetchErrorsAreRetried) {
  FakeFetcher fetcher;
  fetcher.Queue(absl::UnavailableError("connection reset"));
  fetcher.Queue(Mp3());
  StartEngine(3, 5, &fetcher);
  CreateSpec spec = Spec("a-model");
  spec.input.set_reference_audio_uri("https://cdn.example/hum.mp3");
  const std::string id = Create(spec);
  RunUntilIdle();
  ASSERT_TRUE(fetcher.fetches() == 1 && Get(id).attempts == 1);
  EXPECT_EQ(State(id), music::v1::TASK_STATE_PENDING);
  ASSERT_TRUE(AdvanceUntil([&] { return State(id) == music::v1::TASK_STATE_RUNNING; }));
  EXPECT_EQ(fetcher.fetches(), 2);
  EXPECT_EQ(a_->last_submit().reference_artifact_id, "art-1");
}

TEST_F(RoutingTest, FailoverUploadsTheReferenceAgainAtTheNextProvider) {
  FakeFetcher fetcher;
  fetcher.Queue(Mp3());
  a_->QueueSubmit(NoCredits());
  StartEngine(3, 5, &fetcher);
  CreateSpec spec = Spec();
  spec.input.set_reference_audio_uri("https://cdn.example/hum.mp3");
  const std::string id = Create(spec);
  RunUntilIdle();
  ASSERT_EQ(State(id), music::v1::TASK_STATE_RUNNING);
  EXPECT_EQ(a_->uploads().size(), 1u);
  EXPECT_EQ(b_->uploads().size(), 1u);
  EXPECT_EQ(b_->last_submit().reference_artifact_id, "art-1");
  EXPECT_EQ(Get(id).task.provider(), "b");
}

TEST_F(RoutingTest, ReferenceAudioIdLosesItsProviderAndTag) {
  StartEngine();
  CreateSpec spec = Spec("a-model");
  // kie.ai's artifact is a URL: only the provider and the tag are taken off.
  spec.input.set_reference_audio_id(
      IssueReferenceAudioId("secret", "tenant-1", "a", "https://files.example/art-77"));
  const std::string id = Create(spec);
  RunUntilIdle();
  ASSERT_EQ(State(id), music::v1::TASK_STATE_RUNNING);
  EXPECT_EQ(a_->last_submit().reference_artifact_id, "https://files.example/art-77");
  EXPECT_EQ(a_->uploads().size(), 0u);
}

// A task stored before ids were tagged keeps its "<provider>/<artifact>" and still runs.
TEST_F(RoutingTest, AStoredUntaggedReferenceAudioIdLosesItsProviderPrefix) {
  StartEngine();
  CreateSpec spec = Spec("a-model");
  spec.input.set_reference_audio_id("a/art-77");
  const std::string id = Create(spec);
  RunUntilIdle();
  ASSERT_EQ(State(id), music::v1::TASK_STATE_RUNNING);
  EXPECT_EQ(a_->last_submit().reference_artifact_id, "art-77");
}


// A provider refusing the service's own key (401/403, adapters::ProviderAuthError): the task fails
// FAILED_PRECONDITION with the PROVIDER_AUTH reason (not the caller's UNAUTHENTICATED) and is
// refunded; the provider is unavailable until a request to it succeeds.
TEST_F(RoutingTest, OurKeyRefusedFailsProviderAuthAndMarksTheProviderUntilASuccess) {
  ProviderHealth health(&clock_);
  health_ = &health;
  a_->QueueSubmit(adapters::ProviderAuthError("a create answered HTTP 401", "401"));
  a_->QueueSubmit(std::string("prov-a-2"));
  StartEngine();
  const std::string refused = Create(Spec("a-model"));
  RunUntilIdle();
  const music::v1::Task task = Get(refused).task;
  ASSERT_EQ(task.state(), music::v1::TASK_STATE_FAILED);
  EXPECT_EQ(task.error().code(), static_cast<int>(absl::StatusCode::kFailedPrecondition));
  EXPECT_TRUE(absl::StartsWith(task.error().message(), "PROVIDER_AUTH: ")) << task.error().message();
  EXPECT_EQ(task.error().reason(), "PROVIDER_AUTH");
  EXPECT_EQ(task.error().provider_error_code(), "401");
  EXPECT_EQ(task.billing().refunded_micros(), task.billing().reserved_micros());
  EXPECT_THAT(health.UnavailableReason("a"), ::testing::Optional(::testing::HasSubstr("401")));
  // The next create is the probe: it gets through, and the provider is back.
  const std::string next = Create(Spec("a-model"));
  RunUntilIdle();
  EXPECT_EQ(State(next), music::v1::TASK_STATE_RUNNING);
  EXPECT_EQ(health.UnavailableReason("a"), std::nullopt);
  health_ = nullptr;
}

TEST_F(RoutingTest, OurKeyRefusedFailsOverAtOnceLikeOutOfCredits) {
  ProviderHealth health(&clock_);
  health_ = &health;
  a_->QueueSubmit(adapters::ProviderAuthError("a create answered HTTP 403", "403"));
  StartEngine();
  const std::string id = Create(Spec());
  RunUntilIdle();
  const music::v1::Task task = Get(id).task;
  ASSERT_EQ(task.state(), music::v1::TASK_STATE_RUNNING);
  EXPECT_EQ(task.provider(), "b");
  ASSERT_EQ(task.failovers_size(), 1);
  EXPECT_EQ(task.failovers(0).code(), static_cast<int>(absl::StatusCode::kFailedPrecondition));
  EXPECT_EQ(a_->submits(), 1);  // never retried at a provider that refuses our key
  EXPECT_NE(health.UnavailableReason("a"), std::nullopt);
  EXPECT_EQ(health.UnavailableReason("b"), std::nullopt);
  health_ = nullptr;
}

// Billing across a failover: "a" plays kie.ai (12 credits), "b" TokenLab ($0.10). The ledger holds
// what the model that ran the task costs, in its currency (domain/ledger.h).
class FailoverBillingTest : public RoutingTest {
 protected:
  void SetUp() override {
    RoutingTest::SetUp();
    std::vector<music::v1::Model> models;
    for (auto* p : {&a_, &b_, &c_}) {
      for (auto m : (*p)->Models()) {
        if (m.provider() == "a") {
          m.mutable_price()->set_amount_micros(12'000'000);
          m.mutable_price()->set_currency("CREDITS");
        } else {
          m.mutable_price()->set_amount_micros(100'000);
          m.mutable_price()->set_currency("USD");
        }
        models.push_back(m);
      }
    }
    music::v1::ModelAlias alias;
    alias.set_name("route");
    for (const auto& m : {"a-model", "b-model", "c-model"}) alias.add_models(m);
    auto catalog = Catalog::Create(models, {alias}, "route");
    ASSERT_THAT(catalog, IsOk());
    catalog_ = std::move(*catalog);
  }

  // "<KIND> <provider> <amount> <currency> <id>" of each ledger row of `task_id`, oldest first.
  std::vector<std::string> Rows(const std::string& task_id) {
    persistence::BillingListQuery q;
    q.tenant = "default";
    q.page_size = 1000;
    auto page = billing_->ListBillingTransactions(q);
    EXPECT_THAT(page, IsOk());
    std::vector<std::string> rows;
    if (!page.ok()) return rows;
    for (const auto& t : page->transactions) {  // newest first
      if (t.task_id != task_id) continue;
      rows.insert(rows.begin(),
                  absl::StrCat(billing::TransactionKindName(t.kind), " ", t.provider, " ",
                               t.amount_micros, " ", billing::CurrencyName(t.currency), " ",
                               t.billing_transaction_id));
    }
    return rows;
  }

  void ExpectCleanLedger() {
    auto violations = billing_->CheckLedger();
    ASSERT_THAT(violations, IsOk());
    for (const auto& v : *violations) {
      ADD_FAILURE() << v.task_id << " " << v.kind << ": " << v.detail;
    }
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
};

TEST_F(FailoverBillingTest, FailoverReleasesTheReservationAndSettlesAtTheNewModelsPrice) {
  a_->QueueSubmit(absl::UnavailableError("HTTP 503"));
  b_->QueuePoll(Success());
  StartEngine(/*max_attempts=*/3);
  const std::string id = Create(Spec());
  ASSERT_TRUE(AdvanceUntil([&] { return State(id) == music::v1::TASK_STATE_SUCCEEDED; }));
  const music::v1::Task task = Get(id).task;
  EXPECT_EQ(task.provider(), "b");
  EXPECT_EQ(task.billing().currency(), "USD");
  EXPECT_EQ(task.billing().reservation_index(), 1);
  EXPECT_EQ(task.billing().reserved_micros(), 100'000);
  EXPECT_EQ(task.billing().charged_micros(), 100'000);
  EXPECT_EQ(task.billing().refunded_micros(), 0);
  EXPECT_THAT(Rows(id),
              ::testing::UnorderedElementsAre(
                  "RESERVE a 12000000 CREDITS btx_" + id + "_RESERVE",
                  "REFUND a 12000000 CREDITS btx_" + id + "_REFUND",
                  "RESERVE b 100000 USD btx_" + id + "_failover1_RESERVE",
                  "SETTLE b 100000 USD btx_" + id + "_failover1_SETTLE"));
  ExpectCleanLedger();
}

TEST_F(FailoverBillingTest, EveryReservationIsReleasedWhenTheLastProviderFailsToo) {
  a_->QueueSubmit(NoCredits());
  b_->QueueSubmit(NoCredits());
  c_->QueueSubmit(NoCredits());
  StartEngine();
  const std::string id = Create(Spec());
  ASSERT_TRUE(AdvanceUntil([&] { return State(id) == music::v1::TASK_STATE_FAILED; }));
  EXPECT_EQ(Get(id).task.billing().reservation_index(), 2);
  EXPECT_THAT(Rows(id), ::testing::UnorderedElementsAre(
                            "RESERVE a 12000000 CREDITS btx_" + id + "_RESERVE",
                            "REFUND a 12000000 CREDITS btx_" + id + "_REFUND",
                            "RESERVE b 100000 USD btx_" + id + "_failover1_RESERVE",
                            "REFUND b 100000 USD btx_" + id + "_failover1_REFUND",
                            "RESERVE c 100000 USD btx_" + id + "_failover2_RESERVE",
                            "REFUND c 100000 USD btx_" + id + "_failover2_REFUND"));
  ExpectCleanLedger();
}

TEST_F(FailoverBillingTest, RestartAfterAFailoverSettlesTheNewReservationOnce) {
  a_->QueueSubmit(NoCredits());
  StartEngine();
  const std::string id = Create(Spec());
  RunUntilIdle();
  ASSERT_EQ(State(id), music::v1::TASK_STATE_RUNNING);
  ASSERT_EQ(Get(id).task.provider(), "b");
  StopEngine();
  StartEngine();
  b_->QueuePoll(Success());
  ASSERT_TRUE(AdvanceUntil([&] { return State(id) == music::v1::TASK_STATE_SUCCEEDED; }));
  EXPECT_EQ(Rows(id).size(), 4u);
  ExpectCleanLedger();
}

}  // namespace
}  // namespace music::service
