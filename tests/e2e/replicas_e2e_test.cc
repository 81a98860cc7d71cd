// Issue 10, "Several replicas": two music-server replicas (BuildServer, as main runs it) on one
// PostgreSQL database with the provider emulator over real HTTP. Each task is submitted once, by
// the replica that drives it; a callback that reaches the other replica is applied there; a
// replica that shuts down hands its tasks to the other, which finishes them without submitting
// any a second time.
#include <map>
#include <memory>
#include <string>
#include <vector>

#include <grpcpp/grpcpp.h>

#include "absl/strings/str_cat.h"
#include "music/v1/music_service.grpc.pb.h"
#include "adapters/builtin_providers.h"
#include "gtest/gtest.h"
#include "server/build_server.h"
#include "server/config.h"
#include "tests/server/server_client.h"
#include "tests/testing/postgres_server.h"
#include "tests/testing/temp_dir.h"
#include "tests/testing/wait_for.h"
#include "tools/provider-emulator/emulator.h"

namespace music::server {
namespace {

constexpr char kKieKey[] = "replicas-kie-key";
constexpr char kCallbackSecret[] = "replicas-callback-secret";

class ReplicasE2eTest : public ::testing::Test {
 protected:
  void SetUp() override {
    absl::StatusOr<std::string> url = PostgresServer::Shared().CreateDatabase("replicas");
    ASSERT_TRUE(url.ok()) << url.status();
    url_ = *url;
    emulator::EmulatorOptions eo;
    eo.kie_api_key = kKieKey;
    eo.task_duration = TaskDuration();
    eo.clip_seconds = 2;
    emulator_ = std::make_unique<emulator::ProviderEmulator>(eo);
    ASSERT_TRUE(emulator_->Start().ok());
  }
  void TearDown() override {
    for (auto& r : replicas_) {
      if (r) r->Shutdown();
    }
    replicas_.clear();
    if (emulator_) emulator_->Stop();
    PostgresServer::Shared().DropDatabase(url_).IgnoreError();
  }
  virtual absl::Duration TaskDuration() { return absl::Milliseconds(500); }

  // A replica on the test's database; its providers call back `callback_url` ("" = its own
  // listener).
  service::MusicServer* StartReplica(const std::string& callback_url = "") {
    const std::string json = absl::StrCat(
        R"({"listen": "127.0.0.1:0", "callbacks": {"listen": "127.0.0.1:0")",
        callback_url.empty() ? "" : absl::StrCat(R"(, "public_url": ")", callback_url, R"(")"),
        R"(}, "database": {"url_env": "REPLICAS_DATABASE_URL", "lease_seconds": 2},
        "tasks": {"poll_interval_seconds": 0.4, "backoff_initial_ms": 100},
        "watch": {"heartbeat_seconds": 0.2}, "shutdown_grace_seconds": 2,
        "archive": {"enabled": false},
        "providers": {"kie": {"base_url": ")",
        emulator_->base_url(), R"(", "api_key_env": "REPLICAS_KIE_KEY",
        "request_timeout_seconds": 2}}})");
    auto config = ParseConfig(json, adapters::BuiltinProviders());
    EXPECT_TRUE(config.ok()) << config.status();
    if (!config.ok()) return nullptr;
    const std::map<std::string, std::string> secrets = {
        {"REPLICAS_DATABASE_URL", url_},
        {"REPLICAS_KIE_KEY", kKieKey},
        {"MUSIC_CALLBACK_SECRET", kCallbackSecret}};
    auto server = BuildServer(
        *config, adapters::BuiltinProviders(),
        [secrets](const std::string& name) {
          auto it = secrets.find(name);
          return it == secrets.end() ? std::string() : it->second;
        },
        RealClock::Get());
    EXPECT_TRUE(server.ok()) << server.status();
    if (!server.ok()) return nullptr;
    replicas_.push_back(*std::move(server));
    return replicas_.back().get();
  }

  // Every task of `ids` SUCCEEDED, read through `client`, within `timeout`.
  bool AllSucceeded(ServerClient& client, const std::vector<std::string>& ids,
                    absl::Duration timeout) {
    return WaitFor(
        [&] {
          for (const std::string& id : ids) {
            if (client.GetTask(id).state() != music::v1::TASK_STATE_SUCCEEDED) return false;
          }
          return true;
        },
        timeout, "every task to succeed");
  }

