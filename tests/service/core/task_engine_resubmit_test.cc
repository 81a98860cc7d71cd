// A provider task that fails with an error the provider marks retryable (beatra
// `error.retryable: true`, CONTRACT-NOTES "beatra") is replaced by a new provider task under a
// new idempotency key, within the retry budget, billed once (task_engine.cc "Retryable provider
// failures"). Real SQLite, a fake provider, a FakeClock and a ManualExecutor.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <map>
#include <memory>
#include <string>
#include <vector>

#include "adapters/provider_errors.h"
#include "service/core/task_engine.h"
#include "tests/testing/engine_fixture.h"
#include "tests/testing/status_matchers.h"

namespace music::service {
namespace {

using billing::BillingTransaction;
using domain::SubmissionState;
using ::testing::ElementsAre;
using ::testing::HasSubstr;

constexpr int64_t kPrice = 80'000'000;  // 80 credits, beatra suno-5.5's price (seed 002)

class TaskEngineResubmitTest : public EngineFixture {
 protected:
  void SetUp() override {
    OpenStore();
    provider_ = std::make_shared<FakeProvider>(adapters::ResubmitPolicy::kIdempotencyKey);
    registry_.Add(provider_);
    std::vector<music::v1::Model> models = provider_->Models();
    models[0].mutable_price()->set_amount_micros(kPrice);
    models[0].mutable_price()->set_currency("CREDITS");
    catalog_ = std::make_unique<Catalog>(models, "fake-model");
  }

  void StartEngine() { EngineFixture::StartEngine(DefaultOptions()); }  // 3 attempts

  std::string CreateRunning() {
    std::string id = CreateMusicTask();
    RunUntilIdle();
    EXPECT_EQ(State(id), music::v1::TASK_STATE_RUNNING);
    return id;
  }

  // beatra's `failed` with `error {code: "internal_error", retryable}` as its parser reports it.
  static adapters::ProviderUpdate Failed(bool retryable, const std::string& provider_task_id) {
    adapters::ProviderUpdate u;
    u.provider_task_id = provider_task_id;
    u.state = adapters::ProviderState::kFailed;
    u.provider_status = "failed";
    u.error_code = absl::StatusCode::kUnavailable;
    u.error_message = "beatra task failed (internal_error): The task failed: internal_error";
    u.provider_error_code = "internal_error";
    u.retryable = retryable;
    u.has_billing = true;  // beatra refunds a failed task (seed 002 "Billing")
    u.charged_micros = kPrice;
    u.refunded_micros = kPrice;
    u.billing_currency = "CREDITS";
    return u;
  }
  static adapters::ProviderUpdate Succeeded(const std::string& provider_task_id) {
    adapters::ProviderUpdate u;
    u.provider_task_id = provider_task_id;
    u.state = adapters::ProviderState::kSucceeded;
    u.provider_status = "succeeded";
    music::v1::Clip c;
    c.set_clip_id("clip-1");
    c.set_audio_url("http://audio/clip-1.wav");
    u.clips.push_back(c);
    u.has_billing = true;
    u.charged_micros = kPrice;
    u.billing_currency = "CREDITS";
    return u;
  }

  std::vector<std::string> Keys() {
    std::vector<std::string> keys;
    for (const auto& r : provider_->submitted()) keys.push_back(r.idempotency_key);
    return keys;
  }

  // The ledger rows of `task_id`, by kind name.
  std::multimap<std::string, BillingTransaction> Ledger(const std::string& task_id) {
    std::multimap<std::string, BillingTransaction> rows;
    persistence::BillingListQuery q;
    q.tenant = "default";
    q.page_size = 1000;
    auto page = billing_->ListBillingTransactions(q);
    EXPECT_THAT(page, IsOk());
    if (!page.ok()) return rows;
    for (const auto& t : page->transactions) {
      if (t.task_id == task_id) rows.emplace(std::string(billing::TransactionKindName(t.kind)), t);
    }
    return rows;
  }
  void ExpectCleanLedger() {
    auto violations = billing_->CheckLedger();
    ASSERT_THAT(violations, IsOk());
    for (const auto& v : *violations)
      ADD_FAILURE() << v.task_id << " " << v.kind << ": " << v.detail;
  }

