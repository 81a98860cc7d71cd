#include "adapters/tokenlab/tokenlab_url.h"

#include <optional>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"

namespace music::adapters::tokenlab {
namespace {

struct Origin {
  std::string scheme;
  std::string host;
  int port = 0;
};

std::optional<Origin> ParseOrigin(absl::string_view url) {
  const size_t colon = url.find("://");
  if (colon == absl::string_view::npos) return std::nullopt;
  Origin origin;
  origin.scheme = absl::AsciiStrToLower(url.substr(0, colon));
  if (origin.scheme != "http" && origin.scheme != "https") return std::nullopt;
  absl::string_view rest = url.substr(colon + 3);
  // Control characters, spaces and backslashes have no place in a URL the key is sent to
  // (parsers disagree on them).
  for (unsigned char c : url) {
    if (c <= 0x20 || c == 0x7f || c == '\\') return std::nullopt;
  }
  if (absl::StrContains(rest, '#')) return std::nullopt;
  absl::string_view authority = rest.substr(0, rest.find_first_of("/?"));
  if (authority.empty() || absl::StrContains(authority, '@')) return std::nullopt;
  absl::string_view host = authority;
  absl::string_view port;
  if (authority.front() == '[') {
    const size_t close = authority.find(']');
    if (close == absl::string_view::npos) return std::nullopt;
    host = authority.substr(0, close + 1);
    absl::string_view after = authority.substr(close + 1);
    if (!after.empty()) {
      if (after.front() != ':') return std::nullopt;
      port = after.substr(1);
    }
  } else if (const size_t c = authority.rfind(':'); c != absl::string_view::npos) {
    host = authority.substr(0, c);
    port = authority.substr(c + 1);
  }
  if (host.empty()) return std::nullopt;
  origin.host = absl::AsciiStrToLower(host);
  if (port.empty()) {
    origin.port = origin.scheme == "https" ? 443 : 80;
  } else if (!absl::SimpleAtoi(port, &origin.port) || origin.port <= 0 || origin.port > 65535) {
    return std::nullopt;
  }
  return origin;
}

}  // namespace

bool SameOrigin(absl::string_view base_url, absl::string_view url) {
  const std::optional<Origin> base = ParseOrigin(base_url);
  const std::optional<Origin> other = ParseOrigin(url);
  return base && other && base->scheme == other->scheme && base->host == other->host &&
         base->port == other->port;
}

}  // namespace music::adapters::tokenlab
