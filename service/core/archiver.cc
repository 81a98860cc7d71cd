// The archiver. Why it looks the way it does:
//  - Provider links expire (kie.ai's download links after 20 minutes, its media after 14 days),
//    so a task is queued the moment the engine stores its success (on_task_ended), and retried
//    with short backoff; what still fails is found again by the sweeper, which also resumes the
//    work a restart interrupted. The store keeps the queue (the archive_pending index), so
//    nothing is lost when the process dies between the success and the copy.
//  - Downloads block (the SSRF-safe fetcher is synchronous) and bodies reach 100 MB: they run on
//    the archiver's own threads. The engine's hook only inserts an entry and schedules it.
//  - A copy is recorded on the clip with the same version-checked write every writer uses, so a
//    late engine write and the archiver never lose each other's changes (ABORTED: read again).
//  - The object is written before the clip names it: a clip with an archived copy always points
//    at bytes with that checksum; a crash in between leaves an unreferenced object that the
//    next attempt overwrites with the same bytes.
#include "service/core/archiver.h"

#include <algorithm>
#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "domain/sha256.h"
#include "service/core/event_log.h"
#include "service/core/task_merge.h"

namespace music::service {
namespace {

using domain::TaskRecord;
using music::v1::ArchivedMedia;
using music::v1::Clip;

// One media file of a clip still to copy.
struct Missing {
  std::string clip_id;
  std::string media;  // "audio", "image", "video"
  std::string url;
};

ArchivedMedia* MediaField(Clip& clip, absl::string_view media) {
  if (media == "audio") return clip.mutable_audio_archive();
  if (media == "image") return clip.mutable_image_archive();
  return clip.mutable_video_archive();
}

bool HasMedia(const Clip& clip, absl::string_view media) {
  if (media == "audio") return clip.has_audio_archive();
  if (media == "image") return clip.has_image_archive();
  return clip.has_video_archive();
}

std::vector<Missing> MissingMedia(const music::v1::Task& task) {
  std::vector<Missing> out;
  for (const Clip& clip : task.clips()) {
    const std::pair<const char*, const std::string*> media[] = {
        {"audio", &clip.audio_url()}, {"image", &clip.image_url()}, {"video", &clip.video_url()}};
    for (const auto& [name, url] : media) {
      if (!url->empty() && !HasMedia(clip, name)) out.push_back({clip.clip_id(), name, *url});
    }
  }
  return out;
}

// The provider's Content-Type without parameters when it looks like a media type, else a
// generic one: the header is untrusted and is handed back to GetClipAudio callers.
std::string CleanContentType(absl::string_view header) {
  std::string type = absl::AsciiStrToLower(
      absl::StripAsciiWhitespace(header.substr(0, std::min(header.find(';'), header.size()))));
  const size_t slash = type.find('/');
  bool ok = slash != std::string::npos && slash > 0 && slash + 1 < type.size() &&
            type.size() <= 100;
  for (char c : type) {
    ok = ok && (absl::ascii_isalnum(static_cast<unsigned char>(c)) || c == '/' || c == '.' ||
                c == '+' || c == '-');
  }
  return ok ? type : "application/octet-stream";
}

// A file extension for the key: from the media type, else from the URL's path, else ".bin".
std::string ExtensionFor(absl::string_view content_type, absl::string_view url) {
  static constexpr std::pair<const char*, const char*> kTypes[] = {
      {"audio/wav", ".wav"},  {"audio/x-wav", ".wav"}, {"audio/wave", ".wav"},
      {"audio/mpeg", ".mp3"}, {"audio/mp3", ".mp3"},   {"audio/flac", ".flac"},
      {"audio/ogg", ".ogg"},  {"audio/mp4", ".m4a"},   {"image/png", ".png"},
      {"image/jpeg", ".jpg"}, {"image/webp", ".webp"}, {"video/mp4", ".mp4"},
  };
  for (const auto& [type, ext] : kTypes) {
    if (content_type == type) return ext;
  }
  absl::string_view path = url.substr(0, std::min(url.find_first_of("?#"), url.size()));
  const size_t dot = path.rfind('.');
  if (dot != absl::string_view::npos && path.find('/', dot) == absl::string_view::npos) {
    const absl::string_view ext = path.substr(dot + 1);
    bool ok = !ext.empty() && ext.size() <= 5;
    for (char c : ext) ok = ok && absl::ascii_isalnum(static_cast<unsigned char>(c));
    if (ok) return absl::StrCat(".", absl::AsciiStrToLower(ext));
  }
  return ".bin";
}

std::string EscapeSegment(absl::string_view id) {
  if (id.empty()) return "~";  // no escape is a lone "~"
  const bool dots_only = id.find_first_not_of('.') == absl::string_view::npos;
  std::string out;
  for (char c : id) {
    const bool keep = (absl::ascii_isalnum(static_cast<unsigned char>(c)) || c == '-' ||
                       c == '_' || c == '.') &&
                      !(dots_only && c == '.');
    if (keep) {
      out += c;
    } else {
      absl::StrAppendFormat(&out, "~%02X", static_cast<unsigned char>(c));
    }
  }
  return out;
}

}  // namespace

Archiver::Archiver(ArchiverOptions options, persistence::TaskStore* tasks,
                   persistence::ArchiveStore* archive, http::ReferenceAudioFetcher* fetcher,
                   const Clock* clock, WatchHub* hub)
    : options_(options),
      tasks_(tasks),
      archive_(archive),
      fetcher_(fetcher),
      clock_(clock),
      hub_(hub),
      own_pool_(options_.executor == nullptr
                    ? std::make_unique<ThreadPool>(std::max(1, options_.workers), "archiver")
                    : nullptr),
      executor_(options_.executor != nullptr ? options_.executor : own_pool_.get()) {}

Archiver::~Archiver() { Shutdown(); }

std::string Archiver::KeyFor(absl::string_view tenant, absl::string_view task_id,
                             absl::string_view clip_id, absl::string_view media,
                             absl::string_view extension) {
  return absl::StrCat(EscapeSegment(tenant), "/", EscapeSegment(task_id), "/",
                      EscapeSegment(clip_id), "/", media, extension);
}

void Archiver::Start() {
  {
    absl::MutexLock lock(&mu_);
    if (started_ || stopping_) return;
    started_ = true;
    timers_.push({clock_->Now(), ""});  // the first sweep: work a restart interrupted
  }
  if (options_.timer_thread) timer_ = std::thread([this] { TimerLoop(); });
}

void Archiver::Shutdown(absl::Time abort_at) {
  {
    absl::MutexLock lock(&mu_);
    stopping_ = true;
  }
  if (timer_.joinable()) timer_.join();
  // Queued runs see stopping_ and return; runs under way get until abort_at. A download can take
  // archive.timeout_seconds (minutes): without the abort the process would outlive its grace.
  const absl::Condition idle(
      +[](Archiver* a) ABSL_EXCLUSIVE_LOCKS_REQUIRED(a->mu_) { return a->running_ == 0; }, this);
  mu_.Lock();
  if (!mu_.AwaitWithDeadline(idle, abort_at)) {
    aborting_ = true;
    // A run that read aborting_ just before it was set may start its fetch after the abort,
    // which that fetch would not see: abort again until every run has ended. Each round waits at
    // most kAbortRetry of real time; an aborted fetch ends at once.
    constexpr absl::Duration kAbortRetry = absl::Milliseconds(200);
    while (running_ > 0) {
      mu_.Unlock();
      fetcher_->AbortInFlight();
      mu_.Lock();
      mu_.AwaitWithTimeout(idle, kAbortRetry);
    }
  }
  mu_.Unlock();
  // (An injected executor is its owner's to drain.) ThreadPool::Shutdown is idempotent.
  if (own_pool_ != nullptr) own_pool_->Shutdown();
}

void Archiver::TimerLoop() {
  while (true) {
    {
      absl::MutexLock lock(&mu_);
      mu_.AwaitWithTimeout(absl::Condition(&stopping_), options_.timer_tick);
      if (stopping_) return;
    }
    RunDue();
  }
}

void Archiver::OnTaskEnded(const TaskRecord& record) {
  if (!domain::ArchivePending(record)) return;
  Enqueue(record.task.task_id());
}

void Archiver::Enqueue(const std::string& task_id) {
  {
    absl::MutexLock lock(&mu_);
    if (stopping_) return;
    // Present: running now or waiting for its retry, which will see this change too.
    if (!entries_.try_emplace(task_id).second) return;
  }
  if (!Submit([this, task_id] { Process(task_id); })) {
    absl::MutexLock lock(&mu_);
    entries_.erase(task_id);
  }
}

void Archiver::SweepNow() {
  {
    absl::MutexLock lock(&mu_);
    if (stopping_ || sweeping_) return;
    sweeping_ = true;
  }
  if (!Submit([this] { Sweep(); })) {
    absl::MutexLock lock(&mu_);
    sweeping_ = false;
  }
}

int Archiver::RunDue() {
  std::vector<std::string> due;
  bool sweep = false;
  {
    absl::MutexLock lock(&mu_);
    if (stopping_) return 0;
    const absl::Time now = clock_->Now();
    while (!timers_.empty() && timers_.top().when <= now) {
      std::string id = timers_.top().task_id;
      timers_.pop();
      if (id.empty()) {
        sweep = true;
      } else {
        due.push_back(std::move(id));
      }
    }
  }
  int handed = 0;
  for (const std::string& id : due) {
    if (Submit([this, id] { Process(id); })) {
      ++handed;
    } else {
      absl::MutexLock lock(&mu_);
      entries_.erase(id);
    }
  }
  if (sweep) {
    SweepNow();
    ++handed;
  }
  return handed;
}

ArchiverStats Archiver::Stats() const {
  ArchiverStats s;
  s.objects_archived = objects_archived_.load(std::memory_order_relaxed);
  s.bytes_archived = bytes_archived_.load(std::memory_order_relaxed);
  s.failures = failures_.load(std::memory_order_relaxed);
  s.tasks_archived = tasks_archived_.load(std::memory_order_relaxed);
  s.sweeps = sweeps_.load(std::memory_order_relaxed);
  s.swept_tasks = swept_tasks_.load(std::memory_order_relaxed);
  return s;
}

bool Archiver::Submit(std::function<void()> fn) {
  {
    absl::MutexLock lock(&mu_);
    if (stopping_) return false;
  }
  // A run queued before Shutdown returns at once: Shutdown waits only for runs under way.
  return executor_->Schedule([this, fn = std::move(fn)] {
    {
      absl::MutexLock lock(&mu_);
      if (stopping_) return;
      ++running_;  // Shutdown waits for it from here on
    }
    fn();
    absl::MutexLock lock(&mu_);
    --running_;
  });
}

void Archiver::Sweep() {
  const absl::Time now = clock_->Now();
  persistence::ArchivePendingQuery query;
  query.created_after = now - options_.max_age;
  query.limit = std::max(1, options_.sweep_page);
  int64_t queued = 0;
  while (true) {
    absl::StatusOr<std::vector<TaskRecord>> page = tasks_->ListArchivePending(query);
    if (!page.ok()) {
      if (!absl::IsUnimplemented(page.status())) {
        LogEvent(LogLevel::kError, "archive.sweep_failed", {{"error", page.status().ToString()}});
      }
      break;
    }
    for (const TaskRecord& record : *page) {
      if (domain::ArchivePending(record)) {
        Enqueue(record.task.task_id());
        ++queued;
      } else {
        // Flagged by the migration but nothing to copy (or copied by another replica): a
        // rewrite clears the index entry.
        (void)Record(record.task.task_id(), {});
      }
    }
    if (static_cast<int>(page->size()) < query.limit) break;
    const TaskRecord& last = page->back();
    query.after = persistence::ListCursor{FromTimestamp(last.task.create_time()),
                                          last.task.task_id()};
  }
  sweeps_.fetch_add(1, std::memory_order_relaxed);
  swept_tasks_.fetch_add(queued, std::memory_order_relaxed);
  absl::MutexLock lock(&mu_);
  sweeping_ = false;
  if (!stopping_) timers_.push({clock_->Now() + options_.sweep_interval, ""});
}

void Archiver::Process(const std::string& task_id) {
  absl::StatusOr<TaskRecord> record = tasks_->Get(task_id);
  if (!record.ok()) {
    // A task that is gone has nothing left to archive.
    Finish(task_id, absl::IsNotFound(record.status()));
    return;
  }
  if (!domain::ArchivePending(*record)) {
    Finish(task_id, true);
    return;
  }
  std::vector<Copied> done;
  bool failed = false;
  // A refused URL (INVALID_ARGUMENT: scheme, userinfo or a forbidden literal address;
  // PERMISSION_DENIED: the host resolves only to forbidden ranges, or a redirect leaves its
  // origin) is refused again seconds later: only other failures are retried on backoff. The
  // sweeper still comes back to the task, should the policy change (archive.allow_http).
  bool retryable = false;
  for (const Missing& m : MissingMedia(record->task)) {
    const Clip* clip = nullptr;
    for (const Clip& c : record->task.clips()) {
      if (c.clip_id() == m.clip_id) clip = &c;
    }
    if (clip == nullptr) continue;
    {
      absl::MutexLock lock(&mu_);
      // Past Shutdown's abort point: the rest waits for the next start's sweep.
      if (aborting_) {
        failed = true;
        break;
      }
    }
    absl::StatusOr<ArchivedMedia> copy = ArchiveOne(record->task, *clip, m.media, m.url);
    if (!copy.ok()) {
      failed = true;
      if (!absl::IsInvalidArgument(copy.status()) && !absl::IsPermissionDenied(copy.status())) {
        retryable = true;
      }
      failures_.fetch_add(1, std::memory_order_relaxed);
      if (options_.metrics != nullptr) {
        options_.metrics->ArchiveFailure(absl::StatusCodeToString(copy.status().code()));
      }
      LogTaskEvent(LogLevel::kWarn, "archive.failed", *record,
                   {{"clip_id", m.clip_id}, {"media", m.media}, {"error", copy.status().ToString()}});
      continue;
    }
    done.push_back({m.clip_id, m.media, *std::move(copy)});
  }
  bool complete = !failed;
  if (!done.empty()) {
    absl::StatusOr<TaskRecord> written = Record(task_id, done);
    if (!written.ok()) {
      LogTaskEvent(LogLevel::kWarn, "archive.record_failed", *record,
                   {{"error", written.status().ToString()}});
      complete = false;
      retryable = true;
    } else {
      complete = !domain::ArchivePending(*written);
      if (complete) {
        tasks_archived_.fetch_add(1, std::memory_order_relaxed);
        LogTaskEvent(LogLevel::kInfo, "archive.done", *written);
      }
    }
  }
  Finish(task_id, complete, retryable);
}

absl::StatusOr<ArchivedMedia> Archiver::ArchiveOne(const music::v1::Task& task,
                                                   const Clip& clip, absl::string_view media,
                                                   const std::string& url) {
  absl::StatusOr<http::FetchedAudio> fetched = fetcher_->Fetch(url);
  if (!fetched.ok()) return fetched.status();
  persistence::ArchiveObject object;
  object.content_type = CleanContentType(fetched->content_type);
  object.size_bytes = static_cast<int64_t>(fetched->bytes.size());
  object.sha256 = domain::Sha256Hex(fetched->bytes);
  const std::string key = KeyFor(task.tenant(), task.task_id(), clip.clip_id(), media,
                                 ExtensionFor(object.content_type, url));
  if (absl::Status s = archive_->Put(key, fetched->bytes, object); !s.ok()) return s;
  objects_archived_.fetch_add(1, std::memory_order_relaxed);
  bytes_archived_.fetch_add(object.size_bytes, std::memory_order_relaxed);
  if (options_.metrics != nullptr) options_.metrics->ArchiveBytes(media, object.size_bytes);
  ArchivedMedia out;
  out.set_location(archive_->Location(key));
  out.set_key(key);
  out.set_size_bytes(object.size_bytes);
  out.set_sha256(object.sha256);
  out.set_content_type(object.content_type);
  SetTimestamp(clock_->Now(), out.mutable_archive_time());
  return out;
}

absl::StatusOr<TaskRecord> Archiver::Record(const std::string& task_id,
                                            const std::vector<Copied>& done) {
  for (int attempt = 0; attempt < 16; ++attempt) {
    absl::StatusOr<TaskRecord> current = tasks_->Get(task_id);
    if (!current.ok()) return current.status();
    TaskRecord next = *current;
    bool changed = done.empty();  // an empty list rewrites the row to refresh its index entry
    for (const Copied& c : done) {
      for (Clip& clip : *next.task.mutable_clips()) {
        if (clip.clip_id() != c.clip_id || HasMedia(clip, c.media)) continue;
        *MediaField(clip, c.media) = c.copy;
        changed = true;
      }
    }
    if (!changed) return *current;
    next.task.set_version(current->task.version() + 1);
    SetTimestamp(clock_->Now(), next.task.mutable_update_time());
    absl::Status s = tasks_->Update(next);
    if (s.ok()) {
      if (hub_ != nullptr) hub_->Publish(next.task);
      return next;
    }
    if (!absl::IsAborted(s)) return s;
  }
  return absl::AbortedError(absl::StrCat("task ", task_id, " kept changing"));
}

void Archiver::Finish(const std::string& task_id, bool complete, bool retry) {
  {
    absl::MutexLock lock(&mu_);
    auto it = entries_.find(task_id);
    if (it == entries_.end()) return;
    if (complete || stopping_) {
      entries_.erase(it);
      return;
    }
    const int attempts = ++it->second.attempts;
    if (retry && attempts < options_.max_attempts) {
      timers_.push({clock_->Now() + Backoff(attempts), task_id});
      return;
    }
    entries_.erase(it);
  }
  // The sweeper tries again at its next pass.
  LogEvent(LogLevel::kWarn, "archive.left_to_sweeper", {{"task_id", task_id}});
}

absl::Duration Archiver::Backoff(int attempt) {
  absl::Duration d = options_.backoff_initial;
  for (int i = 1; i < attempt && d < options_.backoff_max; ++i) d *= 2;
  d = std::min(d, options_.backoff_max);
  // Jitter in [50 %, 100 %] so tasks that failed together do not retry together.
  jitter_state_ ^= jitter_state_ << 13;
  jitter_state_ ^= jitter_state_ >> 7;
  jitter_state_ ^= jitter_state_ << 17;
  const double f = 0.5 + 0.5 * static_cast<double>(jitter_state_ % 1000) / 1000.0;
  return d * f;
}

}  // namespace music::service
