// Per-tenant quotas (quota.h, task_engine.cc "Quotas"): the requests_per_second token bucket
// over creates and max_tasks_in_flight over the tenant's non-terminal tasks, checked by
// TaskEngine::Create before anything is stored. A refusal is RESOURCE_EXHAUSTED with RetryInfo
// and QuotaFailure, stores no task and no ledger row, and counts in music_quota_refusals_total;
// another tenant is unaffected; a retry of a stored request_id is answered, never refused; the
// in-flight count is exact across terminal transitions, restarts and concurrent creates.
// Real SQLite, a fake provider, a FakeClock and a ManualExecutor: nothing sleeps.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <atomic>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/cord.h"
#include "google/rpc/error_details.pb.h"
#include "service/core/metrics.h"
#include "service/core/quota.h"
#include "service/core/status_details.h"
#include "service/core/task_engine.h"
#include "tests/testing/engine_fixture.h"
#include "tests/testing/metrics_reader.h"
#include "tests/testing/status_matchers.h"

namespace music::service {
namespace {

using ::testing::HasSubstr;

absl::Duration RetryDelay(const absl::Status& s) {
  auto payload = s.GetPayload(kRetryInfoUrl);
  if (!payload) return absl::InfiniteDuration();
  google::rpc::RetryInfo info;
  if (!info.ParseFromString(std::string(*payload))) return absl::InfiniteDuration();
  return absl::Seconds(info.retry_delay().seconds()) +
         absl::Nanoseconds(info.retry_delay().nanos());
}

google::rpc::QuotaFailure QuotaFailureOf(const absl::Status& s) {
  google::rpc::QuotaFailure failure;
  if (auto payload = s.GetPayload(kQuotaFailureUrl)) {
    EXPECT_TRUE(failure.ParseFromString(std::string(*payload)));
  }
  return failure;
}

TEST(TenantRateLimiterTest, BurstThenOneTokenPerIntervalPerTenant) {
  QuotaOptions o;
  o.tenants["a"].requests_per_second = 2;
  o.tenants["a"].burst = 3;
  TenantRateLimiter limiter(&o);
  const absl::Time t0 = absl::FromUnixSeconds(1'000'000);
  for (int i = 0; i < 3; ++i) EXPECT_EQ(limiter.TryTake("a", t0), std::nullopt) << i;
  std::optional<absl::Duration> wait = limiter.TryTake("a", t0);
  ASSERT_TRUE(wait.has_value());
  EXPECT_EQ(*wait, absl::Milliseconds(500));  // one token per 1/2 s
  EXPECT_EQ(limiter.TryTake("a", t0 + absl::Milliseconds(250)), absl::Milliseconds(250));
  EXPECT_EQ(limiter.TryTake("a", t0 + absl::Milliseconds(500)), std::nullopt);
  // A tenant not listed has the defaults: unlimited here.
  for (int i = 0; i < 100; ++i) EXPECT_EQ(limiter.TryTake("b", t0), std::nullopt);
  // A returned token is there again; never above the burst.
  limiter.Return("a");
  EXPECT_EQ(limiter.TryTake("a", t0 + absl::Milliseconds(500)), std::nullopt);
  EXPECT_TRUE(limiter.TryTake("a", t0 + absl::Milliseconds(500)).has_value());
  EXPECT_EQ(limiter.TryTake("a", t0 + absl::Hours(1)), std::nullopt);
  EXPECT_EQ(limiter.TryTake("a", t0 + absl::Hours(1)), std::nullopt);
  EXPECT_EQ(limiter.TryTake("a", t0 + absl::Hours(1)), std::nullopt);
  EXPECT_TRUE(limiter.TryTake("a", t0 + absl::Hours(1)).has_value()) << "burst caps the refill";
}

TEST(TenantRateLimiterTest, BurstDefaultsToTheRate) {
  QuotaOptions o;
  o.defaults.requests_per_second = 0.5;  // burst 0: max(1, rate) = 1
  TenantRateLimiter limiter(&o);
  const absl::Time t0 = absl::FromUnixSeconds(1'000'000);
  EXPECT_EQ(limiter.TryTake("x", t0), std::nullopt);
  EXPECT_EQ(limiter.TryTake("x", t0), absl::Seconds(2));
}

class QuotaTest : public EngineFixture {
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

