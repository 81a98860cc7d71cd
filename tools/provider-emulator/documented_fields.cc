#include "tools/provider-emulator/documented_fields.h"

#include <algorithm>

#include "absl/strings/str_cat.h"

namespace music::emulator {

absl::Status RejectUndocumented(const rapidjson::Value& object,
                                absl::Span<const absl::string_view> documented,
                                absl::string_view prefix) {
  if (!object.IsObject()) return absl::OkStatus();
  for (auto it = object.MemberBegin(); it != object.MemberEnd(); ++it) {
    const absl::string_view name(it->name.GetString(), it->name.GetStringLength());
    if (std::find(documented.begin(), documented.end(), name) == documented.end()) {
      return absl::InvalidArgumentError(
          absl::StrCat("Unsupported parameter: '", prefix, name, "'"));
    }
  }
  return absl::OkStatus();
}

}  // namespace music::emulator
