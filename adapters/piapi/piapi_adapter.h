#ifndef MUSIC_ADAPTERS_PIAPI_PIAPI_ADAPTER_H_
#define MUSIC_ADAPTERS_PIAPI_PIAPI_ADAPTER_H_

#include <memory>
#include <optional>
#include <string>

#include "absl/time/time.h"
#include "adapters/http/http_client.h"
#include "adapters/provider_adapter.h"
#include "domain/clock.h"

namespace music::adapters::piapi {

/// Configuration of the PiAPI Udio `music-u` adapter (seed 003 + CONTRACT-NOTES "PiAPI"; wire
/// contract in adapters/piapi/WIRE.md).
struct PiapiOptions {
  /// Scheme and host; the adapter adds the paths /api/v1/task... (a trailing "/" is tolerated).
  std::string base_url = "https://api.piapi.ai";
  /// Sent as `x-api-key`. A secret: never logged, never put in an error message.
  std::string api_key;
  /// Sent as config.webhook_config.secret; deliveries must carry it in `x-webhook-secret`.
  /// Empty: webhooks are not requested (no endpoint sent) and every delivery is refused.
  std::string webhook_secret;
  /// Total time allowed for one request to PiAPI.
  absl::Duration request_timeout = absl::Seconds(30);
  /// Sent as config.service_mode (seed 003 examples: "public").
  std::string service_mode = "public";
  /// USD per unit of `meta.usage.consume` (config `providers.piapi.consume_usd_per_unit`). Unset:
  /// consume is never booked as a provider charge (CONTRACT-NOTES "PiAPI": its unit "is not
  /// documented: do not book it as money without a configured conversion"); the $0.05 price
  /// stands either way.
  std::optional<double> consume_usd_per_unit;
};

/// The PiAPI adapter: provider() "piapi", ResubmitPolicy::kAtMostOnce (no idempotency key, no
/// lookup by request id in seed 003), no cancel API (Cancel is UNIMPLEMENTED); lyrics tasks through
/// `task_type: "generate_lyrics"` (CONTRACT-NOTES "PiAPI"), polled (no webhook).
/// `client` carries the requests. `clock` (not owned) dates answers (Retry-After); it outlives the
/// adapter and any SubmitAsync/PollAsync still pending, whose answers are read after the adapter
/// is gone. Thread-safe.
std::unique_ptr<ProviderAdapter> NewPiapiAdapter(PiapiOptions options,
                                                 std::shared_ptr<http::HttpClient> client,
                                                 const Clock* clock = RealClock::Get());

}  // namespace music::adapters::piapi

#endif  // MUSIC_ADAPTERS_PIAPI_PIAPI_ADAPTER_H_
