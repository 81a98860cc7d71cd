// Fair queueing of submissions across tenants (task_engine.cc "Fair queueing"): a tenant with a
// thousand creates queued does not delay another tenant's first create beyond one round.
// Real SQLite, a fake provider, a FakeClock and a ManualExecutor: nothing sleeps.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "service/core/task_engine.h"
#include "tests/testing/engine_fixture.h"

namespace music::service {
namespace {

class EngineFairQueueTest : public EngineFixture {
 protected:
  void SetUp() override {
    OpenStore();
    provider_ = std::make_shared<FakeProvider>();
    registry_.Add(provider_);
    catalog_ = std::make_unique<Catalog>(provider_->Models(), "fake-model");
  }

  // The position (0-based) of `task_id` among the creates the provider received; -1: not sent.
  int SubmitPosition(const std::string& task_id) {
    const std::vector<adapters::SubmitRequest> sent = provider_->submitted();
    for (size_t i = 0; i < sent.size(); ++i) {
      if (sent[i].task_id == task_id) return static_cast<int>(i);
    }
    return -1;
  }

  std::shared_ptr<FakeProvider> provider_;
};

// A queues 1,000 creates, then B one (a millisecond later, so due after all of A's); all run in
// one go. B's create is the second the provider sees (A, B, A, A, ...), where the FIFO of due
// times would send it 1,001st.
TEST_F(EngineFairQueueTest, ATenantsThousandQueuedDoNotDelayAnothersFirstCreate) {
  StartEngine(DefaultOptions());
  for (int i = 0; i < 1000; ++i) CreateMusicTask("a song", "tenant-a");
  clock_.Advance(absl::Milliseconds(1));
  const std::string b = CreateMusicTask("b's song", "tenant-b");
  RunUntilIdle();
  EXPECT_EQ(provider_->submits(), 1001);
  EXPECT_LE(SubmitPosition(b), 1) << "B waited behind A's queue";
}

// A's backlog is already with the engine (4 creates in flight, held at the provider, 996
// queued) when B's create arrives: B goes at the next free place, before the rest of A's queue.
TEST_F(EngineFairQueueTest, ALateTenantGoesAtTheNextFreePlaceNotBehindTheBacklog) {
  EngineOptions o = DefaultOptions();
  o.max_submissions_in_flight = 4;
  StartEngine(o);
  provider_->set_hold_async(true);
  for (int i = 0; i < 1000; ++i) CreateMusicTask("a song", "tenant-a");
  RunUntilIdle();
  EXPECT_EQ(provider_->submits(), 4) << "at most max_submissions_in_flight at once";
  EXPECT_EQ(provider_->held(), 4);

  const std::string b = CreateMusicTask("b's song", "tenant-b");
  RunUntilIdle();
  EXPECT_EQ(SubmitPosition(b), -1) << "every place is taken";
  // One of A's creates is answered: its place goes to B, A's next turn comes after.
  int rounds = 0;
  while (SubmitPosition(b) < 0 && rounds++ < 10) {
    provider_->ReleaseHeld();
    RunUntilIdle();
  }
  EXPECT_EQ(rounds, 1);
  EXPECT_LE(SubmitPosition(b), 5) << "B waited behind A's backlog";
  // A's whole backlog still goes, 4 at a time.
  for (int i = 0; i < 1000 && provider_->held() > 0; ++i) {
    provider_->ReleaseHeld();
    RunUntilIdle();
  }
  EXPECT_EQ(provider_->submits(), 1001);
}

}  // namespace
}  // namespace music::service