  void Start(QuotaOptions quotas) {
    EngineOptions o = DefaultOptions();
    o.metrics = &metrics_;
    o.quotas = std::move(quotas);
    StartEngine(o);
  }

  absl::StatusOr<CreateOutcome> Create(const std::string& tenant,
                                       const std::string& request_id = "",
                                       const std::string& prompt = "a song") {
    CreateSpec spec;
    spec.tenant = tenant;
    spec.request_id = request_id;
    spec.kind = music::v1::TASK_KIND_MUSIC;
    spec.model = catalog_->Find("fake-model");
    spec.input.set_prompt(prompt);
    return engine_->Create(spec);
  }

  int StoredTasks(const std::string& tenant) {
    persistence::ListQuery q;
    q.tenant = tenant;
    q.page_size = 1000;
    auto page = store_->List(q);
    EXPECT_TRUE(page.ok()) << page.status();
    return page.ok() ? static_cast<int>(page->records.size()) : -1;
  }
  int LedgerRows(const std::string& tenant) {
    persistence::BillingListQuery q;
    q.tenant = tenant;
    q.page_size = 1000;
    auto page = billing_->ListBillingTransactions(q);
    EXPECT_TRUE(page.ok()) << page.status();
    return page.ok() ? static_cast<int>(page->transactions.size()) : -1;
  }
  double Refusals(const std::string& tenant, const std::string& quota) {
    return Value(metrics_, "music_quota_refusals_total", {{"tenant", tenant}, {"quota", quota}});
  }

