#include "adapters/beatra/beatra_usage_format.h"

#include <string>
#include <utility>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/status/status.h"
#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/time/time.h"
#include "domain/billing_records.h"
#include "domain/money.h"
#include "domain/record_io.h"

namespace music::adapters::beatra {
namespace {

using billing::Currency;
using billing::CurrencyName;
using billing::DeriveUsageRecordId;
using billing::FileFormat;
using billing::FormatMicros;
using billing::FormatRfc3339;
using billing::UsageKind;
using billing::UsageKindName;
using billing::UsageRecord;
using billing::record_io::AppendCsvHeader;
using billing::record_io::AppendCsvRow;
using billing::record_io::CheckWritable;
using billing::record_io::EndJsonLine;
using billing::record_io::Field;
using billing::record_io::Fields;
using billing::record_io::ForEachRecord;
using billing::record_io::JsonKey;
using billing::record_io::JsonNumber;
using billing::record_io::JsonOptionalString;
using billing::record_io::JsonString;
using billing::record_io::JsonWriter;

constexpr absl::string_view kProvider = "beatra";

constexpr Field kBtTask{"task_id", "task_id"};
constexpr Field kBtModel{"model", "model"};
constexpr Field kBtCharged{"billing.charged_credits", "charged_credits"};
constexpr Field kBtRefunded{"billing.refunded_credits", "refunded_credits"};
constexpr Field kBtCurrency{"billing.currency", "currency"};
constexpr Field kBtCompleted{"completed_at", "completed_at"};
constexpr absl::string_view kBtColumns[] = {"task_id",          "model",    "charged_credits",
                                            "refunded_credits", "currency", "completed_at"};

absl::Status ParseBeatra(const Fields& f, std::vector<UsageRecord>& out) {
  UsageRecord r;
  r.provider = std::string(kProvider);
  RECORD_IO_ASSIGN_OR_RETURN(task, f.Required(kBtTask));
  r.provider_task_id = std::string(task);
  absl::Status st;
  r.model = f.OptionalString(kBtModel, st);
  if (!st.ok()) return st;
  RECORD_IO_ASSIGN_OR_RETURN(charged, f.Amount(kBtCharged, /*required=*/true, false));
  RECORD_IO_ASSIGN_OR_RETURN(refunded, f.Amount(kBtRefunded, /*required=*/false, false));
  RECORD_IO_ASSIGN_OR_RETURN(currency, f.CurrencyOr(kBtCurrency, Currency::kCredits));
  r.currency = currency;
  RECORD_IO_ASSIGN_OR_RETURN(time, f.Time(kBtCompleted));
  r.time = time;
  // The charge is always there (debited at create, seed 002); the refund only if the task failed
  // or was canceled.
  r.kind = UsageKind::kCharge;
  r.amount_micros = charged;
  r.usage_record_id = DeriveUsageRecordId(r);
  if (refunded > 0) {
    UsageRecord refund = r;
    refund.kind = UsageKind::kRefund;
    refund.amount_micros = refunded;
    refund.usage_record_id = DeriveUsageRecordId(refund);
    out.push_back(std::move(r));
    out.push_back(std::move(refund));
  } else {
    out.push_back(std::move(r));
  }
  return absl::OkStatus();
}

// One envelope per task: groups records by task in first-seen order.
std::vector<std::vector<const UsageRecord*>> ByTask(absl::Span<const UsageRecord> rs) {
  std::vector<std::vector<const UsageRecord*>> tasks;
  absl::flat_hash_map<absl::string_view, size_t> index;
  for (const UsageRecord& r : rs) {
    auto [it, inserted] = index.emplace(r.provider_task_id, tasks.size());
    if (inserted) tasks.emplace_back();
    tasks[it->second].push_back(&r);
  }
  return tasks;
}

absl::StatusOr<std::string> WriteBeatra(FileFormat format, absl::Span<const UsageRecord> rs) {
  std::string out;
  rapidjson::StringBuffer buf;
  JsonWriter w(buf);
  if (format == FileFormat::kCsv) AppendCsvHeader(out, kBtColumns);
  for (const auto& task : ByTask(rs)) {
    const UsageRecord* charge = nullptr;
    const UsageRecord* refund = nullptr;
    for (const UsageRecord* r : task) {
      if (absl::Status st = CheckWritable(kProvider, *r); !st.ok()) return st;
      const UsageRecord*& slot = r->kind == UsageKind::kCharge ? charge : refund;
      if (slot != nullptr) {
        return absl::InvalidArgumentError(absl::StrCat("beatra task ", r->provider_task_id,
                                                       " has two ", UsageKindName(r->kind),
                                                       " records; its envelope holds one"));
      }
      slot = r;
    }
    const UsageRecord& first = charge != nullptr ? *charge : *refund;
    const std::string charged = FormatMicros(charge != nullptr ? charge->amount_micros : 0);
    const std::string refunded = FormatMicros(refund != nullptr ? refund->amount_micros : 0);
    const std::string currency = absl::AsciiStrToLower(CurrencyName(first.currency));
    const std::string time = FormatRfc3339(first.time);
    if (format == FileFormat::kCsv) {
      AppendCsvRow(out, {first.provider_task_id, first.model, charged, refunded, currency, time});
      continue;
    }
    w.StartObject();
    JsonString(w, "task_id", first.provider_task_id);
    JsonOptionalString(w, "model", first.model);
    JsonKey(w, "billing");
    w.StartObject();
    JsonNumber(w, "charged_credits", charged);
    JsonNumber(w, "refunded_credits", refunded);
    JsonString(w, "currency", currency);
    w.EndObject();
    JsonString(w, "completed_at", time);
    w.EndObject();
    EndJsonLine(buf, w, out);
  }
  return out;
}

}  // namespace

absl::StatusOr<std::vector<UsageRecord>> ParseUsage(FileFormat format, absl::string_view content,
                                                    absl::string_view source) {
  constexpr absl::string_view kRequired[] = {"task_id", "charged_credits", "completed_at"};
  std::vector<UsageRecord> out;
  absl::Status st = ForEachRecord(format, content, source, kRequired,
                                  [&](const Fields& f) { return ParseBeatra(f, out); });
  if (!st.ok()) return st;
  return out;
}

absl::StatusOr<std::string> WriteUsage(FileFormat format, absl::Span<const UsageRecord> records) {
  return WriteBeatra(format, records);
}

}  // namespace music::adapters::beatra
