#include "adapters/tokenlab/tokenlab_module.h"

#include <memory>
#include <utility>

#include "adapters/tokenlab/tokenlab_adapter.h"
#include "adapters/tokenlab/tokenlab_models.h"
#include "adapters/tokenlab/tokenlab_usage_format.h"

namespace music::adapters::tokenlab {

ProviderModule Module() {
  ProviderModule m;
  m.name = "tokenlab";
  m.defaults.base_url = "https://api.tokenlab.sh";
  m.defaults.api_key_env = "TOKENLAB_API_KEY";
  m.defaults.price_micros = 100'000;  // $0.10 per task: an operator setting, TokenLab lists none
  m.defaults.price_currency = "USD";
  m.make_adapter =
      [](const ProviderSettings& s) -> absl::StatusOr<std::shared_ptr<ProviderAdapter>> {
    TokenlabOptions options;
    options.base_url = s.base_url;
    options.api_key = s.api_key;
    options.request_timeout = s.request_timeout;
    // The adapter prices its models itself (TokenlabModels), so it gets the configured price.
    if (s.price_micros > 0) {
      options.price.set_amount_micros(s.price_micros);
      options.price.set_currency(s.price_currency);
    }
    return std::shared_ptr<ProviderAdapter>(NewTokenlabAdapter(
        std::move(options), s.http, s.clock != nullptr ? s.clock : RealClock::Get()));
  };
  m.models = [] { return TokenlabModels(music::v1::Price()); };
  // Third in "suno", after kie.ai and beatra.
  m.aliases = {{"suno", "tokenlab-suno-music", 30}};
  m.usage = {ParseUsage, WriteUsage};
  return m;
}

}  // namespace music::adapters::tokenlab
