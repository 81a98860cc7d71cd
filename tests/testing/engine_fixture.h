#ifndef MUSIC_TESTS_TESTING_ENGINE_FIXTURE_H_
#define MUSIC_TESTS_TESTING_ENGINE_FIXTURE_H_

#include <gtest/gtest.h>

#include <memory>
#include <string>
#include <utility>

#include "persistence/sqlite/sqlite_task_store.h"
#include "persistence/stores.h"
#include "service/core/callback_token.h"
#include "service/core/catalog.h"
#include "service/core/task_engine.h"
#include "service/core/watch_hub.h"
#include "tests/testing/fake_clock.h"
#include "tests/testing/fake_provider.h"
#include "tests/testing/manual_executor.h"
#include "tests/testing/temp_dir.h"

namespace music::service {

/// The one fixture of engine unit tests: a real SQLite store (task and billing interfaces) in a
/// temp dir, a FakeClock, a ManualExecutor, a hub without a ticker thread, and the engine in
/// manual mode (no scheduler thread). Nothing runs on its own: a test moves time with Advance()
/// and runs what is due with RunUntilIdle(), so no test sleeps or polls.
///
/// Use: OpenStore(), add providers to registry_, set catalog_, then StartEngine(options).
class EngineFixture : public ::testing::Test {
 protected:
  /// Opens the store (call once, from SetUp).
  void OpenStore() {
    persistence::SqliteOptions o;
    o.path = dir_.File("tasks.db");
    o.synchronous = "NORMAL";
    auto stores = persistence::OpenSqliteStores(o);
    ASSERT_TRUE(stores.ok()) << stores.status();
    stores_ = std::move(*stores);
    store_ = stores_.tasks.get();
    billing_ = stores_.billing.get();
    hub_ = std::make_unique<WatchHub>(absl::Hours(1), &clock_, /*ticker_thread=*/false);
  }

  /// The options the engine tests share (short intervals in FakeClock time).
  static EngineOptions DefaultOptions() {
    EngineOptions o;
    o.poll_interval = absl::Seconds(5);
    o.task_deadline = absl::Seconds(60);
    o.backoff_initial = absl::Seconds(1);
    o.backoff_max = absl::Seconds(8);
    o.max_submit_attempts = 3;
    o.unknown_submission_grace = absl::Seconds(30);
    o.callback_base_url = "http://cb.example";
    o.callback_token_secrets = {kCallbackSecret};
    return o;
  }

  /// The callback token secret of DefaultOptions().
  static constexpr char kCallbackSecret[] = "engine-test-callback-secret";

  /// The token in the callback URL of task `id` of `provider` (under kCallbackSecret).
  static std::string Token(const std::string& id, const std::string& provider = "fake") {
    return CallbackToken(kCallbackSecret, provider, id);
  }

  /// Starts an engine on the fixture's store, clock, executor and hub, in manual mode, and runs
  /// what its start made due (resumed tasks).
  void StartEngine(EngineOptions o) {
    o.executor = &executor_;
    o.scheduler_thread = false;
    engine_ = std::make_unique<TaskEngine>(std::move(o), store_, &registry_, catalog_.get(),
                                           &clock_, hub_.get());
    ASSERT_TRUE(engine_->Start().ok());
  }
  /// Creates a music task of the catalog's "fake-model" with `prompt` through the engine (tenant
  /// `tenant`); returns its id, or "" after failing the test when Create fails.
  std::string CreateMusicTask(const std::string& prompt = "a song",
                              const std::string& tenant = "default") {
    CreateSpec spec;
    spec.tenant = tenant;
    spec.kind = music::v1::TASK_KIND_MUSIC;
    spec.model = catalog_->Find("fake-model");
    spec.input.set_prompt(prompt);
    auto created = engine_->Create(spec);
    EXPECT_TRUE(created.ok()) << created.status();
    return created.ok() ? created->task.task_id() : "";
  }
  /// Shuts the engine down and destroys it (the store keeps every task), as a process exit.
  void StopEngine() {
    RunUntilIdle();
    engine_->Shutdown();
    engine_.reset();
  }

  void TearDown() override {
    if (engine_) engine_->Shutdown();
  }

  /// Runs every step due at the clock's now, and everything those steps queue, until nothing is
  /// left. Fails the test if the engine never goes idle (a step that reschedules itself at now).
  void RunUntilIdle() {
    for (int round = 0; round < 100'000; ++round) {
      int ran = engine_ != nullptr ? engine_->RunDue() : 0;
      ran += executor_.RunUntilIdle();
      if (ran == 0) return;
    }
    FAIL() << "the engine never went idle";
  }
  /// Moves the clock by `d`, then runs what became due.
  void Advance(absl::Duration d) {
    clock_.Advance(d);
    RunUntilIdle();
  }

  /// The stored record of `id` (an empty one, and a test failure, when it cannot be read).
  domain::TaskRecord Get(const std::string& id) {
    auto r = store_->Get(id);
    EXPECT_TRUE(r.ok()) << r.status();
    return r.ok() ? *r : domain::TaskRecord{};
  }
  music::v1::TaskState State(const std::string& id) { return Get(id).task.state(); }

  /// Delivers the callback body `name` (see FakeProvider::DefineCallback) for `id`.
  absl::Status Callback(const std::string& id, const std::string& name,
                        const std::string& provider = "fake") {
    http::Request cb;
    cb.body = name;
    return engine_->HandleCallback(provider, id, Token(id, provider), cb);
  }

  TempDir dir_{"engine"};
  FakeClock clock_;
  ManualExecutor executor_;
  persistence::Stores stores_;
  persistence::TaskStore* store_ = nullptr;
  persistence::BillingStore* billing_ = nullptr;
  ProviderRegistry registry_;
  std::unique_ptr<Catalog> catalog_;
  std::unique_ptr<WatchHub> hub_;
  std::unique_ptr<TaskEngine> engine_;
};

}  // namespace music::service

#endif  // MUSIC_TESTS_TESTING_ENGINE_FIXTURE_H_
