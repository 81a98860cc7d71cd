#ifndef MUSIC_ADAPTERS_TOKENLAB_TOKENLAB_ERRORS_H_
#define MUSIC_ADAPTERS_TOKENLAB_TOKENLAB_ERRORS_H_

#include <string>

#include "absl/status/status.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "adapters/http/http_types.h"

namespace music::adapters::tokenlab {

/// The status code for a TokenLab HTTP status (WIRE.md "Error table"): 400/422 INVALID_ARGUMENT
/// (seed 000 "Unsupported parameter"), 401 UNAUTHENTICATED, 402 FAILED_PRECONDITION (balance or
/// spend limit, CONTRACT-NOTES), 403 PERMISSION_DENIED, 404 NOT_FOUND, 409 ALREADY_EXISTS,
/// 408 and 5xx UNAVAILABLE, 429 RESOURCE_EXHAUSTED, other 4xx FAILED_PRECONDITION, anything else
/// (1xx, 3xx) INTERNAL.
absl::StatusCode TokenlabHttpErrorCode(int http_status);

/// Ok for a 2xx answer. Otherwise the error for the HTTP status, with the error envelope's
/// `error.message` quoted (at most 200 characters), the provider's code attached
/// (SetProviderErrorCode: the envelope's `error.code`, else the HTTP status) and, for
/// RESOURCE_EXHAUSTED and UNAVAILABLE, the Retry-After header (SetRetryAfter). `operation` names
/// the call in messages, e.g. "POST /v1/music/generations".
absl::Status CheckTokenlabAnswer(const http::Response& response, absl::string_view operation,
                                 absl::Time now);



}  // namespace music::adapters::tokenlab

#endif  // MUSIC_ADAPTERS_TOKENLAB_TOKENLAB_ERRORS_H_
