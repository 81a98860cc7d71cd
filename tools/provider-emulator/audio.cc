#include "tools/provider-emulator/audio.h"

#include <algorithm>
#include <cmath>

namespace music::emulator {
namespace {

constexpr double kPi = 3.14159265358979323846;

void PutU32(std::string* out, uint32_t v) {
  for (int i = 0; i < 4; ++i) out->push_back(static_cast<char>((v >> (8 * i)) & 0xff));
}

void PutU16(std::string* out, uint16_t v) {
  out->push_back(static_cast<char>(v & 0xff));
  out->push_back(static_cast<char>((v >> 8) & 0xff));
}

// FNV-1a: a stable hash (std::hash may differ between builds).
uint64_t StableHash(absl::string_view s) {
  uint64_t h = 1469598103934665603ull;
  for (unsigned char c : s) {
    h ^= c;
    h *= 1099511628211ull;
  }
  return h;
}

double ClampSeconds(double seconds) {
  if (!(seconds >= 0.1)) return 0.1;  // also catches NaN
  return std::min(seconds, 600.0);
}

}  // namespace

int64_t WavSampleCount(double seconds) {
  return static_cast<int64_t>(std::llround(ClampSeconds(seconds) * kWavSampleRate));
}

std::string SynthesizeWav(absl::string_view clip_id, double seconds) {
  const int64_t samples = WavSampleCount(seconds);
  const uint32_t data_bytes = static_cast<uint32_t>(samples * 2);
  std::string wav;
  wav.reserve(kWavHeaderBytes + data_bytes);
  wav.append("RIFF");
  PutU32(&wav, 36 + data_bytes);
  wav.append("WAVE");
  wav.append("fmt ");
  PutU32(&wav, 16);                  // fmt chunk size
  PutU16(&wav, 1);                   // PCM
  PutU16(&wav, 1);                   // mono
  PutU32(&wav, kWavSampleRate);      // sample rate
  PutU32(&wav, kWavSampleRate * 2);  // byte rate
  PutU16(&wav, 2);                   // block align
  PutU16(&wav, 16);                  // bits per sample
  wav.append("data");
  PutU32(&wav, data_bytes);

  // Eight notes from a pentatonic scale, picked by the clip id's hash.
  constexpr int kScale[] = {0, 2, 4, 7, 9, 12, 14, 16};
  constexpr int kNotes = 8;
  uint64_t h = StableHash(clip_id);
  double freqs[kNotes];
  const int root = 57 + static_cast<int>(h % 7);  // MIDI A3..D#4
  for (double& f : freqs) {
    h = h * 6364136223846793005ull + 1442695040888963407ull;
    const int midi = root + kScale[(h >> 33) % 8];
    f = 440.0 * std::pow(2.0, (midi - 69) / 12.0);
  }
  const int64_t note_len = std::max<int64_t>(1, samples / kNotes);
  const int64_t fade = std::min<int64_t>(note_len / 4, kWavSampleRate / 50);  // ~20 ms
  for (int64_t i = 0; i < samples; ++i) {
    const int64_t note = std::min<int64_t>(i / note_len, kNotes - 1);
    const int64_t pos = i - note * note_len;
    double envelope = 1.0;
    if (fade > 0) {
      if (pos < fade) envelope = static_cast<double>(pos) / fade;
      const int64_t left = note_len - pos;
      if (left < fade) envelope = std::min(envelope, static_cast<double>(left) / fade);
    }
    const double t = static_cast<double>(i) / kWavSampleRate;
    const double f = freqs[note];
    const double v =
        0.25 * envelope * (std::sin(2 * kPi * f * t) + 0.3 * std::sin(4 * kPi * f * t));
    PutU16(&wav, static_cast<uint16_t>(static_cast<int16_t>(std::lround(v * 32767))));
  }
  return wav;
}

const std::string& TinyPng() {
  static const std::string* const kPng = [] {
    static const unsigned char kBytes[] = {
        0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a, 0x00, 0x00, 0x00, 0x0d, 0x49, 0x48,
        0x44, 0x52, 0x00, 0x00, 0x00, 0x01, 0x00, 0x00, 0x00, 0x01, 0x08, 0x06, 0x00, 0x00,
        0x00, 0x1f, 0x15, 0xc4, 0x89, 0x00, 0x00, 0x00, 0x0a, 0x49, 0x44, 0x41, 0x54, 0x78,
        0x9c, 0x63, 0x00, 0x01, 0x00, 0x00, 0x05, 0x00, 0x01, 0x0d, 0x0a, 0x2d, 0xb4, 0x00,
        0x00, 0x00, 0x00, 0x49, 0x45, 0x4e, 0x44, 0xae, 0x42, 0x60, 0x82};
    return new std::string(reinterpret_cast<const char*>(kBytes), sizeof(kBytes));
  }();
  return *kPng;
}

}  // namespace music::emulator
