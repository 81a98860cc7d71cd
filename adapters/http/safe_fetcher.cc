// ReferenceAudioFetcher over libcurl, hardened against server-side request forgery.
//
// The URL is untrusted: a user could point it at the metadata service, a private admin endpoint or
// loopback. The defences (see README.md) are layered so that no single check is load-bearing:
// URL policy before any network, an address check inside libcurl's socket-open hook (so it judges
// the address actually connected to, whatever DNS answered before), and redirects followed by hand
// and re-validated hop by hop.

#include "adapters/http/safe_fetcher.h"

#include <arpa/inet.h>
#include <curl/curl.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cstdint>
#include <cstring>
#include <memory>
#include <mutex>
#include <string>
#include <utility>

#include "absl/container/flat_hash_set.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"
#include "absl/strings/strip.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "domain/clock.h"

namespace music::http {
namespace {

// Longer URLs are not reference-audio links; the cap keeps error paths and logs bounded.
constexpr size_t kMaxUrlBytes = 8 << 10;
// libcurl bounds each header line but not their number; this bounds the whole header block.
constexpr size_t kMaxHeaderBytes = 64 << 10;

void GlobalInitOnce() {
  static std::once_flag once;
  // Never paired with curl_global_cleanup(): other libcurl users in the process may outlive us.
  std::call_once(once, [] { curl_global_init(CURL_GLOBAL_DEFAULT); });
}

// ---------------------------------------------------------------------------------------------
// Address policy.

struct V4Range {
  uint32_t base;  // host byte order
  int prefix;
  const char* reason;
};

// Every IPv4 range that is not public unicast (IANA special-purpose registry), loopback first.
constexpr V4Range kForbiddenV4[] = {
    {0x7F000000, 8, "loopback (127.0.0.0/8)"},
    {0x00000000, 8, "unspecified (0.0.0.0/8)"},
    {0x0A000000, 8, "private (10.0.0.0/8)"},
    {0x64400000, 10, "shared address space (100.64.0.0/10)"},
    {0xA9FE0000, 16, "link-local (169.254.0.0/16)"},
    {0xAC100000, 12, "private (172.16.0.0/12)"},
    {0xC0000000, 24, "IETF protocol assignments (192.0.0.0/24)"},
    {0xC0000200, 24, "documentation (192.0.2.0/24)"},
    {0xC0586300, 24, "6to4 relay anycast (192.88.99.0/24)"},
    {0xC0A80000, 16, "private (192.168.0.0/16)"},
    {0xC6120000, 15, "benchmarking (198.18.0.0/15)"},
    {0xC6336400, 24, "documentation (198.51.100.0/24)"},
    {0xCB007100, 24, "documentation (203.0.113.0/24)"},
    {0xE0000000, 4, "multicast (224.0.0.0/4)"},
    {0xF0000000, 4, "reserved or broadcast (240.0.0.0/4)"},
};

// Why `addr` (host byte order) must not be connected to; "" when it is public.
std::string ForbiddenV4Reason(uint32_t addr, bool allow_loopback) {
  for (const V4Range& range : kForbiddenV4) {
    const uint32_t mask = ~uint32_t{0} << (32 - range.prefix);
    if ((addr & mask) != range.base) continue;
    if (allow_loopback && range.base == 0x7F000000) return "";
    return range.reason;
  }
  return "";
}

uint32_t ReadV4(const uint8_t* p) {
  return (uint32_t{p[0]} << 24) | (uint32_t{p[1]} << 16) | (uint32_t{p[2]} << 8) | p[3];
}

bool AllZero(const uint8_t* p, size_t n) {
  return std::all_of(p, p + n, [](uint8_t b) { return b == 0; });
}

// Why `b` (16 bytes, network order) must not be connected to; "" when it is public.
std::string ForbiddenV6Reason(const uint8_t* b, bool allow_loopback) {
  if (AllZero(b, 16)) return "unspecified (::)";
  if (AllZero(b, 15) && b[15] == 1) return allow_loopback ? "" : "loopback (::1)";
  // ::ffff:a.b.c.d reaches the IPv4 host itself through a dual-stack socket.
  if (AllZero(b, 10) && b[10] == 0xff && b[11] == 0xff) {
    std::string reason = ForbiddenV4Reason(ReadV4(b + 12), allow_loopback);
    return reason.empty() ? "" : absl::StrCat("IPv4-mapped IPv6 of ", reason);
  }
  // ::a.b.c.d (deprecated) has no legitimate use left; refused whatever the IPv4 inside.
  if (AllZero(b, 12)) return "IPv4-compatible IPv6 (::/96)";
  // The forms below reach an IPv4 host through a translator or relay; allow_loopback does not
  // apply (the loopback behind them is someone else's).
  static constexpr uint8_t kNat64[12] = {0x00, 0x64, 0xff, 0x9b};
  if (std::memcmp(b, kNat64, 12) == 0) {
    std::string reason = ForbiddenV4Reason(ReadV4(b + 12), /*allow_loopback=*/false);
    return reason.empty() ? "" : absl::StrCat("NAT64 (64:ff9b::/96) of ", reason);
  }
  if (b[0] == 0x00 && b[1] == 0x64 && b[2] == 0xff && b[3] == 0x9b && b[4] == 0x00 &&
      b[5] == 0x01) {
    return "local-use NAT64 (64:ff9b:1::/48)";
  }
  if (b[0] == 0x20 && b[1] == 0x02) {
    std::string reason = ForbiddenV4Reason(ReadV4(b + 2), /*allow_loopback=*/false);
    return reason.empty() ? "" : absl::StrCat("6to4 (2002::/16) of ", reason);
  }
  // Teredo (2001::/32) hides its IPv4 client behind a relay; the rest of 2001::/23 is not
  // general-purpose unicast.
  if (b[0] == 0x20 && b[1] == 0x01 && (b[2] & 0xfe) == 0) {
    return "IETF protocol assignments incl. Teredo (2001::/23)";
  }
  if (b[0] == 0x20 && b[1] == 0x01 && b[2] == 0x0d && b[3] == 0xb8) {
    return "documentation (2001:db8::/32)";
  }
  if (b[0] == 0x3f && b[1] == 0xff && (b[2] & 0xf0) == 0) return "documentation (3fff::/20)";
  if ((b[0] & 0xfe) == 0xfc) return "unique local (fc00::/7)";
  if (b[0] == 0xfe && (b[1] & 0xc0) == 0x80) return "link-local (fe80::/10)";
  if (b[0] == 0xfe && (b[1] & 0xc0) == 0xc0) return "site-local (fec0::/10)";
  if (b[0] == 0xff) return "multicast (ff00::/8)";
  // Only 2000::/3 is allocated for global unicast; everything else is reserved.
  if ((b[0] & 0xe0) != 0x20) return "reserved (outside 2000::/3)";
  return "";
}

std::string ForbiddenReason(const struct sockaddr* addr, bool allow_loopback) {
  if (addr == nullptr) return "no address";
  if (addr->sa_family == AF_INET) {
    const auto* in = reinterpret_cast<const sockaddr_in*>(addr);
    return ForbiddenV4Reason(ntohl(in->sin_addr.s_addr), allow_loopback);
  }
  if (addr->sa_family == AF_INET6) {
    const auto* in6 = reinterpret_cast<const sockaddr_in6*>(addr);
    return ForbiddenV6Reason(in6->sin6_addr.s6_addr, allow_loopback);
  }
  return "not an IP address";
}

// ---------------------------------------------------------------------------------------------
// URL policy.

struct CurlUrlDeleter {
  void operator()(CURLU* url) const { curl_url_cleanup(url); }
};
using CurlUrl = std::unique_ptr<CURLU, CurlUrlDeleter>;

struct CurlFree {
  void operator()(char* p) const { curl_free(p); }
};

// Reads one part of `url` into `out`; false when the URL has no such part.
bool GetPart(CURLU* url, CURLUPart part, unsigned int flags, std::string* out) {
  char* raw = nullptr;
  if (curl_url_get(url, part, &raw, flags) != CURLUE_OK || raw == nullptr) return false;
  std::unique_ptr<char, CurlFree> owned(raw);
  *out = raw;
  return true;
}

// The parts of a URL as libcurl understands them; libcurl's reading is the one that matters,
// because it is libcurl that connects.
struct UrlParts {
  std::string url;     // normalised, what is handed to CURLOPT_URL
  std::string scheme;  // lower case
  std::string host;    // IPv6 literals in brackets
  std::string port;    // explicit or the scheme's default
  bool has_userinfo = false;
};

absl::StatusOr<UrlParts> ReadParts(CURLU* url) {
  UrlParts parts;
  std::string ignored;
  if (!GetPart(url, CURLUPART_URL, 0, &parts.url) ||
      !GetPart(url, CURLUPART_SCHEME, 0, &parts.scheme) ||
      !GetPart(url, CURLUPART_HOST, 0, &parts.host) ||
      !GetPart(url, CURLUPART_PORT, CURLU_DEFAULT_PORT, &parts.port)) {
    return absl::InvalidArgumentError("URL lacks a scheme, host or port");
  }
  parts.scheme = absl::AsciiStrToLower(parts.scheme);
  parts.has_userinfo = GetPart(url, CURLUPART_USER, 0, &ignored) ||
                       GetPart(url, CURLUPART_PASSWORD, 0, &ignored) ||
                       GetPart(url, CURLUPART_OPTIONS, 0, &ignored);
  return parts;
}

// Parses an absolute URL. The URL itself never goes into a message: signed links carry secrets
// in their query.
absl::StatusOr<UrlParts> ParseUrl(absl::string_view text) {
  if (text.size() > kMaxUrlBytes) {
    return absl::InvalidArgumentError(absl::StrCat("URL longer than ", kMaxUrlBytes, " bytes"));
  }
  if (absl::StrContains(text, '\0')) return absl::InvalidArgumentError("URL contains a NUL byte");
  CurlUrl url(curl_url());
  if (url == nullptr) return absl::InternalError("curl_url failed");
  const CURLUcode code = curl_url_set(url.get(), CURLUPART_URL, std::string(text).c_str(), 0);
  if (code != CURLUE_OK) {
    return absl::InvalidArgumentError(absl::StrCat("malformed URL: ", curl_url_strerror(code)));
  }
  return ReadParts(url.get());
}

// Resolves a Location header against the URL that answered with it.
absl::StatusOr<UrlParts> ResolveRedirect(const std::string& base, absl::string_view location) {
  if (location.size() > kMaxUrlBytes) {
    return absl::FailedPreconditionError(
        absl::StrCat("redirect Location longer than ", kMaxUrlBytes, " bytes"));
  }
  CurlUrl url(curl_url());
  if (url == nullptr) return absl::InternalError("curl_url failed");
  CURLUcode code = curl_url_set(url.get(), CURLUPART_URL, base.c_str(), 0);
  // Setting a relative URL on a handle that holds one resolves it against that URL.
  if (code == CURLUE_OK) {
    code = curl_url_set(url.get(), CURLUPART_URL, std::string(location).c_str(), 0);
  }
  if (code != CURLUE_OK) {
    return absl::FailedPreconditionError(
        absl::StrCat("redirect Location is not a valid URL: ", curl_url_strerror(code)));
  }
  return ReadParts(url.get());
}

// The host as an IP address, when it is a literal.
bool HostLiteral(absl::string_view host, sockaddr_storage* out) {
  std::memset(out, 0, sizeof(*out));
  if (absl::ConsumePrefix(&host, "[")) {
    if (!absl::ConsumeSuffix(&host, "]")) return false;
    host = host.substr(0, host.find('%'));  // a zone id, should libcurl leave one in
    auto* in6 = reinterpret_cast<sockaddr_in6*>(out);
    in6->sin6_family = AF_INET6;
    return inet_pton(AF_INET6, std::string(host).c_str(), &in6->sin6_addr) == 1;
  }
  auto* in = reinterpret_cast<sockaddr_in*>(out);
  in->sin_family = AF_INET;
  // libcurl has already rewritten the numeric IPv4 spellings ("127.1", "0x7f.1") to dotted quads;
  // any it missed still meet the connect-time check.
  return inet_pton(AF_INET, std::string(host).c_str(), &in->sin_addr) == 1;
}

// Scheme, userinfo and IP-literal policy; all decided before any network traffic.
absl::Status CheckUrlPolicy(const UrlParts& parts, const SafeFetchOptions& options) {
  if (parts.scheme != "https" && !(parts.scheme == "http" && options.allow_http)) {
    return absl::InvalidArgumentError(
        absl::StrCat("URL scheme \"", parts.scheme, "\" not allowed; use https"));
  }
  if (parts.has_userinfo) {
    return absl::InvalidArgumentError("URL must not contain user info (user:password@)");
  }
  if (parts.host.empty()) return absl::InvalidArgumentError("URL has no host");
  sockaddr_storage literal;
  if (HostLiteral(parts.host, &literal)) {
    const std::string reason =
        ForbiddenReason(reinterpret_cast<const sockaddr*>(&literal), options.allow_loopback);
    if (!reason.empty()) {
      return absl::InvalidArgumentError(absl::StrCat("URL host is a forbidden address: ", reason));
    }
  }
  return absl::OkStatus();
}

// ---------------------------------------------------------------------------------------------
// One HTTP exchange.

struct EasyDeleter {
  void operator()(CURL* curl) const { curl_easy_cleanup(curl); }
};
using EasyHandle = std::unique_ptr<CURL, EasyDeleter>;

// The sockets libcurl has open for one fetcher's transfers, so AbortInFlight can wake a transfer
// that waits on a silent server at once (libcurl's progress callback alone may lag by a second).
// An fd is only in the set while open: CloseSocket removes it under the same lock before closing,
// so AbortInFlight never shuts down an fd that was reused by someone else.
struct OpenSockets {
  absl::Mutex mu;
  absl::flat_hash_set<curl_socket_t> fds ABSL_GUARDED_BY(mu);

