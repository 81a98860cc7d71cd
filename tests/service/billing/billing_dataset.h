// Generated ledger + usage data sets with known, injected discrepancies: the reconciler tests and
// the benchmark share this generator so both exercise the same shapes.
#ifndef MUSIC_TESTS_SERVICE_BILLING_BILLING_DATASET_H_
#define MUSIC_TESTS_SERVICE_BILLING_BILLING_DATASET_H_

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "absl/time/time.h"
#include "domain/billing_types.h"
#include "domain/money.h"
#include "service/billing/reconciler.h"

namespace music::billing::testing {

struct DatasetOptions {
  /// Generate tasks until both sides hold at least this many records.
  int64_t min_transactions = 1000;
  int64_t min_usage_records = 1000;
  /// Share of tasks given one injected discrepancy, spread evenly over the six kinds.
  double discrepancy_rate = 0.01;
  /// Share of tasks that fail (refunded on both sides when clean).
  double failure_rate = 0.1;
  uint64_t seed = 1;
  absl::Time start = absl::FromUnixSeconds(1793491200);  // 2026-11-01T00:00:00Z
  absl::Duration spacing = absl::Seconds(2);             // between task creations
  /// Reservation-only tasks (in flight) appended after the last task, within the grace.
  int in_flight_tasks = 3;
};

struct Dataset {
  std::vector<BillingTransaction> ledger;
  std::vector<UsageRecord> usage;
  /// Every injected discrepancy: key (ExpectedKey) -> outcome. Tasks not listed must match.
  std::map<std::string, Outcome> expected;
  int64_t tasks = 0;
  absl::Time end;  ///< After every record; the in-flight ones are 10 min before it.
};

/// The key the tests compare a TaskResult by: "<provider>/<task_id>", or
/// "<provider>/ptid:<provider_task_id>" when the service does not know the task.
std::string ExpectedKey(const TaskResult& r);

Dataset GenerateDataset(const DatasetOptions& options);

/// The instant an RFC 3339 literal names ("2026-05-01T00:00:00Z"): the tests' fixed times. A
/// malformed literal is a bug in the test and aborts (StatusOr's value()).
inline absl::Time T(const char* rfc3339) { return ParseRfc3339(rfc3339).value(); }

}  // namespace music::billing::testing

#endif  // MUSIC_TESTS_SERVICE_BILLING_BILLING_DATASET_H_
