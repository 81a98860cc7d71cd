#ifndef MUSIC_DOMAIN_TASK_RECORD_H_
#define MUSIC_DOMAIN_TASK_RECORD_H_

#include <cstdint>
#include <string>

#include "absl/time/time.h"
#include "music/v1/task.pb.h"

namespace music::domain {

/// How far the submission of a task to its provider has got. The engine writes kSubmitting
/// *before* it sends the create request, so after a crash a task found in kSubmitting is one whose
/// submission may or may not have reached the provider.
enum class SubmissionState : int {
  kNotSubmitted = 0,  // nothing sent yet; safe to send
  kSubmitting = 1,    // a create request may be in flight
  kSubmitted = 2,     // the provider accepted it; task.provider_task_id is set
  kUnknown = 3,       // a create was sent and its answer lost (timeout, malformed answer, crash)
};

/// Which replica drives a task, with several replicas on one store (persistence::LeaseStore):
/// the replica that created or last claimed it. Empty with one replica (SQLite).
struct TaskLease {
  /// The replica's id (LeaseStore::replica_id()); "" none.
  std::string owner;
  /// Fencing token: a new, larger one on every create and claim, so a write of a replica that
  /// lost the task (an older token) is refused by the store.
  int64_t token = 0;
};

/// A stored task: the public resource plus the engine's bookkeeping, which never leaves the
/// service. Holds no secrets (API keys and webhook secrets are never stored).
struct TaskRecord {
  /// The public resource. `task.version()` is the record's version: 1 at creation, +1 per write.
  music::v1::Task task;
  /// Hex SHA-256 of the create request (AIP-155: same request_id + same fingerprint = same task).
  std::string request_fingerprint;
  SubmissionState submission = SubmissionState::kNotSubmitted;
  /// Consecutive failed submit or poll attempts; drives exponential backoff. Reset on success.
  int32_t attempts = 0;
  /// When the engine should next act on the task (submit, poll or check the deadline).
  absl::Time next_action_time = absl::InfinitePast();
  /// After this the task fails with DEADLINE_EXCEEDED if it is not terminal.
  absl::Time deadline = absl::InfiniteFuture();
  /// For SubmissionState::kUnknown: when the outcome became unknown.
  absl::Time unknown_since = absl::InfinitePast();
  /// Where to poll the provider task, when the provider named it at create (TokenLab
  /// `poll_url`), else "".
  std::string poll_url;
  /// The provider's id of the task's reference audio once uploaded (beatra `artifact_id`).
  std::string reference_artifact_id;
  /// The provider endpoint that took the create (e.g. "/v1/music/text-to-music"), for the ledger.
  std::string provider_endpoint;
  /// The caller's W3C trace context (`traceparent` gRPC metadata on the create, validated and
  /// normalized to "00-<32 hex>-<16 hex>-<2 hex>"), logged on every line about the task so a
  /// platform's traces join the service's lines; "" when the caller sent none or a malformed one.
  std::string traceparent;
  /// The replica driving it (stores with leases); not part of the task's version.
  TaskLease lease;
};

/// True for SUCCEEDED, FAILED and CANCELED.
inline bool IsTerminal(music::v1::TaskState s) {
  return s == music::v1::TASK_STATE_SUCCEEDED || s == music::v1::TASK_STATE_FAILED ||
         s == music::v1::TASK_STATE_CANCELED;
}

/// True when `clip` has a provider media URL (audio, image or video) without its archived copy.
inline bool ClipNeedsArchive(const music::v1::Clip& clip) {
  return (!clip.audio_url().empty() && !clip.has_audio_archive()) ||
         (!clip.image_url().empty() && !clip.has_image_archive()) ||
         (!clip.video_url().empty() && !clip.has_video_archive());
}

/// True when a task is waiting for the archiver: it succeeded and a clip's media is not archived
/// yet. Stores index it (TaskStore::ListArchivePending).
inline bool ArchivePending(const TaskRecord& record) {
  if (record.task.state() != music::v1::TASK_STATE_SUCCEEDED) return false;
  for (const music::v1::Clip& clip : record.task.clips()) {
    if (ClipNeedsArchive(clip)) return true;
  }
  return false;
}

}  // namespace music::domain

#endif  // MUSIC_DOMAIN_TASK_RECORD_H_
