#ifndef MUSIC_TOOLS_PROVIDER_EMULATOR_AUDIO_H_
#define MUSIC_TOOLS_PROVIDER_EMULATOR_AUDIO_H_

#include <cstdint>
#include <string>

#include "absl/strings/string_view.h"

namespace music::emulator {

/// Sample rate of synthesised clips (16-bit PCM, mono).
inline constexpr int kWavSampleRate = 22050;
/// Size of the canonical RIFF/WAVE header SynthesizeWav writes.
inline constexpr int kWavHeaderBytes = 44;

/// A playable WAV (RIFF, PCM 16-bit mono, 22050 Hz) of `seconds` (clamped to [0.1, 600]): a few
/// sine notes whose pitches are derived from `clip_id`, so a clip always sounds the same.
std::string SynthesizeWav(absl::string_view clip_id, double seconds);

/// Number of samples SynthesizeWav writes for `seconds`.
int64_t WavSampleCount(double seconds);

/// A valid 1x1 PNG (the cover image of every clip).
const std::string& TinyPng();

}  // namespace music::emulator

#endif  // MUSIC_TOOLS_PROVIDER_EMULATOR_AUDIO_H_
