#include "adapters/piapi/piapi_module.h"

#include <memory>
#include <string>
#include <utility>

#include "absl/strings/string_view.h"
#include "adapters/piapi/piapi_adapter.h"
#include "adapters/piapi/piapi_models.h"
#include "adapters/piapi/piapi_usage_format.h"

namespace music::adapters::piapi {
namespace {

// `providers.piapi.consume_usd_per_unit` (PiapiOptions::consume_usd_per_unit).
constexpr absl::string_view kConsumeUsdPerUnit = "consume_usd_per_unit";

}  // namespace

ProviderModule Module() {
  ProviderModule m;
  m.name = "piapi";
  m.defaults.base_url = "https://api.piapi.ai";
  m.defaults.api_key_env = "PIAPI_API_KEY";
  m.secrets = {{"webhook_secret_env", "PIAPI_WEBHOOK_SECRET"}};
  m.number_settings = {{std::string(kConsumeUsdPerUnit)}};
  m.make_adapter =
      [](const ProviderSettings& s) -> absl::StatusOr<std::shared_ptr<ProviderAdapter>> {
    PiapiOptions options;
    options.base_url = s.base_url;
    options.api_key = s.api_key;
    if (auto it = s.secrets.find("webhook_secret_env"); it != s.secrets.end()) {
      options.webhook_secret = it->second;
    }
    options.request_timeout = s.request_timeout;
    if (auto it = s.numbers.find(std::string(kConsumeUsdPerUnit)); it != s.numbers.end()) {
      options.consume_usd_per_unit = it->second;
    }
    return std::shared_ptr<ProviderAdapter>(NewPiapiAdapter(
        std::move(options), s.http, s.clock != nullptr ? s.clock : RealClock::Get()));
  };
  m.models = [] { return PiapiModels(); };
  m.usage = {ParseUsage, WriteUsage};
  return m;
}

}  // namespace music::adapters::piapi
