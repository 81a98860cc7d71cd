#include "service/billing/usage_format.h"

#include <algorithm>
#include <optional>
#include <utility>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "rapidjson/document.h"
#include "rapidjson/error/en.h"
#include "rapidjson/stringbuffer.h"
#include "rapidjson/writer.h"
#include "domain/money.h"

namespace music::billing {
namespace {

// ---------------------------------------------------------------------------------------------
// Reading: one record's fields, from a JSON object or a CSV row, behind one interface so that each
// provider's rules are written once.

// One CSV record: its first physical line and its fields.
struct CsvRow {
  int line = 0;
  std::vector<std::string> fields;
};

// RFC 4180: fields separated by commas, records by CRLF or LF; a quoted field may hold commas,
// line breaks and doubled quotes. Blank lines are skipped.
absl::StatusOr<std::vector<CsvRow>> ReadCsv(absl::string_view in, absl::string_view source) {
  std::vector<CsvRow> rows;
  size_t i = 0;
  int line = 1;
  while (i < in.size()) {
    if (in[i] == '\n' || in[i] == '\r') {  // blank line
      if (in[i] == '\n') ++line;
      ++i;
      continue;
    }
    CsvRow row;
    row.line = line;
    std::string field;
    bool done = false;
    while (!done) {
      field.clear();
      if (i < in.size() && in[i] == '"') {
        ++i;
        for (;;) {
          if (i >= in.size()) {
            return absl::InvalidArgumentError(
                absl::StrCat(source, ":", row.line, ": unterminated quoted field"));
          }
          const char c = in[i++];
          if (c == '"') {
            if (i < in.size() && in[i] == '"') {
              field.push_back('"');
              ++i;
              continue;
            }
            break;
          }
          if (c == '\n') ++line;
          field.push_back(c);
        }
        if (i < in.size() && in[i] != ',' && in[i] != '\n' && in[i] != '\r') {
          return absl::InvalidArgumentError(
              absl::StrCat(source, ":", line, ": text after a closing quote"));
        }
      } else {
        while (i < in.size() && in[i] != ',' && in[i] != '\n' && in[i] != '\r') {
          if (in[i] == '"') {
            return absl::InvalidArgumentError(
                absl::StrCat(source, ":", line, ": quote inside an unquoted field"));
          }
          field.push_back(in[i++]);
        }
      }
      row.fields.push_back(field);
      if (i >= in.size()) {
        done = true;
      } else if (in[i] == ',') {
        ++i;
      } else {  // end of record
        if (in[i] == '\r') ++i;
        if (i < in.size() && in[i] == '\n') ++i;
        ++line;
        done = true;
      }
    }
    rows.push_back(std::move(row));
  }
  return rows;
}

// A field spec: its JSON path (dotted) and its CSV column.
struct Field {
  absl::string_view json;
  absl::string_view csv;
};

class Fields {
 public:
  Fields(absl::string_view source, int line, const rapidjson::Value* json)
      : source_(source), line_(line), json_(json) {}
  Fields(absl::string_view source, int line, const std::vector<std::string>* row,
         const absl::flat_hash_map<std::string, size_t>* header)
      : source_(source), line_(line), row_(row), header_(header) {}

  int line() const { return line_; }

  // The JSON object member `name` as a record of its own (kept in `storage`); null when this is
  // CSV or the member is not an object.
  const Fields* JsonChild(absl::string_view name, std::optional<Fields>* storage) const {
    if (json_ == nullptr) return nullptr;
    auto m = json_->FindMember(rapidjson::Value(rapidjson::StringRef(name.data(), name.size())));
    if (m == json_->MemberEnd() || !m->value.IsObject()) return nullptr;
    storage->emplace(source_, line_, &m->value);
    return &**storage;
  }
  bool is_json() const { return json_ != nullptr; }

  absl::Status Error(const Field& f, absl::string_view why) const {
    return absl::InvalidArgumentError(
        absl::StrCat(source_, ":", line_, ": field `", is_json() ? f.json : f.csv, "`: ", why));
  }

