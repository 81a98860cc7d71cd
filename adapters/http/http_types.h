#ifndef MUSIC_ADAPTERS_HTTP_HTTP_TYPES_H_
#define MUSIC_ADAPTERS_HTTP_HTTP_TYPES_H_

#include <string>
#include <utility>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"

namespace music::http {

using Headers = std::vector<std::pair<std::string, std::string>>;

/// Returns the first header named `name` (case-insensitive), or "" when absent.
inline absl::string_view FindHeader(const Headers& headers, absl::string_view name) {
  for (const auto& [k, v] : headers) {
    if (absl::EqualsIgnoreCase(k, name)) return v;
  }
  return {};
}

/// An HTTP request: outgoing (to a provider) or incoming (a callback delivery).
struct Request {
  std::string method = "GET";
  /// Full URL for outgoing requests; path (with query) for incoming ones.
  std::string url;
  Headers headers;
  std::string body;
  /// Total time allowed for an outgoing request; zero means the client's default.
  absl::Duration timeout = absl::ZeroDuration();
  /// Outgoing: waits for a connection ahead of the non-urgent requests to the same host (a
  /// provider's creates go ahead of its polls, so a new task is not queued behind thousands of
  /// polls when the per-host connection limit is reached).
  bool urgent = false;
};

/// An HTTP response.
struct Response {
  int status = 0;
  Headers headers;
  std::string body;
};

}  // namespace music::http

#endif  // MUSIC_ADAPTERS_HTTP_HTTP_TYPES_H_
