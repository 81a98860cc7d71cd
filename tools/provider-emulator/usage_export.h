// The emulator's usage export (GET /_emulator/usage): a contract's usage records with
// reconciliation differences injected on purpose, deterministically, so a test knows exactly
// what a reconciliation must report.
#ifndef MUSIC_TOOLS_PROVIDER_EMULATOR_USAGE_EXPORT_H_
#define MUSIC_TOOLS_PROVIDER_EMULATOR_USAGE_EXPORT_H_

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "tools/provider-emulator/usage_record.h"

namespace music::emulator {

/// How many of each difference to inject. Each one takes a different task (records are picked
/// in an order shuffled by `seed`); with too few tasks the later kinds get fewer.
struct UsageDifferences {
  int missing = 0;    ///< A charge left out: the service billed, the provider "did not".
  int extra = 0;      ///< A charge for a task the service never had ("emu_extra_<n>").
  int amount = 0;     ///< A charge of a different amount (+1 unit).
  int duplicate = 0;  ///< A charge reported twice (second record one second later, own id).
  int refund = 0;     ///< A charge fully refunded by the provider without the service knowing.
  uint64_t seed = 1;
};

/// Parses the query parameters missing, extra, amount, duplicate, refund (>= 0) and seed.
/// INVALID_ARGUMENT naming the parameter.
absl::StatusOr<UsageDifferences> ParseUsageDifferences(
    const std::vector<std::pair<std::string, std::string>>& params);

/// `records` (all of one provider) sorted by time and id, with the differences applied. Only
/// CHARGE records are altered.
std::vector<UsageRecord> ApplyUsageDifferences(std::vector<UsageRecord> records,
                                                        const UsageDifferences& differences);

}  // namespace music::emulator

#endif  // MUSIC_TOOLS_PROVIDER_EMULATOR_USAGE_EXPORT_H_
