// The ledger rules as pure functions (domain/ledger.h).
#include "domain/ledger.h"

#include <gtest/gtest.h>

namespace music::billing {
namespace {

const absl::Time kNow = absl::FromUnixSeconds(1700000000);

music::v1::Model Priced(int64_t micros, const std::string& currency) {
  music::v1::Model m;
  m.set_name("m");
  m.set_provider_model("M1");
  m.mutable_price()->set_amount_micros(micros);
  m.mutable_price()->set_currency(currency);
  return m;
}

domain::TaskRecord Task(const std::string& id = "tsk_1") {
  domain::TaskRecord r;
  r.task.set_task_id(id);
  r.task.set_tenant("t");
  r.task.set_request_id("req");
  r.task.set_provider("piapi");
  r.task.set_model("m");
  return r;
}

TEST(LedgerTest, ReserveHoldsThePriceInItsCurrency) {
  domain::TaskRecord r = Task();
  const music::v1::Model model = Priced(50'000, "USD");
  const BillingTransaction t = Reserve(&model, r, kNow);
  EXPECT_EQ(t.billing_transaction_id, "btx_tsk_1_RESERVE");
  EXPECT_EQ(t.kind, TransactionKind::kReserve);
  EXPECT_EQ(t.amount_micros, 50'000);
  EXPECT_EQ(t.currency, Currency::kUsd);
  EXPECT_EQ(t.provider_model, "M1");
  EXPECT_EQ(t.request_id, "req");
  EXPECT_EQ(t.time, kNow);
  EXPECT_EQ(r.task.billing().reserved_micros(), 50'000);
  EXPECT_EQ(r.task.billing().currency(), "USD");
}

TEST(LedgerTest, UnpricedModelReservesZeroCredits) {
  domain::TaskRecord r = Task();
  music::v1::Model model;
  EXPECT_EQ(Reserve(&model, r, kNow).amount_micros, 0);
  EXPECT_EQ(Reserve(nullptr, r, kNow).amount_micros, 0);
  EXPECT_EQ(r.task.billing().currency(), "CREDITS");
  const music::v1::Model negative = Priced(-5, "CREDITS");
  EXPECT_EQ(Reserve(&negative, r, kNow).amount_micros, 0);
}

TEST(LedgerTest, SuccessSettlesTheReportedChargeAndRefundsTheRest) {
  domain::TaskRecord r = Task();
  const music::v1::Model model = Priced(80'000'000, "CREDITS");
  Reserve(&model, r, kNow);
  r.task.set_state(music::v1::TASK_STATE_SUCCEEDED);
  r.task.set_provider_task_id("p-1");
  r.provider_endpoint = "/v1/music";
  r.task.mutable_billing()->set_provider_charged_micros(60'000'000);
  const auto rows = Finish(r, kNow);
  ASSERT_EQ(rows.size(), 2u);
  EXPECT_EQ(rows[0].billing_transaction_id, "btx_tsk_1_SETTLE");
  EXPECT_EQ(rows[0].amount_micros, 60'000'000);
  EXPECT_EQ(rows[0].provider_task_id, "p-1");
  EXPECT_EQ(rows[0].endpoint, "/v1/music");
  EXPECT_EQ(rows[1].billing_transaction_id, "btx_tsk_1_REFUND");
  EXPECT_EQ(rows[1].amount_micros, 20'000'000);
  EXPECT_EQ(r.task.billing().charged_micros(), 60'000'000);
  EXPECT_EQ(r.task.billing().refunded_micros(), 20'000'000);
}

TEST(LedgerTest, SuccessWithoutAReportOrOverChargedSettlesTheReservation) {
  for (int64_t reported : {int64_t{0}, int64_t{90'000'000}}) {
    domain::TaskRecord r = Task();
    const music::v1::Model model = Priced(80'000'000, "CREDITS");
    Reserve(&model, r, kNow);
    r.task.set_state(music::v1::TASK_STATE_SUCCEEDED);
    r.task.mutable_billing()->set_provider_charged_micros(reported);
    const auto rows = Finish(r, kNow);
    ASSERT_EQ(rows.size(), 1u) << reported;
    EXPECT_EQ(rows[0].kind, TransactionKind::kSettle);
    EXPECT_EQ(rows[0].amount_micros, 80'000'000);
    EXPECT_EQ(r.task.billing().refunded_micros(), 0);
  }
}

TEST(LedgerTest, FailureAndCancelRefundEverything) {
  for (auto state : {music::v1::TASK_STATE_FAILED, music::v1::TASK_STATE_CANCELED}) {
    domain::TaskRecord r = Task();
    const music::v1::Model model = Priced(50'000, "USD");
    Reserve(&model, r, kNow);
    r.task.set_state(state);
    r.task.mutable_billing()->set_provider_charged_micros(50'000);  // never charged when failed
    const auto rows = Finish(r, kNow);
    ASSERT_EQ(rows.size(), 1u);
    EXPECT_EQ(rows[0].kind, TransactionKind::kRefund);
    EXPECT_EQ(rows[0].amount_micros, 50'000);
    EXPECT_EQ(rows[0].currency, Currency::kUsd);
    EXPECT_EQ(r.task.billing().charged_micros(), 0);
    EXPECT_EQ(r.task.billing().refunded_micros(), 50'000);
  }
}

TEST(LedgerTest, NonTerminalTaskWritesNothing) {
  domain::TaskRecord r = Task();
  r.task.set_state(music::v1::TASK_STATE_RUNNING);
  EXPECT_TRUE(Finish(r, kNow).empty());
  EXPECT_EQ(r.task.billing().charged_micros(), 0);
}

}  // namespace
}  // namespace music::billing

namespace music::billing {
namespace {

TEST(LedgerFailoverTest, SettlesAtThePriceOfTheModelThatRanCappedAtTheReservation) {
  music::v1::TaskBilling b;
  b.set_reserved_micros(80'000'000);
  b.set_price_micros(12'000'000);  // failed over to a cheaper model
  EXPECT_EQ(SettleAmount(b), 12'000'000);
  b.set_price_micros(120'000'000);  // a dearer one: never more than was reserved
  EXPECT_EQ(SettleAmount(b), 80'000'000);
  b.set_price_micros(0);  // a task stored before price_micros existed
  EXPECT_EQ(SettleAmount(b), 80'000'000);
  b.set_price_micros(12'000'000);
  b.set_provider_charged_micros(15'000'000);  // the provider's own report wins
  EXPECT_EQ(SettleAmount(b), 15'000'000);
}

}  // namespace
}  // namespace music::billing
