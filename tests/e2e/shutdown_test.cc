// Shutdown within its grace: queued submissions are not drained (they stay in the store and the
// next start submits them), provider requests still in flight after the grace are aborted (an
// aborted create is the "outcome unknown" case recovery handles), and after a restart every task
// ends, each submitted once, the ledger balanced.
#include "absl/time/clock.h"
#include "tests/e2e/e2e_fixture.h"

namespace music::e2e {
namespace {

class ShutdownTest : public E2eTest {
 protected:
  static constexpr int kTasks = 200;

  void ConfigureEmulator(emulator::EmulatorOptions& eo) override {
    eo.faults.create_slow_rate = 1;  // every create answers after slow_delay...
    eo.faults.slow_delay = absl::Seconds(1);
  }

  // ...and at most 4 are in flight at once, so 200 creates queue for ~50 s in the transport,
  // each allowed 30 s: the old shutdown waited for all of them.
  void AddProviders(std::shared_ptr<http::HttpClient>, bool with_key,
                    service::ProviderRegistry* registry,
                    std::vector<music::v1::Model>* models) override {
    http::CurlOptions co;
    co.connect_timeout = absl::Seconds(1);
    co.request_timeout = absl::Seconds(30);
    co.max_host_connections = 4;
    transport_ = http::NewCurlHttpClient(co);
    adapters::kie::KieOptions ko;
    ko.base_url = emulator_->base_url();
    ko.upload_base_url = emulator_->base_url() + emulator::kKieUploadPrefix;
    ko.api_key = with_key ? kApiKey : "";
    ko.request_timeout = absl::Seconds(30);
    AddAdapter(adapters::kie::NewKieAdapter(ko, transport_), with_key, registry, models);
  }

  void ConfigureServer(service::ServerOptions& options) override {
    options.shutdown_grace = absl::Seconds(2);
    std::weak_ptr<http::HttpClient> weak = transport_;
    options.engine.abort_provider_calls = [weak] {
      if (auto client = weak.lock()) client->AbortInFlight();
    };
  }

  std::shared_ptr<http::HttpClient> transport_;
};

TEST_F(ShutdownTest, ExitsWithinGraceLeavingQueuedTasksForTheNextStart) {
  std::vector<std::string> ids;
  for (int i = 0; i < kTasks; ++i) ids.push_back(CreateMusic(absl::StrCat("song ", i)).task_id());
  // Let the first creates reach the provider (some in flight, most queued).
  ASSERT_TRUE(WaitFor([&] { return emulator_->TaskCount() >= 4; }, absl::Seconds(10)));

  const absl::Time start = absl::Now();
  StopServer();
  const absl::Duration took = absl::Now() - start;
  EXPECT_LT(took, absl::Seconds(2)) << "shutdown_grace_seconds is 2";
  const int64_t submitted_before_restart = emulator_->TaskCount();
  EXPECT_LT(submitted_before_restart, kTasks / 2) << "the queue was drained";

  // Next start, provider answering at once: every task ends, none submitted twice.
  emulator::FaultConfig fast;
  emulator_->SetFaults(fast);
  StartServer();
  for (const std::string& id : ids) {
    ASSERT_TRUE(WaitFor(
        [&] { return domain::IsTerminal(GetTask(id).state()); }, absl::Seconds(60)))
        << id << " is " << music::v1::TaskState_Name(GetTask(id).state());
  }
  EXPECT_EQ(emulator_->TaskCount(), kTasks) << "each task submitted exactly once";
  music::v1::CheckLedgerResponse ledger;
  grpc::ClientContext ctx;
  ASSERT_TRUE(Billing()->CheckLedger(&ctx, music::v1::CheckLedgerRequest(), &ledger).ok());
  EXPECT_EQ(ledger.violations_size(), 0) << ledger.DebugString();
}

}  // namespace
}  // namespace music::e2e
