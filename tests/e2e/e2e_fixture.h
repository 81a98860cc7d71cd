#ifndef MUSIC_TESTS_E2E_E2E_FIXTURE_H_
#define MUSIC_TESTS_E2E_E2E_FIXTURE_H_

#include <grpcpp/grpcpp.h>
#include <gtest/gtest.h>

#include <atomic>
#include <memory>
#include <string>
#include <vector>

#include "adapters/builtin_providers.h"
#include "adapters/http/curl_http_client.h"
#include "adapters/kie/kie_adapter.h"
#include "music/v1/billing_service.grpc.pb.h"
#include "music/v1/music_service.grpc.pb.h"
#include "persistence/sqlite/sqlite_task_store.h"
#ifdef MUSIC_E2E_POSTGRES
#include "persistence/postgres/postgres_store.h"
#include "tests/testing/postgres_server.h"
#endif
#include "service/core/callback_token.h"
#include "service/core/usage_formats.h"
#include "service/server/music_server.h"
#include "tests/testing/temp_dir.h"
#include "tests/testing/wait_for.h"
#include "tools/provider-emulator/emulator.h"

namespace music::e2e {

/// A real in-process music server (SQLite file, libcurl, kie.ai adapter) talking real HTTP to an
/// in-process provider emulator, and a gRPC client stub.
class E2eTest : public ::testing::Test {
 protected:
  static constexpr char kApiKey[] = "e2e-kie-key";

  void SetUp() override {
    ASSERT_FALSE(dir_.path().empty());
    db_path_ = dir_.File("music.db");
    emulator::EmulatorOptions eo;
    eo.kie_api_key = kApiKey;
    eo.task_duration = absl::Milliseconds(600);
    eo.clip_seconds = 4;
    eo.faults.slow_delay = absl::Milliseconds(2500);
    ConfigureEmulator(eo);
    emulator_ = std::make_unique<emulator::ProviderEmulator>(eo);
    ASSERT_TRUE(emulator_->Start().ok());
    StartServer();
  }

  void TearDown() override {
    StopServer();
    if (emulator_) emulator_->Stop();
#ifdef MUSIC_E2E_POSTGRES
    if (!pg_url_.empty()) PostgresServer::Shared().DropDatabase(pg_url_).IgnoreError();
#endif
  }

  virtual void ConfigureEmulator(emulator::EmulatorOptions&) {}

  /// Last changes to the server's options before it starts (e.g. a reference-audio fetcher).
  virtual void ConfigureServer(service::ServerOptions&) {}

  /// The archive of each server StartServer starts; none by default.
  virtual std::shared_ptr<persistence::ArchiveStore> MakeArchive() { return nullptr; }

  /// Adds the adapters under test and their catalog entries. The default: kie.ai only. A test of
  /// another provider overrides it (adapters built on `client`, pointed at the emulator's
  /// `emulator_->base_url()` plus the provider's prefix) and DefaultModel().
  virtual void AddProviders(std::shared_ptr<http::HttpClient> client, bool with_key,
                            service::ProviderRegistry* registry,
                            std::vector<music::v1::Model>* models) {
    adapters::kie::KieOptions ko;
    ko.base_url = emulator_->base_url();
    ko.upload_base_url = emulator_->base_url() + emulator::kKieUploadPrefix;
    ko.api_key = with_key ? kApiKey : "";
    ko.request_timeout = absl::Seconds(1);
    ko.webhook_hmac_key = webhook_hmac_key_;
    std::shared_ptr<adapters::ProviderAdapter> kie =
        adapters::kie::NewKieAdapter(ko, std::move(client));
    AddAdapter(kie, with_key, registry, models);
  }

  /// The catalog's default model.
  virtual std::string DefaultModel() { return "suno-v4.5"; }

  /// The catalog over `models`: by default the built-in providers' aliases and DefaultModel().
  virtual std::unique_ptr<service::Catalog> MakeCatalog(std::vector<music::v1::Model> models) {
    return std::make_unique<service::Catalog>(std::move(models), DefaultModel(),
                                              adapters::BuiltinProviders().AliasMembers());
  }

