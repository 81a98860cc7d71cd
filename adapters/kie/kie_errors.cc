#include "adapters/kie/kie_errors.h"

#include <optional>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_replace.h"
#include "adapters/kie/kie_json.h"
#include "adapters/provider_auth.h"
#include "adapters/provider_errors.h"

namespace music::adapters::kie {
namespace {

// Provider messages are quoted in errors; a hostile or broken provider must not fill the logs.
constexpr size_t kMaxQuotedMessage = 200;

}  // namespace

absl::StatusCode KieErrorCode(int code, bool lyrics_create) {
  if (lyrics_create && code == 405) return absl::StatusCode::kResourceExhausted;
  if (lyrics_create && code == 429) return absl::StatusCode::kFailedPrecondition;
  switch (code) {
    case 429:
      return absl::StatusCode::kResourceExhausted;
    case 402:
      return absl::StatusCode::kFailedPrecondition;
    case 401:
      return absl::StatusCode::kUnauthenticated;
    case 403:
    case 451:
      return absl::StatusCode::kPermissionDenied;
    case 404:
      return absl::StatusCode::kNotFound;
    case 409:
      return absl::StatusCode::kAlreadyExists;
    case 400:
    case 422:
      return absl::StatusCode::kInvalidArgument;
    case 455:
      return absl::StatusCode::kUnavailable;
    default:
      break;
  }
  if (code >= 500 && code <= 599) return absl::StatusCode::kUnavailable;
  if (code >= 400 && code <= 499) return absl::StatusCode::kFailedPrecondition;
  return absl::StatusCode::kInternal;
}

absl::Status CheckKieAnswer(const http::Response& response, absl::string_view operation,
                            bool lyrics_create, absl::Time now) {
  const std::optional<KieEnvelope> envelope = ParseKieEnvelope(response.body);
  const bool http_ok = response.status >= 200 && response.status <= 299;
  if (envelope ? envelope->code == 200 : http_ok) return absl::OkStatus();

  // The body's code wins when there is one: kie.ai may answer HTTP 200 with {"code": 429}.
  const int code = envelope ? envelope->code : response.status;
  std::string message = absl::StrCat("kie.ai ", operation, " answered code ", code);
  if (envelope && !envelope->msg.empty()) {
    absl::StrAppend(&message, ": ", absl::string_view(envelope->msg).substr(0, kMaxQuotedMessage));
  }
  // Our key refused (not the caller's): FAILED_PRECONDITION + PROVIDER_AUTH (provider_errors.h).
  if (code == 401 || code == 403) return ProviderAuthError(message, absl::StrCat(code));
  absl::Status status(KieErrorCode(code, lyrics_create), message);
  SetProviderErrorCode(status, absl::StrCat(code));
  SetRetryAfterFromHeaders(status, response.headers, now);
  return status;
}

}  // namespace music::adapters::kie
