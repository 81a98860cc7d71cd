// RapidJSON readers for PiAPI answers and webhooks. Everything here is untrusted network input:
// every member is type-checked before use, and parsing is iterative so nesting depth cannot
// exhaust the stack.

#include "adapters/piapi/piapi_json.h"

#include <rapidjson/document.h>
#include <rapidjson/error/en.h>
#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

#include <cmath>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "adapters/piapi/piapi_status.h"

namespace music::adapters::piapi {
namespace {

using rapidjson::Value;

absl::Status Malformed(absl::string_view what) {
  return absl::InternalError(absl::StrCat("PiAPI sent a malformed answer: ", what));
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

// `obj` must be an object. nullptr when the member is absent or null.
const Value* Find(const Value& obj, const char* name) {
  auto it = obj.FindMember(name);
  if (it == obj.MemberEnd() || it->value.IsNull()) return nullptr;
  return &it->value;
}

absl::Status ReadString(const Value& obj, const char* name, std::string* out) {
  const Value* v = Find(obj, name);
  if (v == nullptr) return absl::OkStatus();  // keeps *out (a fallback may have set it)
  if (!v->IsString()) return WrongType(name, "a string");
  if (v->GetStringLength() > 0) out->assign(v->GetString(), v->GetStringLength());
  return absl::OkStatus();
}

absl::Status ReadNumber(const Value& obj, const char* name, double* out) {
  const Value* v = Find(obj, name);
  if (v == nullptr) return absl::OkStatus();
  if (!v->IsNumber()) return WrongType(name, "a number");
  *out = v->GetDouble();
  return absl::OkStatus();
}

absl::Status ReadObject(const Value& obj, const char* name, const Value** out) {
  *out = Find(obj, name);
  if (*out != nullptr && !(*out)->IsObject()) return WrongType(name, "an object");
  return absl::OkStatus();
}

// An error code documented as an integer; an integer string is accepted too.
absl::Status ReadCode(const Value& obj, const char* name, std::optional<int64_t>* out) {
  const Value* v = Find(obj, name);
  out->reset();
  if (v == nullptr) return absl::OkStatus();
  int64_t code = 0;
  if (v->IsInt64()) {
    *out = v->GetInt64();
  } else if (v->IsString() &&
             absl::SimpleAtoi(absl::string_view(v->GetString(), v->GetStringLength()), &code)) {
    *out = code;
  } else {
    return WrongType(name, "an integer");
  }
  return absl::OkStatus();
}

// `tags`: a string (Suno-style clips) or an array of strings (Udio songs).
absl::Status ReadTags(const Value& obj, const char* name, std::string* out) {
  const Value* v = Find(obj, name);
  if (v == nullptr) return absl::OkStatus();
  if (v->IsString()) return ReadString(obj, name, out);
  if (!v->IsArray()) return WrongType(name, "a string or an array of strings");
  std::vector<std::string> tags;
  for (const Value& tag : v->GetArray()) {
    if (!tag.IsString()) return WrongType(name, "a string or an array of strings");
    tags.emplace_back(tag.GetString(), tag.GetStringLength());
  }
  if (!tags.empty()) *out = absl::StrJoin(tags, ", ");
  return absl::OkStatus();
}

// One clip object; `key` is its key in the `clips` map ("" in the list forms). Returns false in
// *keep for the documented empty placeholder `{}` and for a clip without any id.
absl::Status ReadClip(const Value& item, absl::string_view key, music::v1::Clip* clip, bool* keep) {
  *keep = false;
  if (!item.IsObject()) return WrongType("clip", "an object");
  if (item.MemberCount() == 0) return absl::OkStatus();  // seed 003: "<id>": {}
  const Value* metadata = nullptr;
  double duration = 0;
  // Seed 003 clips (Suno-style): id, audio_url, video_url, image_url / image_large_url,
  // model_name, title, metadata {tags, prompt, duration}. The Udio list form (WIRE.md) names the
  // audio `song_path` and the image `image_path`, with top-level lyrics, tags[] and duration.
  for (absl::Status s : {ReadString(item, "song_id", clip->mutable_clip_id()),
                         ReadString(item, "id", clip->mutable_clip_id()),
                         ReadString(item, "song_path", clip->mutable_audio_url()),
                         ReadString(item, "audio_url", clip->mutable_audio_url()),
                         ReadString(item, "stream_audio_url", clip->mutable_stream_audio_url()),
                         ReadString(item, "image_large_url", clip->mutable_image_url()),
                         ReadString(item, "image_path", clip->mutable_image_url()),
                         ReadString(item, "image_url", clip->mutable_image_url()),
                         ReadString(item, "video_url", clip->mutable_video_url()),
                         ReadString(item, "title", clip->mutable_title()),
                         ReadString(item, "model_name", clip->mutable_model_name()),
                         ReadObject(item, "metadata", &metadata)}) {
    if (!s.ok()) return s;
  }
  if (metadata != nullptr) {
    for (absl::Status s : {ReadTags(*metadata, "tags", clip->mutable_tags()),
                           ReadString(*metadata, "prompt", clip->mutable_lyrics()),
                           ReadNumber(*metadata, "duration", &duration)}) {
      if (!s.ok()) return s;
    }
  }
  for (absl::Status s : {ReadTags(item, "tags", clip->mutable_tags()),
                         ReadString(item, "lyrics", clip->mutable_lyrics()),
                         ReadNumber(item, "duration", &duration)}) {
    if (!s.ok()) return s;
  }
  if (!std::isfinite(duration) || duration < 0) return Malformed("`duration` is out of range");
  clip->set_duration_seconds(duration);
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
  if (const Value* clips = Find(output, "clips"); clips != nullptr) {
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
      return WrongType("clips", "an object or an array");
    }
  }
  if (const Value* songs = Find(output, "songs"); songs != nullptr) {
    if (!songs->IsArray()) return WrongType("songs", "an array");
    if (absl::Status s = ReadClipList(*songs, out); !s.ok()) return s;
  }
  return absl::OkStatus();
}

// `data.meta.usage {type, frozen, consume}`: consume is what was charged, in USD (CONTRACT-NOTES
// "PiAPI"; 0 on failure).
absl::Status ReadUsage(const Value& meta, ProviderUpdate& update) {
  const Value* usage = nullptr;
  if (absl::Status s = ReadObject(meta, "usage", &usage); !s.ok()) return s;
  if (usage == nullptr) return absl::OkStatus();
  const Value* consume = Find(*usage, "consume");
  if (consume == nullptr) return absl::OkStatus();
  if (!consume->IsNumber()) return WrongType("consume", "a number");
  std::optional<int64_t> micros = UsdToMicros(consume->GetDouble());
  if (!micros) return Malformed("`consume` is out of range");
  update.has_billing = true;
  update.charged_micros = *micros;
  update.billing_currency = "USD";
  return absl::OkStatus();
}

// The Get Task `data` object, shared by poll answers and webhooks.
absl::Status ReadTaskData(const Value& data, ProviderUpdate& update) {
  const Value* status = Find(data, "status");
  if (status == nullptr || !status->IsString()) return WrongType("status", "a string");
  update.provider_status.assign(status->GetString(), status->GetStringLength());
  const Value* output = nullptr;
  const Value* meta = nullptr;
  const Value* error = nullptr;
  for (absl::Status s :
       {ReadString(data, "task_id", &update.provider_task_id), ReadObject(data, "output", &output),
        ReadObject(data, "meta", &meta), ReadObject(data, "error", &error)}) {
    if (!s.ok()) return s;
  }
  const PiapiStatusInfo info = MapPiapiStatus(update.provider_status);
  update.state = info.state;
  // A webhook's "completed" and a poll's "Completed" are the same stage: one spelling, so the
  // service does not record a new task version for a change of case.
  if (info.known) update.provider_status = std::string(info.canonical);
  if (output != nullptr) {
    if (absl::Status s = ReadOutput(*output, &update.clips); !s.ok()) return s;
  }
  if (meta != nullptr) {
    if (absl::Status s = ReadUsage(*meta, update); !s.ok()) return s;
  }
  std::optional<int64_t> error_code;
  std::string error_message;
  if (error != nullptr) {
    for (absl::Status s :
         {ReadCode(*error, "code", &error_code), ReadString(*error, "raw_message", &error_message),
          ReadString(*error, "message", &error_message)}) {
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
  if (!ParseObject(body, doc).ok()) return std::nullopt;
  PiapiEnvelope envelope;
  // Lenient: a wrong type is not worth losing the rest of the envelope over.
  if (!ReadCode(doc, "code", &envelope.code).ok()) envelope.code.reset();
  if (!ReadString(doc, "message", &envelope.message).ok()) envelope.message.clear();
  const Value* data = Find(doc, "data");
  const Value* error = data != nullptr && data->IsObject() ? Find(*data, "error") : nullptr;
  if (error != nullptr && error->IsObject()) {
    if (!ReadCode(*error, "code", &envelope.error_code).ok()) envelope.error_code.reset();
    std::string message;
    if (ReadString(*error, "raw_message", &message).ok() &&
        ReadString(*error, "message", &message).ok()) {
      envelope.error_message = std::move(message);
    }
  }
  return envelope;
}

absl::StatusOr<std::string> ParsePiapiCreateAnswer(absl::string_view body) {
  rapidjson::Document doc;
  if (absl::Status s = ParseObject(body, doc); !s.ok()) return s;
  std::optional<int64_t> code;
  if (absl::Status s = ReadCode(doc, "code", &code); !s.ok()) return s;
  if (code && *code != 200) return Malformed(absl::StrCat("`code` is ", *code));
  const Value* data = nullptr;
  if (absl::Status s = ReadObject(doc, "data", &data); !s.ok()) return s;
  if (data == nullptr) return Malformed("no `data`");
  std::string task_id;
  if (absl::Status s = ReadString(*data, "task_id", &task_id); !s.ok()) return s;
  if (task_id.empty()) return Malformed("no `data.task_id`");
  return task_id;
}

absl::StatusOr<ProviderUpdate> ParsePiapiTaskAnswer(absl::string_view body) {
  rapidjson::Document doc;
  if (absl::Status s = ParseObject(body, doc); !s.ok()) return s;
  std::optional<int64_t> code;
  if (absl::Status s = ReadCode(doc, "code", &code); !s.ok()) return s;
  if (!code) return WrongType("code", "an integer");
  if (*code != 200) return Malformed(absl::StrCat("`code` is ", *code));
  const Value* data = nullptr;
  if (absl::Status s = ReadObject(doc, "data", &data); !s.ok()) return s;
  if (data == nullptr) return Malformed("no `data`");
  ProviderUpdate update;
  if (absl::Status s = ReadTaskData(*data, update); !s.ok()) return s;
  return update;
}

absl::StatusOr<PiapiCallback> ParsePiapiCallback(absl::string_view body) {
  rapidjson::Document doc;
  if (absl::Status s = ParseObject(body, doc); !s.ok()) return AsInvalidArgument(s);
  PiapiCallback callback;
  const Value* timestamp = Find(doc, "timestamp");
  if (timestamp == nullptr || !timestamp->IsNumber()) {
    return AsInvalidArgument(WrongType("timestamp", "a number"));
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
  if (absl::Status s = ReadObject(doc, "data", &data); !s.ok()) return AsInvalidArgument(s);
  if (data == nullptr) return AsInvalidArgument(Malformed("no `data`"));
  if (absl::Status s = ReadTaskData(*data, callback.update); !s.ok()) return AsInvalidArgument(s);
  if (callback.update.provider_task_id.empty()) {
    return AsInvalidArgument(Malformed("no `data.task_id`"));
  }
  return callback;
}

}  // namespace music::adapters::piapi
