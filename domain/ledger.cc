#include "domain/ledger.h"

#include <algorithm>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/strip.h"
#include "absl/strings/str_cat.h"

namespace music::billing {
namespace {

// The row's fields that come from the task; kind, amount and currency are the caller's.
BillingTransaction RowFor(const domain::TaskRecord& record, TransactionKind kind,
                          int64_t amount_micros, absl::Time now) {
  const music::v1::Task& task = record.task;
  BillingTransaction t;
  t.billing_transaction_id =
      TransactionId(task.task_id(), kind, task.billing().reservation_index());
  t.tenant = task.tenant();
  t.task_id = task.task_id();
  t.request_id = task.request_id();
  t.provider = task.provider();
  t.provider_task_id = task.provider_task_id();
  t.provider_billing_transaction_id = task.billing().provider_billing_transaction_id();
  t.model = task.model();
  t.provider_model = task.provider_model();
  t.endpoint = record.provider_endpoint;
  t.kind = kind;
  t.amount_micros = amount_micros;
  t.currency = CurrencyOrCredits(task.billing().currency());
  t.time = now;
  return t;
}

}  // namespace

std::string TransactionId(absl::string_view task_id, TransactionKind kind, int32_t reservation) {
  if (reservation == 0) return absl::StrCat("btx_", task_id, "_", TransactionKindName(kind));
  return absl::StrCat("btx_", task_id, "_failover", reservation, "_", TransactionKindName(kind));
}

int32_t ReservationIndexOf(absl::string_view billing_transaction_id, absl::string_view task_id) {
  absl::string_view rest = billing_transaction_id;
  if (!absl::ConsumePrefix(&rest, "btx_") || !absl::ConsumePrefix(&rest, task_id) ||
      !absl::ConsumePrefix(&rest, "_failover")) {
    return 0;
  }
  const size_t end = rest.find('_');
  int32_t n = 0;
  if (end == absl::string_view::npos || !absl::SimpleAtoi(rest.substr(0, end), &n) || n < 0) {
    return 0;
  }
  return n;
}

std::string ReservationKey(absl::string_view billing_transaction_id) {
  for (TransactionKind kind :
       {TransactionKind::kReserve, TransactionKind::kSettle, TransactionKind::kRefund}) {
    const std::string suffix = absl::StrCat("_", TransactionKindName(kind));
    if (absl::EndsWith(billing_transaction_id, suffix)) {
      return std::string(
          billing_transaction_id.substr(0, billing_transaction_id.size() - suffix.size()));
    }
  }
  return std::string(billing_transaction_id);
}

Currency CurrencyOrCredits(absl::string_view name) {
  return ParseCurrency(name).value_or(Currency::kCredits);
}

namespace {

// Holds `model`'s price in record.task.billing (0 CREDITS when it has none).
void HoldPrice(const music::v1::Model* model, music::v1::TaskBilling* billing) {
  int64_t amount = 0;
  Currency currency = Currency::kCredits;
  if (model != nullptr && model->has_price()) {
    // A negative configured price would turn a reservation into a payout: hold nothing instead.
    amount = std::max<int64_t>(0, model->price().amount_micros());
    currency = CurrencyOrCredits(model->price().currency());
  }
  billing->set_currency(std::string(CurrencyName(currency)));
  billing->set_reserved_micros(amount);
  billing->set_price_micros(amount);
}

}  // namespace

BillingTransaction Reserve(const music::v1::Model* model, domain::TaskRecord& record,
                           absl::Time now) {
  HoldPrice(model, record.task.mutable_billing());
  const int64_t amount = record.task.billing().reserved_micros();
  BillingTransaction row = RowFor(record, TransactionKind::kReserve, amount, now);
  if (row.provider_model.empty() && model != nullptr) row.provider_model = model->provider_model();
  return row;
}

void Rereserve(const music::v1::Model* next, domain::TaskRecord& record) {
  music::v1::TaskBilling* billing = record.task.mutable_billing();
  billing->set_reservation_index(billing->reservation_index() + 1);
  // The provider left reported nothing the new reservation owes.
  billing->set_charged_micros(0);
  billing->set_refunded_micros(0);
  billing->set_provider_charged_micros(0);
  billing->set_provider_refunded_micros(0);
  billing->clear_provider_billing_transaction_id();
  HoldPrice(next, billing);
}

std::vector<BillingTransaction> FailOverRows(const domain::TaskRecord& before,
                                             const domain::TaskRecord& after, absl::Time now) {
  std::vector<BillingTransaction> rows;
  if (after.task.billing().reservation_index() == before.task.billing().reservation_index()) {
    return rows;
  }
  // A task stored before the ledger existed has no reservation to release or renew.
  if (before.task.billing().currency().empty()) return rows;
  rows.push_back(
      RowFor(before, TransactionKind::kRefund, before.task.billing().reserved_micros(), now));
  BillingTransaction reserve =
      RowFor(after, TransactionKind::kReserve, after.task.billing().reserved_micros(), now);
  reserve.provider_task_id.clear();  // not accepted by the new provider yet
  rows.push_back(std::move(reserve));
  return rows;
}

int64_t SettleAmount(const music::v1::TaskBilling& billing) {
  const int64_t reserved = billing.price_micros() > 0
                               ? std::min(billing.price_micros(), billing.reserved_micros())
                               : billing.reserved_micros();
  if (billing.provider_charged_micros() > 0) {
    return std::min(billing.provider_charged_micros(), billing.reserved_micros());
  }
  return reserved;
}

std::vector<BillingTransaction> Finish(domain::TaskRecord& record, absl::Time now) {
  std::vector<BillingTransaction> rows;
  music::v1::TaskBilling* billing = record.task.mutable_billing();
  const int64_t reserved = billing->reserved_micros();
  switch (record.task.state()) {
    case music::v1::TASK_STATE_SUCCEEDED: {
      const int64_t settled = SettleAmount(*billing);
      billing->set_charged_micros(settled);
      billing->set_refunded_micros(reserved - settled);
      rows.push_back(RowFor(record, TransactionKind::kSettle, settled, now));
      if (reserved - settled > 0) {
        rows.push_back(RowFor(record, TransactionKind::kRefund, reserved - settled, now));
      }
      break;
    }
    case music::v1::TASK_STATE_FAILED:
    case music::v1::TASK_STATE_CANCELED:
      billing->set_charged_micros(0);
      billing->set_refunded_micros(reserved);
      rows.push_back(RowFor(record, TransactionKind::kRefund, reserved, now));
      break;
    default:
      break;
  }
  return rows;
}

}  // namespace music::billing
