#include "service/grpc/status_mapping.h"

#include <string>

#include "google/rpc/status.pb.h"
#include "service/core/status_details.h"

namespace music::service {

grpc::Status ToGrpcStatus(const absl::Status& status) {
  if (status.ok()) return grpc::Status::OK;
  const auto code = static_cast<grpc::StatusCode>(status.code());
  const std::string message(status.message());
  google::rpc::Status details;
  for (const char* url : {kBadRequestUrl, kPreconditionFailureUrl, kErrorInfoUrl}) {
    if (auto payload = status.GetPayload(url)) {
      auto* any = details.add_details();
      any->set_type_url(url);
      any->set_value(std::string(*payload));
    }
  }
  if (details.details_size() == 0) return grpc::Status(code, message);
  details.set_code(static_cast<int>(code));
  details.set_message(message);
  return grpc::Status(code, message, details.SerializeAsString());
}

}  // namespace music::service
