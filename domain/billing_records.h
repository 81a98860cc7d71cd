// Rules over billing records that both their producers (the provider usage formats, the provider
// emulator's export) and their consumers (the import, the tests) apply: the id of a usage record
// whose provider gives none, and field-by-field equality.
#ifndef MUSIC_DOMAIN_BILLING_RECORDS_H_
#define MUSIC_DOMAIN_BILLING_RECORDS_H_

#include <string>

#include "absl/strings/string_view.h"
#include "domain/billing_types.h"

namespace music::billing {

/// The id a usage format gives a record whose provider has none: beatra and PiAPI
/// "<task_id>:<CHARGE|REFUND>" (one of each per task at most), kie.ai
/// "<taskId>:<operationType>:<CHARGE|REFUND>:<createTime ms>" (a task may be charged per
/// operation). The emulator re-derives ids with it when it alters a record, so a re-export stays
/// idempotent on import.
std::string DeriveUsageRecordId(const UsageRecord& r, absl::string_view operation_type = "");

/// Field-by-field equality (the round-trip tests and the import's conflict check use them).
bool SameRecord(const UsageRecord& a, const UsageRecord& b);
bool SameRow(const BillingTransaction& a, const BillingTransaction& b);

}  // namespace music::billing

#endif  // MUSIC_DOMAIN_BILLING_RECORDS_H_
