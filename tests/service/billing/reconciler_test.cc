#include "service/billing/reconciler.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <map>
#include <random>
#include <string>
#include <vector>

#include "domain/ledger.h"
#include "domain/money.h"
#include "service/billing/report_format.h"
#include "tests/service/billing/billing_dataset.h"

namespace music::billing {
namespace {

using testing::Dataset;
using testing::DatasetOptions;
using testing::ExpectedKey;
using testing::GenerateDataset;

using testing::T;

std::map<std::string, Outcome> Found(const ReconcileReport& r) {
  std::map<std::string, Outcome> found;
  for (const TaskResult& d : r.discrepancies) {
    EXPECT_TRUE(found.emplace(ExpectedKey(d), d.outcome).second) << "twice: " << ExpectedKey(d);
  }
  return found;
}

ReconcileReport RunOn(const Dataset& d, ReconcileOptions o = {}) {
  o.end = d.end;
  absl::StatusOr<ReconcileReport> r = Reconcile(d.ledger, d.usage, o);
  EXPECT_TRUE(r.ok()) << r.status();
  return r.ok() ? *std::move(r) : ReconcileReport{};
}

TEST(ReconcilerTest, FindsEveryInjectedDiscrepancyAndInventsNone) {
  DatasetOptions o;
  o.min_transactions = 40000;
  o.min_usage_records = 40000;
  o.discrepancy_rate = 0.03;
  const Dataset d = GenerateDataset(o);
  // Every kind is represented.
  std::map<Outcome, int> kinds;
  for (const auto& [key, outcome] : d.expected) ++kinds[outcome];
  EXPECT_EQ(kinds.size(), 6u);
  for (const auto& [outcome, n] : kinds) EXPECT_GE(n, 20) << OutcomeName(outcome);

  const ReconcileReport r = RunOn(d);
  const std::map<std::string, Outcome> found = Found(r);
  for (const auto& [key, outcome] : d.expected) {
    auto it = found.find(key);
    if (it == found.end()) {
      ADD_FAILURE() << "missed " << key << " " << OutcomeName(outcome);
    } else {
      EXPECT_EQ(OutcomeName(it->second), OutcomeName(outcome)) << key;
    }
  }
  for (const auto& [key, outcome] : found) {
    EXPECT_TRUE(d.expected.count(key)) << "invented " << key << " " << OutcomeName(outcome);
  }
  EXPECT_EQ(r.tasks, d.tasks);
  EXPECT_EQ(r.in_flight_excluded, o.in_flight_tasks);
  EXPECT_EQ(r.outcome_tasks[static_cast<int>(Outcome::kMatched)],
            d.tasks - static_cast<int64_t>(d.expected.size()));
  // Every exact key was used.
  EXPECT_GT(r.matched_by[static_cast<int>(MatchKey::kProviderTaskId)], 0);
  EXPECT_GT(r.matched_by[static_cast<int>(MatchKey::kBillingTransactionId)], 0);
  EXPECT_GT(r.matched_by[static_cast<int>(MatchKey::kRequestId)], 0);
  EXPECT_EQ(r.matched_by[static_cast<int>(MatchKey::kFallback)], 0);
}

TEST(ReconcilerTest, DiscrepanciesCarryBothSides) {
  DatasetOptions o;
  o.min_transactions = 5000;
  o.min_usage_records = 5000;
  o.discrepancy_rate = 0.05;
  const Dataset d = GenerateDataset(o);
  const ReconcileReport r = RunOn(d);
  ASSERT_FALSE(r.discrepancies.empty());
  for (const TaskResult& t : r.discrepancies) {
    EXPECT_FALSE(t.detail.empty()) << ExpectedKey(t);
    switch (t.outcome) {
      case Outcome::kMissingUsageRecord:
        EXPECT_FALSE(t.transactions.empty());
        EXPECT_TRUE(t.usage.empty());
        break;
      case Outcome::kMissingBillingTransaction:
        EXPECT_TRUE(t.transactions.empty());
        EXPECT_FALSE(t.usage.empty());
        break;
      default:
        EXPECT_FALSE(t.transactions.empty()) << ExpectedKey(t);
        EXPECT_FALSE(t.usage.empty()) << ExpectedKey(t);
    }
    EXPECT_EQ(t.difference_micros,
              t.provider_charge_micros - t.provider_refund_micros - t.billed_micros);
  }
}

TEST(ReconcilerTest, ShuffledInputGivesIdenticalReports) {
  DatasetOptions o;
  o.min_transactions = 20000;
  o.min_usage_records = 20000;
  o.discrepancy_rate = 0.05;
  Dataset d = GenerateDataset(o);
  ReconcileOptions ro;
  ro.tolerance_micros = 10;
  const ReconcileReport a = RunOn(d, ro);
  const std::string json = ReportToJson(a);
  const std::string csv = ReportToCsv(a);
  const std::string summary = ReportSummary(a);
  std::mt19937_64 rng(42);
  for (int round = 0; round < 3; ++round) {
    std::shuffle(d.ledger.begin(), d.ledger.end(), rng);
    std::shuffle(d.usage.begin(), d.usage.end(), rng);
    const ReconcileReport b = RunOn(d, ro);
    EXPECT_EQ(ReportToJson(b), json) << "round " << round;
    EXPECT_EQ(ReportToCsv(b), csv) << "round " << round;
    EXPECT_EQ(ReportSummary(b), summary) << "round " << round;
  }
}

// A one-task world: the service settles `billed`, the provider charges `charged`.
struct OneTask {
  std::vector<BillingTransaction> ledger;
  std::vector<UsageRecord> usage;
};

OneTask Task(int64_t billed, int64_t charged, Currency currency = Currency::kCredits) {
  OneTask w;
  BillingTransaction t;
  t.billing_transaction_id = "btx_t1_SETTLE";
  t.task_id = "t1";
  t.provider = "kie";
  t.provider_task_id = "k1";
  t.model = "V4_5";
  t.kind = TransactionKind::kSettle;
  t.amount_micros = billed;
  t.currency = currency;
  t.time = T("2026-11-01T10:00:00Z");
  w.ledger.push_back(t);
  UsageRecord u;
  u.provider = "kie";
  u.usage_record_id = "k1:generate:CHARGE:0";
  u.provider_task_id = "k1";
  u.model = "V4_5";
  u.kind = UsageKind::kCharge;
  u.amount_micros = charged;
  u.currency = currency;
  u.time = T("2026-11-01T10:00:05Z");
  w.usage.push_back(u);
  return w;
}

Outcome OutcomeOf(const OneTask& w, const ReconcileOptions& o) {
  absl::StatusOr<ReconcileReport> r = Reconcile(w.ledger, w.usage, o);
  EXPECT_TRUE(r.ok()) << r.status();
  if (!r.ok() || r->tasks != 1) return Outcome::kMatched;
  return r->discrepancies.empty() ? Outcome::kMatched : r->discrepancies[0].outcome;
}

TEST(ReconcilerTest, ToleranceEdgesInMicros) {
  ReconcileOptions o;
  o.tolerance_micros = 100;
  EXPECT_EQ(OutcomeOf(Task(1000000, 1000100), o), Outcome::kMatched);
  EXPECT_EQ(OutcomeOf(Task(1000000, 999900), o), Outcome::kMatched);
  EXPECT_EQ(OutcomeOf(Task(1000000, 1000101), o), Outcome::kAmountMismatch);
  EXPECT_EQ(OutcomeOf(Task(1000000, 999899), o), Outcome::kAmountMismatch);
  o.tolerance_micros = 0;
  EXPECT_EQ(OutcomeOf(Task(1000000, 1000000), o), Outcome::kMatched);
  EXPECT_EQ(OutcomeOf(Task(1000000, 1000001), o), Outcome::kAmountMismatch);
}

TEST(ReconcilerTest, ToleranceEdgesInPercent) {
  ReconcileOptions o;
  o.tolerance_percent = 1;                                                    // of the larger side
  EXPECT_EQ(OutcomeOf(Task(1000000, 1010000), o), Outcome::kMatched);         // 10000 <= 10100
  EXPECT_EQ(OutcomeOf(Task(1000000, 1010202), o), Outcome::kAmountMismatch);  // 10202 > 10102
  EXPECT_EQ(OutcomeOf(Task(1000000, 990000), o), Outcome::kMatched);          // 10000 <= 10000
  EXPECT_EQ(OutcomeOf(Task(1000000, 989999), o), Outcome::kAmountMismatch);   // 10001 > 10000
  // Micros and percent: the larger allowance wins.
  o.tolerance_micros = 20000;
  EXPECT_EQ(OutcomeOf(Task(1000000, 1020000), o), Outcome::kMatched);
  EXPECT_EQ(OutcomeOf(Task(1000000, 1020400), o), Outcome::kAmountMismatch);
  EXPECT_TRUE(WithinTolerance(0, 20000, o));
  EXPECT_FALSE(WithinTolerance(0, 20001, o));
}

TEST(ReconcilerTest, CurrencyAndRefundOutcomes) {
  ReconcileOptions o;
  OneTask w = Task(1000000, 1000000);
  w.usage[0].currency = Currency::kUsd;
  EXPECT_EQ(OutcomeOf(w, o), Outcome::kCurrencyMismatch);

  // Service refunded the tenant, provider kept the charge.
  w = Task(0, 1000000);
  w.ledger[0].kind = TransactionKind::kRefund;
  w.ledger[0].amount_micros = 1000000;
  EXPECT_EQ(OutcomeOf(w, o), Outcome::kRefundMismatch);
  // ... and once the provider refunds too, it matches.
  UsageRecord refund = w.usage[0];
  refund.usage_record_id = "k1:generate:REFUND:1";
  refund.kind = UsageKind::kRefund;
  w.usage.push_back(refund);
  EXPECT_EQ(OutcomeOf(w, o), Outcome::kMatched);

  // Provider refunded, the tenant paid.
  w = Task(1000000, 1000000);
  w.usage.push_back(refund);
  EXPECT_EQ(OutcomeOf(w, o), Outcome::kRefundMismatch);
}

TEST(ReconcilerTest, TotalsKeepEachSideInItsOwnCurrency) {
  OneTask w = Task(2000000, 3000000);
  w.usage[0].currency = Currency::kUsd;  // the service bills credits
  absl::StatusOr<ReconcileReport> r = Reconcile(w.ledger, w.usage, ReconcileOptions{});
  ASSERT_TRUE(r.ok());
  ASSERT_EQ(r->currency.size(), 2u);
  EXPECT_EQ(r->currency[0].currency, Currency::kCredits);
  EXPECT_EQ(r->currency[0].tasks, 1);
  EXPECT_EQ(r->currency[0].billed_micros, 2000000);
  EXPECT_EQ(r->currency[0].provider_micros, 0);
  EXPECT_EQ(r->currency[1].currency, Currency::kUsd);
  EXPECT_EQ(r->currency[1].tasks, 0);
  EXPECT_EQ(r->currency[1].provider_micros, 3000000);
  // 2 credits = $0.002 at 1000 credits/USD.
  EXPECT_EQ(r->billed_usd_micros, 2000);
  EXPECT_EQ(r->provider_usd_micros, 3000000);
  ASSERT_EQ(r->totals.size(), 2u);
  EXPECT_EQ(r->totals[0].tasks + r->totals[1].tasks, 1);
}

TEST(ReconcilerTest, FallbackPairsByModelAmountAndTime) {
  // The service never learned the provider task id: no exact key.
  OneTask w = Task(1000000, 1000000);
  w.ledger[0].provider_task_id.clear();
  ReconcileOptions o;
  o.as_of = T("2026-11-02T00:00:00Z");  // nothing in flight
  absl::StatusOr<ReconcileReport> r = Reconcile(w.ledger, w.usage, o);
  ASSERT_TRUE(r.ok());
  EXPECT_TRUE(r->discrepancies.empty());
  EXPECT_EQ(r->matched_by[static_cast<int>(MatchKey::kFallback)], 1);

  // Outside the window, or off in amount, or disabled: both sides are reported missing.
  for (int variant = 0; variant < 3; ++variant) {
    OneTask v = w;
    ReconcileOptions vo;
    vo.as_of = o.as_of;
    if (variant == 0) v.usage[0].time = v.ledger[0].time + absl::Minutes(11);
    if (variant == 1) v.usage[0].amount_micros += 1;
    if (variant == 2) vo.fallback = false;
    r = Reconcile(v.ledger, v.usage, vo);
    ASSERT_TRUE(r.ok());
    ASSERT_EQ(r->discrepancies.size(), 2u) << variant;
    EXPECT_EQ(r->outcome_tasks[static_cast<int>(Outcome::kMissingUsageRecord)], 1);
    EXPECT_EQ(r->outcome_tasks[static_cast<int>(Outcome::kMissingBillingTransaction)], 1);
  }
}

TEST(ReconcilerTest, StaleReservationChargedByTheProviderIsLeakage) {
  OneTask w = Task(1000000, 1000000);
  w.ledger[0].kind = TransactionKind::kReserve;
  ReconcileOptions o;
  // Within the grace of as_of: in flight, left for later.
  absl::StatusOr<ReconcileReport> r = Reconcile(w.ledger, w.usage, o);
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->tasks, 0);
  EXPECT_EQ(r->in_flight_excluded, 1);
  // A day later it is stale: the provider charged, the service never settled.
  o.as_of = w.ledger[0].time + absl::Hours(24);
  r = Reconcile(w.ledger, w.usage, o);
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->stale_reservations, 1);
  ASSERT_EQ(r->discrepancies.size(), 1u);
  EXPECT_EQ(r->discrepancies[0].outcome, Outcome::kMissingBillingTransaction);
  EXPECT_EQ(r->discrepancies[0].task_id, "t1");
  // A stale reservation nobody charged is no discrepancy.
  w.usage[0].amount_micros = 0;
  r = Reconcile(w.ledger, w.usage, o);
  ASSERT_TRUE(r.ok());
  EXPECT_TRUE(r->discrepancies.empty());
}

