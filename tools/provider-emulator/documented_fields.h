#ifndef MUSIC_TOOLS_PROVIDER_EMULATOR_DOCUMENTED_FIELDS_H_
#define MUSIC_TOOLS_PROVIDER_EMULATOR_DOCUMENTED_FIELDS_H_

#include <rapidjson/document.h>

#include "absl/status/status.h"
#include "absl/strings/string_view.h"
#include "absl/types/span.h"

namespace music::emulator {

/// OK when every member of the JSON object `object` is one of `documented`; otherwise
/// INVALID_ARGUMENT "Unsupported parameter: '<prefix><name>'" naming the first other member (a
/// non-object is OK: the caller's own type check reports it). The emulator refuses a request field
/// its provider's documents do not name, as a strict provider would (seed 000 "Common Errors":
/// "Unsupported parameter | Field is not in the model public contract"), so an adapter that
/// invents a field fails here before it fails against the real provider.
absl::Status RejectUndocumented(const rapidjson::Value& object,
                                absl::Span<const absl::string_view> documented,
                                absl::string_view prefix = "");

}  // namespace music::emulator

#endif  // MUSIC_TOOLS_PROVIDER_EMULATOR_DOCUMENTED_FIELDS_H_
