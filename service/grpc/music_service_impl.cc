#include "service/grpc/music_service_impl.h"

#include <atomic>
#include <functional>
#include <optional>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/clock.h"
#include "domain/task_record.h"
#include "service/core/status_details.h"
#include "service/core/task_merge.h"
#include "service/core/traceparent.h"
#include "service/grpc/caller_auth.h"
#include "service/grpc/status_mapping.h"
#include "service/grpc/unary_call.h"

namespace music::service {
namespace {

using music::v1::WatchTaskResponse;

// The caller's W3C traceparent metadata, normalized, or "" when absent or malformed (ignored,
// never an error). Reads only the call's metadata: fine in a reaction.
std::string Traceparent(const grpc::CallbackServerContext* ctx) {
  const auto& metadata = ctx->client_metadata();
  auto it = metadata.find(kTraceparentHeader);
  if (it == metadata.end()) return "";
  return NormalizeTraceparent(absl::string_view(it->second.data(), it->second.size()));
}

// One WatchTask stream: subscribes to the hub, sends the stored task, then every change (one
// write in flight at a time, the rest queued), heartbeats while idle, and finishes after the
// terminal state. Deletes itself once gRPC is done with it and the initial load has returned.
// An idle stream holds no queue and no message: 100,000 of them must fit in a few hundred bytes
// each above what gRPC itself keeps per stream.
class WatchReactor final : public grpc::ServerWriteReactor<WatchTaskResponse>, public TaskWatcher {
 public:
  WatchReactor(MusicApi* api, ThreadPool* workers, WatchHub* hub,
               const music::v1::WatchTaskRequest& request)
      : api_(api),
        workers_(workers),
        hub_(hub),
        task_id_(request.task_id()),
        last_version_(request.since_version()) {}

  // `caller`: AuthorizeCall's answer; a refused caller ends the stream before anything is read
  // or subscribed.
  void Begin(absl::StatusOr<auth::CallerIdentity> caller) {
    {
      absl::MutexLock lock(&mu_);  // last_version_ is guarded by mu_
      if (!caller.ok()) {
        refs_ = 1;  // no load will run
        FinishLocked(ToGrpcStatus(caller.status()));
        return;
      }
      tenant_ = std::move(caller->tenant);
      if (task_id_.empty() || last_version_ < 0) {
        refs_ = 1;  // no load will run
        FinishLocked(grpc::Status(
            grpc::StatusCode::INVALID_ARGUMENT,
            task_id_.empty() ? "task_id: required" : "since_version: must not be negative"));
        return;
      }
    }
    token_ = hub_->Subscribe(task_id_, this);
    const bool scheduled = workers_->Schedule([this] {
      auto task = api_->LoadTask(tenant_, task_id_);
      bool last;
      {
        absl::MutexLock lock(&mu_);
        loaded_ = true;
        if (!task.ok()) {
          FinishLocked(ToGrpcStatus(task.status()));
        } else {
          if (domain::IsTerminal(task->state())) terminal_known_ = true;
          EnqueueLocked(*task);
          MaybeWriteLocked();
        }
        last = --refs_ == 0;
      }
      if (last) delete this;
    });
    if (!scheduled) {
      bool last;
      {
        absl::MutexLock lock(&mu_);
        FinishLocked(grpc::Status(grpc::StatusCode::UNAVAILABLE, "server shutting down"));
        last = --refs_ == 0;
      }
      if (last) delete this;
    }
  }

  // TaskWatcher (called outside the hub's locks, on the publisher's or the ticker's thread).
  void OnTaskChanged(const music::v1::Task& task) override {
    absl::MutexLock lock(&mu_);
    EnqueueLocked(task);
    MaybeWriteLocked();
  }
  void OnHeartbeat() override {
    absl::MutexLock lock(&mu_);
    if (!loaded_ || writing_ || finishing_ || queue_head_ != queue_.size()) return;
    message_.mutable_heartbeat()->set_version(last_version_);
    SetTimestamp(hub_->clock()->Now(), message_.mutable_heartbeat()->mutable_time());
    writing_ = true;
    StartWrite(&message_);
  }
  void OnShutdown() override {
    absl::MutexLock lock(&mu_);
    FinishLocked(grpc::Status(grpc::StatusCode::UNAVAILABLE,
                              "server shutting down; reconnect with since_version"));
  }

