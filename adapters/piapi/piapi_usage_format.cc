#include "adapters/piapi/piapi_usage_format.h"

#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/time/time.h"
#include "domain/billing_records.h"
#include "domain/money.h"
#include "domain/record_io.h"

namespace music::adapters::piapi {
namespace {

using billing::Currency;
using billing::DeriveUsageRecordId;
using billing::FileFormat;
using billing::FormatMicros;
using billing::FormatRfc3339;
using billing::UsageKind;
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

constexpr absl::string_view kProvider = "piapi";

constexpr Field kPiTask{"task_id", "task_id"};
constexpr Field kPiModel{"model", "model"};
constexpr Field kPiConsume{"meta.usage.consume", "consume"};
constexpr Field kPiFrozen{"meta.usage.frozen", "frozen"};
constexpr Field kPiEnded{"meta.ended_at", "ended_at"};
constexpr absl::string_view kPiColumns[] = {"task_id", "model",   "usage_type",
                                            "frozen",  "consume", "ended_at"};

absl::Status ParsePiapi(const Fields& f, std::vector<UsageRecord>& out) {
  UsageRecord r;
  r.provider = std::string(kProvider);
  RECORD_IO_ASSIGN_OR_RETURN(task, f.Required(kPiTask));
  r.provider_task_id = std::string(task);
  absl::Status st;
  r.model = f.OptionalString(kPiModel, st);
  if (!st.ok()) return st;
  // `frozen` is the hold, not money spent: validated, not recorded.
  RECORD_IO_ASSIGN_OR_RETURN(frozen, f.Amount(kPiFrozen, /*required=*/false, false));
  (void)frozen;
  // A failed task reports consume 0 (CONTRACT-NOTES: error 10000): a zero charge, so the task
  // still shows as reported.
  RECORD_IO_ASSIGN_OR_RETURN(consume, f.Amount(kPiConsume, /*required=*/true, false));
  r.kind = UsageKind::kCharge;
  r.amount_micros = consume;
  r.currency = Currency::kUsd;
  RECORD_IO_ASSIGN_OR_RETURN(time, f.Time(kPiEnded));
  r.time = time;
  r.usage_record_id = DeriveUsageRecordId(r);
  out.push_back(std::move(r));
  return absl::OkStatus();
}

absl::StatusOr<std::string> WritePiapi(FileFormat format, absl::Span<const UsageRecord> rs) {
  std::string out;
  rapidjson::StringBuffer buf;
  JsonWriter w(buf);
  if (format == FileFormat::kCsv) AppendCsvHeader(out, kPiColumns);
  for (const UsageRecord& r : rs) {
    if (absl::Status st = CheckWritable(kProvider, r); !st.ok()) return st;
    if (r.kind != UsageKind::kCharge) {
      return absl::InvalidArgumentError(
          absl::StrCat("PiAPI reports no refunds (task ", r.provider_task_id, ")"));
    }
    if (r.currency != Currency::kUsd) {
      return absl::InvalidArgumentError(
          absl::StrCat("PiAPI bills USD (task ", r.provider_task_id, ")"));
    }
    const std::string consume = FormatMicros(r.amount_micros);
    const std::string time = FormatRfc3339(r.time);
    if (format == FileFormat::kCsv) {
      AppendCsvRow(out, {r.provider_task_id, r.model, "usd", consume, consume, time});
      continue;
    }
    w.StartObject();
    JsonString(w, "task_id", r.provider_task_id);
    JsonOptionalString(w, "model", r.model);
    JsonString(w, "task_type", "generate_music");
    JsonKey(w, "meta");
    w.StartObject();
    JsonString(w, "ended_at", time);
    JsonKey(w, "usage");
    w.StartObject();
    JsonString(w, "type", "usd");
    JsonNumber(w, "frozen", consume);
    JsonNumber(w, "consume", consume);
    w.EndObject();
    w.EndObject();
    w.EndObject();
    EndJsonLine(buf, w, out);
  }
  return out;
}

}  // namespace

absl::StatusOr<std::vector<UsageRecord>> ParseUsage(FileFormat format, absl::string_view content,
                                                    absl::string_view source) {
  constexpr absl::string_view kRequired[] = {"task_id", "consume", "ended_at"};
  std::vector<UsageRecord> out;
  std::optional<Fields> storage;
  absl::Status st =
      ForEachRecord(format, content, source, kRequired, [&](const Fields& f) -> absl::Status {
        // Accept the whole Get Task answer ({"code": 200, "data": {...}}) as well as its data.
        if (const Fields* data = f.JsonChild("data", &storage); data != nullptr) {
          return ParsePiapi(*data, out);
        }
        return ParsePiapi(f, out);
      });
  if (!st.ok()) return st;
  return out;
}

absl::StatusOr<std::string> WriteUsage(FileFormat format, absl::Span<const UsageRecord> records) {
  return WritePiapi(format, records);
}

}  // namespace music::adapters::piapi
