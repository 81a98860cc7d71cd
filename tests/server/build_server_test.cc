// BuildServer: the whole wiring from a config, against the provider emulator over real HTTP.
#include "server/build_server.h"

#include <gtest/gtest.h>
#include <stdlib.h>
#include <sys/stat.h>

#include <cstdio>
#include <fstream>
#include <map>
#include <string>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "adapters/builtin_providers.h"
#include "adapters/http/curl_http_client.h"
#include "service/core/callback_token.h"
#include "tests/server/server_client.h"
#include "tests/testing/postgres_server.h"
#include "tests/testing/temp_dir.h"
#include "grpc/health/v1/health.grpc.pb.h"
#include "tests/testing/wait_for.h"
#include "tools/provider-emulator/emulator.h"

namespace music::server {
namespace {

constexpr char kKieKey[] = "build-server-kie-key";
constexpr char kBeatraKey[] = "build-server-beatra-key";
constexpr char kCallbackSecret[] = "build-server-callback-secret";

bool Exists(const std::string& path) {
  struct stat st;
  return stat(path.c_str(), &st) == 0;
}

class BuildServerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_FALSE(temp_dir_.path().empty());
    dir_ = temp_dir_.path();
    emulator::EmulatorOptions eo;
    eo.kie_api_key = kKieKey;
    eo.beatra_api_key = kBeatraKey;
    eo.task_duration = absl::Milliseconds(600);
    eo.clip_seconds = 4;
    emulator_ = std::make_unique<emulator::ProviderEmulator>(eo);
    ASSERT_TRUE(emulator_->Start().ok());
    // kie.ai's key comes from the lookup, beatra's from a file.
    std::ofstream(dir_ + "/beatra.key") << "  " << kBeatraKey << "\n";
    secrets_["BS_KIE_KEY"] = kKieKey;
    secrets_["MUSIC_CALLBACK_SECRET"] = kCallbackSecret;
  }

  void TearDown() override {
    if (server_) server_->Shutdown();
    server_.reset();
    if (emulator_) emulator_->Stop();
  }

  // A config on port 0 with kie.ai and beatra pointed at the emulator; `extra_providers` adds
  // members to "providers" (a leading comma included).
  std::string ConfigJson(const std::string& extra_providers = "") {
    return absl::StrCat(R"({"listen": "127.0.0.1:0", "callbacks": {"listen": "127.0.0.1:0"},
      "database": {"path": ")",
                        db_path(), R"("},
      "tasks": {"poll_interval_seconds": 0.4, "backoff_initial_ms": 100},
      "watch": {"heartbeat_seconds": 0.2}, "shutdown_grace_seconds": 2,
      "providers": {
        "kie": {"base_url": ")",
                        emulator_->base_url(), R"(", "api_key_env": "BS_KIE_KEY",
                "request_timeout_seconds": 2},
        "beatra": {"base_url": ")",
                        emulator_->base_url(), R"(/beatra",
                   "api_key_env": "BS_UNSET", "api_key_file": ")",
                        dir_, R"(/beatra.key"})", extra_providers, "}}");
  }

  absl::StatusOr<std::unique_ptr<service::MusicServer>> Build(const std::string& json,
                                                              std::string* summary = nullptr) {
    auto config = ParseConfig(json, adapters::BuiltinProviders());
    if (!config.ok()) return config.status();
    return BuildServer(*config, adapters::BuiltinProviders(), Lookup(), RealClock::Get(), summary);
  }

  SecretLookup Lookup() {
    return [this](const std::string& name) {
      auto it = secrets_.find(name);
      return it == secrets_.end() ? std::string() : it->second;
    };
  }

  std::string db_path() const { return dir_ + "/music.db"; }

  TempDir temp_dir_{"build_server"};
  std::string dir_;
  std::map<std::string, std::string> secrets_;
  std::unique_ptr<emulator::ProviderEmulator> emulator_;
  std::unique_ptr<service::MusicServer> server_;
};

