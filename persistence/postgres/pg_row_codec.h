// How the PostgreSQL store's rows hold the domain's values (the same columns as the SQLite
// store's, sqlite_row_codec.h): each Add* appends the parameters of an INSERT whose column list
// is the matching k*Columns; each Decode* reads row `row` of a SELECT of those columns. Internal
// to persistence/postgres.
#ifndef MUSIC_PERSISTENCE_POSTGRES_PG_ROW_CODEC_H_
#define MUSIC_PERSISTENCE_POSTGRES_PG_ROW_CODEC_H_

#include <string>

#include "absl/status/statusor.h"
#include "domain/billing_types.h"
#include "domain/ledger_check.h"
#include "domain/task_record.h"
#include "persistence/billing_store.h"
#include "persistence/postgres/pg_connection.h"

namespace music::persistence::pg_internal {

/// Columns DecodeTaskRow reads, in this order; the tasks table is aliased `t`.
#define MUSIC_PG_TASK_COLUMNS                                                                     \
  "t.task_id, t.request_fingerprint, t.submission, t.attempts, t.next_action_us, t.deadline_us, " \
  "t.unknown_since_us, t.version, t.task, t.poll_url, t.reference_artifact_id, "                  \
  "t.provider_endpoint, t.traceparent, t.lease_owner, t.lease_token"

/// DATA_LOSS when the row is malformed: a blob that is not a Task, a Task whose id or version is
/// not the row's, a bad submission state or attempts count.
absl::StatusOr<domain::TaskRecord> DecodeTaskRow(const Result& result, int row);

/// Appends $1..$22 of the tasks INSERT / UPDATE: task_id, tenant, request_id,
/// request_fingerprint, state, kind, provider, provider_task_id, submission, attempts,
/// next_action_us, deadline_us, unknown_since_us, create_time_us, update_time_us, version, task
/// (`blob`, bytea), poll_url, reference_artifact_id, provider_endpoint, traceparent,
/// archive_pending.
void AddTaskColumns(Params& params, const domain::TaskRecord& r, const std::string& blob);

inline constexpr char kTransactionColumns[] =
    "billing_transaction_id, tenant, task_id, request_id, provider, provider_task_id, "
    "provider_billing_transaction_id, model, provider_model, endpoint, kind, amount_micros, "
    "currency, time_us";
void AddTransaction(Params& params, const billing::BillingTransaction& t);
/// DATA_LOSS for a bad kind, currency or number.
absl::StatusOr<billing::BillingTransaction> DecodeTransaction(const Result& result, int row);

inline constexpr char kUsageColumns[] =
    "provider, usage_record_id, provider_task_id, provider_billing_transaction_id, request_id, "
    "model, endpoint, kind, amount_micros, currency, time_us";
void AddUsage(Params& params, const billing::UsageRecord& u);
absl::StatusOr<billing::UsageRecord> DecodeUsage(const Result& result, int row);

/// Columns of a run but its report; a SELECT adds report_json (or '' for a listing).
inline constexpr char kRunColumns[] =
    "run_id, create_time_us, start_us, end_us, providers, tolerance_micros, tasks, discrepancies, "
    "outcome_tasks, difference_usd_micros, summary";
/// Appends the kRunColumns and report_json.
void AddRun(Params& params, const ReconciliationRun& run);
absl::StatusOr<ReconciliationRun> DecodeRun(const Result& result, int row);

/// A row of "task_id, state, task". A blob that is not a Task gives a default Task.billing.
billing::LedgerTask DecodeLedgerTask(const Result& result, int row);
/// A row of "task_id, kind, amount_micros, currency, billing_transaction_id".
billing::LedgerEntry DecodeLedgerEntry(const Result& result, int row);

}  // namespace music::persistence::pg_internal

#endif  // MUSIC_PERSISTENCE_POSTGRES_PG_ROW_CODEC_H_
