#ifndef MUSIC_ADAPTERS_KIE_KIE_ERRORS_H_
#define MUSIC_ADAPTERS_KIE_KIE_ERRORS_H_

#include <string>

#include "absl/status/status.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "adapters/http/http_types.h"

namespace music::adapters::kie {

/// The status code for a kie.ai error code (WIRE.md "Envelope"): 429 RESOURCE_EXHAUSTED, 402
/// FAILED_PRECONDITION, 401 UNAUTHENTICATED, 403/451 PERMISSION_DENIED, 404 NOT_FOUND, 409
/// ALREADY_EXISTS, 400/422 INVALID_ARGUMENT, 455 and 5xx UNAVAILABLE, other 4xx
/// FAILED_PRECONDITION, anything else INTERNAL. `lyrics_create` is for `POST /api/v1/lyrics`,
/// where 405 means rate limited (RESOURCE_EXHAUSTED) and 429 insufficient credits
/// (FAILED_PRECONDITION).
absl::StatusCode KieErrorCode(int code, bool lyrics_create);

/// Ok when `response` reports success: the body's envelope code is 200, or the body has no
/// envelope but the HTTP status is 2xx (the caller's parser then reports the body as malformed).
/// Otherwise the error for the envelope code (or, without an envelope, the HTTP status), with
/// the provider's code attached (SetProviderErrorCode) and, for RESOURCE_EXHAUSTED and
/// UNAVAILABLE, the Retry-After header (SetRetryAfter). `operation` names the call in messages.
absl::Status CheckKieAnswer(const http::Response& response, absl::string_view operation,
                            bool lyrics_create, absl::Time now);



}  // namespace music::adapters::kie

#endif  // MUSIC_ADAPTERS_KIE_KIE_ERRORS_H_
