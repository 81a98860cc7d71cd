#include "service/core/billing_api.h"

#include <algorithm>
#include <limits>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "absl/random/random.h"
#include "absl/strings/escaping.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "absl/synchronization/mutex.h"
#include "service/billing/reconciler.h"
#include "service/billing/report_format.h"
#include "service/billing/usage_format.h"
#include "service/core/music_api.h"
#include "service/core/status_details.h"
#include "service/core/task_merge.h"
#include "service/core/validation.h"

namespace music::service {
namespace {

using persistence::BillingCursor;
using persistence::TimeRange;

int PageSize(int32_t requested) {
  return requested == 0 ? kDefaultPageSize : std::min<int32_t>(requested, kMaxPageSize);
}

// The range of two optional timestamps (unset = open). INVALID_ARGUMENT when end <= start.
absl::StatusOr<TimeRange> Range(bool has_start, const google::protobuf::Timestamp& start,
                                bool has_end, const google::protobuf::Timestamp& end) {
  TimeRange range;
  if (has_start) range.start = FromTimestamp(start);
  if (has_end) range.end = FromTimestamp(end);
  if (range.end <= range.start) return InvalidField("end_time", "must be after start_time");
  return range;
}

int64_t Micros(absl::Time t) {
  if (t == absl::InfinitePast()) return std::numeric_limits<int64_t>::min();
  if (t == absl::InfiniteFuture()) return std::numeric_limits<int64_t>::max();
  return absl::ToUnixMicros(t);
}

absl::Time FromMicros(int64_t us) {
  if (us == std::numeric_limits<int64_t>::min()) return absl::InfinitePast();
  if (us == std::numeric_limits<int64_t>::max()) return absl::InfiniteFuture();
  return absl::FromUnixMicros(us);
}

// Page tokens are opaque: web-safe base64 of "<tag>|<filter>|<time_us>|<id>". The filter (the
// time range) is inside so a token reused with another range is refused (AIP-158).
std::string EncodeToken(absl::string_view tag, absl::string_view filter, absl::Time time,
                        absl::string_view id) {
  return absl::WebSafeBase64Escape(absl::StrCat(tag, "|", filter, "|", Micros(time), "|", id));
}

absl::StatusOr<BillingCursor> DecodeToken(absl::string_view token, absl::string_view tag,
                                          absl::string_view filter) {
  std::string raw;
  auto bad = [](absl::string_view why) { return InvalidField("page_token", why); };
  if (!absl::WebSafeBase64Unescape(token, &raw)) return bad("not a token of this API");
  std::vector<std::string> parts = absl::StrSplit(raw, absl::MaxSplits('|', 3));
  int64_t micros = 0;
  if (parts.size() != 4 || parts[0] != tag || !absl::SimpleAtoi(parts[2], &micros) ||
      parts[3].empty()) {
    return bad("not a token of this API");
  }
  if (parts[1] != filter) {
    return bad("the time range changed since the token was issued; start again without a token");
  }
  return BillingCursor{FromMicros(micros), parts[3]};
}

std::string RangeFilter(const TimeRange& range) {
  return absl::StrCat(Micros(range.start), ":", Micros(range.end));
}

music::v1::BillingTransactionKind KindToProto(billing::TransactionKind k) {
  switch (k) {
    case billing::TransactionKind::kReserve:
      return music::v1::BILLING_TRANSACTION_KIND_RESERVE;
    case billing::TransactionKind::kSettle:
      return music::v1::BILLING_TRANSACTION_KIND_SETTLE;
    case billing::TransactionKind::kRefund:
      return music::v1::BILLING_TRANSACTION_KIND_REFUND;
  }
  return music::v1::BILLING_TRANSACTION_KIND_UNSPECIFIED;
}

void ToProto(const billing::BillingTransaction& t, music::v1::BillingTransaction* p) {
  p->set_billing_transaction_id(t.billing_transaction_id);
  p->set_tenant(t.tenant);
  p->set_task_id(t.task_id);
  p->set_request_id(t.request_id);
  p->set_provider(t.provider);
  p->set_provider_task_id(t.provider_task_id);
  p->set_provider_billing_transaction_id(t.provider_billing_transaction_id);
  p->set_model(t.model);
  p->set_provider_model(t.provider_model);
  p->set_endpoint(t.endpoint);
  p->set_kind(KindToProto(t.kind));
  p->set_amount_micros(t.amount_micros);
  p->set_currency(std::string(billing::CurrencyName(t.currency)));
  SetTimestamp(t.time, p->mutable_time());
}

absl::StatusOr<billing::FileFormat> Format(music::v1::BillingFileFormat f) {
  switch (f) {
    case music::v1::BILLING_FILE_FORMAT_JSONL:
      return billing::FileFormat::kJsonl;
    case music::v1::BILLING_FILE_FORMAT_CSV:
      return billing::FileFormat::kCsv;
    default:
      return InvalidField("format",
                          "required: BILLING_FILE_FORMAT_JSONL or BILLING_FILE_FORMAT_CSV");
  }
}

// `t` moved by `d`, the infinities staying put.
absl::Time Widen(absl::Time t, absl::Duration d) {
  if (t == absl::InfinitePast() || t == absl::InfiniteFuture()) return t;
  return t + d;
}

void RunToProto(const persistence::ReconciliationRun& run, music::v1::ReconciliationRun* p) {
  p->set_run_id(run.run_id);
  SetTimestamp(run.create_time, p->mutable_create_time());
  if (run.range.start != absl::InfinitePast())
    SetTimestamp(run.range.start, p->mutable_start_time());
  if (run.range.end != absl::InfiniteFuture()) SetTimestamp(run.range.end, p->mutable_end_time());
  for (const auto& provider : run.providers) p->add_providers(provider);
  p->set_tolerance_micros(run.tolerance_micros);
  p->set_tasks(run.tasks);
  p->set_discrepancies(run.discrepancies);
  for (const auto& [outcome, tasks] : run.outcome_tasks) {
    auto* count = p->add_outcome_counts();
    count->set_outcome(outcome);
    count->set_tasks(tasks);
  }
  p->set_difference_usd_micros(run.difference_usd_micros);
  p->set_summary(run.summary);
  p->set_report_json(run.report_json);
}

std::string NewRunId() {
  static absl::Mutex mu(absl::kConstInit);
  static absl::BitGen* gen = new absl::BitGen();
  absl::MutexLock lock(&mu);
  return absl::StrFormat("rec_%016x", absl::Uniform<uint64_t>(*gen));
}

}  // namespace

absl::StatusOr<music::v1::ListBillingTransactionsResponse> BillingApi::ListBillingTransactions(
    absl::string_view tenant, const music::v1::ListBillingTransactionsRequest& r) {
  if (r.page_size() < 0) return InvalidField("page_size", "must not be negative");
  auto range = Range(r.has_start_time(), r.start_time(), r.has_end_time(), r.end_time());
  if (!range.ok()) return range.status();
  persistence::BillingListQuery query;
  query.tenant = std::string(tenant);
  query.range = *range;
  query.page_size = PageSize(r.page_size());
  const std::string filter = RangeFilter(*range);
  if (!r.page_token().empty()) {
    auto cursor = DecodeToken(r.page_token(), "b1", filter);
    if (!cursor.ok()) return cursor.status();
    query.after = *cursor;
  }
  auto page = store_->ListBillingTransactions(query);
  if (!page.ok()) return page.status();
  music::v1::ListBillingTransactionsResponse response;
  size_t bytes = 0;
  bool cut = false;
  size_t kept = 0;
  for (const auto& t : page->transactions) {
    music::v1::BillingTransaction item;
    ToProto(t, &item);
    if (!FitsInPage(item, response.transactions_size(), &bytes)) {
      cut = true;  // the token continues after the last one kept
      break;
    }
    *response.add_transactions() = std::move(item);
    ++kept;
  }
  if ((page->has_more || cut) && kept > 0) {
    const auto& last = page->transactions[kept - 1];
    response.set_next_page_token(EncodeToken("b1", filter, last.time, last.billing_transaction_id));
  }
  return response;
}

absl::StatusOr<music::v1::ExportBillingTransactionsResponse> BillingApi::ExportBillingTransactions(
    absl::string_view tenant, const music::v1::ExportBillingTransactionsRequest& r) {
  auto format = Format(r.format());
  if (!format.ok()) return format.status();
  auto range = Range(r.has_start_time(), r.start_time(), r.has_end_time(), r.end_time());
  if (!range.ok()) return range.status();
  persistence::BillingListQuery query;
  query.tenant = std::string(tenant);
  query.range = *range;
  query.page_size = kMaxPageSize;
  std::vector<billing::BillingTransaction> rows;
  while (true) {
    auto page = store_->ListBillingTransactions(query);
    if (!page.ok()) return page.status();
    for (auto& t : page->transactions) rows.push_back(std::move(t));
    if (!page->has_more || rows.empty()) break;
    query.after = BillingCursor{rows.back().time, rows.back().billing_transaction_id};
  }
  std::reverse(rows.begin(), rows.end());  // oldest first, as a file is read
  music::v1::ExportBillingTransactionsResponse response;
  response.set_content(billing::WriteLedger(*format, rows));
  response.set_transaction_count(static_cast<int64_t>(rows.size()));
  return response;
}

absl::StatusOr<music::v1::ImportUsageRecordsResponse> BillingApi::ImportUsageRecords(
    const music::v1::ImportUsageRecordsRequest& r) {
  std::vector<FieldViolation> violations;
  const billing::UsageFormats& formats = options_.usage_formats;
  if (!formats.Contains(r.provider())) {
    violations.push_back(
        {"provider", absl::StrCat("unknown provider \"", TruncateForError(r.provider()), "\"; one of ",
                                  absl::StrJoin(formats.providers(), ", "))});
  }
  auto format = Format(r.format());
  if (!format.ok()) violations.push_back({"format", std::string(format.status().message())});
  if (!violations.empty()) return InvalidArgument(std::move(violations));
  const std::string source = r.source().empty() ? "content" : r.source();
  auto records = formats.Parse(r.provider(), *format, r.content(), source);
  if (!records.ok()) return InvalidField("content", records.status().message());
  auto inserted = store_->InsertUsageRecords(*records);
  if (!inserted.ok()) return inserted.status();
  music::v1::ImportUsageRecordsResponse response;
  response.set_records(static_cast<int64_t>(records->size()));
  response.set_inserted(inserted->inserted);
  response.set_duplicates(inserted->duplicates);
  return response;
}

absl::StatusOr<music::v1::GetProviderBalanceResponse> BillingApi::GetProviderBalance(
    const music::v1::GetProviderBalanceRequest& r) {
  if (r.provider().empty()) return InvalidField("provider", "required, e.g. \"kie\"");
  adapters::ProviderAdapter* adapter =
      options_.providers == nullptr ? nullptr : options_.providers->Find(r.provider());
  if (adapter == nullptr) {
    return absl::NotFoundError(absl::StrCat("provider ", r.provider(), " is not served here"));
  }
  auto balance = adapter->GetBalance();
  if (!balance.ok()) return balance.status();
  music::v1::GetProviderBalanceResponse response;
  response.set_provider(r.provider());
  response.set_currency(balance->currency);
  response.set_balance_micros(balance->balance_micros);
  SetTimestamp(clock_->Now(), response.mutable_read_time());
  return response;
}

absl::StatusOr<music::v1::CheckLedgerResponse> BillingApi::CheckLedger(
    const music::v1::CheckLedgerRequest&) {
  auto violations = store_->CheckLedger();
  if (!violations.ok()) return violations.status();
  music::v1::CheckLedgerResponse response;
  for (const auto& v : *violations) {
    auto* p = response.add_violations();
    p->set_task_id(v.task_id);
    p->set_kind(v.kind);
    p->set_detail(v.detail);
  }
  if (options_.metrics != nullptr) {
    options_.metrics->LedgerChecked(static_cast<int64_t>(violations->size()));
  }
  return response;
}

absl::StatusOr<music::v1::ReconcileResponse> BillingApi::Reconcile(
    const music::v1::ReconcileRequest& r) {
  if (r.tolerance_micros() < 0) return InvalidField("tolerance_micros", "must not be negative");
  for (const auto& provider : r.providers()) {
    if (!options_.usage_formats.Contains(provider)) {
      return InvalidField("providers", absl::StrCat("unknown provider \"", TruncateForError(provider), "\""));
    }
  }
  auto range = Range(r.has_start_time(), r.start_time(), r.has_end_time(), r.end_time());
  if (!range.ok()) return range.status();
  const std::vector<std::string> providers(r.providers().begin(), r.providers().end());
  // Read a day around the range: a task's rows and records near its edges belong to it by the
  // task's time, which the reconciler decides.
  const TimeRange wide{Widen(range->start, -options_.late_window),
                       Widen(range->end, options_.late_window)};
  auto ledger = store_->ListBillingTransactionsForReconciliation(wide, providers);
  if (!ledger.ok()) return ledger.status();
  auto usage = store_->ListUsageRecords(wide, providers);
  if (!usage.ok()) return usage.status();

  billing::ReconcileOptions options;
  options.start = range->start;
  options.end = range->end;
  options.providers = providers;
  options.tolerance_micros = r.tolerance_micros();
  options.fallback = r.fallback_match();
  options.in_flight_grace = options_.in_flight_grace;
  if (r.has_in_flight_grace()) {
    options.in_flight_grace = absl::Seconds(r.in_flight_grace().seconds()) +
                              absl::Nanoseconds(r.in_flight_grace().nanos());
    if (options.in_flight_grace < absl::ZeroDuration()) {
      return InvalidField("in_flight_grace", "must not be negative");
    }
  }
  options.credits_per_usd = options_.credits_per_usd;
  auto report = billing::Reconcile(*ledger, *usage, options);
  if (!report.ok()) return report.status();

  persistence::ReconciliationRun run;
  run.run_id = r.dry_run() ? "" : NewRunId();
  run.create_time = clock_->Now();
  run.range = *range;
  run.providers = providers;
  run.tolerance_micros = r.tolerance_micros();
  run.tasks = report->tasks;
  run.discrepancies = static_cast<int64_t>(report->discrepancies.size());
  for (int i = 0; i < billing::kOutcomeCount; ++i) {
    run.outcome_tasks.emplace_back(
        std::string(billing::OutcomeName(static_cast<billing::Outcome>(i))),
        report->outcome_tasks[i]);
  }
  run.difference_usd_micros = report->difference_usd_micros;
  run.summary = billing::ReportSummary(*report);
  run.report_json = billing::ReportToJson(*report);
  if (!r.dry_run()) {
    if (absl::Status s = store_->SaveReconciliationRun(run); !s.ok()) return s;
    // Stored runs only: a dry run repeated while exploring must not inflate the findings.
    if (options_.metrics != nullptr) {
      for (const auto& [outcome, tasks] : run.outcome_tasks) {
        if (outcome != "MATCHED" && tasks > 0) {
          options_.metrics->ReconciliationFindings(outcome, tasks);
        }
      }
    }
  }

  music::v1::ReconcileResponse response;
  RunToProto(run, response.mutable_run());
  for (const billing::TaskResult& d : report->discrepancies) {
    auto* p = response.add_discrepancies();
    p->set_outcome(std::string(billing::OutcomeName(d.outcome)));
    p->set_provider(d.provider);
    p->set_task_id(d.task_id);
    p->set_provider_task_id(d.provider_task_id);
    p->set_currency(std::string(billing::CurrencyName(d.currency)));
    p->set_billed_micros(d.billed_micros);
    p->set_provider_net_micros(d.provider_charge_micros - d.provider_refund_micros);
    p->set_difference_micros(d.difference_micros);
    p->set_detail(d.detail);
  }
  return response;
}

absl::StatusOr<music::v1::ListReconciliationRunsResponse> BillingApi::ListReconciliationRuns(
    const music::v1::ListReconciliationRunsRequest& r) {
  if (r.page_size() < 0) return InvalidField("page_size", "must not be negative");
  std::optional<BillingCursor> after;
  if (!r.page_token().empty()) {
    auto cursor = DecodeToken(r.page_token(), "r1", "");
    if (!cursor.ok()) return cursor.status();
    after = *cursor;
  }
  auto page = store_->ListReconciliationRuns(PageSize(r.page_size()), after);
  if (!page.ok()) return page.status();
  music::v1::ListReconciliationRunsResponse response;
  size_t bytes = 0;
  bool cut = false;
  size_t kept = 0;
  for (const auto& run : page->runs) {
    music::v1::ReconciliationRun item;
    RunToProto(run, &item);
    if (!FitsInPage(item, response.runs_size(), &bytes)) {
      cut = true;  // the token continues after the last one kept
      break;
    }
    *response.add_runs() = std::move(item);
    ++kept;
  }
  if ((page->has_more || cut) && kept > 0) {
    const auto& last = page->runs[kept - 1];
    response.set_next_page_token(EncodeToken("r1", "", last.create_time, last.run_id));
  }
  return response;
}

absl::StatusOr<music::v1::GetReconciliationRunResponse> BillingApi::GetReconciliationRun(
    const music::v1::GetReconciliationRunRequest& r) {
  if (r.run_id().empty()) return InvalidField("run_id", "required");
  if (auto s = CheckIdLength("run_id", r.run_id()); !s.ok()) return s;
  auto run = store_->GetReconciliationRun(r.run_id());
  if (!run.ok()) return run.status();
  music::v1::GetReconciliationRunResponse response;
  RunToProto(*run, response.mutable_run());
  return response;
}

}  // namespace music::service
