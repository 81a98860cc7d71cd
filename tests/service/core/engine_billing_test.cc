// The engine's billing: a RESERVE with every new task, exactly one SETTLE and/or REFUND when it
// ends, whatever path ends it and however often that path is retried. Real SQLite, a fake
// provider, a fake clock.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <functional>
#include <map>
#include <memory>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "adapters/provider_errors.h"
#include "service/core/task_engine.h"
#include "tests/testing/engine_fixture.h"
#include "tests/testing/status_matchers.h"

namespace music::service {
namespace {

using billing::BillingTransaction;
using billing::TransactionKind;
using domain::TaskRecord;

constexpr int64_t kPrice = 12'000'000;  // 12 credits

class EngineBillingTest : public EngineFixture {
 protected:
  void SetUp() override {
    OpenStore();
    provider_ = std::make_shared<FakeProvider>();
    registry_.Add(provider_);
    std::vector<music::v1::Model> models = provider_->Models();
    models[0].mutable_price()->set_amount_micros(kPrice);
    models[0].mutable_price()->set_currency("CREDITS");
    music::v1::Model unpriced = models[0];
    unpriced.set_name("free-model");
    unpriced.clear_price();
    models.push_back(unpriced);
    catalog_ = std::make_unique<Catalog>(models, "fake-model");
  }

  void StartEngine() { EngineFixture::StartEngine(DefaultOptions()); }

  CreateSpec Spec(const std::string& model = "fake-model") {
    CreateSpec spec;
    spec.tenant = "default";
    spec.kind = music::v1::TASK_KIND_MUSIC;
    spec.model = catalog_->Find(model);
    spec.input.set_prompt("a song");
    return spec;
  }

  bool IsState(const std::string& id, music::v1::TaskState s) { return Get(id).task.state() == s; }

  std::string CreateRunning(const std::string& model = "fake-model") {
    auto created = engine_->Create(Spec(model));
    EXPECT_THAT(created, IsOk());
    const std::string id = created->task.task_id();
    RunUntilIdle();
    EXPECT_TRUE(IsState(id, music::v1::TASK_STATE_RUNNING));
    return id;
  }

  // The ledger rows of `task_id`, by kind name.
  std::multimap<std::string, BillingTransaction> Ledger(const std::string& task_id) {
    std::multimap<std::string, BillingTransaction> rows;
    persistence::BillingListQuery q;
    q.tenant = "default";
    q.page_size = 1000;
    auto page = billing_->ListBillingTransactions(q);
    EXPECT_THAT(page, IsOk());
    for (const auto& t : page->transactions) {
      if (t.task_id == task_id) {
        rows.emplace(std::string(billing::TransactionKindName(t.kind)), t);
      }
    }
    return rows;
  }
  int64_t Amount(const std::multimap<std::string, BillingTransaction>& rows,
                 const std::string& kind) {
    auto it = rows.find(kind);
    return it == rows.end() ? -1 : it->second.amount_micros;
  }

  void ExpectCleanLedger() {
    auto violations = billing_->CheckLedger();
    ASSERT_THAT(violations, IsOk());
    for (const auto& v : *violations)
      ADD_FAILURE() << v.task_id << " " << v.kind << ": " << v.detail;
  }