  // The field's text; nullopt when absent, null or empty.
  absl::StatusOr<std::optional<absl::string_view>> Optional(const Field& f) const {
    if (json_ == nullptr) {
      auto it = header_->find(f.csv);
      if (it == header_->end() || it->second >= row_->size()) return std::nullopt;
      absl::string_view v = (*row_)[it->second];
      if (v.empty()) return std::nullopt;
      return v;
    }
    const rapidjson::Value* v = json_;
    for (absl::string_view part : absl::StrSplit(f.json, '.')) {
      if (!v->IsObject()) return std::nullopt;
      auto m = v->FindMember(rapidjson::Value(rapidjson::StringRef(part.data(), part.size())));
      if (m == v->MemberEnd()) return std::nullopt;
      v = &m->value;
    }
    if (v->IsNull()) return std::nullopt;
    // Numbers arrive as strings (kParseNumbersAsStringsFlag), so amounts keep their exact text.
    if (v->IsString()) {
      if (v->GetStringLength() == 0) return std::nullopt;
      return absl::string_view(v->GetString(), v->GetStringLength());
    }
    if (v->IsBool()) return v->GetBool() ? absl::string_view("true") : absl::string_view("false");
    return Error(f, "expected a string or a number");
  }

  absl::StatusOr<absl::string_view> Required(const Field& f) const {
    absl::StatusOr<std::optional<absl::string_view>> v = Optional(f);
    if (!v.ok()) return v.status();
    if (!v->has_value()) return Error(f, "missing");
    return **v;
  }

  std::string OptionalString(const Field& f, absl::Status& st) const {
    absl::StatusOr<std::optional<absl::string_view>> v = Optional(f);
    if (!v.ok()) {
      if (st.ok()) st = v.status();
      return "";
    }
    return v->has_value() ? std::string(**v) : std::string();
  }

  // A decimal amount in micros; `allow_negative` for kie.ai's signed credits.
  absl::StatusOr<int64_t> Amount(const Field& f, bool required, bool allow_negative) const {
    absl::StatusOr<std::optional<absl::string_view>> v = Optional(f);
    if (!v.ok()) return v.status();
    if (!v->has_value()) {
      if (required) return Error(f, "missing");
      return 0;
    }
    absl::StatusOr<int64_t> micros = ParseDecimalMicros(**v);
    if (!micros.ok()) return Error(f, micros.status().message());
    if (!allow_negative && *micros < 0) return Error(f, "must not be negative");
    return *micros;
  }

  absl::StatusOr<absl::Time> Time(const Field& f) const {
    absl::StatusOr<absl::string_view> v = Required(f);
    if (!v.ok()) return v.status();
    absl::StatusOr<absl::Time> t = ParseRfc3339(*v);
    if (!t.ok()) return Error(f, t.status().message());
    return *t;
  }

  absl::StatusOr<Currency> CurrencyOr(const Field& f, Currency def) const {
    absl::StatusOr<std::optional<absl::string_view>> v = Optional(f);
    if (!v.ok()) return v.status();
    if (!v->has_value()) return def;
    std::optional<Currency> c = ParseCurrency(**v);
    if (!c) return Error(f, absl::StrCat("unknown currency \"", **v, "\""));
    return *c;
  }

