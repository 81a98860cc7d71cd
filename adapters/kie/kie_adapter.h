#ifndef MUSIC_ADAPTERS_KIE_KIE_ADAPTER_H_
#define MUSIC_ADAPTERS_KIE_KIE_ADAPTER_H_

#include <functional>
#include <memory>
#include <string>

#include "absl/time/time.h"
#include "adapters/http/http_client.h"
#include "adapters/provider_adapter.h"
#include "domain/clock.h"

namespace music::adapters::kie {

/// Configuration of the kie.ai Suno adapter (seed 004; wire contract in adapters/kie/WIRE.md).
struct KieOptions {
  /// Scheme and host, no trailing path (a trailing "/" is tolerated).
  std::string base_url = "https://api.kie.ai";
  /// Scheme, host and optional path prefix of kie.ai's file upload API (CONTRACT-NOTES.md kie.ai,
  /// "File upload"; `providers.kie.upload_base_url`), where UploadReferenceAudio stores audio.
  std::string upload_base_url = "https://kieai.redpandaai.co";
  /// Total time allowed for one upload (up to 100 MB).
  absl::Duration upload_timeout = absl::Minutes(5);
  /// Sent as "Authorization: Bearer <key>". From the environment or a file; never logged, never
  /// put in an error message.
  std::string api_key;
  /// Key of the optional callback signature. Empty: callback signatures are not checked.
  std::string webhook_hmac_key;
  /// Total time allowed for one request to kie.ai.
  absl::Duration request_timeout = absl::Seconds(30);
  /// A callback whose X-Webhook-Timestamp is further than this from now (either way) is
  /// rejected, so a captured delivery cannot be replayed later.
  absl::Duration max_signature_age = absl::Minutes(10);
};

/// The kie.ai adapter: provider() "kie", ResubmitPolicy::kAtMostOnce (kie.ai has neither
/// idempotency keys nor a lookup by request id), no cancel API. `client` carries the requests;
/// `clock` (not owned) dates Retry-After and signature ages; it outlives the adapter and any
/// SubmitAsync/PollAsync still pending, whose answers are read after the adapter is gone.
/// Thread-safe.
std::unique_ptr<ProviderAdapter> NewKieAdapter(KieOptions options,
                                               std::shared_ptr<http::HttpClient> client,
                                               const Clock* clock = RealClock::Get());

}  // namespace music::adapters::kie

#endif  // MUSIC_ADAPTERS_KIE_KIE_ADAPTER_H_
