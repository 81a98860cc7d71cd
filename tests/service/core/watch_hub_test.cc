#include "service/core/watch_hub.h"

#include <gtest/gtest.h>

#include <atomic>
#include <thread>
#include <vector>

#include "absl/synchronization/mutex.h"
#include "absl/synchronization/notification.h"

#include "absl/strings/str_cat.h"
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

// Heartbeats from the wheel: each watcher one interval after it subscribed, then once per
// interval, so streams that connected at different times are not heartbeated all at once.
TEST(WatchHubTest, EachWatcherIsHeartbeatedAnIntervalAfterItSubscribed) {
  CountingWatcher early, late;
  FakeClock clock;
  const absl::Duration interval = absl::Milliseconds(2560);  // 256 slots of 10 ms
  WatchHub hub(interval, &clock, /*ticker_thread=*/false);
  hub.Subscribe("t1", &early);
  clock.Advance(interval / 2);
  EXPECT_FALSE(hub.Tick());  // half the slots came round, none of them holds a watcher
  hub.Subscribe("t2", &late);
  clock.Advance(interval / 2);
  EXPECT_TRUE(hub.Tick());
  EXPECT_EQ(early.heartbeats, 1);
  EXPECT_EQ(late.heartbeats, 0);  // only half an interval old
  clock.Advance(interval / 2);
  EXPECT_TRUE(hub.Tick());
  EXPECT_EQ(early.heartbeats, 1);
  EXPECT_EQ(late.heartbeats, 1);
  clock.Advance(interval / 2);
  EXPECT_TRUE(hub.Tick());
  EXPECT_EQ(early.heartbeats, 2);
  EXPECT_EQ(late.heartbeats, 1);
}

TEST(WatchHubTest, AClockJumpSendsOneHeartbeatPerWatcher) {
  std::vector<CountingWatcher> watchers(300);
  FakeClock clock;
  WatchHub hub(absl::Seconds(30), &clock, /*ticker_thread=*/false);
  for (int i = 0; i < 300; ++i) {
    hub.Subscribe(absl::StrCat("t", i), &watchers[i]);
    clock.Advance(absl::Milliseconds(100));  // subscribers spread over the wheel's slots
    hub.Tick();                               // as the ticker thread would
  }
  EXPECT_EQ(watchers[0].heartbeats, 1);    // 30 s old
  EXPECT_EQ(watchers[299].heartbeats, 0);  // 0.1 s old
  std::vector<int> before;
  for (const auto& w : watchers) before.push_back(w.heartbeats);
  clock.Advance(absl::Hours(5));
  EXPECT_TRUE(hub.Tick());
  for (int i = 0; i < 300; ++i) EXPECT_EQ(watchers[i].heartbeats, before[i] + 1) << i;
  EXPECT_FALSE(hub.Tick());  // nothing more is due right after the catch-up
}

TEST(WatchHubTest, UnsubscribedWatchersGetNoHeartbeat) {
  CountingWatcher a, b;
  FakeClock clock;
  WatchHub hub(absl::Seconds(1), &clock, /*ticker_thread=*/false);
  const int64_t ta = hub.Subscribe("t1", &a);
  hub.Subscribe("t1", &b);
  hub.Unsubscribe(ta);
  EXPECT_EQ(hub.size(), 1);
  clock.Advance(absl::Seconds(1));
  EXPECT_TRUE(hub.Tick());
  EXPECT_EQ(a.heartbeats, 0);
  EXPECT_EQ(b.heartbeats, 1);
}

// A watcher whose call blocks (a stand-in for a slow StartWrite) and a gate to release it.
class BlockingWatcher : public TaskWatcher {
 public:
  void OnTaskChanged(const music::v1::Task& t) override {
    {
      absl::MutexLock lock(&mu_);
      versions_.push_back(t.version());
    }
    if (block_changes) Block();
  }
  void OnHeartbeat() override {
    if (block_heartbeats) Block();
  }
  void OnShutdown() override {}
  std::vector<int64_t> versions() {
    absl::MutexLock lock(&mu_);
    return versions_;
  }
  bool block_changes = false;
  bool block_heartbeats = false;
  absl::Notification entered, release;

 private:
  void Block() {
    if (!entered.HasBeenNotified()) entered.Notify();
    release.WaitForNotification();
  }
  absl::Mutex mu_;
  std::vector<int64_t> versions_ ABSL_GUARDED_BY(mu_);
};

music::v1::Task TaskAt(const std::string& id, int64_t version) {
  music::v1::Task t;
  t.set_task_id(id);
  t.set_version(version);
  return t;
}

