#ifndef MUSIC_SERVICE_CORE_TRACEPARENT_H_
#define MUSIC_SERVICE_CORE_TRACEPARENT_H_

#include <string>

#include "absl/strings/string_view.h"

namespace music::service {

/// The gRPC metadata key of the W3C trace context (lower case, as gRPC delivers keys).
inline constexpr char kTraceparentHeader[] = "traceparent";

/// Validates a W3C Trace Context `traceparent` value
/// (https://www.w3.org/TR/trace-context/#traceparent-header):
/// "<version>-<trace-id>-<parent-id>-<flags>" in lower-case hex of 2, 32, 16 and 2 digits, the
/// version not "ff", the ids not all zeros; version "00" is exactly 55 characters, a later version
/// may append "-..." (ignored, as the spec says). Returns the four known parts with version "00"
/// (how the spec says a later version is propagated), or "" when `value` is malformed: a bad
/// header is ignored, never an error for the caller.
std::string NormalizeTraceparent(absl::string_view value);

}  // namespace music::service

#endif  // MUSIC_SERVICE_CORE_TRACEPARENT_H_
