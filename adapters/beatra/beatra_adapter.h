#ifndef MUSIC_ADAPTERS_BEATRA_BEATRA_ADAPTER_H_
#define MUSIC_ADAPTERS_BEATRA_BEATRA_ADAPTER_H_

#include <memory>
#include <string>

#include "absl/time/time.h"
#include "adapters/http/http_client.h"
#include "adapters/provider_adapter.h"
#include "domain/clock.h"

namespace music::adapters::beatra {

/// Configuration of the beatra adapter (seed 002; wire contract in adapters/beatra/WIRE.md).
struct BeatraOptions {
  /// Scheme and host; the adapter appends the paths /v1/... (CONTRACT-NOTES: base
  /// https://api.beatra.ai/v1). A trailing "/" is tolerated.
  std::string base_url = "https://api.beatra.ai";
  /// Sent as "Authorization: Bearer <key>". A secret: never logged, never in an error message.
  std::string api_key;
  /// Total time allowed for one create, poll or cancel request.
  absl::Duration request_timeout = absl::Seconds(30);
  /// Total time allowed for one `POST /v1/uploads` (up to 100 MiB of audio).
  absl::Duration upload_timeout = absl::Seconds(300);
};

/// The beatra adapter: provider() "beatra", ResubmitPolicy::kIdempotencyKey (every create carries
/// `Idempotency-Key: <SubmitRequest.idempotency_key>`), models "beatra-suno-5.5" and
/// "beatra-minimax-music-2.6", uploads, reference audio and cancel; no callbacks (polling only).
/// `client` carries the requests. `clock` (not owned) dates answers (Retry-After); it outlives the
/// adapter and any SubmitAsync/PollAsync still pending, whose answers are read after the adapter
/// is gone. Thread-safe.
std::unique_ptr<ProviderAdapter> NewBeatraAdapter(BeatraOptions options,
                                                  std::shared_ptr<http::HttpClient> client,
                                                  const Clock* clock = RealClock::Get());

}  // namespace music::adapters::beatra

#endif  // MUSIC_ADAPTERS_BEATRA_BEATRA_ADAPTER_H_
