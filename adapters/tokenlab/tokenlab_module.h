// TokenLab as one provider module (adapters/provider_module.h).
#ifndef MUSIC_ADAPTERS_TOKENLAB_TOKENLAB_MODULE_H_
#define MUSIC_ADAPTERS_TOKENLAB_TOKENLAB_MODULE_H_

#include "adapters/provider_module.h"

namespace music::adapters::tokenlab {

/// The "tokenlab" module: config section `providers.tokenlab.*` (base URL
/// https://api.tokenlab.sh, key from $TOKENLAB_API_KEY, $0.10 per task), the TokenLab adapter
/// (given the configured price when one is set), its models, and tokenlab-suno-music as the third
/// member of the built-in alias "suno".
ProviderModule Module();

}  // namespace music::adapters::tokenlab

#endif  // MUSIC_ADAPTERS_TOKENLAB_TOKENLAB_MODULE_H_
