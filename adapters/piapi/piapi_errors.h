#ifndef MUSIC_ADAPTERS_PIAPI_PIAPI_ERRORS_H_
#define MUSIC_ADAPTERS_PIAPI_PIAPI_ERRORS_H_

#include <string>

#include "absl/status/status.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "adapters/http/http_types.h"

namespace music::adapters::piapi {

/// PiAPI's error code for a failed point freeze: the account cannot pay (CONTRACT-NOTES "PiAPI":
/// "a failed freeze answers error code 10000 with consume: 0").
inline constexpr int kPiapiFreezeFailed = 10000;

/// The status code for an HTTP status or an envelope `code` (WIRE.md "Errors"): 10000 and 402
/// FAILED_PRECONDITION (out of credits: the service fails over), 400/422 INVALID_ARGUMENT, 401
/// UNAUTHENTICATED, 403 PERMISSION_DENIED, 404 NOT_FOUND, 429 RESOURCE_EXHAUSTED, 5xx
/// UNAVAILABLE, other 4xx FAILED_PRECONDITION, anything else INTERNAL.
absl::StatusCode PiapiErrorCode(int code);

/// Ok when `response` is a success: HTTP 2xx and the envelope `code` (when the body has one) is
/// 200, and, for a create (`create`), no `data.error.code` 10000. Otherwise the error for, in
/// order: a 10000 anywhere in the envelope (`code` or `data.error.code`), the HTTP status when it
/// is not 2xx, the envelope `code`. The provider's raw code is attached (SetProviderErrorCode) and,
/// for RESOURCE_EXHAUSTED and UNAVAILABLE, the Retry-After header (SetRetryAfter). `operation`
/// names the call in the message.
absl::Status CheckPiapiAnswer(const http::Response& response, absl::string_view operation,
                              bool create, absl::Time now);



}  // namespace music::adapters::piapi

#endif  // MUSIC_ADAPTERS_PIAPI_PIAPI_ERRORS_H_
