#include "domain/ledger.h"

#include <algorithm>

#include "absl/strings/str_cat.h"

namespace music::billing {
namespace {

// The row's fields that come from the task; kind, amount and currency are the caller's.
BillingTransaction RowFor(const domain::TaskRecord& record, TransactionKind kind,
                          int64_t amount_micros, absl::Time now) {
  const music::v1::Task& task = record.task;
  BillingTransaction t;
  t.billing_transaction_id = TransactionId(task.task_id(), kind);
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

std::string TransactionId(absl::string_view task_id, TransactionKind kind) {
  return absl::StrCat("btx_", task_id, "_", TransactionKindName(kind));
}

Currency CurrencyOrCredits(absl::string_view name) {
  return ParseCurrency(name).value_or(Currency::kCredits);
}

BillingTransaction Reserve(const music::v1::Model* model, domain::TaskRecord& record,
                           absl::Time now) {
  music::v1::TaskBilling* billing = record.task.mutable_billing();
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
  BillingTransaction row = RowFor(record, TransactionKind::kReserve, amount, now);
  if (row.provider_model.empty() && model != nullptr) row.provider_model = model->provider_model();
  return row;
}

int64_t SettleAmount(const music::v1::TaskBilling& billing) {
  // A task that failed over to a cheaper model is settled at that model's price.
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
