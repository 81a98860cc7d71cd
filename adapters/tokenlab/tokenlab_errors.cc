#include "adapters/tokenlab/tokenlab_errors.h"

#include <optional>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_replace.h"
#include "adapters/provider_auth.h"
#include "adapters/provider_errors.h"
#include "adapters/tokenlab/tokenlab_json.h"

namespace music::adapters::tokenlab {
namespace {

// Provider messages are quoted in errors; a hostile or broken provider must not fill the logs.
constexpr size_t kMaxQuotedMessage = 200;

}  // namespace

absl::StatusCode TokenlabHttpErrorCode(int http_status) {
  switch (http_status) {
    case 400:
    case 422:
      return absl::StatusCode::kInvalidArgument;
    case 401:
      return absl::StatusCode::kUnauthenticated;
    case 402:
      return absl::StatusCode::kFailedPrecondition;
    case 403:
      return absl::StatusCode::kPermissionDenied;
    case 404:
      return absl::StatusCode::kNotFound;
    case 408:
      // The server gave up waiting for our request: nothing was created, try again.
      return absl::StatusCode::kUnavailable;
    case 409:
      return absl::StatusCode::kAlreadyExists;
    case 429:
      return absl::StatusCode::kResourceExhausted;
    default:
      break;
  }
  if (http_status >= 500 && http_status <= 599) return absl::StatusCode::kUnavailable;
  if (http_status >= 400 && http_status <= 499) return absl::StatusCode::kFailedPrecondition;
  return absl::StatusCode::kInternal;
}

absl::Status CheckTokenlabAnswer(const http::Response& response, absl::string_view operation,
                                 absl::Time now) {
  if (response.status >= 200 && response.status <= 299) return absl::OkStatus();
  const std::optional<TokenlabError> envelope = ParseTokenlabError(response.body);
  std::string message = absl::StrCat("TokenLab ", operation, " answered HTTP ", response.status);
  if (envelope && !envelope->message.empty()) {
    absl::StrAppend(&message, ": ",
                    absl::string_view(envelope->message).substr(0, kMaxQuotedMessage));
  }
  absl::Status status(TokenlabHttpErrorCode(response.status), message);
  // The envelope's own code says more than the HTTP status (insufficient_balance vs
  // spend_limit_exceeded, both 402); the HTTP status when there is none.
  const std::string provider_code =
      envelope && !envelope->code.empty()
          ? std::string(absl::string_view(envelope->code).substr(0, kMaxQuotedMessage))
          : absl::StrCat(response.status);
  // Our key refused (not the caller's): FAILED_PRECONDITION + PROVIDER_AUTH (provider_errors.h).
  if (response.status == 401 || response.status == 403) {
    return ProviderAuthError(message, provider_code);
  }
  SetProviderErrorCode(status, provider_code);
  SetRetryAfterFromHeaders(status, response.headers, now);
  return status;
}

}  // namespace music::adapters::tokenlab
