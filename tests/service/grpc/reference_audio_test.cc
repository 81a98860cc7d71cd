// UploadReferenceAudio over a real in-process gRPC server, and reference_audio_uri downloads
// through the SSRF-safe fetcher from a local HTTPS server: FakeProviders that record what they
// get, a real SQLite file.

// Debian's cpp-httplib.pc defines it too; httplib.h needs it before inclusion either way.
#ifndef CPPHTTPLIB_OPENSSL_SUPPORT
#define CPPHTTPLIB_OPENSSL_SUPPORT
#endif
#include <grpcpp/grpcpp.h>
#include <gtest/gtest.h>
#include <httplib.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/sha.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>
#include <stdlib.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/escaping.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "adapters/http/safe_fetcher.h"
#include "music/v1/music_service.grpc.pb.h"
#include "persistence/sqlite/sqlite_task_store.h"
#include "service/core/reference_audio_id.h"
#include "service/server/music_server.h"
#include "tests/testing/fake_provider.h"
#include "tests/testing/self_signed_cert.h"
#include "tests/testing/temp_dir.h"
#include "tests/testing/wait_for.h"

namespace music::service {
namespace {

using ::music::testing::WriteSelfSignedCert;

constexpr char kSecret[] = "reference-audio-test-callback-secret";
constexpr char kTenant[] = "tenant-r";

std::string Sha256Hex(const std::string& bytes) {
  unsigned char digest[SHA256_DIGEST_LENGTH];
  SHA256(reinterpret_cast<const unsigned char*>(bytes.data()), bytes.size(), digest);
  return absl::BytesToHexString(
      absl::string_view(reinterpret_cast<const char*>(digest), sizeof(digest)));
}

std::string Mp3Bytes(size_t n) {
  std::string bytes = std::string("ID3\x04", 4);
  bytes.resize(n);
  for (size_t i = 4; i < n; ++i) bytes[i] = static_cast<char>((i * 2654435761u) >> 24);
  return bytes;
}

class ReferenceAudioTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_FALSE(temp_dir_.path().empty());
    dir_ = temp_dir_.path();
  }

  void TearDown() override {
    stub_.reset();
    if (server_) server_->Shutdown();
    server_.reset();
    if (https_) https_->stop();
    if (https_thread_.joinable()) https_thread_.join();
  }

  void StartServer(size_t max_bytes = kMaxReferenceAudioBytes,
                   http::ReferenceAudioFetcher* fetcher = nullptr, bool uploads = true) {
    persistence::SqliteOptions so;
    so.path = dir_ + "/music.db";
    so.synchronous = "NORMAL";
    auto store = persistence::OpenSqliteStores(so);
    ASSERT_TRUE(store.ok()) << store.status();
    beatra_ = std::make_shared<FakeProvider>(adapters::ResubmitPolicy::kIdempotencyKey, "beatra");
    beatra_->set_reference_audio(true);
    plain_ = std::make_shared<FakeProvider>(adapters::ResubmitPolicy::kAtMostOnce, "plain");
    auto registry = std::make_unique<ProviderRegistry>();
    registry->Add(beatra_);
    registry->Add(plain_);
    std::vector<music::v1::Model> models = plain_->Models();
    models.push_back(beatra_->Models().front());
    music::v1::ModelAlias alias;
    alias.set_name("suno");
    alias.add_models("plain-model");
    alias.add_models("beatra-model");
    auto catalog = Catalog::Create(models, {alias}, "beatra-model");
    ASSERT_TRUE(catalog.ok()) << catalog.status();
    ServerOptions options;
    options.listen = "127.0.0.1:0";
    options.callbacks_listen = "127.0.0.1:0";
    options.engine.callback_token_secrets = {kSecret};
    options.tenant = kTenant;
    options.shutdown_grace = absl::Seconds(1);
    options.engine.poll_interval = absl::Seconds(60);
    options.engine.backoff_initial = absl::Milliseconds(10);
    options.engine.workers = 2;
    options.engine.reference_fetcher = fetcher;
    options.max_reference_audio_bytes = max_bytes;
    options.reference_audio_uploads = uploads;
    auto server = MusicServer::Start(options, std::move(*store), std::move(registry),
                                     std::move(*catalog), RealClock::Get());
    ASSERT_TRUE(server.ok()) << server.status();
    server_ = std::move(*server);
    grpc::ChannelArguments args;
    args.SetMaxSendMessageSize(16 << 20);
    stub_ = music::v1::MusicService::NewStub(grpc::CreateCustomChannel(
        absl::StrCat("127.0.0.1:", server_->port()), grpc::InsecureChannelCredentials(), args));
  }

