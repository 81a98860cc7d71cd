#include "adapters/internal/json_reader.h"

#include <rapidjson/error/en.h>

#include <cmath>

#include "absl/strings/str_cat.h"

namespace music::adapters::internal {

using rapidjson::Value;

absl::Status JsonReader::Malformed(absl::string_view what) const {
  return absl::InternalError(absl::StrCat(provider_, " sent a malformed answer: ", what));
}

absl::Status JsonReader::WrongType(absl::string_view field, absl::string_view expected) const {
  return Malformed(absl::StrCat("`", field, "` is not ", expected));
}

absl::Status JsonReader::ParseObject(absl::string_view body, rapidjson::Document& doc) const {
  if (body.empty()) return Malformed("empty body");
  doc.Parse<rapidjson::kParseIterativeFlag>(body.data(), body.size());
  if (doc.HasParseError()) {
    return Malformed(absl::StrCat("invalid JSON at offset ", doc.GetErrorOffset(), ": ",
                                  rapidjson::GetParseError_En(doc.GetParseError())));
  }
  if (!doc.IsObject()) return Malformed("the body is not a JSON object");
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
