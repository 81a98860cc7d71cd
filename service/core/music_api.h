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
/// ALREADY_EXISTS for a request_id reused with another request; FAILED_PRECONDITION
/// REFERENCE_AUDIO_NOT_FOUND for a reference_audio_id not issued to the caller's tenant; storage
/// errors pass through.
class MusicApi {
 public:
  /// `providers` (for UploadReferenceAudio) may be null: uploads are then FAILED_PRECONDITION.
  /// `provider_health` (may be null) overlays ListModels: a provider refusing our key lists its
  /// models unavailable with the reason. `provider_calls` (for GetTimestampedLyrics and
  /// BoostStyle, which call the provider at once) may be null: those are then FAILED_PRECONDITION.
  MusicApi(persistence::TaskStore* store, const Catalog* catalog, TaskEngine* engine,
           const ProviderRegistry* providers = nullptr,
           const ProviderHealth* provider_health = nullptr,
           const ProviderRegistry* provider_calls = nullptr)
      : store_(store),
        catalog_(catalog),
        engine_(engine),
        providers_(providers),
        provider_health_(provider_health),
        provider_calls_(provider_calls) {}

  /// The creates. `traceparent`: the caller's normalized W3C trace context (NormalizeTraceparent)
  /// or "", stored on the new task and logged with it.
  absl::StatusOr<music::v1::CreateMusicResponse> CreateMusic(
      absl::string_view tenant, const music::v1::CreateMusicRequest& request,
      absl::string_view traceparent = "");
  absl::StatusOr<music::v1::CreateLyricsResponse> CreateLyrics(
      absl::string_view tenant, const music::v1::CreateLyricsRequest& request,
      absl::string_view traceparent = "");
  absl::StatusOr<music::v1::ContinueClipResponse> ContinueClip(
      absl::string_view tenant, const music::v1::ContinueClipRequest& request,
      absl::string_view traceparent = "");
  /// A clip operation task on a clip of the tenant's succeeded task, at the clip's provider and
  /// model, reserved at the model's clip_operation_prices entry (else its price). Errors:
  /// INVALID_ARGUMENT naming clip_id / operation / video_author / video_domain_name;
  /// FAILED_PRECONDITION CLIP_NOT_FOUND, CLIP_NOT_READY (task not SUCCEEDED, or no audio) or
  /// OPERATION_NOT_SUPPORTED (the clip's model does not list the operation).
  absl::StatusOr<music::v1::CreateClipOperationResponse> CreateClipOperation(
      absl::string_view tenant, const music::v1::CreateClipOperationRequest& request,
      absl::string_view traceparent = "");
  /// The clip's words aligned to its audio, from its provider at once. Errors as
  /// CreateClipOperation (OPERATION_NOT_SUPPORTED without capabilities.timestamped_lyrics), and
  /// the provider's errors (UNAVAILABLE, ...). Blocking (provider HTTP).
  absl::StatusOr<music::v1::GetTimestampedLyricsResponse> GetTimestampedLyrics(
      absl::string_view tenant, const music::v1::GetTimestampedLyricsRequest& request);
  /// The model's provider expands a style description. INVALID_ARGUMENT naming content or
  /// model; FAILED_PRECONDITION OPERATION_NOT_SUPPORTED without capabilities.style_boost; the
  /// provider's errors. Blocking (provider HTTP).
  absl::StatusOr<music::v1::BoostStyleResponse> BoostStyle(
      const music::v1::BoostStyleRequest& request);
  /// A task of TASK_KIND_AUDIO_OPERATION: music made from the caller's audio (cover, extend, add
  /// instrumental, add vocals), stored with its reservation before the answer like CreateMusic.
  /// INVALID_ARGUMENT naming the field (audio_operation_validation.h); FAILED_PRECONDITION with
  /// reason OPERATION_NOT_SUPPORTED when no model of the route lists the operation in
  /// capabilities.audio_operations.
  absl::StatusOr<music::v1::CreateAudioOperationResponse> CreateAudioOperation(
      absl::string_view tenant, const music::v1::CreateAudioOperationRequest& request,
      absl::string_view traceparent = "");
  absl::StatusOr<music::v1::GetTaskResponse> GetTask(absl::string_view tenant,
                                                     const music::v1::GetTaskRequest& request);
  absl::StatusOr<music::v1::ListTasksResponse> ListTasks(
      absl::string_view tenant, const music::v1::ListTasksRequest& request);
  absl::StatusOr<music::v1::CancelTaskResponse> CancelTask(
      absl::string_view tenant, const music::v1::CancelTaskRequest& request);
  absl::StatusOr<music::v1::ListModelsResponse> ListModels(
      const music::v1::ListModelsRequest& request);

