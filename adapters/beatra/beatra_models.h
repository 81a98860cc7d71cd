#ifndef MUSIC_ADAPTERS_BEATRA_BEATRA_MODELS_H_
#define MUSIC_ADAPTERS_BEATRA_BEATRA_MODELS_H_

#include <vector>

#include "absl/strings/string_view.h"
#include "music/v1/music_service.pb.h"

namespace music::adapters::beatra {

/// The built-in catalog entries (seed 002 "Billing" table and CONTRACT-NOTES): "beatra-suno-5.5"
/// (80 credits, 2 clips, namespace "suno") and "beatra-minimax-music-2.6" (50 credits, 1 clip,
/// namespace "minimax"). Music only: no lyrics tasks, no continuations.
std::vector<music::v1::Model> BeatraModels();

/// The one `model_options` namespace of a provider model ("suno" for "suno-5.5", "minimax" for
/// "minimax-music-2.6"); "" for a model beatra does not document.
absl::string_view BeatraModelNamespace(absl::string_view provider_model);

}  // namespace music::adapters::beatra

#endif  // MUSIC_ADAPTERS_BEATRA_BEATRA_MODELS_H_
