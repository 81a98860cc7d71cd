#ifndef MUSIC_SERVICE_CORE_ARCHIVER_H_
#define MUSIC_SERVICE_CORE_ARCHIVER_H_

#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <queue>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "adapters/http/reference_audio_fetcher.h"
#include "domain/clock.h"
#include "domain/task_record.h"
#include "persistence/archive_store.h"
#include "persistence/task_store.h"
#include "service/core/executor.h"
#include "service/core/metrics.h"
#include "service/core/thread_pool.h"
#include "service/core/watch_hub.h"

namespace music::service {

/// How the archiver copies media. Durations are wall-clock (or FakeClock) time.
struct ArchiverOptions {
  /// Where bytes archived (by media kind) and failed copies (by status code) are counted
  /// (music_archive_bytes_total, music_archive_failures_total). Not owned; nullptr: nowhere.
  Metrics* metrics = nullptr;
  /// Retries of a task whose media could not all be archived: initial * 2^(n-1), capped, with
  /// jitter. kie.ai's download links last 20 minutes, so the defaults try 8 times in about 4.
  absl::Duration backoff_initial = absl::Seconds(1);
  absl::Duration backoff_max = absl::Minutes(1);
  /// Attempts per task in this process before it is left to the sweeper.
  int max_attempts = 8;
  /// How often the sweeper looks for succeeded tasks whose clips are not archived (after a
  /// restart, after failures); it also runs once at Start().
  absl::Duration sweep_interval = absl::Minutes(5);
  /// Tasks created longer ago than this are no longer swept: the providers' media is gone
  /// (kie.ai keeps it 14 days).
  absl::Duration max_age = absl::Hours(14 * 24);
  /// Tasks read per sweeper page.
  int sweep_page = 100;
  /// Download threads (when `executor` is null). Downloads block a thread each: these are never
  /// the engine's or gRPC's threads.
  int workers = 2;
  /// Runs downloads, puts and store writes. Not owned; nullptr: an own ThreadPool of `workers`.
  Executor* executor = nullptr;
  /// True: Start() runs a timer thread for retries and sweeps. False (tests): nothing runs until
  /// the owner calls RunDue().
  bool timer_thread = true;
  /// Longest the timer thread sleeps before re-reading the clock (bounds FakeClock latency).
  absl::Duration timer_tick = absl::Milliseconds(100);
};

/// Counters of the archiver since start, for metrics (another part of the service exports them).
struct ArchiverStats {
  /// Media files stored in the archive, and their bytes.
  int64_t objects_archived = 0;
  int64_t bytes_archived = 0;
  /// Media files that could not be downloaded or stored (each failed attempt counts).
  int64_t failures = 0;
  /// Tasks whose every clip media is archived.
  int64_t tasks_archived = 0;
  /// Sweeper passes run, and tasks they queued.
  int64_t sweeps = 0;
  int64_t swept_tasks = 0;
};

/// Copies every succeeded task's clip media (audio, image, video) into the archive: downloads
/// each provider URL with the SSRF-safe fetcher, checksums it (SHA-256), stores it under
/// "<tenant>/<task_id>/<clip_id>/<audio|image|video>.<ext>" and records it on the clip
/// (Clip.audio_archive, image_archive, video_archive) with a version-checked write, published to
/// the WatchHub. Failed tasks are retried with backoff; a sweeper finds the ones left over (the
/// store's archive index, TaskStore::ListArchivePending) after restarts and failures. Downloads
/// run on the archiver's own executor, never on the engine's or gRPC's threads; the in-memory
/// state is one entry per task being archived. Thread-safe.
class Archiver {
 public:
  /// Pointers must outlive the archiver.
  Archiver(ArchiverOptions options, persistence::TaskStore* tasks,
           persistence::ArchiveStore* archive, http::ReferenceAudioFetcher* fetcher,
           const Clock* clock, WatchHub* hub);
  ~Archiver();
  Archiver(const Archiver&) = delete;
  Archiver& operator=(const Archiver&) = delete;

  /// Queues a sweep and starts the timer thread (with options.timer_thread).
  void Start();
  /// Stops the timer and takes no more work; runs under way go on until they end or until
  /// `abort_at` (wall-clock time, as absl::Now()), whichever comes first. At `abort_at` the
  /// downloads still running are ended (ReferenceAudioFetcher::AbortInFlight) and their runs
  /// fetch nothing more; they still record what they copied. Then joins the own threads. An
  /// aborted copy stays in the store's archive index, so the next start's sweep queues the task
  /// again; the abort counts as no attempt (attempts are per process and a stopping run is
  /// forgotten, not rescheduled). Default: waits for every run. Idempotent.
  void Shutdown(absl::Time abort_at = absl::InfiniteFuture());