TEST_F(BuildServerTest, BuildsFromConfigAndRunsATaskToSucceeded) {
  std::string summary;
  auto server = Build(ConfigJson(), &summary);
  ASSERT_TRUE(server.ok()) << server.status();
  server_ = *std::move(server);
  EXPECT_GT(server_->port(), 0);
  EXPECT_GT(server_->callback_port(), 0);
  EXPECT_TRUE(Exists(db_path()));
  EXPECT_EQ(summary,
            "kie available, piapi unavailable (no API key), tokenlab unavailable (no API key), "
            "beatra available");

  ServerClient client(server_->port());
  const music::v1::ListModelsResponse models = client.ListModels();
  EXPECT_EQ(models.default_model(), "suno-v4.5");
  ASSERT_NE(FindModel(models, "suno-v4.5"), nullptr);
  EXPECT_TRUE(FindModel(models, "suno-v4.5")->available());
  EXPECT_EQ(FindModel(models, "suno-v4.5")->price().amount_micros(), 12'000'000);
  ASSERT_NE(FindModel(models, "beatra-suno-5.5"), nullptr);
  EXPECT_TRUE(FindModel(models, "beatra-suno-5.5")->available());  // its key came from the file
  ASSERT_NE(FindModel(models, "udio-music-u"), nullptr);
  EXPECT_FALSE(FindModel(models, "udio-music-u")->available());
  EXPECT_EQ(FindModel(models, "udio-music-u")->unavailable_reason(),
            "no API key: set $PIAPI_API_KEY");
  ASSERT_NE(FindModel(models, "tokenlab-suno-music"), nullptr);
  EXPECT_EQ(FindModel(models, "tokenlab-suno-music")->price().amount_micros(), 100'000);
  // The built-in alias, from the modules' memberships, in rank order.
  ASSERT_EQ(models.aliases_size(), 1);
  EXPECT_EQ(models.aliases(0).name(), "suno");
  ASSERT_EQ(models.aliases(0).models_size(), 3);
  EXPECT_EQ(models.aliases(0).models(0), "suno-v4.5");
  EXPECT_EQ(models.aliases(0).models(1), "beatra-suno-5.5");
  EXPECT_EQ(models.aliases(0).models(2), "tokenlab-suno-music");

  const music::v1::Task created = client.CreateMusic("a calm piano piece");
  ASSERT_FALSE(created.task_id().empty());
  EXPECT_EQ(created.provider(), "kie");
  const music::v1::Task done = client.WaitDone(created.task_id());
  ASSERT_EQ(done.state(), music::v1::TASK_STATE_SUCCEEDED) << done.DebugString();
  ASSERT_GE(done.clips_size(), 1);
  EXPECT_TRUE(absl::StartsWith(done.clips(0).audio_url(), emulator_->base_url()));
  EXPECT_GE(emulator_->stats().creates_accepted, 1);

  // The second provider, through its key file.
  const music::v1::Task beatra = client.CreateMusic("a drum loop", "beatra-suno-5.5");
  EXPECT_EQ(beatra.provider(), "beatra");
  EXPECT_EQ(client.WaitDone(beatra.task_id()).state(), music::v1::TASK_STATE_SUCCEEDED);
}

// GET /metrics on `port`: the body, or "" (and a test failure).
std::string Scrape(int port) {
  http::Request req;
  req.method = "GET";
  req.url = absl::StrCat("http://127.0.0.1:", port, "/metrics");
  auto resp = http::NewCurlHttpClient({})->Send(req);
  EXPECT_TRUE(resp.ok()) << resp.status();
  if (!resp.ok()) return "";
  EXPECT_EQ(resp->status, 200);
  return resp->body;
}

TEST_F(BuildServerTest, MetricsListenServesRpcTaskAndTransportSeries) {
  std::string json = ConfigJson();
  json.insert(1, R"("metrics": {"listen": "127.0.0.1:0"}, )");
  auto server = Build(json);
  ASSERT_TRUE(server.ok()) << server.status();
  server_ = *std::move(server);
  ASSERT_GT(server_->metrics_port(), 0);

  ServerClient client(server_->port());
  client.ListModels();
  const music::v1::Task created = client.CreateMusic("a calm piano piece");
  ASSERT_EQ(client.WaitDone(created.task_id()).state(), music::v1::TASK_STATE_SUCCEEDED);
  // The task's end is counted just after its write is visible to readers: wait for that scrape.
  const std::string ended =
      R"(music_tasks_ended_total{code="OK",kind="music",provider="kie",state="succeeded"} 1)";
  std::string text;
  EXPECT_TRUE(WaitFor(
      [&] {
        text = Scrape(server_->metrics_port());
        return absl::StrContains(text, ended);
      },
      absl::Seconds(10), "music_tasks_ended_total on /metrics", absl::Milliseconds(50)))
      << text;
  // Every RPC through the interceptor, by method and code.
  EXPECT_TRUE(absl::StrContains(
      text, R"(music_rpc_requests_total{code="OK",method="/music.v1.MusicService/ListModels"} 1)"))
      << text;
  EXPECT_TRUE(absl::StrContains(
      text, R"(music_rpc_requests_total{code="OK",method="/music.v1.MusicService/CreateMusic"} 1)"));
  // The transport's queue hook, wired per provider: the submit and at least one poll.
  EXPECT_TRUE(absl::StrContains(text, R"(music_http_queue_wait_seconds_count{provider="kie"})"));
  EXPECT_FALSE(absl::StrContains(text, R"(music_http_queue_wait_seconds_count{provider="kie"} 0)"));
  // Scrape-time collectors: the store and the watch hub.
  EXPECT_TRUE(absl::StrContains(text, "music_store_commits_total "));
  EXPECT_TRUE(absl::StrContains(text, "# TYPE music_watch_streams gauge"));
}

TEST_F(BuildServerTest, AMetricsPortInUseNamesTheKeyAndCreatesNoDatabase) {
  std::string first = ConfigJson();
  first.insert(1, R"("metrics": {"listen": "127.0.0.1:0"}, )");
  auto running = Build(first);
  ASSERT_TRUE(running.ok()) << running.status();
  server_ = *std::move(running);
  const std::string taken = absl::StrCat("127.0.0.1:", server_->metrics_port());

  TempDir other{"build_server_metrics"};
  std::string second = ConfigJson();
  const std::string db = db_path();
  second.replace(second.find(db), db.size(), other.File("music.db"));
  second.insert(1, absl::StrCat(R"("metrics": {"listen": ")", taken, R"("}, )"));
  auto refused = Build(second);
  ASSERT_FALSE(refused.ok());
  EXPECT_EQ(refused.status().code(), absl::StatusCode::kUnavailable);
  EXPECT_TRUE(absl::StrContains(refused.status().message(), "metrics.listen"))
      << refused.status();
  EXPECT_FALSE(Exists(other.File("music.db")));
}

// The archive by default: a directory beside the database, filled through the SSRF-safe fetcher
// (loopback and http allowed by the test-only keys, for the emulator).
TEST_F(BuildServerTest, ArchivesSucceededClipsIntoTheDirectoryBesideTheDatabase) {
  std::string json = ConfigJson();
  json.replace(0, 1, R"({"archive": {"allow_loopback": true, "allow_http": true}, )");
  auto server = Build(json);
  ASSERT_TRUE(server.ok()) << server.status();
  server_ = *std::move(server);
  ASSERT_NE(server_->archiver(), nullptr);
  ServerClient client(server_->port());
  const music::v1::Task created = client.CreateMusic("a calm piano piece");
  ASSERT_EQ(client.WaitDone(created.task_id()).state(), music::v1::TASK_STATE_SUCCEEDED);
  music::v1::Task task;
  ASSERT_TRUE(WaitFor(
      [&] {
        task = client.GetTask(created.task_id());
        return task.clips_size() > 0 && task.clips(0).has_audio_archive();
      },
      absl::Seconds(20), "the first clip to be archived"));
  const std::string key = task.clips(0).audio_archive().key();
  EXPECT_EQ(key, absl::StrCat("default/", task.task_id(), "/", task.clips(0).clip_id(),
                              "/audio.wav"));
  EXPECT_TRUE(Exists(dir_ + "/archive/" + key));
}

TEST_F(BuildServerTest, AnS3ArchiveWithoutItsKeysStopsStartUpAndCreatesNoDatabase) {
  std::string json = ConfigJson();
  json.replace(0, 1, R"({"archive": {"backend": "s3", "s3": {"endpoint": "http://127.0.0.1:1",
      "bucket": "songs", "access_key_id_env": "BS_S3_ID",
      "secret_access_key_env": "BS_S3_SECRET"}}, )");
  secrets_["BS_S3_ID"] = "id-only";
  auto server = Build(json);
  ASSERT_FALSE(server.ok());
  EXPECT_EQ(server.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_NE(server.status().message().find("BS_S3_SECRET"), absl::string_view::npos);
  EXPECT_EQ(server.status().message().find("id-only"), absl::string_view::npos);  // no secret
  EXPECT_FALSE(Exists(db_path()));
  EXPECT_FALSE(Exists(dir_ + "/archive"));
}

