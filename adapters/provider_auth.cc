#include "adapters/provider_auth.h"

#include "absl/strings/cord.h"
#include "adapters/provider_errors.h"

namespace music::adapters {
namespace {
constexpr char kProviderAuthUrl[] = "type.music/provider-auth";
}  // namespace

absl::Status ProviderAuthError(absl::string_view message, absl::string_view provider_error_code) {
  absl::Status status = absl::FailedPreconditionError(message);
  SetProviderErrorCode(status, provider_error_code);
  status.SetPayload(kProviderAuthUrl, absl::Cord(kProviderAuthReason));
  return status;
}

bool IsProviderAuthError(const absl::Status& status) {
  return status.code() == absl::StatusCode::kFailedPrecondition &&
         status.GetPayload(kProviderAuthUrl).has_value();
}

}  // namespace music::adapters
