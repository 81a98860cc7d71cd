#include "adapters/kie/kie_models.h"

#include <utility>

#include "adapters/kie/kie_audio_operations.h"

namespace music::adapters::kie {
namespace {

struct ModelSpec {
  const char* name;
  const char* provider_model;
  // Seed 004: V3_5 and V4 make up to 4 minutes with the smaller custom-mode limits; V4_5,
  // V4_5PLUS, V4_5ALL and V5 up to 8 minutes with the larger ones. CONTRACT-NOTES.md (kie.ai) lists
  // the documented models: V3_5, V4, V4_5, V4_5PLUS, V4_5ALL, V5 (no V5_5).
  bool long_form;
};

// clang-format off
constexpr ModelSpec kModels[] = {
    {"suno-v3.5",      "V3_5",     false},
    {"suno-v4",        "V4",       false},
    {"suno-v4.5",      "V4_5",     true},
    {"suno-v4.5-plus", "V4_5PLUS", true},
    {"suno-v4.5-all",  "V4_5ALL",  true},
    {"suno-v5",        "V5",       true},
};
// clang-format on

}  // namespace

std::vector<music::v1::Model> KieModels() {
  std::vector<music::v1::Model> models;
  for (const ModelSpec& spec : kModels) {
    music::v1::Model model;
    model.set_name(spec.name);
    model.set_provider("kie");
    model.set_provider_model(spec.provider_model);
    music::v1::ModelCapabilities* caps = model.mutable_capabilities();
    caps->set_music(true);
    caps->set_lyrics(true);
    caps->set_continuation(true);
    // CONTRACT-NOTES "kie.ai" Extend: `defaultParamFlag` false reuses the source clip's
    // parameters; true needs `prompt`, `style`, `title` and `continueAt` (seed 004 extend).
    caps->set_continuation_style(music::v1::CONTINUATION_STYLE_SOURCE_PARAMETERS_OR_CUSTOM);
    caps->set_instrumental(true);
    caps->set_negative_tags(true);  // negativeTags on generate (seed 004) and extend
    // CONTRACT-NOTES.md kie.ai "Generate (and extend) optional fields", named for no model in
    // particular: every kie model takes them.
    caps->set_vocal_gender(true);
    caps->set_style_weight(true);
    caps->set_weirdness(true);
    caps->set_audio_weight(true);
    caps->set_persona_id(true);
    caps->set_clips_per_task(2);
    caps->set_max_duration_seconds(spec.long_form ? 480 : 240);
    caps->set_max_prompt_chars(500);
    caps->set_max_custom_prompt_chars(spec.long_form ? 5000 : 3000);
    caps->set_max_style_chars(spec.long_form ? 1000 : 200);
    caps->set_max_title_chars(80);
    caps->set_max_lyrics_prompt_chars(200);  // POST /api/v1/lyrics (CONTRACT-NOTES)
    // The operations on the caller's audio (CONTRACT-NOTES "From uploaded audio"); add-* only
    // on V4_5PLUS and V5.
    for (music::v1::AudioOperation op :
         {music::v1::AUDIO_OPERATION_COVER, music::v1::AUDIO_OPERATION_EXTEND,
          music::v1::AUDIO_OPERATION_ADD_INSTRUMENTAL, music::v1::AUDIO_OPERATION_ADD_VOCALS}) {
      if (KieModelRunsAudioOperation(spec.provider_model, op)) caps->add_audio_operations(op);
    }
    model.mutable_price()->set_amount_micros(kKiePriceMicros);
    model.mutable_price()->set_currency("CREDITS");
    // seed 004 "Advanced Features" (CONTRACT-NOTES.md): every kie model's clips take these.
    caps->set_timestamped_lyrics(true);
    caps->set_style_boost(true);
    const std::pair<music::v1::ClipOperation, int64_t> operations[] = {
        {music::v1::CLIP_OPERATION_CONVERT_TO_WAV, kKieWavPriceMicros},
        {music::v1::CLIP_OPERATION_SEPARATE_VOCALS, kKieSeparateVocalsPriceMicros},
        {music::v1::CLIP_OPERATION_SPLIT_STEMS, kKieSplitStemsPriceMicros},
        {music::v1::CLIP_OPERATION_CREATE_MUSIC_VIDEO, kKieVideoPriceMicros},
    };
    for (const auto& [operation, micros] : operations) {
      caps->add_clip_operations(operation);
      music::v1::ClipOperationPrice* price = model.add_clip_operation_prices();
      price->set_operation(operation);
      price->mutable_price()->set_amount_micros(micros);
      price->mutable_price()->set_currency("CREDITS");
    }
    models.push_back(std::move(model));
  }
  return models;
}

}  // namespace music::adapters::kie
