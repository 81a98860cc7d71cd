// The class behind OpenSqliteStore: one database implementing both TaskStore and BillingStore,
// so a task change and its ledger rows commit in one transaction. Writes go through the group
// commit on the one writer connection (sqlite_group_commit.h); queries run on a pool of reader
// connections (sqlite_reader_pool.h). Its methods are defined by job: sqlite_task_store.cc
// (TaskStore), sqlite_billing_store.cc (BillingStore), sqlite_store.cc (opening). Internal to
// persistence/sqlite.
#ifndef MUSIC_PERSISTENCE_SQLITE_SQLITE_STORE_IMPL_H_
#define MUSIC_PERSISTENCE_SQLITE_SQLITE_STORE_IMPL_H_

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/types/span.h"
#include "domain/billing_types.h"
#include "domain/task_record.h"
#include "persistence/billing_store.h"
#include "persistence/commit_stats.h"
#include "persistence/sqlite/sqlite_db.h"
#include "persistence/sqlite/sqlite_file_guard.h"
#include "persistence/sqlite/sqlite_group_commit.h"
#include "persistence/sqlite/sqlite_reader_pool.h"
#include "persistence/sqlite/sqlite_task_store.h"
#include "persistence/task_store.h"

namespace music::persistence::sqlite_internal {

/// Thread-safe: writes are serialized by the group commit, reads each hold a pooled connection.
/// See OpenSqliteTaskStore for the behaviour.
class SqliteStoreImpl final : public SqliteStore {
 public:
  /// Takes ownership of a configured, migrated writer connection, of reader connections to the
  /// same file (at least one) and of the file's guard (non-null): every write transaction and
  /// CheckHealth first check that the file is still the one that was opened.
  SqliteStoreImpl(Connection writer, std::vector<Connection> readers, GroupCommitLimits limits,
                  std::unique_ptr<FileGuard> guard)
      : guard_(std::move(guard)),
        writes_(std::move(writer), limits, [g = guard_.get()] { return g->Check(); }),
        reads_(std::move(readers)) {}
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
  absl::StatusOr<std::vector<domain::TaskRecord>> ListArchivePending(
      const ArchivePendingQuery& query) override;
  absl::StatusOr<domain::TaskRecord> FindByClipId(absl::string_view tenant,
                                                  absl::string_view clip_id) override;
  absl::StatusOr<domain::TaskRecord> FindByRequestId(absl::string_view tenant,
                                                     absl::string_view request_id) override;
  absl::StatusOr<domain::TaskRecord> FindByProviderTaskId(
      absl::string_view provider, absl::string_view provider_task_id) override;
  std::optional<CommitStats> GetCommitStats() const override { return writes_.Stats(); }
  absl::Status CheckHealth() override { return guard_->Check(); }

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

  // SqliteStore.
  void SetBatchHookForTesting(std::function<void(int)> hook) override {
    writes_.SetBatchHookForTesting(std::move(hook));
  }
  void AwaitQueuedWritesForTesting(int n) override { writes_.AwaitQueuedForTesting(n); }

 private:
  // Task rows (sqlite_task_store.cc), inside the caller's transaction on `db`.
  static absl::StatusOr<CreateResult> CreateInTransaction(SqliteDb& db,
                                                          const domain::TaskRecord& record,
                                                          const std::string& blob);
  static absl::Status UpdateInTransaction(SqliteDb& db, const domain::TaskRecord& record,
                                          const std::string& blob);
  // Why an UPDATE matched no row: NOT_FOUND, ABORTED (version) or INVALID_ARGUMENT (immutable
  // field changed).
  static absl::Status ExplainNoUpdate(SqliteDb& db, const music::v1::Task& task,
                                      int64_t expected_version);
  // Makes the clip index of the task hold task.clips()' ids: writes only the rows that differ
  // (most updates change no clip, and then write no clip row). `fresh`: a task just inserted,
  // which has no row yet.
  static absl::Status IndexClips(SqliteDb& db, const music::v1::Task& task, bool fresh);
  static absl::StatusOr<domain::TaskRecord> GetByRequestId(SqliteDb& db,
                                                           const music::v1::Task& task);
  // Runs a prepared query of kTaskColumns: at most one row (NOT_FOUND "<what> not found"), or all.
  static absl::StatusOr<domain::TaskRecord> QueryTask(SqliteDb& db, sqlite3_stmt* stmt,
                                                      absl::string_view what);
  static absl::StatusOr<std::vector<domain::TaskRecord>> QueryTasks(SqliteDb& db,
                                                                    sqlite3_stmt* stmt);
  // Create / Update through the group commit (`ledger` may be empty).
  absl::StatusOr<CreateResult> CreateWithLedger(
      const domain::TaskRecord& record, absl::Span<const billing::BillingTransaction> ledger);
  absl::Status UpdateWithLedger(const domain::TaskRecord& record,
                                absl::Span<const billing::BillingTransaction> ledger);

  // Ledger rows (sqlite_billing_store.cc). Inserts ledger rows inside the caller's transaction. A
  // taken id is ALREADY_EXISTS: the task already has a row of that kind, and the caller's whole
  // write must roll back.
  static absl::Status AppendLedger(SqliteDb& db,
                                   absl::Span<const billing::BillingTransaction> ledger);
  static absl::StatusOr<std::vector<LedgerViolation>> CheckLedgerInTransaction(SqliteDb& db);

  // Declared before writes_: the group commit's precheck points to it.
  const std::unique_ptr<FileGuard> guard_;
  GroupCommitter writes_;
  ReaderPool reads_;
};

}  // namespace music::persistence::sqlite_internal

#endif  // MUSIC_PERSISTENCE_SQLITE_SQLITE_STORE_IMPL_H_