  std::shared_ptr<FakeProvider> provider_;
};

TEST_F(TaskEngineResubmitTest, RetryableFailureIsResubmittedUnderANewKeyAndBilledOnce) {
  StartEngine();
  const std::string id = CreateRunning();
  ASSERT_EQ(Get(id).task.provider_task_id(), "prov-1");

  provider_->QueuePoll(Failed(/*retryable=*/true, "prov-1"));
  provider_->QueuePoll(Succeeded("prov-2"));
  Advance(absl::Seconds(5));  // the poll reports the failure
  const domain::TaskRecord after_failure = Get(id);
  EXPECT_EQ(after_failure.task.state(), music::v1::TASK_STATE_RUNNING);
  EXPECT_EQ(after_failure.submission, SubmissionState::kNotSubmitted);
  EXPECT_EQ(after_failure.task.provider_task_id(), "");
  EXPECT_EQ(after_failure.task.billing().provider_refunded_micros(), 0);  // the old task's report
  ASSERT_EQ(after_failure.task.resubmissions_size(), 1);
  const music::v1::ProviderResubmission& r = after_failure.task.resubmissions(0);
  EXPECT_EQ(r.provider(), "fake");
  EXPECT_EQ(r.provider_task_id(), "prov-1");
  EXPECT_EQ(r.code(), static_cast<int>(absl::StatusCode::kUnavailable));
  EXPECT_EQ(r.provider_error_code(), "internal_error");
  EXPECT_THAT(r.message(), HasSubstr("internal_error"));
  EXPECT_TRUE(r.has_time());

  Advance(absl::Seconds(8));  // backoff, the new create
  EXPECT_EQ(Get(id).task.provider_task_id(), "prov-2");
  Advance(absl::Seconds(5));  // the new task's poll
  const music::v1::Task task = Get(id).task;
  ASSERT_EQ(task.state(), music::v1::TASK_STATE_SUCCEEDED) << task.error().message();
  EXPECT_EQ(task.provider_task_id(), "prov-2");
  EXPECT_EQ(task.resubmissions_size(), 1);
  // Attempt 1 keeps the key it always had; attempt 2 gets its own.
  EXPECT_THAT(Keys(), ElementsAre(id + ".fake", id + ".fake.2"));

  auto rows = Ledger(id);
  EXPECT_EQ(rows.count("RESERVE"), 1u);
  ASSERT_EQ(rows.count("SETTLE"), 1u);
  EXPECT_EQ(rows.find("SETTLE")->second.amount_micros, kPrice);
  EXPECT_EQ(rows.find("SETTLE")->second.provider_task_id, "prov-2");
  EXPECT_EQ(rows.count("REFUND"), 0u);
  ExpectCleanLedger();
}

TEST_F(TaskEngineResubmitTest, ResentCreateOfAResubmissionKeepsItsKeyAcrossARestart) {
  StartEngine();
  const std::string id = CreateRunning();
  provider_->QueuePoll(Failed(/*retryable=*/true, "prov-1"));
  provider_->QueuePoll(Succeeded("prov-b"));
  Advance(absl::Seconds(5));
  ASSERT_EQ(Get(id).submission, SubmissionState::kNotSubmitted);

  // A restart before the new create: the attempt counter comes from the store.
  StopEngine();
  absl::Status timeout = absl::DeadlineExceededError("timeout");
  adapters::MarkOutcomeUnknown(timeout);
  provider_->QueueSubmit(timeout);  // attempt 2's answer is lost: resent under the same key
  provider_->QueueSubmit(std::string("prov-b"));
  StartEngine();
  Advance(absl::Seconds(8));
  Advance(absl::Seconds(8));
  ASSERT_EQ(Get(id).task.provider_task_id(), "prov-b");
  Advance(absl::Seconds(5));
  ASSERT_EQ(State(id), music::v1::TASK_STATE_SUCCEEDED) << Get(id).task.error().message();
  EXPECT_THAT(Keys(), ElementsAre(id + ".fake", id + ".fake.2", id + ".fake.2"));
  EXPECT_EQ(Ledger(id).count("SETTLE"), 1u);
  ExpectCleanLedger();
}

TEST_F(TaskEngineResubmitTest, RetryableFailuresFailTheTaskOnceTheBudgetIsSpent) {
  StartEngine();
  const std::string id = CreateRunning();
  // Every provider task fails retryable (the last answer repeats): 3 attempts, then FAILED.
  provider_->QueuePoll(Failed(/*retryable=*/true, ""));
  for (int i = 0; i < 10 && !domain::IsTerminal(State(id)); ++i) Advance(absl::Seconds(8));
  const music::v1::Task task = Get(id).task;
  ASSERT_EQ(task.state(), music::v1::TASK_STATE_FAILED);
  EXPECT_EQ(task.error().code(), static_cast<int>(absl::StatusCode::kUnavailable));
  EXPECT_EQ(task.error().provider_error_code(), "internal_error");
  EXPECT_EQ(provider_->submits(), 3);
  ASSERT_EQ(task.resubmissions_size(), 2);
  EXPECT_EQ(task.resubmissions(0).provider_task_id(), "prov-1");
  EXPECT_EQ(task.resubmissions(1).provider_task_id(), "prov-2");
  EXPECT_EQ(task.provider_task_id(), "prov-3");
  EXPECT_THAT(Keys(), ElementsAre(id + ".fake", id + ".fake.2", id + ".fake.3"));
  auto rows = Ledger(id);
  EXPECT_EQ(rows.count("RESERVE"), 1u);
  ASSERT_EQ(rows.count("REFUND"), 1u);
  EXPECT_EQ(rows.find("REFUND")->second.amount_micros, kPrice);
  EXPECT_EQ(rows.count("SETTLE"), 0u);
  ExpectCleanLedger();
}

TEST_F(TaskEngineResubmitTest, NonRetryableFailureFailsAtOnce) {
  StartEngine();
  const std::string id = CreateRunning();
  provider_->QueuePoll(Failed(/*retryable=*/false, "prov-1"));
  Advance(absl::Seconds(5));
  Advance(absl::Seconds(8));
  ASSERT_EQ(State(id), music::v1::TASK_STATE_FAILED);
  EXPECT_EQ(provider_->submits(), 1);
  EXPECT_EQ(Get(id).task.resubmissions_size(), 0);
}

TEST_F(TaskEngineResubmitTest, RetryableFailureInACallbackIsResubmittedToo) {
  provider_->DefineCallback("failed-retryable", Failed(/*retryable=*/true, "prov-1"));
  provider_->DefineCallback("done-2", Succeeded("prov-2"));
  StartEngine();
  const std::string id = CreateRunning();
  ASSERT_THAT(Callback(id, "failed-retryable"), IsOk());
  EXPECT_EQ(Get(id).submission, SubmissionState::kNotSubmitted);
  ASSERT_EQ(Get(id).task.resubmissions_size(), 1);
  // A repeat of the delivery is about the provider task left behind: refused, nothing changes.
  EXPECT_THAT(Callback(id, "failed-retryable"), StatusIs(absl::StatusCode::kFailedPrecondition));
  Advance(absl::Seconds(8));
  ASSERT_EQ(Get(id).task.provider_task_id(), "prov-2");
  EXPECT_THAT(Callback(id, "failed-retryable"), StatusIs(absl::StatusCode::kFailedPrecondition));
  EXPECT_EQ(Get(id).task.resubmissions_size(), 1);
  ASSERT_THAT(Callback(id, "done-2"), IsOk());
  EXPECT_EQ(State(id), music::v1::TASK_STATE_SUCCEEDED);
  EXPECT_THAT(Keys(), ElementsAre(id + ".fake", id + ".fake.2"));
}

}  // namespace
}  // namespace music::service
