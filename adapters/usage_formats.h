// The built-in providers' usage-record formats, by provider name. Interim: once every provider
// module (adapters/<p>/<p>_module.cc) sets ProviderModule::usage, the registry is the one list
// and this file goes (service/core/usage_formats.h reads the registry the same way).
#ifndef MUSIC_ADAPTERS_USAGE_FORMATS_H_
#define MUSIC_ADAPTERS_USAGE_FORMATS_H_

#include <string>
#include <utility>
#include <vector>

#include "adapters/provider_module.h"

namespace music::adapters {

/// (provider name, its usage format) for tokenlab, beatra, piapi and kie, in that order (the
/// order unknown-provider errors list them in).
std::vector<std::pair<std::string, UsageFormat>> BuiltinUsageFormats();

}  // namespace music::adapters

#endif  // MUSIC_ADAPTERS_USAGE_FORMATS_H_
