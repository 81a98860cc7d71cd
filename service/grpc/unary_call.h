#ifndef MUSIC_SERVICE_GRPC_UNARY_CALL_H_
#define MUSIC_SERVICE_GRPC_UNARY_CALL_H_

#include <grpcpp/grpcpp.h>

#include <utility>

#include "absl/status/statusor.h"
#include "service/auth/authenticator.h"
#include "service/core/thread_pool.h"
#include "service/grpc/caller_auth.h"
#include "service/grpc/status_mapping.h"

namespace music::service {

/// Authorizes the call for `method` (auth::MethodPolicies), then runs `fn(tenant, *request)` on
/// a worker thread (`workers`) and finishes the call with its result: UNAUTHENTICATED /
/// PERMISSION_DENIED before any work, CANCELLED when the caller left while queued, UNAVAILABLE
/// when the pool no longer takes work (shutdown). Shared by every unary handler of the services.
template <typename Req, typename Resp, typename Fn>
grpc::ServerUnaryReactor* RunUnary(const auth::Authenticator& authenticator, const char* method,
                                   ThreadPool* workers, grpc::CallbackServerContext* ctx,
                                   const Req* request, Resp* response, Fn fn) {
  grpc::ServerUnaryReactor* reactor = ctx->DefaultReactor();
  absl::StatusOr<auth::CallerIdentity> caller = AuthorizeCall(authenticator, *ctx, method);
  if (!caller.ok()) {
    reactor->Finish(ToGrpcStatus(caller.status()));
    return reactor;
  }
  const bool scheduled =
      workers->Schedule([ctx, request, response, reactor, fn, tenant = std::move(caller->tenant)] {
        if (ctx->IsCancelled()) {
          reactor->Finish(grpc::Status(grpc::StatusCode::CANCELLED, "cancelled by the caller"));
          return;
        }
        auto result = fn(tenant, *request);
        if (result.ok()) *response = std::move(*result);
        reactor->Finish(ToGrpcStatus(result.status()));
      });
  if (!scheduled) {
    reactor->Finish(grpc::Status(grpc::StatusCode::UNAVAILABLE, "server shutting down"));
  }
  return reactor;
}

}  // namespace music::service

#endif  // MUSIC_SERVICE_GRPC_UNARY_CALL_H_
