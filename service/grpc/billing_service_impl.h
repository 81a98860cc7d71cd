#ifndef MUSIC_SERVICE_GRPC_BILLING_SERVICE_IMPL_H_
#define MUSIC_SERVICE_GRPC_BILLING_SERVICE_IMPL_H_

#include <string>
#include <utility>

#include "music/v1/billing_service.grpc.pb.h"
#include "music/v1/reconciliation_service.grpc.pb.h"
#include "service/auth/authenticator.h"
#include "service/core/billing_api.h"
#include "service/core/thread_pool.h"

namespace music::service {

/// The gRPC edge of BillingService (callback API): each method runs BillingApi on the service's
/// worker threads (the store blocks) and finishes the reactor from there; errors are mapped once,
/// in ToGrpcStatus.
class BillingServiceImpl final : public music::v1::BillingService::CallbackService {
 public:
  /// `authenticator` (not owned): each method first checks the caller and its role
  /// (AuthorizeCall: UNAUTHENTICATED, PERMISSION_DENIED); the ledger reads are the caller's
  /// tenant's rows only.
  BillingServiceImpl(BillingApi* api, ThreadPool* workers, const auth::Authenticator* authenticator)
      : api_(api), workers_(workers), authenticator_(authenticator) {}

  grpc::ServerUnaryReactor* ListBillingTransactions(
      grpc::CallbackServerContext* ctx, const music::v1::ListBillingTransactionsRequest* request,
      music::v1::ListBillingTransactionsResponse* response) override;
  grpc::ServerUnaryReactor* ExportBillingTransactions(
      grpc::CallbackServerContext* ctx, const music::v1::ExportBillingTransactionsRequest* request,
      music::v1::ExportBillingTransactionsResponse* response) override;
  grpc::ServerUnaryReactor* ImportUsageRecords(
      grpc::CallbackServerContext* ctx, const music::v1::ImportUsageRecordsRequest* request,
      music::v1::ImportUsageRecordsResponse* response) override;
  grpc::ServerUnaryReactor* CheckLedger(grpc::CallbackServerContext* ctx,
                                        const music::v1::CheckLedgerRequest* request,
                                        music::v1::CheckLedgerResponse* response) override;
  /// BillingApi::GetProviderBalance on the RPC workers (it calls the provider).
  grpc::ServerUnaryReactor* GetProviderBalance(
      grpc::CallbackServerContext* ctx, const music::v1::GetProviderBalanceRequest* request,
      music::v1::GetProviderBalanceResponse* response) override;

 private:
  BillingApi* const api_;
  ThreadPool* const workers_;
  const auth::Authenticator* const authenticator_;
};

/// The gRPC edge of ReconciliationService, shaped as BillingServiceImpl.
class ReconciliationServiceImpl final : public music::v1::ReconciliationService::CallbackService {
 public:
  /// Operators only (reconciliation.run / reconciliation.read): a run spans the provider
  /// account, which every tenant shares.
  ReconciliationServiceImpl(BillingApi* api, ThreadPool* workers,
                            const auth::Authenticator* authenticator)
      : api_(api), workers_(workers), authenticator_(authenticator) {}

  grpc::ServerUnaryReactor* Reconcile(grpc::CallbackServerContext* ctx,
                                      const music::v1::ReconcileRequest* request,
                                      music::v1::ReconcileResponse* response) override;
  grpc::ServerUnaryReactor* ListReconciliationRuns(
      grpc::CallbackServerContext* ctx, const music::v1::ListReconciliationRunsRequest* request,
      music::v1::ListReconciliationRunsResponse* response) override;
  grpc::ServerUnaryReactor* GetReconciliationRun(
      grpc::CallbackServerContext* ctx, const music::v1::GetReconciliationRunRequest* request,
      music::v1::GetReconciliationRunResponse* response) override;

 private:
  BillingApi* const api_;
  ThreadPool* const workers_;
  const auth::Authenticator* const authenticator_;
};

}  // namespace music::service

#endif  // MUSIC_SERVICE_GRPC_BILLING_SERVICE_IMPL_H_
