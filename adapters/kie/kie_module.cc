#include "adapters/kie/kie_module.h"

#include <memory>
#include <utility>

#include "adapters/kie/kie_adapter.h"
#include "adapters/kie/kie_models.h"
#include "adapters/kie/kie_usage_format.h"

namespace music::adapters::kie {

ProviderModule Module() {
  ProviderModule m;
  m.name = "kie";
  m.defaults.base_url = "https://api.kie.ai";
  m.defaults.api_key_env = "KIE_API_KEY";
  // kie.ai bills credits and publishes no per-task price: an operator setting (12 credits).
  m.defaults.price_micros = 12'000'000;
  m.defaults.price_currency = "CREDITS";
  m.secrets = {{"webhook_hmac_key_env", "KIE_WEBHOOK_HMAC_KEY"}};
  // kie.ai's file upload API has its own host (CONTRACT-NOTES.md kie.ai, "File upload").
  m.settings = {{"upload_base_url", "https://kieai.redpandaai.co"}};
  // CONTRACT-NOTES.md kie.ai: "Limits: 20 new generation requests per 10 s per account (excess
  // answered 429, not queued)" and "GET /api/v1/generate/record-info?taskId= is limited to 3
  // requests/s per task" (seed 004 only says 429 means rate limited). The engine queues what
  // would pass them.
  m.rate_limits.creates_per_window = 20;
  m.rate_limits.create_window = absl::Seconds(10);
  m.rate_limits.polls_per_second = 3;
  m.make_adapter =
      [](const ProviderSettings& s) -> absl::StatusOr<std::shared_ptr<ProviderAdapter>> {
    KieOptions options;
    options.base_url = s.base_url;
    options.api_key = s.api_key;
    if (auto it = s.secrets.find("webhook_hmac_key_env"); it != s.secrets.end()) {
      options.webhook_hmac_key = it->second;
    }
    if (auto it = s.settings.find("upload_base_url"); it != s.settings.end() &&
                                                        !it->second.empty()) {
      options.upload_base_url = it->second;
    }
    options.request_timeout = s.request_timeout;
    return std::shared_ptr<ProviderAdapter>(
        NewKieAdapter(std::move(options), s.http, s.clock != nullptr ? s.clock : RealClock::Get()));
  };
  m.models = [] { return KieModels(); };
  // kie.ai first in "suno": the reference integration.
  m.aliases = {{"suno", "suno-v4.5", 10}};
  m.usage = {ParseUsage, WriteUsage};
  return m;
}

}  // namespace music::adapters::kie
