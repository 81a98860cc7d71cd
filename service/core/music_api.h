#ifndef MUSIC_SERVICE_CORE_MUSIC_API_H_
#define MUSIC_SERVICE_CORE_MUSIC_API_H_

#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "music/v1/music_service.pb.h"
#include "persistence/task_store.h"
#include "service/core/catalog.h"
#include "service/core/task_engine.h"

namespace music::service {

/// The MusicService methods as domain code: proto requests in, proto responses or absl::Status
/// out, no gRPC types. Blocking (store I/O): call from worker threads. Thread-safe.
///
/// Errors: INVALID_ARGUMENT with google.rpc.BadRequest naming each bad field (status payloads,
/// see status_details.h); NOT_FOUND for unknown tasks; FAILED_PRECONDITION for a continuation of a
/// clip that does not exist or whose task has not succeeded, and for unavailable providers;
/// ALREADY_EXISTS for a request_id reused with another request; storage errors pass through.
class MusicApi {
 public:
  MusicApi(persistence::TaskStore* store, const Catalog* catalog, TaskEngine* engine)
      : store_(store), catalog_(catalog), engine_(engine) {}

  absl::StatusOr<music::v1::CreateMusicResponse> CreateMusic(
      absl::string_view tenant, const music::v1::CreateMusicRequest& request);
  absl::StatusOr<music::v1::CreateLyricsResponse> CreateLyrics(
      absl::string_view tenant, const music::v1::CreateLyricsRequest& request);
  absl::StatusOr<music::v1::ContinueClipResponse> ContinueClip(
      absl::string_view tenant, const music::v1::ContinueClipRequest& request);
  absl::StatusOr<music::v1::GetTaskResponse> GetTask(absl::string_view tenant,
                                                     const music::v1::GetTaskRequest& request);
  absl::StatusOr<music::v1::ListTasksResponse> ListTasks(
      absl::string_view tenant, const music::v1::ListTasksRequest& request);
  absl::StatusOr<music::v1::CancelTaskResponse> CancelTask(
      absl::string_view tenant, const music::v1::CancelTaskRequest& request);
  absl::StatusOr<music::v1::ListModelsResponse> ListModels(
      const music::v1::ListModelsRequest& request);

  /// The task for WatchTask's first message: NOT_FOUND as GetTask.
  absl::StatusOr<music::v1::Task> LoadTask(absl::string_view tenant, absl::string_view task_id);

 private:
  persistence::TaskStore* const store_;
  const Catalog* const catalog_;
  TaskEngine* const engine_;
};

/// Default and largest ListTasks page sizes (AIP-158).
inline constexpr int kDefaultPageSize = 50;
inline constexpr int kMaxPageSize = 1000;

}  // namespace music::service

#endif  // MUSIC_SERVICE_CORE_MUSIC_API_H_