// POSTs `body` unsigned to the callback listener for kie.ai task `task_id`, with `token` as the
// URL's last segment (none when empty); the HTTP status.
int PostKieCallback(int port, const std::string& task_id, const std::string& body,
                    const std::string& token = "") {
  http::Request req;
  req.method = "POST";
  req.url = absl::StrCat("http://127.0.0.1:", port, "/callbacks/kie/", task_id,
                         token.empty() ? "" : "/", token);
  req.body = body;
  req.headers.emplace_back("Content-Type", "application/json");
  auto resp = http::NewCurlHttpClient({})->Send(req);
  EXPECT_TRUE(resp.ok()) << resp.status();
  return resp.ok() ? resp->status : -1;
}

TEST_F(BuildServerTest, AModuleSecretIsReadFromTheVariableItsConfigKeyNames) {
  // providers.kie.webhook_hmac_key_env names the variable; with a key, unsigned callbacks are
  // refused before their body is read, even with the task's URL token.
  secrets_["BS_HMAC"] = "build-server-hmac-key";
  std::string json = ConfigJson();
  json.replace(json.find(R"("api_key_env": "BS_KIE_KEY")"), 27,
               R"("api_key_env": "BS_KIE_KEY", "webhook_hmac_key_env": "BS_HMAC")");
  auto server = Build(json);
  ASSERT_TRUE(server.ok()) << server.status();
  server_ = *std::move(server);
  ServerClient client(server_->port());
  const music::v1::Task task = client.CreateMusic("signed only [emu:duration_ms=3000]");
  ASSERT_FALSE(task.task_id().empty());
  EXPECT_EQ(PostKieCallback(server_->callback_port(), task.task_id(), "{not json",
                            service::CallbackToken(kCallbackSecret, "kie", task.task_id())),
            401);
}

