#include "domain/record_io.h"

#include <utility>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "domain/money.h"
#include "rapidjson/error/en.h"

namespace music::billing::record_io {

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

const Fields* Fields::JsonChild(absl::string_view name, std::optional<Fields>* storage) const {
  if (json_ == nullptr) return nullptr;
  auto m = json_->FindMember(rapidjson::Value(rapidjson::StringRef(name.data(), name.size())));
  if (m == json_->MemberEnd() || !m->value.IsObject()) return nullptr;
  storage->emplace(source_, line_, &m->value);
  return &**storage;
}

absl::Status Fields::Error(const Field& f, absl::string_view why) const {
  return absl::InvalidArgumentError(
      absl::StrCat(source_, ":", line_, ": field `", is_json() ? f.json : f.csv, "`: ", why));
}

absl::StatusOr<std::optional<absl::string_view>> Fields::Optional(const Field& f) const {
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

absl::StatusOr<absl::string_view> Fields::Required(const Field& f) const {
  absl::StatusOr<std::optional<absl::string_view>> v = Optional(f);
  if (!v.ok()) return v.status();
  if (!v->has_value()) return Error(f, "missing");
  return **v;
}

std::string Fields::OptionalString(const Field& f, absl::Status& st) const {
  absl::StatusOr<std::optional<absl::string_view>> v = Optional(f);
  if (!v.ok()) {
    if (st.ok()) st = v.status();
    return "";
  }
  return v->has_value() ? std::string(**v) : std::string();
}

absl::StatusOr<int64_t> Fields::Amount(const Field& f, bool required, bool allow_negative) const {
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

absl::StatusOr<absl::Time> Fields::Time(const Field& f) const {
  absl::StatusOr<absl::string_view> v = Required(f);
  if (!v.ok()) return v.status();
  absl::StatusOr<absl::Time> t = ParseRfc3339(*v);
  if (!t.ok()) return Error(f, t.status().message());
  return *t;
}

absl::StatusOr<Currency> Fields::CurrencyOr(const Field& f, Currency def) const {
  absl::StatusOr<std::optional<absl::string_view>> v = Optional(f);
  if (!v.ok()) return v.status();
  if (!v->has_value()) return def;
  std::optional<Currency> c = ParseCurrency(**v);
  if (!c) return Error(f, absl::StrCat("unknown currency \"", **v, "\""));
  return *c;
}

absl::Status ForEachRecord(FileFormat format, absl::string_view content, absl::string_view source,
                           absl::Span<const absl::string_view> required_columns,
                           absl::FunctionRef<absl::Status(const Fields&)> fn) {
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

void JsonKey(JsonWriter& w, absl::string_view k) { w.Key(k.data(), k.size()); }

void JsonString(JsonWriter& w, absl::string_view k, absl::string_view v) {
  JsonKey(w, k);
  w.String(v.data(), v.size());
}

void JsonNumber(JsonWriter& w, absl::string_view k, absl::string_view raw) {
  JsonKey(w, k);
  w.RawValue(raw.data(), raw.size(), rapidjson::kNumberType);
}

void JsonOptionalString(JsonWriter& w, absl::string_view k, absl::string_view v) {
  if (!v.empty()) JsonString(w, k, v);
}

void EndJsonLine(rapidjson::StringBuffer& buf, JsonWriter& w, std::string& out) {
  out.append(buf.GetString(), buf.GetSize());
  out.push_back('\n');
  buf.Clear();
  w.Reset(buf);
}

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

}  // namespace music::billing::record_io
