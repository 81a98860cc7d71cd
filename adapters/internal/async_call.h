#ifndef MUSIC_ADAPTERS_INTERNAL_ASYNC_CALL_H_
#define MUSIC_ADAPTERS_INTERNAL_ASYNC_CALL_H_

#include <memory>
#include <utility>

#include "absl/functional/any_invocable.h"
#include "absl/status/statusor.h"
#include "adapters/http/http_client.h"
#include "adapters/http/http_types.h"

namespace music::adapters::internal {

/// An adapter call split in two: `Build(config, args)` makes a `Call` (the http::Request in its
/// `http` member, plus what reading the answer needs) and `read(config, call, answer)` turns the
/// answer into the result. The blocking method is read(config, call, client.Send(call.http));
/// this is the asynchronous one. It sends `call->http` with client.SendAsync and, in the
/// completion (on the transport thread), calls done(read(*config, call, answer)). The completion
/// owns `config` and the call, so an answer arriving after the adapter is gone is still read
/// safely. A failed build is given to `done` at once, on the calling thread.
template <typename T, typename Config, typename Call>
void SendCall(http::HttpClient& client, std::shared_ptr<const Config> config,
              absl::StatusOr<Call> call,
              absl::StatusOr<T> (*read)(const Config&, const Call&,
                                        const absl::StatusOr<http::Response>&),
              absl::AnyInvocable<void(absl::StatusOr<T>) &&> done) {
  if (!call.ok()) {
    std::move(done)(call.status());
    return;
  }
  // Taken out first: the completion below takes the rest of the call.
  http::Request request = std::move(call->http);
  client.SendAsync(std::move(request),
                   [config = std::move(config), call = *std::move(call), read,
                    done = std::move(done)](absl::StatusOr<http::Response> answer) mutable {
                     std::move(done)(read(*config, call, answer));
                   });
}

}  // namespace music::adapters::internal

#endif  // MUSIC_ADAPTERS_INTERNAL_ASYNC_CALL_H_
