#ifndef MUSIC_ADAPTERS_KIE_KIE_READER_H_
#define MUSIC_ADAPTERS_KIE_KIE_READER_H_

#include <rapidjson/document.h>

#include "absl/status/status.h"
#include "absl/strings/string_view.h"
#include "adapters/internal/json_reader.h"
#include "adapters/provider_adapter.h"

namespace music::adapters::kie {

/// The JSON reader of every kie.ai parser (answers, callbacks, uploads): one per provider.
inline constexpr internal::JsonReader kKieJson("kie.ai");

/// OK when `doc` carries the integer `code` 200 (seed 004 "Successful Response": every success
/// does); INTERNAL malformed-answer otherwise (the envelope check was bypassed or the body is not
/// what it claims to be).
absl::Status RequireKieCode200(const rapidjson::Document& doc);

/// A malformed callback body as INVALID_ARGUMENT "malformed kie.ai callback: <why>": a callback
/// is the caller's request, so its faults are the caller's error, not a retryable INTERNAL.
absl::Status AsKieCallbackError(const absl::Status& status);

/// Marks `update` failed with `code` and `message` (a success the provider could not back with
/// a result, say).
void FailKieUpdate(ProviderUpdate& update, absl::StatusCode code, absl::string_view message);

}  // namespace music::adapters::kie

#endif  // MUSIC_ADAPTERS_KIE_KIE_READER_H_