  // ServerWriteReactor.
  void OnWriteDone(bool ok) override {
    absl::MutexLock lock(&mu_);
    writing_ = false;
    // Clear() would keep the task's strings allocated for the life of an idle stream.
    WatchTaskResponse().Swap(&message_);
    // A finish that waited for this write goes out whether or not the write got through: a
    // stream canceled during a write otherwise never finishes (and holds grpc::Server::Shutdown).
    if (pending_finish_) {
      Finish(*pending_finish_);
      pending_finish_.reset();
      return;
    }
    if (!ok) {
      FinishLocked(grpc::Status(grpc::StatusCode::CANCELLED, "stream broken"));
      return;
    }
    MaybeWriteLocked();
  }
  void OnCancel() override {
    absl::MutexLock lock(&mu_);
    FinishLocked(grpc::Status::CANCELLED);
  }
  void OnDone() override {
    if (token_ != 0) hub_->Unsubscribe(token_);  // after this, the hub never calls us again
    bool last;
    {
      absl::MutexLock lock(&mu_);
      last = --refs_ == 0;
    }
    if (last) delete this;
  }

 private:
  void EnqueueLocked(const music::v1::Task& task) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    if (finishing_ || task.tenant() != tenant_ || task.version() <= last_version_) return;
    last_version_ = task.version();
    queue_.push_back(task);
    if (domain::IsTerminal(task.state())) terminal_queued_ = true;
  }

  void MaybeWriteLocked() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    if (!loaded_ || writing_ || finishing_) return;
    if (queue_head_ == queue_.size()) {
      // Done once the terminal state is out (or was already known to the caller).
      if (terminal_queued_ || terminal_known_) FinishLocked(grpc::Status::OK);
      return;
    }
    *message_.mutable_task() = std::move(queue_[queue_head_]);
    if (++queue_head_ == queue_.size()) {
      std::vector<music::v1::Task>().swap(queue_);  // an idle stream keeps no capacity
      queue_head_ = 0;
    }
    writing_ = true;
    StartWrite(&message_);
  }

  void FinishLocked(grpc::Status status) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    if (finishing_) return;
    finishing_ = true;
    std::vector<music::v1::Task>().swap(queue_);
    queue_head_ = 0;
    if (writing_) {
      pending_finish_ = std::move(status);  // finish after the write in flight
    } else {
      Finish(status);
    }
  }

  MusicApi* const api_;
  ThreadPool* const workers_;
  WatchHub* const hub_;
  // Set once in Begin, before the hub or a worker can call back (both read it after).
  std::string tenant_;
  const std::string task_id_;
  int64_t token_ = 0;

  absl::Mutex mu_;
  int64_t last_version_ ABSL_GUARDED_BY(mu_);
  int refs_ ABSL_GUARDED_BY(mu_) = 2;  // gRPC (OnDone) and the initial load
  bool loaded_ ABSL_GUARDED_BY(mu_) = false;
  bool writing_ ABSL_GUARDED_BY(mu_) = false;
  bool finishing_ ABSL_GUARDED_BY(mu_) = false;
  bool terminal_queued_ ABSL_GUARDED_BY(mu_) = false;
  bool terminal_known_ ABSL_GUARDED_BY(mu_) = false;
  // Changes not yet written: queue_[queue_head_...]. Empty (no allocation) while idle.
  std::vector<music::v1::Task> queue_ ABSL_GUARDED_BY(mu_);
  size_t queue_head_ ABSL_GUARDED_BY(mu_) = 0;
  std::optional<grpc::Status> pending_finish_ ABSL_GUARDED_BY(mu_);
  WatchTaskResponse message_ ABSL_GUARDED_BY(mu_);
};

// One UploadReferenceAudio stream: the metadata (checked against the catalog in the reaction; no
// I/O), then chunks appended to memory up to the cap, then the provider upload on a worker
// thread. No thread is held while the client sends. Deletes itself in OnDone.
class UploadReactor final : public grpc::ServerReadReactor<music::v1::UploadReferenceAudioRequest> {
 public:
  UploadReactor(MusicApi* api, ThreadPool* workers, size_t max_bytes,
                music::v1::UploadReferenceAudioResponse* response)
      : api_(api), workers_(workers), max_bytes_(max_bytes), response_(response) {}

  // `caller`: AuthorizeCall's answer; a refused caller's upload is not read at all.
  void Begin(const absl::StatusOr<auth::CallerIdentity>& caller) {
    if (!caller.ok()) {
      Finish(ToGrpcStatus(caller.status()));
      return;
    }
    tenant_ = caller->tenant;
    StartRead(&request_);
  }

