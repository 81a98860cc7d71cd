#include "service/grpc/caller_auth.h"

#include <grpc/grpc_security_constants.h>
#include <grpcpp/security/auth_context.h>

#include <optional>
#include <string>
#include <vector>

namespace music::service {

absl::StatusOr<auth::CallerIdentity> AuthorizeCall(const auth::Authenticator& authenticator,
                                                   const grpc::CallbackServerContext& ctx,
                                                   absl::string_view full_method) {
  const auto& metadata = ctx.client_metadata();
  std::vector<std::string> cert_ids;
  // Only a certificate the handshake verified against grpc.tls.client_ca_file counts: gRPC marks
  // the peer authenticated then, and its SANs (URI SANs included) and CN are the properties.
  if (std::shared_ptr<const grpc::AuthContext> auth_context = ctx.auth_context();
      auth_context != nullptr && auth_context->IsPeerAuthenticated()) {
    for (const char* property : {GRPC_X509_SAN_PROPERTY_NAME, GRPC_X509_CN_PROPERTY_NAME}) {
      for (const grpc::string_ref& value : auth_context->FindPropertyValues(property)) {
        cert_ids.emplace_back(value.data(), value.size());
      }
    }
  }
  const std::string peer = ctx.peer();
  auth::CallAttributes call{[&metadata](absl::string_view key) -> std::optional<absl::string_view> {
                              auto it = metadata.find(grpc::string_ref(key.data(), key.size()));
                              if (it == metadata.end()) return std::nullopt;
                              return absl::string_view(it->second.data(), it->second.size());
                            },
                            peer, std::move(cert_ids)};
  absl::StatusOr<auth::CallerIdentity> caller = authenticator.Authenticate(call);
  if (!caller.ok()) return caller.status();
  if (absl::Status allowed = auth::Authorize(*caller, full_method); !allowed.ok()) return allowed;
  return caller;
}

}  // namespace music::service
