// Reconciliation: matches the service's billing transactions (its ledger) against the providers'
// usage records and explains every difference.
//
// The unit of comparison is a task. The service side of a task is every ledger row of
// (provider, task_id); it nets to
//   billed   = sum of SETTLE amounts (what the tenant paid for the task),
//   refunded = sum of REFUND amounts (the hold released at failure, or reserved - settled),
// and RESERVE is only a hold, compared through its SETTLE/REFUND. The provider side is every usage
// record of the task; it nets to provider_net = charges - refunds. The money comparison is
// billed vs provider_net.
//
// Matching a provider's records to a service task: first by exact keys, in this order
//   1. (provider, provider task id)          [every provider; TokenLab's ldtask_..., beatra's,...]
//   2. (provider, provider billing_transaction_id)   [TokenLab, seeds 000/001]
//   3. (provider, request_id)                         [TokenLab]
// Each usage record is paired on its own, by the first of its keys that finds a task; a task's keys
// are those of its ledger rows (the smallest when its rows disagree), and a key two tasks share is
// ambiguous and pairs nothing. Then, for the records left (grouped per provider task id, else
// billing transaction id, request id, record id) and when enabled, a fallback: same provider and
// model, billed vs provider_net within the tolerance, times within `fallback_window`, only tasks
// no record was paired with; the closest in time wins (ties: the earlier, then the smaller id).
//
// Outcomes per task, first that applies:
//   CURRENCY_MISMATCH          the two sides (or the rows of one side) use different currencies.
//   MISSING_USAGE_RECORD       the service billed (billed beyond tolerance), the provider reported
//                              nothing for the task.
//   MISSING_BILLING_TRANSACTION the provider charged (provider_net beyond tolerance), the service
//                              has no ledger row for the task, or only a stale RESERVE: leakage.
//   DUPLICATE                  either side has the same kind twice: two SETTLEs or two REFUNDs in
//                              the ledger, two charges or two refunds from the provider.
//   REFUND_MISMATCH            nets differ and a side fully refunded: the service refunded the
//                              tenant (billed 0, refunded > 0) but the provider kept a charge, or
//                              the provider refunded its whole charge but the tenant paid.
//   AMOUNT_MISMATCH            nets differ beyond the tolerance otherwise.
//   MATCHED                    otherwise (including a task that neither side charged).
//
// In flight: a task whose only ledger rows are RESERVEs is excluded (with its usage records)
// when its reservation is younger than `in_flight_grace` before `as_of`, the time the inputs were
// taken (by default the newest time in them): the task has not finished and the provider may not
// have reported yet. Likewise provider records paired with no ledger row and younger than that
// cutoff are left for a later run (the reservation they belong to may not carry the provider task
// id yet). In flight is judged against `as_of`, not the range end, so a daily run made after the
// day reconciles the day's last tasks instead of dropping them from every run. An older
// reservation-only task is a stale reservation: it is reconciled with billed = 0 (so a provider
// charge for it shows as MISSING_BILLING_TRANSACTION) and counted in `stale_reservations`.
//
// Range: a task belongs to [start, end) by its task time, the earliest of its ledger rows (or, for
// a task only the provider reports, of its usage records), so a task near midnight is never split
// between two runs. Days in the report are UTC days of the task time.
//
// Determinism: the report depends only on the multiset of inputs, never on their order: groups
// are built by hash, attributes are picked by minimum, and every output list is sorted by stable
// keys. Reconcile treats every input row as distinct; use LedgerSet/UsageSet (usage_format.h) to
// drop re-imported rows first.
#ifndef MUSIC_SERVICE_BILLING_RECONCILER_H_
#define MUSIC_SERVICE_BILLING_RECONCILER_H_

#include <array>
#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "absl/types/span.h"
#include "domain/billing_types.h"

