#include "service/core/circuit_breaker.h"

#include <gtest/gtest.h>

#include <atomic>
#include <thread>
#include <vector>

#include "tests/testing/fake_clock.h"

namespace music::service {
namespace {

using State = CircuitBreaker::State;

class CircuitBreakerTest : public ::testing::Test {
 protected:
  CircuitBreakerTest() : breaker_(CircuitBreakerOptions{3, absl::Seconds(30)}, &clock_) {}

  void Open() {
    for (int i = 0; i < 3; ++i) breaker_.RecordFailure("p");
    ASSERT_EQ(breaker_.state("p"), State::kOpen);
  }

  FakeClock clock_;
  CircuitBreaker breaker_;
};

TEST_F(CircuitBreakerTest, ClosedUntilThresholdOfConsecutiveFailures) {
  EXPECT_EQ(breaker_.state("p"), State::kClosed);
  EXPECT_TRUE(breaker_.Allow("p"));
  breaker_.RecordFailure("p");
  breaker_.RecordFailure("p");
  EXPECT_EQ(breaker_.state("p"), State::kClosed);
  EXPECT_TRUE(breaker_.Allow("p"));
  breaker_.RecordFailure("p");
  EXPECT_EQ(breaker_.state("p"), State::kOpen);
  EXPECT_FALSE(breaker_.Allow("p"));
  EXPECT_EQ(breaker_.RetryAt("p"), clock_.Now() + absl::Seconds(30));
  // Circuits are per provider.
  EXPECT_TRUE(breaker_.Allow("other"));
}

TEST_F(CircuitBreakerTest, SuccessResetsTheConsecutiveCount) {
  breaker_.RecordFailure("p");
  breaker_.RecordFailure("p");
  breaker_.RecordSuccess("p");
  breaker_.RecordFailure("p");
  breaker_.RecordFailure("p");
  EXPECT_EQ(breaker_.state("p"), State::kClosed);
}

TEST_F(CircuitBreakerTest, OnlyProviderTroubleCounts) {
  for (int i = 0; i < 5; ++i) {
    breaker_.Record("p", absl::InvalidArgumentError("400"));
    breaker_.Record("p", absl::FailedPreconditionError("402"));
    breaker_.Record("p", absl::UnauthenticatedError("401"));
  }
  EXPECT_EQ(breaker_.state("p"), State::kClosed);
  breaker_.Record("p", absl::UnavailableError("503"));
  breaker_.Record("p", absl::DeadlineExceededError("timeout"));
  breaker_.Record("p", absl::ResourceExhaustedError("429"));
  EXPECT_EQ(breaker_.state("p"), State::kOpen);
  EXPECT_TRUE(CircuitBreaker::CountsAsFailure(absl::UnavailableError("")));
  EXPECT_FALSE(CircuitBreaker::CountsAsFailure(absl::InvalidArgumentError("")));
  EXPECT_FALSE(CircuitBreaker::CountsAsFailure(absl::OkStatus()));
}

TEST_F(CircuitBreakerTest, OpenRefusesUntilCoolDownThenLetsOneProbeThrough) {
  Open();
  clock_.Advance(absl::Seconds(29));
  EXPECT_FALSE(breaker_.Allow("p"));
  clock_.Advance(absl::Seconds(1));
  EXPECT_EQ(breaker_.state("p"), State::kHalfOpen);
  EXPECT_TRUE(breaker_.Allow("p"));   // the probe
  EXPECT_FALSE(breaker_.Allow("p"));  // one at a time
  EXPECT_FALSE(breaker_.Allow("p"));
}

TEST_F(CircuitBreakerTest, ProbeSuccessCloses) {
  Open();
  clock_.Advance(absl::Seconds(30));
  ASSERT_TRUE(breaker_.Allow("p"));
  breaker_.RecordSuccess("p");
  EXPECT_EQ(breaker_.state("p"), State::kClosed);
  EXPECT_TRUE(breaker_.Allow("p"));
  EXPECT_TRUE(breaker_.Allow("p"));
  // Closed again means a full threshold is needed to re-open.
  breaker_.RecordFailure("p");
  EXPECT_EQ(breaker_.state("p"), State::kClosed);
}

TEST_F(CircuitBreakerTest, ProbeFailureReopensForAnotherCoolDown) {
  Open();
  clock_.Advance(absl::Seconds(30));
  ASSERT_TRUE(breaker_.Allow("p"));
  breaker_.RecordFailure("p");  // one failure is enough in half-open
  EXPECT_EQ(breaker_.state("p"), State::kOpen);
  EXPECT_FALSE(breaker_.Allow("p"));
  EXPECT_EQ(breaker_.RetryAt("p"), clock_.Now() + absl::Seconds(30));
  clock_.Advance(absl::Seconds(30));
  EXPECT_TRUE(breaker_.Allow("p"));
}

TEST_F(CircuitBreakerTest, LostProbeIsReplacedAfterACoolDown) {
  Open();
  clock_.Advance(absl::Seconds(30));
  ASSERT_TRUE(breaker_.Allow("p"));  // never reports
  clock_.Advance(absl::Seconds(29));
  EXPECT_FALSE(breaker_.Allow("p"));
  clock_.Advance(absl::Seconds(1));
  EXPECT_TRUE(breaker_.Allow("p"));
}

TEST_F(CircuitBreakerTest, FailuresWhileOpenDoNotExtendTheCoolDown) {
  Open();
  clock_.Advance(absl::Seconds(20));
  breaker_.RecordFailure("p");  // an answer to a request sent before it opened
  clock_.Advance(absl::Seconds(10));
  EXPECT_EQ(breaker_.state("p"), State::kHalfOpen);
}

TEST_F(CircuitBreakerTest, ThresholdZeroDisables) {
  CircuitBreaker off(CircuitBreakerOptions{0, absl::Seconds(30)}, &clock_);
  for (int i = 0; i < 100; ++i) off.RecordFailure("p");
  EXPECT_TRUE(off.Allow("p"));
  EXPECT_EQ(off.state("p"), State::kClosed);
}

TEST_F(CircuitBreakerTest, ConcurrentHalfOpenAllowsExactlyOneProbe) {
  Open();
  clock_.Advance(absl::Seconds(30));
  std::atomic<int> allowed{0};
  std::vector<std::thread> threads;
  for (int i = 0; i < 16; ++i) {
    threads.emplace_back([&] {
      if (breaker_.Allow("p")) allowed.fetch_add(1);
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(allowed.load(), 1);
}

}  // namespace
}  // namespace music::service
