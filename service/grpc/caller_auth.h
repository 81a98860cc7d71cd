#ifndef MUSIC_SERVICE_GRPC_CALLER_AUTH_H_
#define MUSIC_SERVICE_GRPC_CALLER_AUTH_H_

#include <grpcpp/server_context.h>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "service/auth/authenticator.h"

namespace music::service {

/// The caller of `ctx`, checked against the role `full_method` needs (auth::MethodPolicies):
/// identity first (UNAUTHENTICATED), then the role (PERMISSION_DENIED), before any store is
/// touched, so a caller without the right learns nothing of what exists (AIP-193). Reads only the
/// call's metadata, peer and TLS auth context: fine in a reaction. Every handler of MusicService,
/// BillingService and ReconciliationService calls it first.
absl::StatusOr<auth::CallerIdentity> AuthorizeCall(const auth::Authenticator& authenticator,
                                                   const grpc::CallbackServerContext& ctx,
                                                   absl::string_view full_method);

}  // namespace music::service

#endif  // MUSIC_SERVICE_GRPC_CALLER_AUTH_H_
