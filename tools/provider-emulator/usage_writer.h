// The usage exports the emulator serves (GET /_emulator/usage), one layout per provider, written
// from service/billing/USAGE-FORMATS.md (the field tables, from seeds 000-004 and
// CONTRACT-NOTES.md) alone: the emulator links no adapter or billing code, so the service's
// parsers are tested against an independent writer.
#ifndef MUSIC_TOOLS_PROVIDER_EMULATOR_USAGE_WRITER_H_
#define MUSIC_TOOLS_PROVIDER_EMULATOR_USAGE_WRITER_H_

#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "tools/provider-emulator/usage_record.h"

namespace music::emulator {

/// JSON lines (one object per line) or CSV (RFC 4180, a header row).
enum class UsageLayout { kJsonl, kCsv };

/// True for the providers with an export: "kie", "piapi", "tokenlab", "beatra".
bool HasUsageExport(absl::string_view provider);

/// `records` (all of `provider`) in the provider's export layout. Amounts are exact decimals
/// ("0.1", "12"), times RFC 3339 UTC (kie.ai `createTime`: epoch milliseconds).
/// INVALID_ARGUMENT when a record cannot be said in the provider's format: a currency the
/// provider does not bill in, a PiAPI refund (PiAPI reports none), a beatra task with two charges
/// or two refunds (its task envelope holds one of each), a TokenLab record without its id.
/// NOT_FOUND for a provider without an export.
absl::StatusOr<std::string> WriteUsageExport(absl::string_view provider, UsageLayout layout,
                                             const std::vector<UsageRecord>& records);

}  // namespace music::emulator

#endif  // MUSIC_TOOLS_PROVIDER_EMULATOR_USAGE_WRITER_H_
