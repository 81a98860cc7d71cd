// Durable storage of the billing ledger, imported provider usage records and reconciliation runs.
// The ledger rows themselves are written by TaskStore::Create / Update together with the task
// change that causes them; this interface reads them and stores everything else billing keeps.
#ifndef MUSIC_PERSISTENCE_BILLING_STORE_H_
#define MUSIC_PERSISTENCE_BILLING_STORE_H_

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "absl/types/span.h"
#include "domain/billing_types.h"
#include "domain/ledger_check.h"

namespace music::persistence {

/// [start, end) of record times; the defaults are unbounded.
struct TimeRange {
  absl::Time start = absl::InfinitePast();
  absl::Time end = absl::InfiniteFuture();
};

/// Where a page starts: strictly after (older than) this row in newest-first order.
struct BillingCursor {
  absl::Time time;
  std::string id;
};

/// A ListBillingTransactions query: newest first (time, then id, descending).
struct BillingListQuery {
  std::string tenant;
  TimeRange range;
  int page_size = 50;  ///< >= 1
  std::optional<BillingCursor> after;
};

struct BillingPage {
  std::vector<billing::BillingTransaction> transactions;
  bool has_more = false;  ///< More rows match after the last one returned.
};

/// What InsertUsageRecords did.
struct UsageInsertResult {
  int64_t inserted = 0;
  int64_t duplicates = 0;  ///< (provider, usage_record_id) already stored: skipped.
};

/// One stored reconciliation run: the options, the summary counts and the full report.
struct ReconciliationRun {
  std::string run_id;
  absl::Time create_time;
  TimeRange range;
  std::vector<std::string> providers;  ///< Empty: all.
  int64_t tolerance_micros = 0;
  int64_t tasks = 0;
  int64_t discrepancies = 0;
  /// Tasks per outcome, by outcome name ("MATCHED", "AMOUNT_MISMATCH", ...), in outcome order.
  std::vector<std::pair<std::string, int64_t>> outcome_tasks;
  int64_t difference_usd_micros = 0;
  std::string summary;      ///< billing::ReportSummary.
  std::string report_json;  ///< billing::ReportToJson.
};

struct RunPage {
  std::vector<ReconciliationRun> runs;  ///< Newest first; report_json left empty.
  bool has_more = false;
};

/// One broken ledger rule (CheckLedger); the rules are domain/ledger_check.h's.
using LedgerViolation = billing::LedgerViolation;

/// Thread-safe; every method is one transaction and blocks on I/O (call from worker threads).
class BillingStore {
 public:
  virtual ~BillingStore() = default;

  /// Ledger rows of `query.tenant` in the range, newest first, one page. INVALID_ARGUMENT when
  /// page_size < 1.
  virtual absl::StatusOr<BillingPage> ListBillingTransactions(const BillingListQuery& query) = 0;

  /// Every ledger row (any tenant) of tasks created in the range (by their RESERVE time, so a
  /// task is never split between two runs), of `providers` (empty: all), oldest first.
  virtual absl::StatusOr<std::vector<billing::BillingTransaction>>
  ListBillingTransactionsForReconciliation(const TimeRange& range,
                                           absl::Span<const std::string> providers) = 0;

  /// Stores usage records; one with a stored (provider, usage_record_id) is skipped, so an import
  /// repeated changes nothing. All or nothing. INVALID_ARGUMENT for a record without provider or
  /// id.
  virtual absl::StatusOr<UsageInsertResult> InsertUsageRecords(
      absl::Span<const billing::UsageRecord> records) = 0;

  /// Usage records with time in the range, of `providers` (empty: all), oldest first.
  virtual absl::StatusOr<std::vector<billing::UsageRecord>> ListUsageRecords(
      const TimeRange& range, absl::Span<const std::string> providers) = 0;

  /// Stores a run. ALREADY_EXISTS when run_id is taken.
  virtual absl::Status SaveReconciliationRun(const ReconciliationRun& run) = 0;
  /// NOT_FOUND when there is none.
  virtual absl::StatusOr<ReconciliationRun> GetReconciliationRun(absl::string_view run_id) = 0;
  /// Runs newest first; `after` continues a listing.
  virtual absl::StatusOr<RunPage> ListReconciliationRuns(
      int page_size, const std::optional<BillingCursor>& after) = 0;

  /// Every violation of the ledger rules (see LedgerViolation), sorted by task id; empty when the
  /// ledger is consistent. Tasks stored before the ledger existed (no Task.billing, no rows) are
  /// not checked. Implementations read the tasks and the ledger rows in one snapshot and return
  /// billing::CheckLedger of them (domain/ledger_check.h).
  virtual absl::StatusOr<std::vector<LedgerViolation>> CheckLedger() = 0;
};

}  // namespace music::persistence

#endif  // MUSIC_PERSISTENCE_BILLING_STORE_H_
