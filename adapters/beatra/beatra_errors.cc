#include "adapters/beatra/beatra_errors.h"

#include <optional>

#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_replace.h"
#include "adapters/beatra/beatra_json.h"
#include "adapters/provider_auth.h"
#include "adapters/provider_errors.h"

namespace music::adapters::beatra {
namespace {

using C = absl::StatusCode;

// Provider text is quoted in errors; a hostile or broken provider must not fill the logs.
constexpr size_t kMaxQuoted = 200;

struct CodeRow {
  absl::string_view code;
  C status;
};

// THE beatra error-code table (WIRE.md "Error table"); CONTRACT-NOTES codes first, then the codes
// this adapter names for HTTP statuses the documents leave open.
// clang-format off
constexpr CodeRow kCodes[] = {
    {"insufficient_balance",     C::kFailedPrecondition},  // 402: the service fails over
    {"billing_failed",           C::kUnavailable},         // 500, retryable
    {"invalid_request",          C::kInvalidArgument},     // 422
    {"unsupported_option",       C::kInvalidArgument},     // 422
    // 400. The model, not the request, is refused: FAILED_PRECONDITION lets an alias fail the
    // task over to its next model (INVALID_ARGUMENT would fail it: another provider would be
    // asked the same thing, which is not so for a model this account cannot run).
    {"unsupported_model",        C::kFailedPrecondition},
    {"rate_limited",             C::kResourceExhausted},   // 429, retryable
    {"unauthorized",             C::kUnauthenticated},     // 401
    {"forbidden",                C::kPermissionDenied},    // 403
    {"not_found",                C::kNotFound},            // 404
    {"idempotency_conflict",     C::kFailedPrecondition},  // 409: same key, another body
    {"payload_too_large",        C::kInvalidArgument},     // 413 upload over 100 MiB
    {"internal_error",           C::kUnavailable},         // 500
};
// Codes seen only on a failed task's `error`.
constexpr CodeRow kTaskCodes[] = {
    {"content_policy_violation", C::kInvalidArgument},
    {"generation_timeout",       C::kDeadlineExceeded},
    {"generation_failed",        C::kInternal},
};
// clang-format on

std::optional<C> Lookup(absl::string_view code, bool task) {
  for (const CodeRow& row : kCodes) {
    if (row.code == code) return row.status;
  }
  if (task) {
    for (const CodeRow& row : kTaskCodes) {
      if (row.code == code) return row.status;
    }
  }
  return std::nullopt;
}

C FromHttpStatus(int status) {
  switch (status) {
    case 400:
    case 413:
    case 422:
      return C::kInvalidArgument;
    case 401:
      return C::kUnauthenticated;
    case 402:
      return C::kFailedPrecondition;
    case 403:
      return C::kPermissionDenied;
    case 404:
      return C::kNotFound;
    case 409:
      return C::kFailedPrecondition;
    case 429:
      return C::kResourceExhausted;
    default:
      break;
  }
  if (status >= 500 && status <= 599) return C::kUnavailable;
  if (status >= 400 && status <= 499) return C::kFailedPrecondition;
  return C::kInternal;
}

}  // namespace

absl::StatusCode BeatraHttpErrorCode(absl::string_view code, bool retryable, int http_status) {
  if (std::optional<C> known = Lookup(code, /*task=*/false)) return *known;
  if (retryable) return C::kUnavailable;
  return FromHttpStatus(http_status);
}

absl::StatusCode BeatraTaskErrorCode(absl::string_view code, bool retryable) {
  if (std::optional<C> known = Lookup(code, /*task=*/true)) return *known;
  return retryable ? C::kUnavailable : C::kInternal;
}

absl::Status CheckBeatraAnswer(const http::Response& response, absl::string_view operation,
                               absl::Time now) {
  if (response.status >= 200 && response.status <= 299) return absl::OkStatus();
  const std::optional<BeatraError> envelope = ParseBeatraErrorEnvelope(response.body);
  const C code = envelope
                     ? BeatraHttpErrorCode(envelope->code, envelope->retryable, response.status)
                     : FromHttpStatus(response.status);
  std::string message = absl::StrCat("beatra ", operation, " answered HTTP ", response.status);
  if (envelope) {
    absl::StrAppend(&message, " ", absl::CEscape(absl::string_view(envelope->code).substr(0, 64)));
    if (!envelope->message.empty()) {
      absl::StrAppend(&message, ": ", absl::string_view(envelope->message).substr(0, kMaxQuoted));
    }
  }
  // Support needs the request id: the header is on every answer, the envelope repeats it.
  std::string request_id(http::FindHeader(response.headers, "X-Request-Id"));
  if (request_id.empty() && envelope) request_id = envelope->request_id;
  if (!request_id.empty()) {
    absl::StrAppend(&message, " (request id ",
                    absl::CEscape(absl::string_view(request_id).substr(0, 128)), ")");
  }
  // Our key refused (not the caller's): FAILED_PRECONDITION + PROVIDER_AUTH (provider_errors.h).
  if (response.status == 401 || response.status == 403) {
    return ProviderAuthError(message, envelope ? envelope->code : absl::StrCat(response.status));
  }
  absl::Status status(code, message);
  SetProviderErrorCode(status, envelope ? envelope->code : absl::StrCat(response.status));
  SetRetryAfterFromHeaders(status, response.headers, now);
  return status;
}

}  // namespace music::adapters::beatra
