// RapidJSON readers for kie.ai answers and callbacks. Everything here is untrusted network
// input: every member is type-checked before use (RapidJSON asserts, or worse, on a wrong type),
// and parsing is iterative so nesting depth cannot exhaust the stack.

#include "adapters/kie/kie_json.h"

#include <rapidjson/document.h>

#include <algorithm>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "adapters/internal/json_reader.h"
#include "adapters/kie/kie_reader.h"
#include "adapters/kie/kie_status.h"

namespace music::adapters::kie {
namespace {

using rapidjson::Value;

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
    if (!item.IsObject()) return kKieJson.WrongType("clip", "an object");
    music::v1::Clip clip;
    double duration = 0;
    for (absl::Status s :
         {kKieJson.ReadString(item, "id", clip.mutable_clip_id()),
          kKieJson.ReadString(item, keys.audio_url, clip.mutable_audio_url()),
          kKieJson.ReadString(item, keys.stream_audio_url, clip.mutable_stream_audio_url()),
          kKieJson.ReadString(item, keys.image_url, clip.mutable_image_url()),
          kKieJson.ReadString(item, "title", clip.mutable_title()),
          kKieJson.ReadString(item, "tags", clip.mutable_tags()),
          kKieJson.ReadString(item, "prompt", clip.mutable_lyrics()),
          kKieJson.ReadString(item, keys.model_name, clip.mutable_model_name()),
          kKieJson.ReadNumber(item, "duration", &duration)}) {
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
    if (!item.IsObject()) return kKieJson.WrongType("lyrics item", "an object");
    music::v1::LyricVariant variant;
    std::string error;
    for (absl::Status s : {kKieJson.ReadString(item, "text", variant.mutable_text()),
                           kKieJson.ReadString(item, "title", variant.mutable_title()),
                           kKieJson.ReadString(item, error_key, &error)}) {
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

// A succeeded task has an audio URL on every clip (task.proto TaskState): clips still without
// one are dropped, and a success with none left is a failure (seed 000: success without audio).
void RequireAudio(ProviderUpdate& update) {
  if (update.state != ProviderState::kSucceeded) return;
  auto& clips = update.clips;
  clips.erase(std::remove_if(clips.begin(), clips.end(),
                             [](const music::v1::Clip& c) { return c.audio_url().empty(); }),
              clips.end());
  if (clips.empty()) {
    FailKieUpdate(update, absl::StatusCode::kInternal, "kie.ai reported success without audio");
  }
}

void RequireLyrics(ProviderUpdate& update, absl::string_view provider_message) {
  if (update.state != ProviderState::kSucceeded || !update.lyric_variants.empty()) return;
  FailKieUpdate(update, absl::StatusCode::kInternal,
                provider_message.empty()
                    ? std::string("kie.ai reported success without lyrics")
                    : absl::StrCat("kie.ai reported success without lyrics: ", provider_message));
}

// The common part of both record-info answers: `data`, its status and error fields, and
// `data.response` (nullptr while pending).
absl::Status ReadRecord(const rapidjson::Document& doc, bool lyrics, ProviderUpdate& update,
                        const Value** response) {
  if (absl::Status s = RequireKieCode200(doc); !s.ok()) return s;
  const Value* data = nullptr;
  if (absl::Status s = kKieJson.ReadObject(doc, "data", &data); !s.ok()) return s;
  if (data == nullptr) return kKieJson.Malformed("no `data`");
  for (absl::Status s : {kKieJson.ReadRequiredString(*data, "status", &update.provider_status),
                         kKieJson.ReadString(*data, "taskId", &update.provider_task_id),
                         kKieJson.ReadCode(*data, "errorCode", &update.provider_error_code),
                         kKieJson.ReadString(*data, "errorMessage", &update.error_message),
                         kKieJson.ReadObject(*data, "response", response)}) {
    if (!s.ok()) return s;
  }
  Apply(MapKieStatus(update.provider_status, lyrics), update);
  // A documented `errorCode` says more than the status (GENERATE_AUDIO_FAILED + 408 is a
  // timeout): the same table as a callback's `code`, so a poll and a callback of one failure
  // report one code.
  int error_code = 0;
  if (update.state == ProviderState::kFailed &&
      absl::SimpleAtoi(update.provider_error_code, &error_code)) {
    if (std::optional<absl::StatusCode> documented = KieDocumentedFailureCode(error_code)) {
      update.error_code = *documented;
    }
  }
  if (update.state == ProviderState::kFailed && update.error_message.empty()) {
    update.error_message = absl::StrCat("kie.ai task failed with status ", update.provider_status);
  }
  return absl::OkStatus();
}

// The common part of both callbacks: `code`, `msg`, `data.callbackType`, `data.task_id` and the
// `data.data` array (nullptr when empty/null).
absl::Status ReadCallback(const rapidjson::Document& doc, ProviderUpdate& update,
                          const Value** items) {
  const Value* code = kKieJson.Find(doc, "code");
  if (code == nullptr || !code->IsInt()) return kKieJson.WrongType("code", "an integer");
  std::string msg;
  const Value* data = nullptr;
  for (absl::Status s :
       {kKieJson.ReadString(doc, "msg", &msg), kKieJson.ReadObject(doc, "data", &data)}) {
    if (!s.ok()) return s;
  }
  if (data == nullptr) return kKieJson.Malformed("no `data`");
  std::string callback_type;
  for (absl::Status s : {kKieJson.ReadString(*data, "callbackType", &callback_type),
                         kKieJson.ReadString(*data, "task_id", &update.provider_task_id),
                         kKieJson.ReadArray(*data, "data", items)}) {
    if (!s.ok()) return s;
  }
  if (callback_type.empty()) return kKieJson.Malformed("no `callbackType`");
  if (update.provider_task_id.empty()) return kKieJson.Malformed("no `task_id`");
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

}  // namespace

std::optional<KieEnvelope> ParseKieEnvelope(absl::string_view body) {
  rapidjson::Document doc;
  if (!kKieJson.ParseObject(body, doc).ok()) return std::nullopt;
  const Value* code = kKieJson.Find(doc, "code");
  if (code == nullptr || !code->IsInt()) return std::nullopt;
  KieEnvelope envelope;
  envelope.code = code->GetInt();
  // A non-string msg is not worth losing the code over.
  if (!kKieJson.ReadString(doc, "msg", &envelope.msg).ok()) envelope.msg.clear();
  return envelope;
}

absl::StatusOr<std::string> ParseKieCreateAnswer(absl::string_view body) {
  rapidjson::Document doc;
  if (absl::Status s = kKieJson.ParseObject(body, doc); !s.ok()) return s;
  if (absl::Status s = RequireKieCode200(doc); !s.ok()) return s;
  const Value* data = nullptr;
  if (absl::Status s = kKieJson.ReadObject(doc, "data", &data); !s.ok()) return s;
  if (data == nullptr) return kKieJson.Malformed("no `data`");
  std::string task_id;
  if (absl::Status s = kKieJson.ReadString(*data, "taskId", &task_id); !s.ok()) return s;
  if (task_id.empty()) return kKieJson.Malformed("no `data.taskId`");
  return task_id;
}

absl::StatusOr<ProviderUpdate> ParseKieMusicRecord(absl::string_view body) {
  rapidjson::Document doc;
  if (absl::Status s = kKieJson.ParseObject(body, doc); !s.ok()) return s;
  ProviderUpdate update;
  const Value* response = nullptr;
  if (absl::Status s = ReadRecord(doc, /*lyrics=*/false, update, &response); !s.ok()) return s;
  if (response != nullptr) {
    const Value* clips = nullptr;
    if (absl::Status s = kKieJson.ReadArray(*response, "sunoData", &clips); !s.ok()) return s;
    if (absl::Status s = ReadClips(clips, kCamelCase, &update.clips); !s.ok()) return s;
  }
  RequireAudio(update);
  return update;
}

absl::StatusOr<ProviderUpdate> ParseKieLyricsRecord(absl::string_view body) {
  rapidjson::Document doc;
  if (absl::Status s = kKieJson.ParseObject(body, doc); !s.ok()) return s;
  ProviderUpdate update;
  const Value* response = nullptr;
  if (absl::Status s = ReadRecord(doc, /*lyrics=*/true, update, &response); !s.ok()) return s;
  std::string item_error;
  if (response != nullptr) {
    const Value* items = nullptr;
    if (absl::Status s = kKieJson.ReadArray(*response, "data", &items); !s.ok()) return s;
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
  if (absl::Status s = kKieJson.ParseObject(body, doc); !s.ok()) return AsKieCallbackError(s);
  ProviderUpdate update;
  const Value* items = nullptr;
  if (absl::Status s = ReadCallback(doc, update, &items); !s.ok()) return AsKieCallbackError(s);
  if (absl::Status s = ReadClips(items, kSnakeCase, &update.clips); !s.ok()) {
    return AsKieCallbackError(s);
  }
  RequireAudio(update);
  return update;
}

absl::StatusOr<ProviderUpdate> ParseKieLyricsCallback(absl::string_view body) {
  rapidjson::Document doc;
  if (absl::Status s = kKieJson.ParseObject(body, doc); !s.ok()) return AsKieCallbackError(s);
  ProviderUpdate update;
  const Value* items = nullptr;
  if (absl::Status s = ReadCallback(doc, update, &items); !s.ok()) return AsKieCallbackError(s);
  std::string item_error;
  if (absl::Status s =
          ReadLyricVariants(items, "error_message", &update.lyric_variants, &item_error);
      !s.ok()) {
    return AsKieCallbackError(s);
  }
  RequireLyrics(update, item_error);
  return update;
}

}  // namespace music::adapters::kie
