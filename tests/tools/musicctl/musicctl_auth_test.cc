// musicctl against a real server that requires callers (issue 11 A): --token and MUSIC_TOKEN,
// --tls with --ca_file, a client certificate for mTLS (--cert_file / --key_file).
#include <sys/wait.h>

#include <cstdio>
#include <string>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "service/auth/authenticator.h"
#include "tests/e2e/e2e_fixture.h"
#include "tests/testing/test_ca.h"

namespace music::e2e {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;

constexpr char kToken[] = "musicctl-auth-token-9a4c";
constexpr char kClientId[] = "spiffe://cluster.local/ns/cli/sa/musicctl";

struct CliRun {
  int exit_code = -1;
  std::string out;
};

class MusicctlAuthTest : public E2eTest {
 protected:
  void SetUp() override {
    ASSERT_TRUE(music::testing::MakeTestCertificates(dir_.path(), "", kClientId));
    E2eTest::SetUp();
  }

  void ConfigureServer(service::ServerOptions& options) override {
    options.tls.cert_file = dir_.File("server.pem");
    options.tls.key_file = dir_.File("server.key");
    options.tls.client_ca_file = dir_.File("ca.pem");  // optional client certificates
    service::auth::CallerConfig cli;
    cli.name = "cli";
    cli.tenant = "cli-tenant";
    cli.roles = service::auth::AllRoleSet();
    const std::string hex = service::auth::TokenSha256Hex(kToken);
    std::array<uint8_t, 32> hash{};
    for (size_t i = 0; i < hash.size(); ++i) {
      hash[i] = static_cast<uint8_t>(std::stoi(hex.substr(2 * i, 2), nullptr, 16));
    }
    cli.token_sha256 = {hash};
    cli.mesh_ids = {kClientId};
    service::auth::AuthConfig config;
    config.callers = {cli};
    options.authenticator = service::auth::NewAuthenticator(config);
  }

  // Runs `env musicctl args --server 127.0.0.1:<port>`; stdout and stderr, and the exit code.
  CliRun Musicctl(const std::string& args, const std::string& env = "") {
    const std::string command = "env -u MUSIC_TOKEN " + env + " " + MUSICCTL_PATH + " " + args +
                                " --server 127.0.0.1:" + std::to_string(server_->port()) + " 2>&1";
    CliRun run;
    FILE* pipe = popen(command.c_str(), "r");
    if (pipe == nullptr) return run;
    char buffer[4096];
    size_t n = 0;
    while ((n = fread(buffer, 1, sizeof(buffer), pipe)) > 0) run.out.append(buffer, n);
    const int status = pclose(pipe);
    run.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
    return run;
  }

  std::string Ca() { return " --ca_file " + dir_.File("ca.pem"); }
};

TEST_F(MusicctlAuthTest, TokenFlagOrEnvironmentOverTls) {
  CliRun flag = Musicctl(std::string("list --token ") + kToken + Ca());
  EXPECT_EQ(flag.exit_code, 0) << flag.out;
  CliRun env = Musicctl("list" + Ca(), std::string("MUSIC_TOKEN=") + kToken);
  EXPECT_EQ(env.exit_code, 0) << env.out;
}

TEST_F(MusicctlAuthTest, NoTokenOrAWrongOneFailsAndTheTokenIsNeverPrinted) {
  CliRun none = Musicctl("list" + Ca());
  EXPECT_EQ(none.exit_code, 1) << none.out;
  EXPECT_THAT(none.out, HasSubstr("UNAUTHENTICATED"));
  CliRun wrong = Musicctl("list --token wrong-token-5150" + Ca());
  EXPECT_EQ(wrong.exit_code, 1) << wrong.out;
  EXPECT_THAT(wrong.out, Not(HasSubstr("wrong-token-5150")));
  // Plaintext to a TLS port never gets through.
  CliRun plain = Musicctl(std::string("list --token ") + kToken);
  EXPECT_EQ(plain.exit_code, 1) << plain.out;
}

TEST_F(MusicctlAuthTest, ClientCertificateIsTheCaller) {
  CliRun run = Musicctl("list" + Ca() + " --cert_file " + dir_.File("client.pem") + " --key_file " +
                        dir_.File("client.key"));
  EXPECT_EQ(run.exit_code, 0) << run.out;
  CliRun half = Musicctl("list" + Ca() + " --cert_file " + dir_.File("client.pem"));
  EXPECT_EQ(half.exit_code, 64) << half.out;  // --cert_file without --key_file: usage
}

}  // namespace
}  // namespace music::e2e
