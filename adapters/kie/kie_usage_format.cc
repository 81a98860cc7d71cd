#include "adapters/kie/kie_usage_format.h"

#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/time/time.h"
#include "domain/billing_records.h"
#include "domain/money.h"
#include "domain/record_io.h"

namespace music::adapters::kie {
namespace {

using billing::Currency;
using billing::DeriveUsageRecordId;
using billing::FileFormat;
using billing::FormatMicros;
using billing::ParseRfc3339;
using billing::ParseUsageKind;
using billing::UsageKind;
using billing::UsageRecord;
using billing::record_io::AppendCsvHeader;
using billing::record_io::AppendCsvRow;
using billing::record_io::CheckWritable;
using billing::record_io::EndJsonLine;
using billing::record_io::Field;
using billing::record_io::Fields;
using billing::record_io::ForEachRecord;
using billing::record_io::JsonNumber;
using billing::record_io::JsonOptionalString;
using billing::record_io::JsonString;
using billing::record_io::JsonWriter;

constexpr absl::string_view kProvider = "kie";

constexpr Field kKieId{"id", "id"};
constexpr Field kKieTask{"taskId", "taskId"};
constexpr Field kKieModel{"model", "model"};
constexpr Field kKieCredits{"credits", "credits"};
constexpr Field kKieType{"type", "type"};
constexpr Field kKieOperation{"operationType", "operationType"};
constexpr Field kKieCreate{"createTime", "createTime"};
constexpr absl::string_view kKieColumns[] = {"taskId", "credits", "createTime"};

absl::StatusOr<absl::Time> KieTime(const Fields& f) {
  RECORD_IO_ASSIGN_OR_RETURN(v, f.Required(kKieCreate));
  int64_t ms = 0;
  if (absl::SimpleAtoi(v, &ms)) return absl::FromUnixMillis(ms);
  // Clips carry "2025-01-01 00:00:00" (seed 004); read it as UTC.
  absl::Time t;
  std::string err;
  if (absl::ParseTime("%Y-%m-%d %H:%M:%S", std::string(v), absl::UTCTimeZone(), &t, &err)) {
    return t;
  }
  absl::StatusOr<absl::Time> rfc = ParseRfc3339(v);
  if (rfc.ok()) return *rfc;
  return f.Error(kKieCreate, absl::StrCat("expected epoch milliseconds or a date-time, got \"",
                                          v.substr(0, 40), "\""));
}

absl::Status ParseKie(const Fields& f, std::vector<UsageRecord>& out) {
  UsageRecord r;
  r.provider = std::string(kProvider);
  RECORD_IO_ASSIGN_OR_RETURN(task, f.Required(kKieTask));
  r.provider_task_id = std::string(task);
  absl::Status st;
  r.model = f.OptionalString(kKieModel, st);
  r.endpoint = f.OptionalString(kKieOperation, st);  // generate, extend, upload_cover, ...
  std::string id = f.OptionalString(kKieId, st);
  std::string type = f.OptionalString(kKieType, st);
  if (!st.ok()) return st;
  RECORD_IO_ASSIGN_OR_RETURN(credits, f.Amount(kKieCredits, /*required=*/true, true));
  bool refund = credits < 0;
  if (!type.empty()) {
    std::optional<UsageKind> kind = ParseUsageKind(type);
    if (!kind) {
      return f.Error(kKieType, absl::StrCat("expected charge or refund, got \"", type, "\""));
    }
    if (*kind == UsageKind::kCharge && refund) {
      return f.Error(kKieCredits, "negative credits on a charge");
    }
    refund = refund || *kind == UsageKind::kRefund;
  }
  r.kind = refund ? UsageKind::kRefund : UsageKind::kCharge;
  r.amount_micros = credits < 0 ? -credits : credits;
  r.currency = Currency::kCredits;
  RECORD_IO_ASSIGN_OR_RETURN(time, KieTime(f));
  r.time = time;
  r.usage_record_id = id.empty() ? DeriveUsageRecordId(r, r.endpoint) : std::move(id);
  out.push_back(std::move(r));
  return absl::OkStatus();
}

absl::StatusOr<std::string> WriteKie(FileFormat format, absl::Span<const UsageRecord> rs) {
  std::string out;
  rapidjson::StringBuffer buf;
  JsonWriter w(buf);
  if (format == FileFormat::kCsv) {
    constexpr absl::string_view kColumns[] = {"id",   "taskId",        "model",     "credits",
                                              "type", "operationType", "createTime"};
    AppendCsvHeader(out, kColumns);
  }
  for (const UsageRecord& r : rs) {
    if (absl::Status st = CheckWritable(kProvider, r); !st.ok()) return st;
    if (r.currency != Currency::kCredits) {
      return absl::InvalidArgumentError(
          absl::StrCat("kie.ai bills credits (task ", r.provider_task_id, ")"));
    }
    // The id is written only when it is not the one the parser would derive.
    const std::string id =
        r.usage_record_id == DeriveUsageRecordId(r, r.endpoint) ? "" : r.usage_record_id;
    const bool refund = r.kind == UsageKind::kRefund;
    const std::string credits = FormatMicros(refund ? -r.amount_micros : r.amount_micros);
    const std::string type = refund ? "refund" : "charge";
    const std::string ms = absl::StrCat(absl::ToUnixMillis(r.time));
    if (format == FileFormat::kCsv) {
      AppendCsvRow(out, {id, r.provider_task_id, r.model, credits, type, r.endpoint, ms});
      continue;
    }
    w.StartObject();
    JsonOptionalString(w, "id", id);
    JsonString(w, "taskId", r.provider_task_id);
    JsonOptionalString(w, "model", r.model);
    JsonNumber(w, "credits", credits);
    JsonString(w, "type", type);
    JsonOptionalString(w, "operationType", r.endpoint);
    JsonNumber(w, "createTime", ms);
    w.EndObject();
    EndJsonLine(buf, w, out);
  }
  return out;
}

}  // namespace

absl::StatusOr<std::vector<UsageRecord>> ParseUsage(FileFormat format, absl::string_view content,
                                                    absl::string_view source) {
  std::vector<UsageRecord> out;
  absl::Status st = ForEachRecord(format, content, source, kKieColumns,
                                  [&](const Fields& f) { return ParseKie(f, out); });
  if (!st.ok()) return st;
  return out;
}

absl::StatusOr<std::string> WriteUsage(FileFormat format, absl::Span<const UsageRecord> records) {
  return WriteKie(format, records);
}

}  // namespace music::adapters::kie
