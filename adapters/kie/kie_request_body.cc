#include "adapters/kie/kie_request_body.h"

#include <rapidjson/stringbuffer.h>

#include <cmath>

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

// A weight in [0, 1] with at most 2 decimals (validated before submit): written rounded to the
// hundredth so a binary fraction such as 0.29 never goes out as 0.28999999999999998.
void PutWeight(JsonWriter& w, const char* key, double value) {
  w.Key(key);
  w.Double(std::round(value * 100) / 100);
}

// CONTRACT-NOTES.md kie.ai "Generate (and extend) optional fields": `negativeTags`;
// `vocalGender` `m` | `f` and `personaId` in custom mode only; `styleWeight`,
// `weirdnessConstraint`, `audioWeight` numbers in [0, 1]. Each only when set, so a request that
// uses none of them is the body seed 004's examples send.
void PutGenerateOptions(JsonWriter& w, const music::v1::TaskInput& input, bool custom) {
  PutIfSet(w, "negativeTags", input.negative_tags());
  if (custom) {
    switch (input.vocal_gender()) {
      case music::v1::VOCAL_GENDER_MALE:
        PutString(w, "vocalGender", "m");
        break;
      case music::v1::VOCAL_GENDER_FEMALE:
        PutString(w, "vocalGender", "f");
        break;
      default:
        break;  // unspecified: kie.ai chooses
    }
  }
  if (input.has_style_weight()) PutWeight(w, "styleWeight", input.style_weight());
  if (input.has_weirdness()) PutWeight(w, "weirdnessConstraint", input.weirdness());
  if (input.has_audio_weight()) PutWeight(w, "audioWeight", input.audio_weight());
  if (custom) PutIfSet(w, "personaId", input.persona_id());
}

}  // namespace

bool IsCustomMode(const music::v1::TaskInput& input) {
  return !input.style().empty() || !input.title().empty() || !input.lyrics().empty();
}

void WriteGenerateFields(const music::v1::TaskInput& input, internal::JsonWriter& w) {
  const bool custom = IsCustomMode(input);
  if (!custom) {
    PutString(w, "prompt", input.prompt());
  } else if (!SungPrompt(input).empty() || !input.instrumental()) {
    // Without lyrics kie.ai answers 422 for a vocal song; sending "" lets it say so.
    PutString(w, "prompt", SungPrompt(input));
  }
  PutBool(w, "customMode", custom);
  PutBool(w, "instrumental", input.instrumental());
  PutIfSet(w, "style", input.style());
  PutIfSet(w, "title", input.title());
  PutGenerateOptions(w, input, custom);
}

void WriteExtendFields(const music::v1::TaskInput& input, internal::JsonWriter& w) {
  // continue_at_seconds 0 means "reuse the source clip's parameters" (task.proto).
  const bool own_params = input.continue_at_seconds() > 0;
  PutBool(w, "defaultParamFlag", own_params);
  if (own_params) {
    PutString(w, "prompt", SungPrompt(input));
    PutString(w, "style", input.style());
    PutString(w, "title", input.title());
    PutSeconds(w, "continueAt", input.continue_at_seconds());
  }
  // The continuation's own parameters play custom mode's part: with defaultParamFlag false the
  // source clip's are reused, so a voice or persona would have nothing to apply to.
  PutGenerateOptions(w, input, own_params);
}

std::string BuildGenerateBody(const music::v1::TaskInput& input, absl::string_view model,
                              absl::string_view callback_url) {
  rapidjson::StringBuffer buffer;
  JsonWriter w(buffer);
  w.StartObject();
  WriteGenerateFields(input, w);
  PutString(w, "model", model);
  PutString(w, "callBackUrl", callback_url);
  w.EndObject();
  return std::string(buffer.GetString(), buffer.GetSize());
}

std::string BuildExtendBody(const music::v1::TaskInput& input, absl::string_view model,
                            absl::string_view callback_url) {
  rapidjson::StringBuffer buffer;
  JsonWriter w(buffer);
  w.StartObject();
  PutString(w, "audioId", input.continue_from_clip_id());
  WriteExtendFields(input, w);
  PutString(w, "model", model);
  PutString(w, "callBackUrl", callback_url);
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