  void ShutdownAll() {
    absl::MutexLock lock(&mu);
    for (curl_socket_t fd : fds) ::shutdown(fd, SHUT_RDWR);
  }
};

// CURLOPT_CLOSESOCKETFUNCTION; libcurl keeps it with the connection it was set for.
int CloseSocket(void* user, curl_socket_t fd) {
  auto* sockets = static_cast<OpenSockets*>(user);
  absl::MutexLock lock(&sockets->mu);
  sockets->fds.erase(fd);
  return ::close(fd);
}

// State shared with libcurl's callbacks during one exchange.
struct Exchange {
  CURL* curl = nullptr;
  const SafeFetchOptions* options = nullptr;
  std::string body;
  std::string location;
  size_t header_bytes = 0;
  std::string forbidden_reason;  // first address refused by OpenSocket
  bool body_too_large = false;
  bool headers_too_large = false;
  bool not_2xx = false;  // the body was not read: the answer was an error or a redirect
  // AbortInFlight bumps *generation; the fetch stops when it differs from `started`.
  const std::atomic<uint64_t>* generation = nullptr;
  OpenSockets* sockets = nullptr;
  uint64_t started = 0;
  bool aborted = false;
};

// CURLOPT_XFERINFOFUNCTION: libcurl calls it often while data flows, but only about once a
// second while the transfer stalls (hence OpenSockets). Non-zero ends the transfer with
// CURLE_ABORTED_BY_CALLBACK.
int OnProgress(void* user, curl_off_t, curl_off_t, curl_off_t, curl_off_t) {
  auto* exchange = static_cast<Exchange*>(user);
  if (exchange->generation->load(std::memory_order_acquire) == exchange->started) return 0;
  exchange->aborted = true;
  return 1;
}

constexpr absl::string_view kAborted = "aborted: shutting down";

// CURLOPT_OPENSOCKETFUNCTION: runs for every address libcurl is about to connect to, after DNS,
// so the address judged is the address used. Returning CURL_SOCKET_BAD makes libcurl try the
// host's next address, then fail with CURLE_COULDNT_CONNECT.
curl_socket_t OpenSocket(void* user, curlsocktype purpose, struct curl_sockaddr* address) {
  auto* exchange = static_cast<Exchange*>(user);
  std::string reason;
  if (purpose != CURLSOCKTYPE_IPCXN) {
    reason = "not an outgoing connection";
  } else if (address->family == AF_INET6 && address->addrlen < sizeof(sockaddr_in6)) {
    reason = "truncated address";
  } else if (address->family != address->addr.sa_family) {
    reason = "inconsistent address";
  } else {
    reason = ForbiddenReason(&address->addr, exchange->options->allow_loopback);
  }
  if (!reason.empty()) {
    if (exchange->forbidden_reason.empty()) exchange->forbidden_reason = std::move(reason);
    return CURL_SOCKET_BAD;
  }
  absl::MutexLock lock(&exchange->sockets->mu);
  const curl_socket_t fd =
      socket(address->family, address->socktype | SOCK_CLOEXEC, address->protocol);
  if (fd != CURL_SOCKET_BAD) exchange->sockets->fds.insert(fd);
  return fd;
}

size_t OnBody(char* data, size_t size, size_t count, void* user) {
  auto* exchange = static_cast<Exchange*>(user);
  const size_t n = size * count;
  long status = 0;
  curl_easy_getinfo(exchange->curl, CURLINFO_RESPONSE_CODE, &status);
  // Returning less than `n` aborts the transfer with CURLE_WRITE_ERROR. The body of an error or
  // a redirect is of no use, and an attacker could make it arbitrarily long.
  if (status < 200 || status > 299) {
    exchange->not_2xx = true;
    return 0;
  }
  if (n > exchange->options->max_bytes - exchange->body.size()) {
    exchange->body_too_large = true;
    return 0;
  }
  exchange->body.append(data, n);
  return n;
}

size_t OnHeader(char* data, size_t size, size_t count, void* user) {
  auto* exchange = static_cast<Exchange*>(user);
  const size_t n = size * count;
  exchange->header_bytes += n;
  if (exchange->header_bytes > kMaxHeaderBytes) {
    exchange->headers_too_large = true;
    return 0;
  }
  absl::string_view line(data, n);
  // A status line starts a new header block (after "100 Continue"): keep only the final one.
  if (absl::StartsWith(line, "HTTP/")) {
    exchange->location.clear();
    return n;
  }
  const size_t colon = line.find(':');
  if (colon == absl::string_view::npos) return n;
  if (absl::EqualsIgnoreCase(absl::StripAsciiWhitespace(line.substr(0, colon)), "location")) {
    exchange->location = std::string(absl::StripAsciiWhitespace(line.substr(colon + 1)));
  }
  return n;
}

// What one exchange produced; only filled when it completed (any HTTP status).
struct Answer {
  long status = 0;
  std::string location;
  std::string content_type;
  std::string body;
};

absl::Status TransferError(CURLcode code, const char* detail, const Exchange& exchange,
                           const UrlParts& target, size_t max_bytes) {
  // An abort either stops the transfer from the progress callback or breaks its socket.
  if (exchange.aborted ||
      exchange.generation->load(std::memory_order_acquire) != exchange.started) {
    return absl::UnavailableError(kAborted);
  }
  // The address refused is not named: it would let a caller map internal DNS.
  if (!exchange.forbidden_reason.empty() && code == CURLE_COULDNT_CONNECT) {
    return absl::PermissionDeniedError(absl::StrCat("refused to connect to ", target.host,
                                                    ": it resolves to a forbidden address (",
                                                    exchange.forbidden_reason, ")"));
  }
  if (exchange.body_too_large || code == CURLE_FILESIZE_EXCEEDED) {
    return absl::FailedPreconditionError(absl::StrCat("body over ", max_bytes, " bytes"));
  }
  if (exchange.headers_too_large) {
    return absl::FailedPreconditionError(
        absl::StrCat("response headers over ", kMaxHeaderBytes, " bytes"));
  }
  const std::string what =
      absl::StrCat("fetch from ", target.host, " failed: ", curl_easy_strerror(code),
                   detail[0] != '\0' ? absl::StrCat(" (", detail, ")") : std::string());
  switch (code) {
    case CURLE_OPERATION_TIMEDOUT:
      return absl::DeadlineExceededError(what);
    case CURLE_COULDNT_RESOLVE_HOST:
    case CURLE_COULDNT_CONNECT:
    case CURLE_SEND_ERROR:
    case CURLE_RECV_ERROR:
    case CURLE_GOT_NOTHING:
    case CURLE_PARTIAL_FILE:
    case CURLE_SSL_CONNECT_ERROR:
    case CURLE_HTTP2:
    case CURLE_HTTP2_STREAM:
    case CURLE_WEIRD_SERVER_REPLY:
      return absl::UnavailableError(what);
    case CURLE_PEER_FAILED_VERIFICATION:
      return absl::FailedPreconditionError(what);
    case CURLE_UNSUPPORTED_PROTOCOL:
      return absl::InvalidArgumentError(what);
    default:
      return absl::InternalError(what);
  }
}

class SafeFetcher final : public ReferenceAudioFetcher {
 public:
  explicit SafeFetcher(SafeFetchOptions options) : options_(std::move(options)) {
    GlobalInitOnce();
  }

