#ifndef MUSIC_ADAPTERS_HTTP_HTTP_CLIENT_H_
#define MUSIC_ADAPTERS_HTTP_HTTP_CLIENT_H_

#include "absl/status/statusor.h"
#include "adapters/http/http_types.h"

namespace music::http {

/// Sends HTTP requests. Thread-safe. Any HTTP status is a successful Send (the caller interprets
/// it); transport failures are errors:
///  - UNAVAILABLE: could not connect / resolve; nothing reached the server.
///  - DEADLINE_EXCEEDED: timed out. IsOutcomeUnknown() (provider_errors.h) is true when the
///    connection was up, so the request may have been received.
///  - INTERNAL: anything else (TLS, protocol), also marked outcome-unknown once connected.
class HttpClient {
 public:
  virtual ~HttpClient() = default;
  virtual absl::StatusOr<Response> Send(const Request& request) = 0;
};

}  // namespace music::http

#endif  // MUSIC_ADAPTERS_HTTP_HTTP_CLIENT_H_