TEST(ReconcilerTest, DuplicatesOnEitherSide) {
  ReconcileOptions o;
  OneTask w = Task(1000000, 1000000);
  w.usage.push_back(w.usage[0]);
  w.usage[1].usage_record_id = "k1:generate:CHARGE:1";
  EXPECT_EQ(OutcomeOf(w, o), Outcome::kDuplicate);  // reported twice
  w = Task(1000000, 2000000);
  w.ledger.push_back(w.ledger[0]);
  w.ledger[1].billing_transaction_id = "btx_t1_SETTLE_2";
  EXPECT_EQ(OutcomeOf(w, o), Outcome::kDuplicate);  // billed twice (nets agree, still flagged)
}

TEST(ReconcilerTest, AmbiguousKeysAreNotUsed) {
  // Two service tasks claim the same request id: the provider record cannot be paired by it.
  OneTask w = Task(1000000, 1000000);
  w.ledger[0].provider_task_id.clear();
  w.ledger[0].request_id = "r1";
  BillingTransaction other = w.ledger[0];
  other.billing_transaction_id = "btx_t2_SETTLE";
  other.task_id = "t2";
  other.amount_micros = 5;
  w.ledger.push_back(other);
  w.usage[0].provider_task_id.clear();
  w.usage[0].request_id = "r1";
  ReconcileOptions o;
  o.fallback = false;
  o.as_of = T("2026-11-02T00:00:00Z");
  absl::StatusOr<ReconcileReport> r = Reconcile(w.ledger, w.usage, o);
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->matched_by[static_cast<int>(MatchKey::kRequestId)], 0);
  EXPECT_EQ(r->outcome_tasks[static_cast<int>(Outcome::kMissingBillingTransaction)], 1);
}

