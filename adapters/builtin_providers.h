// The providers this program ships with: the one place that lists them.
#ifndef MUSIC_ADAPTERS_BUILTIN_PROVIDERS_H_
#define MUSIC_ADAPTERS_BUILTIN_PROVIDERS_H_

#include "adapters/provider_module.h"

namespace music::adapters {

/// The built-in provider modules, in this order: kie, piapi, tokenlab, beatra (the order of the
/// catalog's models, and of the config's provider checks). Built once, on first use; thread-safe,
/// never destroyed.
const ProviderModuleRegistry& BuiltinProviders();

}  // namespace music::adapters

#endif  // MUSIC_ADAPTERS_BUILTIN_PROVIDERS_H_
