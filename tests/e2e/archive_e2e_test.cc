// The output archive end to end: a real server archives each succeeded clip through the SSRF-safe
// fetcher (loopback and http allowed for the emulator only) into a directory or into a real
// S3-compatible server (s3rver, started here on a loopback port), and GetClipAudio serves the
// bytes back after the provider's links have expired.
#include <httplib.h>

#include <filesystem>
#include <memory>
#include <string>
#include <vector>

#include "adapters/http/safe_fetcher.h"
#include "domain/sha256.h"
#include "persistence/archive/local_archive_store.h"
#include "persistence/archive/s3_archive_store.h"
#include "tests/e2e/e2e_fixture.h"
#include "tests/testing/s3rver.h"

namespace music::e2e {
namespace {

struct Audio {
  grpc::Status status;
  std::vector<music::v1::GetClipAudioResponse> messages;
  std::string bytes;
};

class ArchiveE2eTest : public E2eTest, public ::testing::WithParamInterface<std::string> {
 protected:
  // 8 s of WAV (352,844 bytes): more than one 256 KiB GetClipAudio chunk.
  void ConfigureEmulator(emulator::EmulatorOptions& options) override {
    options.clip_seconds = 8;
  }

  void ConfigureServer(service::ServerOptions& options) override {
    http::SafeFetchOptions fo;
    fo.allow_loopback = true;  // the emulator is on 127.0.0.1 (tests only)
    fo.allow_http = true;
    options.owned_archive_fetcher = http::NewSafeFetcher(fo);
    options.archive_fetcher = options.owned_archive_fetcher.get();
    options.archiver.backoff_initial = absl::Milliseconds(50);
    options.archiver.backoff_max = absl::Milliseconds(200);
    options.archiver.max_attempts = 3;
    // Only the start-up sweep runs within a test: a restart is what finishes failed archives.
    options.archiver.sweep_interval = absl::Hours(1);
  }

  std::shared_ptr<persistence::ArchiveStore> MakeArchive() override {
    if (GetParam() == "directory") {
      auto store = persistence::OpenLocalArchiveStore(dir_.File("archive"));
      EXPECT_TRUE(store.ok()) << store.status();
      return store.ok() ? std::shared_ptr<persistence::ArchiveStore>(*std::move(store)) : nullptr;
    }
    if (s3rver_ == nullptr) {  // one server for the test, across server restarts
      s3rver_ = std::make_unique<S3rverProcess>();
      EXPECT_TRUE(s3rver_->Start(s3_dir_.path(), "music-archive"));
    }
    persistence::S3ArchiveOptions so;
    so.endpoint = s3rver_->endpoint();
    so.bucket = "music-archive";
    so.access_key_id = S3rverProcess::kAccessKey;
    so.secret_access_key = S3rverProcess::kSecretKey;
    auto store = persistence::OpenS3ArchiveStore(so);
    EXPECT_TRUE(store.ok()) << store.status();
    return store.ok() ? std::shared_ptr<persistence::ArchiveStore>(*std::move(store)) : nullptr;
  }

  void SetMediaExpired(bool expired) {
    emulator::FaultConfig faults = emulator_->faults();
    faults.media_expired = expired;
    emulator_->SetFaults(faults);
  }

  // GET of a provider URL on the emulator: status and body.
  std::pair<int, std::string> Download(const std::string& url) {
    const std::string base = emulator_->base_url();
    EXPECT_EQ(url.rfind(base, 0), 0u) << url;
    httplib::Client client("127.0.0.1", emulator_->port());
    auto res = client.Get(url.substr(base.size()));
    if (!res) return {0, ""};
    return {res->status, res->body};
  }

  static bool Archived(const music::v1::Task& task) {
    if (task.clips().empty()) return false;
    for (const auto& clip : task.clips()) {
      if (!clip.has_audio_archive() || !clip.has_image_archive()) return false;
    }
    return true;
  }

  // Waits for the archiver to record every clip's audio and image.
  music::v1::Task WaitArchived(const std::string& id) {
    music::v1::Task task;
    EXPECT_TRUE(WaitFor(
        [&] {
          task = GetTask(id);
          return Archived(task);
        },
        absl::Seconds(20), "the archive to record every clip"));
    return task;
  }

  Audio GetClipAudio(const std::string& task_id, const std::string& clip_id, int64_t offset = 0,
                     int64_t length = 0) {
    music::v1::GetClipAudioRequest req;
    req.set_task_id(task_id);
    req.set_clip_id(clip_id);
    req.set_offset(offset);
    req.set_length(length);
    grpc::ClientContext ctx;
    ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(20));
    auto reader = stub_->GetClipAudio(&ctx, req);
    Audio audio;
    music::v1::GetClipAudioResponse msg;
    while (reader->Read(&msg)) {
      audio.bytes += msg.data();
      audio.messages.push_back(msg);
    }
    audio.status = reader->Finish();
    return audio;
  }

