#ifndef MUSIC_ADAPTERS_INTERNAL_JSON_WRITER_H_
#define MUSIC_ADAPTERS_INTERNAL_JSON_WRITER_H_

#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

#include "absl/strings/string_view.h"

namespace music::adapters::internal {

/// The writer every request body is built with (compact UTF-8).
using JsonWriter = rapidjson::Writer<rapidjson::StringBuffer>;

/// Writes `"key": "value"` (any bytes of `value`, escaped by RapidJSON).
void PutString(JsonWriter& w, const char* key, absl::string_view value);
/// PutString only when `value` is not empty: an unset optional field is left out, not sent as "".
void PutIfSet(JsonWriter& w, const char* key, absl::string_view value);
/// Writes `"key": true|false`.
void PutBool(JsonWriter& w, const char* key, bool value);
/// Writes a duration in seconds: whole seconds as an integer (`60`, as the providers' examples
/// send them), others as a decimal (`12.5`).
void PutSeconds(JsonWriter& w, const char* key, double seconds);

}  // namespace music::adapters::internal

#endif  // MUSIC_ADAPTERS_INTERNAL_JSON_WRITER_H_