 private:
  absl::string_view source_;
  int line_;
  const rapidjson::Value* json_ = nullptr;
  const std::vector<std::string>* row_ = nullptr;
  const absl::flat_hash_map<std::string, size_t>* header_ = nullptr;
};

// Calls `fn(Fields&)` for every record of `content`; stops at the first error.
template <typename Fn>
absl::Status ForEachRecord(FileFormat format, absl::string_view content, absl::string_view source,
                           absl::Span<const absl::string_view> required_columns, Fn fn) {
  if (format == FileFormat::kJsonl) {
    int line_no = 0;
    // One pool for every line, emptied before each: a Document reused as is would keep every
    // line's strings until the end of the file.
    char value_buffer[16384];
    char parse_buffer[4096];
    rapidjson::MemoryPoolAllocator<> value_pool(value_buffer, sizeof(value_buffer));
    rapidjson::MemoryPoolAllocator<> parse_pool(parse_buffer, sizeof(parse_buffer));
    using Document = rapidjson::GenericDocument<rapidjson::UTF8<>, rapidjson::MemoryPoolAllocator<>,
                                                rapidjson::MemoryPoolAllocator<>>;
    for (absl::string_view line : absl::StrSplit(content, '\n')) {
      ++line_no;
      line = absl::StripAsciiWhitespace(line);
      if (line.empty()) continue;
      value_pool.Clear();
      parse_pool.Clear();
      Document doc(&value_pool, sizeof(parse_buffer), &parse_pool);
      doc.Parse<rapidjson::kParseNumbersAsStringsFlag>(line.data(), line.size());
      if (doc.HasParseError()) {
        return absl::InvalidArgumentError(absl::StrCat(
            source, ":", line_no, ": not JSON: ", rapidjson::GetParseError_En(doc.GetParseError()),
            " at offset ", doc.GetErrorOffset()));
      }
      if (!doc.IsObject()) {
        return absl::InvalidArgumentError(
            absl::StrCat(source, ":", line_no, ": not a JSON object"));
      }
      Fields fields(source, line_no, &doc);
      if (absl::Status st = fn(fields); !st.ok()) return st;
    }
    return absl::OkStatus();
  }
  absl::StatusOr<std::vector<CsvRow>> rows = ReadCsv(content, source);
  if (!rows.ok()) return rows.status();
  if (rows->empty()) return absl::OkStatus();  // an empty file holds no records
  absl::flat_hash_map<std::string, size_t> header;
  const CsvRow& head = rows->front();
  for (size_t c = 0; c < head.fields.size(); ++c) {
    header.emplace(absl::StripAsciiWhitespace(head.fields[c]), c);
  }
  for (absl::string_view col : required_columns) {
    if (!header.contains(col)) {
      return absl::InvalidArgumentError(
          absl::StrCat(source, ":", head.line, ": header has no column `", col, "`"));
    }
  }
  for (size_t r = 1; r < rows->size(); ++r) {
    const CsvRow& row = (*rows)[r];
    if (row.fields.size() != head.fields.size()) {
      return absl::InvalidArgumentError(absl::StrCat(source, ":", row.line, ": ", row.fields.size(),
                                                     " fields, the header has ",
                                                     head.fields.size()));
    }
    Fields fields(source, row.line, &row.fields, &header);
    if (absl::Status st = fn(fields); !st.ok()) return st;
  }
  return absl::OkStatus();
}

#define BILLING_ASSIGN_OR_RETURN(lhs, expr)     \
  auto lhs##_or = (expr);                       \
  if (!lhs##_or.ok()) return lhs##_or.status(); \
  auto lhs = *std::move(lhs##_or)

// ---------------------------------------------------------------------------------------------
// TokenLab usage records (seeds 000/001, "Use Management API usage records for reconciliation").

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
  r.provider = std::string(kProviderTokenLab);
  BILLING_ASSIGN_OR_RETURN(id, f.Required(kTlId));
  r.usage_record_id = std::string(id);
  absl::Status st;
  r.provider_billing_transaction_id = f.OptionalString(kTlBtx, st);
  r.request_id = f.OptionalString(kTlRequest, st);
  r.provider_task_id = f.OptionalString(kTlTask, st);
  r.model = f.OptionalString(kTlModel, st);
  r.endpoint = f.OptionalString(kTlEndpoint, st);
  if (!st.ok()) return st;
  BILLING_ASSIGN_OR_RETURN(type, f.Required(kTlType));
  std::optional<UsageKind> kind = ParseUsageKind(type);
  if (!kind) return f.Error(kTlType, absl::StrCat("expected charge or refund, got \"", type, "\""));
  r.kind = *kind;
  BILLING_ASSIGN_OR_RETURN(amount, f.Amount(kTlAmount, /*required=*/true, false));
  r.amount_micros = amount;
  BILLING_ASSIGN_OR_RETURN(currency, f.CurrencyOr(kTlCurrency, Currency::kUsd));
  r.currency = currency;
  BILLING_ASSIGN_OR_RETURN(time, f.Time(kTlCreated));
  r.time = time;
  out.push_back(std::move(r));
  return absl::OkStatus();
}

// ---------------------------------------------------------------------------------------------
// beatra task billing (seed 002 + CONTRACT-NOTES): one task envelope per line.

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
  r.provider = std::string(kProviderBeatra);
  BILLING_ASSIGN_OR_RETURN(task, f.Required(kBtTask));
  r.provider_task_id = std::string(task);
  absl::Status st;
  r.model = f.OptionalString(kBtModel, st);
  if (!st.ok()) return st;
  BILLING_ASSIGN_OR_RETURN(charged, f.Amount(kBtCharged, /*required=*/true, false));
  BILLING_ASSIGN_OR_RETURN(refunded, f.Amount(kBtRefunded, /*required=*/false, false));
  BILLING_ASSIGN_OR_RETURN(currency, f.CurrencyOr(kBtCurrency, Currency::kCredits));
  r.currency = currency;
  BILLING_ASSIGN_OR_RETURN(time, f.Time(kBtCompleted));
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

// ---------------------------------------------------------------------------------------------
// PiAPI Get Task data (seed 003): `meta.usage {type, frozen, consume}`, consume in USD.

constexpr Field kPiTask{"task_id", "task_id"};
constexpr Field kPiModel{"model", "model"};
constexpr Field kPiConsume{"meta.usage.consume", "consume"};
constexpr Field kPiFrozen{"meta.usage.frozen", "frozen"};
constexpr Field kPiEnded{"meta.ended_at", "ended_at"};
constexpr absl::string_view kPiColumns[] = {"task_id", "model",   "usage_type",
                                            "frozen",  "consume", "ended_at"};

absl::Status ParsePiapi(const Fields& f, std::vector<UsageRecord>& out) {
  UsageRecord r;
  r.provider = std::string(kProviderPiapi);
  BILLING_ASSIGN_OR_RETURN(task, f.Required(kPiTask));
  r.provider_task_id = std::string(task);
  absl::Status st;
  r.model = f.OptionalString(kPiModel, st);
  if (!st.ok()) return st;
  // `frozen` is the hold, not money spent: validated, not recorded.
  BILLING_ASSIGN_OR_RETURN(frozen, f.Amount(kPiFrozen, /*required=*/false, false));
  (void)frozen;
  // A failed task reports consume 0 (CONTRACT-NOTES: error 10000): a zero charge, so the task
  // still shows as reported.
  BILLING_ASSIGN_OR_RETURN(consume, f.Amount(kPiConsume, /*required=*/true, false));
  r.kind = UsageKind::kCharge;
  r.amount_micros = consume;
  r.currency = Currency::kUsd;
  BILLING_ASSIGN_OR_RETURN(time, f.Time(kPiEnded));
  r.time = time;
  r.usage_record_id = DeriveUsageRecordId(r);
  out.push_back(std::move(r));
  return absl::OkStatus();
}

// ---------------------------------------------------------------------------------------------
// kie.ai credit records (seed 004): credits consumed per task and operation.

constexpr Field kKieId{"id", "id"};
constexpr Field kKieTask{"taskId", "taskId"};
constexpr Field kKieModel{"model", "model"};
constexpr Field kKieCredits{"credits", "credits"};
constexpr Field kKieType{"type", "type"};
constexpr Field kKieOperation{"operationType", "operationType"};
constexpr Field kKieCreate{"createTime", "createTime"};
constexpr absl::string_view kKieColumns[] = {"taskId", "credits", "createTime"};

absl::StatusOr<absl::Time> KieTime(const Fields& f) {
  BILLING_ASSIGN_OR_RETURN(v, f.Required(kKieCreate));
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
  r.provider = std::string(kProviderKie);
  BILLING_ASSIGN_OR_RETURN(task, f.Required(kKieTask));
  r.provider_task_id = std::string(task);
  absl::Status st;
  r.model = f.OptionalString(kKieModel, st);
  r.endpoint = f.OptionalString(kKieOperation, st);  // generate, extend, upload_cover, ...
  std::string id = f.OptionalString(kKieId, st);
  std::string type = f.OptionalString(kKieType, st);
  if (!st.ok()) return st;
  BILLING_ASSIGN_OR_RETURN(credits, f.Amount(kKieCredits, /*required=*/true, true));
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
  BILLING_ASSIGN_OR_RETURN(time, KieTime(f));
  r.time = time;
  r.usage_record_id = id.empty() ? DeriveUsageRecordId(r, r.endpoint) : std::move(id);
  out.push_back(std::move(r));
  return absl::OkStatus();
}

// ---------------------------------------------------------------------------------------------
// The service ledger.

constexpr Field kLgId{"billing_transaction_id", "billing_transaction_id"};
constexpr Field kLgTenant{"tenant", "tenant"};
constexpr Field kLgTask{"task_id", "task_id"};
constexpr Field kLgRequest{"request_id", "request_id"};
constexpr Field kLgProvider{"provider", "provider"};
constexpr Field kLgProviderTask{"provider_task_id", "provider_task_id"};
constexpr Field kLgProviderBtx{"provider_billing_transaction_id",
                               "provider_billing_transaction_id"};
constexpr Field kLgModel{"model", "model"};
constexpr Field kLgProviderModel{"provider_model", "provider_model"};
constexpr Field kLgEndpoint{"endpoint", "endpoint"};
constexpr Field kLgKind{"kind", "kind"};
constexpr Field kLgAmount{"amount", "amount"};
constexpr Field kLgCurrency{"currency", "currency"};
constexpr Field kLgTime{"time", "time"};
constexpr absl::string_view kLgColumns[] = {"billing_transaction_id",
                                            "tenant",
                                            "task_id",
                                            "request_id",
                                            "provider",
                                            "provider_task_id",
                                            "provider_billing_transaction_id",
                                            "model",
                                            "provider_model",
                                            "endpoint",
                                            "kind",
                                            "amount",
                                            "currency",
                                            "time"};
constexpr absl::string_view kLgRequiredColumns[] = {
    "billing_transaction_id", "task_id", "provider", "kind", "amount", "currency", "time"};

absl::Status ParseLedgerRow(const Fields& f, std::vector<BillingTransaction>& out) {
  BillingTransaction t;
  BILLING_ASSIGN_OR_RETURN(id, f.Required(kLgId));
  t.billing_transaction_id = std::string(id);
  BILLING_ASSIGN_OR_RETURN(task, f.Required(kLgTask));
  t.task_id = std::string(task);
  BILLING_ASSIGN_OR_RETURN(provider, f.Required(kLgProvider));
  t.provider = std::string(provider);
  absl::Status st;
  t.tenant = f.OptionalString(kLgTenant, st);
  t.request_id = f.OptionalString(kLgRequest, st);
  t.provider_task_id = f.OptionalString(kLgProviderTask, st);
  t.provider_billing_transaction_id = f.OptionalString(kLgProviderBtx, st);
  t.model = f.OptionalString(kLgModel, st);
  t.provider_model = f.OptionalString(kLgProviderModel, st);
  t.endpoint = f.OptionalString(kLgEndpoint, st);
  if (!st.ok()) return st;
  BILLING_ASSIGN_OR_RETURN(kind_text, f.Required(kLgKind));
  std::optional<TransactionKind> kind = ParseTransactionKind(kind_text);
  if (!kind) {
    return f.Error(kLgKind,
                   absl::StrCat("expected RESERVE, SETTLE or REFUND, got \"", kind_text, "\""));
  }
  t.kind = *kind;
  BILLING_ASSIGN_OR_RETURN(amount, f.Amount(kLgAmount, /*required=*/true, false));
  t.amount_micros = amount;
  BILLING_ASSIGN_OR_RETURN(currency_text, f.Required(kLgCurrency));
  std::optional<Currency> currency = ParseCurrency(currency_text);
  if (!currency) {
    return f.Error(kLgCurrency, absl::StrCat("unknown currency \"", currency_text, "\""));
  }
  t.currency = *currency;
  BILLING_ASSIGN_OR_RETURN(time, f.Time(kLgTime));
  t.time = time;
  out.push_back(std::move(t));
  return absl::OkStatus();
}

// ---------------------------------------------------------------------------------------------
// Writing: one record at a time into either a JSON object or a CSV row.

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

void AppendCsvRow(std::string& out, absl::Span<const std::string> fields) {
  for (size_t i = 0; i < fields.size(); ++i) {
    if (i > 0) out.push_back(',');
    AppendCsvField(out, fields[i]);
  }
  out.push_back('\n');
}

void AppendCsvHeader(std::string& out, absl::Span<const absl::string_view> columns) {
  for (size_t i = 0; i < columns.size(); ++i) {
    if (i > 0) out.push_back(',');
    out.append(columns[i].data(), columns[i].size());
  }
  out.push_back('\n');
}

using JsonWriter = rapidjson::Writer<rapidjson::StringBuffer>;

void Key(JsonWriter& w, absl::string_view k) { w.Key(k.data(), k.size()); }
void Str(JsonWriter& w, absl::string_view k, absl::string_view v) {
  Key(w, k);
  w.String(v.data(), v.size());
}
void Number(JsonWriter& w, absl::string_view k, absl::string_view raw) {
  Key(w, k);
  w.RawValue(raw.data(), raw.size(), rapidjson::kNumberType);
}
// Optional string fields are left out when empty, which the parser reads back as empty.
void OptStr(JsonWriter& w, absl::string_view k, absl::string_view v) {
  if (!v.empty()) Str(w, k, v);
}

void EndJsonLine(rapidjson::StringBuffer& buf, JsonWriter& w, std::string& out) {
  out.append(buf.GetString(), buf.GetSize());
  out.push_back('\n');
  buf.Clear();
  w.Reset(buf);
}

std::string Lower(absl::string_view s) { return absl::AsciiStrToLower(s); }

absl::Status CheckWritable(absl::string_view provider, const UsageRecord& r) {
  if (r.provider != provider) {
    return absl::InvalidArgumentError(absl::StrCat("record ", r.usage_record_id,
                                                   " is of provider \"", r.provider, "\", not \"",
                                                   provider, "\""));
  }
  if (r.amount_micros < 0) {
    return absl::InvalidArgumentError(
        absl::StrCat("record ", r.usage_record_id, ": negative amount"));
  }
  return absl::OkStatus();
}

absl::StatusOr<std::string> WriteTokenLab(FileFormat format, absl::Span<const UsageRecord> rs) {
  std::string out;
  rapidjson::StringBuffer buf;
  JsonWriter w(buf);
  if (format == FileFormat::kCsv) AppendCsvHeader(out, kTlColumns);
  for (const UsageRecord& r : rs) {
    if (absl::Status st = CheckWritable(kProviderTokenLab, r); !st.ok()) return st;
    if (r.usage_record_id.empty()) {
      return absl::InvalidArgumentError("a TokenLab usage record needs its id");
    }
    const std::string type = Lower(UsageKindName(r.kind));
    const std::string amount = FormatMicros(r.amount_micros);
    const std::string time = FormatRfc3339(r.time);
    if (format == FileFormat::kCsv) {
      AppendCsvRow(out, {r.usage_record_id, r.provider_billing_transaction_id, r.request_id,
                         r.provider_task_id, r.model, r.endpoint, type, amount,
                         std::string(CurrencyName(r.currency)), time});
      continue;
    }
    w.StartObject();
    Str(w, "id", r.usage_record_id);
    OptStr(w, "billing_transaction_id", r.provider_billing_transaction_id);
    OptStr(w, "request_id", r.request_id);
    OptStr(w, "task_id", r.provider_task_id);
    OptStr(w, "model", r.model);
    OptStr(w, "endpoint", r.endpoint);
    Str(w, "type", type);
    Str(w, "amount", amount);  // a decimal string, as TokenLab gives it
    Str(w, "currency", CurrencyName(r.currency));
    Str(w, "created_at", time);
    w.EndObject();
    EndJsonLine(buf, w, out);
  }
  return out;
}

// beatra and PiAPI: one line per task. Groups records by task in first-seen order.
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
      if (absl::Status st = CheckWritable(kProviderBeatra, *r); !st.ok()) return st;
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
    const std::string currency = Lower(CurrencyName(first.currency));
    const std::string time = FormatRfc3339(first.time);
    if (format == FileFormat::kCsv) {
      AppendCsvRow(out, {first.provider_task_id, first.model, charged, refunded, currency, time});
      continue;
    }
    w.StartObject();
    Str(w, "task_id", first.provider_task_id);
    OptStr(w, "model", first.model);
    Key(w, "billing");
    w.StartObject();
    Number(w, "charged_credits", charged);
    Number(w, "refunded_credits", refunded);
    Str(w, "currency", currency);
    w.EndObject();
    Str(w, "completed_at", time);
    w.EndObject();
    EndJsonLine(buf, w, out);
  }
  return out;
}

absl::StatusOr<std::string> WritePiapi(FileFormat format, absl::Span<const UsageRecord> rs) {
  std::string out;
  rapidjson::StringBuffer buf;
  JsonWriter w(buf);
  if (format == FileFormat::kCsv) AppendCsvHeader(out, kPiColumns);
  for (const UsageRecord& r : rs) {
    if (absl::Status st = CheckWritable(kProviderPiapi, r); !st.ok()) return st;
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
    Str(w, "task_id", r.provider_task_id);
    OptStr(w, "model", r.model);
    Str(w, "task_type", "generate_music");
    Key(w, "meta");
    w.StartObject();
    Str(w, "ended_at", time);
    Key(w, "usage");
    w.StartObject();
    Str(w, "type", "usd");
    Number(w, "frozen", consume);
    Number(w, "consume", consume);
    w.EndObject();
    w.EndObject();
    w.EndObject();
    EndJsonLine(buf, w, out);
  }
  return out;
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
    if (absl::Status st = CheckWritable(kProviderKie, r); !st.ok()) return st;
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
    OptStr(w, "id", id);
    Str(w, "taskId", r.provider_task_id);
    OptStr(w, "model", r.model);
    Number(w, "credits", credits);
    Str(w, "type", type);
    OptStr(w, "operationType", r.endpoint);
    Number(w, "createTime", ms);
    w.EndObject();
    EndJsonLine(buf, w, out);
  }
  return out;
}

}  // namespace

