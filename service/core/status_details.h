#ifndef MUSIC_SERVICE_CORE_STATUS_DETAILS_H_
#define MUSIC_SERVICE_CORE_STATUS_DETAILS_H_

#include <string>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "google/rpc/error_details.pb.h"

namespace music::service {

/// The ErrorInfo domain of every error this service returns (AIP-193).
inline constexpr char kErrorDomain[] = "music.v1";

/// Longest caller value an error message echoes, bytes (TruncateForError's default).
inline constexpr size_t kMaxEchoBytes = 64;

/// `value` as an error message may quote it: unchanged when at most `max_bytes` long, else its
/// first `max_bytes` bytes (cut back to a UTF-8 code point boundary) followed by
/// "...(N bytes)", N the full length. Every error that echoes a caller's value (ids, names,
/// model, request_id) goes through it, so a 1 MB id never becomes a 1 MB grpc-message trailer
/// (clients' default metadata limit is 8-16 KiB).
std::string TruncateForError(absl::string_view value, size_t max_bytes = kMaxEchoBytes);

/// One bad field of a request: its proto field path and why it is bad.
struct FieldViolation {
  std::string field;
  std::string description;
};

/// INVALID_ARGUMENT naming every bad field: carries a google.rpc.BadRequest and an ErrorInfo
/// (reason INVALID_ARGUMENT, metadata "field" = the first field) as status payloads, which the gRPC
/// edge turns into grpc-status-details-bin.
absl::Status InvalidArgument(std::vector<FieldViolation> violations);
/// Shorthand for one field.
absl::Status InvalidField(absl::string_view field, absl::string_view description);

/// A status of `code` with an ErrorInfo {reason, domain music.v1, metadata}.
absl::Status ErrorWithReason(absl::StatusCode code, absl::string_view message,
                             absl::string_view reason,
                             const std::vector<std::pair<std::string, std::string>>& metadata = {});

/// FAILED_PRECONDITION with a google.rpc.PreconditionFailure violation and an ErrorInfo. The
/// subject (often a caller's id) is passed through TruncateForError.
absl::Status FailedPrecondition(absl::string_view type, absl::string_view subject,
                                absl::string_view description);

/// Adds a google.rpc.RetryInfo payload (retry_delay = `delay`, at least 1 ms) to `status`, the
/// delay after which a client may try the call again (AIP-194).
void SetRetryDelay(absl::Duration delay, absl::Status& status);

/// Payload type URLs (type.googleapis.com/<full message name>), so the edge can pack them as Any.
inline constexpr char kBadRequestUrl[] = "type.googleapis.com/google.rpc.BadRequest";
inline constexpr char kErrorInfoUrl[] = "type.googleapis.com/google.rpc.ErrorInfo";
inline constexpr char kPreconditionFailureUrl[] =
    "type.googleapis.com/google.rpc.PreconditionFailure";
inline constexpr char kRetryInfoUrl[] = "type.googleapis.com/google.rpc.RetryInfo";
inline constexpr char kQuotaFailureUrl[] = "type.googleapis.com/google.rpc.QuotaFailure";

}  // namespace music::service

#endif  // MUSIC_SERVICE_CORE_STATUS_DETAILS_H_
