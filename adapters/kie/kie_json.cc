// RapidJSON readers for kie.ai answers and callbacks. Everything here is untrusted network
// input: every member is type-checked before use (RapidJSON asserts, or worse, on a wrong type),
// and parsing is iterative so nesting depth cannot exhaust the stack.

#include "adapters/kie/kie_json.h"

#include <rapidjson/document.h>
#include <rapidjson/error/en.h>

#include <algorithm>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "adapters/kie/kie_status.h"

namespace music::adapters::kie {
namespace {

using rapidjson::Value;

absl::Status Malformed(absl::string_view what) {
  return absl::InternalError(absl::StrCat("kie.ai sent a malformed answer: ", what));
}

absl::Status WrongType(absl::string_view field, absl::string_view expected) {
  return Malformed(absl::StrCat("`", field, "` is not ", expected));
}

// Parses `body` and requires a top-level object.
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

// `obj` must be an object. nullptr when the member is absent or null (WIRE.md allows null for
// most optional fields, e.g. `response`, `sunoData`, `errorCode`).
const Value* Find(const Value& obj, const char* name) {
  auto it = obj.FindMember(name);
  if (it == obj.MemberEnd() || it->value.IsNull()) return nullptr;
  return &it->value;
}

absl::Status ReadString(const Value& obj, const char* name, std::string* out) {
  const Value* v = Find(obj, name);
  if (v == nullptr) {
    out->clear();
    return absl::OkStatus();
  }
  if (!v->IsString()) return WrongType(name, "a string");
  out->assign(v->GetString(), v->GetStringLength());
  return absl::OkStatus();
}

absl::Status ReadNumber(const Value& obj, const char* name, double* out) {
  const Value* v = Find(obj, name);
  if (v == nullptr) {
    *out = 0;
    return absl::OkStatus();
  }
  if (!v->IsNumber()) return WrongType(name, "a number");
  *out = v->GetDouble();
  return absl::OkStatus();
}

// An object member; *out is nullptr when absent or null.
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

// A raw provider code that may be an integer or a string (`errorCode` is documented as
// null|int; a string is kept rather than failing the whole poll).
absl::Status ReadCode(const Value& obj, const char* name, std::string* out) {
  const Value* v = Find(obj, name);
  out->clear();
  if (v == nullptr) return absl::OkStatus();
  if (v->IsInt64()) {
    *out = absl::StrCat(v->GetInt64());
  } else if (v->IsString()) {
    out->assign(v->GetString(), v->GetStringLength());
  } else {
    return WrongType(name, "an integer");
  }
  return absl::OkStatus();
}

// Clip member names: record-info answers use camelCase, callbacks snake_case (WIRE.md).
struct ClipKeys {
  const char* audio_url;
  const char* stream_audio_url;
  const char* image_url;
  const char* model_name;
};
constexpr ClipKeys kCamelCase = {"audioUrl", "streamAudioUrl", "imageUrl", "modelName"};
constexpr ClipKeys kSnakeCase = {"audio_url", "stream_audio_url", "image_url", "model_name"};

absl::Status ReadClips(const Value* array, const ClipKeys& keys,
                       std::vector<music::v1::Clip>* out) {
  if (array == nullptr) return absl::OkStatus();
  for (const Value& item : array->GetArray()) {
    if (!item.IsObject()) return WrongType("clip", "an object");
    music::v1::Clip clip;
    double duration = 0;
    for (absl::Status s : {ReadString(item, "id", clip.mutable_clip_id()),
                           ReadString(item, keys.audio_url, clip.mutable_audio_url()),
                           ReadString(item, keys.stream_audio_url, clip.mutable_stream_audio_url()),
                           ReadString(item, keys.image_url, clip.mutable_image_url()),
                           ReadString(item, "title", clip.mutable_title()),
                           ReadString(item, "tags", clip.mutable_tags()),
                           ReadString(item, "prompt", clip.mutable_lyrics()),
                           ReadString(item, keys.model_name, clip.mutable_model_name()),
                           ReadNumber(item, "duration", &duration)}) {
      if (!s.ok()) return s;
    }
    clip.set_duration_seconds(duration);
    out->push_back(std::move(clip));
  }
  return absl::OkStatus();
}

// Lyric items: `errorMessage` in record-info answers, `error_message` in callbacks. Items without
// text are skipped (a failed variant); their message is kept for the failure report.
absl::Status ReadLyricVariants(const Value* array, const char* error_key,
                               std::vector<music::v1::LyricVariant>* out,
                               std::string* first_error) {
  if (array == nullptr) return absl::OkStatus();
  for (const Value& item : array->GetArray()) {
    if (!item.IsObject()) return WrongType("lyrics item", "an object");
    music::v1::LyricVariant variant;
    std::string error;
    for (absl::Status s : {ReadString(item, "text", variant.mutable_text()),
                           ReadString(item, "title", variant.mutable_title()),
                           ReadString(item, error_key, &error)}) {
      if (!s.ok()) return s;
    }
    if (first_error->empty()) *first_error = error;
    if (!variant.text().empty()) out->push_back(std::move(variant));
  }
  return absl::OkStatus();
}

void Apply(const KieStatusInfo& info, ProviderUpdate& update) {
  update.state = info.state;
  update.error_code = info.error_code;
  update.lyrics_ready = info.lyrics_ready;
  update.first_clip_ready = info.first_clip_ready;
}

void Fail(ProviderUpdate& update, absl::StatusCode code, absl::string_view message) {
  update.state = ProviderState::kFailed;
  update.error_code = code;
  update.error_message = std::string(message);
}

// A succeeded task has an audio URL on every clip (task.proto TaskState): clips still without
// one are dropped, and a success with none left is a failure (seed 000: success without audio).
void RequireAudio(ProviderUpdate& update) {
  if (update.state != ProviderState::kSucceeded) return;
  auto& clips = update.clips;
  clips.erase(std::remove_if(clips.begin(), clips.end(),
                             [](const music::v1::Clip& c) { return c.audio_url().empty(); }),
              clips.end());
  if (clips.empty()) {
    Fail(update, absl::StatusCode::kInternal, "kie.ai reported success without audio");
  }
}

void RequireLyrics(ProviderUpdate& update, absl::string_view provider_message) {
  if (update.state != ProviderState::kSucceeded || !update.lyric_variants.empty()) return;
  Fail(update, absl::StatusCode::kInternal,
       provider_message.empty()
           ? std::string("kie.ai reported success without lyrics")
           : absl::StrCat("kie.ai reported success without lyrics: ", provider_message));
}

// Every successful answer carries the integer `code` 200; anything else means the envelope check
// was bypassed or the body is not what it claims to be.
absl::Status RequireCode200(const rapidjson::Document& doc) {
  const Value* code = Find(doc, "code");
  if (code == nullptr || !code->IsInt()) return WrongType("code", "an integer");
  if (code->GetInt() != 200) return Malformed(absl::StrCat("`code` is ", code->GetInt()));
  return absl::OkStatus();
}

// The common part of both record-info answers: `data`, its status and error fields, and
// `data.response` (nullptr while pending).
absl::Status ReadRecord(const rapidjson::Document& doc, bool lyrics, ProviderUpdate& update,
                        const Value** response) {
  if (absl::Status s = RequireCode200(doc); !s.ok()) return s;
  const Value* data = nullptr;
  if (absl::Status s = ReadObject(doc, "data", &data); !s.ok()) return s;
  if (data == nullptr) return Malformed("no `data`");
  const Value* status = Find(*data, "status");
  if (status == nullptr || !status->IsString()) return WrongType("status", "a string");
  update.provider_status.assign(status->GetString(), status->GetStringLength());
  for (absl::Status s : {ReadString(*data, "taskId", &update.provider_task_id),
                         ReadCode(*data, "errorCode", &update.provider_error_code),
                         ReadString(*data, "errorMessage", &update.error_message),
                         ReadObject(*data, "response", response)}) {
    if (!s.ok()) return s;
  }
  Apply(MapKieStatus(update.provider_status, lyrics), update);
  if (update.state == ProviderState::kFailed && update.error_message.empty()) {
    update.error_message = absl::StrCat("kie.ai task failed with status ", update.provider_status);
  }
  return absl::OkStatus();
}

// The common part of both callbacks: `code`, `msg`, `data.callbackType`, `data.task_id` and the
// `data.data` array (nullptr when empty/null).
absl::Status ReadCallback(const rapidjson::Document& doc, ProviderUpdate& update,
                          const Value** items) {
  const Value* code = Find(doc, "code");
  if (code == nullptr || !code->IsInt()) return WrongType("code", "an integer");
  std::string msg;
  const Value* data = nullptr;
  for (absl::Status s : {ReadString(doc, "msg", &msg), ReadObject(doc, "data", &data)}) {
    if (!s.ok()) return s;
  }
  if (data == nullptr) return Malformed("no `data`");
  std::string callback_type;
  for (absl::Status s :
       {ReadString(*data, "callbackType", &callback_type),
        ReadString(*data, "task_id", &update.provider_task_id), ReadArray(*data, "data", items)}) {
    if (!s.ok()) return s;
  }
  if (callback_type.empty()) return Malformed("no `callbackType`");
  if (update.provider_task_id.empty()) return Malformed("no `task_id`");
  // The stages a callback reports are named as record-info names them, so a callback and a poll
  // of the same stage are the same update (no extra task version for a change of wording).
  if (code->GetInt() == 200 && callback_type == "text") {
    update.provider_status = "TEXT_SUCCESS";
  } else if (code->GetInt() == 200 && callback_type == "first") {
    update.provider_status = "FIRST_SUCCESS";
  } else if (code->GetInt() == 200 && callback_type == "complete") {
    update.provider_status = "SUCCESS";
  } else {
    update.provider_status = absl::StrCat("callback:", callback_type);
  }
  Apply(MapKieCallback(callback_type, code->GetInt()), update);
  if (update.state == ProviderState::kFailed) {
    update.provider_error_code = absl::StrCat(code->GetInt());
    update.error_message =
        msg.empty() ? absl::StrCat("kie.ai callback reported failure ", code->GetInt()) : msg;
  }
  return absl::OkStatus();
}

// Callback bodies are a caller's request: malformed ones are the caller's error.
absl::Status AsInvalidArgument(const absl::Status& status) {
  return absl::InvalidArgumentError(absl::StrCat("malformed kie.ai callback: ", status.message()));
}

}  // namespace

std::optional<KieEnvelope> ParseKieEnvelope(absl::string_view body) {
  rapidjson::Document doc;
  if (!ParseObject(body, doc).ok()) return std::nullopt;
  const Value* code = Find(doc, "code");
  if (code == nullptr || !code->IsInt()) return std::nullopt;
  KieEnvelope envelope;
  envelope.code = code->GetInt();
  // A non-string msg is not worth losing the code over.
  if (!ReadString(doc, "msg", &envelope.msg).ok()) envelope.msg.clear();
  return envelope;
}

absl::StatusOr<std::string> ParseKieCreateAnswer(absl::string_view body) {
  rapidjson::Document doc;
  if (absl::Status s = ParseObject(body, doc); !s.ok()) return s;
  if (absl::Status s = RequireCode200(doc); !s.ok()) return s;
  const Value* data = nullptr;
  if (absl::Status s = ReadObject(doc, "data", &data); !s.ok()) return s;
  if (data == nullptr) return Malformed("no `data`");
  std::string task_id;
  if (absl::Status s = ReadString(*data, "taskId", &task_id); !s.ok()) return s;
  if (task_id.empty()) return Malformed("no `data.taskId`");
  return task_id;
}

absl::StatusOr<ProviderUpdate> ParseKieMusicRecord(absl::string_view body) {
  rapidjson::Document doc;
  if (absl::Status s = ParseObject(body, doc); !s.ok()) return s;
  ProviderUpdate update;
  const Value* response = nullptr;
  if (absl::Status s = ReadRecord(doc, /*lyrics=*/false, update, &response); !s.ok()) return s;
  if (response != nullptr) {
    const Value* clips = nullptr;
    if (absl::Status s = ReadArray(*response, "sunoData", &clips); !s.ok()) return s;
    if (absl::Status s = ReadClips(clips, kCamelCase, &update.clips); !s.ok()) return s;
  }
  RequireAudio(update);
  return update;
}

absl::StatusOr<ProviderUpdate> ParseKieLyricsRecord(absl::string_view body) {
  rapidjson::Document doc;
  if (absl::Status s = ParseObject(body, doc); !s.ok()) return s;
  ProviderUpdate update;
  const Value* response = nullptr;
  if (absl::Status s = ReadRecord(doc, /*lyrics=*/true, update, &response); !s.ok()) return s;
  std::string item_error;
  if (response != nullptr) {
    const Value* items = nullptr;
    if (absl::Status s = ReadArray(*response, "data", &items); !s.ok()) return s;
    if (absl::Status s =
            ReadLyricVariants(items, "errorMessage", &update.lyric_variants, &item_error);
        !s.ok()) {
      return s;
    }
  }
  RequireLyrics(update, item_error);
  return update;
}

absl::StatusOr<ProviderUpdate> ParseKieMusicCallback(absl::string_view body) {
  rapidjson::Document doc;
  if (absl::Status s = ParseObject(body, doc); !s.ok()) return AsInvalidArgument(s);
  ProviderUpdate update;
  const Value* items = nullptr;
  if (absl::Status s = ReadCallback(doc, update, &items); !s.ok()) return AsInvalidArgument(s);
  if (absl::Status s = ReadClips(items, kSnakeCase, &update.clips); !s.ok()) {
    return AsInvalidArgument(s);
  }
  RequireAudio(update);
  return update;
}

absl::StatusOr<ProviderUpdate> ParseKieLyricsCallback(absl::string_view body) {
  rapidjson::Document doc;
  if (absl::Status s = ParseObject(body, doc); !s.ok()) return AsInvalidArgument(s);
  ProviderUpdate update;
  const Value* items = nullptr;
  if (absl::Status s = ReadCallback(doc, update, &items); !s.ok()) return AsInvalidArgument(s);
  std::string item_error;
  if (absl::Status s =
          ReadLyricVariants(items, "error_message", &update.lyric_variants, &item_error);
      !s.ok()) {
    return AsInvalidArgument(s);
  }
  RequireLyrics(update, item_error);
  return update;
}

}  // namespace music::adapters::kie