bool IsKnownProvider(absl::string_view p) {
  return p == kProviderTokenLab || p == kProviderBeatra || p == kProviderPiapi || p == kProviderKie;
}

absl::StatusOr<FileFormat> FileFormatFromPath(absl::string_view path) {
  const std::string lower = absl::AsciiStrToLower(path);
  if (absl::EndsWith(lower, ".jsonl") || absl::EndsWith(lower, ".ndjson") ||
      absl::EndsWith(lower, ".json")) {
    return FileFormat::kJsonl;
  }
  if (absl::EndsWith(lower, ".csv")) return FileFormat::kCsv;
  return absl::InvalidArgumentError(
      absl::StrCat("cannot tell the format of \"", path, "\": name it .jsonl or .csv"));
}

std::string DeriveUsageRecordId(const UsageRecord& r, absl::string_view operation_type) {
  if (r.provider == kProviderKie) {
    return absl::StrCat(r.provider_task_id, ":", operation_type, ":", UsageKindName(r.kind), ":",
                        absl::ToUnixMillis(r.time));
  }
  return absl::StrCat(r.provider_task_id, ":", UsageKindName(r.kind));
}

absl::StatusOr<std::vector<UsageRecord>> ParseUsage(absl::string_view provider, FileFormat format,
                                                    absl::string_view content,
                                                    absl::string_view source) {
  std::vector<UsageRecord> out;
  absl::Status st;
  if (provider == kProviderTokenLab) {
    constexpr absl::string_view kRequired[] = {"id", "type", "amount", "created_at"};
    st = ForEachRecord(format, content, source, kRequired,
                       [&](const Fields& f) { return ParseTokenLab(f, out); });
  } else if (provider == kProviderBeatra) {
    constexpr absl::string_view kRequired[] = {"task_id", "charged_credits", "completed_at"};
    st = ForEachRecord(format, content, source, kRequired,
                       [&](const Fields& f) { return ParseBeatra(f, out); });
  } else if (provider == kProviderPiapi) {
    constexpr absl::string_view kRequired[] = {"task_id", "consume", "ended_at"};
    std::optional<Fields> storage;
    st = ForEachRecord(format, content, source, kRequired, [&](const Fields& f) -> absl::Status {
      // Accept the whole Get Task answer ({"code": 200, "data": {...}}) as well as its data.
      if (const Fields* data = f.JsonChild("data", &storage); data != nullptr) {
        return ParsePiapi(*data, out);
      }
      return ParsePiapi(f, out);
    });
  } else if (provider == kProviderKie) {
    st = ForEachRecord(format, content, source, kKieColumns,
                       [&](const Fields& f) { return ParseKie(f, out); });
  } else {
    return absl::InvalidArgumentError(absl::StrCat("unknown provider \"", provider,
                                                   "\" (expected tokenlab, beatra, piapi or kie)"));
  }
  if (!st.ok()) return st;
  return out;
}

