// Store faults never strand a task (issue 10, "Store faults, on both stores"): "A failed write
// never strands a task: the step is retried with backoff until it succeeds or the task's deadline
// passes; a task whose deadline passed while the store was down ends DEADLINE_EXCEEDED with its
// refund once the store is back." Before, "Poll reschedules only when its write succeeds, submit
// paths drop write errors": each test here left its task RUNNING or PENDING for good.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <map>
#include <memory>
#include <string>
#include <vector>

#include "domain/billing_types.h"
#include "service/core/task_engine.h"
#include "tests/testing/engine_fixture.h"
#include "tests/testing/flaky_task_store.h"
#include "tests/testing/status_matchers.h"

namespace music::service {
namespace {

using domain::TaskRecord;

class EngineStoreFaultTest : public EngineFixture {
 protected:
  void SetUp() override {
    OpenStore();
    flaky_ = std::make_unique<FlakyTaskStore>(store_);
    real_store_ = store_;
    store_ = flaky_.get();  // the engine sees the flaky store
    provider_ = std::make_shared<FakeProvider>();
    registry_.Add(provider_);
    std::vector<music::v1::Model> models = provider_->Models();
    models[0].mutable_price()->set_amount_micros(12'000'000);
    models[0].mutable_price()->set_currency("CREDITS");
    catalog_ = std::make_unique<Catalog>(models, "fake-model");
  }

  std::string Create() {
    CreateSpec spec;
    spec.tenant = "default";
    spec.kind = music::v1::TASK_KIND_MUSIC;
    spec.model = catalog_->Find("fake-model");
    spec.input.set_prompt("a song");
    auto created = engine_->Create(spec);
    EXPECT_THAT(created, IsOk());
    return created.ok() ? created->task.task_id() : "";
  }

  TaskRecord Stored(const std::string& id) {
    auto r = real_store_->Get(id);
    EXPECT_THAT(r, IsOk());
    return r.ok() ? *r : TaskRecord{};
  }

  // The ledger rows of `id` as "KIND amount".
  std::vector<std::string> Ledger(const std::string& id) {
    persistence::BillingListQuery q;
    q.tenant = "default";
    q.page_size = 100;
    auto page = billing_->ListBillingTransactions(q);
    EXPECT_THAT(page, IsOk());
    std::vector<std::string> rows;
    if (!page.ok()) return rows;
    for (const auto& t : page->transactions) {
      if (t.task_id == id) {
        rows.push_back(absl::StrCat(billing::TransactionKindName(t.kind), " ", t.amount_micros));
      }
    }
    std::sort(rows.begin(), rows.end());
    return rows;
  }

  static adapters::ProviderUpdate Success() {
    adapters::ProviderUpdate u;
    u.state = adapters::ProviderState::kSucceeded;
    u.provider_status = "SUCCESS";
    music::v1::Clip c;
    c.set_clip_id("clip-1");
    c.set_audio_url("http://audio/clip-1.wav");
    u.clips.push_back(c);
    return u;
  }

  std::unique_ptr<FlakyTaskStore> flaky_;
  persistence::TaskStore* real_store_ = nullptr;
  std::shared_ptr<FakeProvider> provider_;
};

TEST_F(EngineStoreFaultTest, APollWhoseWriteFailedIsRetriedUntilTheStoreIsBack) {
  StartEngine(DefaultOptions());
  const std::string id = Create();
  RunUntilIdle();
  ASSERT_EQ(Stored(id).task.state(), music::v1::TASK_STATE_RUNNING);

  flaky_->down = true;
  provider_->QueuePoll(Success());
  Advance(absl::Seconds(5));  // the poll brings SUCCEEDED; its write fails
  ASSERT_EQ(provider_->polls(), 1);
  ASSERT_GE(flaky_->failed_writes, 1);
  EXPECT_EQ(Stored(id).task.state(), music::v1::TASK_STATE_RUNNING);

  // Still down for a while: the step keeps being retried (with backoff), never dropped.
  const int failed_before = flaky_->failed_writes;
  Advance(absl::Seconds(8));
  Advance(absl::Seconds(8));
  EXPECT_GT(flaky_->failed_writes, failed_before) << "the failed step was not retried";

  flaky_->down = false;
  provider_->QueuePoll(Success());
  Advance(absl::Seconds(8));
  Advance(absl::Seconds(8));
  const TaskRecord done = Stored(id);
  EXPECT_EQ(done.task.state(), music::v1::TASK_STATE_SUCCEEDED) << done.task.DebugString();
  EXPECT_THAT(Ledger(id), ::testing::ElementsAre("RESERVE 12000000", "SETTLE 12000000"));
}

TEST_F(EngineStoreFaultTest, ASubmissionWhoseFirstWriteFailedIsSentOnceTheStoreIsBack) {
  StartEngine(DefaultOptions());
  // The create itself was stored (acknowledged); the store fails before the submission starts.
  flaky_->down = true;
  const std::string id = [&] {
    flaky_->down = false;
    std::string created = Create();
    flaky_->down = true;
    return created;
  }();
  RunUntilIdle();
  // kSubmitting is written before the create is sent: with that write refused nothing is sent.
  EXPECT_EQ(provider_->submits(), 0);
  EXPECT_EQ(Stored(id).task.state(), music::v1::TASK_STATE_PENDING);
  Advance(absl::Seconds(4));
  EXPECT_EQ(provider_->submits(), 0);

  flaky_->down = false;
  Advance(absl::Seconds(8));
  EXPECT_EQ(provider_->submits(), 1);
  EXPECT_EQ(Stored(id).task.state(), music::v1::TASK_STATE_RUNNING);
}

TEST_F(EngineStoreFaultTest, ADeadlinePassedWhileTheStoreWasDownEndsTheTaskWithItsRefund) {
  StartEngine(DefaultOptions());  // deadline 60 s
  const std::string id = Create();
  RunUntilIdle();
  ASSERT_EQ(Stored(id).task.state(), music::v1::TASK_STATE_RUNNING);

  flaky_->down = true;
  flaky_->reads_fail = true;
  for (int i = 0; i < 10; ++i) Advance(absl::Seconds(8));  // 80 s: past the deadline
  EXPECT_EQ(Stored(id).task.state(), music::v1::TASK_STATE_RUNNING);

  flaky_->down = false;
  flaky_->reads_fail = false;
  Advance(absl::Seconds(8));
  Advance(absl::Seconds(8));
  const TaskRecord done = Stored(id);
  EXPECT_EQ(done.task.state(), music::v1::TASK_STATE_FAILED) << done.task.DebugString();
  EXPECT_EQ(done.task.error().code(), static_cast<int>(absl::StatusCode::kDeadlineExceeded));
  EXPECT_THAT(Ledger(id), ::testing::ElementsAre("REFUND 12000000", "RESERVE 12000000"));
  auto violations = billing_->CheckLedger();
  ASSERT_THAT(violations, IsOk());
  EXPECT_TRUE(violations->empty());
}

}  // namespace
}  // namespace music::service
