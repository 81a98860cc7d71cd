// File formats of the billing records: the service ledger (BillingTransaction) in JSON lines or
// CSV, the table of the providers' usage exports (UsageFormats; each provider's parser and writer
// lives in its module, adapters/<p>/<p>_usage_format.h), and the idempotent import of both
// (UsageSet, LedgerSet). Every format has a writer that produces exactly what its parser reads, so
// the provider emulator exports with these writers and Parse(Write(x)) == x. USAGE-FORMATS.md
// documents each format with an example line and the seed each field comes from.
//
// Errors are INVALID_ARGUMENT and name the source, the line (1-based, the first physical line of
// the record) and the field: "usage.csv:7: field `amount`: more than 6 decimals ...".
#ifndef MUSIC_SERVICE_BILLING_USAGE_FORMAT_H_
#define MUSIC_SERVICE_BILLING_USAGE_FORMAT_H_

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/types/span.h"
#include "domain/billing_records.h"  // SameRecord, SameRow, DeriveUsageRecordId
#include "domain/billing_types.h"

namespace music::billing {

/// ".jsonl", ".ndjson", ".json" -> kJsonl; ".csv" -> kCsv (case-insensitive); INVALID_ARGUMENT
/// otherwise.
absl::StatusOr<FileFormat> FileFormatFromPath(absl::string_view path);

/// Parses one provider's usage export; `source` names the input in errors (a file name).
/// INVALID_ARGUMENT naming source, line and field on the first bad record. Records come out in
/// file order.
using UsageParser = std::function<absl::StatusOr<std::vector<UsageRecord>>(
    FileFormat format, absl::string_view content, absl::string_view source)>;
/// Writes records in one provider's export format, exactly what its UsageParser reads.
/// INVALID_ARGUMENT for a record the provider cannot express.
using UsageWriter = std::function<absl::StatusOr<std::string>(
    FileFormat format, absl::Span<const UsageRecord> records)>;

/// The usage formats a program knows, by provider name, in the order added. This layer names no
/// provider: the formats live in the provider modules (adapters/<p>/<p>_usage_format.h), and the
/// caller builds this table from them (service/core/usage_formats.h). Not thread-safe while
/// being filled; read-only afterwards, and then safe to share.
class UsageFormats {
 public:
  /// Adds `provider`'s format; ALREADY_EXISTS when it is there, INVALID_ARGUMENT without a name
  /// or a parser (`write` may be empty: the provider's export is then read-only).
  absl::Status Add(std::string provider, UsageParser parse, UsageWriter write = nullptr);
  /// True when `provider` has a usage format.
  bool Contains(absl::string_view provider) const;
  /// The providers, in the order added.
  std::vector<std::string> providers() const;

  /// Parses `provider`'s export. INVALID_ARGUMENT for an unknown provider (naming the known
  /// ones) or from the provider's parser (naming source, line and field; a bad amount, a missing
  /// field, a bad time, an unknown type). A beatra line may yield a CHARGE and a REFUND.
  absl::StatusOr<std::vector<UsageRecord>> Parse(absl::string_view provider, FileFormat format,
                                                 absl::string_view content,
                                                 absl::string_view source = "input") const;
  /// Writes records (all of `provider`) in its export format (the provider emulator's export).
  /// INVALID_ARGUMENT for an unknown provider, one without a writer, or a record the provider
  /// cannot express (a PiAPI refund, a TokenLab record without an id, a negative amount, a
  /// beatra task with two charges). beatra and PiAPI carry no record id: the parser derives it
  /// (DeriveUsageRecordId), so records whose id is not the derived one do not round-trip.
  absl::StatusOr<std::string> Write(absl::string_view provider, FileFormat format,
                                    absl::Span<const UsageRecord> records) const;

 private:
  struct Entry {
    std::string provider;
    UsageParser parse;
    UsageWriter write;
  };
  const Entry* Find(absl::string_view provider) const;

  std::vector<Entry> entries_;  // a handful: a linear search is the fastest lookup
};

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
  /// Parses `content` with `provider`'s format in `formats` and adds every record; all or
  /// nothing: on a parse error (or an unknown provider) nothing is added.
  absl::StatusOr<ImportStats> Import(const UsageFormats& formats, absl::string_view provider,
                                     FileFormat format, absl::string_view content,
                                     absl::string_view source);
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

}  // namespace music::billing

#endif  // MUSIC_SERVICE_BILLING_USAGE_FORMAT_H_
