#include "adapters/tokenlab/tokenlab_models.h"

#include <utility>

namespace music::adapters::tokenlab {

std::vector<music::v1::Model> TokenlabModels(const music::v1::Price& price) {
  music::v1::Model model;
  model.set_name("tokenlab-suno-music");
  model.set_provider("tokenlab");
  model.set_provider_model("suno_music");
  music::v1::ModelCapabilities* caps = model.mutable_capabilities();
  caps->set_music(true);
  // Seed 000: lyric-only flows need "a model whose public contract documents lyric generation";
  // only the live list (FetchModels) can say so, so the built-in entry cannot do lyrics.
  caps->set_lyrics(false);
  caps->set_continuation(true);  // continue_clip_id / continue_at
  // Seed 000 "Continue an existing clip": `continue_clip_id`, optional `continue_at`; the
  // create's `prompt`, `title` and `tags` are optional beside them (CONTRACT-NOTES "TokenLab").
  caps->set_continuation_style(music::v1::CONTINUATION_STYLE_OPTIONAL_FIELDS);
  caps->set_instrumental(true);  // "Full song or instrumental", via `tags` (WIRE.md)
  caps->set_clips_per_task(1);   // a completed task carries one audio_url
  caps->set_reference_audio(false);
  caps->set_seed(false);
  caps->set_negative_tags(false);
  music::v1::Price* p = model.mutable_price();
  if (price.amount_micros() > 0) {
    *p = price;
    if (p->currency().empty()) p->set_currency("USD");
  } else {
    p->set_amount_micros(100000);  // $0.10 default; the seeds publish no price
    p->set_currency("USD");
  }
  return {std::move(model)};
}

std::vector<music::v1::Model> MergeTokenlabModels(std::vector<music::v1::Model> models,
                                                  const std::vector<TokenlabModelInfo>& live) {
  for (music::v1::Model& model : models) {
    for (const TokenlabModelInfo& info : live) {
      if (info.id != model.provider_model()) continue;
      music::v1::ModelCapabilities* caps = model.mutable_capabilities();
      if (info.music) caps->set_music(*info.music);
      if (info.lyrics) caps->set_lyrics(*info.lyrics);
      if (info.continuation) caps->set_continuation(*info.continuation);
      if (info.instrumental) caps->set_instrumental(*info.instrumental);
      break;
    }
  }
  return models;
}

}  // namespace music::adapters::tokenlab
