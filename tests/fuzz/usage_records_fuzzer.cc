// libFuzzer target: the usage-record parsers of every provider (adapters/<p>/<p>_usage_format.h)
// and the service ledger parser (service/billing/usage_format.h ParseLedger), in both file
// formats, on one arbitrary file. A ledger that parses is written back and parsed again: the
// format promises ParseLedger(WriteLedger(x)) == x. Seeds: USAGE-FORMATS.md's example lines
// (corpus/usage_records).
#include <cstddef>
#include <cstdint>
#include <vector>

#include "absl/strings/string_view.h"
#include "adapters/beatra/beatra_usage_format.h"
#include "adapters/kie/kie_usage_format.h"
#include "adapters/piapi/piapi_usage_format.h"
#include "adapters/tokenlab/tokenlab_usage_format.h"
#include "service/billing/usage_format.h"
#include "tests/fuzz/fuzz_checks.h"

namespace {

using music::billing::FileFormat;
using music::billing::UsageRecord;

void Check(const absl::StatusOr<std::vector<UsageRecord>>& parsed) {
  if (!parsed.ok()) {
    if (parsed.status().message().empty()) music::fuzz::Fail("an error without a message");
    return;
  }
  for (const UsageRecord& r : *parsed) {
    if (r.provider.empty()) music::fuzz::Fail("a usage record without a provider");
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  namespace adapters = music::adapters;
  const absl::string_view content(reinterpret_cast<const char*>(data), size);
  for (FileFormat format : {FileFormat::kJsonl, FileFormat::kCsv}) {
    Check(adapters::kie::ParseUsage(format, content, "fuzz"));
    Check(adapters::piapi::ParseUsage(format, content, "fuzz"));
    Check(adapters::tokenlab::ParseUsage(format, content, "fuzz"));
    Check(adapters::beatra::ParseUsage(format, content, "fuzz"));
    auto ledger = music::billing::ParseLedger(format, content, "fuzz");
    if (ledger.ok()) {
      // The ledger's writer round-trips everything its parser reads.
      auto again = music::billing::ParseLedger(
          format, music::billing::WriteLedger(format, *ledger), "fuzz");
      if (!again.ok() || again->size() != ledger->size()) {
        music::fuzz::Fail("a parsed ledger that does not parse again once written");
      }
    } else if (ledger.status().message().empty()) {
      music::fuzz::Fail("an error without a message");
    }
  }
  return 0;
}
