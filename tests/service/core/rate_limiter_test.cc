#include "service/core/rate_limiter.h"

#include <optional>

#include "gtest/gtest.h"
#include "tests/testing/fake_clock.h"

namespace music::service {
namespace {

// 25 creates at once on a provider declaring 20 per 10 s: 20 go at t=0, the other 5 are told to
// come back at t=10 s and then go; none is refused for good.
TEST(SlidingWindowLimiterTest, TwentyFiveAtOnceTwentyNowFiveAfterTheWindow) {
  FakeClock clock;
  const absl::Time start = clock.Now();
  SlidingWindowLimiter limiter(20, absl::Seconds(10));
  int granted = 0;
  std::optional<absl::Time> retry_at;
  for (int i = 0; i < 25; ++i) {
    std::optional<absl::Time> r = limiter.Acquire(clock.Now());
    if (!r.has_value()) {
      ++granted;
    } else {
      retry_at = r;
    }
  }
  EXPECT_EQ(granted, 20);
  ASSERT_TRUE(retry_at.has_value());
  EXPECT_EQ(*retry_at, start + absl::Seconds(10));
  clock.Advance(*retry_at - clock.Now());
  // The first 20 grants have left the window: the 5 waiting go, and the window holds 15 more.
  for (int i = 0; i < 20; ++i) EXPECT_EQ(limiter.Acquire(clock.Now()), std::nullopt);
  EXPECT_EQ(limiter.Acquire(clock.Now()), start + absl::Seconds(20));
}

// kie.ai record-info: at most 3 polls per second per task.
TEST(SlidingWindowLimiterTest, PollsAtMostThreePerSecond) {
  FakeClock clock;
  SlidingWindowLimiter limiter(3, absl::Seconds(1));
  int granted = 0;
  for (int step = 0; step < 20; ++step) {  // 20 tries at 100 ms apart = 2 s
    if (!limiter.Acquire(clock.Now()).has_value()) ++granted;
    clock.Advance(absl::Milliseconds(100));
  }
  EXPECT_EQ(granted, 6);
}

TEST(SlidingWindowLimiterTest, ZeroLimitDisables) {
  FakeClock clock;
  SlidingWindowLimiter limiter(0, absl::Seconds(1));
  for (int i = 0; i < 100; ++i) EXPECT_EQ(limiter.Acquire(clock.Now()), std::nullopt);
}

}  // namespace
}  // namespace music::service
