// The ledger check: which of the ledger rules (see ledger.h) the stored tasks and ledger rows
// break. A pure function over rows, so every store implements BillingStore::CheckLedger the same
// way: read one consistent snapshot of the tasks and the ledger rows, then call CheckLedger.
#ifndef MUSIC_DOMAIN_LEDGER_CHECK_H_
#define MUSIC_DOMAIN_LEDGER_CHECK_H_

#include <cstdint>
#include <string>
#include <vector>

#include "absl/types/span.h"
#include "domain/billing_types.h"
#include "music/v1/task.pb.h"

namespace music::billing {

/// One broken ledger rule.
struct LedgerViolation {
  std::string task_id;
  /// UNBALANCED (terminal: reserved != settled + refunded), DUPLICATE_SETTLE, DUPLICATE_REFUND,
  /// DUPLICATE_RESERVE, SETTLED_NOT_SUCCEEDED (a FAILED/CANCELED task with a SETTLE),
  /// MISSING_RESERVE, UNFINISHED (terminal without SETTLE or REFUND, or not terminal with one),
  /// ORPHAN (rows without a task), BILLING_MISMATCH (Task.billing disagrees with the ledger's
  /// current reservation), CURRENCY (rows of one reservation in two currencies; a failover's new
  /// reservation may be in another currency than the one it released).
  /// The RESERVE / SETTLE / REFUND rules hold per reservation chain (ledger.h): a failed-over task
  /// has released every earlier reservation (UNFINISHED when one is not), and each closed
  /// reservation balances (UNBALANCED).
  std::string kind;
  /// For people: the counts and amounts that break the rule.
  std::string detail;
};

/// What the check needs of a stored task.
struct LedgerTask {
  std::string task_id;
  music::v1::TaskState state = music::v1::TASK_STATE_UNSPECIFIED;
  /// Task.billing as stored; default (empty currency) for a task stored before the ledger existed
  /// or whose stored task cannot be decoded.
  music::v1::TaskBilling billing;
};

/// What the check needs of a ledger row (a BillingTransaction).
struct LedgerEntry {
  std::string task_id;
  TransactionKind kind = TransactionKind::kReserve;
  int64_t amount_micros = 0;
  /// The currency as stored ("CREDITS", "USD"); compared as text with Task.billing.currency.
  std::string currency;
  /// The row's id; its reservation is ReservationIndexOf(id, task_id) (ledger.h): an id outside
  /// the btx_<task>_failover<n>_<KIND> scheme, or none, counts with the first reservation.
  std::string billing_transaction_id;
};

/// Every violation of the ledger rules by `tasks` and `entries`, sorted by task id (the violations
/// of one task in this order: MISSING_RESERVE, DUPLICATE_RESERVE,
/// DUPLICATE_SETTLE, DUPLICATE_REFUND, SETTLED_NOT_SUCCEEDED, UNFINISHED, UNBALANCED, CURRENCY,
/// BILLING_MISMATCH); empty when the ledger is consistent. A task with no Task.billing currency
/// and no rows (stored before the ledger existed) is not checked. Task ids are unique in `tasks`
/// (a repeated id: the last one counts).
std::vector<LedgerViolation> CheckLedger(absl::Span<const LedgerTask> tasks,
                                         absl::Span<const LedgerEntry> entries);

}  // namespace music::billing

#endif  // MUSIC_DOMAIN_LEDGER_CHECK_H_
