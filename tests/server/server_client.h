// A gRPC client of a server started by BuildServer, for the tests of the wiring.
#ifndef MUSIC_TESTS_SERVER_SERVER_CLIENT_H_
#define MUSIC_TESTS_SERVER_SERVER_CLIENT_H_

#include <grpcpp/grpcpp.h>
#include <gtest/gtest.h>

#include <chrono>
#include <memory>
#include <string>
#include <utility>

#include "absl/time/time.h"
#include "music/v1/music_service.grpc.pb.h"

namespace music::server {

/// A MusicService stub on 127.0.0.1:<port>. `token` (may be ""): sent on every call as
/// `authorization: Bearer <token>` (README "Callers").
class ServerClient {
 public:
  explicit ServerClient(int port, std::string token = "")
      : stub_(music::v1::MusicService::NewStub(grpc::CreateChannel(
            "127.0.0.1:" + std::to_string(port), grpc::InsecureChannelCredentials()))),
        token_(std::move(token)) {}

  /// Adds the bearer token (if any) to `ctx`, for calls made with stub() directly.
  void Authorize(grpc::ClientContext* ctx) const {
    if (!token_.empty()) ctx->AddMetadata("authorization", "Bearer " + token_);
  }
  music::v1::MusicService::Stub* stub() { return stub_.get(); }

  /// CreateMusic with `prompt` on `model` ("" = the default); the task as created.
  music::v1::Task CreateMusic(const std::string& prompt, const std::string& model = "") {
    music::v1::CreateMusicRequest req;
    req.set_prompt(prompt);
    req.set_model(model);
    music::v1::CreateMusicResponse resp;
    grpc::ClientContext ctx;
    Authorize(&ctx);
    grpc::Status s = stub_->CreateMusic(&ctx, req, &resp);
    EXPECT_TRUE(s.ok()) << s.error_message();
    return resp.task();
  }

  /// Watches task `id` until its stream ends (after its terminal state) or `timeout` passes; the
  /// last task seen. Waits on the stream only, never on a fixed sleep.
  music::v1::Task WaitDone(const std::string& id, absl::Duration timeout = absl::Seconds(20)) {
    grpc::ClientContext ctx;
    Authorize(&ctx);
    Authorize(&ctx);
    ctx.set_deadline(std::chrono::system_clock::now() +
                     std::chrono::milliseconds(absl::ToInt64Milliseconds(timeout)));
    music::v1::WatchTaskRequest req;
    req.set_task_id(id);
    auto reader = stub_->WatchTask(&ctx, req);
    music::v1::WatchTaskResponse msg;
    music::v1::Task last;
    while (reader->Read(&msg)) {
      if (msg.has_task()) last = msg.task();
    }
    grpc::Status s = reader->Finish();
    EXPECT_TRUE(s.ok()) << s.error_message();
    return last;
  }

  /// The task `id` as stored now.
  music::v1::Task GetTask(const std::string& id) {
    music::v1::GetTaskRequest req;
    req.set_task_id(id);
    music::v1::GetTaskResponse resp;
    grpc::ClientContext ctx;
    Authorize(&ctx);
    grpc::Status s = stub_->GetTask(&ctx, req, &resp);
    EXPECT_TRUE(s.ok()) << s.error_message();
    return resp.task();
  }

  music::v1::ListModelsResponse ListModels() {
    music::v1::ListModelsResponse resp;
    grpc::ClientContext ctx;
    Authorize(&ctx);
    grpc::Status s = stub_->ListModels(&ctx, music::v1::ListModelsRequest(), &resp);
    EXPECT_TRUE(s.ok()) << s.error_message();
    return resp;
  }

 private:
  std::unique_ptr<music::v1::MusicService::Stub> stub_;
  std::string token_;
};

/// The model called `name` in `models` (which must outlive the pointer), or nullptr.
inline const music::v1::Model* FindModel(const music::v1::ListModelsResponse& models,
                                         const std::string& name) {
  for (const auto& m : models.models()) {
    if (m.name() == name) return &m;
  }
  return nullptr;
}

}  // namespace music::server

#endif  // MUSIC_TESTS_SERVER_SERVER_CLIENT_H_
