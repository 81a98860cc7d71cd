#ifndef MUSIC_ADAPTERS_PIAPI_PIAPI_MODELS_H_
#define MUSIC_ADAPTERS_PIAPI_PIAPI_MODELS_H_

#include <vector>

#include "music/v1/music_service.pb.h"

namespace music::adapters::piapi {

/// The built-in catalog entry: "udio-music-u" (PiAPI `music-u`, seed 003), music + instrumental +
/// continuation (32 s per extend; continuation_style CONTINUATION_STYLE_DESCRIPTION_OR_LYRICS, seed
/// 003 "Udio Song Extend Example"), lyrics (`generate_lyrics`, CONTRACT-NOTES), 2 clips per task,
/// seed and negative tags, $0.05 per generation (price {50000, "USD"}). Length limits are 0 (the
/// seed documents none).
std::vector<music::v1::Model> PiapiModels();

}  // namespace music::adapters::piapi

#endif  // MUSIC_ADAPTERS_PIAPI_PIAPI_MODELS_H_