  absl::StatusOr<FetchedAudio> Fetch(absl::string_view url) override {
    absl::StatusOr<UrlParts> target = ParseUrl(url);
    if (!target.ok()) return target.status();
    if (absl::Status policy = CheckUrlPolicy(*target, options_); !policy.ok()) return policy;
    const UrlParts origin = *target;
    // Read before any network: an AbortInFlight from now on ends this fetch.
    const uint64_t generation = generation_.load(std::memory_order_acquire);
    const absl::Time deadline = music::RealClock::Get()->Now() + options_.total_timeout;

    // One handle per fetch, never shared: its connection cache then only ever holds connections
    // this fetch opened through OpenSocket under these options.
    EasyHandle curl(curl_easy_init());
    if (curl == nullptr) return absl::InternalError("curl_easy_init failed");

    for (int redirects = 0;; ++redirects) {
      // Between hops no transfer runs that the progress callback could stop.
      if (generation_.load(std::memory_order_acquire) != generation) {
        return absl::UnavailableError(kAborted);
      }
      absl::StatusOr<Answer> answer = GetOnce(curl.get(), *target, deadline, generation);
      if (!answer.ok()) return answer.status();
      const long status = answer->status;
      if (status == 301 || status == 302 || status == 303 || status == 307 || status == 308) {
        if (redirects >= options_.max_redirects) {
          return absl::FailedPreconditionError(
              absl::StrCat("more than ", options_.max_redirects, " redirects"));
        }
        if (answer->location.empty()) {
          return absl::FailedPreconditionError(
              absl::StrCat("HTTP ", status, " redirect without a Location"));
        }
        absl::StatusOr<UrlParts> next = ResolveRedirect(target->url, answer->location);
        if (!next.ok()) return next.status();
        if (absl::Status allowed = CheckRedirect(origin, *next); !allowed.ok()) return allowed;
        target = *std::move(next);
        continue;
      }
      if (status < 200 || status > 299) {
        return absl::FailedPreconditionError(
            absl::StrCat("server answered HTTP ", status, ", not 2xx"));
      }
      FetchedAudio audio;
      audio.bytes = std::move(answer->body);
      audio.content_type = std::move(answer->content_type);
      audio.final_url = target->url;
      return audio;
    }
  }