  /// Registers `adapter` and its models (available when `available`).
  static void AddAdapter(std::shared_ptr<adapters::ProviderAdapter> adapter, bool available,
                         service::ProviderRegistry* registry,
                         std::vector<music::v1::Model>* models) {
    for (auto m : adapter->Models()) {
      m.set_available(available);
      if (!available) m.set_unavailable_reason("no API key");
      models->push_back(m);
    }
    registry->Add(std::move(adapter));
  }

  /// The stores of each server StartServer starts: the SQLite file db_path_, or, in a binary
  /// built with MUSIC_E2E_POSTGRES (postgres_e2e_test: the same tests on the PostgreSQL store),
  /// this test's database on the run's PostgreSQL server.
  absl::StatusOr<persistence::Stores> OpenStores() {
#ifdef MUSIC_E2E_POSTGRES
    if (pg_url_.empty()) {
      absl::StatusOr<std::string> url = PostgresServer::Shared().CreateDatabase("e2e");
      if (!url.ok()) return url.status();
      pg_url_ = *url;
    }
    persistence::PostgresOptions po;
    po.url = pg_url_;
    return persistence::OpenPostgresStores(po);
#else
    persistence::SqliteOptions so;
    so.path = db_path_;
    return persistence::OpenSqliteStores(so);
#endif
  }

  void StartServer(bool with_key = true) {
    auto store = OpenStores();
    ASSERT_TRUE(store.ok()) << store.status();
    store->archive = MakeArchive();
    http::CurlOptions co;
    co.connect_timeout = absl::Seconds(1);
    co.request_timeout = absl::Seconds(1);
    std::vector<music::v1::Model> models;
    auto registry = std::make_unique<service::ProviderRegistry>();
    AddProviders(http::NewCurlHttpClient(co), with_key, registry.get(), &models);
    service::ServerOptions options;
    options.listen = "127.0.0.1:0";
    options.callbacks_listen = "127.0.0.1:0";
    options.engine.callback_token_secrets = {kCallbackSecret};
    options.heartbeat_interval = absl::Milliseconds(150);
    options.shutdown_grace = absl::Seconds(2);
    options.engine.poll_interval = absl::Milliseconds(400);
    options.engine.task_deadline = absl::Seconds(30);
    options.engine.backoff_initial = absl::Milliseconds(100);
    options.engine.backoff_max = absl::Seconds(2);
    options.engine.unknown_submission_grace = absl::Seconds(10);
    options.engine.workers = 8;
    // The fault tests count retries of one provider; routing_test.cc covers the breaker.
    options.engine.circuit_breaker.failure_threshold = 0;
    options.usage_formats = service::UsageFormatsFromRegistry(adapters::BuiltinProviders());
    ConfigureServer(options);
    auto server = service::MusicServer::Start(options, std::move(*store), std::move(registry),
                                              MakeCatalog(models), RealClock::Get());
    ASSERT_TRUE(server.ok()) << server.status();
    server_ = std::move(*server);
    channel_ = grpc::CreateChannel("127.0.0.1:" + std::to_string(server_->port()),
                                   grpc::InsecureChannelCredentials());
    stub_ = music::v1::MusicService::NewStub(channel_);
  }

  void StopServer() {
    stub_.reset();
    channel_.reset();
    if (server_) server_->Shutdown();
    server_.reset();
  }

  music::v1::Task CreateMusic(const std::string& prompt, const std::string& request_id = "") {
    music::v1::CreateMusicRequest req;
    req.set_prompt(prompt);
    req.set_request_id(request_id);
    music::v1::CreateMusicResponse resp;
    grpc::ClientContext ctx;
    grpc::Status s = stub_->CreateMusic(&ctx, req, &resp);
    EXPECT_TRUE(s.ok()) << s.error_message();
    return resp.task();
  }

  music::v1::Task GetTask(const std::string& id) {
    music::v1::GetTaskRequest req;
    req.set_task_id(id);
    music::v1::GetTaskResponse resp;
    grpc::ClientContext ctx;
    grpc::Status s = stub_->GetTask(&ctx, req, &resp);
    EXPECT_TRUE(s.ok()) << s.error_message();
    return resp.task();
  }

