// The ledger rules: which billing transactions a task's life writes, and what they say. Pure
// functions of the task; the engine writes their rows in the same store transaction as the task
// change that causes them (see TaskStore::Create / Update with a ledger span).
//
//   create                 RESERVE = the model's price (0, with a log line, for an unpriced model)
//   SUCCEEDED              SETTLE  = the provider's reported charge when it reports one in the
//                                    task's currency, capped at the reservation (an over-charge
//                                    is settled at the reservation; reconciliation reports the
//                                    difference), else the price of the model that ran it (the
//                                    reservation, or after a failover the new model's price when
//                                    in the same currency), capped at the reservation;
//                          REFUND  = reserved - settled, when > 0
//   FAILED / CANCELED      REFUND  = all of the reservation (a failed or canceled task is never
//                                    left charged)
//
// Every transaction id is "btx_<task_id>_<KIND>", so a task has at most one of each kind however
// often a write is retried (the store's PRIMARY KEY enforces it too). Integer micros only.
#ifndef MUSIC_DOMAIN_LEDGER_H_
#define MUSIC_DOMAIN_LEDGER_H_

#include <cstdint>
#include <string>
#include <vector>

#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "music/v1/music_service.pb.h"
#include "domain/task_record.h"
#include "domain/billing_types.h"

namespace music::billing {

/// "btx_<task_id>_<RESERVE|SETTLE|REFUND>".
std::string TransactionId(absl::string_view task_id, TransactionKind kind);

/// The currency of a price or a Task.billing: CREDITS when empty or unknown (an unpriced model).
Currency CurrencyOrCredits(absl::string_view name);

/// Sets record.task.billing (currency, reserved_micros = the model's price; 0 and CREDITS when the
/// model has none) and returns the RESERVE row to store with the new task. `model` may be null
/// (treated as unpriced).
BillingTransaction Reserve(const music::v1::Model* model, domain::TaskRecord& record,
                           absl::Time now);

/// For a task that has just become terminal (`record` is the new version): sets
/// task.billing.charged_micros / refunded_micros and returns the SETTLE and/or REFUND rows to
/// store with it. Returns nothing (and changes nothing) for a task that is not terminal.
std::vector<BillingTransaction> Finish(domain::TaskRecord& record, absl::Time now);

/// The amount a succeeded task is settled at: the provider's reported charge (billing
/// provider_charged_micros > 0) capped at reserved_micros, else the price of the model that ran it
/// (price_micros, which a failover to a model priced in the same currency lowers or raises)
/// capped at reserved_micros.
int64_t SettleAmount(const music::v1::TaskBilling& billing);

}  // namespace music::billing

#endif  // MUSIC_DOMAIN_LEDGER_H_
