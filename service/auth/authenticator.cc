#include "service/auth/authenticator.h"

#include <arpa/inet.h>
#include <openssl/crypto.h>
#include <openssl/sha.h>

#include <utility>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"

namespace music::service::auth {
namespace {

std::array<uint8_t, 32> Sha256(absl::string_view data) {
  std::array<uint8_t, 32> digest{};
  SHA256(reinterpret_cast<const unsigned char*>(data.data()), data.size(), digest.data());
  return digest;
}

// The IP of a gRPC peer string, or false. gRPC spells it "ipv4:1.2.3.4:port",
// "ipv6:[::1]:port" (newer releases percent-encode the brackets).
bool PeerAddress(absl::string_view peer, bool* v6, std::array<uint8_t, 16>* out) {
  std::string host;
  if (absl::ConsumePrefix(&peer, "ipv4:")) {
    const size_t colon = peer.rfind(':');
    host = std::string(peer.substr(0, colon));
    *v6 = false;
  } else if (absl::ConsumePrefix(&peer, "ipv6:")) {
    std::string p(peer);
    for (auto [from, to] : {std::pair("%5B", "["), std::pair("%5D", "]"), std::pair("%5b", "["),
                            std::pair("%5d", "]")}) {
      for (size_t at; (at = p.find(from)) != std::string::npos;) p.replace(at, 3, to);
    }
    const size_t open = p.find('['), close = p.find(']');
    if (open != 0 || close == std::string::npos) return false;
    host = p.substr(1, close - 1);
    // A zone (fe80::1%eth0) is not part of the address.
    if (size_t zone = host.find('%'); zone != std::string::npos) host.resize(zone);
    *v6 = true;
  } else {
    return false;
  }
  out->fill(0);
  return inet_pton(*v6 ? AF_INET6 : AF_INET, host.c_str(), out->data()) == 1;
}

// Splits on `sep` outside double quotes.
std::vector<std::string> SplitUnquoted(absl::string_view s, char sep) {
  std::vector<std::string> parts(1);
  bool quoted = false;
  for (size_t i = 0; i < s.size(); ++i) {
    const char c = s[i];
    if (c == '\\' && quoted && i + 1 < s.size()) {
      parts.back() += s[++i];
      continue;
    }
    if (c == '"') {
      quoted = !quoted;
      continue;
    }
    if (c == sep && !quoted) {
      parts.emplace_back();
      continue;
    }
    parts.back() += c;
  }
  return parts;
}

// auth.mode "none": one caller, every role.
class OpenAuthenticator final : public Authenticator {
 public:
  explicit OpenAuthenticator(std::string tenant) : tenant_(std::move(tenant)) {}
  absl::StatusOr<CallerIdentity> Authenticate(const CallAttributes&) const override {
    return CallerIdentity{"anonymous", tenant_, AllRoleSet()};
  }

 private:
  const std::string tenant_;
};

class ConfiguredAuthenticator final : public Authenticator {
 public:
  explicit ConfiguredAuthenticator(AuthConfig config) : config_(std::move(config)) {}

  absl::StatusOr<CallerIdentity> Authenticate(const CallAttributes& call) const override {
    if (std::optional<absl::string_view> header = call.metadata("authorization")) {
      absl::string_view value = absl::StripAsciiWhitespace(*header);
      if (!absl::ConsumePrefix(&value, "Bearer ") && !absl::ConsumePrefix(&value, "bearer ")) {
        return absl::UnauthenticatedError("authorization: expected \"Bearer <token>\"");
      }
      const CallerConfig* caller = ByToken(absl::StripAsciiWhitespace(value));
      // Never the token itself in the message.
      if (caller == nullptr) return absl::UnauthenticatedError("authorization: unknown token");
      return Identity(*caller);
    }
    for (const std::string& id : call.peer_certificate_ids) {
      if (const CallerConfig* caller = ByMeshId(id)) return Identity(*caller);
    }
    if (!call.peer_certificate_ids.empty()) {
      return absl::UnauthenticatedError(
          absl::StrCat("client certificate ", call.peer_certificate_ids.front(),
                       " is no configured caller (auth.callers.<name>.mesh_ids)"));
    }
    if (!config_.mesh_identity_header.empty() && TrustedPeer(call.peer)) {
      if (std::optional<absl::string_view> header = call.metadata(config_.mesh_identity_header)) {
        const std::string id = MeshIdentity(*header);
        if (const CallerConfig* caller = ByMeshId(id)) return Identity(*caller);
        return absl::UnauthenticatedError(absl::StrCat(
            config_.mesh_identity_header, ": identity \"", id, "\" is no configured caller"));
      }
    }
    return absl::UnauthenticatedError(
        "no caller identity: send \"authorization: Bearer <token>\" (README \"Callers\")");
  }

