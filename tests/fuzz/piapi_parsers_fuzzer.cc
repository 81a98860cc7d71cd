// libFuzzer target: every PiAPI answer and webhook parser (adapters/piapi/piapi_json.h) on one
// arbitrary body, with and without a consume conversion. Seeds: seed 003's JSON samples
// (corpus/piapi_parsers).
#include <cstddef>
#include <cstdint>
#include <optional>

#include "absl/strings/string_view.h"
#include "adapters/piapi/piapi_json.h"
#include "tests/fuzz/fuzz_checks.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  namespace piapi = music::adapters::piapi;
  const absl::string_view body(reinterpret_cast<const char*>(data), size);
  piapi::ParsePiapiEnvelope(body);
  music::fuzz::Touch(piapi::ParsePiapiCreateAnswer(body));
  for (std::optional<double> consume : {std::optional<double>(), std::optional<double>(1.25e-6)}) {
    music::fuzz::CheckUpdate(piapi::ParsePiapiTaskAnswer(body, consume));
    auto callback = piapi::ParsePiapiCallback(body, consume);
    if (callback.ok()) {
      music::fuzz::CheckUpdate(callback->update);
      music::fuzz::Touch(callback->timestamp);
    } else if (callback.status().message().empty()) {
      music::fuzz::Fail("an error without a message");
    }
  }
  return 0;
}
