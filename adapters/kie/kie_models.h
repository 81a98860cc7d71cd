#ifndef MUSIC_ADAPTERS_KIE_KIE_MODELS_H_
#define MUSIC_ADAPTERS_KIE_KIE_MODELS_H_

#include <vector>

#include "music/v1/music_service.pb.h"

namespace music::adapters::kie {

/// The kie.ai catalog entries: suno-v3.5 (V3_5), suno-v4 (V4), suno-v4.5 (V4_5), suno-v4.5-plus
/// (V4_5PLUS), suno-v5 (V5), with the limits of seed 004 ("AI Models", "Key Parameters").
/// `available` is left false for the service to set.
std::vector<music::v1::Model> KieModels();

}  // namespace music::adapters::kie

#endif  // MUSIC_ADAPTERS_KIE_KIE_MODELS_H_
