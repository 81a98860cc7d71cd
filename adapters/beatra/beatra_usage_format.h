// beatra task billing (seed 002 + CONTRACT-NOTES): one task envelope per line, its
// `billing.charged_credits` and `billing.refunded_credits`.
// The parser normalises the export into billing::UsageRecord; the writer produces exactly what
// the parser reads (the provider emulator's export), so ParseUsage(WriteUsage(x)) == x.
// service/billing/USAGE-FORMATS.md documents the format with an example line.
#ifndef MUSIC_ADAPTERS_BEATRA_BEATRA_USAGE_FORMAT_H_
#define MUSIC_ADAPTERS_BEATRA_BEATRA_USAGE_FORMAT_H_

#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/types/span.h"
#include "domain/billing_types.h"

namespace music::adapters::beatra {

/// Parses a beatra usage export. `source` names the input in errors (a file name).
/// INVALID_ARGUMENT naming source, line and field on the first bad record (bad amount, missing
/// field, bad time, unknown type). Records come out in file order.
absl::StatusOr<std::vector<billing::UsageRecord>> ParseUsage(billing::FileFormat format,
                                                             absl::string_view content,
                                                             absl::string_view source);

/// Writes records in beatra's export format. INVALID_ARGUMENT for a record the provider
/// cannot express: a task with two charges or two refunds (its envelope holds one of each), a
/// negative amount, a record of another provider.
absl::StatusOr<std::string> WriteUsage(billing::FileFormat format,
                                       absl::Span<const billing::UsageRecord> records);

}  // namespace music::adapters::beatra

#endif  // MUSIC_ADAPTERS_BEATRA_BEATRA_USAGE_FORMAT_H_
