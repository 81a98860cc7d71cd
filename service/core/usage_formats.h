// The billing layer's table of usage formats (billing::UsageFormats) from the provider modules'
// descriptors (adapters::ProviderModule::usage), so service/billing never names a provider and
// never includes adapters/.
#ifndef MUSIC_SERVICE_CORE_USAGE_FORMATS_H_
#define MUSIC_SERVICE_CORE_USAGE_FORMATS_H_

#include <string>
#include <utility>

#include "absl/types/span.h"
#include "adapters/provider_module.h"
#include "service/billing/usage_format.h"

namespace music::service {

/// The usage formats of the registry's modules that have a parser, in registration order.
billing::UsageFormats UsageFormatsFromRegistry(const adapters::ProviderModuleRegistry& registry);

/// The same from (provider name, format) pairs; entries without a parser, or repeating a name,
/// are skipped.
billing::UsageFormats UsageFormatsFrom(
    absl::Span<const std::pair<std::string, adapters::UsageFormat>> formats);

}  // namespace music::service

#endif  // MUSIC_SERVICE_CORE_USAGE_FORMATS_H_
