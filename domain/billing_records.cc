#include "domain/billing_records.h"

#include "absl/strings/str_cat.h"
#include "absl/time/time.h"

namespace music::billing {

std::string DeriveUsageRecordId(const UsageRecord& r, absl::string_view operation_type) {
  // kie.ai reports per operation (generate, extend, ...) and may charge a task more than once.
  if (r.provider == "kie") {
    return absl::StrCat(r.provider_task_id, ":", operation_type, ":", UsageKindName(r.kind), ":",
                        absl::ToUnixMillis(r.time));
  }
  return absl::StrCat(r.provider_task_id, ":", UsageKindName(r.kind));
}

bool SameRecord(const UsageRecord& a, const UsageRecord& b) {
  return a.provider == b.provider && a.usage_record_id == b.usage_record_id &&
         a.provider_task_id == b.provider_task_id &&
         a.provider_billing_transaction_id == b.provider_billing_transaction_id &&
         a.request_id == b.request_id && a.model == b.model && a.endpoint == b.endpoint &&
         a.kind == b.kind && a.amount_micros == b.amount_micros && a.currency == b.currency &&
         a.time == b.time;
}

bool SameRow(const BillingTransaction& a, const BillingTransaction& b) {
  return a.billing_transaction_id == b.billing_transaction_id && a.tenant == b.tenant &&
         a.task_id == b.task_id && a.request_id == b.request_id && a.provider == b.provider &&
         a.provider_task_id == b.provider_task_id &&
         a.provider_billing_transaction_id == b.provider_billing_transaction_id &&
         a.model == b.model && a.provider_model == b.provider_model && a.endpoint == b.endpoint &&
         a.kind == b.kind && a.amount_micros == b.amount_micros && a.currency == b.currency &&
         a.time == b.time;
}
}  // namespace music::billing
