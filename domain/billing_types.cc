#include "domain/billing_types.h"

#include "absl/strings/match.h"

namespace music::billing {

absl::string_view CurrencyName(Currency c) {
  switch (c) {
    case Currency::kCredits:
      return "CREDITS";
    case Currency::kUsd:
      return "USD";
  }
  return "UNKNOWN";
}

std::optional<Currency> ParseCurrency(absl::string_view s) {
  if (absl::EqualsIgnoreCase(s, "CREDITS")) return Currency::kCredits;
  if (absl::EqualsIgnoreCase(s, "USD")) return Currency::kUsd;
  return std::nullopt;
}

absl::string_view TransactionKindName(TransactionKind k) {
  switch (k) {
    case TransactionKind::kReserve:
      return "RESERVE";
    case TransactionKind::kSettle:
      return "SETTLE";
    case TransactionKind::kRefund:
      return "REFUND";
  }
  return "UNKNOWN";
}

std::optional<TransactionKind> ParseTransactionKind(absl::string_view s) {
  if (absl::EqualsIgnoreCase(s, "RESERVE")) return TransactionKind::kReserve;
  if (absl::EqualsIgnoreCase(s, "SETTLE")) return TransactionKind::kSettle;
  if (absl::EqualsIgnoreCase(s, "REFUND")) return TransactionKind::kRefund;
  return std::nullopt;
}

absl::string_view UsageKindName(UsageKind k) {
  switch (k) {
    case UsageKind::kCharge:
      return "CHARGE";
    case UsageKind::kRefund:
      return "REFUND";
  }
  return "UNKNOWN";
}

std::optional<UsageKind> ParseUsageKind(absl::string_view s) {
  if (absl::EqualsIgnoreCase(s, "CHARGE")) return UsageKind::kCharge;
  if (absl::EqualsIgnoreCase(s, "REFUND")) return UsageKind::kRefund;
  return std::nullopt;
}

}  // namespace music::billing
