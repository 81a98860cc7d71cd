#include "adapters/internal/json_reader.h"

#include <rapidjson/encodings.h>
#include <rapidjson/error/en.h>
#include <rapidjson/memorystream.h>

#include <cmath>
#include <vector>

#include "absl/strings/str_cat.h"

namespace music::adapters::internal {

using rapidjson::Value;

namespace {

// The output stream of UTF8<>::Validate when only the verdict matters.
struct Discard {
  using Ch = char;
  void Put(char /*c*/) {}
};

// Whether s[0, n) is UTF-8 (RapidJSON's own validator: no overlongs, no surrogates).
bool IsUtf8(const char* s, size_t n) {
  rapidjson::MemoryStream in(s, n);
  Discard out;
  while (in.Tell() < n) {
    if (!rapidjson::UTF8<>::Validate(in, out)) return false;
  }
  return true;
}

// Whether every string and member name under `root` is UTF-8. kParseValidateEncodingFlag checks
// the body's bytes, but RapidJSON decodes a lone low surrogate escape ("\uDC00") into bytes that
// are not UTF-8; such a string would be stored in a proto3 string field and fail every client's
// decode of the task (found by tests/fuzz). Iterative, like the parse, so deep nesting cannot
// overflow the stack.
bool AllStringsUtf8(const Value& root) {
  std::vector<const Value*> pending = {&root};
  while (!pending.empty()) {
    const Value* v = pending.back();
    pending.pop_back();
    if (v->IsString()) {
      if (!IsUtf8(v->GetString(), v->GetStringLength())) return false;
    } else if (v->IsObject()) {
      for (const auto& m : v->GetObject()) {
        if (!IsUtf8(m.name.GetString(), m.name.GetStringLength())) return false;
        pending.push_back(&m.value);
      }
    } else if (v->IsArray()) {
      for (const Value& e : v->GetArray()) pending.push_back(&e);
    }
  }
  return true;
}

}  // namespace

absl::Status JsonReader::Malformed(absl::string_view what) const {
  return absl::InternalError(absl::StrCat(provider_, " sent a malformed answer: ", what));
}

absl::Status JsonReader::WrongType(absl::string_view field, absl::string_view expected) const {
  return Malformed(absl::StrCat("`", field, "` is not ", expected));
}

absl::Status JsonReader::ParseObject(absl::string_view body, rapidjson::Document& doc) const {
  if (body.empty()) return Malformed("empty body");
  doc.Parse<rapidjson::kParseIterativeFlag | rapidjson::kParseValidateEncodingFlag>(body.data(),
                                                                                   body.size());
  if (doc.HasParseError()) {
    return Malformed(absl::StrCat("invalid JSON at offset ", doc.GetErrorOffset(), ": ",
                                  rapidjson::GetParseError_En(doc.GetParseError())));
  }
  if (!doc.IsObject()) return Malformed("the body is not a JSON object");
  if (!AllStringsUtf8(doc)) return Malformed("a string is not UTF-8");
  return absl::OkStatus();
}

const Value* JsonReader::Find(const Value& obj, const char* name) {
  // FindMember on a non-object is an assertion failure in RapidJSON, not an answer.
  if (!obj.IsObject()) return nullptr;
  auto it = obj.FindMember(name);
  if (it == obj.MemberEnd() || it->value.IsNull()) return nullptr;
  return &it->value;
}

absl::Status JsonReader::ReadString(const Value& obj, const char* name, std::string* out) const {
  out->clear();
  const Value* v = Find(obj, name);
  if (v == nullptr) return absl::OkStatus();
  if (!v->IsString()) return WrongType(name, "a string");
  out->assign(v->GetString(), v->GetStringLength());
  return absl::OkStatus();
}

absl::Status JsonReader::ReadRequiredString(const Value& obj, const char* name,
                                            std::string* out) const {
  out->clear();
  if (Find(obj, name) == nullptr) return WrongType(name, "a string");
  return ReadString(obj, name, out);
}

absl::Status JsonReader::ReadFirstString(const Value& obj, std::initializer_list<const char*> names,
                                         std::string* out) const {
  out->clear();
  std::string first;
  for (const char* name : names) {
    std::string value;
    if (absl::Status s = ReadString(obj, name, &value); !s.ok()) return s;
    if (first.empty()) first = std::move(value);
  }
  *out = std::move(first);
  return absl::OkStatus();
}

absl::Status JsonReader::ReadNumber(const Value& obj, const char* name, double* out) const {
  std::optional<double> value;
  absl::Status status = ReadNumber(obj, name, &value);
  *out = value.value_or(0);
  return status;
}

absl::Status JsonReader::ReadNumber(const Value& obj, const char* name,
                                    std::optional<double>* out) const {
  out->reset();
  const Value* v = Find(obj, name);
  if (v == nullptr) return absl::OkStatus();
  // RapidJSON's parser rejects numbers a double cannot hold, but a Value can be built by hand.
  if (!v->IsNumber() || !std::isfinite(v->GetDouble())) return WrongType(name, "a number");
  *out = v->GetDouble();
  return absl::OkStatus();
}

absl::Status JsonReader::ReadBool(const Value& obj, const char* name, bool* out) const {
  *out = false;
  const Value* v = Find(obj, name);
  if (v == nullptr) return absl::OkStatus();
  if (!v->IsBool()) return WrongType(name, "a boolean");
  *out = v->GetBool();
  return absl::OkStatus();
}

absl::Status JsonReader::ReadObject(const Value& obj, const char* name, const Value** out) const {
  *out = nullptr;
  const Value* v = Find(obj, name);
  if (v == nullptr) return absl::OkStatus();
  if (!v->IsObject()) return WrongType(name, "an object");
  *out = v;
  return absl::OkStatus();
}

absl::Status JsonReader::ReadArray(const Value& obj, const char* name, const Value** out) const {
  *out = nullptr;
  const Value* v = Find(obj, name);
  if (v == nullptr) return absl::OkStatus();
  if (!v->IsArray()) return WrongType(name, "an array");
  *out = v;
  return absl::OkStatus();
}

absl::Status JsonReader::ReadCode(const Value& obj, const char* name, std::string* out) const {
  out->clear();
  const Value* v = Find(obj, name);
  if (v == nullptr) return absl::OkStatus();
  if (v->IsString()) {
    out->assign(v->GetString(), v->GetStringLength());
  } else if (v->IsInt64()) {
    *out = absl::StrCat(v->GetInt64());
  } else {
    return WrongType(name, "a string or an integer");
  }
  return absl::OkStatus();
}

}  // namespace music::adapters::internal