TEST(ReconcilerTest, RangeProvidersAndInFlight) {
  DatasetOptions o;
  o.min_transactions = 4000;
  o.min_usage_records = 4000;
  const Dataset d = GenerateDataset(o);
  ReconcileOptions ro;
  ro.providers = {"beatra"};
  const ReconcileReport r = RunOn(d, ro);
  for (const Totals& t : r.totals) EXPECT_EQ(t.provider, "beatra");
  for (const TaskResult& t : r.discrepancies) EXPECT_EQ(t.provider, "beatra");
  EXPECT_NEAR(static_cast<double>(r.tasks), d.tasks / 4.0, 1.0);

  // A range that holds the first 100 tasks (2 s apart).
  ReconcileOptions first;
  first.start = o.start;
  first.end = o.start + absl::Seconds(200);
  absl::StatusOr<ReconcileReport> part = Reconcile(d.ledger, d.usage, first);
  ASSERT_TRUE(part.ok());
  EXPECT_EQ(part->tasks, 100);

  // With no as_of, in flight is judged against the newest record.
  ReconcileOptions open;
  absl::StatusOr<ReconcileReport> all = Reconcile(d.ledger, d.usage, open);
  ASSERT_TRUE(all.ok());
  EXPECT_EQ(all->in_flight_excluded, o.in_flight_tasks);
  // With no grace they are stale reservations the provider charged: leakage.
  open.in_flight_grace = absl::ZeroDuration();
  all = Reconcile(d.ledger, d.usage, open);
  ASSERT_TRUE(all.ok());
  EXPECT_EQ(all->in_flight_excluded, 0);
  EXPECT_EQ(all->stale_reservations, o.in_flight_tasks);
}