  /// Queues a task that ended (TaskEngine's on_task_ended): archives it when it succeeded with
  /// media. Never blocks; a task already queued is not queued twice.
  void OnTaskEnded(const domain::TaskRecord& record);
  /// Queues the task with this id now (as OnTaskEnded, without the record).
  void Enqueue(const std::string& task_id);
  /// Queues a sweeper pass now.
  void SweepNow();
  /// Hands every due retry and sweep to the executor, as the timer thread does. Returns how many
  /// were handed over. For the manual mode (options.timer_thread false).
  int RunDue();

  /// A snapshot of the counters.
  ArchiverStats Stats() const;

  /// The key a clip's media is stored under; each id is escaped to [A-Za-z0-9._-] plus "~XX".
  /// `media` is "audio", "image" or "video"; `extension` includes the dot (".wav").
  static std::string KeyFor(absl::string_view tenant, absl::string_view task_id,
                            absl::string_view clip_id, absl::string_view media,
                            absl::string_view extension);

 private:
  // A task being archived: running on the executor, or waiting in timers_ for its retry.
  struct Entry {
    int attempts = 0;
  };
  // A copy made, to record on clip `clip_id` as its `media` ("audio", "image", "video").
  struct Copied {
    std::string clip_id;
    std::string media;
    music::v1::ArchivedMedia copy;
  };
  struct Timer {
    absl::Time when;
    std::string task_id;  // "" for a sweep
    bool operator>(const Timer& o) const { return when > o.when; }
  };

  void TimerLoop();
  // Archives what one task still lacks; reschedules it on failure.
  void Process(const std::string& task_id);
  // One sweeper pass: pages through the pending tasks and queues them.
  void Sweep();
  // Downloads, checks and stores one media URL.
  absl::StatusOr<music::v1::ArchivedMedia> ArchiveOne(const music::v1::Task& task,
                                                      const music::v1::Clip& clip,
                                                      absl::string_view media,
                                                      const std::string& url);
  // Records the archived copies on the stored task (version-checked, retried on ABORTED).
  // An empty `done` rewrites the row anyway (its archive_pending index entry is refreshed).
  absl::StatusOr<domain::TaskRecord> Record(const std::string& task_id,
                                            const std::vector<Copied>& done);
  // Ends a run of `task_id`: success forgets it; failure schedules a retry (or leaves it to the
  // sweeper after max_attempts). `retry` false (every failure was a refused URL, which a retry
  // seconds later would meet again) leaves it to the sweeper at once.
  void Finish(const std::string& task_id, bool complete, bool retry = true);
  bool Submit(std::function<void()> fn);
  absl::Duration Backoff(int attempt) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  const ArchiverOptions options_;
  persistence::TaskStore* const tasks_;
  persistence::ArchiveStore* const archive_;
  http::ReferenceAudioFetcher* const fetcher_;
  const Clock* const clock_;
  WatchHub* const hub_;
  std::unique_ptr<ThreadPool> own_pool_;
  Executor* const executor_;

  std::atomic<int64_t> objects_archived_{0};
  std::atomic<int64_t> bytes_archived_{0};
  std::atomic<int64_t> failures_{0};
  std::atomic<int64_t> tasks_archived_{0};
  std::atomic<int64_t> sweeps_{0};
  std::atomic<int64_t> swept_tasks_{0};

  mutable absl::Mutex mu_;
  absl::flat_hash_map<std::string, Entry> entries_ ABSL_GUARDED_BY(mu_);
  std::priority_queue<Timer, std::vector<Timer>, std::greater<Timer>> timers_
      ABSL_GUARDED_BY(mu_);
  bool sweeping_ ABSL_GUARDED_BY(mu_) = false;
  bool started_ ABSL_GUARDED_BY(mu_) = false;
  bool stopping_ ABSL_GUARDED_BY(mu_) = false;
  // Set at Shutdown's abort_at: a run fetches nothing more.
  bool aborting_ ABSL_GUARDED_BY(mu_) = false;
  // Closures Submit handed over that are running now (not those still queued).
  int running_ ABSL_GUARDED_BY(mu_) = 0;
  uint64_t jitter_state_ ABSL_GUARDED_BY(mu_) = 0x9e3779b97f4a7c15ULL;
  std::thread timer_;
};

}  // namespace music::service

#endif  // MUSIC_SERVICE_CORE_ARCHIVER_H_
