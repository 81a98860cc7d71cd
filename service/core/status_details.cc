#include "service/core/status_details.h"

#include <algorithm>
#include <cstdint>

#include "absl/strings/cord.h"
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

std::string TruncateForError(absl::string_view value, size_t max_bytes) {
  if (value.size() <= max_bytes) return std::string(value);
  size_t cut = max_bytes;
  // Never split a code point: back up over continuation bytes (10xxxxxx).
  while (cut > 0 && (static_cast<unsigned char>(value[cut]) & 0xC0) == 0x80) --cut;
  return absl::StrCat(value.substr(0, cut), "...(", value.size(), " bytes)");
}

absl::Status FailedPrecondition(absl::string_view type, absl::string_view full_subject,
                                absl::string_view description) {
  const std::string subject = TruncateForError(full_subject);
  absl::Status status(absl::StatusCode::kFailedPrecondition,
                      absl::StrCat(subject, ": ", description));
  google::rpc::PreconditionFailure failure;
  auto* v = failure.add_violations();
  v->set_type(std::string(type));
  v->set_subject(subject);
  v->set_description(std::string(description));
  status.SetPayload(kPreconditionFailureUrl, absl::Cord(failure.SerializeAsString()));
  AttachErrorInfo(status, type, {{"subject", subject}});
  return status;
}

void SetRetryDelay(absl::Duration delay, absl::Status& status) {
  delay = std::max(delay, absl::Milliseconds(1));
  google::rpc::RetryInfo retry;
  const int64_t seconds = absl::ToInt64Seconds(delay);
  retry.mutable_retry_delay()->set_seconds(seconds);
  retry.mutable_retry_delay()->set_nanos(
      static_cast<int32_t>(absl::ToInt64Nanoseconds(delay - absl::Seconds(seconds))));
  status.SetPayload(kRetryInfoUrl, absl::Cord(retry.SerializeAsString()));
}

}  // namespace music::service