TEST(ReconcilerTest, TotalsAddUp) {
  DatasetOptions o;
  o.min_transactions = 8000;
  o.min_usage_records = 8000;
  o.discrepancy_rate = 0.05;
  const Dataset d = GenerateDataset(o);
  const ReconcileReport r = RunOn(d);
  int64_t tasks = 0;
  std::map<Currency, int64_t> billed, provider;
  for (const Totals& t : r.totals) {
    int64_t by_outcome = 0;
    for (const OutcomeTotals& ot : t.by_outcome) by_outcome += ot.tasks;
    EXPECT_EQ(by_outcome, t.tasks);
    EXPECT_EQ(t.difference_micros, t.provider_micros - t.billed_micros);
    tasks += t.tasks;
    billed[t.currency] += t.billed_micros;
    provider[t.currency] += t.provider_micros;
    EXPECT_EQ(t.day, "2026-11-01");
  }
  EXPECT_EQ(tasks, r.tasks);
  for (const CurrencyTotals& c : r.currency) {
    EXPECT_EQ(c.billed_micros, billed[c.currency]);
    EXPECT_EQ(c.provider_micros, provider[c.currency]);
  }
}

TEST(ReconcilerTest, RejectsBadOptions) {
  ReconcileOptions o;
  o.start = T("2026-11-02T00:00:00Z");
  o.end = T("2026-11-01T00:00:00Z");
  EXPECT_EQ(Reconcile({}, {}, o).status().code(), absl::StatusCode::kInvalidArgument);
  o = {};
  o.tolerance_micros = -1;
  EXPECT_EQ(Reconcile({}, {}, o).status().code(), absl::StatusCode::kInvalidArgument);
  o = {};
  o.credits_per_usd = 0;
  EXPECT_EQ(Reconcile({}, {}, o).status().code(), absl::StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace music::billing

namespace music::billing {
namespace {

// A task that failed over has its RESERVE under the provider first tried and its SETTLE/REFUND
// under the one that ran it; it is one task, matched against the second provider's record.
TEST(ReconcilerFailoverTest, AFailedOverTaskIsOneTaskOfTheProviderThatRanIt) {
  auto row = [](TransactionKind kind, const char* provider, const char* ptid, const char* model,
                int64_t micros) {
    BillingTransaction t;
    t.billing_transaction_id = absl::StrCat("btx_tsk_1_", TransactionKindName(kind));
    t.tenant = "default";
    t.task_id = "tsk_1";
    t.provider = provider;
    t.provider_task_id = ptid;
    t.model = "suno";
    t.provider_model = model;
    t.kind = kind;
    t.amount_micros = micros;
    t.currency = Currency::kCredits;
    t.time = T("2026-11-20T10:00:00Z");
    return t;
  };
  const std::vector<BillingTransaction> ledger = {
      row(TransactionKind::kReserve, "beatra", "", "suno-5.5", 12'000'000),
      row(TransactionKind::kSettle, "kie", "kie-task-9", "V4_5", 12'000'000),
  };
  UsageRecord charge;
  charge.provider = "kie";
  charge.usage_record_id = "u1";
  charge.provider_task_id = "kie-task-9";
  charge.model = "V4_5";
  charge.kind = UsageKind::kCharge;
  charge.amount_micros = 12'000'000;
  charge.currency = Currency::kCredits;
  charge.time = T("2026-11-20T10:01:00Z");
  ReconcileOptions o;
  o.end = T("2026-11-21T00:00:00Z");
  o.as_of = T("2026-11-22T00:00:00Z");  // long after: nothing is in flight any more
  absl::StatusOr<ReconcileReport> r = Reconcile(ledger, {charge}, o);
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_TRUE(r->discrepancies.empty()) << r->discrepancies.front().detail;
  EXPECT_EQ(r->stale_reservations, 0);  // the RESERVE is not a task of its own
  ASSERT_EQ(r->totals.size(), 1u);
  EXPECT_EQ(r->totals[0].provider, "kie");
  EXPECT_EQ(r->totals[0].model, "V4_5");
  EXPECT_EQ(r->totals[0].by_outcome[static_cast<int>(Outcome::kMatched)].tasks, 1);
}


// Issue 12: kie.ai (credits) failed, TokenLab (USD) ran the task. The released credits
// reservation nets to zero and is left out; the USD reservation matches TokenLab's record.
TEST(ReconcilerFailoverTest, AReleasedReservationInAnotherCurrencyIsLeftOut) {
  auto row = [](TransactionKind kind, int32_t reservation, const char* provider, const char* ptid,
                int64_t micros, Currency currency) {
    BillingTransaction t;
    t.billing_transaction_id = TransactionId("tsk_1", kind, reservation);
    t.tenant = "default";
    t.task_id = "tsk_1";
    t.provider = provider;
    t.provider_task_id = ptid;
    t.model = "suno";
    t.kind = kind;
    t.amount_micros = micros;
    t.currency = currency;
    t.time = T("2026-11-20T10:00:00Z");
    return t;
  };
  const std::vector<BillingTransaction> ledger = {
      row(TransactionKind::kReserve, 0, "kie", "", 12'000'000, Currency::kCredits),
      row(TransactionKind::kRefund, 0, "kie", "", 12'000'000, Currency::kCredits),
      row(TransactionKind::kReserve, 1, "tokenlab", "", 100'000, Currency::kUsd),
      row(TransactionKind::kSettle, 1, "tokenlab", "tl-9", 100'000, Currency::kUsd),
  };
  UsageRecord charge;
  charge.provider = "tokenlab";
  charge.usage_record_id = "u1";
  charge.provider_task_id = "tl-9";
  charge.kind = UsageKind::kCharge;
  charge.amount_micros = 100'000;
  charge.currency = Currency::kUsd;
  charge.time = T("2026-11-20T10:01:00Z");
  ReconcileOptions o;
  o.end = T("2026-11-21T00:00:00Z");
  o.as_of = T("2026-11-22T00:00:00Z");
  absl::StatusOr<ReconcileReport> r = Reconcile(ledger, {charge}, o);
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_TRUE(r->discrepancies.empty()) << r->discrepancies.front().detail;
  ASSERT_EQ(r->totals.size(), 1u);
  EXPECT_EQ(r->totals[0].provider, "tokenlab");
  EXPECT_EQ(r->totals[0].by_outcome[static_cast<int>(Outcome::kMatched)].tasks, 1);
}

}  // namespace
}  // namespace music::billing
