#ifndef MUSIC_ADAPTERS_KIE_KIE_JSON_H_
#define MUSIC_ADAPTERS_KIE_KIE_JSON_H_

#include <optional>
#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "adapters/provider_adapter.h"

namespace music::adapters::kie {

/// The `{"code", "msg", "data"}` envelope of every kie.ai answer (WIRE.md "Envelope").
struct KieEnvelope {
  int code = 0;
  std::string msg;
};

/// Reads the envelope's `code` (an integer) and `msg` (string or null). nullopt when the body is
/// not a JSON object with an integer `code`: the caller then trusts the HTTP status instead.
std::optional<KieEnvelope> ParseKieEnvelope(absl::string_view body);

/// Reads `data.taskId` of a create answer (seed 004 "Successful Response"). INTERNAL when the
/// body is malformed, its `code` is not the integer 200, or it has no non-empty taskId.
absl::StatusOr<std::string> ParseKieCreateAnswer(absl::string_view body);

/// Reads a `GET /api/v1/generate/record-info` answer (envelope code 200): status through
/// the state table, clips from `data.response.sunoData[]` (camelCase), `errorCode` and
/// `errorMessage`. A SUCCESS without any clip holding an audio URL becomes kFailed/INTERNAL
/// (seed 000). INTERNAL when the body is malformed or a field has an unexpected type.
absl::StatusOr<ProviderUpdate> ParseKieMusicRecord(absl::string_view body);

/// Reads a `GET /api/v1/lyrics/record-info` answer (envelope code 200): lyric variants
/// from `data.response.data[]`. A SUCCESS without lyrics text becomes kFailed/INTERNAL.
/// INTERNAL when malformed.
absl::StatusOr<ProviderUpdate> ParseKieLyricsRecord(absl::string_view body);

/// Reads a music callback body (WIRE.md "Callbacks": snake_case clips under `data.data[]`).
/// provider_status is "callback:" + callbackType. INVALID_ARGUMENT when malformed.
absl::StatusOr<ProviderUpdate> ParseKieMusicCallback(absl::string_view body);

/// Reads a lyrics callback body (`data.data[]` of {text, title, status, error_message}).
/// INVALID_ARGUMENT when malformed.
absl::StatusOr<ProviderUpdate> ParseKieLyricsCallback(absl::string_view body);

}  // namespace music::adapters::kie

#endif  // MUSIC_ADAPTERS_KIE_KIE_JSON_H_
