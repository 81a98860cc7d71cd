// auth.* and grpc.tls.* (issue 11 A): how the config names callers, roles, token hashes, the
// mesh header and TLS, and the errors naming the key.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "adapters/builtin_providers.h"
#include "server/config.h"
#include "tests/testing/status_matchers.h"

namespace music::server {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;

absl::StatusOr<ServerConfig> Parse(absl::string_view json) {
  return ParseConfig(json, adapters::BuiltinProviders());
}

// sha256("a-token").
const std::string kHash = service::auth::TokenSha256Hex("a-token");

TEST(AuthConfigTest, NoAuthSectionIsModeNone) {
  auto c = Parse("{}");
  ASSERT_THAT(c, IsOk());
  EXPECT_FALSE(AuthRequired(*c));
  EXPECT_THAT(CheckUnauthenticatedListen(*c), IsOk());  // 127.0.0.1
}

TEST(AuthConfigTest, ReadsCallersAndImpliesRequired) {
  auto c = Parse(R"({"auth": {"callers": {
      "app": {"tenant": "acme", "roles": ["tasks.create", "tasks.read"],
              "token_sha256": [")" +
                 kHash + R"(", ")" + std::string(64, 'A') + R"("]},
      "mesh": {"tenant": "acme", "roles": ["billing.read"],
               "mesh_ids": ["spiffe://cluster.local/ns/acme/sa/app"]}},
    "mesh_identity_header": "X-Forwarded-Client-Cert", "trusted_peers": ["10.0.0.0/8", "::1"]}})");
  ASSERT_THAT(c, IsOk());
  EXPECT_TRUE(AuthRequired(*c));
  ASSERT_EQ(c->auth_callers.size(), 2u);
  const auto& app = c->auth_callers[0];
  EXPECT_EQ(app.name, "app");
  EXPECT_EQ(app.tenant, "acme");
  EXPECT_EQ(app.roles, static_cast<service::auth::RoleSet>(service::auth::Role::kTasksCreate) |
                           static_cast<service::auth::RoleSet>(service::auth::Role::kTasksRead));
  ASSERT_EQ(app.token_sha256.size(), 2u);  // old and new hash while a token is rotated
  EXPECT_EQ(c->auth_callers[1].mesh_ids,
            std::vector<std::string>{"spiffe://cluster.local/ns/acme/sa/app"});
  EXPECT_EQ(c->auth_mesh_identity_header, "x-forwarded-client-cert");  // gRPC keys: lower case
  EXPECT_EQ(c->auth_trusted_peers.size(), 2u);
  // Callers make a non-loopback listen fine.
  c->listen = "0.0.0.0:50051";
  EXPECT_THAT(CheckUnauthenticatedListen(*c), IsOk());
}

TEST(AuthConfigTest, ErrorsNameTheKeyAndNeverEchoAToken) {
  const struct {
    std::string json;
    std::string key;
  } cases[] = {
      {R"({"auth": {"mode": "maybe"}})", "auth.mode"},
      {R"({"auth": {"mode": "required"}})", "auth.callers"},
      {R"({"auth": {"callers": {"x": {"roles": ["tasks.read"], "token_sha256": [")" + kHash +
           R"("]}}}})",
       "auth.callers.x.tenant"},
      {R"({"auth": {"callers": {"x": {"tenant": "t", "roles": ["admin"], "token_sha256": [")" +
           kHash + R"("]}}}})",
       "auth.callers.x.roles"},
      {R"({"auth": {"callers": {"x": {"tenant": "t", "token_sha256": ["my-secret-token"]}}}})",
       "auth.callers.x.token_sha256"},
      {R"({"auth": {"callers": {"x": {"tenant": "t", "roles": ["tasks.read"]}}}})",
       "auth.callers.x"},
      {R"({"auth": {"callers": {"x": {"tenant": "t", "token": "abc"}}}})", "auth.callers.x.token"},
      {R"({"auth": {"trusted_peers": ["10.0.0.0/40"]}})", "auth.trusted_peers[0]"},
      {R"({"auth": {"mesh_identity_header": "x-forwarded-client-cert"}})", "auth.trusted_peers"},
      {R"({"grpc": {"tls": {"cert_file": "/c.pem"}}})", "grpc.tls.key_file"},
      {R"({"grpc": {"tls": {"cert_file": "/c.pem", "key_file": "/k.pem",
           "require_client_cert": true}}})",
       "grpc.tls.require_client_cert"},
      {R"({"grpc": {"tls": {"client_ca_file": "/ca.pem"}}})", "grpc.tls.client_ca_file"},
  };
  for (const auto& c : cases) {
    EXPECT_THAT(Parse(c.json),
                StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("\"" + c.key + "\"")))
        << c.json;
  }
  EXPECT_THAT(
      Parse(
          R"({"auth": {"callers": {"x": {"tenant": "t", "token_sha256": ["my-secret-token"]}}}})"),
      StatusIs(absl::StatusCode::kInvalidArgument, Not(HasSubstr("my-secret-token"))));
}

TEST(AuthConfigTest, UnauthenticatedOnANonLoopbackListenIsRefusedUnlessAllowed) {
  auto c = Parse(R"({"listen": "0.0.0.0:50051"})");
  ASSERT_THAT(c, IsOk());  // --check_config and --listen overrides come before the check
  EXPECT_THAT(CheckUnauthenticatedListen(*c),
              StatusIs(absl::StatusCode::kFailedPrecondition, HasSubstr("auth.mode")));
  auto allowed = Parse(R"({"listen": "0.0.0.0:50051", "auth": {"allow_unauthenticated": true}})");
  ASSERT_THAT(allowed, IsOk());
  EXPECT_THAT(CheckUnauthenticatedListen(*allowed), IsOk());
  for (const char* listen : {"127.0.0.1:1", "localhost:1", "[::1]:1"}) {
    c->listen = listen;
    EXPECT_THAT(CheckUnauthenticatedListen(*c), IsOk()) << listen;
  }
}

TEST(AuthConfigTest, ReadsTls) {
  auto c = Parse(R"({"grpc": {"tls": {"cert_file": "/c.pem", "key_file": "/k.pem",
      "client_ca_file": "/ca.pem", "require_client_cert": true, "refresh_seconds": 5}}})");
  ASSERT_THAT(c, IsOk());
  EXPECT_EQ(c->grpc_tls_cert_file, "/c.pem");
  EXPECT_EQ(c->grpc_tls_key_file, "/k.pem");
  EXPECT_EQ(c->grpc_tls_client_ca_file, "/ca.pem");
  EXPECT_TRUE(c->grpc_tls_require_client_cert);
  EXPECT_EQ(c->grpc_tls_refresh_seconds, 5);
}

}  // namespace
}  // namespace music::server