 private:
  static CallerIdentity Identity(const CallerConfig& c) { return {c.name, c.tenant, c.roles}; }

  // Compares the digest with every configured hash, each in constant time and without stopping
  // at a match, so the time taken says nothing about which hash (or how much of one) matched.
  const CallerConfig* ByToken(absl::string_view token) const {
    if (token.empty()) return nullptr;
    const std::array<uint8_t, 32> digest = Sha256(token);
    const CallerConfig* found = nullptr;
    for (const CallerConfig& c : config_.callers) {
      for (const auto& hash : c.token_sha256) {
        const bool equal = CRYPTO_memcmp(hash.data(), digest.data(), digest.size()) == 0;
        if (equal && found == nullptr) found = &c;
      }
    }
    return found;
  }

  const CallerConfig* ByMeshId(absl::string_view id) const {
    if (id.empty()) return nullptr;
    for (const CallerConfig& c : config_.callers) {
      for (const std::string& m : c.mesh_ids) {
        if (m == id) return &c;
      }
    }
    return nullptr;
  }

  bool TrustedPeer(absl::string_view peer) const {
    for (const Cidr& cidr : config_.trusted_peers) {
      if (PeerInCidr(peer, cidr)) return true;
    }
    return false;
  }

  const AuthConfig config_;
};

}  // namespace

absl::Status Authorize(const CallerIdentity& caller, absl::string_view full_method) {
  const auto& policies = MethodPolicies();
  auto it = policies.find(std::string(full_method));
  if (it == policies.end()) {
    return absl::PermissionDeniedError(absl::StrCat(full_method, ": no policy (deny by default)"));
  }
  if (!it->second.role || caller.Has(*it->second.role)) return absl::OkStatus();
  return absl::PermissionDeniedError(absl::StrCat(
      "caller ", caller.caller, " lacks role ", RoleName(*it->second.role), " for ", full_method));
}

absl::StatusOr<Cidr> ParseCidr(absl::string_view text) {
  Cidr cidr;
  std::string host(text);
  int bits = -1;
  if (size_t slash = host.find('/'); slash != std::string::npos) {
    if (!absl::SimpleAtoi(host.substr(slash + 1), &bits)) {
      return absl::InvalidArgumentError(absl::StrCat("\"", text, "\": bad prefix length"));
    }
    host.resize(slash);
  }
  cidr.v6 = host.find(':') != std::string::npos;
  if (inet_pton(cidr.v6 ? AF_INET6 : AF_INET, host.c_str(), cidr.address.data()) != 1) {
    return absl::InvalidArgumentError(absl::StrCat("\"", text, "\": not an IP address or CIDR"));
  }
  const int max_bits = cidr.v6 ? 128 : 32;
  if (bits == -1) bits = max_bits;
  if (bits < 0 || bits > max_bits) {
    return absl::InvalidArgumentError(absl::StrCat("\"", text, "\": prefix out of range"));
  }
  cidr.prefix_bits = bits;
  return cidr;
}

bool PeerInCidr(absl::string_view peer, const Cidr& cidr) {
  bool v6 = false;
  std::array<uint8_t, 16> address{};
  if (!PeerAddress(peer, &v6, &address) || v6 != cidr.v6) return false;
  for (int bit = 0; bit < cidr.prefix_bits; ++bit) {
    const uint8_t mask = static_cast<uint8_t>(0x80u >> (bit % 8));
    if ((address[bit / 8] & mask) != (cidr.address[bit / 8] & mask)) return false;
  }
  return true;
}

std::string MeshIdentity(absl::string_view header_value) {
  const std::vector<std::string> elements = SplitUnquoted(header_value, ',');
  std::string last(absl::StripAsciiWhitespace(elements.back()));
  if (last.find('=') == std::string::npos) return last;
  for (const std::string& pair : SplitUnquoted(last, ';')) {
    absl::string_view kv = absl::StripAsciiWhitespace(pair);
    const size_t eq = kv.find('=');
    if (eq == absl::string_view::npos) continue;
    if (absl::EqualsIgnoreCase(kv.substr(0, eq), "URI")) {
      return std::string(absl::StripAsciiWhitespace(kv.substr(eq + 1)));
    }
  }
  return "";
}

std::unique_ptr<Authenticator> NewAuthenticator(AuthConfig config) {
  if (config.callers.empty()) return std::make_unique<OpenAuthenticator>(config.open_tenant);
  return std::make_unique<ConfiguredAuthenticator>(std::move(config));
}

std::string TokenSha256Hex(absl::string_view token) {
  static constexpr char kHex[] = "0123456789abcdef";
  std::string hex;
  for (uint8_t b : Sha256(token)) {
    hex += kHex[b >> 4];
    hex += kHex[b & 0xf];
  }
  return hex;
}

}  // namespace music::service::auth
