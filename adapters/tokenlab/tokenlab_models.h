#ifndef MUSIC_ADAPTERS_TOKENLAB_TOKENLAB_MODELS_H_
#define MUSIC_ADAPTERS_TOKENLAB_TOKENLAB_MODELS_H_

#include <vector>

#include "adapters/tokenlab/tokenlab_json.h"
#include "music/v1/music_service.pb.h"

namespace music::adapters::tokenlab {

/// The built-in catalog (WIRE.md "Catalog"): "tokenlab-suno-music" -> provider model
/// `suno_music` (seed 000 "The current public examples use suno_music"), music, continuation
/// (continuation_style CONTINUATION_STYLE_OPTIONAL_FIELDS: seed 000 "Continue an existing clip",
/// `continue_clip_id`, optional `continue_at`) and instrumental, not lyrics (seed 000: lyrics need
/// "a model whose public contract documents lyric generation"; FetchModels turns it on when the
/// live list documents it), one clip per task, no length limits (the seeds give none; 0 = not
/// checked by the service), no seed / negative tags / reference audio / model options. `price` is
/// the configured price ({100000, "USD"} when its amount is 0).
std::vector<music::v1::Model> TokenlabModels(const music::v1::Price& price);

/// `models` refreshed from the live list: an entry whose provider_model is listed takes the
/// capability flags the list gives (TokenlabModelInfo; the price stays the configured one: the
/// list's `lemondata.pricing_unit` names a unit, not a price); entries not listed and
/// listed models not in the catalog are left as they are (the service only serves what it
/// knows).
std::vector<music::v1::Model> MergeTokenlabModels(std::vector<music::v1::Model> models,
                                                  const std::vector<TokenlabModelInfo>& live);

}  // namespace music::adapters::tokenlab

#endif  // MUSIC_ADAPTERS_TOKENLAB_TOKENLAB_MODELS_H_
