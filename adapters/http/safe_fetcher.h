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
#include "adapters/http/reference_audio_fetcher.h"

namespace music::http {

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

/// A ReferenceAudioFetcher over libcurl with the SSRF defences of adapters/http/README.md.
std::unique_ptr<ReferenceAudioFetcher> NewSafeFetcher(SafeFetchOptions options);

/// The check applied to every resolved address at connect time; exposed for tests. True when
/// `addr` (AF_INET or AF_INET6; anything else, or null, is forbidden) is not a public unicast
/// address: loopback (unless allow_loopback), private, link-local, CGNAT, multicast, reserved,
/// documentation, and IPv6 forms embedding such an IPv4 address (mapped, NAT64, 6to4).
bool IsForbiddenAddress(const struct sockaddr* addr, bool allow_loopback);

}  // namespace music::http

#endif  // MUSIC_ADAPTERS_HTTP_SAFE_FETCHER_H_
