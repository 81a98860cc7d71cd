#include "service/core/quota.h"

#include <algorithm>
#include <cmath>
#include <string>

#include "absl/strings/cord.h"
#include "absl/strings/str_cat.h"
#include "google/rpc/error_details.pb.h"
#include "service/core/status_details.h"

namespace music::service {
namespace {

double BurstOf(const TenantQuota& q) {
  return q.burst > 0 ? q.burst : std::max(1.0, std::floor(q.requests_per_second));
}

}  // namespace

const TenantQuota& QuotaOptions::For(absl::string_view tenant) const {
  auto it = tenants.find(std::string(tenant));
  return it == tenants.end() ? defaults : it->second;
}

absl::Status QuotaExceeded(absl::string_view tenant, absl::string_view quota,
                           absl::string_view description, absl::Duration retry_after) {
  retry_after = std::max(retry_after, absl::Milliseconds(1));
  absl::Status status = ErrorWithReason(
      absl::StatusCode::kResourceExhausted,
      absl::StrCat("tenant ", tenant, ": quota ", quota, " exceeded (", description,
                   "); retry in ", absl::FormatDuration(retry_after)),
      "QUOTA_EXCEEDED", {{"tenant", std::string(tenant)}, {"quota", std::string(quota)}});
  SetRetryDelay(retry_after, status);
  google::rpc::QuotaFailure failure;
  auto* v = failure.add_violations();
  v->set_subject(absl::StrCat("tenant:", tenant));
  v->set_description(absl::StrCat(quota, ": ", description));
  status.SetPayload(kQuotaFailureUrl, absl::Cord(failure.SerializeAsString()));
  return status;
}

std::optional<absl::Duration> TenantRateLimiter::TryTake(absl::string_view tenant,
                                                         absl::Time now) {
  const TenantQuota& q = options_->For(tenant);
  if (q.requests_per_second <= 0) return std::nullopt;
  const double burst = BurstOf(q);
  absl::MutexLock lock(&mu_);
  Bucket& b = buckets_[std::string(tenant)];
  if (b.refilled == absl::InfinitePast()) {
    b.tokens = burst;  // a tenant's first create finds a full bucket
  } else if (now > b.refilled) {
    b.tokens = std::min(burst, b.tokens + absl::ToDoubleSeconds(now - b.refilled) *
                                              q.requests_per_second);
  }
  b.refilled = std::max(b.refilled, now);
  if (b.tokens >= 1.0) {
    b.tokens -= 1.0;
    return std::nullopt;
  }
  return absl::Seconds((1.0 - b.tokens) / q.requests_per_second);
}

void TenantRateLimiter::Return(absl::string_view tenant) {
  const TenantQuota& q = options_->For(tenant);
  if (q.requests_per_second <= 0) return;
  absl::MutexLock lock(&mu_);
  auto it = buckets_.find(tenant);
  if (it != buckets_.end()) it->second.tokens = std::min(BurstOf(q), it->second.tokens + 1.0);
}

}  // namespace music::service
