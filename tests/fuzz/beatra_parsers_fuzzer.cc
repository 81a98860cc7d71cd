// libFuzzer target: every beatra answer parser (adapters/beatra/beatra_json.h) on one arbitrary
// body (beatra's callbacks are "Planned": polls only, seed 002). Seeds: the task and error
// envelopes CONTRACT-NOTES "beatra" lists (seed 002 has no JSON sample; corpus/beatra_parsers).
#include <cstddef>
#include <cstdint>

#include "absl/strings/string_view.h"
#include "adapters/beatra/beatra_json.h"
#include "tests/fuzz/fuzz_checks.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  namespace beatra = music::adapters::beatra;
  const absl::string_view body(reinterpret_cast<const char*>(data), size);
  beatra::ParseBeatraErrorEnvelope(body);
  music::fuzz::Touch(beatra::ParseBeatraCreateAnswer(body));
  music::fuzz::CheckUpdate(beatra::ParseBeatraTask(body));
  music::fuzz::Touch(beatra::ParseBeatraUploadAnswer(body));
  beatra::DecimalToMicros(body);
  return 0;
}
