// The PostgreSQL store's one class: TaskStore (pg_task_store.cc) and BillingStore
// (pg_billing_store.cc) over a connection pool (pg_pool.h). Internal to persistence/postgres.
#ifndef MUSIC_PERSISTENCE_POSTGRES_PG_STORE_IMPL_H_
#define MUSIC_PERSISTENCE_POSTGRES_PG_STORE_IMPL_H_

#include <optional>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/types/span.h"
#include "persistence/billing_store.h"
#include "persistence/lease_store.h"
#include "persistence/postgres/pg_connection.h"
#include "persistence/postgres/pg_pool.h"
#include "persistence/task_store.h"

namespace music::persistence::pg_internal {

class PostgresStore : public TaskStore, public BillingStore, public LeaseStore {
 public:
  PostgresStore(ConnectOptions options, int connections, std::string replica_id,
                absl::Duration lease_ttl);

  // TaskStore.
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
  /// A `SELECT 1` on a pooled connection (waiting at most 2 s for one): UNAVAILABLE while the
  /// server cannot be reached. Called by the server's health thread, never by a reaction.
  absl::Status CheckHealth() override;

  // BillingStore.
  absl::StatusOr<BillingPage> ListBillingTransactions(const BillingListQuery& query) override;
  absl::StatusOr<std::vector<billing::BillingTransaction>>
  ListBillingTransactionsForReconciliation(const TimeRange& range,
                                           absl::Span<const std::string> providers) override;
  absl::StatusOr<UsageInsertResult> InsertUsageRecords(
      absl::Span<const billing::UsageRecord> records) override;
  absl::StatusOr<std::vector<billing::UsageRecord>> ListUsageRecords(
      const TimeRange& range, absl::Span<const std::string> providers) override;
  absl::Status SaveReconciliationRun(const ReconciliationRun& run) override;
  absl::StatusOr<ReconciliationRun> GetReconciliationRun(absl::string_view run_id) override;
  absl::StatusOr<RunPage> ListReconciliationRuns(
      int page_size, const std::optional<BillingCursor>& after) override;
  absl::StatusOr<std::vector<LedgerViolation>> CheckLedger() override;

  // LeaseStore (pg_lease_store.cc).
  const std::string& replica_id() const override { return replica_id_; }
  absl::Duration lease_ttl() const override { return lease_ttl_; }
  absl::Status RenewLeases() override;
  absl::StatusOr<std::vector<domain::TaskRecord>> ClaimTasks(int limit) override;
  absl::Status ReleaseLeases() override;

  Pool& pool() { return pool_; }

 private:
  // One task of a query (NOT_FOUND naming `what` when there is none) or all of them.
  absl::StatusOr<domain::TaskRecord> QueryTask(absl::string_view sql, const Params& params,
                                               absl::string_view what);
  absl::StatusOr<std::vector<domain::TaskRecord>> QueryTasks(absl::string_view sql,
                                                             const Params& params);
  // Inside a transaction.
  absl::StatusOr<CreateResult> CreateIn(Connection& c, const domain::TaskRecord& record,
                                        const std::string& blob);
  absl::Status UpdateIn(Connection& c, const domain::TaskRecord& record, const std::string& blob);
  // Why an UPDATE matched no row: NOT_FOUND, ABORTED (version), LeaseLostError (a fenced
  // write whose lease is gone), INVALID_ARGUMENT (tenant or request_id changed).
  absl::Status ExplainNoUpdate(Connection& c, const domain::TaskRecord& record,
                               int64_t expected_version, bool fenced);
  absl::Status IndexClips(Connection& c, const music::v1::Task& task, bool replace);
  absl::Status AppendLedger(Connection& c, absl::Span<const billing::BillingTransaction> ledger);

  const std::string replica_id_;
  const absl::Duration lease_ttl_;
  Pool pool_;
};

}  // namespace music::persistence::pg_internal

#endif  // MUSIC_PERSISTENCE_POSTGRES_PG_STORE_IMPL_H_