absl::StatusOr<std::string> WriteUsage(absl::string_view provider, FileFormat format,
                                       absl::Span<const UsageRecord> records) {
  if (provider == kProviderTokenLab) return WriteTokenLab(format, records);
  if (provider == kProviderBeatra) return WriteBeatra(format, records);
  if (provider == kProviderPiapi) return WritePiapi(format, records);
  if (provider == kProviderKie) return WriteKie(format, records);
  return absl::InvalidArgumentError(absl::StrCat("unknown provider \"", provider, "\""));
}

absl::StatusOr<std::vector<BillingTransaction>> ParseLedger(FileFormat format,
                                                            absl::string_view content,
                                                            absl::string_view source) {
  std::vector<BillingTransaction> out;
  absl::Status st = ForEachRecord(format, content, source, kLgRequiredColumns,
                                  [&](const Fields& f) { return ParseLedgerRow(f, out); });
  if (!st.ok()) return st;
  return out;
}

std::string WriteLedger(FileFormat format, absl::Span<const BillingTransaction> rows) {
  std::string out;
  rapidjson::StringBuffer buf;
  JsonWriter w(buf);
  if (format == FileFormat::kCsv) AppendCsvHeader(out, kLgColumns);
  for (const BillingTransaction& t : rows) {
    const std::string amount = FormatMicros(t.amount_micros);
    const std::string time = FormatRfc3339(t.time);
    if (format == FileFormat::kCsv) {
      AppendCsvRow(out, {t.billing_transaction_id, t.tenant, t.task_id, t.request_id, t.provider,
                         t.provider_task_id, t.provider_billing_transaction_id, t.model,
                         t.provider_model, t.endpoint, std::string(TransactionKindName(t.kind)),
                         amount, std::string(CurrencyName(t.currency)), time});
      continue;
    }
    w.StartObject();
    Str(w, "billing_transaction_id", t.billing_transaction_id);
    OptStr(w, "tenant", t.tenant);
    Str(w, "task_id", t.task_id);
    OptStr(w, "request_id", t.request_id);
    Str(w, "provider", t.provider);
    OptStr(w, "provider_task_id", t.provider_task_id);
    OptStr(w, "provider_billing_transaction_id", t.provider_billing_transaction_id);
    OptStr(w, "model", t.model);
    OptStr(w, "provider_model", t.provider_model);
    OptStr(w, "endpoint", t.endpoint);
    Str(w, "kind", TransactionKindName(t.kind));
    Str(w, "amount", amount);
    Str(w, "currency", CurrencyName(t.currency));
    Str(w, "time", time);
    w.EndObject();
    EndJsonLine(buf, w, out);
  }
  return out;
}