  struct UploadResult {
    grpc::Status status;
    music::v1::UploadReferenceAudioResponse response;
  };

  // Sends `metadata` (unless null) and then `chunks`, stopping at the first refused write.
  UploadResult Upload(const music::v1::ReferenceAudioMetadata* metadata,
                      const std::vector<std::string>& chunks) {
    UploadResult result;
    grpc::ClientContext ctx;
    ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(20));
    auto writer = stub_->UploadReferenceAudio(&ctx, &result.response);
    bool ok = true;
    if (metadata != nullptr) {
      music::v1::UploadReferenceAudioRequest first;
      *first.mutable_metadata() = *metadata;
      ok = writer->Write(first);
    }
    for (const auto& chunk : chunks) {
      if (!ok) break;
      music::v1::UploadReferenceAudioRequest part;
      part.set_chunk(chunk);
      ok = writer->Write(part);
    }
    writer->WritesDone();
    result.status = writer->Finish();
    return result;
  }

  static music::v1::ReferenceAudioMetadata Metadata(const std::string& model = "beatra-model") {
    music::v1::ReferenceAudioMetadata m;
    m.set_model(model);
    m.set_filename("hum.mp3");
    m.set_content_type("audio/mpeg");
    return m;
  }

  music::v1::Task GetTask(const std::string& id) {
    music::v1::GetTaskRequest req;
    req.set_task_id(id);
    music::v1::GetTaskResponse resp;
    grpc::ClientContext ctx;
    EXPECT_TRUE(stub_->GetTask(&ctx, req, &resp).ok());
    return resp.task();
  }

  // Waits (bounded, real time) until the task leaves PENDING.
  music::v1::Task WaitStarted(const std::string& id) {
    music::v1::Task task;
    WaitFor(
        [&] {
          task = GetTask(id);
          return task.state() != music::v1::TASK_STATE_PENDING;
        },
        absl::Seconds(10), "the task to leave PENDING");
    return task;
  }

  std::string CreateWithReference(const std::string& uri, const std::string& id = "") {
    music::v1::CreateMusicRequest req;
    req.set_model("beatra-model");
    req.set_prompt("a song like this");
    req.set_reference_audio_uri(uri);
    req.set_reference_audio_id(id);
    music::v1::CreateMusicResponse resp;
    grpc::ClientContext ctx;
    grpc::Status s = stub_->CreateMusic(&ctx, req, &resp);
    EXPECT_TRUE(s.ok()) << s.error_message();
    return resp.task().task_id();
  }

  // A local HTTPS server serving `body` at /hum.mp3; returns its port.
  int StartHttps(const std::string& body) {
    cert_path_ = dir_ + "/cert.pem";
    const std::string key_path = dir_ + "/key.pem";
    EXPECT_TRUE(WriteSelfSignedCert(cert_path_, key_path));
    https_ = std::make_unique<httplib::SSLServer>(cert_path_.c_str(), key_path.c_str());
    https_->Get("/hum.mp3", [this, body](const httplib::Request&, httplib::Response& res) {
      ++https_hits_;
      res.set_content(body, "audio/mpeg");
    });
    https_->set_keep_alive_timeout(1);
    const int port = https_->bind_to_any_port("127.0.0.1");
    https_thread_ = std::thread([this] { https_->listen_after_bind(); });
    EXPECT_TRUE(
        WaitFor([&] { return https_->is_running(); }, absl::Seconds(5), "the https server"));
    return port;
  }

  http::SafeFetchOptions FetchOptions(bool allow_loopback) {
    http::SafeFetchOptions o;
    o.allow_loopback = allow_loopback;
    o.ca_file = cert_path_;
    o.total_timeout = absl::Seconds(10);
    return o;
  }

  TempDir temp_dir_{"refaudio"};
  std::string dir_;
  std::string cert_path_;
  std::shared_ptr<FakeProvider> beatra_, plain_;
  std::unique_ptr<MusicServer> server_;
  std::unique_ptr<music::v1::MusicService::Stub> stub_;
  std::unique_ptr<httplib::SSLServer> https_;
  std::thread https_thread_;
  std::atomic<int> https_hits_{0};
};

