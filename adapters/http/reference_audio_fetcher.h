// The interface the engine downloads reference_audio_uri through. The SSRF-safe libcurl
// implementation is in safe_fetcher.h; only the wiring and tests name it.
#ifndef MUSIC_ADAPTERS_HTTP_REFERENCE_AUDIO_FETCHER_H_
#define MUSIC_ADAPTERS_HTTP_REFERENCE_AUDIO_FETCHER_H_

#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

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

/// Fetches untrusted URLs. Thread-safe. Errors:
///  - INVALID_ARGUMENT: malformed URL, a scheme other than https (http too with allow_http),
///    userinfo in the URL, or a host that is an IP literal in a forbidden range.
///  - PERMISSION_DENIED: every address the host resolved to is forbidden (the message names the
///    kind of range, never the address), or a redirect leads to another scheme, host or port.
///  - FAILED_PRECONDITION: the body passes max_bytes (announced or streamed; the transfer stops
///    there), the final answer is not 2xx (the message names the HTTP status), more than
///    max_redirects redirects, or the server's TLS certificate does not verify.
///  - DEADLINE_EXCEEDED: total_timeout or connect_timeout passed.
///  - UNAVAILABLE: DNS, connect or mid-transfer network failures; a fetch ended by AbortInFlight.
///  - INTERNAL: libcurl itself failed (out of memory and the like).
class ReferenceAudioFetcher {
 public:
  virtual ~ReferenceAudioFetcher() = default;
  /// Downloads `url` with GET, following allowed redirects.
  virtual absl::StatusOr<FetchedAudio> Fetch(absl::string_view url) = 0;
  /// Ends every fetch under way at once: each returns UNAVAILABLE "aborted: shutting down".
  /// Fetches started after it returns are unaffected.
  /// For shutdown within its grace (Archiver::Shutdown); the default does nothing.
  virtual void AbortInFlight() {}
};

}  // namespace music::http

#endif  // MUSIC_ADAPTERS_HTTP_REFERENCE_AUDIO_FETCHER_H_
