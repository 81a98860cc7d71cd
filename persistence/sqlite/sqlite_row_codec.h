// How the SQLite store's rows hold the domain's values: times as microseconds, a TaskRecord as
// the tasks row (the Task proto as a blob plus the columns queries filter on), ledger rows, usage
// records and reconciliation runs. Each Bind* fills the parameters of an INSERT whose column list
// is the matching k*Columns; each Decode* reads a SELECT of those columns. Internal to
// persistence/sqlite.
#ifndef MUSIC_PERSISTENCE_SQLITE_SQLITE_ROW_CODEC_H_
#define MUSIC_PERSISTENCE_SQLITE_SQLITE_ROW_CODEC_H_

#include <sqlite3.h>

#include <cstdint>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "domain/billing_types.h"
#include "domain/ledger_check.h"
#include "domain/task_record.h"
#include "google/protobuf/timestamp.pb.h"
#include "persistence/billing_store.h"
#include "persistence/store_rows.h"

namespace music::persistence::sqlite_internal {

// Times as microseconds: the same values as every store (persistence/store_rows.h).
using store_rows::FromMicros;
using store_rows::TimestampMicros;
using store_rows::ToMicros;

/// Columns DecodeTaskRow reads, in this order; the tasks table is aliased `t`. A macro so the
/// task store's queries stay compile-time string literals.
#define MUSIC_SQLITE_TASK_COLUMNS                                                                 \
  "t.task_id, t.request_fingerprint, t.submission, t.attempts, t.next_action_us, t.deadline_us, " \
  "t.unknown_since_us, t.version, t.task, t.poll_url, t.reference_artifact_id, "                  \
  "t.provider_endpoint, t.traceparent"
inline constexpr char kTaskColumns[] = MUSIC_SQLITE_TASK_COLUMNS;

/// Decodes a row of kTaskColumns. DATA_LOSS when it is malformed: a bookkeeping column that is
/// not an integer or out of range, a blob that is not a Task, or a Task whose id or version is not
/// the row's.
absl::StatusOr<domain::TaskRecord> DecodeTaskRow(sqlite3_stmt* stmt);

/// Binds ?1..?21 of the tasks INSERT / UPDATE: task_id, tenant, request_id, request_fingerprint,
/// state, kind, provider, provider_task_id, submission, attempts, next_action_us, deadline_us,
/// unknown_since_us, create_time_us, update_time_us, version, task (`blob`: r.task serialized),
/// poll_url, reference_artifact_id, provider_endpoint, traceparent; and ?22, archive_pending
/// (domain::ArchivePending; ?23 is the UPDATE's expected version).
absl::Status BindTaskColumns(sqlite3_stmt* stmt, const domain::TaskRecord& r,
                             const std::string& blob);

/// Columns of a ledger row, in BillingTransaction order (?1..?14 of BindTransaction).
inline constexpr char kTransactionColumns[] =
    "billing_transaction_id, tenant, task_id, request_id, provider, provider_task_id, "
    "provider_billing_transaction_id, model, provider_model, endpoint, kind, amount_micros, "
    "currency, time_us";
absl::Status BindTransaction(sqlite3_stmt* stmt, const billing::BillingTransaction& t);
/// DATA_LOSS for a bad kind or currency.
absl::StatusOr<billing::BillingTransaction> DecodeTransaction(sqlite3_stmt* stmt);

/// Columns of a usage record (?1..?11 of BindUsage).
inline constexpr char kUsageColumns[] =
    "provider, usage_record_id, provider_task_id, provider_billing_transaction_id, request_id, "
    "model, endpoint, kind, amount_micros, currency, time_us";
absl::Status BindUsage(sqlite3_stmt* stmt, const billing::UsageRecord& u);
/// DATA_LOSS for a bad kind or currency.
absl::StatusOr<billing::UsageRecord> DecodeUsage(sqlite3_stmt* stmt);

/// Columns of a reconciliation run but its report (?1..?11 of BindRun; ?12 is report_json).
/// Providers are stored as "a,b" (provider names hold no commas), outcome counts as
/// "NAME=n;NAME=n".
inline constexpr char kRunColumns[] =
    "run_id, create_time_us, start_us, end_us, providers, tolerance_micros, tasks, discrepancies, "
    "outcome_tasks, difference_usd_micros, summary";
/// Binds ?1..?11 (kRunColumns) and ?12 (report_json).
absl::Status BindRun(sqlite3_stmt* stmt, const ReconciliationRun& run);
/// Decodes kRunColumns followed by report_json (or '' for a listing).
absl::StatusOr<ReconciliationRun> DecodeRun(sqlite3_stmt* stmt);

/// What the ledger check reads of the tasks table, in this order.
inline constexpr char kLedgerTaskColumns[] = "task_id, state, task";
/// A row of kLedgerTaskColumns. A blob that is not a Task gives a default Task.billing.
billing::LedgerTask DecodeLedgerTask(sqlite3_stmt* stmt);

/// What the ledger check reads of the ledger, in this order.
inline constexpr char kLedgerEntryColumns[] =
    "task_id, kind, amount_micros, currency, billing_transaction_id";
/// A row of kLedgerEntryColumns. A kind other than RESERVE or SETTLE counts as a REFUND.
billing::LedgerEntry DecodeLedgerEntry(sqlite3_stmt* stmt);

}  // namespace music::persistence::sqlite_internal

#endif  // MUSIC_PERSISTENCE_SQLITE_SQLITE_ROW_CODEC_H_
