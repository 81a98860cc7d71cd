// Tasks through the whole service: gRPC in, real HTTP to the provider emulator, SQLite underneath.
#include <thread>

#include "absl/strings/match.h"
#include "tests/e2e/e2e_fixture.h"

namespace music::e2e {
namespace {

using music::v1::TaskState;

TEST_F(E2eTest, CreateMusicWatchesToSucceededWithPlayableClips) {
  const auto created = CreateMusic("a calm piano piece");
  ASSERT_FALSE(created.task_id().empty());
  EXPECT_EQ(created.state(), music::v1::TASK_STATE_PENDING);
  EXPECT_EQ(created.provider(), "kie");
  EXPECT_EQ(created.model(), "suno-v4.5");

  auto w = Watch(created.task_id());
  ASSERT_TRUE(w.status.ok()) << w.status.error_message();
  ASSERT_FALSE(w.tasks.empty());
  for (size_t i = 1; i < w.tasks.size(); ++i) {
    EXPECT_GT(w.tasks[i].version(), w.tasks[i - 1].version());
  }
  const auto& done = w.tasks.back();
  ASSERT_EQ(done.state(), music::v1::TASK_STATE_SUCCEEDED) << done.DebugString();
  EXPECT_FALSE(done.provider_task_id().empty());
  ASSERT_GE(done.clips_size(), 1);
  EXPECT_TRUE(done.has_end_time());
  for (const auto& clip : done.clips()) {
    EXPECT_FALSE(clip.clip_id().empty());
    EXPECT_TRUE(absl::StartsWith(clip.audio_url(), emulator_->base_url())) << clip.audio_url();
    EXPECT_GT(clip.duration_seconds(), 0);
  }
  // The audio is real: a RIFF/WAVE file.
  auto http = http::NewCurlHttpClient({});
  http::Request get;
  get.url = done.clips(0).audio_url();
  auto audio = http->Send(get);
  ASSERT_TRUE(audio.ok()) << audio.status();
  EXPECT_EQ(audio->status, 200);
  ASSERT_GT(audio->body.size(), 44u);
  EXPECT_EQ(audio->body.substr(0, 4), "RIFF");
  EXPECT_EQ(audio->body.substr(8, 4), "WAVE");
  // Intermediate progress was streamed too (first clip ready before the end).
  bool saw_running = false;
  for (const auto& t : w.tasks) saw_running |= t.state() == music::v1::TASK_STATE_RUNNING;
  EXPECT_TRUE(saw_running);
}

TEST_F(E2eTest, LyricsTaskSucceedsWithVariants) {
  music::v1::CreateLyricsRequest req;
  req.set_prompt("a song about the sea");
  music::v1::CreateLyricsResponse resp;
  grpc::ClientContext ctx;
  ASSERT_TRUE(stub_->CreateLyrics(&ctx, req, &resp).ok());
  EXPECT_EQ(resp.task().kind(), music::v1::TASK_KIND_LYRICS);
  const auto done = WaitDone(resp.task().task_id());
  ASSERT_EQ(done.state(), music::v1::TASK_STATE_SUCCEEDED) << done.DebugString();
  ASSERT_GE(done.lyric_variants_size(), 1);
  EXPECT_FALSE(done.lyric_variants(0).text().empty());
  EXPECT_EQ(done.clips_size(), 0);
}

TEST_F(E2eTest, ContinuationOfAFinishedClip) {
  const auto source = WaitDone(CreateMusic("an upbeat folk song").task_id());
  ASSERT_EQ(source.state(), music::v1::TASK_STATE_SUCCEEDED);
  const std::string clip_id = source.clips(0).clip_id();

  music::v1::ContinueClipRequest req;
  req.set_clip_id(clip_id);
  req.set_continue_at_seconds(2);
  req.set_prompt("[Chorus] carry on");
  req.set_style("folk");
  req.set_title("Carry On");
  music::v1::ContinueClipResponse resp;
  grpc::ClientContext ctx;
  grpc::Status s = stub_->ContinueClip(&ctx, req, &resp);
  ASSERT_TRUE(s.ok()) << s.error_message();
  EXPECT_EQ(resp.task().kind(), music::v1::TASK_KIND_CONTINUATION);
  EXPECT_EQ(resp.task().model(), source.model());
  EXPECT_EQ(resp.task().input().continue_from_clip_id(), clip_id);
  const auto done = WaitDone(resp.task().task_id());
  ASSERT_EQ(done.state(), music::v1::TASK_STATE_SUCCEEDED) << done.DebugString();
  ASSERT_GE(done.clips_size(), 1);
  EXPECT_NE(done.clips(0).clip_id(), clip_id);
}

TEST_F(E2eTest, ContinuationOfMissingOrUnfinishedClipIsFailedPrecondition) {
  music::v1::ContinueClipRequest req;
  req.set_clip_id("no-such-clip");
  music::v1::ContinueClipResponse resp;
  grpc::ClientContext ctx;
  EXPECT_EQ(stub_->ContinueClip(&ctx, req, &resp).error_code(),
            grpc::StatusCode::FAILED_PRECONDITION);

  // A clip whose task is still running (the first clip is ready, the task is not).
  const auto slow = CreateMusic("slow one [emu:duration_ms=4000]");
  std::string clip_id;
  WaitFor(
      [&] {
        const music::v1::Task t = GetTask(slow.task_id());
        for (const auto& c : t.clips()) clip_id = c.clip_id();
        return !clip_id.empty();
      },
      absl::Seconds(8), "the first clip");
  ASSERT_FALSE(clip_id.empty());
  req.set_clip_id(clip_id);
  grpc::ClientContext ctx2;
  EXPECT_EQ(stub_->ContinueClip(&ctx2, req, &resp).error_code(),
            grpc::StatusCode::FAILED_PRECONDITION);
}

TEST_F(E2eTest, CancelIsFinalEvenWhenTheProviderFinishes) {
  const auto task = CreateMusic("cancel me [emu:duration_ms=1500]");
  WaitFor([&] { return !GetTask(task.task_id()).provider_task_id().empty(); }, absl::Seconds(2),
          "the provider task");
  ASSERT_EQ(GetTask(task.task_id()).state(), music::v1::TASK_STATE_RUNNING);
  music::v1::CancelTaskRequest req;
  req.set_task_id(task.task_id());
  music::v1::CancelTaskResponse resp;
  grpc::ClientContext ctx;
  ASSERT_TRUE(stub_->CancelTask(&ctx, req, &resp).ok());
  EXPECT_EQ(resp.task().state(), music::v1::TASK_STATE_CANCELED);
  // The provider finishes and calls back meanwhile (text, first and complete callbacks).
  WaitFor([&] { return ProviderFinished() && emulator_->stats().callbacks_sent >= 3; },
          absl::Seconds(10), "the provider to finish and call back");
  const auto after = GetTask(task.task_id());
  EXPECT_EQ(after.state(), music::v1::TASK_STATE_CANCELED);
  EXPECT_EQ(after.version(), resp.task().version());
  // A watch on it returns it once and ends.
  auto w = Watch(task.task_id());
  EXPECT_TRUE(w.status.ok());
  ASSERT_EQ(w.tasks.size(), 1u);
  EXPECT_EQ(w.tasks[0].state(), music::v1::TASK_STATE_CANCELED);
}

TEST_F(E2eTest, WatchResumesFromSinceVersionWithoutMissingChanges) {
  const auto task = CreateMusic("resume me [emu:duration_ms=1500]");
  auto first = Watch(task.task_id(), 0, /*max_messages=*/2);
  ASSERT_EQ(first.tasks.size(), 2u);
  const int64_t seen = first.tasks.back().version();
  // Changes happen while disconnected.
  WaitFor([&] { return GetTask(task.task_id()).version() > seen; }, absl::Seconds(5),
          "a change while disconnected");
  auto second = Watch(task.task_id(), seen);
  ASSERT_TRUE(second.status.ok()) << second.status.error_message();
  ASSERT_FALSE(second.tasks.empty());
  EXPECT_GT(second.tasks.front().version(), seen);
  EXPECT_EQ(second.tasks.back().state(), music::v1::TASK_STATE_SUCCEEDED);
  EXPECT_EQ(second.tasks.back().version(), GetTask(task.task_id()).version());
  // Reconnecting with the final version: nothing new, the stream just ends.
  auto third = Watch(task.task_id(), second.tasks.back().version());
  EXPECT_TRUE(third.status.ok());
  EXPECT_TRUE(third.tasks.empty());
}

TEST_F(E2eTest, WatchSendsHeartbeatsWhileNothingChanges) {
  const auto task = CreateMusic("long one [emu:duration_ms=3000]");
  const auto w = Watch(task.task_id());
  EXPECT_TRUE(w.status.ok());
  EXPECT_GE(w.heartbeats, 2);  // 150 ms heartbeat over a 3 s task
}

TEST_F(E2eTest, WatchUnknownTaskIsNotFound) {
  auto w = Watch("tsk_does_not_exist");
  EXPECT_EQ(w.status.error_code(), grpc::StatusCode::NOT_FOUND);
}

TEST_F(E2eTest, ShutdownEndsWatchStreamsWithUnavailable) {
  const auto task = CreateMusic("long one [emu:duration_ms=5000]");
  grpc::Status status;
  std::thread watcher([&] { status = Watch(task.task_id()).status; });
  // Shut down once the stream is open (it sent the task's current state).
  WaitFor([&] { return watch_messages_ >= 1; }, absl::Seconds(5), "the watch stream");
  server_->Shutdown();
  watcher.join();
  EXPECT_EQ(status.error_code(), grpc::StatusCode::UNAVAILABLE) << status.error_message();
}

TEST_F(E2eTest, ListTasksPaginatesNewestFirstWithFilters) {
  std::vector<std::string> ids;
  ids.reserve(5);
  for (int i = 0; i < 5; ++i) ids.push_back(CreateMusic("song " + std::to_string(i)).task_id());
  music::v1::CreateLyricsRequest lr;
  lr.set_prompt("words");
  music::v1::CreateLyricsResponse lresp;
  grpc::ClientContext lctx;
  ASSERT_TRUE(stub_->CreateLyrics(&lctx, lr, &lresp).ok());

  std::vector<std::string> listed;
  std::string token;
  int pages = 0;
  do {
    music::v1::ListTasksRequest req;
    req.set_page_size(2);
    req.set_page_token(token);
    req.set_kind(music::v1::TASK_KIND_MUSIC);
    music::v1::ListTasksResponse resp;
    grpc::ClientContext ctx;
    ASSERT_TRUE(stub_->ListTasks(&ctx, req, &resp).ok());
    for (const auto& t : resp.tasks()) listed.push_back(t.task_id());
    token = resp.next_page_token();
    ++pages;
  } while (!token.empty() && pages < 10);
  EXPECT_EQ(pages, 3);
  std::vector<std::string> newest_first(ids.rbegin(), ids.rend());
  EXPECT_EQ(listed, newest_first);

  music::v1::ListTasksRequest bad;
  bad.set_page_size(-1);
  music::v1::ListTasksResponse resp;
  grpc::ClientContext ctx;
  EXPECT_EQ(stub_->ListTasks(&ctx, bad, &resp).error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  music::v1::ListTasksRequest changed;
  changed.set_page_size(2);
  changed.set_kind(music::v1::TASK_KIND_MUSIC);
  grpc::ClientContext c1;
  ASSERT_TRUE(stub_->ListTasks(&c1, changed, &resp).ok());
  changed.set_page_token(resp.next_page_token());
  changed.set_kind(music::v1::TASK_KIND_LYRICS);
  grpc::ClientContext c2;
  EXPECT_EQ(stub_->ListTasks(&c2, changed, &resp).error_code(), grpc::StatusCode::INVALID_ARGUMENT);
}

TEST_F(E2eTest, ListModelsShowsTheKieCatalog) {
  music::v1::ListModelsResponse resp;
  grpc::ClientContext ctx;
  ASSERT_TRUE(stub_->ListModels(&ctx, {}, &resp).ok());
  EXPECT_EQ(resp.default_model(), "suno-v4.5");
  ASSERT_EQ(resp.models_size(), 6);  // V3_5, V4, V4_5, V4_5PLUS, V4_5ALL, V5 (CONTRACT-NOTES kie.ai)
  for (const auto& m : resp.models()) {
    EXPECT_EQ(m.provider(), "kie");
    EXPECT_TRUE(m.available());
    EXPECT_EQ(m.capabilities().max_title_chars(), 80);
  }
}

TEST_F(E2eTest, ProviderWithoutKeyIsUnavailableNotFatal) {
  StopServer();
  StartServer(/*with_key=*/false);
  music::v1::ListModelsResponse models;
  grpc::ClientContext ctx;
  ASSERT_TRUE(stub_->ListModels(&ctx, {}, &models).ok());
  EXPECT_FALSE(models.models(0).available());
  EXPECT_FALSE(models.models(0).unavailable_reason().empty());
  music::v1::CreateMusicRequest req;
  req.set_prompt("hello");
  music::v1::CreateMusicResponse resp;
  grpc::ClientContext ctx2;
  EXPECT_EQ(stub_->CreateMusic(&ctx2, req, &resp).error_code(),
            grpc::StatusCode::FAILED_PRECONDITION);
}

}  // namespace
}  // namespace music::e2e

namespace music::e2e {
namespace {

TEST_F(E2eTest, CancelWhilePendingStaysCanceled) {
  // Canceled before (or while) the create reaches the provider.
  const auto task = CreateMusic("cancel at once [emu:duration_ms=800]");
  music::v1::CancelTaskRequest req;
  req.set_task_id(task.task_id());
  music::v1::CancelTaskResponse resp;
  grpc::ClientContext ctx;
  ASSERT_TRUE(stub_->CancelTask(&ctx, req, &resp).ok());
  // If the create reached the provider, let its task run to the end and call back: none of it
  // may undo the cancel. (A canceled task is final, so a create still in flight changes nothing
  // either.)
  WaitFor(
      [&] {
        return emulator_->TaskCount() == 0 ||
               (ProviderFinished() && emulator_->stats().callbacks_sent >= 3);
      },
      absl::Seconds(10), "the provider to finish");
  const auto after = GetTask(task.task_id());
  EXPECT_EQ(after.state(), music::v1::TASK_STATE_CANCELED);
  EXPECT_EQ(after.clips_size(), 0);
  EXPECT_EQ(after.error().code(), static_cast<int>(absl::StatusCode::kCancelled));
}

}  // namespace
}  // namespace music::e2e

namespace music::e2e {
namespace {

TEST_F(E2eTest, SecondServerCannotTakeTheSameCallbackPort) {
  service::CallbackServer other(
      [](absl::string_view, absl::string_view, absl::string_view, const http::Request&,
         absl::string_view) { return absl::OkStatus(); });
  EXPECT_FALSE(other.Bind("127.0.0.1", server_->callback_port()).ok());
}

}  // namespace
}  // namespace music::e2e
