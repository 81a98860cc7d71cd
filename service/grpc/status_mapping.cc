#include "service/grpc/status_mapping.h"

#include <string>

#include "adapters/provider_auth.h"
#include "adapters/provider_errors.h"
#include "google/rpc/error_details.pb.h"
#include "google/rpc/status.pb.h"
#include "service/core/status_details.h"

namespace music::service {
namespace {

// The google.rpc.ErrorInfo of a provider refusing the service's own key (AIP-193: reason
// PROVIDER_AUTH in domain music.v1), so a client tells it from its own UNAUTHENTICATED by the
// reason, not by parsing the message. Metadata: the provider's code for it (e.g. "401").
std::string ProviderAuthErrorInfo(const absl::Status& status) {
  google::rpc::ErrorInfo info;
  info.set_reason(adapters::kProviderAuthReason);
  info.set_domain(kErrorDomain);
  if (std::string code = adapters::GetProviderErrorCode(status); !code.empty()) {
    (*info.mutable_metadata())["provider_error_code"] = code;
  }
  return info.SerializeAsString();
}

}  // namespace

grpc::Status ToGrpcStatus(const absl::Status& status) {
  if (status.ok()) return grpc::Status::OK;
  const auto code = static_cast<grpc::StatusCode>(status.code());
  const std::string message(status.message());
  google::rpc::Status details;
  for (const char* url : {kBadRequestUrl, kPreconditionFailureUrl, kQuotaFailureUrl,
                          kRetryInfoUrl, kErrorInfoUrl}) {
    if (auto payload = status.GetPayload(url)) {
      auto* any = details.add_details();
      any->set_type_url(url);
      any->set_value(std::string(*payload));
    }
  }
  if (adapters::IsProviderAuthError(status) && !status.GetPayload(kErrorInfoUrl).has_value()) {
    auto* any = details.add_details();
    any->set_type_url(kErrorInfoUrl);
    any->set_value(ProviderAuthErrorInfo(status));
  }
  if (details.details_size() == 0) return grpc::Status(code, message);
  details.set_code(static_cast<int>(code));
  details.set_message(message);
  return grpc::Status(code, message, details.SerializeAsString());
}

}  // namespace music::service
