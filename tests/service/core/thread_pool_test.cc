// ThreadPool (service/core/thread_pool.h): FIFO order with urgent closures first, nothing run after
// Shutdown, and worker threads named "<name>-<index>" (cut to Linux's 15 bytes).
#include "service/core/thread_pool.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <pthread.h>

#include <set>
#include <string>
#include <vector>

#include "absl/synchronization/mutex.h"
#include "absl/synchronization/notification.h"

namespace music::service {
namespace {

using ::testing::ElementsAre;

std::string CurrentThreadName() {
  char name[16] = {};
  EXPECT_EQ(pthread_getname_np(pthread_self(), name, sizeof(name)), 0);
  return name;
}

// The names of the threads that ran `workers` closures which wait for each other: each ran on a
// worker of its own.
std::set<std::string> WorkerNames(ThreadPool& pool, int workers) {
  struct Barrier {
    int arrived = 0;
    int workers = 0;
  };
  absl::Mutex mu;
  std::set<std::string> names;
  Barrier barrier{0, workers};
  std::vector<absl::Notification> done(workers);
  for (int i = 0; i < workers; ++i) {
    EXPECT_TRUE(pool.Schedule([&, i] {
      {
        absl::MutexLock lock(&mu);
        names.insert(CurrentThreadName());
        ++barrier.arrived;
        // Hold this worker until every closure has a worker of its own.
        mu.Await(absl::Condition(
            +[](Barrier* b) { return b->arrived == b->workers; }, &barrier));
      }
      // After the unlock: once every closure notified, the caller may destroy `mu`.
      done[i].Notify();
    }));
  }
  for (auto& d : done) d.WaitForNotification();
  return names;
}

TEST(ThreadPoolTest, NamesItsWorkersByPoolAndIndex) {
  ThreadPool pool(2, "engine");
  EXPECT_THAT(WorkerNames(pool, 2), ElementsAre("engine-0", "engine-1"));
}

TEST(ThreadPoolTest, ALongNameIsCutToFifteenBytes) {
  ThreadPool pool(2, "a-very-long-pool-name");
  // Both workers: the index falls off a name that fills the 15 bytes.
  EXPECT_THAT(WorkerNames(pool, 2), ElementsAre("a-very-long-poo"));
}

TEST(ThreadPoolTest, UrgentClosuresRunFirstAndNothingRunsAfterShutdown) {
  ThreadPool pool(1);
  absl::Notification release;
  absl::Mutex mu;
  std::vector<int> order;
  ASSERT_TRUE(pool.Schedule([&] { release.WaitForNotification(); }));  // holds the one worker
  ASSERT_TRUE(pool.Schedule([&] { absl::MutexLock l(&mu); order.push_back(1); }));
  ASSERT_TRUE(pool.Schedule([&] { absl::MutexLock l(&mu); order.push_back(2); }));
  ASSERT_TRUE(pool.ScheduleUrgent([&] { absl::MutexLock l(&mu); order.push_back(0); }));
  release.Notify();
  pool.Shutdown();  // runs what is queued, then joins
  EXPECT_THAT(order, ElementsAre(0, 1, 2));
  EXPECT_FALSE(pool.Schedule([] {}));
  EXPECT_FALSE(pool.ScheduleUrgent([] {}));
}

}  // namespace
}  // namespace music::service
