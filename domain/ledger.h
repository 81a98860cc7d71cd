// The ledger rules: which billing transactions a task's life writes, and what they say. Pure
// functions of the task; the engine writes their rows in the same store transaction as the task
// change that causes them (see TaskStore::Create / Update with a ledger span).
//
//   create                 RESERVE = the model's price (0, with a log line, for an unpriced model)
//   SUCCEEDED              SETTLE  = the provider's reported charge when it reports one in the
//                                    task's currency, capped at the reservation (an over-charge
//                                    is settled at the reservation; reconciliation reports the
//                                    difference), else the price of the model that ran it,
//                                    capped at the reservation;
//                          REFUND  = reserved - settled, when > 0
//   FAILED / CANCELED      REFUND  = all of the reservation (a failed or canceled task is never
//                                    left charged)
//   failover (alias)       REFUND  = all of the current reservation, at the provider left, and
//                          RESERVE = the new model's price in its currency (a new reservation,
//                                    Task.billing.reservation_index + 1), in the same write as
//                                    the task's move: the ledger holds what the model that runs
//                                    the task costs, never kie.ai credits settled at TokenLab.
//
// A task's rows form one reservation chain per reservation (RESERVE, then SETTLE and/or REFUND).
// Every transaction id is "btx_<task_id>_<KIND>" for reservation 0 and
// "btx_<task_id>_failover<n>_<KIND>" for reservation n, so a reservation has at most one of each
// kind however often a write is retried (the store's PRIMARY KEY enforces it too). Integer micros
// only.
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

/// "btx_<task_id>_<RESERVE|SETTLE|REFUND>" for reservation 0, else
/// "btx_<task_id>_failover<reservation>_<KIND>".
std::string TransactionId(absl::string_view task_id, TransactionKind kind,
                          int32_t reservation = 0);

/// The reservation a transaction id of task `task_id` belongs to: n for
/// "btx_<task_id>_failover<n>_<KIND>", else 0.
int32_t ReservationIndexOf(absl::string_view billing_transaction_id, absl::string_view task_id);

/// The reservation chain a transaction id belongs to: the id without its "_<KIND>" suffix
/// ("btx_t1_failover1_SETTLE" -> "btx_t1_failover1"); the id itself when it has no such suffix.
std::string ReservationKey(absl::string_view billing_transaction_id);

/// The currency of a price or a Task.billing: CREDITS when empty or unknown (an unpriced model).
Currency CurrencyOrCredits(absl::string_view name);

/// Sets record.task.billing (currency, reserved_micros = the model's price; 0 and CREDITS when the
/// model has none) and returns the RESERVE row to store with the new task. `model` may be null
/// (treated as unpriced).
BillingTransaction Reserve(const music::v1::Model* model, domain::TaskRecord& record,
                           absl::Time now);

/// A failover to `next` (called before record.task names the new provider): releases the
/// current reservation and holds `next`'s price (0 CREDITS for an unpriced model) as reservation
/// Task.billing.reservation_index + 1; resets the task's charge fields. Returns nothing: the rows
/// are FailOverRows of the record before and after, written with the task's change.
void Rereserve(const music::v1::Model* next, domain::TaskRecord& record);

/// The rows a write from `before` to `after` owes when `after` is on a later reservation than
/// `before` (a failover): a REFUND of all of before's reservation (named by before's provider
/// and model) and the RESERVE of after's. Empty when the reservation did not change.
std::vector<BillingTransaction> FailOverRows(const domain::TaskRecord& before,
                                             const domain::TaskRecord& after, absl::Time now);

/// For a task that has just become terminal (`record` is the new version): sets
/// task.billing.charged_micros / refunded_micros and returns the SETTLE and/or REFUND rows to
/// store with it. Returns nothing (and changes nothing) for a task that is not terminal.
std::vector<BillingTransaction> Finish(domain::TaskRecord& record, absl::Time now);

/// The amount a succeeded task is settled at: the provider's reported charge (billing
/// provider_charged_micros > 0) capped at reserved_micros, else the price of the model that ran it
/// (price_micros) capped at reserved_micros.
int64_t SettleAmount(const music::v1::TaskBilling& billing);

}  // namespace music::billing

#endif  // MUSIC_DOMAIN_LEDGER_H_
