#include "domain/ledger_check.h"

#include <map>
#include <set>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/string_view.h"
#include "domain/ledger.h"
#include "domain/task_record.h"

namespace music::billing {
namespace {

// The rows of one reservation chain (ledger.h), summed.
struct ChainSums {
  int reserves = 0, settles = 0, refunds = 0;
  int64_t reserved = 0, settled = 0, refunded = 0;
  std::set<std::string> currencies;
};

// A task and its ledger rows by reservation chain; `has_task` is false for rows whose task is not
// stored.
struct TaskSums {
  bool has_task = false;
  music::v1::TaskState state = music::v1::TASK_STATE_UNSPECIFIED;
  music::v1::TaskBilling billing;
  int rows = 0;
  std::map<int32_t, ChainSums> chains;  // by reservation index
};

}  // namespace

std::vector<LedgerViolation> CheckLedger(absl::Span<const LedgerTask> tasks,
                                         absl::Span<const LedgerEntry> entries) {
  // Ordered by task id: the result's order.
  std::map<std::string, TaskSums> sums_by_task;
  for (const LedgerTask& task : tasks) {
    TaskSums& sums = sums_by_task[task.task_id];
    sums.has_task = true;
    sums.state = task.state;
    sums.billing = task.billing;
  }
  for (const LedgerEntry& entry : entries) {
    TaskSums& sums = sums_by_task[entry.task_id];
    ++sums.rows;
    // An id outside the btx_<task>_failover<n>_<KIND> scheme (or none) counts with the first
    // reservation, as every row did before failovers reserved again.
    ChainSums& c = sums.chains[ReservationIndexOf(entry.billing_transaction_id, entry.task_id)];
    c.currencies.insert(entry.currency);
    switch (entry.kind) {
      case TransactionKind::kReserve:
        ++c.reserves;
        c.reserved += entry.amount_micros;
        break;
      case TransactionKind::kSettle:
        ++c.settles;
        c.settled += entry.amount_micros;
        break;
      case TransactionKind::kRefund:
        ++c.refunds;
        c.refunded += entry.amount_micros;
        break;
    }
  }

  std::vector<LedgerViolation> violations;
  for (const auto& [task_id, t] : sums_by_task) {
    auto add = [&, id = task_id](absl::string_view kind, std::string detail) {
      violations.push_back({id, std::string(kind), std::move(detail)});
    };
    if (!t.has_task) {
      add("ORPHAN", "ledger rows for a task that does not exist");
      continue;
    }
    // A task stored before the ledger existed (schema 2) has no billing at all: not checked.
    if (t.billing.currency().empty() && t.rows == 0) continue;
    const bool terminal = domain::IsTerminal(t.state);
    // The reservation Task.billing describes; the others were released at a failover.
    const int32_t current_key = t.billing.reservation_index();
    static const ChainSums kNoRows;
    auto found = t.chains.find(current_key);
    const ChainSums& current = found == t.chains.end() ? kNoRows : found->second;
    // A chain is named in a detail only when the task has more than one.
    // Init-captures: a structured binding cannot be captured before C++20.
    auto where = [&chains = t.chains, id = task_id](int32_t key) {
      if (chains.size() <= 1) return std::string();
      return absl::StrCat(" (", ReservationKey(TransactionId(id, TransactionKind::kReserve, key)),
                          ")");
    };
    bool missing_reserve = current.reserves == 0;
    for (const auto& [key, c] : t.chains) missing_reserve |= c.reserves == 0;
    if (missing_reserve) add("MISSING_RESERVE", "no RESERVE row");
    for (const auto& [key, c] : t.chains) {
      if (c.reserves > 1) {
        add("DUPLICATE_RESERVE", absl::StrCat(c.reserves, " RESERVE rows", where(key)));
      }
    }
    for (const auto& [key, c] : t.chains) {
      if (c.settles > 1) {
        add("DUPLICATE_SETTLE", absl::StrCat(c.settles, " SETTLE rows", where(key)));
      }
    }
    for (const auto& [key, c] : t.chains) {
      if (c.refunds > 1) {
        add("DUPLICATE_REFUND", absl::StrCat(c.refunds, " REFUND rows", where(key)));
      }
    }
    int settles = 0;
    int64_t settled = 0;
    for (const auto& [key, c] : t.chains) {
      settles += c.settles;
      settled += c.settled;
    }
    if (settles > 0 &&
        (t.state == music::v1::TASK_STATE_FAILED || t.state == music::v1::TASK_STATE_CANCELED)) {
      add("SETTLED_NOT_SUCCEEDED", absl::StrCat("a ", music::v1::TaskState_Name(t.state),
                                                " task has a SETTLE of ", settled, " micros"));
    }
    if (terminal && current.settles + current.refunds == 0) {
      add("UNFINISHED", "terminal task without SETTLE or REFUND");
    }
    if (!terminal && current.settles + current.refunds > 0) {
      add("UNFINISHED", "a task not yet terminal already has SETTLE or REFUND rows");
    }
    for (const auto& [key, c] : t.chains) {
      if (key != current_key && c.refunds == 0) {
        add("UNFINISHED", absl::StrCat("a reservation left at a failover was not released",
                                       where(key)));
      }
    }
    // A closed reservation balances: every one left at a failover, and the current one once the
    // task is terminal.
    for (const auto& [key, c] : t.chains) {
      if ((terminal || key != current_key) && c.reserved != c.settled + c.refunded) {
        add("UNBALANCED", absl::StrCat("reserved ", c.reserved, " != settled ", c.settled,
                                       " + refunded ", c.refunded, where(key)));
      }
    }
    for (const auto& [key, c] : t.chains) {
      if (c.currencies.size() > 1) {
        add("CURRENCY", absl::StrCat("rows in ", absl::StrJoin(c.currencies, " and "),
                                     where(key)));
      }
    }
    if (t.billing.reserved_micros() != current.reserved ||
        t.billing.charged_micros() != current.settled ||
        t.billing.refunded_micros() != current.refunded ||
        (current.currencies.size() == 1 &&
         *current.currencies.begin() != t.billing.currency())) {
      add("BILLING_MISMATCH",
          absl::StrCat("Task.billing reserved/charged/refunded ", t.billing.reserved_micros(), "/",
                       t.billing.charged_micros(), "/", t.billing.refunded_micros(), " ",
                       t.billing.currency(), " vs ledger ", current.reserved, "/",
                       current.settled, "/", current.refunded, where(current_key)));
    }
  }
  return violations;
}

}  // namespace music::billing
