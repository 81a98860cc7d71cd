#include "service/auth/authenticator.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <map>
#include <string>
#include <utility>
#include <vector>

#include "tests/testing/status_matchers.h"

namespace music::service::auth {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;

constexpr char kTokenA[] = "token-of-tenant-a";
constexpr char kTokenA2[] = "rotated-token-of-tenant-a";
constexpr char kSpiffeB[] = "spiffe://cluster.local/ns/b/sa/client";

std::array<uint8_t, 32> Hash(const std::string& token) {
  const std::string hex = TokenSha256Hex(token);
  std::array<uint8_t, 32> out{};
  for (size_t i = 0; i < 32; ++i)
    out[i] = static_cast<uint8_t>(std::stoi(hex.substr(2 * i, 2), nullptr, 16));
  return out;
}

AuthConfig TwoCallers() {
  AuthConfig config;
  CallerConfig a;
  a.name = "a-app";
  a.tenant = "tenant-a";
  a.roles = static_cast<RoleSet>(Role::kTasksCreate) | static_cast<RoleSet>(Role::kTasksRead);
  a.token_sha256 = {Hash(kTokenA), Hash(kTokenA2)};
  CallerConfig b;
  b.name = "b-mesh";
  b.tenant = "tenant-b";
  b.roles = static_cast<RoleSet>(Role::kTasksRead);
  b.mesh_ids = {kSpiffeB};
  config.callers = {a, b};
  config.mesh_identity_header = "x-forwarded-client-cert";
  config.trusted_peers = {*ParseCidr("10.1.0.0/16"), *ParseCidr("::1")};
  return config;
}

// One call: its metadata, peer and verified certificate identities.
struct Call {
  std::map<std::string, std::string> metadata;
  std::string peer = "ipv4:192.0.2.9:40000";
  std::vector<std::string> cert_ids;

