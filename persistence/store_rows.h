// What every store implementation does the same way with the rows it keeps: times as
// microseconds, the checks a record or a ledger row passes before it is written, and the text
// forms of a reconciliation run's lists. Shared by persistence/sqlite and persistence/postgres so
// both stores accept and refuse exactly the same writes (the store contract suite,
// tests/persistence/contract/, runs against both).
#ifndef MUSIC_PERSISTENCE_STORE_ROWS_H_
#define MUSIC_PERSISTENCE_STORE_ROWS_H_

#include <algorithm>
#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "absl/types/span.h"
#include "domain/billing_types.h"
#include "domain/task_record.h"
#include "google/protobuf/timestamp.pb.h"

namespace music::persistence::store_rows {

/// Microseconds since the Unix epoch, rounded down; the infinities map to the int64 extremes,
/// which no finite time uses (a finite time there is moved one microsecond inwards).
int64_t ToMicros(absl::Time t);
/// The inverse of ToMicros.
absl::Time FromMicros(int64_t us);
/// ToMicros of a proto Timestamp.
int64_t TimestampMicros(const google::protobuf::Timestamp& ts);

/// Checks a record for Create (task_id set, a known submission state, version 1) and serializes
/// its task. INVALID_ARGUMENT naming what is wrong; INTERNAL when the task cannot be serialized.
absl::StatusOr<std::string> NewTaskBlob(const domain::TaskRecord& record);
/// The same for Update (version >= 2).
absl::StatusOr<std::string> UpdatedTaskBlob(const domain::TaskRecord& record);
/// Whether a stored submission column holds a SubmissionState.
bool ValidSubmission(int64_t submission);

/// INVALID_ARGUMENT unless the ledger row has a billing_transaction_id, a task_id and
/// amount_micros >= 0.
absl::Status CheckLedgerRow(const billing::BillingTransaction& t);
/// INVALID_ARGUMENT unless every usage record has a provider and a usage_record_id.
absl::Status CheckUsageRecords(absl::Span<const billing::UsageRecord> records);

/// A reconciliation run's provider list as "a,b" (provider names hold no commas), and back.
std::string JoinList(const std::vector<std::string>& items);
std::vector<std::string> SplitList(absl::string_view s);
/// Outcome counts as "NAME=n;NAME=n", and back (a malformed part is skipped).
std::string JoinCounts(const std::vector<std::pair<std::string, int64_t>>& counts);
std::vector<std::pair<std::string, int64_t>> SplitCounts(absl::string_view s);

/// Drops the rows (ledger rows, usage records) whose `provider` is not one of `providers`; an
/// empty `providers` keeps every row.
template <typename Row>
void KeepProviders(absl::Span<const std::string> providers, std::vector<Row>& rows) {
  if (providers.empty()) return;
  rows.erase(std::remove_if(rows.begin(), rows.end(),
                            [&](const Row& row) {
                              return std::find(providers.begin(), providers.end(),
                                               row.provider) == providers.end();
                            }),
             rows.end());
}

/// The ledger check's reading of a stored kind: RESERVE, SETTLE, anything else a refund.
billing::TransactionKind LedgerEntryKind(absl::string_view kind);

}  // namespace music::persistence::store_rows

#endif  // MUSIC_PERSISTENCE_STORE_ROWS_H_
