#ifndef MUSIC_ADAPTERS_KIE_KIE_MODELS_H_
#define MUSIC_ADAPTERS_KIE_KIE_MODELS_H_

#include <cstdint>
#include <vector>

#include "music/v1/music_service.pb.h"

namespace music::adapters::kie {

/// What one kie.ai generation costs, in micro-credits (12 credits): the price every kie model
/// reserves. kie.ai bills in credits and gives no per-task charge in its answers, so a succeeded
/// task settles at this price; the provider emulator charges the same by default.
inline constexpr int64_t kKiePriceMicros = 12'000'000;

/// Clip operation prices, micro-credits. Vocal separation as CONTRACT-NOTES.md says ("every call
/// is charged"): `separate_vocal` 10 credits, `split_stem` 50. kie.ai publishes no WAV or video
/// price: operator settings (config `providers.kie.price_convert_to_wav_micros`,
/// `providers.kie.price_create_music_video_micros`), 2 and 4 credits by default.
inline constexpr int64_t kKieSeparateVocalsPriceMicros = 10'000'000;
inline constexpr int64_t kKieSplitStemsPriceMicros = 50'000'000;
inline constexpr int64_t kKieWavPriceMicros = 2'000'000;
inline constexpr int64_t kKieVideoPriceMicros = 4'000'000;

/// The kie.ai catalog entries: suno-v3.5 (V3_5), suno-v4 (V4), suno-v4.5 (V4_5), suno-v4.5-plus
/// (V4_5PLUS), suno-v4.5-all (V4_5ALL, CONTRACT-NOTES.md kie.ai models), suno-v5 (V5), with the
/// limits of seed 004 ("AI Models", "Key Parameters"), and continuation_style
/// CONTINUATION_STYLE_SOURCE_PARAMETERS_OR_CUSTOM (CONTRACT-NOTES "kie.ai" Extend:
/// `defaultParamFlag` + `continueAt`).
/// `available` is left false for the service to set.
std::vector<music::v1::Model> KieModels();

}  // namespace music::adapters::kie

#endif  // MUSIC_ADAPTERS_KIE_KIE_MODELS_H_
