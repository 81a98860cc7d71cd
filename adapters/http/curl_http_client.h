// The libcurl implementation of http::HttpClient. Only the wiring (server/) and tests name it;
// everything else sees the HttpClient interface.
#ifndef MUSIC_ADAPTERS_HTTP_CURL_HTTP_CLIENT_H_
#define MUSIC_ADAPTERS_HTTP_CURL_HTTP_CLIENT_H_

#include <cstddef>
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
};

/// An HttpClient over libcurl. Reuses connections: each calling thread keeps its own easy handle
/// (and so its connection cache), as libcurl recommends.
std::unique_ptr<HttpClient> NewCurlHttpClient(CurlOptions options);

}  // namespace music::http

#endif  // MUSIC_ADAPTERS_HTTP_CURL_HTTP_CLIENT_H_
