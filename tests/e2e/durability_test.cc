// Idempotent creates and restarts: no task lost, none submitted twice.
#include <thread>

#include "tests/e2e/e2e_fixture.h"

namespace music::e2e {
namespace {

TEST_F(E2eTest, SameRequestIdTwiceMakesOneTaskAndOneSubmission) {
  const auto a = CreateMusic("idempotent song", "req-abc");
  const auto b = CreateMusic("idempotent song", "req-abc");
  EXPECT_EQ(a.task_id(), b.task_id());
  EXPECT_EQ(WaitDone(a.task_id()).state(), music::v1::TASK_STATE_SUCCEEDED);
  EXPECT_EQ(emulator_->TaskCount(), 1);

  // The same key with a different request is refused.
  music::v1::CreateMusicRequest other;
  other.set_request_id("req-abc");
  other.set_prompt("another song");
  music::v1::CreateMusicResponse resp;
  grpc::ClientContext ctx;
  EXPECT_EQ(stub_->CreateMusic(&ctx, other, &resp).error_code(), grpc::StatusCode::ALREADY_EXISTS);
}

TEST_F(E2eTest, ConcurrentSameRequestIdMakesOneTaskAndOneSubmission) {
  constexpr int kClients = 12;
  std::vector<std::string> ids(kClients);
  std::vector<std::thread> threads;
  for (int i = 0; i < kClients; ++i) {
    threads.emplace_back([&, i] {
      music::v1::CreateMusicRequest req;
      req.set_request_id("req-concurrent");
      req.set_prompt("raced song");
      music::v1::CreateMusicResponse resp;
      grpc::ClientContext ctx;
      if (stub_->CreateMusic(&ctx, req, &resp).ok()) ids[i] = resp.task().task_id();
    });
  }
  for (auto& t : threads) t.join();
  for (const auto& id : ids) EXPECT_EQ(id, ids[0]);
  EXPECT_EQ(WaitDone(ids[0]).state(), music::v1::TASK_STATE_SUCCEEDED);
  EXPECT_EQ(emulator_->TaskCount(), 1);
  music::v1::ListTasksRequest lr;
  music::v1::ListTasksResponse list;
  grpc::ClientContext ctx;
  ASSERT_TRUE(stub_->ListTasks(&ctx, lr, &list).ok());
  EXPECT_EQ(list.tasks_size(), 1);
}

TEST_F(E2eTest, RestartFinishesEveryTaskExactlyOnce) {
  constexpr int kTasks = 6;
  std::vector<std::string> ids;
  for (int i = 0; i < kTasks; ++i) {
    ids.push_back(
        CreateMusic("restart song " + std::to_string(i) + " [emu:duration_ms=2000]").task_id());
  }
  // Wait until the provider has every task, then stop mid-generation.
  WaitFor([&] { return emulator_->TaskCount() >= kTasks; }, absl::Seconds(5),
          "the provider to have every task");
  ASSERT_EQ(emulator_->TaskCount(), kTasks);
  // StopServer returns once the server is gone; the provider goes on generating (2 s tasks)
  // while it is down, so the restart finds them mid-generation.
  StopServer();
  StartServer();  // same database file
  for (const auto& id : ids) {
    const auto done = WaitDone(id);
    EXPECT_EQ(done.state(), music::v1::TASK_STATE_SUCCEEDED) << done.DebugString();
    EXPECT_GE(done.clips_size(), 1);
  }
  EXPECT_EQ(emulator_->TaskCount(), kTasks);  // nothing submitted twice
}

TEST_F(E2eTest, TasksCreatedJustBeforeAStopAreSubmittedAfterRestart) {
  StopServer();
  // Create through a server whose provider is unreachable: the tasks are stored, not sent.
  std::vector<std::string> ids;
  StartServer();
  emulator_->SetFaults([] {
    emulator::FaultConfig f;
    f.create_500_count = 1000;
    return f;
  }());
  for (int i = 0; i < 3; ++i) ids.push_back(CreateMusic("later " + std::to_string(i)).task_id());
  // Stop once the provider refused a create of each task (they are stored, not accepted).
  WaitFor([&] { return emulator_->stats().creates_server_error >= 3; }, absl::Seconds(5),
          "the provider to refuse the three creates");
  StopServer();
  emulator_->SetFaults(emulator::FaultConfig{});
  StartServer();
  for (const auto& id : ids) {
    EXPECT_EQ(WaitDone(id).state(), music::v1::TASK_STATE_SUCCEEDED);
  }
  EXPECT_EQ(emulator_->TaskCount(), 3);
}

}  // namespace
}  // namespace music::e2e
