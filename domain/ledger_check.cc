#include "domain/ledger_check.h"

#include <map>
#include <set>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/string_view.h"
#include "domain/task_record.h"

namespace music::billing {
namespace {

// A task's ledger rows, summed; `has_task` is false for rows whose task is not stored.
struct TaskSums {
  bool has_task = false;
  music::v1::TaskState state = music::v1::TASK_STATE_UNSPECIFIED;
  music::v1::TaskBilling billing;
  int reserves = 0, settles = 0, refunds = 0;
  int64_t reserved = 0, settled = 0, refunded = 0;
  std::set<std::string> currencies;
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
    sums.currencies.insert(entry.currency);
    switch (entry.kind) {
      case TransactionKind::kReserve:
        ++sums.reserves;
        sums.reserved += entry.amount_micros;
        break;
      case TransactionKind::kSettle:
        ++sums.settles;
        sums.settled += entry.amount_micros;
        break;
      case TransactionKind::kRefund:
        ++sums.refunds;
        sums.refunded += entry.amount_micros;
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
    if (t.billing.currency().empty() && t.reserves + t.settles + t.refunds == 0) continue;
    const bool terminal = domain::IsTerminal(t.state);
    if (t.reserves == 0) add("MISSING_RESERVE", "no RESERVE row");
    if (t.reserves > 1) add("DUPLICATE_RESERVE", absl::StrCat(t.reserves, " RESERVE rows"));
    if (t.settles > 1) add("DUPLICATE_SETTLE", absl::StrCat(t.settles, " SETTLE rows"));
    if (t.refunds > 1) add("DUPLICATE_REFUND", absl::StrCat(t.refunds, " REFUND rows"));
    if (t.settles > 0 &&
        (t.state == music::v1::TASK_STATE_FAILED || t.state == music::v1::TASK_STATE_CANCELED)) {
      add("SETTLED_NOT_SUCCEEDED", absl::StrCat("a ", music::v1::TaskState_Name(t.state),
                                                " task has a SETTLE of ", t.settled, " micros"));
    }
    if (terminal && t.settles + t.refunds == 0) {
      add("UNFINISHED", "terminal task without SETTLE or REFUND");
    }
    if (!terminal && t.settles + t.refunds > 0) {
      add("UNFINISHED", "a task not yet terminal already has SETTLE or REFUND rows");
    }
    if (terminal && t.reserved != t.settled + t.refunded) {
      add("UNBALANCED", absl::StrCat("reserved ", t.reserved, " != settled ", t.settled,
                                     " + refunded ", t.refunded));
    }
    if (t.currencies.size() > 1) {
      add("CURRENCY", absl::StrCat("rows in ", absl::StrJoin(t.currencies, " and ")));
    }
    if (t.billing.reserved_micros() != t.reserved || t.billing.charged_micros() != t.settled ||
        t.billing.refunded_micros() != t.refunded ||
        (t.currencies.size() == 1 && *t.currencies.begin() != t.billing.currency())) {
      add("BILLING_MISMATCH",
          absl::StrCat("Task.billing reserved/charged/refunded ", t.billing.reserved_micros(), "/",
                       t.billing.charged_micros(), "/", t.billing.refunded_micros(), " ",
                       t.billing.currency(), " vs ledger ", t.reserved, "/", t.settled, "/",
                       t.refunded));
    }
  }
  return violations;
}

}  // namespace music::billing