TEST_F(ReferenceAudioTest, UploadsChunksAndReturnsTheProvidersId) {
  StartServer();
  const std::string bytes = Mp3Bytes((5 << 20) + 123);  // one chunk above gRPC's 4 MiB default
  const auto metadata = Metadata();
  auto result = Upload(&metadata, {bytes.substr(0, 1 << 20), bytes.substr(1 << 20)});
  ASSERT_TRUE(result.status.ok()) << result.status.error_message();
  // Bound to the caller's tenant (reference_audio_id.h), under the callback token secret.
  EXPECT_EQ(result.response.reference_audio_id(),
            IssueReferenceAudioId(kSecret, kTenant, "beatra", "art-1"));
  EXPECT_TRUE(absl::StartsWith(result.response.reference_audio_id(), "beatra/"));
  EXPECT_EQ(result.response.provider(), "beatra");
  EXPECT_EQ(result.response.size_bytes(), static_cast<int64_t>(bytes.size()));
  EXPECT_EQ(result.response.sha256(), Sha256Hex(bytes));
  auto uploads = beatra_->uploads();
  ASSERT_EQ(uploads.size(), 1u);
  EXPECT_EQ(uploads[0].bytes, bytes);
  EXPECT_EQ(uploads[0].filename, "hum.mp3");
  EXPECT_EQ(uploads[0].content_type, "audio/mpeg");

  // The id goes to CreateMusic and reaches the provider without its provider and tag.
  const std::string id = CreateWithReference("", result.response.reference_audio_id());
  ASSERT_EQ(WaitStarted(id).state(), music::v1::TASK_STATE_RUNNING);
  EXPECT_EQ(beatra_->last_submit().reference_artifact_id, "art-1");
}

TEST_F(ReferenceAudioTest, AliasUploadsToAMemberThatTakesReferenceAudio) {
  StartServer();
  const auto metadata = Metadata("suno");
  auto result = Upload(&metadata, {Mp3Bytes(1000)});
  ASSERT_TRUE(result.status.ok()) << result.status.error_message();
  EXPECT_EQ(result.response.provider(), "beatra");
  EXPECT_TRUE(plain_->uploads().empty());
}

TEST_F(ReferenceAudioTest, AboveTheCapIsRefusedAtOnce) {
  StartServer(/*max_bytes=*/64 << 10);
  const auto metadata = Metadata();
  std::vector<std::string> chunks(40, std::string(32 << 10, 'x'));
  auto result = Upload(&metadata, chunks);
  EXPECT_EQ(result.status.error_code(), grpc::StatusCode::FAILED_PRECONDITION)
      << result.status.error_message();
  EXPECT_TRUE(beatra_->uploads().empty());
}

TEST_F(ReferenceAudioTest, DisabledUploadsAreFailedPrecondition) {
  StartServer(kMaxReferenceAudioBytes, nullptr, /*uploads=*/false);
  const auto metadata = Metadata();
  auto result = Upload(&metadata, {Mp3Bytes(100)});
  EXPECT_EQ(result.status.error_code(), grpc::StatusCode::FAILED_PRECONDITION);
  EXPECT_TRUE(beatra_->uploads().empty());
}

