// The archiver over a real SQLite store and a directory archive, with a scripted fetcher, a
// FakeClock and a ManualExecutor: nothing runs until the test runs it, nothing sleeps.
#include "service/core/archiver.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <filesystem>
#include <memory>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "domain/sha256.h"
#include "persistence/archive/local_archive_store.h"
#include "persistence/sqlite/sqlite_task_store.h"
#include "service/core/task_merge.h"
#include "tests/testing/fake_clock.h"
#include "tests/testing/fake_reference_audio_fetcher.h"
#include "tests/testing/manual_executor.h"
#include "tests/testing/metrics_reader.h"
#include "tests/testing/status_matchers.h"
#include "tests/testing/temp_dir.h"

namespace music::service {
namespace {

using ::testing::ElementsAre;
using ::testing::SizeIs;

http::FetchedAudio Media(std::string bytes, std::string type) {
  http::FetchedAudio f;
  f.bytes = std::move(bytes);
  f.content_type = std::move(type);
  return f;
}

class ArchiverTest : public ::testing::Test {
 protected:
  void SetUp() override {
    persistence::SqliteOptions o;
    o.path = dir_.File("tasks.db");
    o.synchronous = "NORMAL";
    auto stores = persistence::OpenSqliteStores(o);
    ASSERT_TRUE(stores.ok()) << stores.status();
    stores_ = *std::move(stores);
    auto archive = persistence::OpenLocalArchiveStore(dir_.File("archive"));
    ASSERT_TRUE(archive.ok()) << archive.status();
    archive_ = *std::move(archive);
    hub_ = std::make_unique<WatchHub>(absl::Hours(1), &clock_, /*ticker_thread=*/false);
  }
  void TearDown() override {
    if (archiver_) archiver_->Shutdown();
  }

  static ArchiverOptions Options() {
    ArchiverOptions o;
    o.backoff_initial = absl::Seconds(2);
    o.backoff_max = absl::Seconds(8);
    o.max_attempts = 3;
    o.sweep_interval = absl::Minutes(5);
    o.max_age = absl::Hours(24);
    return o;
  }
  void StartArchiver(ArchiverOptions o = Options()) {
    o.executor = &executor_;
    o.timer_thread = false;
    archiver_ = std::make_unique<Archiver>(o, stores_.tasks.get(), archive_.get(), &fetcher_,
                                           &clock_, hub_.get());
    archiver_->Start();
  }
  // Runs what is due and everything it queues.
  void Run() {
    for (int i = 0; i < 100; ++i) {
      const int due = archiver_->RunDue();
      if (executor_.RunUntilIdle() == 0 && due == 0) return;
    }
    ADD_FAILURE() << "the archiver never went idle";
  }
  void Advance(absl::Duration d) {
    clock_.Advance(d);
    Run();
  }

  // Stores a succeeded task with `clips` clips (audio and image each) as the engine would.
  domain::TaskRecord SucceededTask(const std::string& id, int clips = 2, bool with_image = true,
                                   music::v1::TaskState state = music::v1::TASK_STATE_SUCCEEDED) {
    domain::TaskRecord r;
    r.task.set_task_id(id);
    r.task.set_tenant("default");
    r.task.set_kind(music::v1::TASK_KIND_MUSIC);
    r.task.set_state(music::v1::TASK_STATE_RUNNING);
    r.task.set_version(1);
    SetTimestamp(clock_.Now(), r.task.mutable_create_time());
    SetTimestamp(clock_.Now(), r.task.mutable_update_time());
    EXPECT_TRUE(stores_.tasks->Create(r).ok());
    r.task.set_state(state);
    for (int i = 0; i < clips; ++i) {
      music::v1::Clip* c = r.task.add_clips();
      c->set_clip_id(absl::StrCat("clip-", i));
      c->set_audio_url(absl::StrCat("https://cdn.example/audio/", i, ".mp3"));
      if (with_image) c->set_image_url(absl::StrCat("https://cdn.example/img/", i, ".jpeg"));
    }
    r.task.set_version(2);
    EXPECT_TRUE(stores_.tasks->Update(r).ok());
    return r;
  }
  domain::TaskRecord Stored(const std::string& id) {
    auto r = stores_.tasks->Get(id);
    EXPECT_TRUE(r.ok()) << r.status();
    return r.ok() ? *r : domain::TaskRecord();
  }
  std::vector<std::string> PendingIds() {
    auto page = stores_.tasks->ListArchivePending({});
    EXPECT_TRUE(page.ok()) << page.status();
    std::vector<std::string> ids;
    if (page.ok()) {
      for (const auto& r : *page) ids.push_back(r.task.task_id());
    }
    return ids;
  }

