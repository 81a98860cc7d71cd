#include "tools/provider-emulator/usage_writer.h"

#include <cstdint>
#include <cstdlib>
#include <map>
#include <utility>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/time/time.h"
#include "rapidjson/stringbuffer.h"
#include "rapidjson/writer.h"

namespace music::emulator {

const char* UsageKindName(UsageKind kind) {
  return kind == UsageKind::kCharge ? "CHARGE" : "REFUND";
}

std::string UsageRecordIdOf(const UsageRecord& r) {
  if (r.provider == "kie") {
    return absl::StrCat(r.provider_task_id, ":", r.endpoint, ":", UsageKindName(r.kind), ":",
                        absl::ToUnixMillis(r.time));
  }
  return absl::StrCat(r.provider_task_id, ":", UsageKindName(r.kind));
}

namespace {

using Json = rapidjson::Writer<rapidjson::StringBuffer>;

// Micros as the shortest exact decimal: 12000000 -> "12", 100000 -> "0.1", -50000 -> "-0.05".
std::string Decimal(int64_t micros) {
  const bool negative = micros < 0;
  const uint64_t v = negative ? 0 - static_cast<uint64_t>(micros) : static_cast<uint64_t>(micros);
  std::string out = absl::StrCat(negative ? "-" : "", v / 1'000'000);
  uint64_t fraction = v % 1'000'000;
  if (fraction == 0) return out;
  std::string digits = absl::StrCat(fraction + 1'000'000).substr(1);  // six digits, zero-padded
  while (digits.back() == '0') digits.pop_back();
  return absl::StrCat(out, ".", digits);
}

// RFC 3339 in UTC with only the fractional digits needed.
std::string Rfc3339(absl::Time t) {
  return absl::FormatTime("%Y-%m-%d%ET%H:%M:%E*SZ", t, absl::UTCTimeZone());
}

// One RFC 4180 cell: quoted when it holds a comma, a quote or a line break.
std::string CsvCell(absl::string_view cell) {
  if (cell.find_first_of(",\"\r\n") == absl::string_view::npos) return std::string(cell);
  std::string out = "\"";
  for (char c : cell) {
    if (c == '"') out += '"';
    out += c;
  }
  out += '"';
  return out;
}

void CsvLine(std::string& out, const std::vector<std::string>& cells) {
  std::vector<std::string> quoted;
  quoted.reserve(cells.size());
  for (const std::string& c : cells) quoted.push_back(CsvCell(c));
  absl::StrAppend(&out, absl::StrJoin(quoted, ","), "\n");
}

// A JSON line written by `fill` into a fresh object.
template <typename Fill>
void JsonLine(std::string& out, Fill fill) {
  rapidjson::StringBuffer buffer;
  Json w(buffer);
  w.StartObject();
  fill(w);
  w.EndObject();
  absl::StrAppend(&out, absl::string_view(buffer.GetString(), buffer.GetSize()), "\n");
}

void Str(Json& w, const char* key, absl::string_view value) {
  w.Key(key);
  w.String(value.data(), static_cast<rapidjson::SizeType>(value.size()));
}
// Left out when empty: an absent field (USAGE-FORMATS.md "Common rules").
void OptionalStr(Json& w, const char* key, absl::string_view value) {
  if (!value.empty()) Str(w, key, value);
}
// A JSON number from its exact text (a decimal amount or epoch milliseconds).
void Number(Json& w, const char* key, const std::string& text) {
  w.Key(key);
  w.RawValue(text.data(), text.size(), rapidjson::kNumberType);
}

absl::Status WrongCurrency(const UsageRecord& r, absl::string_view bills) {
  return absl::InvalidArgumentError(
      absl::StrCat(r.provider, " bills ", bills, " (task ", r.provider_task_id, ")"));
}

// kie.ai credit records: id (only when not the derived one), taskId, model, credits (negative for
// a refund), type, operationType, createTime (epoch ms).
absl::StatusOr<std::string> WriteKie(UsageLayout layout, const std::vector<UsageRecord>& records) {
  std::string out;
  if (layout == UsageLayout::kCsv) {
    out = "id,taskId,model,credits,type,operationType,createTime\n";
  }
  for (const UsageRecord& r : records) {
    if (r.currency != UsageCurrency::kCredits) return WrongCurrency(r, "credits");
    const bool refund = r.kind == UsageKind::kRefund;
    const std::string id = r.usage_record_id == UsageRecordIdOf(r) ? "" : r.usage_record_id;
    const std::string credits = Decimal(refund ? -r.amount_micros : r.amount_micros);
    const std::string type = refund ? "refund" : "charge";
    const std::string ms = absl::StrCat(absl::ToUnixMillis(r.time));
    if (layout == UsageLayout::kCsv) {
      CsvLine(out, {id, r.provider_task_id, r.model, credits, type, r.endpoint, ms});
      continue;
    }
    JsonLine(out, [&](Json& w) {
      OptionalStr(w, "id", id);
      Str(w, "taskId", r.provider_task_id);
      OptionalStr(w, "model", r.model);
      Number(w, "credits", credits);
      Str(w, "type", type);
      OptionalStr(w, "operationType", r.endpoint);
      Number(w, "createTime", ms);
    });
  }
  return out;
}

// TokenLab Management API usage records: id, billing_transaction_id, request_id, task_id, model,
// endpoint, type (charge/refund), amount (a decimal string), currency, created_at.
absl::StatusOr<std::string> WriteTokenlab(UsageLayout layout,
                                          const std::vector<UsageRecord>& records) {
  std::string out;
  if (layout == UsageLayout::kCsv) {
    out =
        "id,billing_transaction_id,request_id,task_id,model,endpoint,type,amount,currency,"
        "created_at\n";
  }
  for (const UsageRecord& r : records) {
    if (r.usage_record_id.empty()) {
      return absl::InvalidArgumentError(
          absl::StrCat("a TokenLab usage record has an id (task ", r.provider_task_id, ")"));
    }
    const std::string type = r.kind == UsageKind::kCharge ? "charge" : "refund";
    const std::string currency = r.currency == UsageCurrency::kUsd ? "USD" : "CREDITS";
    if (layout == UsageLayout::kCsv) {
      CsvLine(out, {r.usage_record_id, r.provider_billing_transaction_id, r.request_id,
                    r.provider_task_id, r.model, r.endpoint, type, Decimal(r.amount_micros),
                    currency, Rfc3339(r.time)});
      continue;
    }
    JsonLine(out, [&](Json& w) {
      Str(w, "id", r.usage_record_id);
      OptionalStr(w, "billing_transaction_id", r.provider_billing_transaction_id);
      OptionalStr(w, "request_id", r.request_id);
      OptionalStr(w, "task_id", r.provider_task_id);
      OptionalStr(w, "model", r.model);
      OptionalStr(w, "endpoint", r.endpoint);
      Str(w, "type", type);
      Str(w, "amount", Decimal(r.amount_micros));
      Str(w, "currency", currency);
      Str(w, "created_at", Rfc3339(r.time));
    });
  }
  return out;
}

// PiAPI Get Task `data` objects: task_id, model, task_type, meta {ended_at, usage {type, frozen,
// consume}}; one charge per task, in USD (PiAPI reports no refunds).
absl::StatusOr<std::string> WritePiapi(UsageLayout layout,
                                       const std::vector<UsageRecord>& records) {
  std::string out;
  if (layout == UsageLayout::kCsv) out = "task_id,model,usage_type,frozen,consume,ended_at\n";
  for (const UsageRecord& r : records) {
    if (r.kind != UsageKind::kCharge) {
      return absl::InvalidArgumentError(
          absl::StrCat("PiAPI reports no refunds (task ", r.provider_task_id, ")"));
    }
    if (r.currency != UsageCurrency::kUsd) return WrongCurrency(r, "USD");
    const std::string consume = Decimal(r.amount_micros);
    if (layout == UsageLayout::kCsv) {
      CsvLine(out, {r.provider_task_id, r.model, "usd", consume, consume, Rfc3339(r.time)});
      continue;
    }
    JsonLine(out, [&](Json& w) {
      Str(w, "task_id", r.provider_task_id);
      OptionalStr(w, "model", r.model);
      Str(w, "task_type", "generate_music");
      w.Key("meta");
      w.StartObject();
      Str(w, "ended_at", Rfc3339(r.time));
      w.Key("usage");
      w.StartObject();
      Str(w, "type", "usd");
      Number(w, "frozen", consume);
      Number(w, "consume", consume);
      w.EndObject();
      w.EndObject();
    });
  }
  return out;
}

// beatra task envelopes: task_id, model, billing {charged_credits, refunded_credits, currency},
// completed_at; a task's charge and refund fold into one line, in the order tasks first appear.
absl::StatusOr<std::string> WriteBeatra(UsageLayout layout,
                                        const std::vector<UsageRecord>& records) {
  struct Envelope {
    const UsageRecord* charge = nullptr;
    const UsageRecord* refund = nullptr;
  };
  std::vector<std::string> order;
  std::map<std::string, Envelope> tasks;
  for (const UsageRecord& r : records) {
    if (r.currency != UsageCurrency::kCredits) return WrongCurrency(r, "credits");
    auto [it, inserted] = tasks.try_emplace(r.provider_task_id);
    if (inserted) order.push_back(r.provider_task_id);
    const UsageRecord*& slot = r.kind == UsageKind::kCharge ? it->second.charge : it->second.refund;
    if (slot != nullptr) {
      return absl::InvalidArgumentError(absl::StrCat("beatra task ", r.provider_task_id,
                                                     " has two ", UsageKindName(r.kind),
                                                     " records; its envelope holds one"));
    }
    slot = &r;
  }
  std::string out;
  if (layout == UsageLayout::kCsv) {
    out = "task_id,model,charged_credits,refunded_credits,currency,completed_at\n";
  }
  for (const std::string& task_id : order) {
    const Envelope& e = tasks.at(task_id);
    const UsageRecord& first = e.charge != nullptr ? *e.charge : *e.refund;
    const std::string charged = Decimal(e.charge != nullptr ? e.charge->amount_micros : 0);
    const std::string refunded = Decimal(e.refund != nullptr ? e.refund->amount_micros : 0);
    const std::string time = Rfc3339(first.time);
    if (layout == UsageLayout::kCsv) {
      CsvLine(out, {task_id, first.model, charged, refunded, "credits", time});
      continue;
    }
    JsonLine(out, [&](Json& w) {
      Str(w, "task_id", task_id);
      OptionalStr(w, "model", first.model);
      w.Key("billing");
      w.StartObject();
      Number(w, "charged_credits", charged);
      Number(w, "refunded_credits", refunded);
      Str(w, "currency", "credits");
      w.EndObject();
      Str(w, "completed_at", time);
    });
  }
  return out;
}

}  // namespace

bool HasUsageExport(absl::string_view provider) {
  return provider == "kie" || provider == "piapi" || provider == "tokenlab" ||
         provider == "beatra";
}

absl::StatusOr<std::string> WriteUsageExport(absl::string_view provider, UsageLayout layout,
                                             const std::vector<UsageRecord>& records) {
  if (provider == "kie") return WriteKie(layout, records);
  if (provider == "tokenlab") return WriteTokenlab(layout, records);
  if (provider == "piapi") return WritePiapi(layout, records);
  if (provider == "beatra") return WriteBeatra(layout, records);
  return absl::NotFoundError(absl::StrCat("no usage export for provider ", provider));
}

}  // namespace music::emulator
