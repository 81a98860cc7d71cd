#ifndef MUSIC_SERVICE_CORE_BILLING_API_H_
#define MUSIC_SERVICE_CORE_BILLING_API_H_

#include <cstdint>
#include <utility>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "domain/clock.h"
#include "music/v1/billing_service.pb.h"
#include "music/v1/reconciliation_service.pb.h"
#include "persistence/billing_store.h"
#include "service/billing/usage_format.h"
#include "service/core/metrics.h"
#include "service/core/task_engine.h"

namespace music::service {

/// How BillingApi reconciles.
struct BillingApiOptions {
  /// Credits per USD, for the reports' USD totals only (beatra's rate, seed 002). > 0.
  int64_t credits_per_usd = 1000;
  /// A task whose only rows are RESERVEs and younger than this before the range end is in flight
  /// and left out of a run.
  absl::Duration in_flight_grace = absl::Hours(1);
  /// How far past the range the store is read, so a task's late SETTLE or usage record is seen.
  absl::Duration late_window = absl::Hours(24);
  /// The providers' usage-record formats (service/core/usage_formats.h builds them from the
  /// provider modules). ImportUsageRecords and Reconcile know only these providers.
  billing::UsageFormats usage_formats;
  /// Counts CheckLedger violations and reconciliation findings. Not owned; nullptr: not counted.
  Metrics* metrics = nullptr;
  /// The providers GetProviderBalance asks. Not owned; nullptr: every provider is NOT_FOUND.
  const ProviderRegistry* providers = nullptr;
};

/// The domain side of BillingService and ReconciliationService: validation, the store calls and
/// the recon library. No gRPC types; errors are absl statuses naming the field (status_details.h).
/// Methods block on the store: call them from worker threads.
class BillingApi {
 public:
  /// Pointers must outlive the API.
  BillingApi(persistence::BillingStore* store, const Clock* clock, BillingApiOptions options = {})
      : store_(store), clock_(clock), options_(std::move(options)) {}

  /// INVALID_ARGUMENT for a negative page_size, end before start or a foreign page_token.
  absl::StatusOr<music::v1::ListBillingTransactionsResponse> ListBillingTransactions(
      absl::string_view tenant, const music::v1::ListBillingTransactionsRequest& r);
  /// The tenant's rows in the range, oldest first, in the ledger file format.
  /// INVALID_ARGUMENT without a format or for a bad range.
  absl::StatusOr<music::v1::ExportBillingTransactionsResponse> ExportBillingTransactions(
      absl::string_view tenant, const music::v1::ExportBillingTransactionsRequest& r);
  /// INVALID_ARGUMENT for an unknown provider, no format, or content the provider's parser
  /// refuses (field "content"; the message names the line and the field). Nothing is stored then.
  absl::StatusOr<music::v1::ImportUsageRecordsResponse> ImportUsageRecords(
      const music::v1::ImportUsageRecordsRequest& r);
  absl::StatusOr<music::v1::CheckLedgerResponse> CheckLedger(
      const music::v1::CheckLedgerRequest& r);
  /// The provider account's balance as the provider reports it (ProviderAdapter::GetBalance).
  /// INVALID_ARGUMENT naming `provider` when empty; NOT_FOUND for a provider not served;
  /// UNIMPLEMENTED without a balance endpoint; the provider's errors (UNAVAILABLE, ...) pass
  /// through. Blocking (provider HTTP).
  absl::StatusOr<music::v1::GetProviderBalanceResponse> GetProviderBalance(
      const music::v1::GetProviderBalanceRequest& r);

  /// INVALID_ARGUMENT for a negative tolerance or end not after start.
  absl::StatusOr<music::v1::ReconcileResponse> Reconcile(const music::v1::ReconcileRequest& r);
  absl::StatusOr<music::v1::ListReconciliationRunsResponse> ListReconciliationRuns(
      const music::v1::ListReconciliationRunsRequest& r);
  /// NOT_FOUND when there is no such run.
  absl::StatusOr<music::v1::GetReconciliationRunResponse> GetReconciliationRun(
      const music::v1::GetReconciliationRunRequest& r);

 private:
  persistence::BillingStore* const store_;
  const Clock* const clock_;
  const BillingApiOptions options_;
};

}  // namespace music::service

#endif  // MUSIC_SERVICE_CORE_BILLING_API_H_