bool SameRecord(const UsageRecord& a, const UsageRecord& b) {
  return a.provider == b.provider && a.usage_record_id == b.usage_record_id &&
         a.provider_task_id == b.provider_task_id &&
         a.provider_billing_transaction_id == b.provider_billing_transaction_id &&
         a.request_id == b.request_id && a.model == b.model && a.endpoint == b.endpoint &&
         a.kind == b.kind && a.amount_micros == b.amount_micros && a.currency == b.currency &&
         a.time == b.time;
}

bool SameRow(const BillingTransaction& a, const BillingTransaction& b) {
  return a.billing_transaction_id == b.billing_transaction_id && a.tenant == b.tenant &&
         a.task_id == b.task_id && a.request_id == b.request_id && a.provider == b.provider &&
         a.provider_task_id == b.provider_task_id &&
         a.provider_billing_transaction_id == b.provider_billing_transaction_id &&
         a.model == b.model && a.provider_model == b.provider_model && a.endpoint == b.endpoint &&
         a.kind == b.kind && a.amount_micros == b.amount_micros && a.currency == b.currency &&
         a.time == b.time;
}

namespace {

// Appends the parsed records to `rows`, skipping those whose key is already there. The parsed
// vector becomes the storage when `rows` is empty (the usual first import), so a large file is
// held once, not twice; otherwise its records are moved over. Kept records are compacted in place.
template <typename T, typename KeyFn, typename SameFn>
ImportStats AppendUnique(std::vector<T>& rows, absl::flat_hash_map<std::string, size_t>& index,
                         std::vector<T>&& parsed, KeyFn key, SameFn same) {
  ImportStats stats;
  stats.records = static_cast<int64_t>(parsed.size());
  const size_t start = rows.size();
  if (start == 0) {
    rows.swap(parsed);
  } else {
    rows.reserve(start + parsed.size());
    for (T& r : parsed) rows.push_back(std::move(r));
  }
  std::vector<T>().swap(parsed);
  index.reserve(rows.size());
  size_t kept = start;
  for (size_t i = start; i < rows.size(); ++i) {
    auto [it, inserted] = index.emplace(key(rows[i]), kept);
    if (!inserted) {
      ++stats.duplicates;
      if (!same(rows[it->second], rows[i])) ++stats.conflicts;
      continue;
    }
    ++stats.added;
    if (kept != i) rows[kept] = std::move(rows[i]);
    ++kept;
  }
  rows.resize(kept);
  return stats;
}

std::string UsageKey(const UsageRecord& r) {
  return absl::StrCat(r.provider, "\n", r.usage_record_id);
}

}  // namespace

