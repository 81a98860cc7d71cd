#include "persistence/postgres/pg_row_codec.h"

#include <cstdint>
#include <limits>
#include <utility>

#include "absl/strings/str_cat.h"
#include "music/v1/task.pb.h"
#include "persistence/store_rows.h"

namespace music::persistence::pg_internal {

using store_rows::FromMicros;
using store_rows::TimestampMicros;
using store_rows::ToMicros;

namespace {

// Reads the integer columns `cols` of a row into `out`, in order; the first failure wins.
absl::Status Ints(const Result& result, int row, std::initializer_list<int> cols,
                  std::initializer_list<int64_t*> out) {
  auto target = out.begin();
  for (int col : cols) {
    absl::StatusOr<int64_t> v = result.Int64(row, col);
    if (!v.ok()) return v.status();
    **target++ = *v;
  }
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<domain::TaskRecord> DecodeTaskRow(const Result& result, int row) {
  const std::string task_id = result.String(row, 0);
  int64_t submission = 0, attempts = 0, next_action = 0, deadline = 0, unknown_since = 0,
          version = 0;
  if (absl::Status s = Ints(result, row, {2, 3, 4, 5, 6, 7},
                            {&submission, &attempts, &next_action, &deadline, &unknown_since,
                             &version});
      !s.ok()) {
    return absl::DataLossError(absl::StrCat("task ", task_id, ": ", s.message()));
  }
  absl::StatusOr<std::string> blob = result.Bytes(row, 8);
  domain::TaskRecord record;
  if (!blob.ok() || !record.task.ParseFromString(*blob)) {
    return absl::DataLossError(absl::StrCat("task ", task_id, ": the stored task is corrupt"));
  }
  if (record.task.task_id() != task_id || record.task.version() != version) {
    return absl::DataLossError(absl::StrCat(
        "task ", task_id, ": the stored task does not match its row (id ", record.task.task_id(),
        ", version ", record.task.version(), " vs ", version, ")"));
  }
  if (!store_rows::ValidSubmission(submission)) {
    return absl::DataLossError(
        absl::StrCat("task ", task_id, ": bad submission state ", submission));
  }
  if (attempts < std::numeric_limits<int32_t>::min() ||
      attempts > std::numeric_limits<int32_t>::max()) {
    return absl::DataLossError(absl::StrCat("task ", task_id, ": bad attempts ", attempts));
  }
  record.request_fingerprint = result.String(row, 1);
  record.submission = static_cast<domain::SubmissionState>(submission);
  record.attempts = static_cast<int32_t>(attempts);
  record.next_action_time = FromMicros(next_action);
  record.deadline = FromMicros(deadline);
  record.unknown_since = FromMicros(unknown_since);
  record.poll_url = result.String(row, 9);
  record.reference_artifact_id = result.String(row, 10);
  record.provider_endpoint = result.String(row, 11);
  record.traceparent = result.String(row, 12);
  record.lease.owner = result.String(row, 13);
  absl::StatusOr<int64_t> token = result.Int64(row, 14);
  if (!token.ok()) return absl::DataLossError(absl::StrCat("task ", task_id, ": ", token.status().message()));
  record.lease.token = *token;
  return record;
}

void AddTaskColumns(Params& params, const domain::TaskRecord& r, const std::string& blob) {
  const music::v1::Task& t = r.task;
  params.Add(t.task_id())
      .Add(t.tenant())
      .Add(t.request_id())
      .Add(r.request_fingerprint)
      .Add(int64_t{t.state()})
      .Add(int64_t{t.kind()})
      .Add(t.provider())
      .Add(t.provider_task_id())
      .Add(int64_t{static_cast<int>(r.submission)})
      .Add(int64_t{r.attempts})
      .Add(ToMicros(r.next_action_time))
      .Add(ToMicros(r.deadline))
      .Add(ToMicros(r.unknown_since))
      .Add(TimestampMicros(t.create_time()))
      .Add(TimestampMicros(t.update_time()))
      .Add(t.version())
      .AddBytes(blob)
      .Add(r.poll_url)
      .Add(r.reference_artifact_id)
      .Add(r.provider_endpoint)
      .Add(r.traceparent)
      .Add(domain::ArchivePending(r) ? "true" : "false");
}

void AddTransaction(Params& params, const billing::BillingTransaction& t) {
  params.Add(t.billing_transaction_id)
      .Add(t.tenant)
      .Add(t.task_id)
      .Add(t.request_id)
      .Add(t.provider)
      .Add(t.provider_task_id)
      .Add(t.provider_billing_transaction_id)
      .Add(t.model)
      .Add(t.provider_model)
      .Add(t.endpoint)
      .Add(billing::TransactionKindName(t.kind))
      .Add(t.amount_micros)
      .Add(billing::CurrencyName(t.currency))
      .Add(ToMicros(t.time));
}

absl::StatusOr<billing::BillingTransaction> DecodeTransaction(const Result& result, int row) {
  billing::BillingTransaction t;
  t.billing_transaction_id = result.String(row, 0);
  t.tenant = result.String(row, 1);
  t.task_id = result.String(row, 2);
  t.request_id = result.String(row, 3);
  t.provider = result.String(row, 4);
  t.provider_task_id = result.String(row, 5);
  t.provider_billing_transaction_id = result.String(row, 6);
  t.model = result.String(row, 7);
  t.provider_model = result.String(row, 8);
  t.endpoint = result.String(row, 9);
  auto kind = billing::ParseTransactionKind(result.String(row, 10));
  auto currency = billing::ParseCurrency(result.String(row, 12));
  absl::StatusOr<int64_t> amount = result.Int64(row, 11);
  absl::StatusOr<int64_t> time = result.Int64(row, 13);
  if (!kind || !currency || !amount.ok() || !time.ok()) {
    return absl::DataLossError(absl::StrCat("billing transaction ", t.billing_transaction_id,
                                            ": bad kind, currency, amount or time"));
  }
  t.kind = *kind;
  t.amount_micros = *amount;
  t.currency = *currency;
  t.time = FromMicros(*time);
  return t;
}

void AddUsage(Params& params, const billing::UsageRecord& u) {
  params.Add(u.provider)
      .Add(u.usage_record_id)
      .Add(u.provider_task_id)
      .Add(u.provider_billing_transaction_id)
      .Add(u.request_id)
      .Add(u.model)
      .Add(u.endpoint)
      .Add(billing::UsageKindName(u.kind))
      .Add(u.amount_micros)
      .Add(billing::CurrencyName(u.currency))
      .Add(ToMicros(u.time));
}

absl::StatusOr<billing::UsageRecord> DecodeUsage(const Result& result, int row) {
  billing::UsageRecord u;
  u.provider = result.String(row, 0);
  u.usage_record_id = result.String(row, 1);
  u.provider_task_id = result.String(row, 2);
  u.provider_billing_transaction_id = result.String(row, 3);
  u.request_id = result.String(row, 4);
  u.model = result.String(row, 5);
  u.endpoint = result.String(row, 6);
  auto kind = billing::ParseUsageKind(result.String(row, 7));
  auto currency = billing::ParseCurrency(result.String(row, 9));
  absl::StatusOr<int64_t> amount = result.Int64(row, 8);
  absl::StatusOr<int64_t> time = result.Int64(row, 10);
  if (!kind || !currency || !amount.ok() || !time.ok()) {
    return absl::DataLossError(absl::StrCat("usage record ", u.usage_record_id,
                                            ": bad kind, currency, amount or time"));
  }
  u.kind = *kind;
  u.amount_micros = *amount;
  u.currency = *currency;
  u.time = FromMicros(*time);
  return u;
}

void AddRun(Params& params, const ReconciliationRun& run) {
  params.Add(run.run_id)
      .Add(ToMicros(run.create_time))
      .Add(ToMicros(run.range.start))
      .Add(ToMicros(run.range.end))
      .Add(store_rows::JoinList(run.providers))
      .Add(run.tolerance_micros)
      .Add(run.tasks)
      .Add(run.discrepancies)
      .Add(store_rows::JoinCounts(run.outcome_tasks))
      .Add(run.difference_usd_micros)
      .Add(run.summary)
      .Add(run.report_json);
}

absl::StatusOr<ReconciliationRun> DecodeRun(const Result& result, int row) {
  ReconciliationRun run;
  run.run_id = result.String(row, 0);
  int64_t create = 0, start = 0, end = 0;
  if (absl::Status s = Ints(result, row, {1, 2, 3, 5, 6, 7, 9},
                            {&create, &start, &end, &run.tolerance_micros, &run.tasks,
                             &run.discrepancies, &run.difference_usd_micros});
      !s.ok()) {
    return absl::DataLossError(absl::StrCat("reconciliation run ", run.run_id, ": ", s.message()));
  }
  run.create_time = FromMicros(create);
  run.range.start = FromMicros(start);
  run.range.end = FromMicros(end);
  run.providers = store_rows::SplitList(result.Text(row, 4));
  run.outcome_tasks = store_rows::SplitCounts(result.Text(row, 8));
  run.summary = result.String(row, 10);
  run.report_json = result.String(row, 11);
  return run;
}

billing::LedgerTask DecodeLedgerTask(const Result& result, int row) {
  billing::LedgerTask task;
  task.task_id = result.String(row, 0);
  task.state = static_cast<music::v1::TaskState>(result.Int64(row, 1).value_or(0));
  music::v1::Task stored;
  absl::StatusOr<std::string> blob = result.Bytes(row, 2);
  if (blob.ok() && stored.ParseFromString(*blob)) task.billing = stored.billing();
  return task;
}

billing::LedgerEntry DecodeLedgerEntry(const Result& result, int row) {
  billing::LedgerEntry entry;
  entry.task_id = result.String(row, 0);
  entry.kind = store_rows::LedgerEntryKind(result.Text(row, 1));
  entry.amount_micros = result.Int64(row, 2).value_or(0);
  entry.currency = result.String(row, 3);
  entry.billing_transaction_id = result.String(row, 4);
  return entry;
}

}  // namespace music::persistence::pg_internal
