#include "adapters/beatra/beatra_module.h"

#include <memory>
#include <utility>

#include "adapters/beatra/beatra_adapter.h"
#include "adapters/beatra/beatra_models.h"
#include "adapters/beatra/beatra_usage_format.h"

namespace music::adapters::beatra {

ProviderModule Module() {
  ProviderModule m;
  m.name = "beatra";
  m.defaults.base_url = "https://api.beatra.ai";
  m.defaults.api_key_env = "BEATRA_API_KEY";
  m.make_adapter =
      [](const ProviderSettings& s) -> absl::StatusOr<std::shared_ptr<ProviderAdapter>> {
    BeatraOptions options;
    options.base_url = s.base_url;
    options.api_key = s.api_key;
    options.request_timeout = s.request_timeout;
    return std::shared_ptr<ProviderAdapter>(NewBeatraAdapter(
        std::move(options), s.http, s.clock != nullptr ? s.clock : RealClock::Get()));
  };
  m.models = [] { return BeatraModels(); };
  // Second in "suno", after kie.ai.
  m.aliases = {{"suno", "beatra-suno-5.5", 20}};
  m.usage = {ParseUsage, WriteUsage};
  return m;
}

}  // namespace music::adapters::beatra
