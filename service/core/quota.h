#ifndef MUSIC_SERVICE_CORE_QUOTA_H_
#define MUSIC_SERVICE_CORE_QUOTA_H_

#include <map>
#include <optional>
#include <string>

#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_map.h"
#include "absl/status/status.h"
#include "absl/strings/string_view.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"

namespace music::service {

/// One tenant's limits. Zero means unlimited.
struct TenantQuota {
  /// Creates per second (a token bucket refilled at this rate); reads are not limited: creates
  /// cost money at a provider, reads cost a database read.
  double requests_per_second = 0;
  /// The bucket's size: creates allowed at once after a quiet period. 0: max(1, rate).
  int burst = 0;
  /// The tenant's non-terminal tasks (PENDING or RUNNING) at any time.
  int max_tasks_in_flight = 0;
};

/// The quotas of every tenant: `tenants` by name (config `tenants.<name>.*`), `defaults` for
/// every tenant not listed (config `tenants.default_*`).
struct QuotaOptions {
  TenantQuota defaults;
  std::map<std::string, TenantQuota> tenants;

  /// The quota of `tenant`.
  const TenantQuota& For(absl::string_view tenant) const;
};

/// The quota names, as in google.rpc.QuotaFailure's subject suffix and the `quota` label of
/// music_quota_refusals_total.
inline constexpr char kQuotaRequestsPerSecond[] = "requests_per_second";
inline constexpr char kQuotaTasksInFlight[] = "max_tasks_in_flight";

/// RESOURCE_EXHAUSTED for `tenant` over `quota`, with a google.rpc.RetryInfo (retry_delay =
/// `retry_after`, at least 1 ms), a google.rpc.QuotaFailure (subject "tenant:<tenant>", the
/// quota named in the description) and an ErrorInfo (reason QUOTA_EXCEEDED, metadata tenant and
/// quota) as payloads, mapped to grpc-status-details-bin at the edge (status_mapping.cc).
absl::Status QuotaExceeded(absl::string_view tenant, absl::string_view quota,
                           absl::string_view description, absl::Duration retry_after);

/// Token buckets of the tenants' requests_per_second. The clock is the caller's (`now` from
/// the injected domain::Clock), so tests drive it with a FakeClock. Memory: one bucket per
/// tenant that has a rate. Thread-safe.
class TenantRateLimiter {
 public:
  explicit TenantRateLimiter(const QuotaOptions* options) : options_(options) {}

  /// Takes a token of `tenant` at `now`: nullopt when granted (or the tenant is unlimited), else
  /// how long until a token is there (nothing taken).
  std::optional<absl::Duration> TryTake(absl::string_view tenant, absl::Time now);
  /// Puts back a token TryTake granted for a create that was not made after all (refused by
  /// another quota), so a refused create costs the tenant nothing.
  void Return(absl::string_view tenant);

 private:
  struct Bucket {
    double tokens = 0;
    absl::Time refilled = absl::InfinitePast();
  };
  const QuotaOptions* const options_;
  absl::Mutex mu_;
  absl::flat_hash_map<std::string, Bucket> buckets_ ABSL_GUARDED_BY(mu_);
};

}  // namespace music::service

#endif  // MUSIC_SERVICE_CORE_QUOTA_H_