  void OnReadDone(bool ok) override {
    if (!ok) {  // the client has sent everything (or the call broke: Finish is then harmless)
      Complete();
      return;
    }
    if (!have_metadata_) {
      if (request_.part_case() != music::v1::UploadReferenceAudioRequest::kMetadata) {
        Finish(ToGrpcStatus(
            InvalidField("metadata", "required in the first message, before any chunk")));
        return;
      }
      auto model = api_->CheckReferenceAudioMetadata(request_.metadata());
      if (!model.ok()) {
        Finish(ToGrpcStatus(model.status()));
        return;
      }
      metadata_ = request_.metadata();
      have_metadata_ = true;
    } else {
      if (request_.part_case() != music::v1::UploadReferenceAudioRequest::kChunk) {
        Finish(ToGrpcStatus(InvalidField("metadata", "only in the first message")));
        return;
      }
      const std::string& chunk = request_.chunk();
      if (bytes_.size() + chunk.size() > max_bytes_) {
        // Refused at once: nothing more is read or kept.
        bytes_.clear();
        bytes_.shrink_to_fit();
        Finish(ToGrpcStatus(
            FailedPrecondition("REFERENCE_AUDIO_TOO_LARGE", metadata_.filename(),
                               absl::StrCat("reference audio is at most ", max_bytes_, " bytes"))));
        return;
      }
      bytes_.append(chunk);
    }
    StartRead(&request_);
  }

  void OnDone() override { delete this; }

 private:
  void Complete() {
    if (!have_metadata_) {
      Finish(ToGrpcStatus(InvalidField("metadata", "required in the first message")));
      return;
    }
    if (bytes_.empty()) {
      Finish(ToGrpcStatus(InvalidField("chunk", "no audio bytes were sent after the metadata")));
      return;
    }
    const bool scheduled = workers_->Schedule([this] {
      auto result = api_->UploadReferenceAudio(tenant_, metadata_, std::move(bytes_), max_bytes_);
      if (result.ok()) *response_ = std::move(*result);
      Finish(ToGrpcStatus(result.status()));
    });
    if (!scheduled) Finish(grpc::Status(grpc::StatusCode::UNAVAILABLE, "server shutting down"));
  }

  MusicApi* const api_;
  ThreadPool* const workers_;
  const size_t max_bytes_;
  music::v1::UploadReferenceAudioResponse* const response_;
  music::v1::UploadReferenceAudioRequest request_;
  // The uploader's tenant, set in Begin before the first read: the id is bound to it.
  std::string tenant_;
  music::v1::ReferenceAudioMetadata metadata_;
  bool have_metadata_ = false;
  std::string bytes_;
};

// One GetClipAudio stream: resolves the clip on a worker, then reads one chunk at a time on a
// worker and writes it; the next read starts in OnWriteDone. Exactly one step (a worker job or a
// write) is in flight until Finish, so the stream's state needs no lock: each step hands over to
// the next through the pool's queue or gRPC. Deletes itself when gRPC is done and no job holds
// it.
class ClipAudioReactor final : public grpc::ServerWriteReactor<music::v1::GetClipAudioResponse> {
 public:
  ClipAudioReactor(const ClipAudioReader* reader, ThreadPool* workers,
                   const music::v1::GetClipAudioRequest& request)
      : reader_(reader), workers_(workers), request_(request) {}

  // `caller`: AuthorizeCall's answer, checked before the archive is looked at.
  void Begin(absl::StatusOr<auth::CallerIdentity> caller) {
    if (!caller.ok()) {
      Finish(ToGrpcStatus(caller.status()));
      return;
    }
    tenant_ = std::move(caller->tenant);
    if (reader_ == nullptr) {
      Finish(grpc::Status(grpc::StatusCode::FAILED_PRECONDITION, "this server keeps no archive"));
      return;
    }
    OnWorker([this] { Resolve(); });
  }

  void OnWriteDone(bool ok) override {
    if (!ok) {
      Finish(grpc::Status(grpc::StatusCode::CANCELLED, "stream broken"));
      return;
    }
    if (next_ >= range_.end) {
      Finish(grpc::Status::OK);
      return;
    }
    OnWorker([this] { ReadNext(); });
  }
  void OnCancel() override { cancelled_.store(true); }
  void OnDone() override { Release(); }