TEST_F(BuildServerTest, WithoutTheKieKeyCallbacksAreStillAuthenticatedByTheirToken) {
  // The default variable, KIE_WEBHOOK_HMAC_KEY, is unset in the lookup: kie.ai signs nothing.
  // The URL token still refuses a delivery without it (401, before the body is read); with it,
  // the same garbage gets as far as the parser (malformed).
  auto server = Build(ConfigJson());
  ASSERT_TRUE(server.ok()) << server.status();
  server_ = *std::move(server);
  ServerClient client(server_->port());
  const music::v1::Task task = client.CreateMusic("unsigned [emu:duration_ms=3000]");
  ASSERT_FALSE(task.task_id().empty());
  EXPECT_EQ(PostKieCallback(server_->callback_port(), task.task_id(), "{not json"), 401);
  EXPECT_EQ(PostKieCallback(server_->callback_port(), task.task_id(), "{not json",
                            service::CallbackToken("another-secret-0123", "kie", task.task_id())),
            401);
  EXPECT_EQ(PostKieCallback(server_->callback_port(), task.task_id(), "{not json",
                            service::CallbackToken(kCallbackSecret, "kie", task.task_id())),
            400);
}

TEST_F(BuildServerTest, WithoutACallbackSecretTheServerDoesNotStart) {
  secrets_.erase("MUSIC_CALLBACK_SECRET");
  auto server = Build(ConfigJson());
  ASSERT_FALSE(server.ok());
  EXPECT_EQ(server.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_TRUE(absl::StrContains(server.status().message(), "MUSIC_CALLBACK_SECRET"))
      << server.status();
  EXPECT_FALSE(Exists(db_path()));
  secrets_["MUSIC_CALLBACK_SECRET"] = "tiny-s3cr";
  server = Build(ConfigJson());
  ASSERT_FALSE(server.ok());
  EXPECT_TRUE(absl::StrContains(server.status().message(), "too short")) << server.status();
  EXPECT_FALSE(absl::StrContains(server.status().message(), "tiny-s3cr"));  // names no secret
}

TEST_F(BuildServerTest, TheCallbackSecretComesFromItsFileAndThePreviousOneStillWorks) {
  secrets_.erase("MUSIC_CALLBACK_SECRET");
  const std::string file = dir_ + "/callback-secret";
  std::ofstream(file) << "the-new-callback-secret\n";
  secrets_["MUSIC_CALLBACK_SECRET_PREVIOUS"] = kCallbackSecret;
  std::string json = ConfigJson();
  const std::string listen = R"("callbacks": {"listen": "127.0.0.1:0")";
  json.replace(json.find(listen), listen.size(),
               absl::StrCat(listen, R"(, "token_secret_file": ")", file, R"(")"));
  auto server = Build(json);
  ASSERT_TRUE(server.ok()) << server.status();
  server_ = *std::move(server);
  ServerClient client(server_->port());
  const music::v1::Task task = client.CreateMusic("rotated [emu:duration_ms=3000]");
  ASSERT_FALSE(task.task_id().empty());
  // The file's secret (whitespace stripped) and the previous one are accepted; nothing else.
  for (const char* secret : {"the-new-callback-secret", kCallbackSecret}) {
    EXPECT_EQ(PostKieCallback(server_->callback_port(), task.task_id(), "{not json",
                              service::CallbackToken(secret, "kie", task.task_id())),
              400)
        << secret;
  }
  EXPECT_EQ(PostKieCallback(server_->callback_port(), task.task_id(), "{not json",
                            service::CallbackToken("the-new-callback-secret\n", "kie",
                                                   task.task_id())),
            401);
}

TEST_F(BuildServerTest, TheVariableWinsOverTheFile) {
  secrets_["BS_PIAPI_KEY"] = "piapi-key";
  auto server = Build(ConfigJson(R"(, "piapi": {"api_key_env": "BS_PIAPI_KEY",
                                                "api_key_file": "/nonexistent/piapi.key"})"));
  ASSERT_TRUE(server.ok()) << server.status();
  server_ = *std::move(server);
  ServerClient client(server_->port());
  const music::v1::ListModelsResponse models = client.ListModels();
  ASSERT_NE(FindModel(models, "udio-music-u"), nullptr);
  EXPECT_TRUE(FindModel(models, "udio-music-u")->available());
}

TEST_F(BuildServerTest, UnreadableApiKeyFileNamesTheKeyAndCreatesNoDatabase) {
  auto server = Build(ConfigJson(R"(, "piapi": {"api_key_file": "/nonexistent/piapi.key"})"));
  ASSERT_FALSE(server.ok());
  EXPECT_EQ(server.status().code(), absl::StatusCode::kNotFound);
  EXPECT_NE(server.status().message().find("\"providers.piapi.api_key_file\""), std::string::npos)
      << server.status();
  EXPECT_NE(server.status().message().find("/nonexistent/piapi.key"), std::string::npos);
  EXPECT_FALSE(Exists(db_path()));
}

TEST_F(BuildServerTest, AFileKeyShowsInTheUnavailableReason) {
  std::ofstream(dir_ + "/empty.key") << "\n";  // whitespace only: no key
  auto server = Build(ConfigJson(R"(, "tokenlab": {"api_key_file": ")" + dir_ + R"(/empty.key"})"));
  ASSERT_TRUE(server.ok()) << server.status();
  server_ = *std::move(server);
  ServerClient client(server_->port());
  const music::v1::ListModelsResponse models = client.ListModels();
  const music::v1::Model* m = FindModel(models, "tokenlab-suno-music");
  ASSERT_NE(m, nullptr);
  EXPECT_FALSE(m->available());
  EXPECT_EQ(m->unavailable_reason(),
            "no API key: set $TOKENLAB_API_KEY or the file providers.tokenlab.api_key_file");
}

TEST_F(BuildServerTest, BadCatalogConfigNamesTheKeyAndCreatesNoDatabase) {
  std::string json = ConfigJson();
  json.insert(json.size() - 1, R"(, "catalog": {"aliases": {"x": ["suno-v4.5", "nope"]}})");
  auto server = Build(json);
  ASSERT_FALSE(server.ok());
  EXPECT_EQ(server.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(server.status().message().find("\"catalog.aliases.x\""), std::string::npos)
      << server.status();
  EXPECT_FALSE(Exists(db_path()));
}

TEST_F(BuildServerTest, BadDefaultModelNamesTheKey) {
  std::string json = ConfigJson();
  json.insert(json.size() - 1, R"(, "default_model": "nope")");
  auto server = Build(json);
  ASSERT_FALSE(server.ok());
  EXPECT_EQ(server.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(server.status().message().find("\"default_model\""), std::string::npos)
      << server.status();
}

TEST_F(BuildServerTest, ARegisteredProviderWithoutSettingsIsAnError) {
  // A config parsed for another registry lacks the settings of the built-in providers.
  ServerConfig config;
  auto server = BuildServer(config, adapters::BuiltinProviders(), Lookup(), RealClock::Get());
  ASSERT_FALSE(server.ok());
  EXPECT_EQ(server.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(server.status().message().find("\"providers.kie\""), std::string::npos)
      << server.status();
}

TEST_F(BuildServerTest, AnUnopenableDatabaseFails) {
  auto config = ParseConfig(ConfigJson(), adapters::BuiltinProviders());
  ASSERT_TRUE(config.ok()) << config.status();
  config->database_path = dir_ + "/no/such/dir/music.db";
  auto server = BuildServer(*config, adapters::BuiltinProviders(), Lookup(), RealClock::Get());
  EXPECT_FALSE(server.ok());
}

// Issue 10, "Store faults": "a second server on the same file refuses to start, naming the file".
TEST_F(BuildServerTest, ASecondServerOnTheSameDatabaseRefusesToStart) {
  auto first = Build(ConfigJson());
  ASSERT_TRUE(first.ok()) << first.status();
  server_ = *std::move(first);
  auto second = Build(ConfigJson());
  ASSERT_FALSE(second.ok());
  EXPECT_EQ(second.status().code(), absl::StatusCode::kFailedPrecondition) << second.status();
  EXPECT_TRUE(absl::StrContains(second.status().message(), db_path())) << second.status();
  // The first one is untouched by the attempt.
  ServerClient client(server_->port());
  EXPECT_FALSE(client.CreateMusic("still here").task_id().empty());
}

// The grpc.health.v1 status of `service` ("" = the server as a whole) on 127.0.0.1:<port>.
grpc::health::v1::HealthCheckResponse::ServingStatus Health(int port, const std::string& service) {
  auto stub = grpc::health::v1::Health::NewStub(grpc::CreateChannel(
      absl::StrCat("127.0.0.1:", port), grpc::InsecureChannelCredentials()));
  grpc::health::v1::HealthCheckRequest req;
  req.set_service(service);
  grpc::health::v1::HealthCheckResponse resp;
  grpc::ClientContext ctx;
  grpc::Status s = stub->Check(&ctx, req, &resp);
  EXPECT_TRUE(s.ok()) << s.error_message();
  return resp.status();
}

// "Deleting the database files under a running server: it keeps answering OK; the restart
// silently creates an empty database": now the server notices (health NOT_SERVING, creates
// UNAVAILABLE) and the restart refuses to start on an empty file.
TEST_F(BuildServerTest, ADeletedDatabaseIsNoticedAndNeverSilentlyRecreated) {
  auto server = Build(ConfigJson());
  ASSERT_TRUE(server.ok()) << server.status();
  server_ = *std::move(server);
  ServerClient client(server_->port());
  ASSERT_FALSE(client.CreateMusic("before the loss").task_id().empty());
  EXPECT_EQ(Health(server_->port(), "music.v1.MusicService"),
            grpc::health::v1::HealthCheckResponse::SERVING);

  for (const char* suffix : {"", "-wal", "-shm"}) std::remove((db_path() + suffix).c_str());
  // The monitor checks every second (ServerOptions::store_health_interval).
  EXPECT_TRUE(WaitFor(
      [&] {
        return Health(server_->port(), "music.v1.MusicService") ==
               grpc::health::v1::HealthCheckResponse::NOT_SERVING;
      },
      absl::Seconds(10), "health NOT_SERVING after the database file was deleted"));
  EXPECT_EQ(Health(server_->port(), ""), grpc::health::v1::HealthCheckResponse::NOT_SERVING);
  {
    auto stub = music::v1::MusicService::NewStub(grpc::CreateChannel(
        absl::StrCat("127.0.0.1:", server_->port()), grpc::InsecureChannelCredentials()));
    music::v1::CreateMusicRequest req;
    req.set_prompt("into the void");
    music::v1::CreateMusicResponse resp;
    grpc::ClientContext ctx;
    grpc::Status s = stub->CreateMusic(&ctx, req, &resp);
    EXPECT_EQ(s.error_code(), grpc::StatusCode::UNAVAILABLE) << s.error_message();
  }
  server_->Shutdown();
  server_.reset();

  auto restarted = Build(ConfigJson());
  ASSERT_FALSE(restarted.ok());
  EXPECT_EQ(restarted.status().code(), absl::StatusCode::kFailedPrecondition)
      << restarted.status();
  EXPECT_TRUE(absl::StrContains(restarted.status().message(), "database.allow_recreate"))
      << restarted.status();
  EXPECT_FALSE(Exists(db_path())) << "the refused start must not create an empty database";

  // The operator's explicit switch starts empty.
  auto config = ParseConfig(ConfigJson(), adapters::BuiltinProviders());
  ASSERT_TRUE(config.ok()) << config.status();
  config->database_allow_recreate = true;
  auto fresh = BuildServer(*config, adapters::BuiltinProviders(), Lookup(), RealClock::Get());
  ASSERT_TRUE(fresh.ok()) << fresh.status();
  server_ = *std::move(fresh);
}

// Issue 10: the PostgreSQL store, chosen by database.url_env (the URL from the environment, as
// from a Secret). The server's health follows the store: NOT_SERVING while PostgreSQL is down,
// SERVING again once it is back, with no restart; a create during the outage is UNAVAILABLE.
TEST_F(BuildServerTest, OnPostgresFromTheUrlVariableHealthFollowsTheStoreThroughAnOutage) {
  PostgresServer pg;
  ASSERT_TRUE(pg.Start(dir_ + "/pg").ok());
  std::string json = ConfigJson();
  const std::string path_key = absl::StrCat(R"("path": ")", db_path(), R"(")");
  ASSERT_NE(json.find(path_key), std::string::npos);
  json.replace(json.find(path_key), path_key.size(), R"("url_env": "BS_DATABASE_URL")");
  auto missing = Build(json);
  ASSERT_FALSE(missing.ok());
  EXPECT_EQ(missing.status().code(), absl::StatusCode::kFailedPrecondition) << missing.status();
  EXPECT_TRUE(absl::StrContains(missing.status().message(), "BS_DATABASE_URL"));

  secrets_["BS_DATABASE_URL"] = pg.url();
  auto server = Build(json);
  ASSERT_TRUE(server.ok()) << server.status();
  server_ = *std::move(server);
  EXPECT_FALSE(Exists(db_path())) << "no SQLite file on the PostgreSQL store";
  ServerClient client(server_->port());
  const music::v1::Task created = client.CreateMusic("a calm piano piece");
  ASSERT_FALSE(created.task_id().empty());
  EXPECT_EQ(client.WaitDone(created.task_id()).state(), music::v1::TASK_STATE_SUCCEEDED);
  EXPECT_EQ(Health(server_->port(), ""), grpc::health::v1::HealthCheckResponse::SERVING);

  ASSERT_TRUE(pg.Stop().ok());
  EXPECT_TRUE(WaitFor(
      [&] {
        return Health(server_->port(), "") == grpc::health::v1::HealthCheckResponse::NOT_SERVING;
      },
      absl::Seconds(10), "health NOT_SERVING while PostgreSQL is down"));
  {
    auto stub = music::v1::MusicService::NewStub(grpc::CreateChannel(
        absl::StrCat("127.0.0.1:", server_->port()), grpc::InsecureChannelCredentials()));
    music::v1::CreateMusicRequest req;
    req.set_prompt("while the database is away");
    music::v1::CreateMusicResponse resp;
    grpc::ClientContext ctx;
    grpc::Status s = stub->CreateMusic(&ctx, req, &resp);
    EXPECT_EQ(s.error_code(), grpc::StatusCode::UNAVAILABLE) << s.error_message();
  }
  ASSERT_TRUE(pg.Restart().ok());
  EXPECT_TRUE(WaitFor(
      [&] {
        return Health(server_->port(), "") == grpc::health::v1::HealthCheckResponse::SERVING;
      },
      absl::Seconds(10), "health SERVING once PostgreSQL is back"));
  const music::v1::Task after = client.CreateMusic("after the outage");
  ASSERT_FALSE(after.task_id().empty());
  EXPECT_EQ(client.WaitDone(after.task_id()).state(), music::v1::TASK_STATE_SUCCEEDED);
  EXPECT_EQ(client.GetTask(created.task_id()).state(), music::v1::TASK_STATE_SUCCEEDED);
  server_->Shutdown();
  server_.reset();
}

}  // namespace
}  // namespace music::server
