// RapidJSON readers for beatra answers. Everything here is untrusted network input: every member
// is type-checked before use, and parsing is iterative so nesting depth cannot exhaust the stack.

#include "adapters/beatra/beatra_json.h"

#include <rapidjson/document.h>
#include <rapidjson/error/en.h>

#include <algorithm>
#include <cmath>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "adapters/beatra/beatra_errors.h"
#include "adapters/beatra/beatra_status.h"

namespace music::adapters::beatra {
namespace {

using rapidjson::Value;

// 9e12 units is below INT64_MAX / 1e6 with room for rounding.
constexpr int64_t kMaxUnits = 9'000'000'000'000;

absl::Status Malformed(absl::string_view what) {
  return absl::InternalError(absl::StrCat("beatra sent a malformed answer: ", what));
}

absl::Status WrongType(absl::string_view field, absl::string_view expected) {
  return Malformed(absl::StrCat("`", field, "` is not ", expected));
}

absl::Status ParseObject(absl::string_view body, rapidjson::Document& doc) {
  if (body.empty()) return Malformed("empty body");
  doc.Parse<rapidjson::kParseIterativeFlag>(body.data(), body.size());
  if (doc.HasParseError()) {
    return Malformed(absl::StrCat("invalid JSON at offset ", doc.GetErrorOffset(), ": ",
                                  rapidjson::GetParseError_En(doc.GetParseError())));
  }
  if (!doc.IsObject()) return Malformed("the body is not a JSON object");
  return absl::OkStatus();
}

// nullptr when the member is absent or null (optional members may be null, e.g. `output`).
const Value* Find(const Value& obj, const char* name) {
  auto it = obj.FindMember(name);
  if (it == obj.MemberEnd() || it->value.IsNull()) return nullptr;
  return &it->value;
}

absl::Status ReadString(const Value& obj, const char* name, std::string* out) {
  out->clear();
  const Value* v = Find(obj, name);
  if (v == nullptr) return absl::OkStatus();
  if (!v->IsString()) return WrongType(name, "a string");
  out->assign(v->GetString(), v->GetStringLength());
  return absl::OkStatus();
}

absl::Status ReadBool(const Value& obj, const char* name, bool* out) {
  *out = false;
  const Value* v = Find(obj, name);
  if (v == nullptr) return absl::OkStatus();
  if (!v->IsBool()) return WrongType(name, "a boolean");
  *out = v->GetBool();
  return absl::OkStatus();
}

absl::Status ReadNumber(const Value& obj, const char* name, double* out, bool* present) {
  *out = 0;
  if (present != nullptr) *present = false;
  const Value* v = Find(obj, name);
  if (v == nullptr) return absl::OkStatus();
  if (!v->IsNumber() || !std::isfinite(v->GetDouble())) return WrongType(name, "a number");
  *out = v->GetDouble();
  if (present != nullptr) *present = true;
  return absl::OkStatus();
}

absl::Status ReadObject(const Value& obj, const char* name, const Value** out) {
  *out = Find(obj, name);
  if (*out != nullptr && !(*out)->IsObject()) return WrongType(name, "an object");
  return absl::OkStatus();
}

absl::Status ReadArray(const Value& obj, const char* name, const Value** out) {
  *out = Find(obj, name);
  if (*out != nullptr && !(*out)->IsArray()) return WrongType(name, "an array");
  return absl::OkStatus();
}

// A credits amount: a JSON number or a decimal string ("80.0000"). *present is false when absent.
absl::Status ReadMicros(const Value& obj, const char* name, int64_t* out, bool* present) {
  *out = 0;
  *present = false;
  const Value* v = Find(obj, name);
  if (v == nullptr) return absl::OkStatus();
  if (v->IsString()) {
    std::optional<int64_t> micros =
        DecimalToMicros(absl::string_view(v->GetString(), v->GetStringLength()));
    if (!micros) return WrongType(name, "a non-negative decimal amount");
    *out = *micros;
  } else if (v->IsInt64()) {
    const int64_t units = v->GetInt64();
    if (units < 0 || units >= kMaxUnits) return WrongType(name, "a non-negative amount in range");
    *out = units * 1'000'000;
  } else if (v->IsNumber()) {
    // Checked before rounding: llround of a NaN, an infinity or a huge value is undefined.
    const double units = v->GetDouble();
    if (!std::isfinite(units) || units < 0 || units >= static_cast<double>(kMaxUnits)) {
      return WrongType(name, "a non-negative amount in range");
    }
    *out = std::llround(units * 1e6);
  } else {
    return WrongType(name, "a number or a decimal string");
  }
  *present = true;
  return absl::OkStatus();
}

absl::Status ReadClips(const Value* array, const std::string& task_id,
                       std::vector<music::v1::Clip>* out) {
  if (array == nullptr) return absl::OkStatus();
  int index = 0;
  for (const Value& item : array->GetArray()) {
    if (!item.IsObject()) return WrongType("output.clips[]", "an object");
    music::v1::Clip clip;
    double duration = 0;
    for (absl::Status s : {ReadString(item, "id", clip.mutable_clip_id()),
                           ReadString(item, "artifact_id", clip.mutable_artifact_id()),
                           ReadString(item, "audio_url", clip.mutable_audio_url()),
                           ReadString(item, "stream_audio_url", clip.mutable_stream_audio_url()),
                           ReadString(item, "image_url", clip.mutable_image_url()),
                           ReadString(item, "video_url", clip.mutable_video_url()),
                           ReadString(item, "title", clip.mutable_title()),
                           ReadString(item, "tags", clip.mutable_tags()),
                           ReadString(item, "lyrics", clip.mutable_lyrics()),
                           ReadString(item, "model", clip.mutable_model_name()),
                           ReadNumber(item, "duration_seconds", &duration, nullptr)}) {
      if (!s.ok()) return s;
    }
    // Clips are merged by id: without one, the artifact id (stable at beatra) or the position.
    if (clip.clip_id().empty()) {
      clip.set_clip_id(clip.artifact_id().empty() ? absl::StrCat(task_id, "-", index)
                                                  : clip.artifact_id());
    }
    clip.set_duration_seconds(duration);
    out->push_back(std::move(clip));
    ++index;
  }
  return absl::OkStatus();
}

absl::Status ReadProgress(const Value& task, ProviderUpdate& update) {
  const Value* progress = nullptr;
  if (absl::Status s = ReadObject(task, "progress", &progress); !s.ok()) return s;
  if (progress == nullptr) return absl::OkStatus();
  double percent = 0;
  bool has_percent = false;
  for (absl::Status s : {ReadNumber(*progress, "percent", &percent, &has_percent),
                         ReadString(*progress, "stage", &update.progress_stage),
                         ReadString(*progress, "message", &update.progress_message)}) {
    if (!s.ok()) return s;
  }
  if (has_percent) {
    update.progress_percent = static_cast<int32_t>(std::lround(std::clamp(percent, 0.0, 100.0)));
  }
  return absl::OkStatus();
}

absl::Status ReadFailure(const Value& task, ProviderUpdate& update) {
  const Value* error = nullptr;
  if (absl::Status s = ReadObject(task, "error", &error); !s.ok()) return s;
  if (error == nullptr) {
    if (update.state == ProviderState::kFailed) {
      update.error_code = absl::StatusCode::kInternal;
      update.error_message = "beatra task failed without an error";
    }
    return absl::OkStatus();
  }
  std::string code, message;
  bool retryable = false;
  for (absl::Status s : {ReadString(*error, "code", &code), ReadString(*error, "message", &message),
                         ReadBool(*error, "retryable", &retryable)}) {
    if (!s.ok()) return s;
  }
  if (update.state != ProviderState::kFailed) return absl::OkStatus();
  update.provider_error_code = code;
  update.error_code = BeatraTaskErrorCode(code, retryable);
  update.error_message =
      message.empty() ? absl::StrCat("beatra task failed: ", code.empty() ? "no code" : code)
                      : absl::StrCat("beatra task failed (", code, "): ", message.substr(0, 500));
  return absl::OkStatus();
}

absl::Status ReadBilling(const Value& task, ProviderUpdate& update) {
  const Value* billing = nullptr;
  if (absl::Status s = ReadObject(task, "billing", &billing); !s.ok()) return s;
  if (billing == nullptr) return absl::OkStatus();
  int64_t charged = 0, refunded = 0;
  bool has_charged = false, has_refunded = false;
  std::string currency;
  for (absl::Status s : {ReadMicros(*billing, "charged_credits", &charged, &has_charged),
                         ReadMicros(*billing, "refunded_credits", &refunded, &has_refunded),
                         ReadString(*billing, "currency", &currency)}) {
    if (!s.ok()) return s;
  }
  // The *_usd_reference fields are display-only (seed 002): type-checked, never used.
  for (const char* name : {"charged_credits_usd_reference", "refunded_credits_usd_reference"}) {
    const Value* v = Find(*billing, name);
    if (v != nullptr && !v->IsNumber() && !v->IsString()) {
      return WrongType(name, "a number or a decimal string");
    }
  }
  currency = absl::AsciiStrToUpper(currency);
  if (currency.empty()) currency = "CREDITS";
  // An amount in a currency the ledger does not know would be booked wrong: report none.
  if (!has_charged || (currency != "CREDITS" && currency != "USD")) return absl::OkStatus();
  update.has_billing = true;
  update.charged_micros = charged;
  update.refunded_micros = has_refunded ? refunded : 0;
  update.billing_currency = currency;
  return absl::OkStatus();
}

}  // namespace

std::optional<int64_t> DecimalToMicros(absl::string_view text) {
  if (text.empty() || text.size() > 64) return std::nullopt;
  int64_t units = 0;
  size_t i = 0;
  size_t int_digits = 0;
  for (; i < text.size() && absl::ascii_isdigit(text[i]); ++i, ++int_digits) {
    units = units * 10 + (text[i] - '0');
    if (units >= kMaxUnits) return std::nullopt;
  }
  if (int_digits == 0) return std::nullopt;
  int64_t fraction = 0;
  int fraction_digits = 0;
  bool round_up = false;
  if (i < text.size()) {
    if (text[i] != '.') return std::nullopt;
    ++i;
    if (i == text.size()) return std::nullopt;  // "80." is not a number
    for (; i < text.size(); ++i) {
      if (!absl::ascii_isdigit(text[i])) return std::nullopt;
      if (fraction_digits < 6) {
        fraction = fraction * 10 + (text[i] - '0');
        ++fraction_digits;
      } else if (fraction_digits == 6) {
        round_up = text[i] >= '5';
        ++fraction_digits;
      }
    }
  }
  for (int d = std::min(fraction_digits, 6); d < 6; ++d) fraction *= 10;
  return units * 1'000'000 + fraction + (round_up ? 1 : 0);
}

std::optional<BeatraError> ParseBeatraErrorEnvelope(absl::string_view body) {
  rapidjson::Document doc;
  if (!ParseObject(body, doc).ok()) return std::nullopt;
  const Value* error = Find(doc, "error");
  if (error == nullptr || !error->IsObject()) return std::nullopt;
  const Value* code = Find(*error, "code");
  if (code == nullptr || !code->IsString()) return std::nullopt;
  BeatraError out;
  out.code.assign(code->GetString(), code->GetStringLength());
  // Optional members of the wrong type are dropped: the code alone decides the mapping.
  if (!ReadString(*error, "message", &out.message).ok()) out.message.clear();
  if (!ReadBool(*error, "retryable", &out.retryable).ok()) out.retryable = false;
  if (!ReadString(*error, "request_id", &out.request_id).ok()) out.request_id.clear();
  return out;
}

absl::StatusOr<std::string> ParseBeatraCreateAnswer(absl::string_view body) {
  rapidjson::Document doc;
  if (absl::Status s = ParseObject(body, doc); !s.ok()) return s;
  std::string task_id;
  if (absl::Status s = ReadString(doc, "task_id", &task_id); !s.ok()) return s;
  if (task_id.empty()) return Malformed("no `task_id`");
  return task_id;
}

absl::StatusOr<ProviderUpdate> ParseBeatraTask(absl::string_view body) {
  rapidjson::Document doc;
  if (absl::Status s = ParseObject(body, doc); !s.ok()) return s;
  ProviderUpdate update;
  const Value* status = Find(doc, "status");
  if (status == nullptr || !status->IsString()) return WrongType("status", "a string");
  update.provider_status.assign(status->GetString(), status->GetStringLength());
  update.state = MapBeatraStatus(update.provider_status).state;

  const Value* output = nullptr;
  const Value* clips = nullptr;
  const Value* usage = nullptr;
  const Value* usage_lines = nullptr;
  std::string ignored;
  for (absl::Status s :
       {ReadString(doc, "task_id", &update.provider_task_id), ReadObject(doc, "output", &output),
        ReadObject(doc, "usage", &usage), ReadString(doc, "started_at", &ignored),
        ReadString(doc, "completed_at", &ignored),
        ReadString(doc, "cancel_requested_at", &ignored)}) {
    if (!s.ok()) return s;
  }
  if (output != nullptr) {
    if (absl::Status s = ReadArray(*output, "clips", &clips); !s.ok()) return s;
  }
  // usage.lines[] itemises the charge; the amounts the ledger needs are in `billing`.
  if (usage != nullptr) {
    if (absl::Status s = ReadArray(*usage, "lines", &usage_lines); !s.ok()) return s;
  }
  for (absl::Status s :
       {ReadClips(clips, update.provider_task_id, &update.clips), ReadProgress(doc, update),
        ReadFailure(doc, update), ReadBilling(doc, update)}) {
    if (!s.ok()) return s;
  }
  // A clip with audio means the first one is ready (seed 002 has no partial stages of its own).
  for (const music::v1::Clip& clip : update.clips) {
    if (!clip.audio_url().empty()) update.first_clip_ready = true;
  }
  return update;
}

absl::StatusOr<std::string> ParseBeatraUploadAnswer(absl::string_view body) {
  rapidjson::Document doc;
  if (absl::Status s = ParseObject(body, doc); !s.ok()) return s;
  std::string artifact_id;
  if (absl::Status s = ReadString(doc, "artifact_id", &artifact_id); !s.ok()) return s;
  if (artifact_id.empty()) return Malformed("no `artifact_id`");
  return artifact_id;
}

}  // namespace music::adapters::beatra
