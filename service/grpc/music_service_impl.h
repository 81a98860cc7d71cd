#ifndef MUSIC_SERVICE_GRPC_MUSIC_SERVICE_IMPL_H_
#define MUSIC_SERVICE_GRPC_MUSIC_SERVICE_IMPL_H_

#include <string>

#include "music/v1/music_service.grpc.pb.h"
#include "service/auth/authenticator.h"
#include "service/core/clip_audio.h"
#include "service/core/music_api.h"
#include "service/core/thread_pool.h"
#include "service/core/watch_hub.h"

namespace music::service {

/// The gRPC edge of MusicService (callback API). Each method hands the request to MusicApi on the
/// service's own threads and finishes the reactor from there, so no reaction blocks; errors are
/// mapped once, in ToGrpcStatus. WatchTask streams are reactors fed by the WatchHub: no thread is
/// held per stream.
class MusicServiceImpl final : public music::v1::MusicService::CallbackService {
 public:
  /// `authenticator` (not owned) names each call's caller: every method first checks the caller
  /// and its role (AuthorizeCall: UNAUTHENTICATED, PERMISSION_DENIED) and then runs in the
  /// caller's tenant only. `max_reference_audio_bytes`:
  /// the UploadReferenceAudio cap (at most kMaxReferenceAudioBytes). `clip_audio` (not owned; may
  /// be null: GetClipAudio is then FAILED_PRECONDITION) reads archived audio back.
  MusicServiceImpl(MusicApi* api, ThreadPool* workers, WatchHub* hub,
                   const auth::Authenticator* authenticator,
                   size_t max_reference_audio_bytes = kMaxReferenceAudioBytes,
                   const ClipAudioReader* clip_audio = nullptr)
      : api_(api),
        workers_(workers),
        hub_(hub),
        authenticator_(authenticator),
        max_reference_audio_bytes_(max_reference_audio_bytes),
        clip_audio_(clip_audio) {}

  grpc::ServerUnaryReactor* CreateMusic(grpc::CallbackServerContext* ctx,
                                        const music::v1::CreateMusicRequest* request,
                                        music::v1::CreateMusicResponse* response) override;
  grpc::ServerUnaryReactor* CreateLyrics(grpc::CallbackServerContext* ctx,
                                         const music::v1::CreateLyricsRequest* request,
                                         music::v1::CreateLyricsResponse* response) override;
  grpc::ServerUnaryReactor* ContinueClip(grpc::CallbackServerContext* ctx,
                                         const music::v1::ContinueClipRequest* request,
                                         music::v1::ContinueClipResponse* response) override;
  /// Clip operations (issue 12 B): MusicApi::CreateClipOperation, GetTimestampedLyrics and
  /// BoostStyle on the RPC workers (the last two call the provider).
  grpc::ServerUnaryReactor* CreateClipOperation(
      grpc::CallbackServerContext* ctx, const music::v1::CreateClipOperationRequest* request,
      music::v1::CreateClipOperationResponse* response) override;
  grpc::ServerUnaryReactor* GetTimestampedLyrics(
      grpc::CallbackServerContext* ctx, const music::v1::GetTimestampedLyricsRequest* request,
      music::v1::GetTimestampedLyricsResponse* response) override;
  grpc::ServerUnaryReactor* BoostStyle(grpc::CallbackServerContext* ctx,
                                       const music::v1::BoostStyleRequest* request,
                                       music::v1::BoostStyleResponse* response) override;
  /// Audio operations on the caller's own audio (issue 12 B): MusicApi::CreateAudioOperation.
  grpc::ServerUnaryReactor* CreateAudioOperation(
      grpc::CallbackServerContext* ctx, const music::v1::CreateAudioOperationRequest* request,
      music::v1::CreateAudioOperationResponse* response) override;
  grpc::ServerUnaryReactor* GetTask(grpc::CallbackServerContext* ctx,
                                    const music::v1::GetTaskRequest* request,
                                    music::v1::GetTaskResponse* response) override;
  grpc::ServerUnaryReactor* ListTasks(grpc::CallbackServerContext* ctx,
                                      const music::v1::ListTasksRequest* request,
                                      music::v1::ListTasksResponse* response) override;
  grpc::ServerUnaryReactor* CancelTask(grpc::CallbackServerContext* ctx,
                                       const music::v1::CancelTaskRequest* request,
                                       music::v1::CancelTaskResponse* response) override;
  grpc::ServerUnaryReactor* ListModels(grpc::CallbackServerContext* ctx,
                                       const music::v1::ListModelsRequest* request,
                                       music::v1::ListModelsResponse* response) override;
  grpc::ServerWriteReactor<music::v1::WatchTaskResponse>* WatchTask(
      grpc::CallbackServerContext* ctx, const music::v1::WatchTaskRequest* request) override;
  /// A read reactor: checks the metadata as soon as it arrives, refuses an upload at once when it
  /// passes the cap (reading stops), and runs the provider upload on the worker pool.
  grpc::ServerReadReactor<music::v1::UploadReferenceAudioRequest>* UploadReferenceAudio(
      grpc::CallbackServerContext* ctx, music::v1::UploadReferenceAudioResponse* response) override;
  /// A write reactor: each chunk is read from the archive on the worker pool, one write in
  /// flight; the next read starts when the write is done.
  grpc::ServerWriteReactor<music::v1::GetClipAudioResponse>* GetClipAudio(
      grpc::CallbackServerContext* ctx, const music::v1::GetClipAudioRequest* request) override;

 private:
  // Authorizes the call for `method` (a MethodPolicies key), then runs fn(tenant, request) on a
  // worker and finishes with its result.
  template <typename Req, typename Resp, typename Fn>
  grpc::ServerUnaryReactor* Unary(grpc::CallbackServerContext* ctx, const char* method,
                                  const Req* request, Resp* response, Fn fn);

  MusicApi* const api_;
  ThreadPool* const workers_;
  WatchHub* const hub_;
  const auth::Authenticator* const authenticator_;
  const size_t max_reference_audio_bytes_;
  const ClipAudioReader* const clip_audio_;
};

}  // namespace music::service

#endif  // MUSIC_SERVICE_GRPC_MUSIC_SERVICE_IMPL_H_
