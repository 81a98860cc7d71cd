// RapidJSON readers for PiAPI answers and webhooks. Everything here is untrusted network input:
// every member is type-checked before use, and parsing is iterative so nesting depth cannot
// exhaust the stack.

#include "adapters/piapi/piapi_json.h"

#include <rapidjson/document.h>
#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

#include <cmath>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "adapters/internal/json_reader.h"
#include "adapters/piapi/piapi_status.h"

namespace music::adapters::piapi {
namespace {

using rapidjson::Value;

constexpr internal::JsonReader kJson("PiAPI");

// An error code documented as an integer; an integer string is accepted too.
absl::Status ReadCode(const Value& obj, const char* name, std::optional<int64_t>* out) {
  const Value* v = kJson.Find(obj, name);
  out->reset();
  if (v == nullptr) return absl::OkStatus();
  int64_t code = 0;
  if (v->IsInt64()) {
    *out = v->GetInt64();
  } else if (v->IsString() &&
             absl::SimpleAtoi(absl::string_view(v->GetString(), v->GetStringLength()), &code)) {
    *out = code;
  } else {
    return kJson.WrongType(name, "an integer");
  }
  return absl::OkStatus();
}

// `tags`: a string (Suno-style clips) or an array of strings (Udio songs), joined with ", ".
// The JsonReader contract: "" when absent or null.
absl::Status ReadTags(const Value& obj, const char* name, std::string* out) {
  out->clear();
  const Value* v = kJson.Find(obj, name);
  if (v == nullptr) return absl::OkStatus();
  if (v->IsString()) return kJson.ReadString(obj, name, out);
  if (!v->IsArray()) return kJson.WrongType(name, "a string or an array of strings");
  std::vector<std::string> tags;
  for (const Value& tag : v->GetArray()) {
    if (!tag.IsString()) return kJson.WrongType(name, "a string or an array of strings");
    tags.emplace_back(tag.GetString(), tag.GetStringLength());
  }
  *out = absl::StrJoin(tags, ", ");
  return absl::OkStatus();
}

// One clip object; `key` is its key in the `clips` map ("" in the list forms). Returns false in
// *keep for the documented empty placeholder `{}` and for a clip without any id.
absl::Status ReadClip(const Value& item, absl::string_view key, music::v1::Clip* clip, bool* keep) {
  *keep = false;
  if (!item.IsObject()) return kJson.WrongType("clip", "an object");
  if (item.MemberCount() == 0) return absl::OkStatus();  // seed 003: "<id>": {}
  const Value* metadata = nullptr;
  // Seed 003 clips (Suno-style): id, audio_url, video_url, image_url / image_large_url,
  // model_name, title, metadata {tags, prompt, duration}. The Udio list form (WIRE.md) names the
  // id `song_id`, the audio `song_path` and the image `image_path`, with top-level lyrics, tags[]
  // and duration. Where both forms name a field, the Suno-style member wins when set.
  for (absl::Status s :
       {kJson.ReadFirstString(item, {"id", "song_id"}, clip->mutable_clip_id()),
        kJson.ReadFirstString(item, {"audio_url", "song_path"}, clip->mutable_audio_url()),
        kJson.ReadString(item, "stream_audio_url", clip->mutable_stream_audio_url()),
        kJson.ReadFirstString(item, {"image_url", "image_path", "image_large_url"},
                              clip->mutable_image_url()),
        kJson.ReadString(item, "video_url", clip->mutable_video_url()),
        kJson.ReadString(item, "title", clip->mutable_title()),
        kJson.ReadString(item, "model_name", clip->mutable_model_name()),
        kJson.ReadObject(item, "metadata", &metadata)}) {
    if (!s.ok()) return s;
  }
  std::string metadata_tags, metadata_lyrics, tags, lyrics;
  std::optional<double> metadata_duration, duration;
  if (metadata != nullptr) {
    for (absl::Status s : {ReadTags(*metadata, "tags", &metadata_tags),
                           kJson.ReadString(*metadata, "prompt", &metadata_lyrics),
                           kJson.ReadNumber(*metadata, "duration", &metadata_duration)}) {
      if (!s.ok()) return s;
    }
  }
  for (absl::Status s : {ReadTags(item, "tags", &tags), kJson.ReadString(item, "lyrics", &lyrics),
                         kJson.ReadNumber(item, "duration", &duration)}) {
    if (!s.ok()) return s;
  }
  // Top-level members (the Udio form) win over `metadata` when set.
  clip->set_tags(!tags.empty() ? std::move(tags) : std::move(metadata_tags));
  clip->set_lyrics(!lyrics.empty() ? std::move(lyrics) : std::move(metadata_lyrics));
  const double seconds = duration.value_or(metadata_duration.value_or(0));
  if (seconds < 0) return kJson.Malformed("`duration` is out of range");
  clip->set_duration_seconds(seconds);
  // The map's key is the clip id when `id` is empty (seed 003 example: "id": "").
  if (clip->clip_id().empty()) clip->set_clip_id(std::string(key));
  *keep = !clip->clip_id().empty();
  return absl::OkStatus();
}

absl::Status ReadClipList(const Value& list, std::vector<music::v1::Clip>* out) {
  for (const Value& item : list.GetArray()) {
    music::v1::Clip clip;
    bool keep = false;
    if (absl::Status s = ReadClip(item, "", &clip, &keep); !s.ok()) return s;
    if (keep) out->push_back(std::move(clip));
  }
  return absl::OkStatus();
}

// `data.output`: {"clips": {id: clip, ...}} (seed 003) or {"clips": [clip, ...]} /
// {"songs": [song, ...]} (the list forms).
absl::Status ReadOutput(const Value& output, std::vector<music::v1::Clip>* out) {
  if (const Value* clips = kJson.Find(output, "clips"); clips != nullptr) {
    if (clips->IsObject()) {
      for (const auto& member : clips->GetObject()) {
        music::v1::Clip clip;
        bool keep = false;
        const absl::string_view key(member.name.GetString(), member.name.GetStringLength());
        if (absl::Status s = ReadClip(member.value, key, &clip, &keep); !s.ok()) return s;
        if (keep) out->push_back(std::move(clip));
      }
    } else if (clips->IsArray()) {
      if (absl::Status s = ReadClipList(*clips, out); !s.ok()) return s;
    } else {
      return kJson.WrongType("clips", "an object or an array");
    }
  }
  if (const Value* songs = kJson.Find(output, "songs"); songs != nullptr) {
    if (!songs->IsArray()) return kJson.WrongType("songs", "an array");
    if (absl::Status s = ReadClipList(*songs, out); !s.ok()) return s;
  }
  return absl::OkStatus();
}

// `data.output.lyrics_pairs[{title, text}]` of a `generate_lyrics` task (CONTRACT-NOTES "PiAPI").
absl::Status ReadLyricsPairs(const Value& output, std::vector<music::v1::LyricVariant>* out) {
  const Value* pairs = kJson.Find(output, "lyrics_pairs");
  if (pairs == nullptr) return absl::OkStatus();
  if (!pairs->IsArray()) return kJson.WrongType("lyrics_pairs", "an array");
  for (const Value& pair : pairs->GetArray()) {
    if (!pair.IsObject()) return kJson.WrongType("lyrics_pairs[]", "an object");
    std::string title, text;
    for (absl::Status s :
         {kJson.ReadString(pair, "title", &title), kJson.ReadString(pair, "text", &text)}) {
      if (!s.ok()) return s;
    }
    if (text.empty()) continue;
    music::v1::LyricVariant variant;
    variant.set_title(std::move(title));
    variant.set_text(std::move(text));
    out->push_back(std::move(variant));
  }
  return absl::OkStatus();
}

// `data.meta.usage {type, frozen, consume}`. CONTRACT-NOTES "PiAPI": "The unit of
// `meta.usage.consume` is not documented: do not book it as money without a configured
// conversion". Without `usd_per_unit` the usage is only checked for type, never billed; with it,
// consume * usd_per_unit USD is the provider's charge (0 on failure: "a failed freeze answers
// error code 10000 with `consume: 0`").
absl::Status ReadUsage(const Value& meta, std::optional<double> usd_per_unit,
                       ProviderUpdate& update) {
  const Value* usage = nullptr;
  if (absl::Status s = kJson.ReadObject(meta, "usage", &usage); !s.ok()) return s;
  if (usage == nullptr) return absl::OkStatus();
  std::optional<double> consume;
  if (absl::Status s = kJson.ReadNumber(*usage, "consume", &consume); !s.ok()) return s;
  if (!consume) return absl::OkStatus();
  if (!std::isfinite(*consume) || *consume < 0) {
    return kJson.Malformed("`consume` is out of range");
  }
  if (!usd_per_unit) return absl::OkStatus();
  std::optional<int64_t> micros = UsdToMicros(*consume * *usd_per_unit);
  if (!micros) return kJson.Malformed("`consume` is out of range");
  update.has_billing = true;
  update.charged_micros = *micros;
  update.billing_currency = "USD";
  return absl::OkStatus();
}

// The Get Task `data` object, shared by poll answers and webhooks.
absl::Status ReadTaskData(const Value& data, std::optional<double> usd_per_unit,
                          ProviderUpdate& update) {
  if (absl::Status s = kJson.ReadRequiredString(data, "status", &update.provider_status); !s.ok()) {
    return s;
  }
  const Value* output = nullptr;
  const Value* meta = nullptr;
  const Value* error = nullptr;
  for (absl::Status s :
       {kJson.ReadString(data, "task_id", &update.provider_task_id),
        kJson.ReadObject(data, "output", &output), kJson.ReadObject(data, "meta", &meta),
        kJson.ReadObject(data, "error", &error)}) {
    if (!s.ok()) return s;
  }
  const PiapiStatusInfo info = MapPiapiStatus(update.provider_status);
  update.state = info.state;
  // A webhook's "completed" and a poll's "Completed" are the same stage: one spelling, so the
  // service does not record a new task version for a change of case.
  if (info.known) update.provider_status = std::string(info.canonical);
  if (output != nullptr) {
    if (absl::Status s = ReadOutput(*output, &update.clips); !s.ok()) return s;
    if (absl::Status s = ReadLyricsPairs(*output, &update.lyric_variants); !s.ok()) return s;
  }
  if (meta != nullptr) {
    if (absl::Status s = ReadUsage(*meta, usd_per_unit, update); !s.ok()) return s;
  }
  std::optional<int64_t> error_code;
  std::string error_message;
  if (error != nullptr) {
    // `message`, else `raw_message`.
    for (absl::Status s :
         {ReadCode(*error, "code", &error_code),
          kJson.ReadFirstString(*error, {"message", "raw_message"}, &error_message)}) {
      if (!s.ok()) return s;
    }
  }
  if (update.state == ProviderState::kFailed) {
    const int64_t code = error_code.value_or(0);
    update.error_code = PiapiTaskErrorCode(code);
    if (code != 0) update.provider_error_code = absl::StrCat(code);
    update.error_message = error_message.empty()
                               ? absl::StrCat("PiAPI task ", update.provider_status)
                               : std::move(error_message);
  }
  return absl::OkStatus();
}

absl::Status AsInvalidArgument(const absl::Status& status) {
  return absl::InvalidArgumentError(absl::StrCat("malformed PiAPI webhook: ", status.message()));
}

}  // namespace

std::optional<int64_t> UsdToMicros(double usd) {
  if (!std::isfinite(usd) || usd < 0 || usd > 1e9) return std::nullopt;
  return std::llround(usd * 1e6);
}

std::optional<PiapiEnvelope> ParsePiapiEnvelope(absl::string_view body) {
  rapidjson::Document doc;
  if (!kJson.ParseObject(body, doc).ok()) return std::nullopt;
  PiapiEnvelope envelope;
  // Lenient: a wrong type is not worth losing the rest of the envelope over.
  if (!ReadCode(doc, "code", &envelope.code).ok()) envelope.code.reset();
  if (!kJson.ReadString(doc, "message", &envelope.message).ok()) envelope.message.clear();
  const Value* data = kJson.Find(doc, "data");
  const Value* error = data != nullptr && data->IsObject() ? kJson.Find(*data, "error") : nullptr;
  if (error != nullptr && error->IsObject()) {
    if (!ReadCode(*error, "code", &envelope.error_code).ok()) envelope.error_code.reset();
    std::string message;
    if (kJson.ReadFirstString(*error, {"message", "raw_message"}, &message).ok()) {
      envelope.error_message = std::move(message);
    }
  }
  return envelope;
}

absl::StatusOr<std::string> ParsePiapiCreateAnswer(absl::string_view body) {
  rapidjson::Document doc;
  if (absl::Status s = kJson.ParseObject(body, doc); !s.ok()) return s;
  std::optional<int64_t> code;
  if (absl::Status s = ReadCode(doc, "code", &code); !s.ok()) return s;
  if (code && *code != 200) return kJson.Malformed(absl::StrCat("`code` is ", *code));
  const Value* data = nullptr;
  if (absl::Status s = kJson.ReadObject(doc, "data", &data); !s.ok()) return s;
  if (data == nullptr) return kJson.Malformed("no `data`");
  std::string task_id;
  if (absl::Status s = kJson.ReadString(*data, "task_id", &task_id); !s.ok()) return s;
  if (task_id.empty()) return kJson.Malformed("no `data.task_id`");
  return task_id;
}

absl::StatusOr<ProviderUpdate> ParsePiapiTaskAnswer(absl::string_view body,
                                                    std::optional<double> consume_usd_per_unit) {
  rapidjson::Document doc;
  if (absl::Status s = kJson.ParseObject(body, doc); !s.ok()) return s;
  std::optional<int64_t> code;
  if (absl::Status s = ReadCode(doc, "code", &code); !s.ok()) return s;
  if (!code) return kJson.WrongType("code", "an integer");
  if (*code != 200) return kJson.Malformed(absl::StrCat("`code` is ", *code));
  const Value* data = nullptr;
  if (absl::Status s = kJson.ReadObject(doc, "data", &data); !s.ok()) return s;
  if (data == nullptr) return kJson.Malformed("no `data`");
  ProviderUpdate update;
  if (absl::Status s = ReadTaskData(*data, consume_usd_per_unit, update); !s.ok()) return s;
  return update;
}

absl::StatusOr<PiapiCallback> ParsePiapiCallback(absl::string_view body,
                                                 std::optional<double> consume_usd_per_unit) {
  rapidjson::Document doc;
  if (absl::Status s = kJson.ParseObject(body, doc); !s.ok()) return AsInvalidArgument(s);
  PiapiCallback callback;
  const Value* timestamp = kJson.Find(doc, "timestamp");
  if (timestamp == nullptr || !timestamp->IsNumber()) {
    return AsInvalidArgument(kJson.WrongType("timestamp", "a number"));
  }
  if (timestamp->IsInt64()) {
    callback.timestamp = absl::StrCat(timestamp->GetInt64());
  } else if (timestamp->IsUint64()) {
    callback.timestamp = absl::StrCat(timestamp->GetUint64());
  } else {
    // The shortest text that reads back as the same double: two different timestamps never
    // collapse into one key (absl::StrCat would keep only 6 significant digits).
    rapidjson::StringBuffer buffer;
    rapidjson::Writer<rapidjson::StringBuffer> writer(buffer);
    timestamp->Accept(writer);
    callback.timestamp.assign(buffer.GetString(), buffer.GetSize());
  }
  const Value* data = nullptr;
  if (absl::Status s = kJson.ReadObject(doc, "data", &data); !s.ok()) return AsInvalidArgument(s);
  if (data == nullptr) return AsInvalidArgument(kJson.Malformed("no `data`"));
  if (absl::Status s = ReadTaskData(*data, consume_usd_per_unit, callback.update); !s.ok()) {
    return AsInvalidArgument(s);
  }
  if (callback.update.provider_task_id.empty()) {
    return AsInvalidArgument(kJson.Malformed("no `data.task_id`"));
  }
  return callback;
}

}  // namespace music::adapters::piapi
