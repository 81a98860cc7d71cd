#ifndef MUSIC_ADAPTERS_BEATRA_BEATRA_ERRORS_H_
#define MUSIC_ADAPTERS_BEATRA_BEATRA_ERRORS_H_

#include <string>

#include "absl/status/status.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "adapters/http/http_types.h"

namespace music::adapters::beatra {

/// The status code for a non-2xx beatra answer (WIRE.md "Error table"). A known envelope `code`
/// decides: insufficient_balance FAILED_PRECONDITION, billing_failed UNAVAILABLE,
/// invalid_request / unsupported_option / unsupported_model / payload_too_large
/// INVALID_ARGUMENT, rate_limited RESOURCE_EXHAUSTED, unauthorized UNAUTHENTICATED, forbidden
/// PERMISSION_DENIED, not_found NOT_FOUND, idempotency_conflict FAILED_PRECONDITION,
/// internal_error UNAVAILABLE. An unknown code with `retryable` true is UNAVAILABLE; otherwise the
/// HTTP status decides: 400/413/422 INVALID_ARGUMENT, 401 UNAUTHENTICATED, 402
/// FAILED_PRECONDITION, 403 PERMISSION_DENIED, 404 NOT_FOUND, 409 FAILED_PRECONDITION, 429
/// RESOURCE_EXHAUSTED, 5xx UNAVAILABLE, other 4xx FAILED_PRECONDITION, anything else INTERNAL.
absl::StatusCode BeatraHttpErrorCode(absl::string_view code, bool retryable, int http_status);

/// The code reported for a `failed` task's `error {code, retryable}`: the same known codes as
/// above, plus content_policy_violation INVALID_ARGUMENT, generation_timeout DEADLINE_EXCEEDED,
/// generation_failed INTERNAL; an unknown code is UNAVAILABLE when retryable, else INTERNAL.
absl::StatusCode BeatraTaskErrorCode(absl::string_view code, bool retryable);

/// Ok for a 2xx answer. Otherwise the error for the envelope (or the HTTP status), with the
/// provider's code (envelope `code`, else the HTTP status) attached (SetProviderErrorCode), the
/// request id (`X-Request-Id`, else `error.request_id`) in the message, and for
/// RESOURCE_EXHAUSTED / UNAVAILABLE the `Retry-After` header (SetRetryAfter). `operation` names
/// the call, e.g. "POST /v1/music/text-to-music".
absl::Status CheckBeatraAnswer(const http::Response& response, absl::string_view operation,
                               absl::Time now);



}  // namespace music::adapters::beatra

#endif  // MUSIC_ADAPTERS_BEATRA_BEATRA_ERRORS_H_