  std::string url_;
  std::unique_ptr<emulator::ProviderEmulator> emulator_;
  std::vector<std::unique_ptr<service::MusicServer>> replicas_;
};

TEST_F(ReplicasE2eTest, EachTaskIsSubmittedOnceAndCallbacksApplyOnEitherReplica) {
  service::MusicServer* b = StartReplica();
  ASSERT_NE(b, nullptr);
  // A's providers call back B: every callback of A's tasks reaches the replica not driving them.
  service::MusicServer* a =
      StartReplica(absl::StrCat("http://127.0.0.1:", b->callback_port()));
  ASSERT_NE(a, nullptr);
  ServerClient client_a(a->port());
  ServerClient client_b(b->port());
  std::vector<std::string> ids;
  for (int i = 0; i < 8; ++i) {
    ServerClient& c = i % 2 == 0 ? client_a : client_b;
    const music::v1::Task t = c.CreateMusic(absl::StrCat("song ", i));
    ASSERT_FALSE(t.task_id().empty());
    ids.push_back(t.task_id());
  }
  ASSERT_TRUE(AllSucceeded(client_a, ids, absl::Seconds(30)));
  // Either replica serves the same stored tasks.
  for (const std::string& id : ids) {
    EXPECT_EQ(client_b.GetTask(id).state(), music::v1::TASK_STATE_SUCCEEDED);
  }
  EXPECT_EQ(emulator_->stats().creates_accepted, 8) << "a task was submitted twice";
  EXPECT_GT(emulator_->stats().callbacks_sent, 0);
  EXPECT_EQ(emulator_->stats().callbacks_failed, 0);
}

// Tasks that run for a while at the provider, so a replica leaves with tasks in flight.
class ReplicasHandOverTest : public ReplicasE2eTest {
 protected:
  absl::Duration TaskDuration() override { return absl::Seconds(3); }
};

TEST_F(ReplicasHandOverTest, AReplicaThatLeavesHandsItsTasksToTheOther) {
  service::MusicServer* a = StartReplica();
  service::MusicServer* b = StartReplica();
  ASSERT_NE(a, nullptr);
  ASSERT_NE(b, nullptr);
  ServerClient client_a(a->port());
  std::vector<std::string> ids;
  for (int i = 0; i < 6; ++i) {
    const music::v1::Task t = client_a.CreateMusic(absl::StrCat("long song ", i));
    ASSERT_FALSE(t.task_id().empty());
    ids.push_back(t.task_id());
  }
  // Submitted by A (RUNNING), then A goes: its lease is released at shutdown.
  ASSERT_TRUE(WaitFor(
      [&] {
        for (const std::string& id : ids) {
          if (client_a.GetTask(id).state() != music::v1::TASK_STATE_RUNNING) return false;
        }
        return true;
      },
      absl::Seconds(20), "A to submit every task"));
  a->Shutdown();
  ServerClient client_b(b->port());
  ASSERT_TRUE(AllSucceeded(client_b, ids, absl::Seconds(30)));
  EXPECT_EQ(emulator_->stats().creates_accepted, 6) << "a task was submitted twice";
}

// A WatchTask stream on B for a task A drives: B's streams get A's changes through the change
// feed (LISTEN/NOTIFY), each version once and in order, to the terminal state. Halfway, every
// PostgreSQL connection of both replicas is killed (the feed's too): the feed reconnects and
// reads again what it follows, the engines' pools reconnect, and the task still ends.
TEST_F(ReplicasHandOverTest, AStreamOnOneReplicaSeesEveryChangeTheOtherMakes) {
  service::MusicServer* a = StartReplica();
  service::MusicServer* b = StartReplica();
  ASSERT_NE(a, nullptr);
  ASSERT_NE(b, nullptr);
  ServerClient client_a(a->port());
  const music::v1::Task created = client_a.CreateMusic("watched from the other replica");
  ASSERT_FALSE(created.task_id().empty());

  auto stub = music::v1::MusicService::NewStub(grpc::CreateChannel(
      absl::StrCat("127.0.0.1:", b->port()), grpc::InsecureChannelCredentials()));
  grpc::ClientContext ctx;
  ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(40));
  music::v1::WatchTaskRequest req;
  req.set_task_id(created.task_id());
  auto reader = stub->WatchTask(&ctx, req);
  std::vector<int64_t> versions;
  music::v1::Task last;
  music::v1::WatchTaskResponse msg;
  bool killed = false;
  while (reader->Read(&msg)) {
    if (!msg.has_task()) continue;
    versions.push_back(msg.task().version());
    last = msg.task();
    if (!killed && last.state() == music::v1::TASK_STATE_RUNNING) {
      killed = true;
      ASSERT_TRUE(PostgresServer::Exec(
                      url_,
                      "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                      "WHERE datname = current_database() AND pid <> pg_backend_pid()")
                      .ok());
    }
  }
  const grpc::Status finished = reader->Finish();
  EXPECT_TRUE(finished.ok()) << finished.error_message();
  EXPECT_TRUE(killed) << "the task never showed RUNNING on the other replica";
  EXPECT_EQ(last.state(), music::v1::TASK_STATE_SUCCEEDED) << last.DebugString();
  for (size_t i = 1; i < versions.size(); ++i) {
    EXPECT_LT(versions[i - 1], versions[i]) << "version sent twice or out of order";
  }
  EXPECT_EQ(client_a.GetTask(created.task_id()).version(), last.version());
  EXPECT_EQ(emulator_->stats().creates_accepted, 1);
}

}  // namespace
}  // namespace music::server