  // The task as the database file holds it, while no server runs.
  music::v1::Task GetTaskFromStore(const std::string& id) {
    persistence::SqliteOptions so;
    so.path = db_path_;
    auto stores = persistence::OpenSqliteStores(so);
    EXPECT_TRUE(stores.ok()) << stores.status();
    if (!stores.ok()) return {};
    auto record = stores->tasks->Get(id);
    EXPECT_TRUE(record.ok()) << record.status();
    return record.ok() ? record->task : music::v1::Task();
  }

  // Media files of `task` the archiver has to copy.
  static int64_t MediaCount(const music::v1::Task& task) {
    int64_t n = 0;
    for (const auto& clip : task.clips()) {
      n += !clip.audio_url().empty() + !clip.image_url().empty() + !clip.video_url().empty();
    }
    return n;
  }

  TempDir s3_dir_{"e2e_s3rver"};
  std::unique_ptr<S3rverProcess> s3rver_;
};

TEST_P(ArchiveE2eTest, AnExpiredProviderUrlIsServedFromTheArchiveWithItsChecksum) {
  const music::v1::Task created = CreateMusic("a calm piano piece");
  const music::v1::Task done = WaitDone(created.task_id());
  ASSERT_EQ(done.state(), music::v1::TASK_STATE_SUCCEEDED);
  const music::v1::Task task = WaitArchived(created.task_id());
  ASSERT_FALSE(task.clips().empty());
  const music::v1::Clip& clip = task.clips(0);
  auto [status, original] = Download(clip.audio_url());
  ASSERT_EQ(status, 200);

  SetMediaExpired(true);
  EXPECT_EQ(Download(clip.audio_url()).first, 403);  // the provider's link is dead now

  const Audio audio = GetClipAudio(task.task_id(), clip.clip_id());
  ASSERT_TRUE(audio.status.ok()) << audio.status.error_message();
  EXPECT_EQ(audio.bytes, original);
  EXPECT_EQ(domain::Sha256Hex(audio.bytes), clip.audio_archive().sha256());
  EXPECT_EQ(static_cast<int64_t>(audio.bytes.size()), clip.audio_archive().size_bytes());
  ASSERT_GE(audio.messages.size(), 2u);  // 8 s of WAV is more than one 256 KiB chunk
  EXPECT_EQ(audio.messages[0].content_type(), "audio/wav");
  EXPECT_EQ(audio.messages[0].total_size_bytes(), clip.audio_archive().size_bytes());
  EXPECT_EQ(audio.messages[0].sha256(), clip.audio_archive().sha256());
  EXPECT_EQ(audio.messages[1].content_type(), "");  // metadata in the first message only
  EXPECT_EQ(audio.messages[1].offset(), static_cast<int64_t>(audio.messages[0].data().size()));
  EXPECT_EQ(audio.bytes.substr(0, 4), "RIFF");
  if (GetParam() == "s3") {
    EXPECT_EQ(clip.audio_archive().location(),
              "s3://music-archive/" + clip.audio_archive().key());
  } else {
    EXPECT_EQ(clip.audio_archive().location(),
              "file://" + std::filesystem::path(dir_.File("archive/" + clip.audio_archive().key()))
                              .lexically_normal()
                              .string());
  }
  // Without a clip id: the first clip.
  EXPECT_EQ(GetClipAudio(task.task_id(), "").bytes, original);
}

TEST_P(ArchiveE2eTest, ARangeReadReturnsExactlyThoseBytes) {
  const music::v1::Task created = CreateMusic("a range");
  ASSERT_EQ(WaitDone(created.task_id()).state(), music::v1::TASK_STATE_SUCCEEDED);
  const music::v1::Task task = WaitArchived(created.task_id());
  ASSERT_GE(task.clips_size(), 2);
  const music::v1::Clip& clip = task.clips(1);
  const Audio whole = GetClipAudio(task.task_id(), clip.clip_id());
  ASSERT_TRUE(whole.status.ok()) << whole.status.error_message();
  const int64_t size = static_cast<int64_t>(whole.bytes.size());

  Audio part = GetClipAudio(task.task_id(), clip.clip_id(), 1000, 300'000);
  ASSERT_TRUE(part.status.ok()) << part.status.error_message();
  EXPECT_EQ(part.bytes, whole.bytes.substr(1000, 300'000));
  EXPECT_EQ(part.messages[0].offset(), 1000);
  EXPECT_EQ(part.messages[0].total_size_bytes(), size);

  part = GetClipAudio(task.task_id(), clip.clip_id(), size - 10, 1000);  // cut at the end
  ASSERT_TRUE(part.status.ok());
  EXPECT_EQ(part.bytes, whole.bytes.substr(static_cast<size_t>(size - 10)));

  part = GetClipAudio(task.task_id(), clip.clip_id(), size);  // at the end: no bytes
  ASSERT_TRUE(part.status.ok());
  ASSERT_EQ(part.messages.size(), 1u);
  EXPECT_EQ(part.bytes, "");
  EXPECT_EQ(part.messages[0].total_size_bytes(), size);

  EXPECT_EQ(GetClipAudio(task.task_id(), clip.clip_id(), size + 1).status.error_code(),
            grpc::StatusCode::OUT_OF_RANGE);
  EXPECT_EQ(GetClipAudio(task.task_id(), clip.clip_id(), -1).status.error_code(),
            grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_EQ(GetClipAudio(task.task_id(), clip.clip_id(), 0, -5).status.error_code(),
            grpc::StatusCode::INVALID_ARGUMENT);
}

TEST_P(ArchiveE2eTest, AClipNotArchivedYetIsFailedPreconditionAndUnknownOnesNotFound) {
  SetMediaExpired(true);  // the links are dead before the archiver gets to them
  const music::v1::Task created = CreateMusic("too late");
  const music::v1::Task done = WaitDone(created.task_id());
  ASSERT_EQ(done.state(), music::v1::TASK_STATE_SUCCEEDED);
  // Every attempt (max_attempts 3) fails every media file.
  ASSERT_TRUE(WaitFor([&] { return server_->archiver()->Stats().failures >= 3 * MediaCount(done); },
                      absl::Seconds(20), "every archive attempt to fail"));
  const music::v1::Task task = GetTask(created.task_id());
  ASSERT_FALSE(task.clips().empty());
  EXPECT_FALSE(task.clips(0).has_audio_archive());
  const Audio audio = GetClipAudio(task.task_id(), task.clips(0).clip_id());
  EXPECT_EQ(audio.status.error_code(), grpc::StatusCode::FAILED_PRECONDITION)
      << audio.status.error_message();
  EXPECT_TRUE(audio.messages.empty());

  EXPECT_EQ(GetClipAudio("no-such-task", "c").status.error_code(), grpc::StatusCode::NOT_FOUND);
  EXPECT_EQ(GetClipAudio(task.task_id(), "no-such-clip").status.error_code(),
            grpc::StatusCode::NOT_FOUND);
  EXPECT_EQ(GetClipAudio("", "").status.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
}

TEST_P(ArchiveE2eTest, ARestartFinishesArchivingThatFailedBeforeIt) {
  SetMediaExpired(true);
  const music::v1::Task created = CreateMusic("archive me after a restart");
  ASSERT_EQ(WaitDone(created.task_id()).state(), music::v1::TASK_STATE_SUCCEEDED);
  ASSERT_TRUE(WaitFor([&] { return server_->archiver()->Stats().failures >= 1; },
                      absl::Seconds(20), "an archive attempt to fail"));
  // Stopped while archiving fails; its next sweep would be in an hour.
  StopServer();
  EXPECT_FALSE(Archived(GetTaskFromStore(created.task_id())));

  SetMediaExpired(false);  // the links work again (within the provider's 14 days)
  StartServer();
  const music::v1::Task task = WaitArchived(created.task_id());
  EXPECT_EQ(server_->archiver()->Stats().swept_tasks, 1);
  for (const music::v1::Clip& clip : task.clips()) {
    const Audio audio = GetClipAudio(task.task_id(), clip.clip_id());
    ASSERT_TRUE(audio.status.ok()) << audio.status.error_message();
    EXPECT_EQ(domain::Sha256Hex(audio.bytes), clip.audio_archive().sha256());
  }
}

// Issue 11, shutdown within its grace: an archive download whose server stalls mid-body (it
// could hold the process for the fetcher's whole timeout, 120 s here) is aborted, the process
// stops within shutdown_grace (2 s), and the next start archives the clip.
TEST_P(ArchiveE2eTest, ShutdownAbortsAStalledDownloadWithinGraceAndARestartArchivesIt) {
  emulator::FaultConfig faults = emulator_->faults();
  faults.media_stall = true;
  emulator_->SetFaults(faults);
  const music::v1::Task created = CreateMusic("archive me although the CDN stalls");
  ASSERT_EQ(WaitDone(created.task_id()).state(), music::v1::TASK_STATE_SUCCEEDED);
  ASSERT_TRUE(WaitFor([&] { return emulator_->stats().audio_stalled >= 1; }, absl::Seconds(20),
                      "an archive download to stall"));

  const absl::Time start = absl::Now();
  StopServer();
  const absl::Duration took = absl::Now() - start;
  EXPECT_LT(took, absl::Seconds(2)) << "shutdown_grace_seconds is 2";
  EXPECT_FALSE(Archived(GetTaskFromStore(created.task_id())));

  faults.media_stall = false;
  emulator_->SetFaults(faults);
  StartServer();
  const music::v1::Task task = WaitArchived(created.task_id());
  EXPECT_EQ(server_->archiver()->Stats().swept_tasks, 1);
  for (const music::v1::Clip& clip : task.clips()) {
    const Audio audio = GetClipAudio(task.task_id(), clip.clip_id());
    ASSERT_TRUE(audio.status.ok()) << audio.status.error_message();
    EXPECT_EQ(domain::Sha256Hex(audio.bytes), clip.audio_archive().sha256());
  }
}

INSTANTIATE_TEST_SUITE_P(Backends, ArchiveE2eTest, ::testing::Values("directory", "s3"),
                         [](const auto& info) { return info.param; });

}  // namespace
}  // namespace music::e2e
