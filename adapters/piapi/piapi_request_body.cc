#include "adapters/piapi/piapi_request_body.h"

#include <rapidjson/stringbuffer.h>

#include <vector>

#include "absl/strings/str_join.h"
#include "adapters/internal/json_writer.h"

namespace music::adapters::piapi {
namespace {

using internal::JsonWriter;
using internal::PutSeconds;
using internal::PutString;

bool IsCustomMode(const music::v1::TaskInput& input) {
  return !input.style().empty() || !input.title().empty() || !input.lyrics().empty();
}

// The words to sing: exact lyrics, or in custom mode the prompt (task.proto TaskInput.prompt).
const std::string& SungWords(const music::v1::TaskInput& input) {
  static const std::string* const kNone = new std::string();
  if (!input.lyrics().empty()) return input.lyrics();
  if (IsCustomMode(input) && !input.instrumental()) return input.prompt();
  return *kNone;
}

}  // namespace

std::string PiapiLyricsType(const music::v1::TaskInput& input) {
  if (input.instrumental()) return "instrumental";
  if (!SungWords(input).empty()) return "user";
  return "generate";
}

std::string PiapiContinuationLyricsType(const music::v1::TaskInput& input) {
  return input.lyrics().empty() ? "generate" : "user";
}

std::string PiapiContinuationDescription(const music::v1::TaskInput& input) {
  std::vector<absl::string_view> parts;
  if (!input.prompt().empty()) parts.push_back(input.prompt());
  if (!input.style().empty()) parts.push_back(input.style());
  return absl::StrJoin(parts, ", ");
}

std::string BuildPiapiCreateBody(const music::v1::TaskInput& input, absl::string_view model,
                                 bool continuation, absl::string_view service_mode,
                                 const PiapiWebhook& webhook) {
  // A continuation follows the model's declared contract (CONTINUATION_STYLE_DESCRIPTION_OR_LYRICS,
  // piapi_models.cc): the prompt describes, the lyrics are the words. A music task follows
  // task.proto's custom mode, where the prompt may be the words.
  const std::string lyrics_type =
      continuation ? PiapiContinuationLyricsType(input) : PiapiLyricsType(input);
  // generate / instrumental: the description is the prompt (or, for a custom-mode
  // instrumental without one, the style); user: the words go in `prompt`, the style describes.
  std::string description;
  if (continuation) {
    description = PiapiContinuationDescription(input);
  } else if (lyrics_type == "user") {
    description = input.style();
  } else {
    description = input.prompt().empty() ? input.style() : input.prompt();
  }
  const std::string& words = continuation ? input.lyrics() : SungWords(input);

  rapidjson::StringBuffer buffer;
  JsonWriter w(buffer);
  w.StartObject();
  PutString(w, "model", model);
  PutString(w, "task_type", "generate_music");
  w.Key("input");
  w.StartObject();
  PutString(w, "gpt_description_prompt", description);
  if (lyrics_type == "user") PutString(w, "prompt", words);
  PutString(w, "lyrics_type", lyrics_type);
  PutString(w, "negative_tags", input.negative_tags());
  w.Key("seed");
  w.Int64(input.seed() == 0 ? -1 : input.seed());
  if (!input.title().empty()) PutString(w, "title", input.title());
  if (continuation) {
    PutString(w, "continue_song_id", input.continue_from_clip_id());
    PutSeconds(w, "continue_at", input.continue_at_seconds());
  }
  w.EndObject();
  w.Key("config");
  w.StartObject();
  PutString(w, "service_mode", service_mode);
  if (!webhook.endpoint.empty()) {
    w.Key("webhook_config");
    w.StartObject();
    PutString(w, "endpoint", webhook.endpoint);
    PutString(w, "secret", webhook.secret);
    w.EndObject();
  }
  w.EndObject();
  w.EndObject();
  return std::string(buffer.GetString(), buffer.GetSize());
}

std::string BuildPiapiLyricsBody(absl::string_view prompt, absl::string_view model,
                                 absl::string_view service_mode) {
  rapidjson::StringBuffer buffer;
  JsonWriter w(buffer);
  w.StartObject();
  PutString(w, "model", model);
  PutString(w, "task_type", "generate_lyrics");
  w.Key("input");
  w.StartObject();
  PutString(w, "prompt", prompt);
  w.EndObject();
  w.Key("config");
  w.StartObject();
  PutString(w, "service_mode", service_mode);
  w.EndObject();
  w.EndObject();
  return std::string(buffer.GetString(), buffer.GetSize());
}

}  // namespace music::adapters::piapi
