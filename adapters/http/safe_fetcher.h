#ifndef MUSIC_ADAPTERS_HTTP_SAFE_FETCHER_H_
#define MUSIC_ADAPTERS_HTTP_SAFE_FETCHER_H_

// <sys/socket.h> declares ::sockaddr; without it `struct sockaddr` below would silently declare a
// new music::http::sockaddr.
#include <sys/socket.h>

#include <cstddef>
#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"

namespace music::http {

/// A downloaded reference-audio file.
struct FetchedAudio {
  /// The body, at most SafeFetchOptions::max_bytes bytes.
  std::string bytes;
  /// The server's Content-Type header, "" when absent. Untrusted: the caller sniffs the format.
  std::string content_type;
  /// The URL the body came from after redirects, as normalised by libcurl.
  std::string final_url;
};

/// Limits of a ReferenceAudioFetcher.
struct SafeFetchOptions {
  /// Largest body accepted, bytes: 100 MB (beatra's upload cap, seed 002).
  size_t max_bytes = 100 << 20;
  /// Time allowed for each TCP + TLS connect.
  absl::Duration connect_timeout = absl::Seconds(5);
  /// Time allowed for the whole fetch, all redirects included.
  absl::Duration total_timeout = absl::Seconds(120);
  /// Redirects followed, each only to the same scheme, host and port; never elsewhere.
  int max_redirects = 3;
  /// Tests only: permits 127.0.0.0/8 (also as ::ffff:127.x.y.z) and ::1, nothing else.
  bool allow_loopback = false;
  /// Tests only: permits http:// (production is https only).
  bool allow_http = false;
  /// Optional CA bundle (PEM) replacing the system one; tests use a self-signed certificate.
  std::string ca_file;
};

/// Fetches untrusted URLs. Thread-safe. Errors:
///  - INVALID_ARGUMENT: malformed URL, a scheme other than https (http too with allow_http),
///    userinfo in the URL, or a host that is an IP literal in a forbidden range.
///  - PERMISSION_DENIED: every address the host resolved to is forbidden (the message names the
///    kind of range, never the address), or a redirect leads to another scheme, host or port.
///  - FAILED_PRECONDITION: the body passes max_bytes (announced or streamed; the transfer stops
///    there), the final answer is not 2xx (the message names the HTTP status), more than
///    max_redirects redirects, or the server's TLS certificate does not verify.
///  - DEADLINE_EXCEEDED: total_timeout or connect_timeout passed.
///  - UNAVAILABLE: DNS, connect or mid-transfer network failures.
///  - INTERNAL: libcurl itself failed (out of memory and the like).
class ReferenceAudioFetcher {
 public:
  virtual ~ReferenceAudioFetcher() = default;
  /// Downloads `url` with GET, following allowed redirects.
  virtual absl::StatusOr<FetchedAudio> Fetch(absl::string_view url) = 0;
};

/// A ReferenceAudioFetcher over libcurl with the SSRF defences of adapters/http/README.md.
std::unique_ptr<ReferenceAudioFetcher> NewSafeFetcher(SafeFetchOptions options);

/// The check applied to every resolved address at connect time; exposed for tests. True when
/// `addr` (AF_INET or AF_INET6; anything else, or null, is forbidden) is not a public unicast
/// address: loopback (unless allow_loopback), private, link-local, CGNAT, multicast, reserved,
/// documentation, and IPv6 forms embedding such an IPv4 address (mapped, NAT64, 6to4).
bool IsForbiddenAddress(const struct sockaddr* addr, bool allow_loopback);

}  // namespace music::http

#endif  // MUSIC_ADAPTERS_HTTP_SAFE_FETCHER_H_
