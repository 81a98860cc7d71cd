#ifndef MUSIC_ADAPTERS_PIAPI_PIAPI_JSON_H_
#define MUSIC_ADAPTERS_PIAPI_PIAPI_JSON_H_

#include <cstdint>
#include <optional>
#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "adapters/provider_adapter.h"

namespace music::adapters::piapi {

/// The parts of PiAPI's unified response `{code, data, message}` (seed 003
/// "Unified-Task-Response") that say whether a request failed.
struct PiapiEnvelope {
  /// Top-level `code` when it is an integer.
  std::optional<int64_t> code;
  std::string message;
  /// `data.error.code` when it is an integer (or an integer string).
  std::optional<int64_t> error_code;
  /// `data.error.message`, else `data.error.raw_message`.
  std::string error_message;
};

/// Reads the envelope leniently (wrong types read as absent). nullopt when the body is not a JSON
/// object: the caller then trusts the HTTP status.
std::optional<PiapiEnvelope> ParsePiapiEnvelope(absl::string_view body);

/// Reads `data.task_id` of a create answer (the create answers the unified task response).
/// INTERNAL when the body is malformed, its `code` is present and not 200, or it has no task id.
absl::StatusOr<std::string> ParsePiapiCreateAnswer(absl::string_view body);

/// Reads a `GET /api/v1/task/{task_id}` answer (WIRE.md "Get Task"): status through the status
/// table, clips from `data.output` (the `clips` map keyed by clip id, or the `clips[]` / `songs[]`
/// lists), `data.error` for failures, and billing from `data.meta.usage.consume` only when
/// `consume_usd_per_unit` is given (consume * it USD; CONTRACT-NOTES "PiAPI": the unit of consume
/// "is not documented: do not book it as money without a configured conversion"); without it
/// has_billing stays false. A Completed
/// answer without audio stays kSucceeded with clips lacking audio_url (the service fails it).
/// INTERNAL when the body is malformed or a field has an unexpected type.
absl::StatusOr<ProviderUpdate> ParsePiapiTaskAnswer(
    absl::string_view body, std::optional<double> consume_usd_per_unit = std::nullopt);

/// A parsed webhook delivery (CONTRACT-NOTES "PiAPI": `{"timestamp": ..., "data": <Get Task
/// data>}`).
struct PiapiCallback {
  ProviderUpdate update;
  /// `timestamp` as text (the number as sent), for dropping repeats.
  std::string timestamp;
};

/// Reads a webhook body (billing as ParsePiapiTaskAnswer). INVALID_ARGUMENT when malformed (no
/// numeric `timestamp`, no `data` object, no `data.task_id`, a field of the wrong type, ...).
absl::StatusOr<PiapiCallback> ParsePiapiCallback(
    absl::string_view body, std::optional<double> consume_usd_per_unit = std::nullopt);

/// USD amount -> micro-dollars ($0.05 -> 50000), rounding to the nearest micro. nullopt when the
/// value is negative, not finite or above $1,000,000,000.
std::optional<int64_t> UsdToMicros(double usd);

}  // namespace music::adapters::piapi

#endif  // MUSIC_ADAPTERS_PIAPI_PIAPI_JSON_H_
