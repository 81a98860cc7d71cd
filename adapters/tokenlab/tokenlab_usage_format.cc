#include "adapters/tokenlab/tokenlab_usage_format.h"

#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/time/time.h"
#include "domain/billing_records.h"
#include "domain/money.h"
#include "domain/record_io.h"

namespace music::adapters::tokenlab {
namespace {

using billing::Currency;
using billing::CurrencyName;
using billing::FileFormat;
using billing::FormatMicros;
using billing::FormatRfc3339;
using billing::ParseUsageKind;
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
using billing::record_io::JsonOptionalString;
using billing::record_io::JsonString;
using billing::record_io::JsonWriter;

constexpr absl::string_view kProvider = "tokenlab";

constexpr Field kTlId{"id", "id"};
constexpr Field kTlBtx{"billing_transaction_id", "billing_transaction_id"};
constexpr Field kTlRequest{"request_id", "request_id"};
constexpr Field kTlTask{"task_id", "task_id"};
constexpr Field kTlModel{"model", "model"};
constexpr Field kTlEndpoint{"endpoint", "endpoint"};
constexpr Field kTlType{"type", "type"};
constexpr Field kTlAmount{"amount", "amount"};
constexpr Field kTlCurrency{"currency", "currency"};
constexpr Field kTlCreated{"created_at", "created_at"};
constexpr absl::string_view kTlColumns[] = {"id",         "billing_transaction_id",
                                            "request_id", "task_id",
                                            "model",      "endpoint",
                                            "type",       "amount",
                                            "currency",   "created_at"};

absl::Status ParseTokenLab(const Fields& f, std::vector<UsageRecord>& out) {
  UsageRecord r;
  r.provider = std::string(kProvider);
  RECORD_IO_ASSIGN_OR_RETURN(id, f.Required(kTlId));
  r.usage_record_id = std::string(id);
  absl::Status st;
  r.provider_billing_transaction_id = f.OptionalString(kTlBtx, st);
  r.request_id = f.OptionalString(kTlRequest, st);
  r.provider_task_id = f.OptionalString(kTlTask, st);
  r.model = f.OptionalString(kTlModel, st);
  r.endpoint = f.OptionalString(kTlEndpoint, st);
  if (!st.ok()) return st;
  RECORD_IO_ASSIGN_OR_RETURN(type, f.Required(kTlType));
  std::optional<UsageKind> kind = ParseUsageKind(type);
  if (!kind) return f.Error(kTlType, absl::StrCat("expected charge or refund, got \"", type, "\""));
  r.kind = *kind;
  RECORD_IO_ASSIGN_OR_RETURN(amount, f.Amount(kTlAmount, /*required=*/true, false));
  r.amount_micros = amount;
  RECORD_IO_ASSIGN_OR_RETURN(currency, f.CurrencyOr(kTlCurrency, Currency::kUsd));
  r.currency = currency;
  RECORD_IO_ASSIGN_OR_RETURN(time, f.Time(kTlCreated));
  r.time = time;
  out.push_back(std::move(r));
  return absl::OkStatus();
}

absl::StatusOr<std::string> WriteTokenLab(FileFormat format, absl::Span<const UsageRecord> rs) {
  std::string out;
  rapidjson::StringBuffer buf;
  JsonWriter w(buf);
  if (format == FileFormat::kCsv) AppendCsvHeader(out, kTlColumns);
  for (const UsageRecord& r : rs) {
    if (absl::Status st = CheckWritable(kProvider, r); !st.ok()) return st;
    if (r.usage_record_id.empty()) {
      return absl::InvalidArgumentError("a TokenLab usage record needs its id");
    }
    const std::string type = absl::AsciiStrToLower(UsageKindName(r.kind));
    const std::string amount = FormatMicros(r.amount_micros);
    const std::string time = FormatRfc3339(r.time);
    if (format == FileFormat::kCsv) {
      AppendCsvRow(out, {r.usage_record_id, r.provider_billing_transaction_id, r.request_id,
                         r.provider_task_id, r.model, r.endpoint, type, amount,
                         std::string(CurrencyName(r.currency)), time});
      continue;
    }
    w.StartObject();
    JsonString(w, "id", r.usage_record_id);
    JsonOptionalString(w, "billing_transaction_id", r.provider_billing_transaction_id);
    JsonOptionalString(w, "request_id", r.request_id);
    JsonOptionalString(w, "task_id", r.provider_task_id);
    JsonOptionalString(w, "model", r.model);
    JsonOptionalString(w, "endpoint", r.endpoint);
    JsonString(w, "type", type);
    JsonString(w, "amount", amount);  // a decimal string, as TokenLab gives it
    JsonString(w, "currency", CurrencyName(r.currency));
    JsonString(w, "created_at", time);
    w.EndObject();
    EndJsonLine(buf, w, out);
  }
  return out;
}

}  // namespace

absl::StatusOr<std::vector<UsageRecord>> ParseUsage(FileFormat format, absl::string_view content,
                                                    absl::string_view source) {
  constexpr absl::string_view kRequired[] = {"id", "type", "amount", "created_at"};
  std::vector<UsageRecord> out;
  absl::Status st = ForEachRecord(format, content, source, kRequired,
                                  [&](const Fields& f) { return ParseTokenLab(f, out); });
  if (!st.ok()) return st;
  return out;
}

absl::StatusOr<std::string> WriteUsage(FileFormat format, absl::Span<const UsageRecord> records) {
  return WriteTokenLab(format, records);
}

}  // namespace music::adapters::tokenlab
