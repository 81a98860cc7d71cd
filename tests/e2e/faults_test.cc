// Every fault class the emulator injects: the task ends in the right state, the server stays up.
#include <grpcpp/health_check_service_interface.h>

#include "tests/e2e/e2e_fixture.h"

namespace music::e2e {
namespace {

using music::v1::TaskState;

struct FaultCase {
  const char* name;
  const char* prompt;  // carries a per-task emulator directive
  TaskState want;
  absl::StatusCode want_code;   // for FAILED
  const char* provider_status;  // expected error.provider_status, "" = any
};

class FaultTest : public E2eTest, public ::testing::WithParamInterface<FaultCase> {};

TEST_P(FaultTest, TaskEndsInTheRightState) {
  const FaultCase& c = GetParam();
  const auto created = CreateMusic(c.prompt);
  const auto done = WaitDone(created.task_id());
  EXPECT_EQ(done.state(), c.want) << done.DebugString();
  if (c.want == music::v1::TASK_STATE_FAILED) {
    EXPECT_EQ(done.error().code(), static_cast<int>(c.want_code)) << done.DebugString();
    if (*c.provider_status) {
      EXPECT_EQ(done.error().provider_status(), c.provider_status);
    }
  } else {
    ASSERT_GE(done.clips_size(), 1);
    for (const auto& clip : done.clips()) EXPECT_FALSE(clip.audio_url().empty());
  }
  EXPECT_EQ(emulator_->TaskCount(), 1) << "one provider task per service task";
  // The server is still up and healthy.
  EXPECT_FALSE(GetTask(created.task_id()).task_id().empty());
}

INSTANTIATE_TEST_SUITE_P(
    Emulator, FaultTest,
    ::testing::Values(FaultCase{"NoAudio", "x [emu:no_audio]", music::v1::TASK_STATE_FAILED,
                                absl::StatusCode::kInternal, ""},
                      FaultCase{"GenerateAudioFailed", "x [emu:fail=GENERATE_AUDIO_FAILED]",
                                music::v1::TASK_STATE_FAILED, absl::StatusCode::kInternal, ""},
                      FaultCase{"SensitiveWord", "x [emu:fail=SENSITIVE_WORD_ERROR]",
                                music::v1::TASK_STATE_FAILED, absl::StatusCode::kInvalidArgument,
                                ""},
                      FaultCase{"LostCallbacks", "x [emu:lose_callbacks]",
                                music::v1::TASK_STATE_SUCCEEDED, absl::StatusCode::kOk, ""},
                      FaultCase{"DuplicatedCallbacks", "x [emu:duplicate_callbacks]",
                                music::v1::TASK_STATE_SUCCEEDED, absl::StatusCode::kOk, ""},
                      FaultCase{"ReorderedCallbacks", "x [emu:reorder_callbacks]",
                                music::v1::TASK_STATE_SUCCEEDED, absl::StatusCode::kOk, ""},
                      FaultCase{"MalformedPoll", "x [emu:malformed_poll]",
                                music::v1::TASK_STATE_SUCCEEDED, absl::StatusCode::kOk, ""},
                      // The create answer is lost (slow past the client timeout, or unreadable):
                      // the task is adopted from the provider's callback, never submitted twice.
                      FaultCase{"SlowCreate", "x [emu:slow_create]",
                                music::v1::TASK_STATE_SUCCEEDED, absl::StatusCode::kOk, ""},
                      FaultCase{"MalformedCreate", "x [emu:malformed_create]",
                                music::v1::TASK_STATE_SUCCEEDED, absl::StatusCode::kOk, ""}),
    [](const ::testing::TestParamInfo<FaultCase>& info) { return info.param.name; });

TEST_F(E2eTest, RateLimitedAndFailingCreatesAreRetried) {
  emulator::FaultConfig f;
  f.create_429_count = 2;
  f.create_500_count = 1;
  emulator_->SetFaults(f);
  const auto done = WaitDone(CreateMusic("retry me").task_id());
  EXPECT_EQ(done.state(), music::v1::TASK_STATE_SUCCEEDED) << done.DebugString();
  EXPECT_EQ(emulator_->TaskCount(), 1);
}

TEST_F(E2eTest, RandomFaultsNeverCrashOrLoseTasks) {
  emulator::FaultConfig f;
  f.create_429_rate = 0.2;
  f.create_500_rate = 0.2;
  f.poll_500_rate = 0.3;
  f.poll_malformed_rate = 0.2;
  f.duplicate_callback_rate = 0.3;
  f.reorder_callbacks_rate = 0.3;
  f.lose_callback_rate = 0.3;
  f.poll_slow_rate = 0.1;  // slower than the client timeout: the poll fails, is retried
  f.seed = 42;
  emulator_->SetFaults(f);
  std::vector<std::string> ids;
  for (int i = 0; i < 8; ++i) ids.push_back(CreateMusic("chaos " + std::to_string(i)).task_id());
  for (const auto& id : ids) {
    const auto done = WaitDone(id);
    EXPECT_EQ(done.state(), music::v1::TASK_STATE_SUCCEEDED) << done.DebugString();
  }
  EXPECT_EQ(emulator_->TaskCount(), 8);
}

TEST_F(E2eTest, ProviderDownMeansRetriesThenFailureNotACrash) {
  emulator_->Stop();
  const auto done = WaitDone(CreateMusic("nobody home").task_id());
  EXPECT_EQ(done.state(), music::v1::TASK_STATE_FAILED);
  EXPECT_EQ(done.error().code(), static_cast<int>(absl::StatusCode::kUnavailable));
}

}  // namespace
}  // namespace music::e2e
