// The class behind OpenSqliteStore: one connection implementing both TaskStore and BillingStore,
// so a task change and its ledger rows commit in one transaction. Its methods are defined by job:
// sqlite_task_store.cc (TaskStore), sqlite_billing_store.cc (BillingStore), sqlite_store.cc
// (opening). Internal to persistence/sqlite.
#ifndef MUSIC_PERSISTENCE_SQLITE_SQLITE_STORE_IMPL_H_
#define MUSIC_PERSISTENCE_SQLITE_SQLITE_STORE_IMPL_H_

#include <cstdint>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/synchronization/mutex.h"
#include "absl/types/span.h"
#include "domain/billing_types.h"
#include "domain/task_record.h"
#include "persistence/billing_store.h"
#include "persistence/sqlite/sqlite_db.h"
#include "persistence/sqlite/sqlite_task_store.h"
#include "persistence/task_store.h"

namespace music::persistence::sqlite_internal {

/// Thread-safe: every method holds mu_ for its whole transaction. See OpenSqliteTaskStore for
/// the behaviour.
class SqliteStoreImpl final : public SqliteStore {
 public:
  /// Takes ownership of a configured, migrated connection.
  explicit SqliteStoreImpl(Connection db) : db_(std::move(db)) {}
  SqliteStoreImpl(const SqliteStoreImpl&) = delete;
  SqliteStoreImpl& operator=(const SqliteStoreImpl&) = delete;

  // TaskStore (sqlite_task_store.cc).
  absl::StatusOr<CreateResult> Create(const domain::TaskRecord& record) override;
  absl::StatusOr<CreateResult> Create(
      const domain::TaskRecord& record,
      absl::Span<const billing::BillingTransaction> ledger) override;
  absl::StatusOr<domain::TaskRecord> Get(absl::string_view task_id) override;
  absl::Status Update(const domain::TaskRecord& record) override;
  absl::Status Update(const domain::TaskRecord& record,
                      absl::Span<const billing::BillingTransaction> ledger) override;
  absl::StatusOr<ListPage> List(const ListQuery& query) override;
  absl::StatusOr<std::vector<domain::TaskRecord>> ListActive(int limit) override;
  absl::StatusOr<domain::TaskRecord> FindByClipId(absl::string_view tenant,
                                                  absl::string_view clip_id) override;
  absl::StatusOr<domain::TaskRecord> FindByProviderTaskId(
      absl::string_view provider, absl::string_view provider_task_id) override;

  // BillingStore (sqlite_billing_store.cc).
  absl::StatusOr<BillingPage> ListBillingTransactions(const BillingListQuery& query) override;
  absl::StatusOr<std::vector<billing::BillingTransaction>> ListBillingTransactionsForReconciliation(
      const TimeRange& range, absl::Span<const std::string> providers) override;
  absl::StatusOr<UsageInsertResult> InsertUsageRecords(
      absl::Span<const billing::UsageRecord> records) override;
  absl::StatusOr<std::vector<billing::UsageRecord>> ListUsageRecords(
      const TimeRange& range, absl::Span<const std::string> providers) override;
  absl::Status SaveReconciliationRun(const ReconciliationRun& run) override;
  absl::StatusOr<ReconciliationRun> GetReconciliationRun(absl::string_view run_id) override;
  absl::StatusOr<RunPage> ListReconciliationRuns(
      int page_size, const std::optional<BillingCursor>& after) override;
  absl::StatusOr<std::vector<LedgerViolation>> CheckLedger() override;

 private:
  // Task rows (sqlite_task_store.cc).
  absl::StatusOr<CreateResult> CreateInTransaction(const domain::TaskRecord& record,
                                                   const std::string& blob)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  absl::Status UpdateInTransaction(const domain::TaskRecord& record, const std::string& blob)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Why an UPDATE matched no row: NOT_FOUND, ABORTED (version) or INVALID_ARGUMENT (immutable
  // field changed).
  absl::Status ExplainNoUpdate(const music::v1::Task& task, int64_t expected_version)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Replaces the clip index of the task with task.clips().
  absl::Status IndexClips(const music::v1::Task& task) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  absl::StatusOr<domain::TaskRecord> GetByRequestId(const music::v1::Task& task)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Runs a prepared query of kTaskColumns: at most one row (NOT_FOUND "<what> not found"), or all.
  absl::StatusOr<domain::TaskRecord> QueryTask(sqlite3_stmt* stmt, absl::string_view what)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  absl::StatusOr<std::vector<domain::TaskRecord>> QueryTasks(sqlite3_stmt* stmt)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  // Ledger rows (sqlite_billing_store.cc). Inserts ledger rows inside the caller's transaction. A
  // taken id is ALREADY_EXISTS: the task already has a row of that kind, and the caller's whole
  // transaction must roll back.
  absl::Status AppendLedger(absl::Span<const billing::BillingTransaction> ledger)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  absl::StatusOr<std::vector<LedgerViolation>> CheckLedgerInTransaction()
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  absl::Mutex mu_;
  SqliteDb db_ ABSL_GUARDED_BY(mu_);
};

}  // namespace music::persistence::sqlite_internal

#endif  // MUSIC_PERSISTENCE_SQLITE_SQLITE_STORE_IMPL_H_
