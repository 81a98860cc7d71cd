#include "service/core/watch_hub.h"

#include <gtest/gtest.h>

#include <atomic>

#include "tests/testing/fake_clock.h"

namespace music::service {
namespace {

class CountingWatcher : public TaskWatcher {
 public:
  void OnTaskChanged(const music::v1::Task& t) override { last_version = t.version(), ++changes; }
  void OnHeartbeat() override { ++heartbeats; }
  void OnShutdown() override { ++shutdowns; }
  std::atomic<int> changes{0}, heartbeats{0}, shutdowns{0};
  std::atomic<int64_t> last_version{0};
};

TEST(WatchHubTest, DeliversToWatchersOfThatTaskOnly) {
  CountingWatcher a, b;  // outlive the hub, which calls them until it is gone
  WatchHub hub(absl::Hours(1));
  hub.Subscribe("t1", &a);
  hub.Subscribe("t2", &b);
  music::v1::Task t;
  t.set_task_id("t1");
  t.set_version(7);
  hub.Publish(t);
  EXPECT_EQ(a.changes, 1);
  EXPECT_EQ(a.last_version, 7);
  EXPECT_EQ(b.changes, 0);
}

TEST(WatchHubTest, UnsubscribeStopsDelivery) {
  CountingWatcher a;
  WatchHub hub(absl::Hours(1));
  const int64_t token = hub.Subscribe("t1", &a);
  EXPECT_EQ(hub.size(), 1);
  hub.Unsubscribe(token);
  EXPECT_EQ(hub.size(), 0);
  music::v1::Task t;
  t.set_task_id("t1");
  hub.Publish(t);
  EXPECT_EQ(a.changes, 0);
}

TEST(WatchHubTest, HeartbeatsTickWhileSubscribed) {
  CountingWatcher a;
  FakeClock clock;
  WatchHub hub(absl::Milliseconds(5), &clock, /*ticker_thread=*/false);
  hub.Subscribe("t1", &a);
  EXPECT_FALSE(hub.Tick());  // the interval has not passed yet
  EXPECT_EQ(a.heartbeats, 0);
  for (int i = 0; i < 3; ++i) {
    clock.Advance(absl::Milliseconds(5));
    EXPECT_TRUE(hub.Tick());
  }
  EXPECT_GE(a.heartbeats, 3);
  clock.Advance(absl::Milliseconds(4));
  EXPECT_FALSE(hub.Tick());
  EXPECT_EQ(a.heartbeats, 3);
}

TEST(WatchHubTest, TickerThreadFollowsTheClock) {
  CountingWatcher a;
  FakeClock clock;
  WatchHub hub(absl::Milliseconds(5), &clock);  // the ticker re-reads the FakeClock
  hub.Subscribe("t1", &a);
  hub.Shutdown();  // stops the ticker; heartbeats after it are never sent
  clock.Advance(absl::Hours(1));
  EXPECT_FALSE(hub.Tick());
  EXPECT_EQ(a.heartbeats, 0);
}

TEST(WatchHubTest, ShutdownTellsEveryWatcherAndLaterSubscribers) {
  CountingWatcher a, late;
  WatchHub hub(absl::Hours(1));
  hub.Subscribe("t1", &a);
  hub.Shutdown();
  EXPECT_EQ(a.shutdowns, 1);
  EXPECT_EQ(hub.Subscribe("t1", &late), 0);
  EXPECT_EQ(late.shutdowns, 1);
}

}  // namespace
}  // namespace music::service