  Metrics metrics_;
  std::shared_ptr<FakeProvider> provider_;
};

// Tenant a may create 1 per second with a burst of 2: the third create at once is refused with
// RESOURCE_EXHAUSTED, a RetryInfo of the time to the next token and a QuotaFailure naming the
// quota; it stored no task and no ledger row. Tenant b creates meanwhile; a second later a's
// next create goes through.
TEST_F(QuotaTest, RequestsPerSecondRefusesWithRetryInfoStoresNothingAndSparesOthers) {
  QuotaOptions q;
  q.tenants["a"].requests_per_second = 1;
  q.tenants["a"].burst = 2;
  Start(q);
  ASSERT_THAT(Create("a").status(), IsOk());
  ASSERT_THAT(Create("a").status(), IsOk());
  const int ledger_before = LedgerRows("a");
  EXPECT_EQ(ledger_before, 2);  // one RESERVE each

  auto refused = Create("a");
  ASSERT_THAT(refused.status(),
              StatusIs(absl::StatusCode::kResourceExhausted, HasSubstr("requests_per_second")));
  EXPECT_EQ(RetryDelay(refused.status()), absl::Seconds(1));
  const google::rpc::QuotaFailure failure = QuotaFailureOf(refused.status());
  ASSERT_EQ(failure.violations_size(), 1);
  EXPECT_EQ(failure.violations(0).subject(), "tenant:a");
  EXPECT_THAT(failure.violations(0).description(), HasSubstr("requests_per_second"));
  EXPECT_EQ(StoredTasks("a"), 2) << "a refused create stores no task";
  EXPECT_EQ(LedgerRows("a"), ledger_before) << "a refused create reserves nothing";
  EXPECT_EQ(Refusals("a", kQuotaRequestsPerSecond), 1);

  // b is not listed (defaults: unlimited) and is not slowed by a.
  for (int i = 0; i < 10; ++i) ASSERT_THAT(Create("b").status(), IsOk());
  EXPECT_EQ(StoredTasks("b"), 10);

  clock_.Advance(absl::Seconds(1));
  ASSERT_THAT(Create("a").status(), IsOk());
  EXPECT_EQ(StoredTasks("a"), 3);
  RunUntilIdle();
  EXPECT_EQ(provider_->submits(), 13) << "every stored task was submitted, the refused one not";
}

// max_tasks_in_flight 2: two PENDING/RUNNING tasks fill it; the third is refused (RetryInfo: a
// poll interval); once one of the two ends (SUCCEEDED by callback, or CANCELED) a new create
// goes through.
TEST_F(QuotaTest, TasksInFlightCountsNonTerminalTasksAndFreesOnTheirEnd) {
  QuotaOptions q;
  q.defaults.max_tasks_in_flight = 2;
  Start(q);
  auto first = Create("a");
  auto second = Create("a");
  ASSERT_THAT(first.status(), IsOk());
  ASSERT_THAT(second.status(), IsOk());
  RunUntilIdle();  // both submitted, RUNNING
  EXPECT_EQ(engine_->TasksInFlight("a"), 2);

  auto refused = Create("a");
  ASSERT_THAT(refused.status(),
              StatusIs(absl::StatusCode::kResourceExhausted, HasSubstr("max_tasks_in_flight")));
  EXPECT_EQ(RetryDelay(refused.status()), absl::Seconds(5));  // DefaultOptions' poll interval
  EXPECT_EQ(QuotaFailureOf(refused.status()).violations(0).subject(), "tenant:a");
  EXPECT_EQ(StoredTasks("a"), 2);
  EXPECT_EQ(LedgerRows("a"), 2);
  EXPECT_EQ(Refusals("a", kQuotaTasksInFlight), 1);
  // The default applies to every tenant on its own: b has its own two.
  ASSERT_THAT(Create("b").status(), IsOk());
  ASSERT_THAT(Create("b").status(), IsOk());
  EXPECT_THAT(Create("b").status(), StatusIs(absl::StatusCode::kResourceExhausted));

  adapters::ProviderUpdate done;
  done.state = adapters::ProviderState::kSucceeded;
  done.provider_status = "SUCCESS";
  music::v1::Clip clip;
  clip.set_clip_id("c1");
  clip.set_audio_url("https://cdn.example/c1.mp3");
  done.clips.push_back(clip);
  provider_->DefineCallback("done", done);
  ASSERT_THAT(Callback(first->task.task_id(), "done"), IsOk());
  ASSERT_EQ(State(first->task.task_id()), music::v1::TASK_STATE_SUCCEEDED);
  EXPECT_EQ(engine_->TasksInFlight("a"), 1);
  auto third = Create("a");
  ASSERT_THAT(third.status(), IsOk());
  EXPECT_THAT(Create("a").status(), StatusIs(absl::StatusCode::kResourceExhausted));

  ASSERT_THAT(engine_->Cancel("a", second->task.task_id()).status(), IsOk());
  EXPECT_EQ(engine_->TasksInFlight("a"), 1);
  ASSERT_THAT(Create("a").status(), IsOk());
  EXPECT_EQ(engine_->TasksInFlight("a"), 2);
}

// At its limit, a tenant retrying a create it already made (same request_id, same request) gets
// that task back, not RESOURCE_EXHAUSTED; the same request_id with another request is still
// ALREADY_EXISTS; a new request_id is refused.
TEST_F(QuotaTest, RetryOfAStoredRequestIdIsAnsweredNotRefused) {
  QuotaOptions q;
  q.tenants["a"].max_tasks_in_flight = 1;
  q.tenants["a"].requests_per_second = 1;
  q.tenants["a"].burst = 1;
  Start(q);
  auto first = Create("a", "req-1");
  ASSERT_THAT(first.status(), IsOk());
  EXPECT_TRUE(first->created);

  auto retry = Create("a", "req-1");  // over both quotas now
  ASSERT_THAT(retry.status(), IsOk());
  EXPECT_FALSE(retry->created);
  EXPECT_EQ(retry->task.task_id(), first->task.task_id());
  EXPECT_THAT(Create("a", "req-1", "another song").status(),
              StatusIs(absl::StatusCode::kAlreadyExists));
  EXPECT_THAT(Create("a", "req-2").status(), StatusIs(absl::StatusCode::kResourceExhausted));
  clock_.Advance(absl::Seconds(2));  // the rate is fine again; in flight is still 1 of 1
  EXPECT_THAT(Create("a", "req-2").status(),
              StatusIs(absl::StatusCode::kResourceExhausted, HasSubstr("max_tasks_in_flight")));
  // Under the limits, the retry is answered by the store (created=false) and counts nothing.
  EXPECT_EQ(engine_->TasksInFlight("a"), 1);
  EXPECT_EQ(StoredTasks("a"), 1);
  EXPECT_EQ(LedgerRows("a"), 1);
  EXPECT_EQ(Refusals("a", kQuotaTasksInFlight) + Refusals("a", kQuotaRequestsPerSecond), 2)
      << "the answered retries are not refusals";
}

// The in-flight count survives a restart: it is rebuilt from the store's non-terminal tasks.
TEST_F(QuotaTest, InFlightCountIsRebuiltFromTheStoreOnRestart) {
  QuotaOptions q;
  q.tenants["a"].max_tasks_in_flight = 2;
  Start(q);
  auto first = Create("a");
  ASSERT_THAT(first.status(), IsOk());
  ASSERT_THAT(Create("a").status(), IsOk());
  StopEngine();

  Start(q);
  EXPECT_EQ(engine_->TasksInFlight("a"), 2);
  EXPECT_THAT(Create("a").status(), StatusIs(absl::StatusCode::kResourceExhausted));
  ASSERT_THAT(engine_->Cancel("a", first->task.task_id()).status(), IsOk());
  ASSERT_THAT(Create("a").status(), IsOk());
  EXPECT_THAT(Create("a").status(), StatusIs(absl::StatusCode::kResourceExhausted));
  EXPECT_EQ(StoredTasks("a"), 3);
}

// 8 threads create at once for a tenant limited to 5 in flight: exactly 5 are stored, the
// other creates are refused, and the count is 5.
TEST_F(QuotaTest, ConcurrentCreatesNeverPassTheInFlightLimit) {
  QuotaOptions q;
  q.tenants["a"].max_tasks_in_flight = 5;
  Start(q);
  std::atomic<int> created{0};
  std::atomic<int> refused{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < 8; ++t) {
    threads.emplace_back([&] {
      for (int i = 0; i < 4; ++i) {
        auto r = Create("a");
        if (r.ok()) {
          ++created;
        } else if (absl::IsResourceExhausted(r.status())) {
          ++refused;
        }
      }
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(created.load(), 5);
  EXPECT_EQ(refused.load(), 27);
  EXPECT_EQ(StoredTasks("a"), 5);
  EXPECT_EQ(engine_->TasksInFlight("a"), 5);
}

// Load shedding (EngineOptions::overload_submission_wait 2 s): with 2 submissions held at the
// provider and 3 more queued, creates go through until the oldest queued one has waited over 2 s;
// then every tenant's create is UNAVAILABLE (OVERLOADED, RetryInfo 1 s), stores no task and no
// ledger row and counts in music_creates_shed_total, while a retry of a stored request_id is
// still answered. Once the provider answers and the queue drains, creates go through again.
TEST_F(QuotaTest, CreatesAreShedWhileTheOldestQueuedSubmissionWaitsTooLong) {
  EngineOptions o = DefaultOptions();
  o.metrics = &metrics_;
  o.max_submissions_in_flight = 2;
  o.overload_submission_wait = absl::Seconds(2);
  StartEngine(o);
  provider_->set_hold_async(true);
  ASSERT_THAT(Create("a", "req-kept").status(), IsOk());
  for (int i = 0; i < 4; ++i) ASSERT_THAT(Create("a").status(), IsOk());
  RunUntilIdle();
  ASSERT_EQ(provider_->held(), 2) << "2 submissions at the provider, 3 queued";

  clock_.Advance(absl::Seconds(2));
  ASSERT_THAT(Create("b").status(), IsOk()) << "2 s of waiting is not over the limit";
  clock_.Advance(absl::Milliseconds(1));
  const int stored_a = StoredTasks("a");
  const int ledger_a = LedgerRows("a");
  auto shed = Create("a");
  ASSERT_THAT(shed.status(), StatusIs(absl::StatusCode::kUnavailable, HasSubstr("overloaded")));
  EXPECT_THAT(shed.status().message(), HasSubstr("3 tasks are waiting for submission"));
  EXPECT_EQ(RetryDelay(shed.status()), absl::Seconds(1));
  auto info_payload = shed.status().GetPayload(kErrorInfoUrl);
  ASSERT_TRUE(info_payload.has_value());
  google::rpc::ErrorInfo info;
  ASSERT_TRUE(info.ParseFromString(std::string(*info_payload)));
  EXPECT_EQ(info.reason(), "OVERLOADED");
  EXPECT_EQ(info.metadata().at("tasks_waiting"), "3");
  EXPECT_THAT(Create("b").status(), StatusIs(absl::StatusCode::kUnavailable))
      << "shedding is not per tenant: the engine is behind for everyone";
  EXPECT_EQ(StoredTasks("a"), stored_a) << "a shed create stores no task";
  EXPECT_EQ(LedgerRows("a"), ledger_a) << "a shed create reserves nothing";
  EXPECT_EQ(StoredTasks("b"), 1);
  EXPECT_EQ(Value(metrics_, "music_creates_shed_total", {{"tenant", "a"}}), 1);
  EXPECT_EQ(Value(metrics_, "music_creates_shed_total", {{"tenant", "b"}}), 1);
  auto kept = Create("a", "req-kept");
  ASSERT_THAT(kept.status(), IsOk()) << "a retry of a stored request is answered, not shed";
  EXPECT_FALSE(kept->created);

  // The provider answers: the queue drains, 2 at a time, and creates are taken again.
  for (int i = 0; i < 10 && provider_->held() > 0; ++i) {
    provider_->ReleaseHeld();
    RunUntilIdle();
  }
  EXPECT_EQ(provider_->submits(), 6);
  ASSERT_THAT(Create("a").status(), IsOk());
  EXPECT_EQ(StoredTasks("a"), stored_a + 1);
}

// overload_submission_wait 0 turns shedding off: a queue that waited an hour still takes creates.
TEST_F(QuotaTest, ZeroOverloadWaitNeverSheds) {
  EngineOptions o = DefaultOptions();
  o.metrics = &metrics_;
  o.max_submissions_in_flight = 1;
  o.overload_submission_wait = absl::ZeroDuration();
  o.task_deadline = absl::Hours(2);
  StartEngine(o);
  provider_->set_hold_async(true);
  for (int i = 0; i < 3; ++i) ASSERT_THAT(Create("a").status(), IsOk());
  RunUntilIdle();
  ASSERT_EQ(provider_->held(), 1);
  clock_.Advance(absl::Hours(1));
  EXPECT_THAT(Create("a").status(), IsOk());
  EXPECT_EQ(Value(metrics_, "music_creates_shed_total", {{"tenant", "a"}}), -1)
      << "nothing shed: the series does not exist (Value's -1)";
  // Shutdown waits for the provider requests in flight: answer them.
  provider_->set_hold_async(false);
  while (provider_->ReleaseHeld() > 0) RunUntilIdle();
}

}  // namespace
}  // namespace music::service
