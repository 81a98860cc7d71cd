#include "service/core/task_merge.h"

#include <gtest/gtest.h>

namespace music::service {
namespace {

using adapters::ProviderState;
using adapters::ProviderUpdate;
using music::v1::Task;

const absl::Time kNow = absl::FromUnixSeconds(1'800'000'000);

Task RunningTask(music::v1::TaskKind kind = music::v1::TASK_KIND_MUSIC) {
  Task t;
  t.set_task_id("t1");
  t.set_kind(kind);
  t.set_state(music::v1::TASK_STATE_RUNNING);
  t.set_provider_task_id("p1");
  return t;
}

music::v1::Clip MakeClip(const std::string& id, const std::string& audio) {
  music::v1::Clip c;
  c.set_clip_id(id);
  c.set_audio_url(audio);
  c.set_title("Song");
  c.set_duration_seconds(12.5);
  return c;
}

TEST(TaskMergeTest, SuccessWithAudioSucceedsAndSetsEndTime) {
  Task t = RunningTask();
  ProviderUpdate u;
  u.state = ProviderState::kSucceeded;
  u.provider_status = "SUCCESS";
  u.clips = {MakeClip("c1", "http://a/c1.wav"), MakeClip("c2", "http://a/c2.wav")};
  ASSERT_TRUE(MergeProviderUpdate(u, kNow, t));
  EXPECT_EQ(t.state(), music::v1::TASK_STATE_SUCCEEDED);
  EXPECT_EQ(t.clips_size(), 2);
  EXPECT_EQ(FromTimestamp(t.end_time()), kNow);
  EXPECT_EQ(t.progress().provider_status(), "SUCCESS");
}

TEST(TaskMergeTest, SuccessDropsClipsThatNeverGotAudio) {
  Task t = RunningTask();
  ProviderUpdate first;
  first.state = ProviderState::kRunning;
  first.first_clip_ready = true;
  first.clips = {MakeClip("c1", "http://a/c1.wav"), MakeClip("c2", "")};
  ASSERT_TRUE(MergeProviderUpdate(first, kNow, t));
  ASSERT_EQ(t.clips_size(), 2);
  ProviderUpdate done;
  done.state = ProviderState::kSucceeded;
  done.clips = {MakeClip("c1", "http://a/c1.wav")};
  ASSERT_TRUE(MergeProviderUpdate(done, kNow, t));
  EXPECT_EQ(t.state(), music::v1::TASK_STATE_SUCCEEDED);
  ASSERT_EQ(t.clips_size(), 1);
  EXPECT_EQ(t.clips(0).clip_id(), "c1");
}

TEST(TaskMergeTest, SuccessWithoutAudioFails) {
  Task t = RunningTask();
  ProviderUpdate u;
  u.state = ProviderState::kSucceeded;
  u.provider_status = "SUCCESS";
  u.clips = {MakeClip("c1", "")};
  ASSERT_TRUE(MergeProviderUpdate(u, kNow, t));
  EXPECT_EQ(t.state(), music::v1::TASK_STATE_FAILED);
  EXPECT_EQ(t.error().code(), static_cast<int>(absl::StatusCode::kInternal));
  EXPECT_EQ(t.error().provider_status(), "SUCCESS");
}

TEST(TaskMergeTest, LyricsSuccessNeedsLyrics) {
  Task t = RunningTask(music::v1::TASK_KIND_LYRICS);
  ProviderUpdate u;
  u.state = ProviderState::kSucceeded;
  ASSERT_TRUE(MergeProviderUpdate(u, kNow, t));
  EXPECT_EQ(t.state(), music::v1::TASK_STATE_FAILED);

  Task ok = RunningTask(music::v1::TASK_KIND_LYRICS);
  music::v1::LyricVariant v;
  v.set_title("A");
  v.set_text("[Verse] la la");
  u.lyric_variants = {v};
  ASSERT_TRUE(MergeProviderUpdate(u, kNow, ok));
  EXPECT_EQ(ok.state(), music::v1::TASK_STATE_SUCCEEDED);
  EXPECT_EQ(ok.lyric_variants_size(), 1);
}

// A clip operation succeeds only with its result; its stems accumulate across reports.
TEST(TaskMergeTest, ClipOperationSuccessNeedsItsResult) {
  Task t = RunningTask(music::v1::TASK_KIND_CLIP_OPERATION);
  t.mutable_input()->set_clip_operation(music::v1::CLIP_OPERATION_SEPARATE_VOCALS);
  t.mutable_input()->set_source_clip_id("c1");
  ProviderUpdate running;
  running.state = ProviderState::kRunning;
  running.has_operation_result = true;
  (*running.operation_result.mutable_stem_urls())["origin"] = "http://a/o.wav";
  ASSERT_TRUE(MergeProviderUpdate(running, kNow, t));
  EXPECT_EQ(t.operation_result().source_clip_id(), "c1");

  ProviderUpdate done;
  done.state = ProviderState::kSucceeded;
  done.provider_status = "SUCCESS";
  done.has_operation_result = true;
  (*done.operation_result.mutable_stem_urls())["vocals"] = "http://a/v.wav";
  Task ok = t;
  ASSERT_TRUE(MergeProviderUpdate(done, kNow, ok));
  EXPECT_EQ(ok.state(), music::v1::TASK_STATE_SUCCEEDED);
  EXPECT_EQ(ok.operation_result().stem_urls().size(), 2u);  // origin kept, vocals added
  EXPECT_EQ(ok.progress().percent(), 100);

  // "Completed" with only the original (no separation result) is a provider fault.
  ProviderUpdate empty;
  empty.state = ProviderState::kSucceeded;
  empty.provider_status = "SUCCESS";
  ASSERT_TRUE(MergeProviderUpdate(empty, kNow, t));
  EXPECT_EQ(t.state(), music::v1::TASK_STATE_FAILED);
  EXPECT_EQ(t.error().code(), static_cast<int32_t>(absl::StatusCode::kInternal));
}

TEST(TaskMergeTest, TerminalTaskNeverChanges) {
  for (auto state : {music::v1::TASK_STATE_SUCCEEDED, music::v1::TASK_STATE_FAILED,
                     music::v1::TASK_STATE_CANCELED}) {
    Task t = RunningTask();
    t.set_state(state);
    const Task before = t;
    ProviderUpdate u;
    u.state = ProviderState::kSucceeded;
    u.clips = {MakeClip("c9", "http://x")};
    EXPECT_FALSE(MergeProviderUpdate(u, kNow, t));
    EXPECT_EQ(t.SerializeAsString(), before.SerializeAsString());
  }
}

TEST(TaskMergeTest, DuplicateUpdateChangesNothing) {
  Task t = RunningTask();
  ProviderUpdate u;
  u.state = ProviderState::kRunning;
  u.first_clip_ready = true;
  u.provider_status = "FIRST_SUCCESS";
  u.clips = {MakeClip("c1", "http://a/c1.wav")};
  ASSERT_TRUE(MergeProviderUpdate(u, kNow, t));
  EXPECT_FALSE(MergeProviderUpdate(u, kNow + absl::Seconds(1), t));
}

TEST(TaskMergeTest, EarlierStageDoesNotMoveBackwards) {
  Task t = RunningTask();
  ProviderUpdate first;
  first.state = ProviderState::kRunning;
  first.first_clip_ready = true;
  first.provider_status = "FIRST_SUCCESS";
  first.clips = {MakeClip("c1", "http://a/c1.wav")};
  ASSERT_TRUE(MergeProviderUpdate(first, kNow, t));

  ProviderUpdate text;  // arrives late
  text.state = ProviderState::kRunning;
  text.lyrics_ready = true;
  text.provider_status = "TEXT_SUCCESS";
  text.clips = {MakeClip("c1", "")};  // emptier report of the same clip
  MergeProviderUpdate(text, kNow, t);
  EXPECT_EQ(t.progress().provider_status(), "FIRST_SUCCESS");
  EXPECT_TRUE(t.progress().first_clip_ready());
  EXPECT_EQ(t.clips(0).audio_url(), "http://a/c1.wav");

  ProviderUpdate pending;
  pending.state = ProviderState::kPending;
  pending.provider_status = "PENDING";
  MergeProviderUpdate(pending, kNow, t);
  EXPECT_EQ(t.state(), music::v1::TASK_STATE_RUNNING);
  EXPECT_EQ(t.progress().provider_status(), "FIRST_SUCCESS");
}

TEST(TaskMergeTest, FailureKeepsProviderCodes) {
  Task t = RunningTask();
  ProviderUpdate u;
  u.state = ProviderState::kFailed;
  u.provider_status = "SENSITIVE_WORD_ERROR";
  u.provider_error_code = "400";
  u.error_code = absl::StatusCode::kInvalidArgument;
  u.error_message = "sensitive words";
  ASSERT_TRUE(MergeProviderUpdate(u, kNow, t));
  EXPECT_EQ(t.state(), music::v1::TASK_STATE_FAILED);
  EXPECT_EQ(t.error().code(), static_cast<int>(absl::StatusCode::kInvalidArgument));
  EXPECT_EQ(t.error().provider_status(), "SENSITIVE_WORD_ERROR");
  EXPECT_EQ(t.error().provider_error_code(), "400");
  EXPECT_EQ(t.error().message(), "sensitive words");
}

TEST(TaskMergeTest, PendingTaskBecomesRunning) {
  Task t = RunningTask();
  t.set_state(music::v1::TASK_STATE_PENDING);
  ProviderUpdate u;
  u.state = ProviderState::kPending;
  u.provider_status = "PENDING";
  ASSERT_TRUE(MergeProviderUpdate(u, kNow, t));
  EXPECT_EQ(t.state(), music::v1::TASK_STATE_RUNNING);
}

TEST(TaskMergeTest, TimestampRoundTrip) {
  google::protobuf::Timestamp ts;
  const absl::Time t = absl::FromUnixMicros(-1'500'001);  // before the epoch: nanos stay >= 0
  SetTimestamp(t, &ts);
  EXPECT_GE(ts.nanos(), 0);
  EXPECT_EQ(FromTimestamp(ts), t);
}

}  // namespace
}  // namespace music::service
