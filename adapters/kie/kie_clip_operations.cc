// Bodies and parsers of the kie.ai clip operations. Everything parsed here is untrusted network
// input, read through the one JSON reader contract (adapters/internal/json_reader.h).

#include "adapters/kie/kie_clip_operations.h"

#include <rapidjson/document.h>
#include <rapidjson/stringbuffer.h>

#include <cmath>
#include <string>
#include <utility>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "adapters/internal/json_reader.h"
#include "adapters/internal/json_writer.h"
#include "adapters/kie/kie_reader.h"

namespace music::adapters::kie {
namespace {

using music::v1::ClipOperation;
using rapidjson::Value;

constexpr char kWavPath[] = "/api/v1/wav/generate";
constexpr char kVocalRemovalPath[] = "/api/v1/vocal-removal/generate";
constexpr char kMp4Path[] = "/api/v1/mp4/generate";

// A stem's member in record-info `response` (camelCase), in the callback's
// `vocal_removal_info` (snake_case), and its name in ClipOperationResult.stem_urls.
struct StemKey {
  const char* camel;
  const char* snake;
  const char* name;
};
// clang-format off
constexpr StemKey kStems[] = {
    {"originUrl",        "origin_url",         "origin"},
    {"instrumentalUrl",  "instrumental_url",   "instrumental"},
    {"vocalUrl",         "vocal_url",          "vocals"},
    {"backingVocalsUrl", "backing_vocals_url", "backing_vocals"},
    {"drumsUrl",         "drums_url",          "drums"},
    {"bassUrl",          "bass_url",           "bass"},
    {"guitarUrl",        "guitar_url",         "guitar"},
    {"pianoUrl",         "piano_url",          "piano"},
    {"keyboardUrl",      "keyboard_url",       "keyboard"},
    {"percussionUrl",    "percussion_url",     "percussion"},
    {"stringsUrl",       "strings_url",        "strings"},
    {"synthUrl",         "synth_url",          "synth"},
    {"fxUrl",            "fx_url",             "fx"},
    {"brassUrl",         "brass_url",          "brass"},
    {"woodwindsUrl",     "woodwinds_url",      "woodwinds"},
};
// clang-format on

size_t Utf8Length(absl::string_view s) {
  size_t n = 0;
  for (unsigned char c : s) n += (c & 0xC0) != 0x80;
  return n;
}

absl::Status ReadStems(const Value& obj, bool snake_case, music::v1::ClipOperationResult& out) {
  for (const StemKey& key : kStems) {
    std::string url;
    if (absl::Status s = kKieJson.ReadString(obj, snake_case ? key.snake : key.camel, &url);
        !s.ok()) {
      return s;
    }
    if (!url.empty()) (*out.mutable_stem_urls())[key.name] = std::move(url);
  }
  return absl::OkStatus();
}

// Whether `result` holds what a finished operation produces. The original (`origin`) alone is
// not a separation result.
bool HasResult(const music::v1::ClipOperationResult& result) {
  if (!result.wav_url().empty() || !result.video_url().empty()) return true;
  for (const auto& [name, url] : result.stem_urls()) {
    if (name != "origin" && !url.empty()) return true;
  }
  return false;
}

// successFlag of the clip operations (CONTRACT-NOTES): PENDING, SUCCESS, and the terminal
// failures CREATE_TASK_FAILED, GENERATE_WAV_FAILED / GENERATE_AUDIO_FAILED (one WAV example says
// so, and vocal separation uses it), GENERATE_MP4_FAILED, CALLBACK_EXCEPTION. An unknown flag is
// kept raw and read as still running.
void ApplyFlag(absl::string_view flag, ProviderUpdate& update) {
  if (flag == "PENDING") {
    update.state = ProviderState::kPending;
  } else if (flag == "SUCCESS") {
    update.state = ProviderState::kSucceeded;
  } else if (flag == "CREATE_TASK_FAILED" || flag == "GENERATE_WAV_FAILED" ||
             flag == "GENERATE_AUDIO_FAILED" || flag == "GENERATE_MP4_FAILED" ||
             flag == "CALLBACK_EXCEPTION") {
    update.state = ProviderState::kFailed;
    update.error_code = absl::StatusCode::kInternal;
  } else {
    update.state = ProviderState::kRunning;
  }
}

// A success must carry its result: without it, it is a provider fault (task.proto TaskState).
void RequireResult(ProviderUpdate& update) {
  if (update.state != ProviderState::kSucceeded || HasResult(update.operation_result)) return;
  FailKieUpdate(update, absl::StatusCode::kInternal,
                "kie.ai reported the clip operation done without a result URL");
}

// The envelope's `data` object of a code-200 answer.
absl::StatusOr<const Value*> ReadData(absl::string_view body, rapidjson::Document& doc) {
  if (absl::Status s = kKieJson.ParseObject(body, doc); !s.ok()) return s;
  if (absl::Status s = RequireKieCode200(doc); !s.ok()) return s;
  const Value* data = nullptr;
  if (absl::Status s = kKieJson.ReadObject(doc, "data", &data); !s.ok()) return s;
  if (data == nullptr) return kKieJson.Malformed("no `data`");
  return data;
}

// A number member in credits as micro-credits (0 when absent).
absl::Status ReadCreditsMicros(const Value& obj, const char* name, int64_t* out) {
  double credits = 0;
  if (absl::Status s = kKieJson.ReadNumber(obj, name, &credits); !s.ok()) return s;
  if (!std::isfinite(credits) || std::abs(credits) > 1e12) {
    return kKieJson.Malformed(absl::StrCat("`", name, "` is out of range"));
  }
  *out = static_cast<int64_t>(std::llround(credits * 1e6));
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<ClipOperationCreate> BuildClipOperationCreate(const music::v1::TaskInput& input,
                                                             absl::string_view callback_url) {
  if (input.source_provider_task_id().empty() || input.source_clip_id().empty()) {
    return absl::InvalidArgumentError(
        "a kie.ai clip operation needs the source task id and clip id");
  }
  ClipOperationCreate create;
  const char* type = nullptr;
  switch (input.clip_operation()) {
    case music::v1::CLIP_OPERATION_CONVERT_TO_WAV:
      create.path = kWavPath;
      break;
    case music::v1::CLIP_OPERATION_SEPARATE_VOCALS:
      create.path = kVocalRemovalPath;
      type = "separate_vocal";
      break;
    case music::v1::CLIP_OPERATION_SPLIT_STEMS:
      create.path = kVocalRemovalPath;
      type = "split_stem";
      break;
    case music::v1::CLIP_OPERATION_CREATE_MUSIC_VIDEO:
      create.path = kMp4Path;
      if (Utf8Length(input.video_author()) > kMaxVideoTextChars ||
          Utf8Length(input.video_domain_name()) > kMaxVideoTextChars) {
        return absl::InvalidArgumentError("kie.ai author and domainName take at most 50 chars");
      }
      break;
    default:
      return absl::InvalidArgumentError(absl::StrCat(
          "kie.ai has no clip operation ", music::v1::ClipOperation_Name(input.clip_operation())));
  }
  rapidjson::StringBuffer buffer;
  internal::JsonWriter w(buffer);
  w.StartObject();
  internal::PutString(w, "taskId", input.source_provider_task_id());
  internal::PutString(w, "audioId", input.source_clip_id());
  internal::PutString(w, "callBackUrl", callback_url);
  if (type != nullptr) internal::PutString(w, "type", type);
  if (create.path == kMp4Path) {
    // Optional: left out when unset rather than sent as "".
    internal::PutIfSet(w, "author", input.video_author());
    internal::PutIfSet(w, "domainName", input.video_domain_name());
  }
  w.EndObject();
  create.body = std::string(buffer.GetString(), buffer.GetSize());
  return create;
}

const char* ClipOperationRecordPath(ClipOperation operation) {
  switch (operation) {
    case music::v1::CLIP_OPERATION_CONVERT_TO_WAV:
      return "/api/v1/wav/record-info";
    case music::v1::CLIP_OPERATION_SEPARATE_VOCALS:
    case music::v1::CLIP_OPERATION_SPLIT_STEMS:
      return "/api/v1/vocal-removal/record-info";
    case music::v1::CLIP_OPERATION_CREATE_MUSIC_VIDEO:
      return "/api/v1/mp4/record-info";
    default:
      return nullptr;
  }
}

std::optional<std::string> ParseKieWavConflict(absl::string_view body) {
  rapidjson::Document doc;
  if (!kKieJson.ParseObject(body, doc).ok()) return std::nullopt;
  const Value* code = kKieJson.Find(doc, "code");
  if (code == nullptr || !code->IsInt() || code->GetInt() != 409) return std::nullopt;
  const Value* data = kKieJson.Find(doc, "data");
  if (data == nullptr) return std::nullopt;
  std::string task_id;
  if (data->IsString()) {
    task_id.assign(data->GetString(), data->GetStringLength());
  } else if (!kKieJson.ReadFirstString(*data, {"taskId", "task_id"}, &task_id).ok()) {
    return std::nullopt;
  }
  if (task_id.empty()) return std::nullopt;
  return task_id;
}

absl::StatusOr<ProviderUpdate> ParseKieClipOperationRecord(ClipOperation operation,
                                                           absl::string_view body) {
  rapidjson::Document doc;
  absl::StatusOr<const Value*> data = ReadData(body, doc);
  if (!data.ok()) return data.status();
  ProviderUpdate update;
  const Value* response = nullptr;
  for (absl::Status s : {kKieJson.ReadCode(**data, "successFlag", &update.provider_status),
                         kKieJson.ReadString(**data, "taskId", &update.provider_task_id),
                         kKieJson.ReadCode(**data, "errorCode", &update.provider_error_code),
                         kKieJson.ReadString(**data, "errorMessage", &update.error_message),
                         kKieJson.ReadObject(**data, "response", &response)}) {
    if (!s.ok()) return s;
  }
  if (update.provider_status.empty()) return kKieJson.Malformed("no `data.successFlag`");
  ApplyFlag(update.provider_status, update);
  if (response != nullptr) {
    music::v1::ClipOperationResult& result = update.operation_result;
    absl::Status s = absl::OkStatus();
    if (operation == music::v1::CLIP_OPERATION_CONVERT_TO_WAV) {
      s = kKieJson.ReadString(*response, "audioWavUrl", result.mutable_wav_url());
    } else if (operation == music::v1::CLIP_OPERATION_CREATE_MUSIC_VIDEO) {
      s = kKieJson.ReadString(*response, "videoUrl", result.mutable_video_url());
    } else {
      s = ReadStems(*response, /*snake_case=*/false, result);
    }
    if (!s.ok()) return s;
    update.has_operation_result = true;
  }
  if (update.state == ProviderState::kFailed && update.error_message.empty()) {
    update.error_message =
        absl::StrCat("kie.ai clip operation failed with ", update.provider_status);
  }
  RequireResult(update);
  return update;
}

absl::StatusOr<ProviderUpdate> ParseKieClipOperationCallback(absl::string_view body) {
  rapidjson::Document doc;
  if (absl::Status s = kKieJson.ParseObject(body, doc); !s.ok()) return AsKieCallbackError(s);
  const Value* code = kKieJson.Find(doc, "code");
  if (code == nullptr || !code->IsInt()) {
    return AsKieCallbackError(kKieJson.WrongType("code", "an integer"));
  }
  std::string msg;
  const Value* data = nullptr;
  for (const absl::Status& s :
       {kKieJson.ReadString(doc, "msg", &msg), kKieJson.ReadObject(doc, "data", &data)}) {
    if (!s.ok()) return AsKieCallbackError(s);
  }
  if (data == nullptr) return AsKieCallbackError(kKieJson.Malformed("no `data`"));
  ProviderUpdate update;
  music::v1::ClipOperationResult& result = update.operation_result;
  const Value* removal = nullptr;
  const Value* separation = nullptr;
  for (const absl::Status& s :
       {kKieJson.ReadFirstString(*data, {"task_id", "taskId"}, &update.provider_task_id),
        // WAV: `audioWavUrl`; older docs spell it `audio_wav_url` (CONTRACT-NOTES).
        kKieJson.ReadFirstString(*data, {"audioWavUrl", "audio_wav_url"}, result.mutable_wav_url()),
        kKieJson.ReadFirstString(*data, {"video_url", "videoUrl"}, result.mutable_video_url()),
        // Vocal separation: the two spellings appear in different language versions.
        kKieJson.ReadObject(*data, "vocal_removal_info", &removal),
        kKieJson.ReadObject(*data, "vocal_separation_info", &separation)}) {
    if (!s.ok()) return AsKieCallbackError(s);
  }
  if (update.provider_task_id.empty()) {
    return AsKieCallbackError(kKieJson.Malformed("no `task_id`"));
  }
  for (const Value* info : {removal, separation}) {
    if (info == nullptr) continue;
    if (absl::Status s = ReadStems(*info, /*snake_case=*/true, result); !s.ok()) {
      return AsKieCallbackError(s);
    }
  }
  update.has_operation_result = HasResult(result) || !result.stem_urls().empty();
  if (code->GetInt() == 200) {
    // Named as record-info names it, so a callback and a poll of the same result are one update.
    update.provider_status = "SUCCESS";
    update.state = ProviderState::kSucceeded;
    RequireResult(update);
  } else {
    update.provider_status = absl::StrCat("callback:", code->GetInt());
    update.provider_error_code = absl::StrCat(code->GetInt());
    FailKieUpdate(
        update, absl::StatusCode::kInternal,
        msg.empty() ? absl::StrCat("kie.ai callback reported failure ", code->GetInt()) : msg);
  }
  return update;
}

absl::StatusOr<music::v1::GetTimestampedLyricsResponse> ParseKieTimestampedLyrics(
    absl::string_view body) {
  rapidjson::Document doc;
  absl::StatusOr<const Value*> data = ReadData(body, doc);
  if (!data.ok()) return data.status();
  music::v1::GetTimestampedLyricsResponse out;
  const Value* words = nullptr;
  const Value* waveform = nullptr;
  double cer = 0;
  bool streamed = false;
  for (absl::Status s : {kKieJson.ReadArray(**data, "alignedWords", &words),
                         kKieJson.ReadArray(**data, "waveformData", &waveform),
                         kKieJson.ReadNumber(**data, "hootCer", &cer),
                         kKieJson.ReadBool(**data, "isStreamed", &streamed)}) {
    if (!s.ok()) return s;
  }
  out.set_alignment_error_rate(cer);
  out.set_streamed(streamed);
  if (words != nullptr) {
    for (const Value& item : words->GetArray()) {
      if (!item.IsObject()) return kKieJson.WrongType("alignedWords item", "an object");
      music::v1::AlignedWord* word = out.add_aligned_words();
      bool aligned = false;
      std::optional<double> start, start_snake, end, end_snake, score, score_snake;
      // One stored copy spells start_s / end_s / p_align (CONTRACT-NOTES): accept both.
      for (absl::Status s :
           {kKieJson.ReadString(item, "word", word->mutable_word()),
            kKieJson.ReadBool(item, "success", &aligned),
            kKieJson.ReadNumber(item, "startS", &start),
            kKieJson.ReadNumber(item, "start_s", &start_snake),
            kKieJson.ReadNumber(item, "endS", &end), kKieJson.ReadNumber(item, "end_s", &end_snake),
            kKieJson.ReadNumber(item, "palign", &score),
            kKieJson.ReadNumber(item, "p_align", &score_snake)}) {
        if (!s.ok()) return s;
      }
      word->set_aligned(aligned);
      word->set_start_seconds(start.value_or(start_snake.value_or(0)));
      word->set_end_seconds(end.value_or(end_snake.value_or(0)));
      word->set_alignment_score(score.value_or(score_snake.value_or(0)));
    }
  }
  if (waveform != nullptr) {
    for (const Value& v : waveform->GetArray()) {
      if (!v.IsNumber()) return kKieJson.WrongType("waveformData item", "a number");
      out.add_waveform(v.GetDouble());
    }
  }
  return out;
}

absl::StatusOr<StyleBoost> ParseKieStyleBoost(absl::string_view body) {
  rapidjson::Document doc;
  absl::StatusOr<const Value*> data = ReadData(body, doc);
  if (!data.ok()) return data.status();
  StyleBoost boost;
  std::string flag, error_message;
  for (absl::Status s :
       {kKieJson.ReadString(**data, "taskId", &boost.provider_task_id),
        kKieJson.ReadString(**data, "result", &boost.style),
        ReadCreditsMicros(**data, "creditsConsumed", &boost.credits_consumed_micros),
        ReadCreditsMicros(**data, "creditsRemaining", &boost.credits_remaining_micros),
        kKieJson.ReadCode(**data, "successFlag", &flag),
        kKieJson.ReadString(**data, "errorMessage", &error_message)}) {
    if (!s.ok()) return s;
  }
  if (!flag.empty() && flag != "SUCCESS" && flag != "1" && boost.style.empty()) {
    return absl::FailedPreconditionError(absl::StrCat("kie.ai style boost failed (", flag, ")",
                                                      error_message.empty() ? "" : ": ",
                                                      error_message));
  }
  if (boost.style.empty()) return kKieJson.Malformed("no `data.result`");
  return boost;
}

absl::StatusOr<ProviderBalance> ParseKieCredit(absl::string_view body) {
  rapidjson::Document doc;
  if (absl::Status s = kKieJson.ParseObject(body, doc); !s.ok()) return s;
  if (absl::Status s = RequireKieCode200(doc); !s.ok()) return s;
  int64_t micros = 0;
  const Value* data = kKieJson.Find(doc, "data");
  if (data == nullptr || !data->IsNumber()) return kKieJson.WrongType("data", "a number");
  if (absl::Status s = ReadCreditsMicros(doc, "data", &micros); !s.ok()) return s;
  ProviderBalance balance;
  balance.balance_micros = micros;
  balance.currency = "CREDITS";
  return balance;
}

}  // namespace music::adapters::kie
