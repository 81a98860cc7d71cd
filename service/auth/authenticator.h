#ifndef MUSIC_SERVICE_AUTH_AUTHENTICATOR_H_
#define MUSIC_SERVICE_AUTH_AUTHENTICATOR_H_

#include <array>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "service/auth/roles.h"

namespace music::service::auth {

/// Who is calling: the configured caller's name (for logs), the tenant every read and write of
/// the call is scoped to, and the roles it holds.
struct CallerIdentity {
  std::string caller;
  std::string tenant;
  RoleSet roles = 0;

  bool Has(Role role) const { return (roles & static_cast<RoleSet>(role)) != 0; }
};

/// What the edge knows of one call, free of gRPC types.
struct CallAttributes {
  /// The value of request metadata `key` (lower case), or nullopt when absent.
  std::function<std::optional<absl::string_view>(absl::string_view key)> metadata;
  /// The transport peer as gRPC spells it: "ipv4:10.0.0.7:51234", "ipv6:[::1]:51234".
  absl::string_view peer;
  /// The identities of a client certificate the TLS handshake verified against
  /// grpc.tls.client_ca_file (its subject alternative names, URI SANs included, and its CN);
  /// empty without one.
  std::vector<std::string> peer_certificate_ids;
};

/// Finds the caller of a call. Thread-safe; never logs or returns a token.
class Authenticator {
 public:
  virtual ~Authenticator() = default;
  /// UNAUTHENTICATED when the call carries no identity this server accepts (no token, a token
  /// matching no configured hash, a certificate or mesh identity no caller lists).
  virtual absl::StatusOr<CallerIdentity> Authenticate(const CallAttributes& call) const = 0;
};

/// PERMISSION_DENIED naming the role when `caller` lacks the one `full_method` needs
/// (MethodPolicies); PERMISSION_DENIED too for a method the table lacks (deny by default).
absl::Status Authorize(const CallerIdentity& caller, absl::string_view full_method);

/// `auth.callers.<name>`.
struct CallerConfig {
  std::string name;
  std::string tenant;
  RoleSet roles = 0;
  /// SHA-256 of each accepted bearer token (several while a token is rotated).
  std::vector<std::array<uint8_t, 32>> token_sha256;
  /// SPIFFE / URI identities (a client certificate's URI SAN or CN, or the mesh header's URI=)
  /// that are this caller.
  std::vector<std::string> mesh_ids;
};

/// An IP network, `auth.trusted_peers` entry.
struct Cidr {
  bool v6 = false;
  std::array<uint8_t, 16> address{};
  int prefix_bits = 0;
};

/// Parses "10.0.0.0/8", "::1/128" or a bare address (a /32 or /128). INVALID_ARGUMENT otherwise.
absl::StatusOr<Cidr> ParseCidr(absl::string_view text);
/// Whether gRPC peer `peer` ("ipv4:1.2.3.4:5", "ipv6:[::1]:5") is inside `cidr`.
bool PeerInCidr(absl::string_view peer, const Cidr& cidr);

/// The identity in a mesh header value: Envoy's x-forwarded-client-cert
/// (`By=...;Hash=...;URI=spiffe://...`, elements comma separated, values maybe quoted) gives the
/// URI= of its last element (the one the nearest proxy, the trusted peer, added); a value with no
/// `key=` pairs is the identity itself. "" when none.
std::string MeshIdentity(absl::string_view header_value);

/// `auth.*`: how callers are identified.
struct AuthConfig {
  /// Callers. With none, every call runs as `open_tenant` with every role (auth.mode "none").
  std::vector<CallerConfig> callers;
  /// The tenant of the implicit caller when there are no callers.
  std::string open_tenant = "default";
  /// Request metadata holding a mesh identity ("" = none), honoured only from `trusted_peers`.
  std::string mesh_identity_header;
  std::vector<Cidr> trusted_peers;
};

/// The authenticator of `config`: callers identified, in this order, by
/// `authorization: Bearer <token>` (SHA-256 compared in constant time with every configured
/// hash; a token present but unknown is UNAUTHENTICATED even when another source would name a
/// caller), a verified client certificate's identity, then the mesh header from a trusted peer.
/// With no callers: everyone is the one caller "anonymous" of open_tenant with every role.
std::unique_ptr<Authenticator> NewAuthenticator(AuthConfig config);

/// Lower-case hex SHA-256 of `token` (what `token_sha256` lists; tools print it).
std::string TokenSha256Hex(absl::string_view token);

}  // namespace music::service::auth

#endif  // MUSIC_SERVICE_AUTH_AUTHENTICATOR_H_
