// The libcurl implementation of http::HttpClient. Only the wiring (server/) and tests name it;
// everything else sees the HttpClient interface.
#ifndef MUSIC_ADAPTERS_HTTP_CURL_HTTP_CLIENT_H_
#define MUSIC_ADAPTERS_HTTP_CURL_HTTP_CLIENT_H_

#include <cstddef>
#include <functional>
#include <memory>

#include "absl/time/time.h"
#include "adapters/http/http_client.h"

namespace music::http {

/// libcurl options.
struct CurlOptions {
  absl::Duration connect_timeout = absl::Seconds(5);
  /// Default total timeout when a Request has none.
  absl::Duration request_timeout = absl::Seconds(30);
  /// Largest response body accepted, bytes.
  size_t max_response_bytes = 16 << 20;
  /// Requests in flight at once to one scheme://host[:port], and so connections to it (HTTP/1.1
  /// carries one request at a time; also set as CURLMOPT_MAX_HOST_CONNECTIONS): the concurrency
  /// limit per provider account, since each account talks to its provider's host. Requests past
  /// it wait in a FIFO per host; their timeout runs while they wait (DEADLINE_EXCEEDED, not
  /// outcome-unknown, when it runs out there); urgent requests (creates) wait ahead of the
  /// others. 0 means no limit. 1,024: 10,000 tasks polled every 5 s from a provider answering in
  /// 500 ms keep 1,000 requests in flight.
  long max_host_connections = 1024;
  /// The same over all hosts (also CURLMOPT_MAX_TOTAL_CONNECTIONS, and the size of the cache of
  /// idle kept-alive connections). 0 means no limit.
  long max_total_connections = 2048;
  /// Told, on the transport thread, how long each request waited in its host's queue before it
  /// was handed to libcurl (zero when there was room at once; its whole timeout when it timed out
  /// waiting). Must be cheap and must not block: the metrics' rate-limiter histogram. May be empty.
  std::function<void(absl::Duration waited)> queue_wait_observer;
};

/// An HttpClient over libcurl's multi interface: one transport thread runs every transfer of this
/// client (an epoll loop over curl_multi_socket_action), so SendAsync never blocks and callbacks
/// run on that thread; all requests share one connection cache (HTTP keep-alive, TCP_NODELAY).
/// Send() is SendAsync plus a wait. Destroying the client fails the requests still pending
/// (UNAVAILABLE when nothing was sent; CANCELLED, outcome-unknown, when the request may have
/// reached the server), runs their callbacks on the transport thread and joins it; it must not
/// be destroyed from one of its own callbacks.
std::unique_ptr<HttpClient> NewCurlHttpClient(CurlOptions options);

}  // namespace music::http

#endif  // MUSIC_ADAPTERS_HTTP_CURL_HTTP_CLIENT_H_
