// The money records of the service: billing transactions (what the service reserved, settled and
// refunded per task, in its ledger) and usage records (what a provider reports it charged). The
// reconciliation engine matches the two. Amounts are integers in micro-units of their currency
// (1 credit = 1,000,000 micros; $1 = 1,000,000 micros), as Google APIs' `*_micros` fields: never
// floating point.
#ifndef MUSIC_DOMAIN_BILLING_TYPES_H_
#define MUSIC_DOMAIN_BILLING_TYPES_H_

#include <cstdint>
#include <optional>
#include <string>

#include "absl/strings/string_view.h"
#include "absl/time/time.h"

namespace music::billing {

/// A ledger or usage amount's currency. beatra bills credits (seed 002, 1000 credits per USD by
/// default); PiAPI bills USD (CONTRACT-NOTES.md, $0.05 per generation); kie.ai and TokenLab prices
/// are configured.
enum class Currency { kCredits, kUsd };

/// "CREDITS" / "USD".
absl::string_view CurrencyName(Currency c);
/// Parses "CREDITS"/"credits"/"USD"/"usd"; nullopt otherwise.
std::optional<Currency> ParseCurrency(absl::string_view s);

/// What a billing transaction does to a task's money.
enum class TransactionKind {
  kReserve,  ///< At create: the model's price, held.
  kSettle,   ///< At success: the amount actually charged (<= reserved).
  kRefund,   ///< At failure/cancel (all of the reservation) or success (reserved - settled).
};

/// "RESERVE" / "SETTLE" / "REFUND".
absl::string_view TransactionKindName(TransactionKind k);
std::optional<TransactionKind> ParseTransactionKind(absl::string_view s);

/// One row of the service's append-only ledger. Written in the same store transaction as the task
/// change that causes it.
struct BillingTransaction {
  /// The service's id, unique: "btx_<task_id>_<kind>" so a retried write can never add a second
  /// one for the same task and kind.
  std::string billing_transaction_id;
  std::string tenant;
  std::string task_id;
  /// The caller's request_id (AIP-155), may be empty.
  std::string request_id;
  std::string provider;
  /// The provider's task id; empty for a reservation made before the provider accepted the task.
  std::string provider_task_id;
  /// The provider's own billing transaction id where it gives one (TokenLab
  /// `billing_transaction_id` / `X-Billing-Transaction-ID`, seeds 000/001).
  std::string provider_billing_transaction_id;
  /// Catalog model name and the provider's model id.
  std::string model;
  std::string provider_model;
  /// The provider endpoint that ran the task, e.g. "/v1/music/text-to-music".
  std::string endpoint;
  TransactionKind kind = TransactionKind::kReserve;
  /// >= 0, micro-units of `currency`.
  int64_t amount_micros = 0;
  Currency currency = Currency::kCredits;
  absl::Time time;
};

/// Whether a provider's usage record is a charge or a refund.
enum class UsageKind { kCharge, kRefund };

absl::string_view UsageKindName(UsageKind k);  ///< "CHARGE" / "REFUND".
std::optional<UsageKind> ParseUsageKind(absl::string_view s);

/// One provider usage record, normalised from the provider's export (see usage_format.h for the
/// formats).
struct UsageRecord {
  std::string provider;
  /// Unique per provider: the provider's record id, or one derived from the record's content when
  /// the provider gives none. Importing a record with an existing (provider, usage_record_id)
  /// changes nothing.
  std::string usage_record_id;
  std::string provider_task_id;
  std::string provider_billing_transaction_id;
  std::string request_id;
  std::string model;
  std::string endpoint;
  UsageKind kind = UsageKind::kCharge;
  int64_t amount_micros = 0;
  Currency currency = Currency::kCredits;
  absl::Time time;
};

/// How a usage export or a ledger file is laid out.
enum class FileFormat {
  kJsonl,  ///< One JSON object per line; blank lines are skipped.
  kCsv,    ///< RFC 4180, a header row naming the columns (any order; unknown columns ignored).
};

}  // namespace music::billing

#endif  // MUSIC_DOMAIN_BILLING_TYPES_H_
