// What a provider says it charged, as the emulator keeps it: one charge or refund of one provider
// task. The emulator's own type, written from the providers' documents and
// service/billing/USAGE-FORMATS.md; it shares no code with the service's billing library, so the
// usage exports it serves are an independent reading the service's parsers are tested against.
#ifndef MUSIC_TOOLS_PROVIDER_EMULATOR_USAGE_RECORD_H_
#define MUSIC_TOOLS_PROVIDER_EMULATOR_USAGE_RECORD_H_

#include <cstdint>
#include <string>

#include "absl/time/time.h"

namespace music::emulator {

/// A charge, or money given back.
enum class UsageKind { kCharge, kRefund };

/// The unit of an amount: kie.ai and beatra bill credits, PiAPI and TokenLab USD.
enum class UsageCurrency { kCredits, kUsd };

/// One usage record.
struct UsageRecord {
  /// "kie", "piapi", "tokenlab", "beatra".
  std::string provider;
  /// Unique per provider: TokenLab's record id, else UsageRecordIdOf() (the id the documents
  /// derive from the content, USAGE-FORMATS.md "Derived id").
  std::string usage_record_id;
  std::string provider_task_id;
  /// TokenLab `billing_transaction_id` (seeds 000/001, CONTRACT-NOTES `X-Billing-Transaction-ID`).
  std::string provider_billing_transaction_id;
  /// The caller's request id where the provider keeps it (TokenLab, beatra).
  std::string request_id;
  /// The provider's model id, e.g. "V4_5", "suno_music".
  std::string model;
  /// TokenLab: the endpoint path; kie.ai: the operationType (`generate`, `extend`, ...).
  std::string endpoint;
  UsageKind kind = UsageKind::kCharge;
  /// >= 0, micro-units of `currency` (12 credits = 12000000).
  int64_t amount_micros = 0;
  UsageCurrency currency = UsageCurrency::kCredits;
  absl::Time time;
};

/// "CHARGE" / "REFUND".
const char* UsageKindName(UsageKind kind);

/// The id a provider's export gives `r` when it names none (USAGE-FORMATS.md): kie.ai
/// "<taskId>:<operationType>:<CHARGE|REFUND>:<createTime ms>" (it may charge a task once per
/// operation), every other provider "<task_id>:<CHARGE|REFUND>".
std::string UsageRecordIdOf(const UsageRecord& r);

}  // namespace music::emulator

#endif  // MUSIC_TOOLS_PROVIDER_EMULATOR_USAGE_RECORD_H_