  void AbortInFlight() override {
    generation_.fetch_add(1, std::memory_order_acq_rel);
    // Wakes transfers blocked on a silent socket; they then see the new generation.
    sockets_.ShutdownAll();
  }

 private:
  // A redirect may only stay on the origin (scheme, host, port) and must pass the same URL
  // policy as the first URL; anything else is a refusal, not a malformed argument.
  absl::Status CheckRedirect(const UrlParts& origin, const UrlParts& next) const {
    if (next.scheme != origin.scheme) {
      return absl::PermissionDeniedError(
          absl::StrCat("redirect from ", origin.scheme, " to ", next.scheme, " refused"));
    }
    if (!absl::EqualsIgnoreCase(next.host, origin.host) || next.port != origin.port) {
      return absl::PermissionDeniedError(absl::StrCat("redirect from ", origin.host, ":",
                                                      origin.port, " to another host (", next.host,
                                                      ":", next.port, ") refused"));
    }
    if (absl::Status policy = CheckUrlPolicy(next, options_); !policy.ok()) {
      return absl::PermissionDeniedError(absl::StrCat("redirect refused: ", policy.message()));
    }
    return absl::OkStatus();
  }

  // One GET of `target`, not following redirects; ended when generation_ leaves `generation`.
  absl::StatusOr<Answer> GetOnce(CURL* curl, const UrlParts& target, absl::Time deadline,
                                 uint64_t generation) const {
    const absl::Duration remaining = deadline - music::RealClock::Get()->Now();
    if (remaining <= absl::ZeroDuration()) {
      return absl::DeadlineExceededError(
          absl::StrCat("fetch took longer than ", absl::FormatDuration(options_.total_timeout)));
    }
    // Rounded up: a zero timeout means "none" to libcurl.
    const long timeout_ms = static_cast<long>(std::max<int64_t>(
        1, absl::ToInt64Milliseconds(absl::Ceil(remaining, absl::Milliseconds(1)))));
    const long connect_ms = static_cast<long>(std::min<int64_t>(
        timeout_ms, std::max<int64_t>(1, absl::ToInt64Milliseconds(options_.connect_timeout))));
    const char* protocols = options_.allow_http ? "http,https" : "https";

    // Keeps the handle's connection cache (a same-origin redirect reuses the checked connection)
    // and drops every option, so nothing leaks from the previous hop.
    curl_easy_reset(curl);
    Exchange exchange;
    exchange.curl = curl;
    exchange.options = &options_;
    exchange.generation = &generation_;
    exchange.sockets = &sockets_;
    exchange.started = generation;
    char error_buffer[CURL_ERROR_SIZE] = {};

    // Any option libcurl refuses fails the fetch closed rather than running without it.
    CURLcode setup = CURLE_OK;
    auto set = [&](CURLoption option, auto value) {
      if (setup == CURLE_OK) setup = curl_easy_setopt(curl, option, value);
    };
    set(CURLOPT_URL, target.url.c_str());
    set(CURLOPT_PROTOCOLS_STR, protocols);
    set(CURLOPT_REDIR_PROTOCOLS_STR, protocols);
    set(CURLOPT_FOLLOWLOCATION, 0L);
    set(CURLOPT_MAXREDIRS, 0L);
    // An empty proxy disables the *_proxy environment variables; NOPROXY is belt and braces.
    set(CURLOPT_PROXY, "");
    set(CURLOPT_NOPROXY, "*");
    set(CURLOPT_NETRC, static_cast<long>(CURL_NETRC_IGNORED));
    set(CURLOPT_NOSIGNAL, 1L);
    set(CURLOPT_HTTPGET, 1L);
    set(CURLOPT_USERAGENT, "music-service-reference-fetcher/1");
    set(CURLOPT_CONNECTTIMEOUT_MS, connect_ms);
    set(CURLOPT_TIMEOUT_MS, timeout_ms);
    // Stops a transfer up front when Content-Length announces more than the cap; OnBody catches
    // bodies that do not announce their length.
    set(CURLOPT_MAXFILESIZE_LARGE, static_cast<curl_off_t>(options_.max_bytes));
    set(CURLOPT_SSL_VERIFYPEER, 1L);
    set(CURLOPT_SSL_VERIFYHOST, 2L);
    set(CURLOPT_SSLVERSION, static_cast<long>(CURL_SSLVERSION_TLSv1_2));
    if (!options_.ca_file.empty()) set(CURLOPT_CAINFO, options_.ca_file.c_str());
    set(CURLOPT_OPENSOCKETFUNCTION, &OpenSocket);
    set(CURLOPT_OPENSOCKETDATA, &exchange);
    set(CURLOPT_CLOSESOCKETFUNCTION, &CloseSocket);
    set(CURLOPT_CLOSESOCKETDATA, &sockets_);
    set(CURLOPT_WRITEFUNCTION, &OnBody);
    set(CURLOPT_WRITEDATA, &exchange);
    set(CURLOPT_HEADERFUNCTION, &OnHeader);
    set(CURLOPT_HEADERDATA, &exchange);
    set(CURLOPT_ERRORBUFFER, error_buffer);
    set(CURLOPT_NOPROGRESS, 0L);
    set(CURLOPT_XFERINFOFUNCTION, &OnProgress);
    set(CURLOPT_XFERINFODATA, &exchange);
    if (setup != CURLE_OK) {
      curl_easy_reset(curl);
      return absl::InternalError(
          absl::StrCat("libcurl refused an option: ", curl_easy_strerror(setup)));
    }

    const CURLcode code = curl_easy_perform(curl);
    absl::Status error;
    // A body we stopped reading on purpose is a completed exchange.
    if (code != CURLE_OK && !(code == CURLE_WRITE_ERROR && exchange.not_2xx)) {
      error = TransferError(code, error_buffer, exchange, target, options_.max_bytes);
    }
    Answer answer;
    curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &answer.status);
    const char* content_type = nullptr;
    if (curl_easy_getinfo(curl, CURLINFO_CONTENT_TYPE, &content_type) == CURLE_OK &&
        content_type != nullptr) {
      answer.content_type = content_type;
    }
    // Drop the pointers into this frame before the handle is used again.
    curl_easy_reset(curl);
    if (!error.ok()) return error;
    answer.location = std::move(exchange.location);
    answer.body = std::move(exchange.body);
    return answer;
  }

  const SafeFetchOptions options_;
  // Bumped by AbortInFlight; each fetch remembers the value it started under.
  std::atomic<uint64_t> generation_{0};
  // Mutable: Fetch's helpers are const, the sockets they open are not.
  mutable OpenSockets sockets_;
};

}  // namespace

bool IsForbiddenAddress(const struct sockaddr* addr, bool allow_loopback) {
  return !ForbiddenReason(addr, allow_loopback).empty();
}

std::unique_ptr<ReferenceAudioFetcher> NewSafeFetcher(SafeFetchOptions options) {
  return std::make_unique<SafeFetcher>(std::move(options));
}

}  // namespace music::http
