// libFuzzer target: every kie.ai answer and callback parser (adapters/kie/kie_json.h,
// kie_clip_operations.h, kie_file_upload.h) on one arbitrary body. A provider's body is
// untrusted input: any bytes must give a status or an update, never a crash, a leak or undefined
// behaviour (ASan + UBSan in the fuzz build). Seeds: seed 004's JSON samples (corpus/kie_parsers).
#include <cstddef>
#include <cstdint>

#include "absl/strings/string_view.h"
#include "adapters/kie/kie_clip_operations.h"
#include "adapters/kie/kie_file_upload.h"
#include "adapters/kie/kie_json.h"
#include "tests/fuzz/fuzz_checks.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  namespace kie = music::adapters::kie;
  const absl::string_view body(reinterpret_cast<const char*>(data), size);
  kie::ParseKieEnvelope(body);
  music::fuzz::Touch(kie::ParseKieCreateAnswer(body));
  music::fuzz::CheckUpdate(kie::ParseKieMusicRecord(body));
  music::fuzz::CheckUpdate(kie::ParseKieLyricsRecord(body));
  music::fuzz::CheckUpdate(kie::ParseKieMusicCallback(body));
  music::fuzz::CheckUpdate(kie::ParseKieLyricsCallback(body));
  music::fuzz::CheckUpdate(kie::ParseKieClipOperationCallback(body));
  for (int op = music::v1::ClipOperation_MIN; op <= music::v1::ClipOperation_MAX; ++op) {
    if (!music::v1::ClipOperation_IsValid(op)) continue;
    music::fuzz::CheckUpdate(
        kie::ParseKieClipOperationRecord(static_cast<music::v1::ClipOperation>(op), body));
  }
  kie::ParseKieTimestampedLyrics(body).status().IgnoreError();
  kie::ParseKieStyleBoost(body).status().IgnoreError();
  kie::ParseKieCredit(body).status().IgnoreError();
  music::fuzz::Touch(kie::ParseKieFileUploadAnswer(body));
  return 0;
}
