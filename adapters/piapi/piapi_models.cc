#include "adapters/piapi/piapi_models.h"

#include <utility>

namespace music::adapters::piapi {

std::vector<music::v1::Model> PiapiModels() {
  music::v1::Model model;
  model.set_name("udio-music-u");
  model.set_provider("piapi");
  model.set_provider_model("music-u");
  music::v1::ModelCapabilities* caps = model.mutable_capabilities();
  caps->set_music(true);
  // CONTRACT-NOTES "PiAPI": "PiAPI also documents a `generate_lyrics` task (`input.prompt` ->
  // `output.lyrics_pairs[{title, text}]`)" (seed 003 documents only generate_music for music-u;
  // the notes win).
  caps->set_lyrics(true);
  caps->set_continuation(true);
  // Seed 003 "Udio Song Extend Example": `continue_song_id` + `continue_at` (0 there) with
  // `lyrics_type: "generate"` and a `gpt_description_prompt`; `lyrics_type: "user"` sends the
  // words instead ("Udio Full Lyrics"). CONTRACT-NOTES "PiAPI": "Extend: `continue_song_id` +
  // `continue_at`".
  caps->set_continuation_style(music::v1::CONTINUATION_STYLE_DESCRIPTION_OR_LYRICS);
  caps->set_instrumental(true);
  // Seed 003 "Song Extend": udio32, "you can only extend 32 seconds on every extend call".
  caps->set_continuation_added_seconds(32);
  // Seed 003 Get Task example: output.clips holds two clip ids per generation.
  caps->set_clips_per_task(2);
  caps->set_seed(true);
  caps->set_negative_tags(true);
  caps->set_reference_audio(false);
  // Seed 003 "Unit Pricing" and CONTRACT-NOTES: $0.05 per generation.
  model.mutable_price()->set_amount_micros(50000);
  model.mutable_price()->set_currency("USD");
  std::vector<music::v1::Model> models;
  models.push_back(std::move(model));
  return models;
}

}  // namespace music::adapters::piapi
