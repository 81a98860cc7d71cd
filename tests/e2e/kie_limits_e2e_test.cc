// kie.ai's account limits through the real server: the emulator enforces them as kie.ai does
// (CONTRACT-NOTES kie.ai "Limits": 20 new generation requests per 10 s per account, the excess
// answered 429 and not queued; record-info 3 requests/s per task), and 25 creates at once go
// through real adapters and libcurl. The engine keeps the limits kie.ai's module declares
// (adapters/kie/kie_module.cc, ProviderModule::rate_limits) on the client side: it queues what
// would pass them instead of sending it.
#include <map>
#include <string>
#include <vector>

#include "adapters/builtin_providers.h"
#include "tests/e2e/e2e_fixture.h"
#include "tests/testing/metrics_reader.h"

namespace music::e2e {
namespace {

absl::Duration Wait(const music::v1::Task& task) {
  return absl::Seconds(task.rate_limit_wait().seconds()) +
         absl::Nanoseconds(task.rate_limit_wait().nanos());
}

class KieLimitsE2eTest : public E2eTest {
 protected:
  void ConfigureEmulator(emulator::EmulatorOptions& eo) override { eo.kie_rate_limits = true; }
  void ConfigureServer(service::ServerOptions& options) override {
    if (!client_side_limits_) return;
    const adapters::ProviderModule* kie = adapters::BuiltinProviders().Find("kie");
    ASSERT_NE(kie, nullptr);
    options.engine.rate_limits["kie"] = kie->rate_limits;  // as build_server.cc does from config
  }

  // Creates `count` tasks at once and waits for each to end; returns them ended.
  std::vector<music::v1::Task> CreateAndWait(int count) {
    std::vector<std::string> ids;
    for (int i = 0; i < count; ++i) {
      ids.push_back(CreateMusic("calm piano " + std::to_string(i)).task_id());
    }
    std::vector<music::v1::Task> ended;
    for (const std::string& id : ids) ended.push_back(WaitDone(id));
    return ended;
  }

  bool client_side_limits_ = true;
};

// 25 creates at once with kie.ai's account limit on: the engine sends 20, queues 5 until the
// window moves on, and kie.ai refuses none. All 25 succeed, each is one kie.ai task billed once,
// and the 5 that waited show it on the task and in music_provider_rate_limit_wait_seconds.
TEST_F(KieLimitsE2eTest, TwentyFiveCreatesAreQueuedUnderTheAccountLimitAndEarnNo429s) {
  constexpr int kTasks = 25;
  const std::vector<music::v1::Task> tasks = CreateAndWait(kTasks);
  int succeeded = 0, waited = 0;
  absl::Duration total_wait;
  for (const music::v1::Task& t : tasks) {
    EXPECT_EQ(t.state(), music::v1::TASK_STATE_SUCCEEDED) << t.task_id() << " "
                                                          << t.error().message();
    succeeded += t.state() == music::v1::TASK_STATE_SUCCEEDED;
    if (Wait(t) > absl::ZeroDuration()) ++waited;
    total_wait += Wait(t);
    // Never more than one window (plus the answers' latency): the queue is not a backoff.
    EXPECT_LT(Wait(t), absl::Seconds(12)) << t.task_id();
    EXPECT_TRUE(t.failovers().empty()) << "a queued create is not a provider refusal";
  }
  EXPECT_EQ(succeeded, kTasks);
  EXPECT_GE(waited, kTasks - 20) << "the 5 over the limit waited in the engine";

  const emulator::EmulatorStats stats = emulator_->stats();
  // The figures, for --gtest_output=xml (the report quotes them).
  RecordProperty("creates_account_limited", static_cast<int>(stats.creates_account_limited));
  RecordProperty("tasks_that_waited", waited);
  RecordProperty("total_wait_ms", static_cast<int>(absl::ToInt64Milliseconds(total_wait)));
  EXPECT_EQ(stats.creates_account_limited, 0) << "the engine sent nothing over the limit";
  EXPECT_EQ(stats.polls_rate_limited, 0) << "nor a 4th record-info of a task within 1 s";
  EXPECT_EQ(stats.creates_accepted, kTasks);
  EXPECT_EQ(emulator_->TaskCount(), kTasks) << "one kie.ai task each";

  // Billed once each: one RESERVE and one SETTLE per task, nothing refunded.
  std::map<std::string, std::map<music::v1::BillingTransactionKind, int>> kinds;
  for (const auto& row : AllTransactions()) ++kinds[row.task_id()][row.kind()];
  for (const music::v1::Task& t : tasks) {
    EXPECT_EQ(kinds[t.task_id()][music::v1::BILLING_TRANSACTION_KIND_RESERVE], 1) << t.task_id();
    EXPECT_EQ(kinds[t.task_id()][music::v1::BILLING_TRANSACTION_KIND_SETTLE], 1) << t.task_id();
    EXPECT_EQ(kinds[t.task_id()][music::v1::BILLING_TRANSACTION_KIND_REFUND], 0) << t.task_id();
  }

  // The metric: every create and poll of kie went through the limiter, and its waits hold at
  // least what the tasks show (a poll's wait is not stored on a task a callback ended first).
  const service::Histogram h = service::HistogramOf(
      *server_->metrics(), "music_provider_rate_limit_wait_seconds", {{"provider", "kie"}});
  EXPECT_GE(h.count, static_cast<uint64_t>(kTasks));
  EXPECT_GT(h.sum, 0.0);
  EXPECT_GE(h.sum + 1e-3, absl::ToDoubleSeconds(total_wait));
}

// The control: without the client-side limits (the engine before them), the same 25 creates
// are all sent and kie.ai refuses the ones over its account limit with 429; the engine's
// retries with backoff may get them in once the window moves on, or spend their attempts first
// and fail the task RESOURCE_EXHAUSTED (with this fixture's short backoff, they do).
TEST_F(KieLimitsE2eTest, WithoutTheClientSideLimitsTwentyFiveCreatesEarn429s) {
  client_side_limits_ = false;
  StopServer();
  StartServer();
  constexpr int kTasks = 25;
  const std::vector<music::v1::Task> tasks = CreateAndWait(kTasks);
  int failed = 0;
  for (const music::v1::Task& t : tasks) {
    EXPECT_TRUE(t.state() == music::v1::TASK_STATE_SUCCEEDED ||
                t.state() == music::v1::TASK_STATE_FAILED)
        << t.task_id();
    failed += t.state() == music::v1::TASK_STATE_FAILED;
    EXPECT_FALSE(t.has_rate_limit_wait()) << "nothing was queued";
  }
  const emulator::EmulatorStats stats = emulator_->stats();
  RecordProperty("creates_account_limited", static_cast<int>(stats.creates_account_limited));
  RecordProperty("tasks_failed", failed);
  EXPECT_GE(stats.creates_account_limited, kTasks - 20) << "sent past the limit: 429s";
  EXPECT_GE(emulator_->TaskCount(), 20);
}

}  // namespace
}  // namespace music::e2e
