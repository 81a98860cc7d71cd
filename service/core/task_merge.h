#ifndef MUSIC_SERVICE_CORE_TASK_MERGE_H_
#define MUSIC_SERVICE_CORE_TASK_MERGE_H_

#include "absl/status/status.h"
#include "absl/time/time.h"
#include "adapters/provider_adapter.h"
#include "music/v1/task.pb.h"

namespace music::service {

/// Merges a provider's view of a task (a poll answer or a callback) into `task`, idempotently and
/// monotonically: a terminal task never changes; RUNNING never goes back to PENDING; progress
/// flags are never cleared; a clip's known fields are never blanked by a later, emptier report;
/// an update from an earlier stage than the one already seen changes nothing. A success without
/// any audio URL becomes FAILED (INTERNAL), seed 000. Sets update_time / end_time to `now` when
/// something changed. Does not touch `version`. Returns true when `task` changed.
bool MergeProviderUpdate(const adapters::ProviderUpdate& update, absl::Time now,
                         music::v1::Task& task);

/// Moves a non-terminal `task` to FAILED with `error` (code, message; the provider's raw status
/// and error code when known). Returns false (and changes nothing) when already terminal.
bool FailTask(absl::StatusCode code, absl::string_view message, absl::string_view provider_status,
              absl::string_view provider_error_code, absl::Time now, music::v1::Task& task);

/// Sets a Timestamp from an absl::Time.
void SetTimestamp(absl::Time t, google::protobuf::Timestamp* ts);
/// Reads a Timestamp.
absl::Time FromTimestamp(const google::protobuf::Timestamp& ts);

}  // namespace music::service

#endif  // MUSIC_SERVICE_CORE_TASK_MERGE_H_
