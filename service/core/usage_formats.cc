#include "service/core/usage_formats.h"

namespace music::service {

billing::UsageFormats UsageFormatsFromRegistry(const adapters::ProviderModuleRegistry& registry) {
  billing::UsageFormats formats;
  for (const adapters::ProviderModule& m : registry.modules()) {
    if (m.usage.parse == nullptr) continue;  // a provider without a usage export
    // The registry's names are unique, so Add cannot fail here.
    (void)formats.Add(m.name, m.usage.parse, m.usage.write);
  }
  return formats;
}

billing::UsageFormats UsageFormatsFrom(
    absl::Span<const std::pair<std::string, adapters::UsageFormat>> formats) {
  billing::UsageFormats out;
  for (const auto& [name, usage] : formats) {
    if (usage.parse == nullptr) continue;
    (void)out.Add(name, usage.parse, usage.write);  // a repeated name keeps the first
  }
  return out;
}

}  // namespace music::service
