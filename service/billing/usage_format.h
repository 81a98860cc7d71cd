// File formats of the billing records: each provider's usage export (JSON lines or CSV) normalised
// into UsageRecord, and the service ledger (BillingTransaction) in JSON lines or CSV. Every format
// has a writer that produces exactly what its parser reads, so the provider emulator exports with
// these writers and Parse(Write(x)) == x. USAGE-FORMATS.md documents each format with an example
// line and the seed each field comes from.
//
// Errors are INVALID_ARGUMENT and name the source, the line (1-based, the first physical line of
// the record) and the field: "usage.csv:7: field `amount`: more than 6 decimals ...".
#ifndef MUSIC_SERVICE_BILLING_USAGE_FORMAT_H_
#define MUSIC_SERVICE_BILLING_USAGE_FORMAT_H_

#include <cstdint>
#include <string>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/types/span.h"
#include "domain/billing_types.h"

namespace music::billing {

/// Provider names as the catalog and the config spell them.
inline constexpr absl::string_view kProviderTokenLab = "tokenlab";
inline constexpr absl::string_view kProviderBeatra = "beatra";
inline constexpr absl::string_view kProviderPiapi = "piapi";
inline constexpr absl::string_view kProviderKie = "kie";

/// True for the four providers above.
bool IsKnownProvider(absl::string_view provider);

/// ".jsonl", ".ndjson", ".json" -> kJsonl; ".csv" -> kCsv (case-insensitive); INVALID_ARGUMENT
/// otherwise.
absl::StatusOr<FileFormat> FileFormatFromPath(absl::string_view path);

/// Parses one provider's usage export. `source` names the input in errors (a file name).
/// INVALID_ARGUMENT naming source, line and field on the first bad record (bad amount, missing
/// field, bad time, unknown type), or for an unknown provider. Records come out in file order;
/// a beatra line may yield a CHARGE and a REFUND.
absl::StatusOr<std::vector<UsageRecord>> ParseUsage(absl::string_view provider, FileFormat format,
                                                    absl::string_view content,
                                                    absl::string_view source = "input");

/// Writes records in the provider's export format (the provider emulator's export). Records must
/// all be of `provider`. INVALID_ARGUMENT for a record the provider cannot express: a PiAPI
/// refund, a TokenLab record without an id, a negative amount, a beatra task with two charges.
/// beatra and PiAPI carry no record id: the parser derives it (DeriveUsageRecordId), so records
/// whose id is not the derived one do not round-trip.
absl::StatusOr<std::string> WriteUsage(absl::string_view provider, FileFormat format,
                                       absl::Span<const UsageRecord> records);

/// The id the parser gives a record whose provider has none: beatra and PiAPI
/// "<task_id>:<CHARGE|REFUND>" (one of each per task at most), kie.ai
/// "<taskId>:<operationType>:<CHARGE|REFUND>:<createTime ms>".
std::string DeriveUsageRecordId(const UsageRecord& r, absl::string_view operation_type = "");

/// Parses the service ledger file. INVALID_ARGUMENT naming source, line and field.
absl::StatusOr<std::vector<BillingTransaction>> ParseLedger(FileFormat format,
                                                            absl::string_view content,
                                                            absl::string_view source = "input");

/// Writes the ledger file; ParseLedger(WriteLedger(x)) == x.
std::string WriteLedger(FileFormat format, absl::Span<const BillingTransaction> rows);

/// What one import added.
struct ImportStats {
  int64_t records = 0;     ///< Records parsed.
  int64_t added = 0;       ///< New ones.
  int64_t duplicates = 0;  ///< Already present with the same id (skipped; import is idempotent).
  int64_t conflicts = 0;   ///< Of the duplicates, those whose content differs (first one kept).
};

/// Usage records unique by (provider, usage_record_id): adding a record whose key is present
/// changes nothing, so importing a file twice, or two overlapping exports, is safe.
class UsageSet {
 public:
  /// Adds `r` unless its key is present; returns whether it was added. Sets `*conflict` (when
  /// not null) if the key was present with different content.
  bool Add(UsageRecord r, bool* conflict = nullptr);
  /// Parses `content` and adds every record; all or nothing: on a parse error nothing is added.
  absl::StatusOr<ImportStats> Import(absl::string_view provider, FileFormat format,
                                     absl::string_view content, absl::string_view source);
  const std::vector<UsageRecord>& records() const { return records_; }
  /// Moves the records out; the set is empty afterwards.
  std::vector<UsageRecord> Release();

 private:
  std::vector<UsageRecord> records_;
  // "<provider>\n<usage_record_id>" -> index into records_.
  absl::flat_hash_map<std::string, size_t> index_;
};

/// Ledger rows unique by billing_transaction_id, with the same idempotence as UsageSet.
class LedgerSet {
 public:
  /// Adds `t` unless its billing_transaction_id is present; returns whether it was added. Sets
  /// `*conflict` (when not null) if the id was present with different content.
  bool Add(BillingTransaction t, bool* conflict = nullptr);
  /// Parses a ledger file and adds every row; all or nothing (INVALID_ARGUMENT naming source,
  /// line and field on a bad row).
  absl::StatusOr<ImportStats> Import(FileFormat format, absl::string_view content,
                                     absl::string_view source);
  const std::vector<BillingTransaction>& rows() const { return rows_; }
  /// Moves the rows out; the set is empty afterwards.
  std::vector<BillingTransaction> Release();

 private:
  std::vector<BillingTransaction> rows_;
  absl::flat_hash_map<std::string, size_t> index_;
};

/// Field-by-field equality (the round-trip tests and the import's conflict check use them).
bool SameRecord(const UsageRecord& a, const UsageRecord& b);
bool SameRow(const BillingTransaction& a, const BillingTransaction& b);

}  // namespace music::billing

#endif  // MUSIC_SERVICE_BILLING_USAGE_FORMAT_H_
