#include "service/billing/report_format.h"

#include <algorithm>
#include <string>
#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "rapidjson/prettywriter.h"
#include "rapidjson/stringbuffer.h"
#include "domain/money.h"

namespace music::billing {
namespace {

using Writer = rapidjson::PrettyWriter<rapidjson::StringBuffer>;

void Key(Writer& w, absl::string_view k) { w.Key(k.data(), static_cast<unsigned>(k.size())); }
void Str(Writer& w, absl::string_view k, absl::string_view v) {
  Key(w, k);
  w.String(v.data(), static_cast<unsigned>(v.size()));
}
void Int(Writer& w, absl::string_view k, int64_t v) {
  Key(w, k);
  w.Int64(v);
}
void Time(Writer& w, absl::string_view k, absl::Time t) {
  Key(w, k);
  if (t == absl::InfinitePast() || t == absl::InfiniteFuture()) {
    w.Null();
  } else {
    const std::string s = FormatRfc3339(t);
    w.String(s.data(), static_cast<unsigned>(s.size()));
  }
}

void WriteTransaction(Writer& w, const BillingTransaction& t) {
  w.StartObject();
  Str(w, "billing_transaction_id", t.billing_transaction_id);
  Str(w, "kind", TransactionKindName(t.kind));
  Int(w, "amount_micros", t.amount_micros);
  Str(w, "currency", CurrencyName(t.currency));
  Time(w, "time", t.time);
  Str(w, "tenant", t.tenant);
  Str(w, "task_id", t.task_id);
  Str(w, "request_id", t.request_id);
  Str(w, "provider_task_id", t.provider_task_id);
  Str(w, "provider_billing_transaction_id", t.provider_billing_transaction_id);
  Str(w, "model", t.model);
  Str(w, "provider_model", t.provider_model);
  Str(w, "endpoint", t.endpoint);
  w.EndObject();
}

void WriteUsageRecord(Writer& w, const UsageRecord& r) {
  w.StartObject();
  Str(w, "usage_record_id", r.usage_record_id);
  Str(w, "kind", UsageKindName(r.kind));
  Int(w, "amount_micros", r.amount_micros);
  Str(w, "currency", CurrencyName(r.currency));
  Time(w, "time", r.time);
  Str(w, "provider_task_id", r.provider_task_id);
  Str(w, "provider_billing_transaction_id", r.provider_billing_transaction_id);
  Str(w, "request_id", r.request_id);
  Str(w, "model", r.model);
  Str(w, "endpoint", r.endpoint);
  w.EndObject();
}

// "AMOUNT_MISMATCH" -> "amount_mismatch", the CSV column names.
std::string LowerName(Outcome o) { return absl::AsciiStrToLower(OutcomeName(o)); }

void AppendCsvField(std::string& out, absl::string_view v) {
  if (v.find_first_of(",\"\r\n") == absl::string_view::npos) {
    out.append(v.data(), v.size());
    return;
  }
  out.push_back('"');
  for (char c : v) {
    if (c == '"') out.push_back('"');
    out.push_back(c);
  }
  out.push_back('"');
}

void AppendCsvRow(std::string& out, const std::vector<std::string>& fields) {
  for (size_t i = 0; i < fields.size(); ++i) {
    if (i > 0) out.push_back(',');
    AppendCsvField(out, fields[i]);
  }
  out.push_back('\n');
}

std::string RangeText(const ReconcileOptions& o) {
  auto end = [](absl::Time t, absl::string_view open) {
    return t == absl::InfinitePast() || t == absl::InfiniteFuture() ? std::string(open)
                                                                    : FormatRfc3339(t);
  };
  return absl::StrCat("[", end(o.start, "-inf"), ", ", end(o.end, "+inf"), ")");
}

}  // namespace

std::string ReportToJson(const ReconcileReport& r) {
  rapidjson::StringBuffer buf;
  Writer w(buf);
  w.SetIndent(' ', 2);
  w.StartObject();
  Key(w, "range");
  w.StartObject();
  Time(w, "start", r.options.start);
  Time(w, "end", r.options.end);
  w.EndObject();
  Key(w, "options");
  w.StartObject();
  Key(w, "providers");
  w.StartArray();
  std::vector<std::string> providers = r.options.providers;
  std::sort(providers.begin(), providers.end());
  for (const std::string& p : providers) w.String(p.data(), static_cast<unsigned>(p.size()));
  w.EndArray();
  Int(w, "tolerance_micros", r.options.tolerance_micros);
  Key(w, "tolerance_percent");
  w.Double(r.options.tolerance_percent);
  Key(w, "fallback");
  w.Bool(r.options.fallback);
  Int(w, "fallback_window_seconds", absl::ToInt64Seconds(r.options.fallback_window));
  Int(w, "in_flight_grace_seconds", absl::ToInt64Seconds(r.options.in_flight_grace));
  Time(w, "as_of", r.options.as_of);
  Int(w, "credits_per_usd", r.options.credits_per_usd);
  w.EndObject();
  Int(w, "billing_transactions_in", r.transactions_in);
  Int(w, "usage_records_in", r.usage_records_in);
  Int(w, "tasks", r.tasks);
  Int(w, "in_flight_excluded", r.in_flight_excluded);
  Int(w, "in_flight_usage_excluded", r.in_flight_usage_excluded);
  Int(w, "stale_reservations", r.stale_reservations);
  Int(w, "discrepancy_count", static_cast<int64_t>(r.discrepancies.size()));
  Key(w, "outcomes");
  w.StartObject();
  for (int i = 0; i < kOutcomeCount; ++i) {
    Int(w, OutcomeName(static_cast<Outcome>(i)), r.outcome_tasks[i]);
  }
  w.EndObject();
  Key(w, "matched_by");
  w.StartObject();
  for (int i = 0; i < kMatchKeyCount; ++i) {
    Int(w, MatchKeyName(static_cast<MatchKey>(i)), r.matched_by[i]);
  }
  w.EndObject();
  Key(w, "currency_totals");
  w.StartArray();
  for (const CurrencyTotals& c : r.currency) {
    w.StartObject();
    Str(w, "currency", CurrencyName(c.currency));
    Int(w, "tasks", c.tasks);
    Int(w, "billed_micros", c.billed_micros);
    Int(w, "provider_micros", c.provider_micros);
    Int(w, "difference_micros", c.difference_micros);
    w.EndObject();
  }
  w.EndArray();
  Key(w, "usd_equivalent");
  w.StartObject();
  Int(w, "credits_per_usd", r.options.credits_per_usd);
  Int(w, "billed_micros", r.billed_usd_micros);
  Int(w, "provider_micros", r.provider_usd_micros);
  Int(w, "difference_micros", r.difference_usd_micros);
  w.EndObject();
  Key(w, "totals");
  w.StartArray();
  for (const Totals& t : r.totals) {
    w.StartObject();
    Str(w, "provider", t.provider);
    Str(w, "model", t.model);
    Str(w, "day", t.day);
    Str(w, "currency", CurrencyName(t.currency));
    Int(w, "tasks", t.tasks);
    Int(w, "billed_micros", t.billed_micros);
    Int(w, "provider_micros", t.provider_micros);
    Int(w, "difference_micros", t.difference_micros);
    Key(w, "outcomes");
    w.StartObject();
    for (int i = 0; i < kOutcomeCount; ++i) {
      const OutcomeTotals& ot = t.by_outcome[i];
      if (ot.tasks == 0) continue;
      Key(w, OutcomeName(static_cast<Outcome>(i)));
      w.StartObject();
      Int(w, "tasks", ot.tasks);
      Int(w, "billed_micros", ot.billed_micros);
      Int(w, "provider_micros", ot.provider_micros);
      w.EndObject();
    }
    w.EndObject();
    w.EndObject();
  }
  w.EndArray();
  Key(w, "discrepancies");
  w.StartArray();
  for (const TaskResult& d : r.discrepancies) {
    w.StartObject();
    Str(w, "outcome", OutcomeName(d.outcome));
    Str(w, "matched_by", MatchKeyName(d.matched_by));
    Str(w, "provider", d.provider);
    Str(w, "model", d.model);
    Str(w, "day", d.day);
    Str(w, "task_id", d.task_id);
    Str(w, "provider_task_id", d.provider_task_id);
    Str(w, "currency", CurrencyName(d.currency));
    Int(w, "reserved_micros", d.reserved_micros);
    Int(w, "billed_micros", d.billed_micros);
    Int(w, "service_refund_micros", d.service_refund_micros);
    Int(w, "provider_charge_micros", d.provider_charge_micros);
    Int(w, "provider_refund_micros", d.provider_refund_micros);
    Int(w, "difference_micros", d.difference_micros);
    Str(w, "detail", d.detail);
    Key(w, "billing_transactions");
    w.StartArray();
    for (const BillingTransaction* t : d.transactions) WriteTransaction(w, *t);
    w.EndArray();
    Key(w, "usage_records");
    w.StartArray();
    for (const UsageRecord* u : d.usage) WriteUsageRecord(w, *u);
    w.EndArray();
    w.EndObject();
  }
  w.EndArray();
  w.EndObject();
  std::string out(buf.GetString(), buf.GetSize());
  out.push_back('\n');
  return out;
}

std::string ReportToCsv(const ReconcileReport& r) {
  std::vector<std::string> header = {
      "row_type",         "provider", "model",          "day",
      "currency",         "outcome",  "matched_by",     "task_id",
      "provider_task_id", "tasks",    "billed",         "provider_net",
      "difference",       "reserved", "service_refund", "provider_charge",
      "provider_refund"};
  for (int i = 0; i < kOutcomeCount; ++i) header.push_back(LowerName(static_cast<Outcome>(i)));
  header.insert(header.end(), {"billing_transaction_ids", "usage_record_ids", "detail"});
  std::string out;
  AppendCsvRow(out, header);
  for (const Totals& t : r.totals) {
    std::vector<std::string> row = {"total",
                                    t.provider,
                                    t.model,
                                    t.day,
                                    std::string(CurrencyName(t.currency)),
                                    "",
                                    "",
                                    "",
                                    "",
                                    absl::StrCat(t.tasks),
                                    FormatMicros(t.billed_micros),
                                    FormatMicros(t.provider_micros),
                                    FormatMicros(t.difference_micros),
                                    "",
                                    "",
                                    "",
                                    ""};
    for (int i = 0; i < kOutcomeCount; ++i) row.push_back(absl::StrCat(t.by_outcome[i].tasks));
    row.insert(row.end(), {"", "", ""});
    AppendCsvRow(out, row);
  }
  for (const TaskResult& d : r.discrepancies) {
    std::vector<std::string> row = {
        "discrepancy",
        d.provider,
        d.model,
        d.day,
        std::string(CurrencyName(d.currency)),
        std::string(OutcomeName(d.outcome)),
        std::string(MatchKeyName(d.matched_by)),
        d.task_id,
        d.provider_task_id,
        "1",
        FormatMicros(d.billed_micros),
        FormatMicros(d.provider_charge_micros - d.provider_refund_micros),
        FormatMicros(d.difference_micros),
        FormatMicros(d.reserved_micros),
        FormatMicros(d.service_refund_micros),
        FormatMicros(d.provider_charge_micros),
        FormatMicros(d.provider_refund_micros)};
    for (int i = 0; i < kOutcomeCount; ++i)
      row.push_back(i == static_cast<int>(d.outcome) ? "1" : "0");
    std::vector<absl::string_view> tx_ids, usage_ids;
    for (const BillingTransaction* t : d.transactions) tx_ids.push_back(t->billing_transaction_id);
    for (const UsageRecord* u : d.usage) usage_ids.push_back(u->usage_record_id);
    row.insert(row.end(), {absl::StrJoin(tx_ids, ";"), absl::StrJoin(usage_ids, ";"), d.detail});
    AppendCsvRow(out, row);
  }
  return out;
}

std::string ReportSummary(const ReconcileReport& r, int max_lines) {
  std::string out;
  absl::StrAppendFormat(
      &out, "Reconciliation %s  tolerance %s micros / %g%%  fallback %s\n", RangeText(r.options),
      absl::StrCat(r.options.tolerance_micros), r.options.tolerance_percent,
      r.options.fallback ? absl::FormatDuration(r.options.fallback_window) : std::string("off"));
  absl::StrAppendFormat(&out,
                        "Inputs: %d billing transactions, %d usage records. Tasks reconciled: %d "
                        "(in flight, left for a later run: %d reserved tasks, %d provider-only "
                        "tasks; %d stale reservations)\n\n",
                        r.transactions_in, r.usage_records_in, r.tasks, r.in_flight_excluded,
                        r.in_flight_usage_excluded, r.stale_reservations);
  constexpr absl::string_view kRowFormat =
      "%-9s %-18s %-10s %-7s %8s %8s %6s %6s %6s %5s %6s %5s %16s %16s %14s\n";
  absl::StrAppendFormat(&out, kRowFormat, "PROVIDER", "MODEL", "DAY", "CUR", "TASKS", "MATCHED",
                        "AMOUNT", "NO_USE", "NO_BTX", "DUP", "REFUND", "CURR", "BILLED", "PROVIDER",
                        "DIFFERENCE");
  for (const Totals& t : r.totals) {
    auto n = [&](Outcome o) { return absl::StrCat(t.by_outcome[static_cast<int>(o)].tasks); };
    absl::StrAppendFormat(&out, kRowFormat, t.provider, t.model, t.day, CurrencyName(t.currency),
                          absl::StrCat(t.tasks), n(Outcome::kMatched), n(Outcome::kAmountMismatch),
                          n(Outcome::kMissingUsageRecord), n(Outcome::kMissingBillingTransaction),
                          n(Outcome::kDuplicate), n(Outcome::kRefundMismatch),
                          n(Outcome::kCurrencyMismatch), FormatMicros(t.billed_micros),
                          FormatMicros(t.provider_micros), FormatMicros(t.difference_micros));
  }
  out.push_back('\n');
  for (const CurrencyTotals& c : r.currency) {
    absl::StrAppendFormat(&out, "Total %-7s tasks %-9d billed %-16s provider %-16s difference %s\n",
                          CurrencyName(c.currency), c.tasks, FormatMicros(c.billed_micros),
                          FormatMicros(c.provider_micros), FormatMicros(c.difference_micros));
  }
  absl::StrAppendFormat(&out, "In USD (%d credits/USD): billed %s provider %s difference %s\n",
                        r.options.credits_per_usd, FormatMicros(r.billed_usd_micros),
                        FormatMicros(r.provider_usd_micros), FormatMicros(r.difference_usd_micros));
  out.append("Outcomes:");
  for (int i = 0; i < kOutcomeCount; ++i) {
    absl::StrAppend(&out, " ", OutcomeName(static_cast<Outcome>(i)), "=", r.outcome_tasks[i]);
  }
  out.push_back('\n');
  const size_t shown = max_lines < 0
                           ? r.discrepancies.size()
                           : std::min(r.discrepancies.size(), static_cast<size_t>(max_lines));
  absl::StrAppendFormat(&out, "\nDiscrepancies: %d", r.discrepancies.size());
  if (shown < r.discrepancies.size()) absl::StrAppendFormat(&out, " (first %d shown)", shown);
  out.push_back('\n');
  if (shown == 0) return out;
  constexpr absl::string_view kLineFormat = "%-27s %-9s %-10s %-24s %-24s %12s %12s  %s\n";
  absl::StrAppendFormat(&out, kLineFormat, "OUTCOME", "PROVIDER", "DAY", "TASK", "PROVIDER_TASK",
                        "BILLED", "PROVIDER", "DETAIL");
  for (size_t i = 0; i < shown; ++i) {
    const TaskResult& d = r.discrepancies[i];
    absl::StrAppendFormat(
        &out, kLineFormat, OutcomeName(d.outcome), d.provider, d.day,
        d.task_id.empty() ? "-" : d.task_id, d.provider_task_id.empty() ? "-" : d.provider_task_id,
        FormatMicros(d.billed_micros),
        FormatMicros(d.provider_charge_micros - d.provider_refund_micros), d.detail);
  }
  return out;
}

}  // namespace music::billing
