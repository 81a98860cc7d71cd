#include "adapters/piapi/piapi_errors.h"

#include <optional>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_replace.h"
#include "adapters/piapi/piapi_json.h"
#include "adapters/provider_auth.h"
#include "adapters/provider_errors.h"

namespace music::adapters::piapi {
namespace {

// Provider messages are quoted in errors; a hostile or broken provider must not fill the logs.
constexpr size_t kMaxQuotedMessage = 200;

}  // namespace

absl::StatusCode PiapiErrorCode(int code) {
  switch (code) {
    case kPiapiFreezeFailed:
    case 402:
      return absl::StatusCode::kFailedPrecondition;
    case 400:
    case 422:
      return absl::StatusCode::kInvalidArgument;
    case 401:
      return absl::StatusCode::kUnauthenticated;
    case 403:
      return absl::StatusCode::kPermissionDenied;
    case 404:
      return absl::StatusCode::kNotFound;
    case 429:
      return absl::StatusCode::kResourceExhausted;
    default:
      break;
  }
  if (code >= 500 && code <= 599) return absl::StatusCode::kUnavailable;
  if (code >= 400 && code <= 499) return absl::StatusCode::kFailedPrecondition;
  return absl::StatusCode::kInternal;
}

absl::Status CheckPiapiAnswer(const http::Response& response, absl::string_view operation,
                              bool create, absl::Time now) {
  const std::optional<PiapiEnvelope> envelope = ParsePiapiEnvelope(response.body);
  const bool http_ok = response.status >= 200 && response.status <= 299;
  const bool body_code_ok = !envelope || !envelope->code || *envelope->code == 200;
  // The freeze failure is reported in the body whatever the HTTP status; on a create it may come
  // only as data.error.code (a task object with an error and no task).
  const bool freeze_failed =
      envelope && ((envelope->code && *envelope->code == kPiapiFreezeFailed) ||
                   ((create || !http_ok || !body_code_ok) && envelope->error_code &&
                    *envelope->error_code == kPiapiFreezeFailed));
  if (http_ok && body_code_ok && !freeze_failed) return absl::OkStatus();

  int code = response.status;
  if (freeze_failed) {
    code = kPiapiFreezeFailed;
  } else if (http_ok && envelope && envelope->code) {
    code = static_cast<int>(*envelope->code);
  }
  std::string message =
      absl::StrCat("PiAPI ", operation, " answered HTTP ", response.status, " code ", code);
  absl::string_view quoted;
  if (envelope) {
    quoted = !envelope->error_message.empty() ? absl::string_view(envelope->error_message)
                                              : absl::string_view(envelope->message);
  }
  if (!quoted.empty()) absl::StrAppend(&message, ": ", quoted.substr(0, kMaxQuotedMessage));
  // Our key refused (not the caller's): FAILED_PRECONDITION + PROVIDER_AUTH (provider_errors.h).
  if (response.status == 401 || response.status == 403) {
    return ProviderAuthError(message, absl::StrCat(response.status));
  }
  absl::Status status(PiapiErrorCode(code), message);
  SetProviderErrorCode(status, absl::StrCat(code));
  SetRetryAfterFromHeaders(status, response.headers, now);
  return status;
}

}  // namespace music::adapters::piapi
