// BuildServer with auth.* (issue 11 A): the configured callers guard the server it starts, and a
// server that would serve everyone on a non-loopback address is refused.
#include <grpcpp/grpcpp.h>
#include <gtest/gtest.h>

#include <string>

#include "absl/strings/str_cat.h"
#include "adapters/builtin_providers.h"
#include "music/v1/music_service.grpc.pb.h"
#include "server/build_server.h"
#include "tests/testing/status_matchers.h"
#include "tests/testing/temp_dir.h"

namespace music::server {
namespace {

constexpr char kToken[] = "build-server-auth-token";

class BuildServerAuthTest : public ::testing::Test {
 protected:
  absl::StatusOr<std::unique_ptr<service::MusicServer>> Build(const std::string& listen,
                                                              const std::string& auth) {
    const std::string json =
        absl::StrCat(R"({"listen": ")", listen, R"(", "callbacks": {"listen": "127.0.0.1:0"},
        "database": {"path": ")",
                     dir_.File("music.db"), R"("}, "archive": {"enabled": false})", auth, "}");
    auto config = ParseConfig(json, adapters::BuiltinProviders());
    if (!config.ok()) return config.status();
    // Only the callback token secret is set (the server does not start without one).
    return BuildServer(
        *config, adapters::BuiltinProviders(),
        [](const std::string& env) {
          return env == "MUSIC_CALLBACK_SECRET" ? std::string("build-server-auth-callbacks")
                                                : std::string();
        },
        RealClock::Get());
  }

  static grpc::Status ListTasks(int port, const std::string& token) {
    auto stub = music::v1::MusicService::NewStub(
        grpc::CreateChannel(absl::StrCat("127.0.0.1:", port), grpc::InsecureChannelCredentials()));
    grpc::ClientContext ctx;
    if (!token.empty()) ctx.AddMetadata("authorization", absl::StrCat("Bearer ", token));
    music::v1::ListTasksResponse resp;
    return stub->ListTasks(&ctx, music::v1::ListTasksRequest(), &resp);
  }

  TempDir dir_{"build_server_auth"};
};

TEST_F(BuildServerAuthTest, ConfiguredCallersGuardTheServer) {
  auto server =
      Build("127.0.0.1:0", absl::StrCat(R"(, "auth": {"callers": {"app": {
      "tenant": "acme", "roles": ["tasks.read"], "token_sha256": [")",
                                        service::auth::TokenSha256Hex(kToken), R"("]}}})"));
  ASSERT_THAT(server, IsOk());
  const int port = (*server)->port();
  EXPECT_EQ(ListTasks(port, "").error_code(), grpc::StatusCode::UNAUTHENTICATED);
  EXPECT_EQ(ListTasks(port, "another-token").error_code(), grpc::StatusCode::UNAUTHENTICATED);
  const grpc::Status ok = ListTasks(port, kToken);
  EXPECT_TRUE(ok.ok()) << ok.error_message();
  (*server)->Shutdown();
}

TEST_F(BuildServerAuthTest, NoCallersOnANonLoopbackListenIsRefused) {
  EXPECT_THAT(Build("0.0.0.0:0", ""), StatusIs(absl::StatusCode::kFailedPrecondition,
                                               ::testing::HasSubstr("auth.allow_unauthenticated")));
}

TEST_F(BuildServerAuthTest, NoCallersOnLoopbackServesEveryoneAsTheTenant) {
  auto server = Build("127.0.0.1:0", "");
  ASSERT_THAT(server, IsOk());
  const grpc::Status ok = ListTasks((*server)->port(), "");
  EXPECT_TRUE(ok.ok()) << ok.error_message();
  (*server)->Shutdown();
}

}  // namespace
}  // namespace music::server
