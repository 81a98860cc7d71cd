// libFuzzer target: every TokenLab answer parser (adapters/tokenlab/tokenlab_json.h) on one
// arbitrary body (TokenLab has no callbacks: polls only). Seeds: seeds 000/001's JSON samples
// and the fields CONTRACT-NOTES "TokenLab" lists (corpus/tokenlab_parsers).
#include <cstddef>
#include <cstdint>

#include "absl/strings/string_view.h"
#include "adapters/tokenlab/tokenlab_json.h"
#include "tests/fuzz/fuzz_checks.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  namespace tokenlab = music::adapters::tokenlab;
  const absl::string_view body(reinterpret_cast<const char*>(data), size);
  tokenlab::ParseTokenlabError(body);
  tokenlab::ParseTokenlabCreateAnswer(body).status().IgnoreError();
  music::fuzz::CheckUpdate(tokenlab::ParseTokenlabTask(body, /*lyrics_task=*/false));
  music::fuzz::CheckUpdate(tokenlab::ParseTokenlabTask(body, /*lyrics_task=*/true));
  tokenlab::ParseTokenlabModels(body).status().IgnoreError();
  tokenlab::ParseDecimalMicros(body).status().IgnoreError();
  return 0;
}