// Publishes on another thread; reports whether it returned within `timeout` (a bounded wait
// on a notification, so a hub that blocks fails the test instead of hanging it).
bool PublishReturnsWithin(WatchHub* hub, const music::v1::Task& task, absl::Duration timeout,
                          std::thread* thread) {
  auto done = std::make_shared<absl::Notification>();
  *thread = std::thread([hub, task, done] {
    hub->Publish(task);
    done->Notify();
  });
  return done->WaitForNotificationWithTimeout(timeout);
}

TEST(WatchHubTest, AWatcherBlockedInAHeartbeatDoesNotDelayOthers) {
  BlockingWatcher slow;
  slow.block_heartbeats = true;
  CountingWatcher same_task, other_task;
  FakeClock clock;
  WatchHub hub(absl::Seconds(1), &clock, /*ticker_thread=*/false);
  hub.Subscribe("t1", &slow);
  hub.Subscribe("t1", &same_task);
  hub.Subscribe("t2", &other_task);
  clock.Advance(absl::Seconds(1));
  std::thread ticker([&hub] { hub.Tick(); });
  ASSERT_TRUE(slow.entered.WaitForNotificationWithTimeout(absl::Seconds(30)));
  // The old hub called every heartbeat under its one lock: these Publishes waited for the tick.
  std::thread p1, p2;
  EXPECT_TRUE(PublishReturnsWithin(&hub, TaskAt("t2", 5), absl::Seconds(30), &p1));
  EXPECT_TRUE(PublishReturnsWithin(&hub, TaskAt("t1", 6), absl::Seconds(30), &p2));
  EXPECT_EQ(other_task.last_version, 5);
  EXPECT_EQ(same_task.last_version, 6);
  EXPECT_EQ(slow.versions(), std::vector<int64_t>{6});  // its change is queued by the reactor
  slow.release.Notify();
  ticker.join();
  p1.join();
  p2.join();
}

TEST(WatchHubTest, AWatcherBlockedInADeliveryDoesNotDelayOtherTasks) {
  BlockingWatcher slow;
  slow.block_changes = true;
  CountingWatcher other_task;
  WatchHub hub(absl::Hours(1));
  hub.Subscribe("t1", &slow);
  hub.Subscribe("t2", &other_task);
  std::thread p1, p2, p3;
  EXPECT_FALSE(PublishReturnsWithin(&hub, TaskAt("t1", 1), absl::ZeroDuration(), &p1));
  ASSERT_TRUE(slow.entered.WaitForNotificationWithTimeout(absl::Seconds(30)));
  EXPECT_TRUE(PublishReturnsWithin(&hub, TaskAt("t2", 9), absl::Seconds(30), &p2));
  EXPECT_EQ(other_task.last_version, 9);
  // A change of the same task is queued behind the delivery in progress, not lost or reordered.
  EXPECT_TRUE(PublishReturnsWithin(&hub, TaskAt("t1", 2), absl::Seconds(30), &p3));
  EXPECT_EQ(slow.versions(), std::vector<int64_t>{1});
  slow.release.Notify();
  p1.join();  // the first publisher delivers the queued change before it returns
  p2.join();
  p3.join();
  EXPECT_EQ(slow.versions(), (std::vector<int64_t>{1, 2}));
}

TEST(WatchHubTest, UnsubscribeWaitsForACallInProgress) {
  BlockingWatcher slow;
  slow.block_changes = true;
  WatchHub hub(absl::Hours(1));
  const int64_t token = hub.Subscribe("t1", &slow);
  std::thread publisher;
  EXPECT_FALSE(PublishReturnsWithin(&hub, TaskAt("t1", 1), absl::ZeroDuration(), &publisher));
  ASSERT_TRUE(slow.entered.WaitForNotificationWithTimeout(absl::Seconds(30)));
  absl::Notification unsubscribed;
  std::thread leaver([&] {
    hub.Unsubscribe(token);
    unsubscribed.Notify();
  });
  // While the call runs the watcher may not be freed: Unsubscribe has not returned.
  EXPECT_FALSE(unsubscribed.WaitForNotificationWithTimeout(absl::Milliseconds(50)));
  slow.release.Notify();
  EXPECT_TRUE(unsubscribed.WaitForNotificationWithTimeout(absl::Seconds(30)));
  leaver.join();
  publisher.join();
  EXPECT_EQ(hub.size(), 0);
  hub.Publish(TaskAt("t1", 2));
  EXPECT_EQ(slow.versions(), std::vector<int64_t>{1});
}

}  // namespace
}  // namespace music::service