  struct WatchResult {
    std::vector<music::v1::Task> tasks;
    int heartbeats = 0;
    grpc::Status status;
  };

  /// Watches until the stream ends (or `max_messages` task messages arrived).
  WatchResult Watch(const std::string& id, int64_t since_version = 0, int max_messages = 1000,
                    absl::Duration timeout = absl::Seconds(20)) {
    WatchResult result;
    grpc::ClientContext ctx;
    ctx.set_deadline(std::chrono::system_clock::now() +
                     std::chrono::milliseconds(absl::ToInt64Milliseconds(timeout)));
    music::v1::WatchTaskRequest req;
    req.set_task_id(id);
    req.set_since_version(since_version);
    auto reader = stub_->WatchTask(&ctx, req);
    music::v1::WatchTaskResponse msg;
    while (reader->Read(&msg)) {
      ++watch_messages_;
      if (msg.has_heartbeat()) {
        ++result.heartbeats;
        continue;
      }
      result.tasks.push_back(msg.task());
      if (static_cast<int>(result.tasks.size()) >= max_messages) {
        ctx.TryCancel();
        break;
      }
    }
    result.status = reader->Finish();
    return result;
  }

  /// Watches to the end and returns the final task.
  music::v1::Task WaitDone(const std::string& id) {
    auto w = Watch(id);
    EXPECT_TRUE(w.status.ok()) << w.status.error_message();
    EXPECT_FALSE(w.tasks.empty());
    return w.tasks.empty() ? GetTask(id) : w.tasks.back();
  }

  std::unique_ptr<music::v1::BillingService::Stub> Billing() {
    return music::v1::BillingService::NewStub(channel_);
  }

  /// Every ledger row of the tenant, through ListBillingTransactions pages of `page_size`.
  std::vector<music::v1::BillingTransaction> AllTransactions(int page_size = 1000) {
    std::vector<music::v1::BillingTransaction> rows;
    music::v1::ListBillingTransactionsRequest req;
    req.set_page_size(page_size);
    for (int pages = 0; pages < 1000; ++pages) {
      music::v1::ListBillingTransactionsResponse resp;
      grpc::ClientContext ctx;
      grpc::Status s = Billing()->ListBillingTransactions(&ctx, req, &resp);
      EXPECT_TRUE(s.ok()) << s.error_message();
      for (const auto& t : resp.transactions()) rows.push_back(t);
      if (!s.ok() || resp.next_page_token().empty()) break;
      req.set_page_token(resp.next_page_token());
    }
    return rows;
  }

  /// The provider (emulator) has finished `count` tasks: they reached SUCCESS and so are in
  /// `provider`'s usage records.
  bool ProviderFinished(const std::string& provider = "kie", size_t count = 1) {
    return emulator_->UsageRecords(provider).size() >= count;
  }

  /// The callback token secret of every server StartServer starts.
  static constexpr char kCallbackSecret[] = "e2e-callback-token-secret";

  /// The token in the callback URL the server hands `provider` for `task_id`.
  static std::string CallbackTokenOf(const std::string& provider, const std::string& task_id) {
    return service::CallbackToken(kCallbackSecret, provider, task_id);
  }

  TempDir dir_{"e2e"};
  /// Messages (tasks and heartbeats) read by Watch() calls so far, over all threads.
  std::atomic<int> watch_messages_{0};
  std::string db_path_;
#ifdef MUSIC_E2E_POSTGRES
  std::string pg_url_;  // this test's database, dropped in TearDown
#endif
  std::string webhook_hmac_key_;  // set in ConfigureEmulator to require signed callbacks
  std::unique_ptr<emulator::ProviderEmulator> emulator_;
  std::unique_ptr<service::MusicServer> server_;
  std::shared_ptr<grpc::Channel> channel_;
  std::unique_ptr<music::v1::MusicService::Stub> stub_;
};

}  // namespace music::e2e

#endif  // MUSIC_TESTS_E2E_E2E_FIXTURE_H_
