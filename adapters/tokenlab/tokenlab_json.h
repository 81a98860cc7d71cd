#ifndef MUSIC_ADAPTERS_TOKENLAB_TOKENLAB_JSON_H_
#define MUSIC_ADAPTERS_TOKENLAB_TOKENLAB_JSON_H_

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "adapters/provider_adapter.h"

namespace music::adapters::tokenlab {

/// A TokenLab error envelope (WIRE.md "Errors"): `{"error": {"code", "message", "type"}}`;
/// `error` may also be a plain string, and a bare top-level `message` / `code` is accepted.
struct TokenlabError {
  std::string code;  ///< `error.code` (string, or an integer written out); may be empty.
  std::string message;
};

/// The error envelope of `body`, or nullopt when the body is not JSON or carries none.
std::optional<TokenlabError> ParseTokenlabError(absl::string_view body);

/// The identity of a TokenLab task, from a create answer or a task object (seed 000 "Create A
/// Music Task", CONTRACT-NOTES: `id` / `task_id`, `status`, `poll_url`, `model`; billing
/// reconciliation fields `request_id`, `billing_transaction_id`).
struct TokenlabTaskRef {
  std::string task_id;  ///< `task_id`, else `id`.
  std::string status;
  std::string poll_url;
  std::string model;
  std::string request_id;
  std::string billing_transaction_id;
};

/// Reads a create answer. INTERNAL when the body is not a JSON object, a field has a wrong type,
/// `id` and `task_id` disagree, or there is no task id at all.
absl::StatusOr<TokenlabTaskRef> ParseTokenlabCreateAnswer(absl::string_view body);

/// Reads a task object (`GET /v1/tasks/{id}` or `poll_url`; WIRE.md "Task object"): state
/// through the status table, the clip(s), lyric variants (`lyrics_task`: `lyrics`, else
/// `text`), `progress`, `error`, `billing` and `billing_transaction_id`. A `completed` answer
/// without audio stays kSucceeded with an empty audio URL (the service fails it). INTERNAL when
/// the body is malformed or a field has an unexpected type; a missing `status` is malformed too.
absl::StatusOr<ProviderUpdate> ParseTokenlabTask(absl::string_view body, bool lyrics_task);

/// One entry of `GET /v1/models?recommended_for=music` (CONTRACT-NOTES "TokenLab": `{id, object,
/// created, owned_by, lemondata: {category, pricing_unit, capability_flags, supported_operations,
/// ...}}`; WIRE.md "Models"). The operations come from `lemondata.supported_operations` and
/// `lemondata.capability_flags` (each an array of names or an object of name -> boolean).
struct TokenlabModelInfo {
  std::string id;
  /// `true` when an operation of that kind is listed (music: `music`, `generate_music`; continuation:
  /// `continuation`, `continue`, `extend`; instrumental: `instrumental`), else nullopt: an
  /// unrecognised vocabulary never takes a built-in capability away.
  std::optional<bool> music, continuation, instrumental;
  /// `true` when a lyrics operation (`lyrics`, `generate_lyrics`, `lyrics_generation`, ...) is
  /// listed; `false` when the model lists operations but none for lyrics (seed 000: lyrics need
  /// "a model whose public contract documents lyric generation"); nullopt when it lists none.
  std::optional<bool> lyrics;
};

/// Reads the model list. INTERNAL when malformed.
absl::StatusOr<std::vector<TokenlabModelInfo>> ParseTokenlabModels(absl::string_view body);

/// Parses a non-negative decimal amount ("0.10", "12", "0.0000005") into micro-units exactly
/// (half-up on the 7th decimal). INVALID_ARGUMENT for signs, exponents, garbage or more than 12
/// integer digits (beyond int64 micros).
absl::StatusOr<int64_t> ParseDecimalMicros(absl::string_view text);

}  // namespace music::adapters::tokenlab

#endif  // MUSIC_ADAPTERS_TOKENLAB_TOKENLAB_JSON_H_
