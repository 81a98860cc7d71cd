#ifndef MUSIC_ADAPTERS_HTTP_HTTP_CLIENT_H_
#define MUSIC_ADAPTERS_HTTP_HTTP_CLIENT_H_

#include <utility>

#include "absl/functional/any_invocable.h"
#include "absl/status/statusor.h"
#include "adapters/http/http_types.h"

namespace music::http {

/// Receives the outcome of HttpClient::SendAsync; called once (rvalue-invocable).
using ResponseCallback = absl::AnyInvocable<void(absl::StatusOr<Response>) &&>;

/// Sends HTTP requests. Thread-safe. Any HTTP status is a successful Send (the caller interprets
/// it); transport failures are errors:
///  - UNAVAILABLE: could not connect / resolve; nothing reached the server.
///  - DEADLINE_EXCEEDED: timed out. IsOutcomeUnknown() (provider_errors.h) is true when the
///    connection was up, so the request may have been received.
///  - INTERNAL: anything else (TLS, protocol), also marked outcome-unknown once connected.
class HttpClient {
 public:
  virtual ~HttpClient() = default;

  /// Sends `request` and blocks until the answer (or a transport error, codes above).
  virtual absl::StatusOr<Response> Send(const Request& request) = 0;

  /// Sends without blocking the caller; `done` runs exactly once, on a transport thread (never
  /// inside SendAsync when the implementation is asynchronous), with the same results and
  /// errors as Send. Default: calls done(Send(request)) on the calling thread, so blocking
  /// implementations (and test fakes) need nothing more.
  // `request` by value: an asynchronous implementation keeps it (moved) until the transfer ends;
  // only this blocking default reads it in place.
  virtual void SendAsync(Request request,  // NOLINT(performance-unnecessary-value-param)
                         ResponseCallback done) {
    std::move(done)(Send(request));
  }

  /// Ends every request in flight or queued now, at once, as destruction does: each `done` gets
  /// CANCELLED marked outcome-unknown (adapters::MarkOutcomeUnknown) when the request may have
  /// reached the server, else UNAVAILABLE "not sent". Requests sent afterwards go out as usual.
  /// For a shutdown whose grace ran out (a create then is the "outcome unknown" case the engine
  /// recovers). Default: nothing (a blocking implementation has nothing in flight to end).
  virtual void AbortInFlight() {}
};

}  // namespace music::http

#endif  // MUSIC_ADAPTERS_HTTP_HTTP_CLIENT_H_
