#include "service/core/clip_audio.h"

#include <algorithm>
#include <string>
#include <utility>

#include "absl/strings/str_cat.h"
#include "service/core/status_details.h"
#include "service/core/validation.h"

namespace music::service {

absl::StatusOr<ClipAudioRange> ClipAudioReader::Resolve(
    absl::string_view tenant, const music::v1::GetClipAudioRequest& request) const {
  if (request.task_id().empty()) return InvalidField("task_id", "required");
  if (auto s = CheckIdLength("task_id", request.task_id()); !s.ok()) return s;
  if (auto s = CheckIdLength("clip_id", request.clip_id()); !s.ok()) return s;
  if (request.offset() < 0) return InvalidField("offset", "must not be negative");
  if (request.length() < 0) return InvalidField("length", "must not be negative");
  absl::StatusOr<domain::TaskRecord> record = tasks_->Get(request.task_id());
  if (!record.ok() || record->task.tenant() != tenant) {
    if (record.ok() || absl::IsNotFound(record.status())) {
      return absl::NotFoundError(
          absl::StrCat("task ", TruncateForError(request.task_id()), " not found"));
    }
    return record.status();
  }
  const music::v1::Clip* clip = nullptr;
  for (const music::v1::Clip& c : record->task.clips()) {
    if (request.clip_id().empty() || c.clip_id() == request.clip_id()) {
      clip = &c;
      break;
    }
  }
  if (clip == nullptr) {
    return absl::NotFoundError(request.clip_id().empty()
                                   ? absl::StrCat("task ", TruncateForError(request.task_id()),
                                                  " has no clips")
                                   : absl::StrCat("clip ", TruncateForError(request.clip_id()),
                                                  " not found in task ",
                                                  TruncateForError(request.task_id())));
  }
  if (archive_ == nullptr) {
    return absl::FailedPreconditionError("this server keeps no archive");
  }
  if (!clip->has_audio_archive()) {
    return absl::FailedPreconditionError(
        absl::StrCat("clip ", clip->clip_id(), " is not archived yet (task state ",
                     music::v1::TaskState_Name(record->task.state()), ")"));
  }
  const music::v1::ArchivedMedia& media = clip->audio_archive();
  if (request.offset() > media.size_bytes()) {
    return absl::OutOfRangeError(absl::StrCat("offset ", request.offset(), " is past the end (",
                                              media.size_bytes(), " bytes)"));
  }
  ClipAudioRange range;
  range.key = media.key();
  range.content_type = media.content_type();
  range.sha256 = media.sha256();
  range.total_size = media.size_bytes();
  range.offset = request.offset();
  const int64_t left = media.size_bytes() - request.offset();
  range.end = request.offset() + (request.length() == 0 ? left : std::min(left, request.length()));
  return range;
}

absl::StatusOr<std::string> ClipAudioReader::ReadChunk(const ClipAudioRange& range,
                                                       int64_t offset) const {
  if (archive_ == nullptr) return absl::FailedPreconditionError("this server keeps no archive");
  const int64_t n = std::min(kClipAudioChunkBytes, range.end - offset);
  absl::StatusOr<std::string> bytes = archive_->Read(range.key, offset, n);
  if (absl::IsNotFound(bytes.status()) || absl::IsOutOfRange(bytes.status())) {
    return absl::DataLossError(absl::StrCat("archived object ", range.key,
                                            " is missing or shorter than recorded"));
  }
  if (!bytes.ok()) return bytes.status();
  if (static_cast<int64_t>(bytes->size()) != n) {
    return absl::DataLossError(absl::StrCat("archived object ", range.key,
                                            " is shorter than recorded"));
  }
  return bytes;
}

}  // namespace music::service
