// RapidJSON readers for beatra answers. Everything here is untrusted network input: every member
// is type-checked before use, and parsing is iterative so nesting depth cannot exhaust the stack.

#include "adapters/beatra/beatra_json.h"

#include <rapidjson/document.h>

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
#include "adapters/internal/json_reader.h"

namespace music::adapters::beatra {
namespace {

using rapidjson::Value;

// 9e12 units is below INT64_MAX / 1e6 with room for rounding.
constexpr int64_t kMaxUnits = 9'000'000'000'000;

constexpr internal::JsonReader kJson("beatra");

// A credits amount: a JSON number or a decimal string ("80.0000"). *present is false when absent.
absl::Status ReadMicros(const Value& obj, const char* name, int64_t* out, bool* present) {
  *out = 0;
  *present = false;
  const Value* v = kJson.Find(obj, name);
  if (v == nullptr) return absl::OkStatus();
  if (v->IsString()) {
    std::optional<int64_t> micros =
        DecimalToMicros(absl::string_view(v->GetString(), v->GetStringLength()));
    if (!micros) return kJson.WrongType(name, "a non-negative decimal amount");
    *out = *micros;
  } else if (v->IsInt64()) {
    const int64_t units = v->GetInt64();
    if (units < 0 || units >= kMaxUnits) {
      return kJson.WrongType(name, "a non-negative amount in range");
    }
    *out = units * 1'000'000;
  } else if (v->IsNumber()) {
    // Checked before rounding: llround of a NaN, an infinity or a huge value is undefined.
    const double units = v->GetDouble();
    if (!std::isfinite(units) || units < 0 || units >= static_cast<double>(kMaxUnits)) {
      return kJson.WrongType(name, "a non-negative amount in range");
    }
    *out = std::llround(units * 1e6);
  } else {
    return kJson.WrongType(name, "a number or a decimal string");
  }
  *present = true;
  return absl::OkStatus();
}

absl::Status ReadClips(const Value* array, const std::string& task_id,
                       std::vector<music::v1::Clip>* out) {
  if (array == nullptr) return absl::OkStatus();
  int index = 0;
  for (const Value& item : array->GetArray()) {
    if (!item.IsObject()) return kJson.WrongType("output.clips[]", "an object");
    music::v1::Clip clip;
    double duration = 0;
    for (absl::Status s :
         {kJson.ReadString(item, "id", clip.mutable_clip_id()),
          kJson.ReadString(item, "artifact_id", clip.mutable_artifact_id()),
          kJson.ReadString(item, "audio_url", clip.mutable_audio_url()),
          kJson.ReadString(item, "stream_audio_url", clip.mutable_stream_audio_url()),
          kJson.ReadString(item, "image_url", clip.mutable_image_url()),
          kJson.ReadString(item, "video_url", clip.mutable_video_url()),
          kJson.ReadString(item, "title", clip.mutable_title()),
          kJson.ReadString(item, "tags", clip.mutable_tags()),
          kJson.ReadString(item, "lyrics", clip.mutable_lyrics()),
          kJson.ReadString(item, "model", clip.mutable_model_name()),
          kJson.ReadNumber(item, "duration_seconds", &duration)}) {
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
  if (absl::Status s = kJson.ReadObject(task, "progress", &progress); !s.ok()) return s;
  if (progress == nullptr) return absl::OkStatus();
  std::optional<double> percent;
  for (absl::Status s : {kJson.ReadNumber(*progress, "percent", &percent),
                         kJson.ReadString(*progress, "stage", &update.progress_stage),
                         kJson.ReadString(*progress, "message", &update.progress_message)}) {
    if (!s.ok()) return s;
  }
  if (percent) {
    update.progress_percent = static_cast<int32_t>(std::lround(std::clamp(*percent, 0.0, 100.0)));
  }
  return absl::OkStatus();
}

absl::Status ReadFailure(const Value& task, ProviderUpdate& update) {
  const Value* error = nullptr;
  if (absl::Status s = kJson.ReadObject(task, "error", &error); !s.ok()) return s;
  if (error == nullptr) {
    if (update.state == ProviderState::kFailed) {
      update.error_code = absl::StatusCode::kInternal;
      update.error_message = "beatra task failed without an error";
    }
    return absl::OkStatus();
  }
  std::string code, message;
  bool retryable = false;
  for (absl::Status s :
       {kJson.ReadString(*error, "code", &code), kJson.ReadString(*error, "message", &message),
        kJson.ReadBool(*error, "retryable", &retryable)}) {
    if (!s.ok()) return s;
  }
  if (update.state != ProviderState::kFailed) return absl::OkStatus();
  update.provider_error_code = code;
  update.error_code = BeatraTaskErrorCode(code, retryable);
  update.retryable = retryable;
  update.error_message =
      message.empty() ? absl::StrCat("beatra task failed: ", code.empty() ? "no code" : code)
                      : absl::StrCat("beatra task failed (", code, "): ", message.substr(0, 500));
  return absl::OkStatus();
}

absl::Status ReadBilling(const Value& task, ProviderUpdate& update) {
  const Value* billing = nullptr;
  if (absl::Status s = kJson.ReadObject(task, "billing", &billing); !s.ok()) return s;
  if (billing == nullptr) return absl::OkStatus();
  int64_t charged = 0, refunded = 0;
  bool has_charged = false, has_refunded = false;
  std::string currency;
  for (absl::Status s : {ReadMicros(*billing, "charged_credits", &charged, &has_charged),
                         ReadMicros(*billing, "refunded_credits", &refunded, &has_refunded),
                         kJson.ReadString(*billing, "currency", &currency)}) {
    if (!s.ok()) return s;
  }
  // The *_usd_reference fields are display-only (seed 002): type-checked, never used.
  for (const char* name : {"charged_credits_usd_reference", "refunded_credits_usd_reference"}) {
    const Value* v = kJson.Find(*billing, name);
    if (v != nullptr && !v->IsNumber() && !v->IsString()) {
      return kJson.WrongType(name, "a number or a decimal string");
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
  if (!kJson.ParseObject(body, doc).ok()) return std::nullopt;
  const Value* error = kJson.Find(doc, "error");
  if (error == nullptr || !error->IsObject()) return std::nullopt;
  const Value* code = kJson.Find(*error, "code");
  if (code == nullptr || !code->IsString()) return std::nullopt;
  BeatraError out;
  out.code.assign(code->GetString(), code->GetStringLength());
  // Optional members of the wrong type are dropped: the code alone decides the mapping.
  if (!kJson.ReadString(*error, "message", &out.message).ok()) out.message.clear();
  if (!kJson.ReadBool(*error, "retryable", &out.retryable).ok()) out.retryable = false;
  if (!kJson.ReadString(*error, "request_id", &out.request_id).ok()) out.request_id.clear();
  return out;
}

absl::StatusOr<std::string> ParseBeatraCreateAnswer(absl::string_view body) {
  rapidjson::Document doc;
  if (absl::Status s = kJson.ParseObject(body, doc); !s.ok()) return s;
  std::string task_id;
  if (absl::Status s = kJson.ReadString(doc, "task_id", &task_id); !s.ok()) return s;
  if (task_id.empty()) return kJson.Malformed("no `task_id`");
  return task_id;
}

absl::StatusOr<ProviderUpdate> ParseBeatraTask(absl::string_view body) {
  rapidjson::Document doc;
  if (absl::Status s = kJson.ParseObject(body, doc); !s.ok()) return s;
  ProviderUpdate update;
  if (absl::Status s = kJson.ReadRequiredString(doc, "status", &update.provider_status); !s.ok()) {
    return s;
  }
  update.state = MapBeatraStatus(update.provider_status).state;

  const Value* output = nullptr;
  const Value* clips = nullptr;
  const Value* usage = nullptr;
  const Value* usage_lines = nullptr;
  std::string ignored;
  for (absl::Status s :
       {kJson.ReadString(doc, "task_id", &update.provider_task_id),
        kJson.ReadObject(doc, "output", &output), kJson.ReadObject(doc, "usage", &usage),
        kJson.ReadString(doc, "started_at", &ignored),
        kJson.ReadString(doc, "completed_at", &ignored),
        kJson.ReadString(doc, "cancel_requested_at", &ignored)}) {
    if (!s.ok()) return s;
  }
  if (output != nullptr) {
    if (absl::Status s = kJson.ReadArray(*output, "clips", &clips); !s.ok()) return s;
  }
  // usage.lines[] itemises the charge; the amounts the ledger needs are in `billing`.
  if (usage != nullptr) {
    if (absl::Status s = kJson.ReadArray(*usage, "lines", &usage_lines); !s.ok()) return s;
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
  if (absl::Status s = kJson.ParseObject(body, doc); !s.ok()) return s;
  std::string artifact_id;
  if (absl::Status s = kJson.ReadString(doc, "artifact_id", &artifact_id); !s.ok()) return s;
  if (artifact_id.empty()) return kJson.Malformed("no `artifact_id`");
  return artifact_id;
}

}  // namespace music::adapters::beatra
