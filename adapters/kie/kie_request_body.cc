#include "adapters/kie/kie_request_body.h"

#include <rapidjson/stringbuffer.h>

#include "adapters/internal/json_writer.h"

namespace music::adapters::kie {
namespace {

using internal::JsonWriter;
using internal::PutBool;
using internal::PutIfSet;
using internal::PutSeconds;
using internal::PutString;

// In custom mode kie.ai's `prompt` is the text to sing: exact lyrics win over the description.
const std::string& SungPrompt(const music::v1::TaskInput& input) {
  return input.lyrics().empty() ? input.prompt() : input.lyrics();
}

}  // namespace

bool IsCustomMode(const music::v1::TaskInput& input) {
  return !input.style().empty() || !input.title().empty() || !input.lyrics().empty();
}

std::string BuildGenerateBody(const music::v1::TaskInput& input, absl::string_view model,
                              absl::string_view callback_url) {
  rapidjson::StringBuffer buffer;
  JsonWriter w(buffer);
  const bool custom = IsCustomMode(input);
  w.StartObject();
  if (!custom) {
    PutString(w, "prompt", input.prompt());
  } else if (!SungPrompt(input).empty() || !input.instrumental()) {
    // Without lyrics kie.ai answers 422 for a vocal song; sending "" lets it say so.
    PutString(w, "prompt", SungPrompt(input));
  }
  PutBool(w, "customMode", custom);
  PutBool(w, "instrumental", input.instrumental());
  PutString(w, "model", model);
  PutString(w, "callBackUrl", callback_url);
  PutIfSet(w, "style", input.style());
  PutIfSet(w, "title", input.title());
  PutIfSet(w, "negativeTags", input.negative_tags());
  w.EndObject();
  return std::string(buffer.GetString(), buffer.GetSize());
}

std::string BuildExtendBody(const music::v1::TaskInput& input, absl::string_view model,
                            absl::string_view callback_url) {
  rapidjson::StringBuffer buffer;
  JsonWriter w(buffer);
  // continue_at_seconds 0 means "reuse the source clip's parameters" (task.proto).
  const bool own_params = input.continue_at_seconds() > 0;
  w.StartObject();
  PutString(w, "audioId", input.continue_from_clip_id());
  PutBool(w, "defaultParamFlag", own_params);
  PutString(w, "model", model);
  PutString(w, "callBackUrl", callback_url);
  if (own_params) {
    PutString(w, "prompt", SungPrompt(input));
    PutString(w, "style", input.style());
    PutString(w, "title", input.title());
    PutSeconds(w, "continueAt", input.continue_at_seconds());
  }
  w.EndObject();
  return std::string(buffer.GetString(), buffer.GetSize());
}

std::string BuildLyricsBody(const music::v1::TaskInput& input, absl::string_view callback_url) {
  rapidjson::StringBuffer buffer;
  JsonWriter w(buffer);
  w.StartObject();
  PutString(w, "prompt", input.prompt());
  PutString(w, "callBackUrl", callback_url);
  w.EndObject();
  return std::string(buffer.GetString(), buffer.GetSize());
}

}  // namespace music::adapters::kie
