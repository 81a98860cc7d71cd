// beatra as one provider module (adapters/provider_module.h).
#ifndef MUSIC_ADAPTERS_BEATRA_BEATRA_MODULE_H_
#define MUSIC_ADAPTERS_BEATRA_BEATRA_MODULE_H_

#include "adapters/provider_module.h"

namespace music::adapters::beatra {

/// The "beatra" module: config section `providers.beatra.*` (base URL https://api.beatra.ai, key
/// from $BEATRA_API_KEY, the adapter's own 80 / 50 credit prices), the beatra adapter, its models,
/// and beatra-suno-5.5 as the second member of the built-in alias "suno".
ProviderModule Module();

}  // namespace music::adapters::beatra

#endif  // MUSIC_ADAPTERS_BEATRA_BEATRA_MODULE_H_
