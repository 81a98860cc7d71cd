// The ledger rules as a pure function over rows: one case per violation kind, with its exact
// detail, and the cases that are not violations.
#include "domain/ledger_check.h"

#include <string>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "domain/ledger.h"
#include "music/v1/task.pb.h"

namespace music::billing {
namespace {

using ::testing::ElementsAre;
using ::testing::IsEmpty;

constexpr music::v1::TaskState kPending = music::v1::TASK_STATE_PENDING;
constexpr music::v1::TaskState kRunning = music::v1::TASK_STATE_RUNNING;
constexpr music::v1::TaskState kSucceeded = music::v1::TASK_STATE_SUCCEEDED;
constexpr music::v1::TaskState kFailed = music::v1::TASK_STATE_FAILED;
constexpr music::v1::TaskState kCanceled = music::v1::TASK_STATE_CANCELED;

// A task whose Task.billing says reserved/charged/refunded in `currency`.
LedgerTask Task(const std::string& id, music::v1::TaskState state, int64_t reserved,
                int64_t charged = 0, int64_t refunded = 0,
                const std::string& currency = "CREDITS") {
  LedgerTask t;
  t.task_id = id;
  t.state = state;
  t.billing.set_currency(currency);
  t.billing.set_reserved_micros(reserved);
  t.billing.set_charged_micros(charged);
  t.billing.set_refunded_micros(refunded);
  return t;
}

LedgerEntry Row(const std::string& task_id, TransactionKind kind, int64_t amount,
                const std::string& currency = "CREDITS") {
  return LedgerEntry{task_id, kind, amount, currency, ""};
}

constexpr TransactionKind kReserve = TransactionKind::kReserve;
constexpr TransactionKind kSettle = TransactionKind::kSettle;
constexpr TransactionKind kRefund = TransactionKind::kRefund;

// "kind: detail" of each violation, in order.
std::vector<std::string> Describe(const std::vector<LedgerViolation>& violations) {
  std::vector<std::string> out;
  for (const LedgerViolation& v : violations)
    out.push_back(v.task_id + " " + v.kind + ": " + v.detail);
  return out;
}

std::vector<std::string> Check(const std::vector<LedgerTask>& tasks,
                               const std::vector<LedgerEntry>& rows) {
  return Describe(CheckLedger(tasks, rows));
}

TEST(LedgerCheckTest, ConsistentLedgersHaveNoViolation) {
  EXPECT_THAT(Check({}, {}), IsEmpty());
  EXPECT_THAT(
      Check({Task("pending", kPending, 10), Task("running", kRunning, 10),
             Task("ok", kSucceeded, 10, 7, 3), Task("all", kSucceeded, 10, 10, 0),
             Task("failed", kFailed, 10, 0, 10), Task("canceled", kCanceled, 10, 0, 10),
             Task("free", kSucceeded, 0, 0, 0)},
            {Row("pending", kReserve, 10), Row("running", kReserve, 10), Row("ok", kReserve, 10),
             Row("ok", kSettle, 7), Row("ok", kRefund, 3), Row("all", kReserve, 10),
             Row("all", kSettle, 10), Row("failed", kReserve, 10), Row("failed", kRefund, 10),
             Row("canceled", kReserve, 10), Row("canceled", kRefund, 10), Row("free", kReserve, 0),
             Row("free", kSettle, 0)}),
      IsEmpty());
}

TEST(LedgerCheckTest, TasksFromBeforeTheLedgerAreNotChecked) {
  LedgerTask legacy;
  legacy.task_id = "legacy";
  legacy.state = kSucceeded;  // terminal, no billing, no rows
  EXPECT_THAT(Check({legacy}, {}), IsEmpty());
  // With rows it is checked: its Task.billing (empty) disagrees with them.
  EXPECT_THAT(Check({legacy}, {Row("legacy", kReserve, 5), Row("legacy", kRefund, 5)}),
              ElementsAre("legacy BILLING_MISMATCH: Task.billing reserved/charged/refunded 0/0/0 "
                          " vs ledger 5/0/5"));
}

TEST(LedgerCheckTest, Orphan) {
  EXPECT_THAT(Check({}, {Row("ghost", kReserve, 1), Row("ghost", kSettle, 9, "USD")}),
              ElementsAre("ghost ORPHAN: ledger rows for a task that does not exist"));
}

TEST(LedgerCheckTest, MissingReserve) {
  EXPECT_THAT(Check({Task("t", kPending, 0)}, {}),
              ElementsAre("t MISSING_RESERVE: no RESERVE row"));
}

TEST(LedgerCheckTest, DuplicateReserve) {
  EXPECT_THAT(Check({Task("t", kPending, 10)}, {Row("t", kReserve, 5), Row("t", kReserve, 5)}),
              ElementsAre("t DUPLICATE_RESERVE: 2 RESERVE rows"));
}

TEST(LedgerCheckTest, DuplicateSettle) {
  EXPECT_THAT(Check({Task("t", kSucceeded, 10, 10)},
                    {Row("t", kReserve, 10), Row("t", kSettle, 4), Row("t", kSettle, 6)}),
              ElementsAre("t DUPLICATE_SETTLE: 2 SETTLE rows"));
}

TEST(LedgerCheckTest, DuplicateRefund) {
  EXPECT_THAT(Check({Task("t", kFailed, 10, 0, 10)},
                    {Row("t", kReserve, 10), Row("t", kRefund, 5), Row("t", kRefund, 5)}),
              ElementsAre("t DUPLICATE_REFUND: 2 REFUND rows"));
}

TEST(LedgerCheckTest, SettledNotSucceeded) {
  EXPECT_THAT(Check({Task("c", kCanceled, 10, 10), Task("f", kFailed, 10, 4, 6)},
                    {Row("c", kReserve, 10), Row("c", kSettle, 10), Row("f", kReserve, 10),
                     Row("f", kSettle, 4), Row("f", kRefund, 6)}),
              ElementsAre("c SETTLED_NOT_SUCCEEDED: a TASK_STATE_CANCELED task has a SETTLE of 10 "
                          "micros",
                          "f SETTLED_NOT_SUCCEEDED: a TASK_STATE_FAILED task has a SETTLE of 4 "
                          "micros"));
}

TEST(LedgerCheckTest, UnfinishedTerminalTask) {
  EXPECT_THAT(Check({Task("t", kSucceeded, 10)}, {Row("t", kReserve, 10)}),
              ElementsAre("t UNFINISHED: terminal task without SETTLE or REFUND",
                          "t UNBALANCED: reserved 10 != settled 0 + refunded 0"));
}

TEST(LedgerCheckTest, UnfinishedTaskThatIsNotTerminalYet) {
  EXPECT_THAT(
      Check({Task("t", kRunning, 10, 0, 10)}, {Row("t", kReserve, 10), Row("t", kRefund, 10)}),
      ElementsAre("t UNFINISHED: a task not yet terminal already has SETTLE or REFUND "
                  "rows"));
}

TEST(LedgerCheckTest, Unbalanced) {
  EXPECT_THAT(Check({Task("t", kSucceeded, 10, 4)}, {Row("t", kReserve, 10), Row("t", kSettle, 4)}),
              ElementsAre("t UNBALANCED: reserved 10 != settled 4 + refunded 0"));
  // Not terminal: a partial ledger is expected.
  EXPECT_THAT(Check({Task("t", kPending, 10)}, {Row("t", kReserve, 10)}), IsEmpty());
}

TEST(LedgerCheckTest, Currency) {
  EXPECT_THAT(Check({Task("t", kSucceeded, 10, 10)},
                    {Row("t", kReserve, 10, "CREDITS"), Row("t", kSettle, 10, "USD")}),
              ElementsAre("t CURRENCY: rows in CREDITS and USD"));
}

// A row of reservation `reservation` (0: the task's first; n: the one made at its n-th failover),
// with the id the ledger rules give it.
LedgerEntry ChainRow(const std::string& task_id, int32_t reservation, TransactionKind kind,
                     int64_t amount, const std::string& currency) {
  LedgerEntry e{task_id, kind, amount, currency, ""};
  e.billing_transaction_id = TransactionId(task_id, kind, reservation);
  return e;
}

// kie.ai (12 credits) failed, the task moved to TokenLab ($0.10) and succeeded there: the credits
// reservation is released, the USD one settled. Task.billing describes the current reservation.
TEST(LedgerCheckTest, FailoverReservationsInTwoCurrenciesAreConsistent) {
  LedgerTask t = Task("t", kSucceeded, 100000, 100000, 0, "USD");
  t.billing.set_reservation_index(1);
  EXPECT_THAT(Check({t}, {ChainRow("t", 0, kReserve, 12000000, "CREDITS"),
                          ChainRow("t", 0, kRefund, 12000000, "CREDITS"),
                          ChainRow("t", 1, kReserve, 100000, "USD"),
                          ChainRow("t", 1, kSettle, 100000, "USD")}),
              IsEmpty());
}

TEST(LedgerCheckTest, MixedCurrencyInsideOneReservationIsAFinding) {
  // The old failover: kie.ai's credits reserved, TokenLab settled in USD under the same chain.
  LedgerTask t = Task("t", kSucceeded, 100000, 100000, 0, "USD");
  t.billing.set_reservation_index(1);
  EXPECT_THAT(Check({t}, {ChainRow("t", 0, kReserve, 12000000, "CREDITS"),
                          ChainRow("t", 0, kRefund, 12000000, "CREDITS"),
                          ChainRow("t", 1, kReserve, 100000, "CREDITS"),
                          ChainRow("t", 1, kSettle, 100000, "USD")}),
              ElementsAre("t CURRENCY: rows in CREDITS and USD (btx_t_failover1)"));
}

TEST(LedgerCheckTest, AReservationLeftAtAFailoverMustBeReleased) {
  LedgerTask t = Task("t", kRunning, 100000, 0, 0, "USD");
  t.billing.set_reservation_index(1);
  EXPECT_THAT(Check({t}, {ChainRow("t", 0, kReserve, 12000000, "CREDITS"),
                          ChainRow("t", 1, kReserve, 100000, "USD")}),
              ElementsAre("t UNFINISHED: a reservation left at a failover was not released (btx_t)",
                          "t UNBALANCED: reserved 12000000 != settled 0 + refunded 0 (btx_t)"));
  // The new reservation is missing: the move was written without its rows.
  EXPECT_THAT(Check({t}, {ChainRow("t", 0, kReserve, 12000000, "CREDITS"),
                          ChainRow("t", 0, kRefund, 12000000, "CREDITS")}),
              ElementsAre("t MISSING_RESERVE: no RESERVE row",
                          "t BILLING_MISMATCH: Task.billing reserved/charged/refunded 100000/0/0 "
                          "USD vs ledger 0/0/0"));
}

TEST(LedgerCheckTest, BillingMismatch) {
  // Amounts.
  EXPECT_THAT(Check({Task("t", kPending, 12)}, {Row("t", kReserve, 10)}),
              ElementsAre("t BILLING_MISMATCH: Task.billing reserved/charged/refunded 12/0/0 "
                          "CREDITS vs ledger 10/0/0"));
  // The currency of the rows.
  EXPECT_THAT(Check({Task("t", kPending, 10, 0, 0, "USD")}, {Row("t", kReserve, 10, "CREDITS")}),
              ElementsAre("t BILLING_MISMATCH: Task.billing reserved/charged/refunded 10/0/0 USD "
                          "vs ledger 10/0/0"));
}

TEST(LedgerCheckTest, SortedByTaskIdThenInRuleOrder) {
  // As the SQLite test's injected corruption: a second SETTLE ("dup"), a task without its
  // RESERVE ("copy"), a ghost row; given out of order.
  std::vector<LedgerViolation> found = CheckLedger(
      {Task("dup", kSucceeded, 12, 12), Task("copy", kPending, 12), Task("a-ok", kPending, 1)},
      {Row("zz-ghost", kReserve, 1), Row("dup", kReserve, 12), Row("dup", kSettle, 12),
       Row("a-ok", kReserve, 1), Row("dup", kSettle, 12)});
  std::vector<std::string> ids_and_kinds;
  for (const LedgerViolation& v : found) ids_and_kinds.push_back(v.task_id + " " + v.kind);
  EXPECT_THAT(ids_and_kinds,
              ElementsAre("copy MISSING_RESERVE", "copy BILLING_MISMATCH", "dup DUPLICATE_SETTLE",
                          "dup UNBALANCED", "dup BILLING_MISMATCH", "zz-ghost ORPHAN"));
}

TEST(LedgerCheckTest, EveryRuleAtOnceInTheDocumentedOrder) {
  // A canceled task with two of each row in two currencies, none of it on Task.billing.
  EXPECT_THAT(
      Check({Task("t", kCanceled, 0)},
            {Row("t", kReserve, 1), Row("t", kReserve, 1), Row("t", kSettle, 1, "USD"),
             Row("t", kSettle, 1), Row("t", kRefund, 1), Row("t", kRefund, 1)}),
      ElementsAre("t DUPLICATE_RESERVE: 2 RESERVE rows", "t DUPLICATE_SETTLE: 2 SETTLE rows",
                  "t DUPLICATE_REFUND: 2 REFUND rows",
                  "t SETTLED_NOT_SUCCEEDED: a TASK_STATE_CANCELED task has a SETTLE of 2 micros",
                  "t UNBALANCED: reserved 2 != settled 2 + refunded 2",
                  "t CURRENCY: rows in CREDITS and USD",
                  "t BILLING_MISMATCH: Task.billing reserved/charged/refunded 0/0/0 CREDITS vs "
                  "ledger 2/2/2"));
}

}  // namespace
}  // namespace music::billing