 private:
  // Runs `fn` on the worker pool, holding a reference for it.
  void OnWorker(std::function<void()> fn) {
    refs_.fetch_add(1);
    const bool scheduled = workers_->Schedule([this, fn = std::move(fn)] {
      fn();
      Release();
    });
    if (!scheduled) {
      Release();
      Finish(grpc::Status(grpc::StatusCode::UNAVAILABLE, "server shutting down"));
    }
  }
  void Release() {
    if (refs_.fetch_sub(1) == 1) delete this;
  }

  void Resolve() {
    if (cancelled_.load()) {
      Finish(grpc::Status::CANCELLED);
      return;
    }
    absl::StatusOr<ClipAudioRange> range = reader_->Resolve(tenant_, request_);
    if (!range.ok()) {
      Finish(ToGrpcStatus(range.status()));
      return;
    }
    range_ = *std::move(range);
    next_ = range_.offset;
    ReadNext();
  }

  void ReadNext() {
    if (cancelled_.load()) {
      Finish(grpc::Status::CANCELLED);
      return;
    }
    message_.Clear();
    if (first_) {
      first_ = false;
      message_.set_content_type(range_.content_type);
      message_.set_total_size_bytes(range_.total_size);
      message_.set_sha256(range_.sha256);
    }
    message_.set_offset(next_);
    if (next_ < range_.end) {
      absl::StatusOr<std::string> chunk = reader_->ReadChunk(range_, next_);
      if (!chunk.ok()) {
        Finish(ToGrpcStatus(chunk.status()));
        return;
      }
      next_ += static_cast<int64_t>(chunk->size());
      message_.set_data(*std::move(chunk));
    }
    StartWrite(&message_);
  }

  const ClipAudioReader* const reader_;
  ThreadPool* const workers_;
  std::string tenant_;  // set in Begin, before the first worker job
  const music::v1::GetClipAudioRequest request_;
  std::atomic<int> refs_{1};  // gRPC (OnDone) and the worker job in flight
  std::atomic<bool> cancelled_{false};
  ClipAudioRange range_;
  int64_t next_ = 0;
  bool first_ = true;
  music::v1::GetClipAudioResponse message_;
};

}  // namespace

template <typename Req, typename Resp, typename Fn>
grpc::ServerUnaryReactor* MusicServiceImpl::Unary(grpc::CallbackServerContext* ctx,
                                                  const char* method, const Req* request,
                                                  Resp* response, Fn fn) {
  return RunUnary(*authenticator_, method, workers_, ctx, request, response, std::move(fn));
}

grpc::ServerUnaryReactor* MusicServiceImpl::CreateMusic(
    grpc::CallbackServerContext* ctx, const music::v1::CreateMusicRequest* request,
    music::v1::CreateMusicResponse* response) {
  return Unary(ctx, "/music.v1.MusicService/CreateMusic", request, response,
               [this, traceparent = Traceparent(ctx)](const std::string& tenant, const auto& r) {
                 return api_->CreateMusic(tenant, r, traceparent);
               });
}

grpc::ServerUnaryReactor* MusicServiceImpl::CreateLyrics(
    grpc::CallbackServerContext* ctx, const music::v1::CreateLyricsRequest* request,
    music::v1::CreateLyricsResponse* response) {
  return Unary(ctx, "/music.v1.MusicService/CreateLyrics", request, response,
               [this, traceparent = Traceparent(ctx)](const std::string& tenant, const auto& r) {
                 return api_->CreateLyrics(tenant, r, traceparent);
               });
}

grpc::ServerUnaryReactor* MusicServiceImpl::ContinueClip(
    grpc::CallbackServerContext* ctx, const music::v1::ContinueClipRequest* request,
    music::v1::ContinueClipResponse* response) {
  return Unary(ctx, "/music.v1.MusicService/ContinueClip", request, response,
               [this, traceparent = Traceparent(ctx)](const std::string& tenant, const auto& r) {
                 return api_->ContinueClip(tenant, r, traceparent);
               });
}

grpc::ServerUnaryReactor* MusicServiceImpl::CreateClipOperation(
    grpc::CallbackServerContext* ctx, const music::v1::CreateClipOperationRequest* request,
    music::v1::CreateClipOperationResponse* response) {
  return Unary(ctx, "/music.v1.MusicService/CreateClipOperation", request, response,
               [this, traceparent = Traceparent(ctx)](const std::string& tenant, const auto& r) {
                 return api_->CreateClipOperation(tenant, r, traceparent);
               });
}

