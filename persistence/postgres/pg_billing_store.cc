// The BillingStore methods of the PostgreSQL store: the append-only ledger (written with its
// task change, see pg_task_store.cc), usage records, reconciliation runs and the ledger check.
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
#include "persistence/postgres/pg_row_codec.h"
#include "persistence/postgres/pg_store_impl.h"
#include "persistence/store_rows.h"

namespace music::persistence::pg_internal {
namespace {

using store_rows::ToMicros;

// Rows of `sql` decoded by `decode`, on a pooled connection.
template <typename T, typename Decode>
absl::StatusOr<std::vector<T>> QueryRows(Pool& pool, absl::string_view sql, const Params& params,
                                         absl::string_view what, Decode decode) {
  std::vector<T> rows;
  const absl::Status status = pool.Read([&](Connection& c) -> absl::Status {
    absl::StatusOr<Result> result = c.Exec(sql, params, what);
    if (!result.ok()) return result.status();
    rows.reserve(static_cast<size_t>(result->rows()));
    for (int row = 0; row < result->rows(); ++row) {
      absl::StatusOr<T> value = decode(*result, row);
      if (!value.ok()) return value.status();
      rows.push_back(*std::move(value));
    }
    return absl::OkStatus();
  });
  if (!status.ok()) return status;
  return rows;
}

}  // namespace

absl::StatusOr<BillingPage> PostgresStore::ListBillingTransactions(const BillingListQuery& query) {
  if (query.page_size < 1) {
    return absl::InvalidArgumentError(
        absl::StrCat("page_size must be >= 1, not ", query.page_size));
  }
  Params params;
  params.Add(query.tenant).Add(ToMicros(query.range.start)).Add(ToMicros(query.range.end));
  std::string sql = absl::StrCat("SELECT ", kTransactionColumns,
                                 " FROM billing_transactions WHERE tenant = $1 AND time_us >= $2 "
                                 "AND time_us < $3");
  if (query.after.has_value()) {
    params.Add(ToMicros(query.after->time)).Add(query.after->id);
    sql += " AND (time_us, billing_transaction_id) < ($4::bigint, $5::text)";
  }
  params.Add(static_cast<int64_t>(query.page_size) + 1);
  absl::StrAppend(&sql, " ORDER BY time_us DESC, billing_transaction_id DESC LIMIT $",
                  params.size());
  auto rows = QueryRows<billing::BillingTransaction>(pool_, sql, params, "select ledger",
                                                     DecodeTransaction);
  if (!rows.ok()) return rows.status();
  BillingPage page;
  page.transactions = *std::move(rows);
  if (page.transactions.size() > static_cast<size_t>(query.page_size)) {
    page.transactions.resize(static_cast<size_t>(query.page_size));
    page.has_more = true;
  }
  return page;
}

absl::StatusOr<std::vector<billing::BillingTransaction>>
PostgresStore::ListBillingTransactionsForReconciliation(const TimeRange& range,
                                                        absl::Span<const std::string> providers) {
  const std::string sql = absl::StrCat(
      "SELECT ", kTransactionColumns,
      " FROM billing_transactions WHERE task_id IN (SELECT task_id FROM billing_transactions "
      "WHERE time_us >= $1 AND time_us < $2) ORDER BY time_us, billing_transaction_id");
  auto rows = QueryRows<billing::BillingTransaction>(
      pool_, sql, Params().Add(ToMicros(range.start)).Add(ToMicros(range.end)), "select ledger",
      DecodeTransaction);
  if (!rows.ok()) return rows.status();
  store_rows::KeepProviders(providers, *rows);
  return rows;
}

absl::StatusOr<UsageInsertResult> PostgresStore::InsertUsageRecords(
    absl::Span<const billing::UsageRecord> records) {
  if (absl::Status s = store_rows::CheckUsageRecords(records); !s.ok()) return s;
  const std::string sql =
      absl::StrCat("INSERT INTO usage_records (", kUsageColumns,
                   ") VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11) ON CONFLICT DO NOTHING");
  UsageInsertResult result;
  const absl::Status status = pool_.Transact([&](Connection& c) -> absl::Status {
    for (const billing::UsageRecord& record : records) {
      Params params;
      AddUsage(params, record);
      absl::StatusOr<Result> inserted = c.Exec(sql, params, "insert usage record");
      if (!inserted.ok()) return inserted.status();
      if (inserted->affected() == 1) {
        ++result.inserted;
      } else {
        ++result.duplicates;
      }
    }
    return absl::OkStatus();
  });
  if (!status.ok()) return status;
  return result;
}

absl::StatusOr<std::vector<billing::UsageRecord>> PostgresStore::ListUsageRecords(
    const TimeRange& range, absl::Span<const std::string> providers) {
  const std::string sql = absl::StrCat("SELECT ", kUsageColumns,
                                       " FROM usage_records WHERE time_us >= $1 AND time_us < $2 "
                                       "ORDER BY time_us, provider, usage_record_id");
  auto rows = QueryRows<billing::UsageRecord>(
      pool_, sql, Params().Add(ToMicros(range.start)).Add(ToMicros(range.end)),
      "select usage records", DecodeUsage);
  if (!rows.ok()) return rows.status();
  store_rows::KeepProviders(providers, *rows);
  return rows;
}

absl::Status PostgresStore::SaveReconciliationRun(const ReconciliationRun& run) {
  if (run.run_id.empty()) return absl::InvalidArgumentError("run_id is empty");
  const std::string sql =
      absl::StrCat("INSERT INTO reconciliation_runs (", kRunColumns,
                   ", report_json) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)");
  Params params;
  AddRun(params, run);
  return pool_.Run([&](Connection& c) -> absl::Status {
    absl::StatusOr<Result> inserted = c.Exec(sql, params, "insert reconciliation run");
    if (absl::IsAlreadyExists(inserted.status())) {
      return absl::AlreadyExistsError(absl::StrCat("reconciliation run ", run.run_id, " exists"));
    }
    return inserted.status();
  });
}

absl::StatusOr<ReconciliationRun> PostgresStore::GetReconciliationRun(absl::string_view run_id) {
  const std::string sql = absl::StrCat("SELECT ", kRunColumns,
                                       ", report_json FROM reconciliation_runs WHERE run_id = $1");
  auto runs = QueryRows<ReconciliationRun>(pool_, sql, Params().Add(run_id),
                                           "select reconciliation run", DecodeRun);
  if (!runs.ok()) return runs.status();
  if (runs->empty()) {
    return absl::NotFoundError(absl::StrCat("reconciliation run ", run_id, " not found"));
  }
  return std::move(runs->front());
}

absl::StatusOr<RunPage> PostgresStore::ListReconciliationRuns(
    int page_size, const std::optional<BillingCursor>& after) {
  if (page_size < 1) {
    return absl::InvalidArgumentError(absl::StrCat("page_size must be >= 1, not ", page_size));
  }
  Params params;
  std::string sql = absl::StrCat("SELECT ", kRunColumns, ", '' FROM reconciliation_runs");
  if (after.has_value()) {
    params.Add(ToMicros(after->time)).Add(after->id);
    sql += " WHERE (create_time_us, run_id) < ($1::bigint, $2::text)";
  }
  params.Add(static_cast<int64_t>(page_size) + 1);
  absl::StrAppend(&sql, " ORDER BY create_time_us DESC, run_id DESC LIMIT $", params.size());
  auto runs = QueryRows<ReconciliationRun>(pool_, sql, params, "select reconciliation runs",
                                           DecodeRun);
  if (!runs.ok()) return runs.status();
  RunPage page;
  page.runs = *std::move(runs);
  if (page.runs.size() > static_cast<size_t>(page_size)) {
    page.runs.resize(static_cast<size_t>(page_size));
    page.has_more = true;
  }
  return page;
}

absl::StatusOr<std::vector<LedgerViolation>> PostgresStore::CheckLedger() {
  std::vector<billing::LedgerTask> tasks;
  std::vector<billing::LedgerEntry> entries;
  // One snapshot of both tables.
  const absl::Status status = pool_.Transact(
      [&](Connection& c) -> absl::Status {
        absl::StatusOr<Result> t = c.Exec("SELECT task_id, state, task FROM tasks", Params(),
                                          "select tasks");
        if (!t.ok()) return t.status();
        for (int row = 0; row < t->rows(); ++row) tasks.push_back(DecodeLedgerTask(*t, row));
        absl::StatusOr<Result> e = c.Exec(
            "SELECT task_id, kind, amount_micros, currency, billing_transaction_id "
            "FROM billing_transactions",
            Params(), "select ledger");
        if (!e.ok()) return e.status();
        for (int row = 0; row < e->rows(); ++row) entries.push_back(DecodeLedgerEntry(*e, row));
        return absl::OkStatus();
      },
      "BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY");
  if (!status.ok()) return status;
  return billing::CheckLedger(tasks, entries);
}

absl::Status PostgresStore::AppendLedger(Connection& c,
                                         absl::Span<const billing::BillingTransaction> ledger) {
  if (ledger.empty()) return absl::OkStatus();
  const std::string sql =
      absl::StrCat("INSERT INTO billing_transactions (", kTransactionColumns,
                   ") VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14)");
  for (const billing::BillingTransaction& t : ledger) {
    Params params;
    AddTransaction(params, t);
    absl::StatusOr<Result> inserted = c.Exec(sql, params, "insert billing transaction");
    if (absl::IsAlreadyExists(inserted.status())) {
      return absl::AlreadyExistsError(
          absl::StrCat("billing transaction ", t.billing_transaction_id, " already exists"));
    }
    if (!inserted.ok()) return inserted.status();
  }
  return absl::OkStatus();
}

}  // namespace music::persistence::pg_internal
