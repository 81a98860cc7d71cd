// The BillingStore methods of the SQLite store: the append-only ledger (written with its task
// change, see sqlite_task_store.cc), usage records, reconciliation runs and the ledger check.
#include <algorithm>
#include <cstdint>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"
#include "domain/ledger_check.h"
#include "persistence/sqlite/sqlite_db.h"
#include "persistence/sqlite/sqlite_reader_pool.h"
#include "persistence/sqlite/sqlite_row_codec.h"
#include "persistence/sqlite/sqlite_store_impl.h"
#include "persistence/store_rows.h"

namespace music::persistence::sqlite_internal {

absl::StatusOr<BillingPage> SqliteStoreImpl::ListBillingTransactions(
    const BillingListQuery& query) {
  if (query.page_size < 1) {
    return absl::InvalidArgumentError(
        absl::StrCat("page_size must be >= 1, not ", query.page_size));
  }
  std::string sql = absl::StrCat("SELECT ", kTransactionColumns,
                                 " FROM billing_transactions WHERE tenant = ?1 AND time_us >= ?2 "
                                 "AND time_us < ?3");
  if (query.after.has_value()) sql += " AND (time_us, billing_transaction_id) < (?4, ?5)";
  sql += " ORDER BY time_us DESC, billing_transaction_id DESC LIMIT ?6";
  ReaderPool::Lease lease = reads_.Acquire();
  SqliteDb& db = lease.db();
  absl::StatusOr<sqlite3_stmt*> stmt = db.Prepare(sql);
  if (!stmt.ok()) return stmt.status();
  ScopedStmt scoped(*stmt);
  BindText(*stmt, 1, query.tenant);
  sqlite3_bind_int64(*stmt, 2, ToMicros(query.range.start));
  sqlite3_bind_int64(*stmt, 3, ToMicros(query.range.end));
  if (query.after.has_value()) {
    sqlite3_bind_int64(*stmt, 4, ToMicros(query.after->time));
    BindText(*stmt, 5, query.after->id);
  }
  sqlite3_bind_int64(*stmt, 6, static_cast<int64_t>(query.page_size) + 1);
  BillingPage page;
  auto rows = db.QueryRows<billing::BillingTransaction>(*stmt, DecodeTransaction);
  if (!rows.ok()) return rows.status();
  page.transactions = *std::move(rows);
  if (page.transactions.size() > static_cast<size_t>(query.page_size)) {
    page.transactions.resize(static_cast<size_t>(query.page_size));
    page.has_more = true;
  }
  return page;
}

absl::StatusOr<std::vector<billing::BillingTransaction>>
SqliteStoreImpl::ListBillingTransactionsForReconciliation(const TimeRange& range,
                                                          absl::Span<const std::string> providers) {
  const std::string sql = absl::StrCat(
      "SELECT ", kTransactionColumns,
      " FROM billing_transactions WHERE task_id IN (SELECT task_id FROM billing_transactions "
      "WHERE time_us >= ?1 AND time_us < ?2) ORDER BY time_us, billing_transaction_id");
  ReaderPool::Lease lease = reads_.Acquire();
  SqliteDb& db = lease.db();
  absl::StatusOr<sqlite3_stmt*> stmt = db.Prepare(sql);
  if (!stmt.ok()) return stmt.status();
  ScopedStmt scoped(*stmt);
  sqlite3_bind_int64(*stmt, 1, ToMicros(range.start));
  sqlite3_bind_int64(*stmt, 2, ToMicros(range.end));
  auto rows = db.QueryRows<billing::BillingTransaction>(*stmt, DecodeTransaction);
  if (!rows.ok()) return rows.status();
  store_rows::KeepProviders(providers, *rows);
  return rows;
}

absl::StatusOr<UsageInsertResult> SqliteStoreImpl::InsertUsageRecords(
    absl::Span<const billing::UsageRecord> records) {
  if (absl::Status s = store_rows::CheckUsageRecords(records); !s.ok()) return s;
  const std::string sql = absl::StrCat("INSERT OR IGNORE INTO usage_records (", kUsageColumns,
                                       ") VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11)");
  size_t bytes = 0;
  for (const billing::UsageRecord& r : records) {
    // The strings and a few numbers: what the row adds to the batch (GroupCommitLimits).
    bytes += r.provider.size() + r.usage_record_id.size() + r.provider_task_id.size() +
             r.provider_billing_transaction_id.size() + r.request_id.size() + r.model.size() +
             r.endpoint.size() + 64;
  }
  UsageInsertResult result;
  const absl::Status status = writes_.Write(
      [&](SqliteDb& db) {
        absl::StatusOr<sqlite3_stmt*> stmt = db.Prepare(sql);
        if (!stmt.ok()) return stmt.status();
        for (const billing::UsageRecord& record : records) {
          ScopedStmt scoped(*stmt);
          if (absl::Status s = BindUsage(*stmt, record); !s.ok()) return s;
          const int rc = sqlite3_step(*stmt);
          if (rc != SQLITE_DONE) return db.Error(rc, "insert usage record");
          if (db.Changes() == 1) {
            ++result.inserted;
          } else {
            ++result.duplicates;
          }
        }
        return absl::OkStatus();
      },
      bytes);
  if (!status.ok()) return status;
  return result;
}

absl::StatusOr<std::vector<billing::UsageRecord>> SqliteStoreImpl::ListUsageRecords(
    const TimeRange& range, absl::Span<const std::string> providers) {
  const std::string sql = absl::StrCat("SELECT ", kUsageColumns,
                                       " FROM usage_records WHERE time_us >= ?1 AND time_us < ?2 "
                                       "ORDER BY time_us, provider, usage_record_id");
  ReaderPool::Lease lease = reads_.Acquire();
  SqliteDb& db = lease.db();
  absl::StatusOr<sqlite3_stmt*> stmt = db.Prepare(sql);
  if (!stmt.ok()) return stmt.status();
  ScopedStmt scoped(*stmt);
  sqlite3_bind_int64(*stmt, 1, ToMicros(range.start));
  sqlite3_bind_int64(*stmt, 2, ToMicros(range.end));
  auto rows = db.QueryRows<billing::UsageRecord>(*stmt, DecodeUsage);
  if (!rows.ok()) return rows.status();
  store_rows::KeepProviders(providers, *rows);
  return rows;
}

absl::Status SqliteStoreImpl::SaveReconciliationRun(const ReconciliationRun& run) {
  if (run.run_id.empty()) return absl::InvalidArgumentError("run_id is empty");
  const std::string sql =
      absl::StrCat("INSERT INTO reconciliation_runs (", kRunColumns,
                   ", report_json) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12)");
  return writes_.Write(
      [&](SqliteDb& db) {
        absl::StatusOr<sqlite3_stmt*> stmt = db.Prepare(sql);
        if (!stmt.ok()) return stmt.status();
        ScopedStmt scoped(*stmt);
        if (absl::Status s = BindRun(*stmt, run); !s.ok()) return s;
        const int rc = sqlite3_step(*stmt);
        if (rc == SQLITE_CONSTRAINT_PRIMARYKEY) {
          return absl::AlreadyExistsError(
              absl::StrCat("reconciliation run ", run.run_id, " exists"));
        }
        if (rc != SQLITE_DONE) return db.Error(rc, "insert reconciliation run");
        return absl::OkStatus();
      },
      run.report_json.size() + run.summary.size());
}

absl::StatusOr<ReconciliationRun> SqliteStoreImpl::GetReconciliationRun(absl::string_view run_id) {
  const std::string sql = absl::StrCat("SELECT ", kRunColumns,
                                       ", report_json FROM reconciliation_runs WHERE run_id = ?1");
  ReaderPool::Lease lease = reads_.Acquire();
  SqliteDb& db = lease.db();
  absl::StatusOr<sqlite3_stmt*> stmt = db.Prepare(sql);
  if (!stmt.ok()) return stmt.status();
  ScopedStmt scoped(*stmt);
  BindText(*stmt, 1, run_id);
  auto runs = db.QueryRows<ReconciliationRun>(*stmt, DecodeRun);
  if (!runs.ok()) return runs.status();
  if (runs->empty()) {
    return absl::NotFoundError(absl::StrCat("reconciliation run ", run_id, " not found"));
  }
  return std::move(runs->front());
}

absl::StatusOr<RunPage> SqliteStoreImpl::ListReconciliationRuns(
    int page_size, const std::optional<BillingCursor>& after) {
  if (page_size < 1) {
    return absl::InvalidArgumentError(absl::StrCat("page_size must be >= 1, not ", page_size));
  }
  std::string sql = absl::StrCat("SELECT ", kRunColumns, ", '' FROM reconciliation_runs");
  if (after.has_value()) sql += " WHERE (create_time_us, run_id) < (?1, ?2)";
  sql += " ORDER BY create_time_us DESC, run_id DESC LIMIT ?3";
  ReaderPool::Lease lease = reads_.Acquire();
  SqliteDb& db = lease.db();
  absl::StatusOr<sqlite3_stmt*> stmt = db.Prepare(sql);
  if (!stmt.ok()) return stmt.status();
  ScopedStmt scoped(*stmt);
  if (after.has_value()) {
    sqlite3_bind_int64(*stmt, 1, ToMicros(after->time));
    BindText(*stmt, 2, after->id);
  }
  sqlite3_bind_int64(*stmt, 3, static_cast<int64_t>(page_size) + 1);
  auto runs = db.QueryRows<ReconciliationRun>(*stmt, DecodeRun);
  if (!runs.ok()) return runs.status();
  RunPage page;
  page.runs = *std::move(runs);
  if (page.runs.size() > static_cast<size_t>(page_size)) {
    page.runs.resize(static_cast<size_t>(page_size));
    page.has_more = true;
  }
  return page;
}

absl::StatusOr<std::vector<LedgerViolation>> SqliteStoreImpl::CheckLedger() {
  // One consistent snapshot of both tables: a read transaction.
  ReaderPool::Lease lease = reads_.Acquire();
  SqliteDb& db = lease.db();
  if (absl::Status s = db.BeginRead(); !s.ok()) return s;
  absl::StatusOr<std::vector<LedgerViolation>> result = CheckLedgerInTransaction(db);
  db.EndRead();
  return result;
}

absl::Status SqliteStoreImpl::AppendLedger(SqliteDb& db,
                                           absl::Span<const billing::BillingTransaction> ledger) {
  if (ledger.empty()) return absl::OkStatus();
  absl::StatusOr<sqlite3_stmt*> stmt =
      db.Prepare(absl::StrCat("INSERT INTO billing_transactions (", kTransactionColumns,
                              ") VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, "
                              "?14)"));
  if (!stmt.ok()) return stmt.status();
  for (const billing::BillingTransaction& t : ledger) {
    if (absl::Status s = store_rows::CheckLedgerRow(t); !s.ok()) return s;
    ScopedStmt scoped(*stmt);
    if (absl::Status s = BindTransaction(*stmt, t); !s.ok()) return s;
    const int rc = sqlite3_step(*stmt);
    if (rc == SQLITE_CONSTRAINT_PRIMARYKEY) {
      return absl::AlreadyExistsError(
          absl::StrCat("billing transaction ", t.billing_transaction_id, " already exists"));
    }
    if (rc != SQLITE_DONE) return db.Error(rc, "insert billing transaction");
  }
  return absl::OkStatus();
}

absl::StatusOr<std::vector<LedgerViolation>> SqliteStoreImpl::CheckLedgerInTransaction(
    SqliteDb& db) {
  std::vector<billing::LedgerTask> tasks;
  {
    absl::StatusOr<sqlite3_stmt*> stmt =
        db.Prepare(absl::StrCat("SELECT ", kLedgerTaskColumns, " FROM tasks"));
    if (!stmt.ok()) return stmt.status();
    ScopedStmt scoped(*stmt);
    int rc;
    while ((rc = sqlite3_step(*stmt)) == SQLITE_ROW) tasks.push_back(DecodeLedgerTask(*stmt));
    if (rc != SQLITE_DONE) return db.Error(rc, "select tasks");
  }
  std::vector<billing::LedgerEntry> entries;
  {
    absl::StatusOr<sqlite3_stmt*> stmt =
        db.Prepare(absl::StrCat("SELECT ", kLedgerEntryColumns, " FROM billing_transactions"));
    if (!stmt.ok()) return stmt.status();
    ScopedStmt scoped(*stmt);
    int rc;
    while ((rc = sqlite3_step(*stmt)) == SQLITE_ROW) entries.push_back(DecodeLedgerEntry(*stmt));
    if (rc != SQLITE_DONE) return db.Error(rc, "select billing transactions");
  }
  return billing::CheckLedger(tasks, entries);
}

}  // namespace music::persistence::sqlite_internal