  TempDir dir_{"archiver"};
  FakeClock clock_;
  ManualExecutor executor_;
  http::FakeReferenceAudioFetcher fetcher_;
  persistence::Stores stores_;
  std::unique_ptr<persistence::ArchiveStore> archive_;
  std::unique_ptr<WatchHub> hub_;
  std::unique_ptr<Archiver> archiver_;
};

TEST_F(ArchiverTest, ArchivesEveryClipsAudioAndImageAndRecordsThemOnTheClip) {
  StartArchiver();
  Run();  // the start-up sweep: nothing yet
  const domain::TaskRecord task = SucceededTask("t1");
  EXPECT_THAT(PendingIds(), ElementsAre("t1"));
  fetcher_.Queue(Media("RIFF-audio-bytes", "audio/mpeg; charset=binary"));
  archiver_->OnTaskEnded(task);
  Run();

  EXPECT_THAT(fetcher_.urls(),
              ElementsAre("https://cdn.example/audio/0.mp3", "https://cdn.example/img/0.jpeg",
                          "https://cdn.example/audio/1.mp3", "https://cdn.example/img/1.jpeg"));
  const domain::TaskRecord stored = Stored("t1");
  EXPECT_EQ(stored.task.version(), 3);
  ASSERT_THAT(stored.task.clips(), SizeIs(2));
  const music::v1::ArchivedMedia& audio = stored.task.clips(1).audio_archive();
  EXPECT_EQ(audio.key(), "default/t1/clip-1/audio.mp3");
  EXPECT_EQ(audio.content_type(), "audio/mpeg");
  EXPECT_EQ(audio.size_bytes(), 16);
  EXPECT_EQ(audio.sha256(), domain::Sha256Hex("RIFF-audio-bytes"));
  EXPECT_EQ(audio.location(),
            "file://" + std::filesystem::path(dir_.File("archive/default/t1/clip-1/audio.mp3"))
                            .lexically_normal()
                            .string());
  EXPECT_EQ(FromTimestamp(audio.archive_time()), clock_.Now());
  EXPECT_EQ(stored.task.clips(0).image_archive().key(), "default/t1/clip-0/image.mp3");
  EXPECT_FALSE(stored.task.clips(0).has_video_archive());  // no video_url
  EXPECT_THAT(archive_->Read(audio.key(), 0, 100), IsOkAndHolds("RIFF-audio-bytes"));
  EXPECT_THAT(PendingIds(), ::testing::IsEmpty());

  const ArchiverStats stats = archiver_->Stats();
  EXPECT_EQ(stats.objects_archived, 4);
  EXPECT_EQ(stats.bytes_archived, 64);
  EXPECT_EQ(stats.failures, 0);
  EXPECT_EQ(stats.tasks_archived, 1);
}

TEST_F(ArchiverTest, TasksThatDidNotSucceedOrHaveNoMediaAreNotFetched) {
  const domain::TaskRecord failed =
      SucceededTask("t1", 1, true, music::v1::TASK_STATE_FAILED);  // clips from a first callback
  const domain::TaskRecord lyrics = SucceededTask("t2", /*clips=*/0);
  StartArchiver();
  archiver_->OnTaskEnded(failed);
  archiver_->OnTaskEnded(lyrics);
  Run();  // the start-up sweep too
  EXPECT_EQ(fetcher_.fetches(), 0);
  EXPECT_THAT(PendingIds(), ::testing::IsEmpty());
}

TEST_F(ArchiverTest, FailedDownloadsAreRetriedWithBackoffAndCounted) {
  StartArchiver();
  Run();
  const domain::TaskRecord task = SucceededTask("t1", /*clips=*/1, /*with_image=*/false);
  fetcher_.Queue(absl::UnavailableError("connection reset"));
  fetcher_.Queue(Media("audio", "audio/wav"));
  archiver_->OnTaskEnded(task);
  Run();
  EXPECT_EQ(fetcher_.fetches(), 1);
  EXPECT_FALSE(Stored("t1").task.clips(0).has_audio_archive());
  EXPECT_EQ(archiver_->Stats().failures, 1);

  // The first retry is due 1-2 s later (2 s with jitter in [50 %, 100 %]), not before.
  Advance(absl::Milliseconds(900));
  EXPECT_EQ(fetcher_.fetches(), 1);
  Advance(absl::Milliseconds(1200));
  EXPECT_EQ(fetcher_.fetches(), 2);
  EXPECT_EQ(Stored("t1").task.clips(0).audio_archive().key(), "default/t1/clip-0/audio.wav");
}

// Issue 13: "archive bytes and failures" on the metrics endpoint.
TEST_F(ArchiverTest, BytesAndFailuresAreCountedInTheMetrics) {
  Metrics metrics;
  ArchiverOptions o = Options();
  o.metrics = &metrics;
  StartArchiver(o);
  Run();
  const domain::TaskRecord task = SucceededTask("t1", /*clips=*/1, /*with_image=*/false);
  fetcher_.Queue(absl::UnavailableError("connection reset"));
  fetcher_.Queue(Media("audio", "audio/wav"));
  archiver_->OnTaskEnded(task);
  Run();
  EXPECT_EQ(Value(metrics, "music_archive_failures_total", {{"reason", "UNAVAILABLE"}}), 1);
  Advance(absl::Seconds(3));
  ASSERT_TRUE(Stored("t1").task.clips(0).has_audio_archive());
  const int64_t size = Stored("t1").task.clips(0).audio_archive().size_bytes();
  ASSERT_GT(size, 0);
  EXPECT_EQ(Value(metrics, "music_archive_bytes_total", {{"kind", "audio"}}),
            static_cast<double>(size));
}

TEST_F(ArchiverTest, PartialSuccessIsKeptAndOnlyTheRestIsFetchedAgain) {
  StartArchiver();
  Run();
  const domain::TaskRecord task = SucceededTask("t1", /*clips=*/1);
  fetcher_.Queue(Media("audio", "audio/wav"));
  fetcher_.Queue(absl::FailedPreconditionError("HTTP 403"));
  fetcher_.Queue(Media("png", "image/png"));
  archiver_->OnTaskEnded(task);
  Run();
  domain::TaskRecord stored = Stored("t1");
  EXPECT_TRUE(stored.task.clips(0).has_audio_archive());
  EXPECT_FALSE(stored.task.clips(0).has_image_archive());
  EXPECT_THAT(PendingIds(), ElementsAre("t1"));

  Advance(absl::Seconds(2));
  EXPECT_THAT(fetcher_.urls(),
              ElementsAre("https://cdn.example/audio/0.mp3", "https://cdn.example/img/0.jpeg",
                          "https://cdn.example/img/0.jpeg"));
  stored = Stored("t1");
  EXPECT_EQ(stored.task.clips(0).image_archive().key(), "default/t1/clip-0/image.png");
  EXPECT_EQ(stored.task.clips(0).image_archive().content_type(), "image/png");
  EXPECT_THAT(PendingIds(), ::testing::IsEmpty());
}

TEST_F(ArchiverTest, AfterMaxAttemptsTheSweeperTakesOver) {
  StartArchiver();
  Run();
  const domain::TaskRecord task = SucceededTask("t1", /*clips=*/1, /*with_image=*/false);
  fetcher_.Queue(absl::UnavailableError("down"));
  archiver_->OnTaskEnded(task);
  Run();
  Advance(absl::Seconds(2));  // attempt 2
  Advance(absl::Seconds(4));  // attempt 3: the last of max_attempts
  Advance(absl::Seconds(8));  // nothing left to retry
  EXPECT_EQ(fetcher_.fetches(), 3);
  EXPECT_EQ(archiver_->Stats().failures, 3);

  // The queue's last answer repeats: the next fetch still fails, the one after succeeds.
  fetcher_.Queue(Media("audio", "audio/wav"));
  Advance(absl::Minutes(5));  // the next sweep queues it again
  EXPECT_EQ(fetcher_.fetches(), 4);
  EXPECT_GE(archiver_->Stats().sweeps, 2);
  Advance(absl::Seconds(2));  // and its retry gets through
  EXPECT_EQ(fetcher_.fetches(), 5);
  EXPECT_TRUE(Stored("t1").task.clips(0).has_audio_archive());
}

TEST_F(ArchiverTest, ARestartedArchiverFinishesWhatTheLastOneLeft) {
  StartArchiver();
  Run();
  SucceededTask("t1", /*clips=*/1, /*with_image=*/false);
  SucceededTask("t2", /*clips=*/1, /*with_image=*/false);
  // The process "dies" before it heard of them (no OnTaskEnded): only the store knows.
  archiver_->Shutdown();
  archiver_.reset();

  fetcher_.Queue(Media("audio", "audio/wav"));
  StartArchiver();
  Run();  // the start-up sweep
  EXPECT_TRUE(Stored("t1").task.clips(0).has_audio_archive());
  EXPECT_TRUE(Stored("t2").task.clips(0).has_audio_archive());
  EXPECT_EQ(archiver_->Stats().swept_tasks, 2);
  EXPECT_THAT(PendingIds(), ::testing::IsEmpty());
}

TEST_F(ArchiverTest, TheSweeperPagesAndSkipsTasksPastTheProvidersExpiry) {
  SucceededTask("old", /*clips=*/1, /*with_image=*/false);
  clock_.Advance(absl::Hours(25));  // past max_age (24 h)
  for (int i = 0; i < 5; ++i) SucceededTask(absl::StrCat("new", i), 1, false);
  fetcher_.Queue(Media("audio", "audio/wav"));
  ArchiverOptions o = Options();
  o.sweep_page = 2;
  StartArchiver(o);
  Run();
  EXPECT_EQ(fetcher_.fetches(), 5);
  EXPECT_FALSE(Stored("old").task.clips(0).has_audio_archive());
  EXPECT_THAT(PendingIds(), ElementsAre("old"));
}

// A refused URL is refused again seconds later: no backoff retries, one failure per pass of the
// sweeper (which still comes back, should the policy change).
TEST_F(ArchiverTest, ARefusedUrlIsNotRetriedOnBackoffButTheSweeperComesBack) {
  StartArchiver();
  Run();
  const domain::TaskRecord task = SucceededTask("t1", /*clips=*/1, /*with_image=*/false);
  fetcher_.Queue(absl::InvalidArgumentError("URL scheme \"http\" not allowed; use https"));
  archiver_->OnTaskEnded(task);
  Run();
  EXPECT_EQ(fetcher_.fetches(), 1);
  Advance(absl::Seconds(2));
  Advance(absl::Seconds(4));
  Advance(absl::Seconds(8));
  EXPECT_EQ(fetcher_.fetches(), 1);
  EXPECT_THAT(PendingIds(), ElementsAre("t1"));

  fetcher_.Queue(absl::PermissionDeniedError("every address is private"));
  Advance(absl::Minutes(5));  // the sweep tries it once more
  EXPECT_EQ(fetcher_.fetches(), 2);
  Advance(absl::Seconds(8));
  EXPECT_EQ(fetcher_.fetches(), 2);
  EXPECT_EQ(archiver_->Stats().failures, 2);
}

// A refused URL does not stop the retries of another media that failed for a passing reason.
TEST_F(ArchiverTest, AFailureThatMayPassKeepsTheBackoffRetries) {
  StartArchiver();
  Run();
  const domain::TaskRecord task = SucceededTask("t1", /*clips=*/1);
  fetcher_.Queue(absl::InvalidArgumentError("URL has no host"));
  fetcher_.Queue(absl::UnavailableError("connection reset"));
  fetcher_.Queue(Media("audio", "audio/wav"));
  fetcher_.Queue(Media("png", "image/png"));
  archiver_->OnTaskEnded(task);
  Run();
  EXPECT_EQ(fetcher_.fetches(), 2);
  Advance(absl::Seconds(2));
  EXPECT_EQ(fetcher_.fetches(), 4);
  EXPECT_THAT(PendingIds(), ::testing::IsEmpty());
}

TEST_F(ArchiverTest, ATaskIsQueuedOnceWhateverTellsItAboutIt) {
  StartArchiver();
  Run();
  const domain::TaskRecord task = SucceededTask("t1", /*clips=*/1, /*with_image=*/false);
  fetcher_.Queue(Media("audio", "audio/wav"));
  archiver_->OnTaskEnded(task);
  archiver_->OnTaskEnded(task);
  archiver_->SweepNow();
  Run();
  EXPECT_EQ(fetcher_.fetches(), 1);
  EXPECT_EQ(Stored("t1").task.version(), 3);
}

// Issue 11, shutdown within its grace: a download that stalls (archive.timeout_seconds can be
// minutes) is aborted at Shutdown's abort point; the task stays pending in the store, the abort
// costs it no attempt, and the next start archives it.
TEST_F(ArchiverTest, ShutdownAbortsAStalledDownloadAndTheNextStartArchivesTheTask) {
  StartArchiver();
  Run();  // the start-up sweep: nothing yet
  const domain::TaskRecord task = SucceededTask("t1", /*clips=*/1);  // audio and image
  fetcher_.Stall(true);
  archiver_->OnTaskEnded(task);
  // The archiver's download thread; the test thread plays the process shutting down.
  std::thread download([this] { executor_.RunUntilIdle(); });
  fetcher_.AwaitStalled(1);
  archiver_->Shutdown(absl::InfinitePast());  // returns only once no run is under way
  download.join();
  EXPECT_GE(fetcher_.aborts(), 1);
  // The run stopped at the abort: the clip's image was not asked for.
  EXPECT_THAT(fetcher_.urls(), ElementsAre("https://cdn.example/audio/0.mp3"));
  EXPECT_FALSE(Stored("t1").task.clips(0).has_audio_archive());
  EXPECT_THAT(PendingIds(), ElementsAre("t1"));
  archiver_.reset();

  fetcher_.Stall(false);
  fetcher_.Queue(Media("audio", "audio/wav"));
  StartArchiver();
  Run();  // the start-up sweep finds it
  const domain::TaskRecord stored = Stored("t1");
  EXPECT_EQ(stored.task.clips(0).audio_archive().key(), "default/t1/clip-0/audio.wav");
  EXPECT_TRUE(stored.task.clips(0).has_image_archive());
  EXPECT_THAT(PendingIds(), ::testing::IsEmpty());
}

TEST(ArchiverKeyTest, IdsAreEscapedIntoSafeSegments) {
  EXPECT_EQ(Archiver::KeyFor("default", "t1", "c-1.a", "audio", ".wav"),
            "default/t1/c-1.a/audio.wav");
  EXPECT_EQ(Archiver::KeyFor("default", "tsk_1", "c", "audio", ".wav"), "default/tsk_1/c/audio.wav");
  EXPECT_EQ(Archiver::KeyFor("a/b", "..", "x y~z", "image", ".png"),
            "a~2Fb/~2E~2E/x~20y~7Ez/image.png");
  EXPECT_EQ(Archiver::KeyFor("", "t", "c", "video", ".mp4"), "~/t/c/video.mp4");
  EXPECT_TRUE(persistence::ValidArchiveKey(Archiver::KeyFor("a/b", "..", "%", "audio", ".bin")));
}

}  // namespace
}  // namespace music::service
