#include "adapters/internal/json_writer.h"

#include <cmath>
#include <cstdint>

namespace music::adapters::internal {

void PutString(JsonWriter& w, const char* key, absl::string_view value) {
  w.Key(key);
  w.String(value.data(), static_cast<rapidjson::SizeType>(value.size()));
}

void PutIfSet(JsonWriter& w, const char* key, absl::string_view value) {
  if (!value.empty()) PutString(w, key, value);
}

void PutBool(JsonWriter& w, const char* key, bool value) {
  w.Key(key);
  w.Bool(value);
}

void PutSeconds(JsonWriter& w, const char* key, double seconds) {
  w.Key(key);
  // Below 1e15 in magnitude a whole double is exact in an int64; beyond (or NaN, inf) the cast
  // would be undefined, so those go out as a double.
  if (std::isfinite(seconds) && seconds == std::floor(seconds) && std::fabs(seconds) < 1e15) {
    w.Int64(static_cast<int64_t>(seconds));
  } else {
    w.Double(seconds);
  }
}

}  // namespace music::adapters::internal
