#include "service/core/status_details.h"

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"

namespace music::service {
namespace {

void AttachErrorInfo(absl::Status& status, absl::string_view reason,
                     const std::vector<std::pair<std::string, std::string>>& metadata) {
  google::rpc::ErrorInfo info;
  info.set_reason(std::string(reason));
  info.set_domain(kErrorDomain);
  for (const auto& [k, v] : metadata) (*info.mutable_metadata())[k] = v;
  status.SetPayload(kErrorInfoUrl, absl::Cord(info.SerializeAsString()));
}

}  // namespace

absl::Status InvalidArgument(std::vector<FieldViolation> violations) {
  google::rpc::BadRequest bad;
  std::vector<std::string> parts;
  for (const auto& v : violations) {
    auto* fv = bad.add_field_violations();
    fv->set_field(v.field);
    fv->set_description(v.description);
    parts.push_back(absl::StrCat(v.field, ": ", v.description));
  }
  absl::Status status(absl::StatusCode::kInvalidArgument, absl::StrJoin(parts, "; "));
  status.SetPayload(kBadRequestUrl, absl::Cord(bad.SerializeAsString()));
  AttachErrorInfo(status, "INVALID_ARGUMENT",
                  {{"field", violations.empty() ? "" : violations.front().field}});
  return status;
}

absl::Status InvalidField(absl::string_view field, absl::string_view description) {
  return InvalidArgument({{std::string(field), std::string(description)}});
}

absl::Status ErrorWithReason(absl::StatusCode code, absl::string_view message,
                             absl::string_view reason,
                             const std::vector<std::pair<std::string, std::string>>& metadata) {
  absl::Status status(code, message);
  AttachErrorInfo(status, reason, metadata);
  return status;
}

absl::Status FailedPrecondition(absl::string_view type, absl::string_view subject,
                                absl::string_view description) {
  absl::Status status(absl::StatusCode::kFailedPrecondition,
                      absl::StrCat(subject, ": ", description));
  google::rpc::PreconditionFailure failure;
  auto* v = failure.add_violations();
  v->set_type(std::string(type));
  v->set_subject(std::string(subject));
  v->set_description(std::string(description));
  status.SetPayload(kPreconditionFailureUrl, absl::Cord(failure.SerializeAsString()));
  AttachErrorInfo(status, type, {{"subject", std::string(subject)}});
  return status;
}

}  // namespace music::service
