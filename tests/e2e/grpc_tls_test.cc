// TLS and mTLS on the gRPC port (issue 11 A), with a test CA the openssl CLI makes at test time:
// a client certificate's URI SAN names the caller (auth.callers.<name>.mesh_ids), a client
// without a certificate is refused when one is required, and a certificate replaced on disk is
// served without a restart (gRPC's file watcher).
#include <gmock/gmock.h>
#include <grpcpp/grpcpp.h>
#include <gtest/gtest.h>

#include <fstream>
#include <sstream>
#include <string>

#include "service/auth/authenticator.h"
#include "tests/e2e/e2e_fixture.h"
#include "tests/testing/test_ca.h"
#include "tests/testing/wait_for.h"

namespace music::e2e {
namespace {

constexpr char kClientId[] = "spiffe://cluster.local/ns/a/sa/app";

using ::music::testing::MakeTestCertificates;
constexpr char kToken[] = "tls-test-token-5e1a";

std::string ReadAll(const std::string& path) {
  std::ifstream in(path);
  std::stringstream buffer;
  buffer << in.rdbuf();
  return buffer.str();
}

class GrpcTlsTest : public E2eTest {
 protected:
  void SetUp() override {
    ASSERT_TRUE(MakeTestCertificates(dir_.path(), "", kClientId)) << "openssl failed";
    E2eTest::SetUp();
  }

  void ConfigureServer(service::ServerOptions& options) override {
    options.tls.cert_file = dir_.File("server.pem");
    options.tls.key_file = dir_.File("server.key");
    options.tls.client_ca_file = dir_.File("ca.pem");
    options.tls.require_client_cert = RequireClientCert();
    options.tls.refresh_seconds = 1;
    service::auth::AuthConfig config;
    service::auth::CallerConfig a;
    a.name = "a-app";
    a.tenant = "tenant-a";
    a.roles = service::auth::AllRoleSet();
    a.mesh_ids = {kClientId};
    const std::string hex = service::auth::TokenSha256Hex(kToken);
    std::array<uint8_t, 32> hash{};
    for (size_t i = 0; i < hash.size(); ++i) {
      hash[i] = static_cast<uint8_t>(std::stoi(hex.substr(2 * i, 2), nullptr, 16));
    }
    a.token_sha256 = {hash};
    config.callers = {a};
    options.authenticator = service::auth::NewAuthenticator(config);
  }

  virtual bool RequireClientCert() { return true; }

  // A stub over TLS trusting `ca`, with the client certificate when `with_cert`.
  std::unique_ptr<music::v1::MusicService::Stub> TlsStub(bool with_cert,
                                                         const std::string& ca = "ca.pem") {
    grpc::SslCredentialsOptions ssl;
    ssl.pem_root_certs = ReadAll(dir_.File(ca));
    if (with_cert) {
      ssl.pem_cert_chain = ReadAll(dir_.File("client.pem"));
      ssl.pem_private_key = ReadAll(dir_.File("client.key"));
    }
    return music::v1::MusicService::NewStub(grpc::CreateChannel(
        "127.0.0.1:" + std::to_string(server_->port()), grpc::SslCredentials(ssl)));
  }

  static grpc::Status Create(music::v1::MusicService::Stub& stub, music::v1::Task* task,
                             const std::string& token = "") {
    music::v1::CreateMusicRequest req;
    req.set_prompt("over TLS");
    music::v1::CreateMusicResponse resp;
    grpc::ClientContext ctx;
    ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(5));
    if (!token.empty()) ctx.AddMetadata("authorization", std::string("Bearer ") + token);
    grpc::Status s = stub.CreateMusic(&ctx, req, &resp);
    *task = resp.task();
    return s;
  }
};

TEST_F(GrpcTlsTest, ClientCertificateUriSanIsTheCaller) {
  music::v1::Task task;
  grpc::Status s = Create(*TlsStub(true), &task);
  ASSERT_TRUE(s.ok()) << s.error_code() << " " << s.error_message();
  EXPECT_EQ(task.tenant(), "tenant-a");
}

TEST_F(GrpcTlsTest, ClientWithoutACertificateOrInPlaintextIsRefused) {
  music::v1::Task task;
  grpc::Status no_cert = Create(*TlsStub(false), &task, kToken);
  EXPECT_FALSE(no_cert.ok());
  EXPECT_EQ(no_cert.error_code(), grpc::StatusCode::UNAVAILABLE) << no_cert.error_message();
  // The fixture's own stub speaks plaintext.
  grpc::Status plain = Create(*stub_, &task, kToken);
  EXPECT_EQ(plain.error_code(), grpc::StatusCode::UNAVAILABLE) << plain.error_message();
}

// A new certificate from a new CA, written over the old files, is served without a restart.
TEST_F(GrpcTlsTest, ReplacedCertificateIsServedWithoutRestart) {
  music::v1::Task task;
  ASSERT_TRUE(Create(*TlsStub(true), &task).ok());
  ASSERT_TRUE(MakeTestCertificates(dir_.path(), "new-", kClientId));
  // The client keeps its certificate from the old CA: the server trusts both while rotating.
  std::ofstream(dir_.File("ca-both.pem"))
      << ReadAll(dir_.File("ca.pem")) << ReadAll(dir_.File("new-ca.pem"));
  std::rename(dir_.File("ca-both.pem").c_str(), dir_.File("ca.pem").c_str());
  // Key first, then the certificate: the watcher reloads the pair once both match.
  std::rename(dir_.File("new-server.key").c_str(), dir_.File("server.key").c_str());
  std::rename(dir_.File("new-server.pem").c_str(), dir_.File("server.pem").c_str());
  // A client trusting only the new CA connects once the watcher reloaded (refresh 1 s).
  EXPECT_TRUE(WaitFor([&] { return Create(*TlsStub(true, "new-ca.pem"), &task).ok(); },
                      absl::Seconds(15), "the new certificate served", absl::Milliseconds(200)));
}

class OptionalClientCertTest : public GrpcTlsTest {
 protected:
  bool RequireClientCert() override { return false; }
};

TEST_F(OptionalClientCertTest, WithoutACertificateTheTokenDecides) {
  music::v1::Task task;
  grpc::Status s = Create(*TlsStub(false), &task, kToken);
  ASSERT_TRUE(s.ok()) << s.error_message();
  EXPECT_EQ(task.tenant(), "tenant-a");
  EXPECT_EQ(Create(*TlsStub(false), &task).error_code(), grpc::StatusCode::UNAUTHENTICATED);
  EXPECT_TRUE(Create(*TlsStub(true), &task).ok());
}

}  // namespace
}  // namespace music::e2e
