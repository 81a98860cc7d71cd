#ifndef MUSIC_ADAPTERS_TOKENLAB_TOKENLAB_ADAPTER_H_
#define MUSIC_ADAPTERS_TOKENLAB_TOKENLAB_ADAPTER_H_

#include <memory>
#include <string>

#include "absl/time/time.h"
#include "adapters/http/http_client.h"
#include "adapters/provider_adapter.h"
#include "domain/clock.h"
#include "music/v1/music_service.pb.h"

namespace music::adapters::tokenlab {

/// Configuration of the TokenLab adapter (seeds 000/001, CONTRACT-NOTES "TokenLab"; wire contract
/// in adapters/tokenlab/WIRE.md).
struct TokenlabOptions {
  /// Scheme and host (plus an optional path prefix); requests go to <base_url>/v1/... A trailing
  /// "/" is tolerated.
  std::string base_url = "https://api.tokenlab.sh";
  /// Sent as "Authorization: Bearer <key>", only to base_url's scheme+host+port. Secret: never
  /// logged, never in an error message.
  std::string api_key;
  /// Total time allowed for one request to TokenLab.
  absl::Duration request_timeout = absl::Seconds(30);
  /// Price of one task, from config (the seeds give none); {100000, "USD"} ($0.10) when unset.
  music::v1::Price price;
};

/// The TokenLab adapter: provider() "tokenlab", ResubmitPolicy::kAtMostOnce (TokenLab documents
/// no idempotency key and no lookup of a task by request id, CONTRACT-NOTES "TokenLab": a create
/// whose answer was lost is never sent again; the engine fails it UNAVAILABLE after its grace), no
/// callbacks (ParseCallback UNIMPLEMENTED), no cancel API (Cancel UNIMPLEMENTED). `client`
/// carries the requests. `clock` (not owned) dates answers (Retry-After); it outlives the adapter
/// and any SubmitAsync/PollAsync still pending, whose answers are read after the adapter is gone.
/// Thread-safe.
std::unique_ptr<ProviderAdapter> NewTokenlabAdapter(TokenlabOptions options,
                                                    std::shared_ptr<http::HttpClient> client,
                                                    const Clock* clock = RealClock::Get());

}  // namespace music::adapters::tokenlab

#endif  // MUSIC_ADAPTERS_TOKENLAB_TOKENLAB_ADAPTER_H_