  static adapters::ProviderUpdate Success(int64_t charged = 0) {
    adapters::ProviderUpdate u;
    u.state = adapters::ProviderState::kSucceeded;
    u.provider_status = "SUCCESS";
    music::v1::Clip c;
    c.set_clip_id("clip-1");
    c.set_audio_url("http://audio/clip-1.wav");
    u.clips.push_back(c);
    if (charged > 0) {
      u.has_billing = true;
      u.charged_micros = charged;
      u.billing_currency = "CREDITS";
    }
    return u;
  }
  static adapters::ProviderUpdate Failure() {
    adapters::ProviderUpdate u;
    u.state = adapters::ProviderState::kFailed;
    u.provider_status = "GENERATE_AUDIO_FAILED";
    u.error_code = absl::StatusCode::kInternal;
    u.error_message = "generation failed";
    return u;
  }
  std::shared_ptr<FakeProvider> provider_;
};

TEST_F(EngineBillingTest, CreateReservesThePrice) {
  StartEngine();
  auto created = engine_->Create(Spec());
  ASSERT_THAT(created, IsOk());
  EXPECT_EQ(created->task.billing().reserved_micros(), kPrice);
  EXPECT_EQ(created->task.billing().currency(), "CREDITS");
  auto rows = Ledger(created->task.task_id());
  ASSERT_EQ(rows.size(), 1u);
  const BillingTransaction& reserve = rows.begin()->second;
  EXPECT_EQ(reserve.billing_transaction_id,
            absl::StrCat("btx_", created->task.task_id(), "_RESERVE"));
  EXPECT_EQ(reserve.amount_micros, kPrice);
  EXPECT_EQ(reserve.model, "fake-model");
  EXPECT_EQ(reserve.provider_model, "F1");
  EXPECT_EQ(reserve.provider, "fake");
  EXPECT_EQ(reserve.time, clock_.Now());
}

TEST_F(EngineBillingTest, ConcurrentIdempotentCreatesReserveOnce) {
  StartEngine();
  std::vector<std::thread> threads;
  std::vector<std::string> ids(12);
  for (int i = 0; i < 12; ++i) {
    threads.emplace_back([&, i] {
      CreateSpec spec = Spec();
      spec.request_id = "same-key";
      auto r = engine_->Create(spec);
      if (r.ok()) ids[i] = r->task.task_id();
    });
  }
  for (auto& t : threads) t.join();
  for (const auto& id : ids) ASSERT_EQ(id, ids[0]);
  auto rows = Ledger(ids[0]);
  EXPECT_EQ(rows.size(), 1u);
  EXPECT_EQ(rows.count("RESERVE"), 1u);
  ExpectCleanLedger();
}

TEST_F(EngineBillingTest, UnpricedModelReservesZeroAndStillBalances) {
  StartEngine();
  const std::string id = CreateRunning("free-model");
  provider_->DefineCallback("ok", Success());
  ASSERT_THAT(Callback(id, "ok"), IsOk());
  auto rows = Ledger(id);
  EXPECT_EQ(Amount(rows, "RESERVE"), 0);
  EXPECT_EQ(Amount(rows, "SETTLE"), 0);
  EXPECT_EQ(rows.count("REFUND"), 0u);
  ExpectCleanLedger();
}

TEST_F(EngineBillingTest, SuccessWithoutAReportSettlesThePrice) {
  StartEngine();
  const std::string id = CreateRunning();
  provider_->QueuePoll(Success());
  Advance(absl::Seconds(5));
  ASSERT_TRUE(IsState(id, music::v1::TASK_STATE_SUCCEEDED));
  auto rows = Ledger(id);
  EXPECT_EQ(Amount(rows, "SETTLE"), kPrice);
  EXPECT_EQ(rows.count("REFUND"), 0u);
  EXPECT_EQ(Get(id).task.billing().charged_micros(), kPrice);
  EXPECT_EQ(Get(id).task.billing().refunded_micros(), 0);
  ExpectCleanLedger();
}

TEST_F(EngineBillingTest, PartialChargeSettlesTheReportAndRefundsTheRest) {
  StartEngine();
  const std::string id = CreateRunning();
  provider_->DefineCallback("ok", Success(8'000'000));
  ASSERT_THAT(Callback(id, "ok"), IsOk());
  auto rows = Ledger(id);
  EXPECT_EQ(Amount(rows, "SETTLE"), 8'000'000);
  EXPECT_EQ(Amount(rows, "REFUND"), 4'000'000);
  const auto billing = Get(id).task.billing();
  EXPECT_EQ(billing.charged_micros(), 8'000'000);
  EXPECT_EQ(billing.refunded_micros(), 4'000'000);
  EXPECT_EQ(billing.provider_charged_micros(), 8'000'000);
  ExpectCleanLedger();
}

TEST_F(EngineBillingTest, OverChargeSettlesAtTheReservation) {
  StartEngine();
  const std::string id = CreateRunning();
  provider_->DefineCallback("ok", Success(20'000'000));
  ASSERT_THAT(Callback(id, "ok"), IsOk());
  auto rows = Ledger(id);
  EXPECT_EQ(Amount(rows, "SETTLE"), kPrice);
  EXPECT_EQ(rows.count("REFUND"), 0u);
  // The provider's own figure is kept for reconciliation to report.
  EXPECT_EQ(Get(id).task.billing().provider_charged_micros(), 20'000'000);
  ExpectCleanLedger();
}

TEST_F(EngineBillingTest, ChargeInAnotherCurrencySettlesThePrice) {
  StartEngine();
  const std::string id = CreateRunning();
  adapters::ProviderUpdate usd = Success(50'000);
  usd.billing_currency = "USD";
  provider_->DefineCallback("ok", usd);
  ASSERT_THAT(Callback(id, "ok"), IsOk());
  EXPECT_EQ(Amount(Ledger(id), "SETTLE"), kPrice);
  ExpectCleanLedger();
}

TEST_F(EngineBillingTest, FailureCancelAndDeadlineRefundEverything) {
  StartEngine();
  const std::string failed = CreateRunning();
  provider_->DefineCallback("fail", Failure());
  ASSERT_THAT(Callback(failed, "fail"), IsOk());
  const std::string canceled = CreateRunning();
  ASSERT_THAT(engine_->Cancel("default", canceled), IsOk());
  const std::string expired = CreateRunning();
  Advance(absl::Seconds(61));
  ASSERT_TRUE(IsState(expired, music::v1::TASK_STATE_FAILED));
  for (const std::string& id : {failed, canceled, expired}) {
    SCOPED_TRACE(id);
    auto rows = Ledger(id);
    EXPECT_EQ(rows.size(), 2u);
    EXPECT_EQ(Amount(rows, "REFUND"), kPrice);
    EXPECT_EQ(rows.count("SETTLE"), 0u);
    EXPECT_EQ(Get(id).task.billing().refunded_micros(), kPrice);
    EXPECT_EQ(Get(id).task.billing().charged_micros(), 0);
  }
  ExpectCleanLedger();
}

TEST_F(EngineBillingTest, ProviderCancelAndLostSubmissionRefundEverything) {
  StartEngine();
  const std::string provider_canceled = CreateRunning();
  adapters::ProviderUpdate canceled;
  canceled.state = adapters::ProviderState::kCanceled;
  canceled.provider_status = "CANCELED";
  provider_->DefineCallback("canceled", canceled);
  ASSERT_THAT(Callback(provider_canceled, "canceled"), IsOk());
  ASSERT_TRUE(domain::IsTerminal(Get(provider_canceled).task.state()));

  // A create whose answer was lost and no callback revealed: FailNow after the grace.
  absl::Status timeout = absl::DeadlineExceededError("timeout");
  adapters::MarkOutcomeUnknown(timeout);
  provider_->QueueSubmit(timeout);
  auto created = engine_->Create(Spec());
  ASSERT_THAT(created, IsOk());
  const std::string lost = created->task.task_id();
  RunUntilIdle();
  ASSERT_EQ(Get(lost).submission, domain::SubmissionState::kUnknown);
  Advance(absl::Seconds(31));
  ASSERT_TRUE(IsState(lost, music::v1::TASK_STATE_FAILED));

  for (const std::string& id : {provider_canceled, lost}) {
    SCOPED_TRACE(id);
    auto rows = Ledger(id);
    EXPECT_EQ(rows.count("SETTLE"), 0u);
    EXPECT_EQ(Amount(rows, "REFUND"), kPrice);
  }
  ExpectCleanLedger();
}

TEST_F(EngineBillingTest, DuplicateCallbacksAndRetriedPollsSettleOnce) {
  StartEngine();
  const std::string id = CreateRunning();
  provider_->DefineCallback("ok", Success(10'000'000));
  provider_->QueuePoll(Success(10'000'000));
  for (int i = 0; i < 4; ++i) ASSERT_THAT(Callback(id, "ok"), IsOk());
  for (int i = 0; i < 3; ++i) Advance(absl::Seconds(5));
  ASSERT_THAT(Callback(id, "ok"), IsOk());
  auto rows = Ledger(id);
  EXPECT_EQ(rows.count("SETTLE"), 1u);
  EXPECT_EQ(rows.count("REFUND"), 1u);
  EXPECT_EQ(rows.size(), 3u);
  ExpectCleanLedger();
}

TEST_F(EngineBillingTest, RestartMidTaskSettlesOnce) {
  StartEngine();
  const std::string id = CreateRunning();
  StopEngine();
  provider_->QueuePoll(Success());
  StartEngine();
  Advance(absl::Seconds(5));
  ASSERT_TRUE(IsState(id, music::v1::TASK_STATE_SUCCEEDED));
  provider_->DefineCallback("ok", Success());
  ASSERT_THAT(Callback(id, "ok"), IsOk());  // a late callback after the restart
  auto rows = Ledger(id);
  EXPECT_EQ(rows.count("RESERVE"), 1u);
  EXPECT_EQ(rows.count("SETTLE"), 1u);
  EXPECT_EQ(rows.size(), 2u);
  ExpectCleanLedger();
}

TEST_F(EngineBillingTest, CancelRacingSuccessEndsOneWayOnly) {
  StartEngine();
  provider_->DefineCallback("ok", Success(9'000'000));
  for (int round = 0; round < 12; ++round) {
    const std::string id = CreateRunning();
    std::thread success([&] { Callback(id, "ok").IgnoreError(); });
    std::thread cancel([&] { engine_->Cancel("default", id).IgnoreError(); });
    success.join();
    cancel.join();
    const auto task = Get(id).task;
    auto rows = Ledger(id);
    if (task.state() == music::v1::TASK_STATE_SUCCEEDED) {
      EXPECT_EQ(Amount(rows, "SETTLE"), 9'000'000);
      EXPECT_EQ(Amount(rows, "REFUND"), 3'000'000);
    } else {
      ASSERT_EQ(task.state(), music::v1::TASK_STATE_CANCELED);
      EXPECT_EQ(rows.count("SETTLE"), 0u);
      EXPECT_EQ(Amount(rows, "REFUND"), kPrice);
    }
    EXPECT_EQ(rows.count("SETTLE") + rows.count("REFUND"),
              task.state() == music::v1::TASK_STATE_SUCCEEDED ? 2u : 1u);
  }
  ExpectCleanLedger();
}

TEST_F(EngineBillingTest, RandomizedRunWithFaultsLeavesACleanLedger) {
  StartEngine();
  std::mt19937 rng(20261123);
  provider_->DefineCallback("fail", Failure());
  for (int64_t charge : {0, 5'000'000, 12'000'000, 30'000'000}) {
    provider_->DefineCallback(absl::StrCat("ok-", charge), Success(charge));
  }
  // Poll answers: mostly pending, with poll faults, some successes and failures.
  provider_->QueuePoll(absl::UnavailableError("500"));
  provider_->QueuePoll(adapters::ProviderUpdate{});
  // Submit answers in order (the last one repeats): some 503s, then distinct provider ids.
  for (int i = 0; i < 70; ++i) {
    if (i % 5 == 0) {
      provider_->QueueSubmit(absl::UnavailableError("503"));
    } else {
      provider_->QueueSubmit(absl::StrCat("prov-r", i));
    }
  }
  std::vector<std::string> ids;
  for (int i = 0; i < 40; ++i) {
    auto created = engine_->Create(Spec(rng() % 6 == 0 ? "free-model" : "fake-model"));
    ASSERT_THAT(created, IsOk());
    ids.push_back(created->task.task_id());
  }
  RunUntilIdle();
  ASSERT_GE(provider_->submits(), 40);
  for (int round = 0; round < 6; ++round) {
    std::vector<std::thread> threads;
    for (const std::string& id : ids) {
      const int action = static_cast<int>(rng() % 8);
      const int repeats = 1 + static_cast<int>(rng() % 3);
      threads.emplace_back([this, id, action, repeats] {
        for (int k = 0; k < repeats; ++k) {
          switch (action) {
            case 0:
              engine_->Cancel("default", id).IgnoreError();
              break;
            case 1:
              Callback(id, "fail").IgnoreError();
              break;
            case 2:
            case 3:
              Callback(id, absl::StrCat("ok-", (k % 2) * 5'000'000)).IgnoreError();
              break;
            case 4:
              Callback(id, "ok-30000000").IgnoreError();
              break;
            default:
              break;  // left to polls and the deadline
          }
        }
      });
    }
    // The engine's steps (polls, retries) run beside the callbacks, as the pool ran them.
    threads.emplace_back([this] { RunUntilIdle(); });
    for (auto& t : threads) t.join();
    clock_.Advance(absl::Seconds(7));
  }
  Advance(absl::Seconds(120));  // everything left runs into its deadline
  for (const auto& id : ids) ASSERT_TRUE(domain::IsTerminal(Get(id).task.state())) << id;
  std::map<music::v1::TaskState, int> states;
  for (const auto& id : ids) {
    const auto task = Get(id).task;
    ++states[task.state()];
    EXPECT_EQ(task.billing().reserved_micros(),
              task.billing().charged_micros() + task.billing().refunded_micros())
        << id;
  }
  // The run really mixed the endings.
  EXPECT_GT(states[music::v1::TASK_STATE_SUCCEEDED], 0);
  EXPECT_GT(states[music::v1::TASK_STATE_FAILED], 0);
  EXPECT_GT(states[music::v1::TASK_STATE_CANCELED], 0);
  ExpectCleanLedger();
}

}  // namespace
}  // namespace music::service
