#ifndef MUSIC_ADAPTERS_PROVIDER_ERRORS_H_
#define MUSIC_ADAPTERS_PROVIDER_ERRORS_H_

#include <optional>
#include <string>

#include "absl/status/status.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "adapters/http/http_types.h"

namespace music::adapters {

/// Attaches a provider's Retry-After (seconds or an HTTP date, already converted) to `status`.
void SetRetryAfter(absl::Status& status, absl::Duration delay);
/// The Retry-After attached by SetRetryAfter, if any.
std::optional<absl::Duration> GetRetryAfter(const absl::Status& status);

/// Marks `status` as "the request may have reached the provider" (timeout after connecting, or a
/// 2xx answer that could not be parsed): the engine must not blindly resend a create.
void MarkOutcomeUnknown(absl::Status& status);
bool IsOutcomeUnknown(const absl::Status& status);

/// Attaches the provider's raw error code (HTTP status or body code) for the task's error.
void SetProviderErrorCode(absl::Status& status, absl::string_view code);
std::string GetProviderErrorCode(const absl::Status& status);

/// True for errors worth retrying later: UNAVAILABLE, RESOURCE_EXHAUSTED, DEADLINE_EXCEEDED,
/// ABORTED, INTERNAL (malformed answers), DATA_LOSS.
bool IsRetryable(const absl::Status& status);

/// Parses a Retry-After header value: delta-seconds or an IMF-fixdate. nullopt when unparsable.
std::optional<absl::Duration> ParseRetryAfter(absl::string_view value, absl::Time now);

/// For RESOURCE_EXHAUSTED and UNAVAILABLE, attaches the answer's `Retry-After` header (when present
/// and parsable) with SetRetryAfter; other statuses are left as they are.
void SetRetryAfterFromHeaders(absl::Status& status, const http::Headers& headers, absl::Time now);

/// `status` with `message`, keeping its code and payloads (Retry-After, outcome-unknown, ...).
absl::Status WithMessage(const absl::Status& status, absl::string_view message);

/// `text` with every occurrence of `secret` replaced by "[redacted]" (API keys and webhook
/// secrets never reach an error message, a log or a stored task).
std::string Redact(absl::string_view text, absl::string_view secret);

}  // namespace music::adapters

#endif  // MUSIC_ADAPTERS_PROVIDER_ERRORS_H_