  absl::StatusOr<CallerIdentity> Run(const Authenticator& auth) const {
    CallAttributes attributes{[this](absl::string_view key) -> std::optional<absl::string_view> {
                                auto it = metadata.find(std::string(key));
                                if (it == metadata.end()) return std::nullopt;
                                return absl::string_view(it->second);
                              },
                              peer, cert_ids};
    return auth.Authenticate(attributes);
  }
};

TEST(AuthenticatorTest, BearerTokenByItsHashAndEveryRotatedHash) {
  auto auth = NewAuthenticator(TwoCallers());
  for (const char* token : {kTokenA, kTokenA2}) {
    Call call;
    call.metadata["authorization"] = std::string("Bearer ") + token;
    auto who = call.Run(*auth);
    ASSERT_THAT(who, IsOk());
    EXPECT_EQ(who->caller, "a-app");
    EXPECT_EQ(who->tenant, "tenant-a");
    EXPECT_TRUE(who->Has(Role::kTasksCreate));
    EXPECT_FALSE(who->Has(Role::kTasksCancel));
  }
}

TEST(AuthenticatorTest, NoTokenOrAWrongOneIsUnauthenticatedAndNeverEchoed) {
  auto auth = NewAuthenticator(TwoCallers());
  EXPECT_THAT(Call().Run(*auth), StatusIs(absl::StatusCode::kUnauthenticated));
  Call wrong;
  wrong.metadata["authorization"] = "Bearer not-a-configured-token";
  EXPECT_THAT(wrong.Run(*auth), StatusIs(absl::StatusCode::kUnauthenticated,
                                         Not(HasSubstr("not-a-configured-token"))));
  Call basic;
  basic.metadata["authorization"] = std::string("Basic ") + kTokenA;
  EXPECT_THAT(basic.Run(*auth),
              StatusIs(absl::StatusCode::kUnauthenticated, Not(HasSubstr(kTokenA))));
  // A wrong token is not rescued by a mesh identity.
  wrong.peer = "ipv4:10.1.2.3:5000";
  wrong.metadata["x-forwarded-client-cert"] = std::string("URI=") + kSpiffeB;
  EXPECT_THAT(wrong.Run(*auth), StatusIs(absl::StatusCode::kUnauthenticated));
}

TEST(AuthenticatorTest, MeshHeaderHonouredOnlyFromATrustedPeer) {
  auto auth = NewAuthenticator(TwoCallers());
  Call call;
  call.metadata["x-forwarded-client-cert"] =
      std::string(
          "By=spiffe://cluster.local/ns/music/sa/server;Hash=abc;Subject=\"CN=x,O=y\";URI=") +
      kSpiffeB;
  call.peer = "ipv4:10.1.2.3:5000";
  auto who = call.Run(*auth);
  ASSERT_THAT(who, IsOk());
  EXPECT_EQ(who->tenant, "tenant-b");
  call.peer = "ipv6:[::1]:5000";
  EXPECT_THAT(call.Run(*auth), IsOk());
  call.peer = "ipv6:%5B::1%5D:5000";
  EXPECT_THAT(call.Run(*auth), IsOk());
  // From anyone else the header is ignored: no identity at all.
  for (const char* peer : {"ipv4:10.2.0.1:5000", "ipv4:192.0.2.9:1", "ipv6:[::2]:5000"}) {
    call.peer = peer;
    EXPECT_THAT(call.Run(*auth), StatusIs(absl::StatusCode::kUnauthenticated)) << peer;
  }
}

TEST(AuthenticatorTest, MeshHeaderUnknownIdentityIsUnauthenticated) {
  auto auth = NewAuthenticator(TwoCallers());
  Call call;
  call.peer = "ipv4:10.1.2.3:5000";
  call.metadata["x-forwarded-client-cert"] = "URI=spiffe://cluster.local/ns/evil/sa/x";
  EXPECT_THAT(call.Run(*auth), StatusIs(absl::StatusCode::kUnauthenticated));
}

TEST(AuthenticatorTest, VerifiedClientCertificateIdentity) {
  auto auth = NewAuthenticator(TwoCallers());
  Call call;
  call.cert_ids = {"client.example", kSpiffeB};
  auto who = call.Run(*auth);
  ASSERT_THAT(who, IsOk());
  EXPECT_EQ(who->caller, "b-mesh");
  call.cert_ids = {"spiffe://cluster.local/ns/other/sa/x"};
  EXPECT_THAT(call.Run(*auth), StatusIs(absl::StatusCode::kUnauthenticated));
}

TEST(AuthenticatorTest, NoCallersMeansOneOpenCallerWithEveryRole) {
  AuthConfig config;
  config.open_tenant = "dev";
  auto who = Call().Run(*NewAuthenticator(config));
  ASSERT_THAT(who, IsOk());
  EXPECT_EQ(who->tenant, "dev");
  EXPECT_EQ(who->roles, AllRoleSet());
}

TEST(AuthorizeTest, RoleCheckedAndUnknownMethodDenied) {
  CallerIdentity reader{"r", "t", static_cast<RoleSet>(Role::kTasksRead)};
  EXPECT_THAT(Authorize(reader, "/music.v1.MusicService/GetTask"), IsOk());
  EXPECT_THAT(Authorize(reader, "/music.v1.MusicService/CancelTask"),
              StatusIs(absl::StatusCode::kPermissionDenied, HasSubstr("tasks.cancel")));
  EXPECT_THAT(Authorize(reader, "/music.v1.MusicService/NoSuchMethod"),
              StatusIs(absl::StatusCode::kPermissionDenied));
}

TEST(MeshIdentityTest, EnvoyXfccAndPlainValues) {
  EXPECT_EQ(MeshIdentity("By=spiffe://a;Hash=1;URI=spiffe://b"), "spiffe://b");
  // Several hops: the last element is the nearest proxy's.
  EXPECT_EQ(MeshIdentity("URI=spiffe://far,By=x;URI=spiffe://near"), "spiffe://near");
  EXPECT_EQ(MeshIdentity("Subject=\"CN=a,O=b\";URI=\"spiffe://q\""), "spiffe://q");
  EXPECT_EQ(MeshIdentity("spiffe://plain"), "spiffe://plain");
  EXPECT_EQ(MeshIdentity("Hash=1;DNS=x"), "");
}

TEST(CidrTest, ParsesAndMatches) {
  auto net = ParseCidr("10.0.0.0/8");
  ASSERT_THAT(net, IsOk());
  EXPECT_TRUE(PeerInCidr("ipv4:10.255.0.1:1", *net));
  EXPECT_FALSE(PeerInCidr("ipv4:11.0.0.1:1", *net));
  EXPECT_FALSE(PeerInCidr("ipv6:[::1]:1", *net));
  EXPECT_FALSE(PeerInCidr("unix:/tmp/sock", *net));
  auto v6 = ParseCidr("fd00::/8");
  ASSERT_THAT(v6, IsOk());
  EXPECT_TRUE(PeerInCidr("ipv6:[fd12::3]:1", *v6));
  EXPECT_THAT(ParseCidr("10.0.0.0/33"), StatusIs(absl::StatusCode::kInvalidArgument));
  EXPECT_THAT(ParseCidr("not-an-ip"), StatusIs(absl::StatusCode::kInvalidArgument));
}

TEST(TokenSha256HexTest, KnownDigest) {
  // sha256("abc"), FIPS 180-2 appendix B.1.
  EXPECT_EQ(TokenSha256Hex("abc"),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
}

}  // namespace
}  // namespace music::service::auth
