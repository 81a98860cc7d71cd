#include "adapters/beatra/beatra_models.h"

#include <cstdint>
#include <utility>

namespace music::adapters::beatra {
namespace {

struct ModelSpec {
  const char* name;
  const char* provider_model;
  const char* option_namespace;  // seed 002 "Model options"
  int64_t price_micros;          // seed 002 "Billing": flat per-task price in credits
  int32_t clips_per_task;        // seed 002: suno-5.5 two clips, minimax-music-2.6 one
};

// clang-format off
constexpr ModelSpec kModels[] = {
    {"beatra-suno-5.5",          "suno-5.5",          "suno",    80'000'000, 2},
    {"beatra-minimax-music-2.6", "minimax-music-2.6", "minimax", 50'000'000, 1},
};
// clang-format on

}  // namespace

std::vector<music::v1::Model> BeatraModels() {
  std::vector<music::v1::Model> models;
  for (const ModelSpec& spec : kModels) {
    music::v1::Model model;
    model.set_name(spec.name);
    model.set_provider("beatra");
    model.set_provider_model(spec.provider_model);
    model.mutable_price()->set_amount_micros(spec.price_micros);
    model.mutable_price()->set_currency("CREDITS");
    music::v1::ModelCapabilities* caps = model.mutable_capabilities();
    caps->set_music(true);
    caps->set_instrumental(true);     // top-level `instrumental` (seed 002 "Model options")
    caps->set_lyrics(false);          // no lyrics-task endpoint
    caps->set_continuation(false);    // no extend endpoint
    caps->set_reference_audio(true);  // POST /v1/music/reference-audio-to-music
    caps->set_clips_per_task(spec.clips_per_task);
    caps->add_model_option_namespaces(spec.option_namespace);
    // The documents give no seed or negative-tag field; the adapter refuses both.
    caps->set_seed(false);
    caps->set_negative_tags(false);
    // The documents give no length limits: the max_* fields stay 0 (not enforced by the service).
    models.push_back(std::move(model));
  }
  return models;
}

absl::string_view BeatraModelNamespace(absl::string_view provider_model) {
  for (const ModelSpec& spec : kModels) {
    if (provider_model == spec.provider_model) return spec.option_namespace;
  }
  return "";
}

}  // namespace music::adapters::beatra
