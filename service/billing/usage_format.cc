#include "service/billing/usage_format.h"

#include <optional>
#include <utility>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "domain/money.h"
#include "domain/record_io.h"
#include "rapidjson/stringbuffer.h"
#include "rapidjson/writer.h"

namespace music::billing {
namespace {

using record_io::AppendCsvHeader;
using record_io::AppendCsvRow;
using record_io::EndJsonLine;
using record_io::Field;
using record_io::Fields;
using record_io::ForEachRecord;
using record_io::JsonOptionalString;
using record_io::JsonString;
using record_io::JsonWriter;

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
  RECORD_IO_ASSIGN_OR_RETURN(id, f.Required(kLgId));
  t.billing_transaction_id = std::string(id);
  RECORD_IO_ASSIGN_OR_RETURN(task, f.Required(kLgTask));
  t.task_id = std::string(task);
  RECORD_IO_ASSIGN_OR_RETURN(provider, f.Required(kLgProvider));
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
  RECORD_IO_ASSIGN_OR_RETURN(kind_text, f.Required(kLgKind));
  std::optional<TransactionKind> kind = ParseTransactionKind(kind_text);
  if (!kind) {
    return f.Error(kLgKind,
                   absl::StrCat("expected RESERVE, SETTLE or REFUND, got \"", kind_text, "\""));
  }
  t.kind = *kind;
  RECORD_IO_ASSIGN_OR_RETURN(amount, f.Amount(kLgAmount, /*required=*/true, false));
  t.amount_micros = amount;
  RECORD_IO_ASSIGN_OR_RETURN(currency_text, f.Required(kLgCurrency));
  std::optional<Currency> currency = ParseCurrency(currency_text);
  if (!currency) {
    return f.Error(kLgCurrency, absl::StrCat("unknown currency \"", currency_text, "\""));
  }
  t.currency = *currency;
  RECORD_IO_ASSIGN_OR_RETURN(time, f.Time(kLgTime));
  t.time = time;
  out.push_back(std::move(t));
  return absl::OkStatus();
}

}  // namespace

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

// ---------------------------------------------------------------------------------------------
// Usage formats by provider.

absl::Status UsageFormats::Add(std::string provider, UsageParser parse, UsageWriter write) {
  if (provider.empty()) return absl::InvalidArgumentError("a usage format needs a provider name");
  if (parse == nullptr) {
    return absl::InvalidArgumentError(
        absl::StrCat("the usage format of \"", provider, "\" has no parser"));
  }
  if (Find(provider) != nullptr) {
    return absl::AlreadyExistsError(
        absl::StrCat("provider \"", provider, "\" already has a usage format"));
  }
  entries_.push_back(Entry{std::move(provider), std::move(parse), std::move(write)});
  return absl::OkStatus();
}

const UsageFormats::Entry* UsageFormats::Find(absl::string_view provider) const {
  for (const Entry& e : entries_) {
    if (e.provider == provider) return &e;
  }
  return nullptr;
}

bool UsageFormats::Contains(absl::string_view provider) const { return Find(provider) != nullptr; }

std::vector<std::string> UsageFormats::providers() const {
  std::vector<std::string> names;
  names.reserve(entries_.size());
  for (const Entry& e : entries_) names.push_back(e.provider);
  return names;
}

absl::StatusOr<std::vector<UsageRecord>> UsageFormats::Parse(absl::string_view provider,
                                                             FileFormat format,
                                                             absl::string_view content,
                                                             absl::string_view source) const {
  const Entry* e = Find(provider);
  if (e == nullptr) {
    // "(expected tokenlab, beatra, piapi or kie)" with the providers known here.
    std::string expected;
    for (size_t i = 0; i < entries_.size(); ++i) {
      if (i > 0) absl::StrAppend(&expected, i + 1 == entries_.size() ? " or " : ", ");
      absl::StrAppend(&expected, entries_[i].provider);
    }
    return absl::InvalidArgumentError(
        absl::StrCat("unknown provider \"", provider, "\" (expected ", expected, ")"));
  }
  return e->parse(format, content, source);
}

absl::StatusOr<std::string> UsageFormats::Write(absl::string_view provider, FileFormat format,
                                                absl::Span<const UsageRecord> records) const {
  const Entry* e = Find(provider);
  if (e == nullptr) {
    return absl::InvalidArgumentError(absl::StrCat("unknown provider \"", provider, "\""));
  }
  if (e->write == nullptr) {
    return absl::InvalidArgumentError(
        absl::StrCat("provider \"", provider, "\" has no usage export writer"));
  }
  return e->write(format, records);
}

// ---------------------------------------------------------------------------------------------
// The ledger file.

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
    JsonString(w, "billing_transaction_id", t.billing_transaction_id);
    JsonOptionalString(w, "tenant", t.tenant);
    JsonString(w, "task_id", t.task_id);
    JsonOptionalString(w, "request_id", t.request_id);
    JsonString(w, "provider", t.provider);
    JsonOptionalString(w, "provider_task_id", t.provider_task_id);
    JsonOptionalString(w, "provider_billing_transaction_id", t.provider_billing_transaction_id);
    JsonOptionalString(w, "model", t.model);
    JsonOptionalString(w, "provider_model", t.provider_model);
    JsonOptionalString(w, "endpoint", t.endpoint);
    JsonString(w, "kind", TransactionKindName(t.kind));
    JsonString(w, "amount", amount);
    JsonString(w, "currency", CurrencyName(t.currency));
    JsonString(w, "time", time);
    w.EndObject();
    EndJsonLine(buf, w, out);
  }
  return out;
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

absl::StatusOr<ImportStats> UsageSet::Import(const UsageFormats& formats,
                                             absl::string_view provider, FileFormat format,
                                             absl::string_view content, absl::string_view source) {
  absl::StatusOr<std::vector<UsageRecord>> parsed =
      formats.Parse(provider, format, content, source);
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