  /// Checks UploadReferenceAudio's metadata and picks the model whose provider keeps the audio:
  /// the first available member of the model's route that takes reference audio (or runs audio
  /// operations, which take the caller's audio). No I/O, so a
  /// gRPC reaction may call it. INVALID_ARGUMENT naming `metadata.<field>`; FAILED_PRECONDITION
  /// when uploads are off or no provider of the route takes reference audio.
  absl::StatusOr<const music::v1::Model*> CheckReferenceAudioMetadata(
      const music::v1::ReferenceAudioMetadata& metadata) const;

  /// Stores `bytes` at the provider of the model CheckReferenceAudioMetadata picks and returns
  /// reference_audio_id "<provider>/<tag>/<artifact id>" bound to `tenant` (reference_audio_id.h:
  /// only this tenant's creates accept it), the size and the hex SHA-256. INVALID_ARGUMENT naming
  /// `chunk` when empty; FAILED_PRECONDITION above `max_bytes`; the provider's errors pass
  /// through; INTERNAL without a callback token secret. Blocking (provider HTTP).
  absl::StatusOr<music::v1::UploadReferenceAudioResponse> UploadReferenceAudio(
      absl::string_view tenant, const music::v1::ReferenceAudioMetadata& metadata,
      std::string bytes, size_t max_bytes);

  /// The task for WatchTask's first message: NOT_FOUND as GetTask.
  absl::StatusOr<music::v1::Task> LoadTask(absl::string_view tenant, absl::string_view task_id);

 private:
  persistence::TaskStore* const store_;
  const Catalog* const catalog_;
  TaskEngine* const engine_;
  /// A clip of the tenant's SUCCEEDED task with audio, and the catalog model that made it.
  struct SourceClip {
    domain::TaskRecord record;
    music::v1::Clip clip;
    const music::v1::Model* model = nullptr;
  };
  /// OK when `reference_audio_id` is empty or was issued to `tenant`; else FAILED_PRECONDITION
  /// REFERENCE_AUDIO_NOT_FOUND "reference_audio_id: no upload with this id for this tenant", the
  /// same answer for another tenant's id and for one never issued (AIP-211: it does not reveal
  /// that the upload exists), as another tenant's clip answers CLIP_NOT_FOUND.
  absl::Status CheckReferenceAudioOwner(absl::string_view tenant,
                                        absl::string_view reference_audio_id) const;
  /// FAILED_PRECONDITION CLIP_NOT_FOUND / CLIP_NOT_READY; `what` ends the not-found message
  /// ("continue a clip of a succeeded task").
  absl::StatusOr<SourceClip> FindSourceClip(absl::string_view tenant, absl::string_view clip_id,
                                            absl::string_view what) const;

  const ProviderRegistry* const providers_;
  const ProviderHealth* const provider_health_;
  const ProviderRegistry* const provider_calls_;
};

/// Largest reference audio accepted, bytes (beatra's upload cap, seed 002).
inline constexpr size_t kMaxReferenceAudioBytes = 100 << 20;
/// Longest UploadReferenceAudio file name, characters.
inline constexpr size_t kMaxReferenceFilenameChars = 255;

/// Default and largest ListTasks page sizes (AIP-158).
inline constexpr int kDefaultPageSize = 50;
inline constexpr int kMaxPageSize = 1000;
/// Serialized size a List page stops growing at, bytes: a page holds at most kMaxPageSize items
/// and ends before the item that would take it past 1 MiB (it always holds at least one), with a
/// next_page_token continuing exactly after its last item. 1 MiB stays far under every client's
/// default receive limit (4 MiB) whatever the tasks' size.
inline constexpr size_t kMaxPageBytes = 1 << 20;

/// Whether `item` still fits on a page holding `items_so_far` items of `*bytes` serialized bytes:
/// false when it would take the page past kMaxPageBytes and the page already holds an item;
/// when true, its size is added to `*bytes`.
template <typename Item>
bool FitsInPage(const Item& item, int items_so_far, size_t* bytes) {
  // Field tag + length prefix of a repeated message: at most 1 + 5 bytes above its size.
  const size_t size = item.ByteSizeLong() + 6;
  if (items_so_far > 0 && *bytes + size > kMaxPageBytes) return false;
  *bytes += size;
  return true;
}

}  // namespace music::service

#endif  // MUSIC_SERVICE_CORE_MUSIC_API_H_
