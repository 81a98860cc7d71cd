#include "service/core/watch_hub.h"

#include <gtest/gtest.h>

#include <atomic>

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
  WatchHub hub(absl::Milliseconds(5));
  hub.Subscribe("t1", &a);
  for (int i = 0; i < 1000 && a.heartbeats < 3; ++i) absl::SleepFor(absl::Milliseconds(2));
  EXPECT_GE(a.heartbeats, 3);
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