TEST_F(ReferenceAudioTest, MetadataMustComeFirstAndBeValid) {
  StartServer();
  auto no_metadata = Upload(nullptr, {Mp3Bytes(100)});
  EXPECT_EQ(no_metadata.status.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_NE(no_metadata.status.error_message().find("metadata"), std::string::npos);

  auto nothing = Upload(nullptr, {});
  EXPECT_EQ(nothing.status.error_code(), grpc::StatusCode::INVALID_ARGUMENT);

  const auto metadata = Metadata();
  auto empty = Upload(&metadata, {});
  EXPECT_EQ(empty.status.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_NE(empty.status.error_message().find("chunk"), std::string::npos);

  auto text = Metadata();
  text.set_content_type("text/plain");
  EXPECT_NE(Upload(&text, {Mp3Bytes(100)}).status.error_message().find("metadata.content_type"),
            std::string::npos);
  auto long_name = Metadata();
  long_name.set_filename(std::string(256, 'a'));
  EXPECT_NE(Upload(&long_name, {Mp3Bytes(100)}).status.error_message().find("metadata.filename"),
            std::string::npos);
  auto no_reference = Metadata("plain-model");
  auto refused = Upload(&no_reference, {Mp3Bytes(100)});
  EXPECT_EQ(refused.status.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_NE(refused.status.error_message().find("metadata.model"), std::string::npos);
  EXPECT_TRUE(beatra_->uploads().empty());
  EXPECT_TRUE(plain_->uploads().empty());
}

TEST_F(ReferenceAudioTest, ReferenceAudioIdOfAnotherProviderIsRefused) {
  StartServer();
  music::v1::CreateMusicRequest req;
  req.set_model("beatra-model");
  req.set_prompt("x");
  req.set_reference_audio_id(IssueReferenceAudioId(kSecret, kTenant, "tokenlab", "art-1"));
  music::v1::CreateMusicResponse resp;
  grpc::ClientContext ctx;
  grpc::Status s = stub_->CreateMusic(&ctx, req, &resp);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_NE(s.error_message().find("reference_audio_id"), std::string::npos);
}

// The tag binds an id to the tenant (README "Callers"): another tenant's id, one under a secret
// the server does not hold, and an untagged id of before are refused before anything is stored.
TEST_F(ReferenceAudioTest, AnIdNotIssuedToTheCallersTenantIsRefusedBeforeAnythingIsStored) {
  StartServer();
  auto create = [&](const std::string& id) {
    music::v1::CreateMusicRequest req;
    req.set_model("beatra-model");
    req.set_prompt("x");
    req.set_reference_audio_id(id);
    music::v1::CreateMusicResponse resp;
    grpc::ClientContext ctx;
    return stub_->CreateMusic(&ctx, req, &resp);
  };
  for (const std::string& id :
       {IssueReferenceAudioId(kSecret, "tenant-other", "beatra", "art-1"),
        IssueReferenceAudioId("another-secret", kTenant, "beatra", "art-1")}) {
    const grpc::Status s = create(id);
    EXPECT_EQ(s.error_code(), grpc::StatusCode::FAILED_PRECONDITION) << id;
    EXPECT_EQ(s.error_message(),
              "reference_audio_id: no upload with this id for this tenant; UploadReferenceAudio "
              "returns the ids this tenant may pass");
  }
  const grpc::Status old = create("beatra/art-1");
  EXPECT_EQ(old.error_code(), grpc::StatusCode::INVALID_ARGUMENT) << old.error_message();
  EXPECT_NE(old.error_message().find("reference_audio_id"), std::string::npos);
  music::v1::ListTasksResponse tasks;
  grpc::ClientContext ctx;
  ASSERT_TRUE(stub_->ListTasks(&ctx, music::v1::ListTasksRequest(), &tasks).ok());
  EXPECT_EQ(tasks.tasks_size(), 0);
  EXPECT_EQ(beatra_->submits(), 0);
  // The tenant's own id is taken.
  EXPECT_TRUE(create(IssueReferenceAudioId(kSecret, kTenant, "beatra", "art-1")).ok());
}

TEST_F(ReferenceAudioTest, AliasRoutesToTheMembersThatCanDoTheRequest) {
  StartServer();
  music::v1::ListModelsResponse models;
  {
    grpc::ClientContext ctx;
    ASSERT_TRUE(stub_->ListModels(&ctx, music::v1::ListModelsRequest(), &models).ok());
  }
  ASSERT_EQ(models.aliases_size(), 1);
  EXPECT_EQ(models.aliases(0).name(), "suno");

  // plain-model takes no reference audio: the task starts on beatra, and keeps the alias.
  music::v1::CreateMusicRequest req;
  req.set_model("suno");
  req.set_prompt("a song like this");
  req.set_reference_audio_id(IssueReferenceAudioId(kSecret, kTenant, "beatra", "art-5"));
  music::v1::CreateMusicResponse resp;
  {
    grpc::ClientContext ctx;
    grpc::Status s = stub_->CreateMusic(&ctx, req, &resp);
    ASSERT_TRUE(s.ok()) << s.error_message();
  }
  EXPECT_EQ(resp.task().model(), "suno");
  EXPECT_EQ(resp.task().provider(), "beatra");
  EXPECT_EQ(WaitStarted(resp.task().task_id()).provider(), "beatra");
  EXPECT_EQ(plain_->submits(), 0);

  // No member can do it: refused before anything is stored, naming the field.
  req.set_reference_audio_id("");
  req.set_reference_audio_uri("http://insecure.example/a.mp3");
  grpc::ClientContext ctx;
  grpc::Status s = stub_->CreateMusic(&ctx, req, &resp);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_NE(s.error_message().find("reference_audio_uri"), std::string::npos);
  EXPECT_NE(s.error_message().find("alias suno"), std::string::npos) << s.error_message();
}

TEST_F(ReferenceAudioTest, LoopbackUrlIsRefusedWithoutAllowLoopback) {
  const int port = StartHttps(Mp3Bytes(4000));
  auto fetcher = http::NewSafeFetcher(FetchOptions(/*allow_loopback=*/false));
  StartServer(kMaxReferenceAudioBytes, fetcher.get());
  const std::string id = CreateWithReference(absl::StrCat("https://localhost:", port, "/hum.mp3"));
  const auto task = WaitStarted(id);
  EXPECT_EQ(task.state(), music::v1::TASK_STATE_FAILED);
  EXPECT_EQ(task.error().code(), static_cast<int>(absl::StatusCode::kPermissionDenied))
      << task.error().message();
  EXPECT_NE(task.error().message().find("reference_audio_uri"), std::string::npos);
  EXPECT_EQ(https_hits_.load(), 0);
  EXPECT_TRUE(beatra_->uploads().empty());
  EXPECT_EQ(beatra_->submits(), 0);
}

TEST_F(ReferenceAudioTest, LoopbackUrlIsFetchedWithAllowLoopback) {
  const std::string body = Mp3Bytes(4000);
  const int port = StartHttps(body);
  auto fetcher = http::NewSafeFetcher(FetchOptions(/*allow_loopback=*/true));
  StartServer(kMaxReferenceAudioBytes, fetcher.get());
  const std::string id = CreateWithReference(absl::StrCat("https://localhost:", port, "/hum.mp3"));
  const auto task = WaitStarted(id);
  ASSERT_EQ(task.state(), music::v1::TASK_STATE_RUNNING) << task.error().message();
  EXPECT_EQ(https_hits_.load(), 1);
  auto uploads = beatra_->uploads();
  ASSERT_EQ(uploads.size(), 1u);
  EXPECT_EQ(uploads[0].bytes, body);
  EXPECT_EQ(uploads[0].filename, "hum.mp3");
  EXPECT_EQ(beatra_->last_submit().reference_artifact_id, "art-1");
}

}  // namespace
}  // namespace music::service
