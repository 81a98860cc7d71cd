#include "persistence/sqlite/sqlite_row_codec.h"

#include <limits>
#include <utility>
#include <vector>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "absl/strings/string_view.h"
#include "music/v1/task.pb.h"
#include "persistence/sqlite/sqlite_db.h"

namespace music::persistence::sqlite_internal {
absl::StatusOr<domain::TaskRecord> DecodeTaskRow(sqlite3_stmt* stmt) {
  const std::string task_id = ColumnText(stmt, 0);
  for (int col : {2, 3, 4, 5, 6, 7}) {
    if (sqlite3_column_type(stmt, col) != SQLITE_INTEGER) {
      return absl::DataLossError(absl::StrCat(
          "task ", task_id, ": column ", sqlite3_column_name(stmt, col), " is not an integer"));
    }
  }
  domain::TaskRecord record;
  const int blob_size = sqlite3_column_bytes(stmt, 8);
  const void* blob = sqlite3_column_blob(stmt, 8);
  if (!record.task.ParseFromArray(blob_size > 0 ? blob : "", blob_size)) {
    return absl::DataLossError(absl::StrCat("task ", task_id, ": the stored task is corrupt"));
  }
  const int64_t version = sqlite3_column_int64(stmt, 7);
  if (record.task.task_id() != task_id || record.task.version() != version) {
    return absl::DataLossError(absl::StrCat(
        "task ", task_id, ": the stored task does not match its row (id ", record.task.task_id(),
        ", version ", record.task.version(), " vs ", version, ")"));
  }
  const int64_t submission = sqlite3_column_int64(stmt, 2);
  if (!store_rows::ValidSubmission(submission)) {
    return absl::DataLossError(
        absl::StrCat("task ", task_id, ": bad submission state ", submission));
  }
  const int64_t attempts = sqlite3_column_int64(stmt, 3);
  if (attempts < std::numeric_limits<int32_t>::min() ||
      attempts > std::numeric_limits<int32_t>::max()) {
    return absl::DataLossError(absl::StrCat("task ", task_id, ": bad attempts ", attempts));
  }
  record.request_fingerprint = ColumnText(stmt, 1);
  record.submission = static_cast<domain::SubmissionState>(submission);
  record.attempts = static_cast<int32_t>(attempts);
  record.next_action_time = FromMicros(sqlite3_column_int64(stmt, 4));
  record.deadline = FromMicros(sqlite3_column_int64(stmt, 5));
  record.unknown_since = FromMicros(sqlite3_column_int64(stmt, 6));
  record.poll_url = ColumnText(stmt, 9);
  record.reference_artifact_id = ColumnText(stmt, 10);
  record.provider_endpoint = ColumnText(stmt, 11);
  record.traceparent = ColumnText(stmt, 12);
  return record;
}

absl::Status BindTaskColumns(sqlite3_stmt* stmt, const domain::TaskRecord& r,
                             const std::string& blob) {
  const music::v1::Task& t = r.task;
  int rc = SQLITE_OK;
  auto check = [&rc](int result) {
    if (rc == SQLITE_OK) rc = result;
  };
  check(BindText(stmt, 1, t.task_id()));
  check(BindText(stmt, 2, t.tenant()));
  check(BindText(stmt, 3, t.request_id()));
  check(BindText(stmt, 4, r.request_fingerprint));
  check(sqlite3_bind_int64(stmt, 5, t.state()));
  check(sqlite3_bind_int64(stmt, 6, t.kind()));
  check(BindText(stmt, 7, t.provider()));
  check(BindText(stmt, 8, t.provider_task_id()));
  check(sqlite3_bind_int64(stmt, 9, static_cast<int>(r.submission)));
  check(sqlite3_bind_int64(stmt, 10, r.attempts));
  check(sqlite3_bind_int64(stmt, 11, ToMicros(r.next_action_time)));
  check(sqlite3_bind_int64(stmt, 12, ToMicros(r.deadline)));
  check(sqlite3_bind_int64(stmt, 13, ToMicros(r.unknown_since)));
  check(sqlite3_bind_int64(stmt, 14, TimestampMicros(t.create_time())));
  check(sqlite3_bind_int64(stmt, 15, TimestampMicros(t.update_time())));
  check(sqlite3_bind_int64(stmt, 16, t.version()));
  check(sqlite3_bind_blob64(stmt, 17, blob.empty() ? "" : blob.data(), blob.size(),
                            SQLITE_TRANSIENT));
  check(BindText(stmt, 18, r.poll_url));
  check(BindText(stmt, 19, r.reference_artifact_id));
  check(BindText(stmt, 20, r.provider_endpoint));
  check(BindText(stmt, 21, r.traceparent));
  check(sqlite3_bind_int64(stmt, 22, domain::ArchivePending(r) ? 1 : 0));
  if (rc != SQLITE_OK) return SqliteError(nullptr, rc, "bind");
  return absl::OkStatus();
}

absl::Status BindTransaction(sqlite3_stmt* stmt, const billing::BillingTransaction& t) {
  int rc = SQLITE_OK;
  auto check = [&rc](int result) {
    if (rc == SQLITE_OK) rc = result;
  };
  check(BindText(stmt, 1, t.billing_transaction_id));
  check(BindText(stmt, 2, t.tenant));
  check(BindText(stmt, 3, t.task_id));
  check(BindText(stmt, 4, t.request_id));
  check(BindText(stmt, 5, t.provider));
  check(BindText(stmt, 6, t.provider_task_id));
  check(BindText(stmt, 7, t.provider_billing_transaction_id));
  check(BindText(stmt, 8, t.model));
  check(BindText(stmt, 9, t.provider_model));
  check(BindText(stmt, 10, t.endpoint));
  check(BindText(stmt, 11, billing::TransactionKindName(t.kind)));
  check(sqlite3_bind_int64(stmt, 12, t.amount_micros));
  check(BindText(stmt, 13, billing::CurrencyName(t.currency)));
  check(sqlite3_bind_int64(stmt, 14, ToMicros(t.time)));
  if (rc != SQLITE_OK) return SqliteError(nullptr, rc, "bind");
  return absl::OkStatus();
}

absl::StatusOr<billing::BillingTransaction> DecodeTransaction(sqlite3_stmt* stmt) {
  billing::BillingTransaction t;
  t.billing_transaction_id = ColumnText(stmt, 0);
  t.tenant = ColumnText(stmt, 1);
  t.task_id = ColumnText(stmt, 2);
  t.request_id = ColumnText(stmt, 3);
  t.provider = ColumnText(stmt, 4);
  t.provider_task_id = ColumnText(stmt, 5);
  t.provider_billing_transaction_id = ColumnText(stmt, 6);
  t.model = ColumnText(stmt, 7);
  t.provider_model = ColumnText(stmt, 8);
  t.endpoint = ColumnText(stmt, 9);
  auto kind = billing::ParseTransactionKind(ColumnText(stmt, 10));
  auto currency = billing::ParseCurrency(ColumnText(stmt, 12));
  if (!kind || !currency) {
    return absl::DataLossError(
        absl::StrCat("billing transaction ", t.billing_transaction_id, ": bad kind or currency"));
  }
  t.kind = *kind;
  t.amount_micros = sqlite3_column_int64(stmt, 11);
  t.currency = *currency;
  t.time = FromMicros(sqlite3_column_int64(stmt, 13));
  return t;
}

absl::Status BindUsage(sqlite3_stmt* stmt, const billing::UsageRecord& u) {
  int rc = SQLITE_OK;
  auto check = [&rc](int result) {
    if (rc == SQLITE_OK) rc = result;
  };
  check(BindText(stmt, 1, u.provider));
  check(BindText(stmt, 2, u.usage_record_id));
  check(BindText(stmt, 3, u.provider_task_id));
  check(BindText(stmt, 4, u.provider_billing_transaction_id));
  check(BindText(stmt, 5, u.request_id));
  check(BindText(stmt, 6, u.model));
  check(BindText(stmt, 7, u.endpoint));
  check(BindText(stmt, 8, billing::UsageKindName(u.kind)));
  check(sqlite3_bind_int64(stmt, 9, u.amount_micros));
  check(BindText(stmt, 10, billing::CurrencyName(u.currency)));
  check(sqlite3_bind_int64(stmt, 11, ToMicros(u.time)));
  if (rc != SQLITE_OK) return SqliteError(nullptr, rc, "bind");
  return absl::OkStatus();
}

absl::StatusOr<billing::UsageRecord> DecodeUsage(sqlite3_stmt* stmt) {
  billing::UsageRecord u;
  u.provider = ColumnText(stmt, 0);
  u.usage_record_id = ColumnText(stmt, 1);
  u.provider_task_id = ColumnText(stmt, 2);
  u.provider_billing_transaction_id = ColumnText(stmt, 3);
  u.request_id = ColumnText(stmt, 4);
  u.model = ColumnText(stmt, 5);
  u.endpoint = ColumnText(stmt, 6);
  auto kind = billing::ParseUsageKind(ColumnText(stmt, 7));
  auto currency = billing::ParseCurrency(ColumnText(stmt, 9));
  if (!kind || !currency) {
    return absl::DataLossError(
        absl::StrCat("usage record ", u.usage_record_id, ": bad kind or currency"));
  }
  u.kind = *kind;
  u.amount_micros = sqlite3_column_int64(stmt, 8);
  u.currency = *currency;
  u.time = FromMicros(sqlite3_column_int64(stmt, 10));
  return u;
}

absl::StatusOr<ReconciliationRun> DecodeRun(sqlite3_stmt* stmt) {
  ReconciliationRun run;
  run.run_id = ColumnText(stmt, 0);
  run.create_time = FromMicros(sqlite3_column_int64(stmt, 1));
  run.range.start = FromMicros(sqlite3_column_int64(stmt, 2));
  run.range.end = FromMicros(sqlite3_column_int64(stmt, 3));
  run.providers = store_rows::SplitList(ColumnText(stmt, 4));
  run.tolerance_micros = sqlite3_column_int64(stmt, 5);
  run.tasks = sqlite3_column_int64(stmt, 6);
  run.discrepancies = sqlite3_column_int64(stmt, 7);
  run.outcome_tasks = store_rows::SplitCounts(ColumnText(stmt, 8));
  run.difference_usd_micros = sqlite3_column_int64(stmt, 9);
  run.summary = ColumnText(stmt, 10);
  run.report_json = ColumnText(stmt, 11);
  return run;
}

absl::Status BindRun(sqlite3_stmt* stmt, const ReconciliationRun& run) {
  int rc = SQLITE_OK;
  auto check = [&rc](int result) {
    if (rc == SQLITE_OK) rc = result;
  };
  check(BindText(stmt, 1, run.run_id));
  check(sqlite3_bind_int64(stmt, 2, ToMicros(run.create_time)));
  check(sqlite3_bind_int64(stmt, 3, ToMicros(run.range.start)));
  check(sqlite3_bind_int64(stmt, 4, ToMicros(run.range.end)));
  check(BindText(stmt, 5, store_rows::JoinList(run.providers)));
  check(sqlite3_bind_int64(stmt, 6, run.tolerance_micros));
  check(sqlite3_bind_int64(stmt, 7, run.tasks));
  check(sqlite3_bind_int64(stmt, 8, run.discrepancies));
  check(BindText(stmt, 9, store_rows::JoinCounts(run.outcome_tasks)));
  check(sqlite3_bind_int64(stmt, 10, run.difference_usd_micros));
  check(BindText(stmt, 11, run.summary));
  check(BindText(stmt, 12, run.report_json));
  if (rc != SQLITE_OK) return SqliteError(nullptr, rc, "bind");
  return absl::OkStatus();
}

billing::LedgerTask DecodeLedgerTask(sqlite3_stmt* stmt) {
  billing::LedgerTask task;
  task.task_id = ColumnText(stmt, 0);
  task.state = static_cast<music::v1::TaskState>(sqlite3_column_int64(stmt, 1));
  music::v1::Task stored;
  const int size = sqlite3_column_bytes(stmt, 2);
  const void* blob = sqlite3_column_blob(stmt, 2);
  if (stored.ParseFromArray(size > 0 ? blob : "", size)) task.billing = stored.billing();
  return task;
}

billing::LedgerEntry DecodeLedgerEntry(sqlite3_stmt* stmt) {
  billing::LedgerEntry entry;
  entry.task_id = ColumnText(stmt, 0);
  const std::string kind = ColumnText(stmt, 1);
  entry.kind = store_rows::LedgerEntryKind(kind);
  entry.amount_micros = sqlite3_column_int64(stmt, 2);
  entry.currency = ColumnText(stmt, 3);
  entry.billing_transaction_id = ColumnText(stmt, 4);
  return entry;
}

}  // namespace music::persistence::sqlite_internal
