// Reading and writing money records in the two file layouts the billing formats use, JSON lines
// and CSV (RFC 4180 with a header row), with one interface over both so that every format
// (each provider's usage export in adapters/<p>/<p>_usage_format.cc, the service ledger in
// service/billing/usage_format.cc) writes its rules once for both layouts.
//
// Errors are INVALID_ARGUMENT and name the source, the line (1-based, the first physical line of
// the record) and, where there is one, the field: "usage.csv:7: field `amount`: more than 6
// decimals ...".
#ifndef MUSIC_DOMAIN_RECORD_IO_H_
#define MUSIC_DOMAIN_RECORD_IO_H_

#include <cstdint>
#include <initializer_list>
#include <optional>
#include <string>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/functional/function_ref.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "absl/types/span.h"
#include "domain/billing_types.h"
#include "rapidjson/document.h"
#include "rapidjson/stringbuffer.h"
#include "rapidjson/writer.h"

namespace music::billing::record_io {

// ---------------------------------------------------------------------------------------------
// Reading.

/// One CSV record: its first physical line (1-based) and its fields.
struct CsvRow {
  int line = 0;
  std::vector<std::string> fields;
};

/// RFC 4180: fields separated by commas, records by CRLF or LF; a quoted field may hold commas,
/// line breaks and doubled quotes. Blank lines are skipped. INVALID_ARGUMENT naming `source` and
/// the line for an unterminated quote, text after a closing quote or a quote inside an unquoted
/// field.
absl::StatusOr<std::vector<CsvRow>> ReadCsv(absl::string_view in, absl::string_view source);

/// A field of a record: its JSON path (dotted, "meta.usage.consume") and its CSV column.
struct Field {
  absl::string_view json;
  absl::string_view csv;
};

/// One record's fields, from a JSON object or a CSV row (with the header's column index). Views
/// into the input: valid during the ForEachRecord callback only.
class Fields {
 public:
  Fields(absl::string_view source, int line, const rapidjson::Value* json)
      : source_(source), line_(line), json_(json) {}
  Fields(absl::string_view source, int line, const std::vector<std::string>* row,
         const absl::flat_hash_map<std::string, size_t>* header)
      : source_(source), line_(line), row_(row), header_(header) {}

  /// The record's first physical line, 1-based.
  int line() const { return line_; }
  bool is_json() const { return json_ != nullptr; }

  /// The JSON object member `name` as a record of its own (kept in `storage`); null when this is
  /// CSV or the member is not an object.
  const Fields* JsonChild(absl::string_view name, std::optional<Fields>* storage) const;

  /// INVALID_ARGUMENT "<source>:<line>: field `<name>`: <why>", the name in this record's layout.
  absl::Status Error(const Field& f, absl::string_view why) const;

  /// The field's text; nullopt when absent, null or empty. JSON numbers keep their exact text;
  /// booleans read "true"/"false"; INVALID_ARGUMENT for an object or an array.
  absl::StatusOr<std::optional<absl::string_view>> Optional(const Field& f) const;
  /// As Optional; INVALID_ARGUMENT "missing" when absent.
  absl::StatusOr<absl::string_view> Required(const Field& f) const;
  /// As Optional, "" when absent; the first error is kept in `st` (later ones are dropped), so a
  /// run of optional fields is checked once.
  std::string OptionalString(const Field& f, absl::Status& st) const;
  /// A decimal amount in micros (ParseDecimalMicros); absent is 0 unless `required`.
  /// `allow_negative` for signed amounts (kie.ai's credits).
  absl::StatusOr<int64_t> Amount(const Field& f, bool required, bool allow_negative) const;
  /// A required RFC 3339 time.
  absl::StatusOr<absl::Time> Time(const Field& f) const;
  /// A currency name (ParseCurrency); `def` when absent.
  absl::StatusOr<Currency> CurrencyOr(const Field& f, Currency def) const;

 private:
  absl::string_view source_;
  int line_;
  const rapidjson::Value* json_ = nullptr;
  const std::vector<std::string>* row_ = nullptr;
  const absl::flat_hash_map<std::string, size_t>* header_ = nullptr;
};

/// Calls `fn` for every record of `content`, in file order; stops at the first error and returns
/// it. JSON lines: one object per line, blank lines skipped, numbers read as their text. CSV: the
/// first row is the header (columns in any order, unknown ones ignored) and must name every one
/// of `required_columns`; every row must have as many fields as the header. An empty input holds
/// no records.
absl::Status ForEachRecord(FileFormat format, absl::string_view content, absl::string_view source,
                           absl::Span<const absl::string_view> required_columns,
                           absl::FunctionRef<absl::Status(const Fields&)> fn);

// ---------------------------------------------------------------------------------------------
// Writing: one record at a time into either a JSON object or a CSV row.

/// Appends `v`, quoted (RFC 4180) when it holds a comma, a quote or a line break.
void AppendCsvField(std::string& out, absl::string_view v);
/// Appends the fields as one CSV row and a newline.
void AppendCsvRow(std::string& out, absl::Span<const std::string> fields);
/// Appends the column names (plain, never quoted) and a newline.
void AppendCsvHeader(std::string& out, absl::Span<const absl::string_view> columns);

using JsonWriter = rapidjson::Writer<rapidjson::StringBuffer>;

void JsonKey(JsonWriter& w, absl::string_view k);
/// "k": "v".
void JsonString(JsonWriter& w, absl::string_view k, absl::string_view v);
/// "k": raw, written as is: `raw` must be a JSON number (FormatMicros, epoch milliseconds).
void JsonNumber(JsonWriter& w, absl::string_view k, absl::string_view raw);
/// "k": "v", left out when `v` is empty, which the readers read back as empty.
void JsonOptionalString(JsonWriter& w, absl::string_view k, absl::string_view v);
/// Appends the finished object in `buf` and a newline to `out`; `buf` and `w` are reset for the
/// next line.
void EndJsonLine(rapidjson::StringBuffer& buf, JsonWriter& w, std::string& out);

/// OK when `r` may be written by `provider`'s writer: INVALID_ARGUMENT for a record of another
/// provider or with a negative amount.
absl::Status CheckWritable(absl::string_view provider, const UsageRecord& r);

}  // namespace music::billing::record_io

/// Inside a function returning absl::Status or StatusOr: evaluates `expr` (a StatusOr), returns
/// its status on error, otherwise declares `lhs` holding its value.
// `lhs` names the variable declared, so it cannot be parenthesized.
// NOLINTBEGIN(bugprone-macro-parentheses)
#define RECORD_IO_ASSIGN_OR_RETURN(lhs, expr)   \
  auto lhs##_or = (expr);                       \
  if (!lhs##_or.ok()) return lhs##_or.status(); \
  auto lhs = *std::move(lhs##_or)
// NOLINTEND(bugprone-macro-parentheses)

#endif  // MUSIC_DOMAIN_RECORD_IO_H_
