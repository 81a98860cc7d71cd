#ifndef MUSIC_SERVICE_CORE_CLIP_AUDIO_H_
#define MUSIC_SERVICE_CORE_CLIP_AUDIO_H_

#include <cstdint>
#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "music/v1/music_service.pb.h"
#include "persistence/archive_store.h"
#include "persistence/task_store.h"

namespace music::service {

/// Largest chunk GetClipAudio sends in one message, bytes.
inline constexpr int64_t kClipAudioChunkBytes = 256 << 10;

/// The archived audio a GetClipAudio call serves and the byte range [offset, end) it asked for.
struct ClipAudioRange {
  std::string key;
  std::string content_type;
  std::string sha256;
  int64_t total_size = 0;
  int64_t offset = 0;
  int64_t end = 0;
};

/// GetClipAudio as domain code: finds a clip's archived audio and reads it back in chunks, from
/// the archive only (never the provider's URL, which may have expired). Blocking (store and
/// archive I/O): call from worker threads, never from a gRPC reaction. Thread-safe.
class ClipAudioReader {
 public:
  /// `archive` may be null (no archive configured): every clip is then FAILED_PRECONDITION.
  /// Pointers must outlive the reader.
  ClipAudioReader(persistence::TaskStore* tasks, persistence::ArchiveStore* archive)
      : tasks_(tasks), archive_(archive) {}

  /// The range to send. INVALID_ARGUMENT (naming the field) for an empty task_id or a negative
  /// offset or length; NOT_FOUND for an unknown task (or another tenant's) or clip;
  /// FAILED_PRECONDITION when the clip's audio is not archived yet; OUT_OF_RANGE when offset is
  /// past the end; storage errors pass through.
  absl::StatusOr<ClipAudioRange> Resolve(absl::string_view tenant,
                                         const music::v1::GetClipAudioRequest& request) const;

  /// Reads at most kClipAudioChunkBytes of `range` from `offset` (offset < range.end). DATA_LOSS
  /// when the archived object is gone or shorter than recorded; archive errors pass through.
  absl::StatusOr<std::string> ReadChunk(const ClipAudioRange& range, int64_t offset) const;

 private:
  persistence::TaskStore* const tasks_;
  persistence::ArchiveStore* const archive_;
};

}  // namespace music::service

#endif  // MUSIC_SERVICE_CORE_CLIP_AUDIO_H_