bool UsageSet::Add(UsageRecord r, bool* conflict) {
  auto [it, inserted] = index_.emplace(UsageKey(r), records_.size());
  if (!inserted) {
    if (conflict != nullptr) *conflict = !SameRecord(records_[it->second], r);
    return false;
  }
  if (conflict != nullptr) *conflict = false;
  records_.push_back(std::move(r));
  return true;
}

absl::StatusOr<ImportStats> UsageSet::Import(absl::string_view provider, FileFormat format,
                                             absl::string_view content, absl::string_view source) {
  absl::StatusOr<std::vector<UsageRecord>> parsed = ParseUsage(provider, format, content, source);
  if (!parsed.ok()) return parsed.status();
  return AppendUnique(records_, index_, *std::move(parsed), UsageKey, SameRecord);
}

std::vector<UsageRecord> UsageSet::Release() {
  index_.clear();
  return std::move(records_);
}

bool LedgerSet::Add(BillingTransaction t, bool* conflict) {
  auto [it, inserted] = index_.emplace(t.billing_transaction_id, rows_.size());
  if (!inserted) {
    if (conflict != nullptr) *conflict = !SameRow(rows_[it->second], t);
    return false;
  }
  if (conflict != nullptr) *conflict = false;
  rows_.push_back(std::move(t));
  return true;
}

absl::StatusOr<ImportStats> LedgerSet::Import(FileFormat format, absl::string_view content,
                                              absl::string_view source) {
  absl::StatusOr<std::vector<BillingTransaction>> parsed = ParseLedger(format, content, source);
  if (!parsed.ok()) return parsed.status();
  return AppendUnique(
      rows_, index_, *std::move(parsed),
      [](const BillingTransaction& t) { return t.billing_transaction_id; }, SameRow);
}

std::vector<BillingTransaction> LedgerSet::Release() {
  index_.clear();
  return std::move(rows_);
}

}  // namespace music::billing

#undef BILLING_ASSIGN_OR_RETURN