namespace music::billing {

/// What reconciling one task found.
enum class Outcome {
  kMatched,
  kAmountMismatch,
  kMissingUsageRecord,
  kMissingBillingTransaction,
  kDuplicate,
  kRefundMismatch,
  kCurrencyMismatch,
};
inline constexpr int kOutcomeCount = 7;

/// "MATCHED", "AMOUNT_MISMATCH", ... (the enumerator in upper snake case).
absl::string_view OutcomeName(Outcome o);

/// How the two sides of a task were paired.
enum class MatchKey {
  kNone,  ///< One side only.
  kProviderTaskId,
  kBillingTransactionId,  ///< The provider's billing_transaction_id.
  kRequestId,
  kFallback,  ///< Provider + model + amount within tolerance + time window.
};
inline constexpr int kMatchKeyCount = 5;

/// "NONE", "PROVIDER_TASK_ID", "BILLING_TRANSACTION_ID", "REQUEST_ID", "FALLBACK".
absl::string_view MatchKeyName(MatchKey k);

struct ReconcileOptions {
  /// The range [start, end) of task times to reconcile.
  absl::Time start = absl::InfinitePast();
  absl::Time end = absl::InfiniteFuture();
  /// Only these providers; empty means all.
  std::vector<std::string> providers;
  /// Two nets agree when they differ by at most max(tolerance_micros, tolerance_percent % of the
  /// larger magnitude). Both >= 0.
  int64_t tolerance_micros = 0;
  double tolerance_percent = 0;
  /// The fallback match (see above); off when false or the window is zero.
  bool fallback = true;
  absl::Duration fallback_window = absl::Minutes(10);
  /// See "In flight" above. >= 0.
  absl::Duration in_flight_grace = absl::Hours(1);
  /// When the inputs were taken; InfiniteFuture means the newest time found in them.
  absl::Time as_of = absl::InfiniteFuture();
  /// Credits per USD for the report's common-unit (USD) totals only; beatra's default rate
  /// (seed 002). > 0.
  int64_t credits_per_usd = 1000;
};

/// Counts and amounts (micros of the totals' currency) of one outcome.
struct OutcomeTotals {
  int64_t tasks = 0;
  int64_t billed_micros = 0;
  int64_t provider_micros = 0;
};

/// Totals of one (provider, model, UTC day, currency). A task counts on the row of the service's
/// currency; each side's amount is summed on the row of that side's currency, so a row is in one
/// unit (a CURRENCY_MISMATCH task may leave a row with provider amounts and no tasks).
struct Totals {
  std::string provider;
  /// The provider's model id where known (usage records carry only that), else the catalog model.
  std::string model;
  std::string day;  ///< "YYYY-MM-DD"
  Currency currency = Currency::kCredits;
  int64_t tasks = 0;
  std::array<OutcomeTotals, kOutcomeCount> by_outcome{};
  int64_t billed_micros = 0;      ///< Sum of billed.
  int64_t provider_micros = 0;    ///< Sum of provider_net.
  int64_t difference_micros = 0;  ///< provider_micros - billed_micros.
};

/// One reconciled task with both sides (the report's discrepancies are those not MATCHED).
/// The record pointers point into the inputs given to Reconcile: the report must not outlive them.
struct TaskResult {
  Outcome outcome = Outcome::kMatched;
  MatchKey matched_by = MatchKey::kNone;
  std::string provider;
  std::string model;
  std::string day;
  std::string task_id;           ///< The service's; empty when only the provider knows the task.
  std::string provider_task_id;  ///< Empty when neither side has one.
  Currency currency = Currency::kCredits;  ///< The service's, else the provider's.
  int64_t reserved_micros = 0;
  int64_t billed_micros = 0;                            ///< Service: sum of SETTLE.
  int64_t service_refund_micros = 0;                    ///< Service: sum of REFUND.
  int64_t provider_charge_micros = 0;                   ///< Provider: sum of charges.
  int64_t provider_refund_micros = 0;                   ///< Provider: sum of refunds.
  int64_t difference_micros = 0;                        ///< (charges - refunds) - billed.
  std::string detail;                                   ///< One line: why this outcome.
  std::vector<const BillingTransaction*> transactions;  ///< Sorted by kind, id.
  std::vector<const UsageRecord*> usage;                ///< Sorted by kind, id.
};

/// The sums of one currency over the whole run.
struct CurrencyTotals {
  Currency currency = Currency::kCredits;
  int64_t tasks = 0;
  int64_t billed_micros = 0;
  int64_t provider_micros = 0;
  int64_t difference_micros = 0;
};

struct ReconcileReport {
  ReconcileOptions options;
  int64_t transactions_in = 0;  ///< Ledger rows given.
  int64_t usage_records_in = 0;
  int64_t tasks = 0;  ///< Tasks reconciled (in range, provider selected, not in flight).
  int64_t in_flight_excluded = 0;        ///< Reservation-only tasks left for a later run.
  int64_t in_flight_usage_excluded = 0;  ///< Unpaired provider tasks left for a later run.
  int64_t stale_reservations = 0;
  std::array<int64_t, kOutcomeCount> outcome_tasks{};
  std::array<int64_t, kMatchKeyCount> matched_by{};  ///< Tasks per pairing, incl. one-sided kNone.
  std::vector<Totals> totals;                        ///< Sorted by provider, model, day, currency.
  std::vector<CurrencyTotals> currency;  ///< One per currency present, CREDITS then USD.
  /// Everything in USD micros at options.credits_per_usd (credits micros / rate).
  int64_t billed_usd_micros = 0;
  int64_t provider_usd_micros = 0;
  int64_t difference_usd_micros = 0;
  /// Every task not MATCHED, sorted by provider, day, model, outcome, task ids.
  std::vector<TaskResult> discrepancies;
};

/// Reconciles `transactions` against `usage`. INVALID_ARGUMENT for bad options (end <= start,
/// a negative tolerance or grace, credits_per_usd <= 0). Linear time and memory in the input
/// (hash maps keyed by string_view into the inputs), plus sorting the discrepancies.
absl::StatusOr<ReconcileReport> Reconcile(absl::Span<const BillingTransaction> transactions,
                                          absl::Span<const UsageRecord> usage,
                                          const ReconcileOptions& options);

/// Whether two nets agree under the options' tolerance (exposed for tests).
bool WithinTolerance(int64_t a_micros, int64_t b_micros, const ReconcileOptions& options);

}  // namespace music::billing

#endif  // MUSIC_SERVICE_BILLING_RECONCILER_H_
