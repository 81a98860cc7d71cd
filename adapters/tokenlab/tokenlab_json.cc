// RapidJSON readers for TokenLab answers. Everything here is untrusted network input: every member
// is type-checked before use, and parsing is iterative so nesting depth cannot exhaust the stack.

#include "adapters/tokenlab/tokenlab_json.h"

#include <rapidjson/document.h>

#include <algorithm>
#include <cmath>
#include <initializer_list>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "adapters/internal/json_reader.h"
#include "adapters/tokenlab/tokenlab_status.h"

namespace music::adapters::tokenlab {
namespace {

using rapidjson::Value;

// 12 integer digits keep any amount's micros inside int64 (9.2e18).
constexpr int kMaxIntegerDigits = 12;
constexpr double kMaxAmount = 1e12;

constexpr internal::JsonReader kJson("TokenLab");

// An amount as a decimal string (exact) or a JSON number (rounded to micros after range checks).
absl::StatusOr<int64_t> ReadAmount(const Value& v, absl::string_view field) {
  if (v.IsString()) {
    absl::StatusOr<int64_t> micros =
        ParseDecimalMicros(absl::string_view(v.GetString(), v.GetStringLength()));
    if (!micros.ok()) return kJson.WrongType(field, "a decimal amount");
    return micros;
  }
  if (v.IsInt64()) {
    const int64_t whole = v.GetInt64();
    if (whole < 0 || whole >= static_cast<int64_t>(kMaxAmount)) {
      return kJson.WrongType(field, "an amount in range");
    }
    return whole * 1'000'000;
  }
  if (v.IsNumber()) {
    const double value = v.GetDouble();
    if (!std::isfinite(value) || value < 0 || value >= kMaxAmount) {
      return kJson.WrongType(field, "an amount in range");
    }
    return static_cast<int64_t>(std::llround(value * 1e6));
  }
  return kJson.WrongType(field, "an amount");
}

absl::Status ReadTaskRef(const Value& obj, TokenlabTaskRef* ref) {
  std::string id;
  for (absl::Status s :
       {kJson.ReadString(obj, "id", &id), kJson.ReadString(obj, "task_id", &ref->task_id),
        kJson.ReadString(obj, "status", &ref->status),
        kJson.ReadString(obj, "poll_url", &ref->poll_url),
        kJson.ReadString(obj, "model", &ref->model),
        kJson.ReadString(obj, "request_id", &ref->request_id),
        kJson.ReadString(obj, "billing_transaction_id", &ref->billing_transaction_id)}) {
    if (!s.ok()) return s;
  }
  if (!id.empty() && !ref->task_id.empty() && id != ref->task_id) {
    return kJson.Malformed("`id` and `task_id` differ");
  }
  if (ref->task_id.empty()) ref->task_id = std::move(id);
  return absl::OkStatus();
}

// One clip object: a `clips[]` entry or the task object itself (WIRE.md "Task object").
absl::Status ReadClip(const Value& obj, const char* id_key, music::v1::Clip* clip) {
  double duration = 0;
  for (absl::Status s :
       {kJson.ReadString(obj, id_key, clip->mutable_clip_id()),
        kJson.ReadString(obj, "audio_url", clip->mutable_audio_url()),
        kJson.ReadString(obj, "stream_audio_url", clip->mutable_stream_audio_url()),
        kJson.ReadString(obj, "image_url", clip->mutable_image_url()),
        kJson.ReadString(obj, "video_url", clip->mutable_video_url()),
        kJson.ReadString(obj, "title", clip->mutable_title()),
        kJson.ReadString(obj, "tags", clip->mutable_tags()),
        kJson.ReadString(obj, "lyrics", clip->mutable_lyrics()),
        kJson.ReadString(obj, "model", clip->mutable_model_name()),
        kJson.ReadString(obj, "artifact_id", clip->mutable_artifact_id()),
        kJson.ReadNumber(obj, "duration", &duration)}) {
    if (!s.ok()) return s;
  }
  if (duration < 0) return kJson.WrongType("duration", "a non-negative number");
  clip->set_duration_seconds(duration);
  return absl::OkStatus();
}

absl::Status ReadClips(const Value& task, const std::string& task_id, ProviderUpdate& update) {
  if (const Value* clips = kJson.Find(task, "clips"); clips != nullptr) {
    if (!clips->IsArray()) return kJson.WrongType("clips", "an array");
    for (const Value& item : clips->GetArray()) {
      if (!item.IsObject()) return kJson.WrongType("clip", "an object");
      music::v1::Clip clip;
      if (absl::Status s = ReadClip(item, "id", &clip); !s.ok()) return s;
      if (clip.clip_id().empty()) {
        if (absl::Status s = kJson.ReadString(item, "clip_id", clip.mutable_clip_id()); !s.ok()) {
          return s;
        }
      }
      if (clip.clip_id().empty()) return kJson.Malformed("a clip without `id`");
      update.clips.push_back(std::move(clip));
    }
    return absl::OkStatus();
  }
  // No list: the task object is the one clip. Its public identity is `clip_id`, else the task id
  // (seed 000: "Store the previous public clip/task identity").
  music::v1::Clip clip;
  if (absl::Status s = ReadClip(task, "clip_id", &clip); !s.ok()) return s;
  const bool has_media = !clip.audio_url().empty() || !clip.stream_audio_url().empty() ||
                         !clip.video_url().empty() || !clip.image_url().empty();
  if (!has_media && update.state != ProviderState::kSucceeded) return absl::OkStatus();
  if (clip.clip_id().empty()) clip.set_clip_id(task_id);
  update.clips.push_back(std::move(clip));
  return absl::OkStatus();
}

absl::Status ReadLyrics(const Value& task, ProviderUpdate& update) {
  music::v1::LyricVariant variant;
  for (absl::Status s : {kJson.ReadString(task, "lyrics", variant.mutable_text()),
                         kJson.ReadString(task, "title", variant.mutable_title())}) {
    if (!s.ok()) return s;
  }
  if (variant.text().empty()) {
    if (absl::Status s = kJson.ReadString(task, "text", variant.mutable_text()); !s.ok()) return s;
  }
  if (!variant.text().empty()) update.lyric_variants.push_back(std::move(variant));
  return absl::OkStatus();
}

absl::Status ReadProgress(const Value& task, ProviderUpdate& update) {
  const Value* progress = kJson.Find(task, "progress");
  if (progress == nullptr) return absl::OkStatus();
  double percent = -1;
  if (progress->IsNumber()) {
    percent = progress->GetDouble();
  } else if (progress->IsObject()) {
    if (const Value* p = kJson.Find(*progress, "percent"); p != nullptr) {
      if (!p->IsNumber()) return kJson.WrongType("progress.percent", "a number");
      percent = p->GetDouble();
    }
    for (absl::Status s : {kJson.ReadString(*progress, "stage", &update.progress_stage),
                           kJson.ReadString(*progress, "message", &update.progress_message)}) {
      if (!s.ok()) return s;
    }
  } else {
    return kJson.WrongType("progress", "a number or an object");
  }
  if (!std::isfinite(percent)) return kJson.WrongType("progress", "a finite number");
  if (percent >= 0) {
    update.progress_percent = static_cast<int32_t>(std::min(100.0, std::floor(percent)));
  }
  return absl::OkStatus();
}

absl::Status ReadError(const Value& task, ProviderUpdate& update) {
  const Value* error = kJson.Find(task, "error");
  if (error == nullptr) return absl::OkStatus();
  if (error->IsString()) {
    update.error_message.assign(error->GetString(), error->GetStringLength());
    return absl::OkStatus();
  }
  if (!error->IsObject()) return kJson.WrongType("error", "an object or a string");
  for (absl::Status s : {kJson.ReadCode(*error, "code", &update.provider_error_code),
                         kJson.ReadString(*error, "message", &update.error_message)}) {
    if (!s.ok()) return s;
  }
  return absl::OkStatus();
}

// `billing {currency, reserved, charged, refunded}` (WIRE.md "Billing"). An unknown currency is
// ignored rather than guessed at; wrong types are malformed.
absl::Status ReadBilling(const Value& task, ProviderUpdate& update) {
  const Value* billing = kJson.Find(task, "billing");
  if (billing == nullptr) return absl::OkStatus();
  if (!billing->IsObject()) return kJson.WrongType("billing", "an object");
  std::string currency;
  if (absl::Status s = kJson.ReadString(*billing, "currency", &currency); !s.ok()) return s;
  int64_t charged = 0;
  int64_t refunded = 0;
  for (auto [name, out] : {std::pair<const char*, int64_t*>{"charged", &charged},
                           std::pair<const char*, int64_t*>{"refunded", &refunded}}) {
    const Value* v = kJson.Find(*billing, name);
    if (v == nullptr) continue;
    absl::StatusOr<int64_t> micros = ReadAmount(*v, absl::StrCat("billing.", name));
    if (!micros.ok()) return micros.status();
    *out = *micros;
  }
  currency = absl::AsciiStrToUpper(currency);
  if (currency != "USD" && currency != "CREDITS") return absl::OkStatus();
  update.has_billing = true;
  update.billing_currency = currency;
  update.charged_micros = charged;
  update.refunded_micros = refunded;
  return absl::OkStatus();
}

}  // namespace

std::optional<TokenlabError> ParseTokenlabError(absl::string_view body) {
  rapidjson::Document doc;
  if (!kJson.ParseObject(body, doc).ok()) return std::nullopt;
  TokenlabError out;
  const Value* error = kJson.Find(doc, "error");
  if (error != nullptr && error->IsString()) {
    out.message.assign(error->GetString(), error->GetStringLength());
    return out;
  }
  const Value& holder = error != nullptr && error->IsObject() ? *error : doc;
  // A member of the wrong type is dropped rather than losing the rest of the envelope.
  if (!kJson.ReadCode(holder, "code", &out.code).ok()) out.code.clear();
  if (!kJson.ReadString(holder, "message", &out.message).ok()) out.message.clear();
  if (out.code.empty() && out.message.empty()) return std::nullopt;
  return out;
}

absl::StatusOr<TokenlabTaskRef> ParseTokenlabCreateAnswer(absl::string_view body) {
  rapidjson::Document doc;
  if (absl::Status s = kJson.ParseObject(body, doc); !s.ok()) return s;
  TokenlabTaskRef ref;
  if (absl::Status s = ReadTaskRef(doc, &ref); !s.ok()) return s;
  if (ref.task_id.empty()) return kJson.Malformed("no `id` / `task_id`");
  return ref;
}

absl::StatusOr<ProviderUpdate> ParseTokenlabTask(absl::string_view body, bool lyrics_task) {
  rapidjson::Document doc;
  if (absl::Status s = kJson.ParseObject(body, doc); !s.ok()) return s;
  TokenlabTaskRef ref;
  if (absl::Status s = ReadTaskRef(doc, &ref); !s.ok()) return s;
  const Value* status = kJson.Find(doc, "status");
  if (status == nullptr || !status->IsString()) return kJson.WrongType("status", "a string");

  ProviderUpdate update;
  update.provider_task_id = ref.task_id;
  update.provider_status = ref.status;
  update.provider_billing_transaction_id = ref.billing_transaction_id;
  bool cancelled = false;
  std::string cancellation_status;
  for (absl::Status s : {kJson.ReadBool(doc, "cancelled", &cancelled),
                         kJson.ReadString(doc, "cancellation_status", &cancellation_status)}) {
    if (!s.ok()) return s;
  }
  cancelled = cancelled || absl::EqualsIgnoreCase(cancellation_status, "cancelled") ||
              absl::EqualsIgnoreCase(cancellation_status, "canceled");
  update.state = MapTokenlabStatus(ref.status, cancelled).state;

  for (absl::Status s :
       {ReadProgress(doc, update), ReadError(doc, update), ReadBilling(doc, update)}) {
    if (!s.ok()) return s;
  }
  if (lyrics_task) {
    if (absl::Status s = ReadLyrics(doc, update); !s.ok()) return s;
  } else {
    if (absl::Status s = ReadClips(doc, ref.task_id, update); !s.ok()) return s;
  }

  switch (update.state) {
    case ProviderState::kFailed:
      update.error_code = TokenlabFailureCode(update.provider_error_code);
      if (update.error_message.empty()) {
        update.error_message =
            update.provider_error_code.empty()
                ? "TokenLab task failed"
                : absl::StrCat("TokenLab task failed: ", update.provider_error_code);
      }
      break;
    case ProviderState::kCanceled:
      update.error_code = absl::StatusCode::kCancelled;
      if (update.error_message.empty()) update.error_message = "canceled at TokenLab";
      break;
    case ProviderState::kRunning:
      update.first_clip_ready =
          std::any_of(update.clips.begin(), update.clips.end(),
                      [](const music::v1::Clip& c) { return !c.audio_url().empty(); });
      break;
    default:
      break;
  }
  return update;
}

namespace {

// An operation name as listed, lower-cased with `-` and spaces as `_` ("Generate Lyrics" ->
// "generate_lyrics"): the notes give the member names, not the vocabulary.
std::string OperationKey(absl::string_view name) {
  std::string key = absl::AsciiStrToLower(name);
  std::replace(key.begin(), key.end(), '-', '_');
  std::replace(key.begin(), key.end(), ' ', '_');
  return key;
}

bool IsOneOf(const std::string& key, std::initializer_list<absl::string_view> names) {
  return std::find(names.begin(), names.end(), key) != names.end();
}

// Applies one listed operation to `info` (see TokenlabModelInfo).
void ApplyOperation(absl::string_view name, TokenlabModelInfo* info) {
  const std::string key = OperationKey(name);
  if (IsOneOf(key, {"lyrics", "lyric", "generate_lyrics", "lyrics_generation", "lyric_generation",
                    "lyrics_only"})) {
    info->lyrics = true;
  } else if (IsOneOf(key, {"music", "generate_music", "music_generation", "song"})) {
    info->music = true;
  } else if (IsOneOf(key, {"continuation", "continue", "continue_clip", "extend"})) {
    info->continuation = true;
  } else if (IsOneOf(key, {"instrumental"})) {
    info->instrumental = true;
  }
}

// `lemondata.supported_operations` / `lemondata.capability_flags` (CONTRACT-NOTES "TokenLab"):
// an array of names, or an object of name -> boolean (only `true` counts). The notes give
// neither shape, so both are read.
absl::Status ReadOperations(const Value& lemondata, const char* member, TokenlabModelInfo* info,
                            bool* listed) {
  const Value* ops = kJson.Find(lemondata, member);
  if (ops == nullptr || ops->IsNull()) return absl::OkStatus();
  const std::string field = absl::StrCat("lemondata.", member);
  if (ops->IsArray()) {
    for (const Value& op : ops->GetArray()) {
      if (!op.IsString()) return kJson.WrongType(absl::StrCat(field, "[]"), "a string");
      ApplyOperation(absl::string_view(op.GetString(), op.GetStringLength()), info);
    }
  } else if (ops->IsObject()) {
    for (const auto& flag : ops->GetObject()) {
      if (!flag.value.IsBool()) {
        return kJson.WrongType(absl::StrCat(field, ".", flag.name.GetString()), "a boolean");
      }
      if (flag.value.GetBool()) {
        ApplyOperation(absl::string_view(flag.name.GetString(), flag.name.GetStringLength()),
                       info);
      }
    }
  } else {
    return kJson.WrongType(field, "an array or an object");
  }
  *listed = true;
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<std::vector<TokenlabModelInfo>> ParseTokenlabModels(absl::string_view body) {
  rapidjson::Document doc;
  if (absl::Status s = kJson.ParseObject(body, doc); !s.ok()) return s;
  const Value* data = kJson.Find(doc, "data");
  if (data == nullptr || !data->IsArray()) return kJson.WrongType("data", "an array");
  std::vector<TokenlabModelInfo> out;
  for (const Value& item : data->GetArray()) {
    if (!item.IsObject()) return kJson.WrongType("data[]", "an object");
    TokenlabModelInfo info;
    if (absl::Status s = kJson.ReadString(item, "id", &info.id); !s.ok()) return s;
    if (info.id.empty()) return kJson.Malformed("a model without `id`");
    const Value* lemondata = kJson.Find(item, "lemondata");
    if (lemondata != nullptr && !lemondata->IsNull()) {
      if (!lemondata->IsObject()) return kJson.WrongType("lemondata", "an object");
      bool listed = false;
      for (const char* member : {"supported_operations", "capability_flags"}) {
        if (absl::Status s = ReadOperations(*lemondata, member, &info, &listed); !s.ok()) return s;
      }
      // Seed 000: lyrics need "a model whose public contract documents lyric generation", so a
      // model that lists its operations without one is not lyrics-capable.
      if (listed && !info.lyrics.has_value()) info.lyrics = false;
    }
    out.push_back(std::move(info));
  }
  return out;
}

absl::StatusOr<int64_t> ParseDecimalMicros(absl::string_view text) {
  const absl::Status bad = absl::InvalidArgumentError("not a non-negative decimal amount");
  const size_t dot = text.find('.');
  const absl::string_view whole = text.substr(0, dot);
  const absl::string_view fraction =
      dot == absl::string_view::npos ? absl::string_view() : text.substr(dot + 1);
  if (whole.empty() || whole.size() > kMaxIntegerDigits) return bad;
  if (dot != absl::string_view::npos && fraction.empty()) return bad;
  int64_t micros = 0;
  for (char c : whole) {
    if (!absl::ascii_isdigit(static_cast<unsigned char>(c))) return bad;
    micros = micros * 10 + (c - '0');
  }
  for (size_t i = 0; i < 6; ++i) {
    const char c = i < fraction.size() ? fraction[i] : '0';
    if (!absl::ascii_isdigit(static_cast<unsigned char>(c))) return bad;
    micros = micros * 10 + (c - '0');
  }
  for (size_t i = 6; i < fraction.size(); ++i) {
    if (!absl::ascii_isdigit(static_cast<unsigned char>(fraction[i]))) return bad;
  }
  if (fraction.size() > 6 && fraction[6] >= '5') ++micros;  // half-up on the 7th decimal
  return micros;
}

}  // namespace music::adapters::tokenlab
