#ifndef MUSIC_ADAPTERS_BEATRA_BEATRA_JSON_H_
#define MUSIC_ADAPTERS_BEATRA_BEATRA_JSON_H_

#include <cstdint>
#include <optional>
#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "adapters/provider_adapter.h"

namespace music::adapters::beatra {

/// The error envelope `{"error": {"code", "message", "retryable", "request_id"}}`
/// (CONTRACT-NOTES "beatra").
struct BeatraError {
  std::string code;
  std::string message;
  bool retryable = false;
  std::string request_id;
};

/// Reads an error envelope. nullopt when `body` is not a JSON object whose `error` is an object
/// with a string `code`: the caller then goes by the HTTP status alone. Wrong-typed optional
/// members (message, retryable, request_id) are ignored rather than failing.
std::optional<BeatraError> ParseBeatraErrorEnvelope(absl::string_view body);

/// Reads `task_id` of a create answer (202, the task envelope; WIRE.md "Create"). INTERNAL when
/// the body is not a JSON object or has no non-empty string `task_id`.
absl::StatusOr<std::string> ParseBeatraCreateAnswer(absl::string_view body);

/// Reads a task envelope (`GET /v1/tasks/{id}`, WIRE.md "Task envelope") into a ProviderUpdate:
/// state through the status table, progress, `output.clips[]`, `error`, `billing` (credits as
/// micros). A `succeeded` task without audio stays kSucceeded with empty audio URLs (the service
/// fails it). INTERNAL when the body is malformed or a field has an unexpected type.
absl::StatusOr<ProviderUpdate> ParseBeatraTask(absl::string_view body);

/// Reads `artifact_id` of a `POST /v1/uploads` answer. INTERNAL when missing or malformed.
absl::StatusOr<std::string> ParseBeatraUploadAnswer(absl::string_view body);

/// An exact decimal amount ("80.0000", "0.08", "12") as micro-units (80.0000 -> 80,000,000).
/// Digits beyond the sixth decimal are rounded half up. nullopt for anything else: signs,
/// exponents, empty text, or amounts of 9e12 units or more.
std::optional<int64_t> DecimalToMicros(absl::string_view text);

}  // namespace music::adapters::beatra

#endif  // MUSIC_ADAPTERS_BEATRA_BEATRA_JSON_H_
