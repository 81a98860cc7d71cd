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

// A held slot counts from its answer: 20 creates sent at t=0 and answered at t=2 s free their
// slots at t=12 s, not t=10 s, so the provider (which counts a request when it receives it,
// between the two) never sees 21 in one window.
TEST(SlidingWindowLimiterTest, HeldSlotsCountFromTheirAnswer) {
  FakeClock clock;
  const absl::Time start = clock.Now();
  SlidingWindowLimiter limiter(20, absl::Seconds(10));
  for (int i = 0; i < 20; ++i) EXPECT_EQ(limiter.AcquireUntilRelease(clock.Now()), std::nullopt);
  // Every slot is in flight: none can free before one window from now.
  EXPECT_EQ(limiter.AcquireUntilRelease(clock.Now()), start + absl::Seconds(10));
  clock.Advance(absl::Seconds(2));
  for (int i = 0; i < 20; ++i) limiter.Release(clock.Now());
  clock.Advance(absl::Seconds(8));  // t=10 s: still inside the window of the answers
  EXPECT_EQ(limiter.AcquireUntilRelease(clock.Now()), start + absl::Seconds(12));
  clock.Advance(absl::Seconds(2));
  for (int i = 0; i < 20; ++i) EXPECT_EQ(limiter.AcquireUntilRelease(clock.Now()), std::nullopt);
  EXPECT_EQ(limiter.AcquireUntilRelease(clock.Now()), clock.Now() + absl::Seconds(10));
}

// A Release without a grant (a caller's bug) frees nothing and takes nothing.
TEST(SlidingWindowLimiterTest, ReleaseWithoutAGrantChangesNothing) {
  FakeClock clock;
  SlidingWindowLimiter limiter(1, absl::Seconds(1));
  limiter.Release(clock.Now());
  EXPECT_EQ(limiter.AcquireUntilRelease(clock.Now()), std::nullopt);
  EXPECT_EQ(limiter.AcquireUntilRelease(clock.Now()), clock.Now() + absl::Seconds(1));
}

// A slot given back unsent counts for nothing: the next request goes at once.
TEST(SlidingWindowLimiterTest, AReturnedSlotCountsForNothing) {
  FakeClock clock;
  SlidingWindowLimiter limiter(1, absl::Seconds(10));
  EXPECT_EQ(limiter.AcquireUntilRelease(clock.Now()), std::nullopt);
  limiter.Return();
  EXPECT_EQ(limiter.AcquireUntilRelease(clock.Now()), std::nullopt);
  limiter.Release(clock.Now());
  EXPECT_EQ(limiter.AcquireUntilRelease(clock.Now()), clock.Now() + absl::Seconds(10));
}

// One task's polls: 3 per second counted from their answers; the fourth waits for the oldest.
TEST(RecentRequestsTest, ThreePerSecondFromTheOldestAnswer) {
  FakeClock clock;
  const absl::Time start = clock.Now();
  RecentRequests polls;
  for (int i = 0; i < 3; ++i) {
    EXPECT_EQ(polls.NextAllowed(clock.Now(), 3, absl::Seconds(1)), std::nullopt);
    polls.Record(clock.Now(), 3);
    clock.Advance(absl::Milliseconds(100));
  }
  // Answers at 0, 100, 200 ms: the next may go at 1 s, then at 1.1 s.
  EXPECT_EQ(polls.NextAllowed(clock.Now(), 3, absl::Seconds(1)), start + absl::Seconds(1));
  clock.Advance(start + absl::Seconds(1) - clock.Now());
  EXPECT_EQ(polls.NextAllowed(clock.Now(), 3, absl::Seconds(1)), std::nullopt);
  polls.Record(clock.Now(), 3);
  EXPECT_EQ(polls.NextAllowed(clock.Now(), 3, absl::Seconds(1)),
            start + absl::Milliseconds(1100));
  EXPECT_EQ(polls.NextAllowed(clock.Now(), 0, absl::Seconds(1)), std::nullopt);  // no limit
}

}  // namespace
}  // namespace music::service