grpc::ServerUnaryReactor* MusicServiceImpl::GetTimestampedLyrics(
    grpc::CallbackServerContext* ctx, const music::v1::GetTimestampedLyricsRequest* request,
    music::v1::GetTimestampedLyricsResponse* response) {
  return Unary(ctx, "/music.v1.MusicService/GetTimestampedLyrics", request, response,
               [this](const std::string& tenant, const auto& r) {
                 return api_->GetTimestampedLyrics(tenant, r);
               });
}

grpc::ServerUnaryReactor* MusicServiceImpl::BoostStyle(grpc::CallbackServerContext* ctx,
                                                       const music::v1::BoostStyleRequest* request,
                                                       music::v1::BoostStyleResponse* response) {
  return Unary(
      ctx, "/music.v1.MusicService/BoostStyle", request, response,
      [this](const std::string& /*tenant*/, const auto& r) { return api_->BoostStyle(r); });
}

grpc::ServerUnaryReactor* MusicServiceImpl::CreateAudioOperation(
    grpc::CallbackServerContext* ctx, const music::v1::CreateAudioOperationRequest* request,
    music::v1::CreateAudioOperationResponse* response) {
  return Unary(ctx, "/music.v1.MusicService/CreateAudioOperation", request, response,
               [this, traceparent = Traceparent(ctx)](const std::string& tenant, const auto& r) {
                 return api_->CreateAudioOperation(tenant, r, traceparent);
               });
}

grpc::ServerUnaryReactor* MusicServiceImpl::GetTask(grpc::CallbackServerContext* ctx,
                                                    const music::v1::GetTaskRequest* request,
                                                    music::v1::GetTaskResponse* response) {
  return Unary(
      ctx, "/music.v1.MusicService/GetTask", request, response,
      [this](const std::string& tenant, const auto& r) { return api_->GetTask(tenant, r); });
}

grpc::ServerUnaryReactor* MusicServiceImpl::ListTasks(grpc::CallbackServerContext* ctx,
                                                      const music::v1::ListTasksRequest* request,
                                                      music::v1::ListTasksResponse* response) {
  return Unary(
      ctx, "/music.v1.MusicService/ListTasks", request, response,
      [this](const std::string& tenant, const auto& r) { return api_->ListTasks(tenant, r); });
}

grpc::ServerUnaryReactor* MusicServiceImpl::CancelTask(grpc::CallbackServerContext* ctx,
                                                       const music::v1::CancelTaskRequest* request,
                                                       music::v1::CancelTaskResponse* response) {
  return Unary(
      ctx, "/music.v1.MusicService/CancelTask", request, response,
      [this](const std::string& tenant, const auto& r) { return api_->CancelTask(tenant, r); });
}

grpc::ServerUnaryReactor* MusicServiceImpl::ListModels(grpc::CallbackServerContext* ctx,
                                                       const music::v1::ListModelsRequest* request,
                                                       music::v1::ListModelsResponse* response) {
  return Unary(
      ctx, "/music.v1.MusicService/ListModels", request, response,
      [this](const std::string& /*tenant*/, const auto& r) { return api_->ListModels(r); });
}

grpc::ServerWriteReactor<WatchTaskResponse>* MusicServiceImpl::WatchTask(
    grpc::CallbackServerContext* ctx, const music::v1::WatchTaskRequest* request) {
  auto* reactor = new WatchReactor(api_, workers_, hub_, *request);
  reactor->Begin(AuthorizeCall(*authenticator_, *ctx, "/music.v1.MusicService/WatchTask"));
  return reactor;
}

grpc::ServerWriteReactor<music::v1::GetClipAudioResponse>* MusicServiceImpl::GetClipAudio(
    grpc::CallbackServerContext* ctx, const music::v1::GetClipAudioRequest* request) {
  auto* reactor = new ClipAudioReactor(clip_audio_, workers_, *request);
  reactor->Begin(AuthorizeCall(*authenticator_, *ctx, "/music.v1.MusicService/GetClipAudio"));
  return reactor;
}

grpc::ServerReadReactor<music::v1::UploadReferenceAudioRequest>*
MusicServiceImpl::UploadReferenceAudio(grpc::CallbackServerContext* ctx,
                                       music::v1::UploadReferenceAudioResponse* response) {
  auto* reactor = new UploadReactor(api_, workers_, max_reference_audio_bytes_, response);
  reactor->Begin(
      AuthorizeCall(*authenticator_, *ctx, "/music.v1.MusicService/UploadReferenceAudio"));
  return reactor;
}

}  // namespace music::service
