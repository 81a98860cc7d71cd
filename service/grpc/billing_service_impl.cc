#include "service/grpc/billing_service_impl.h"

#include <utility>

#include "service/grpc/unary_call.h"

namespace music::service {
grpc::ServerUnaryReactor* BillingServiceImpl::ListBillingTransactions(
    grpc::CallbackServerContext* ctx, const music::v1::ListBillingTransactionsRequest* request,
    music::v1::ListBillingTransactionsResponse* response) {
  return RunUnary(*authenticator_, "/music.v1.BillingService/ListBillingTransactions", workers_,
                  ctx, request, response, [this](const std::string& tenant, const auto& r) {
                    return api_->ListBillingTransactions(tenant, r);
                  });
}

grpc::ServerUnaryReactor* BillingServiceImpl::ExportBillingTransactions(
    grpc::CallbackServerContext* ctx, const music::v1::ExportBillingTransactionsRequest* request,
    music::v1::ExportBillingTransactionsResponse* response) {
  return RunUnary(*authenticator_, "/music.v1.BillingService/ExportBillingTransactions", workers_,
                  ctx, request, response, [this](const std::string& tenant, const auto& r) {
                    return api_->ExportBillingTransactions(tenant, r);
                  });
}

grpc::ServerUnaryReactor* BillingServiceImpl::ImportUsageRecords(
    grpc::CallbackServerContext* ctx, const music::v1::ImportUsageRecordsRequest* request,
    music::v1::ImportUsageRecordsResponse* response) {
  return RunUnary(*authenticator_, "/music.v1.BillingService/ImportUsageRecords", workers_, ctx,
                  request, response, [this](const std::string& /*tenant*/, const auto& r) {
                    return api_->ImportUsageRecords(r);
                  });
}

grpc::ServerUnaryReactor* BillingServiceImpl::CheckLedger(
    grpc::CallbackServerContext* ctx, const music::v1::CheckLedgerRequest* request,
    music::v1::CheckLedgerResponse* response) {
  return RunUnary(
      *authenticator_, "/music.v1.BillingService/CheckLedger", workers_, ctx, request, response,
      [this](const std::string& /*tenant*/, const auto& r) { return api_->CheckLedger(r); });
}

grpc::ServerUnaryReactor* BillingServiceImpl::GetProviderBalance(
    grpc::CallbackServerContext* ctx, const music::v1::GetProviderBalanceRequest* request,
    music::v1::GetProviderBalanceResponse* response) {
  return RunUnary(*authenticator_, "/music.v1.BillingService/GetProviderBalance", workers_, ctx,
                  request, response, [this](const std::string& /*tenant*/, const auto& r) {
                    return api_->GetProviderBalance(r);
                  });
}

grpc::ServerUnaryReactor* ReconciliationServiceImpl::Reconcile(
    grpc::CallbackServerContext* ctx, const music::v1::ReconcileRequest* request,
    music::v1::ReconcileResponse* response) {
  return RunUnary(*authenticator_, "/music.v1.ReconciliationService/Reconcile", workers_, ctx,
                  request, response, [this](const std::string& /*tenant*/, const auto& r) {
                    return api_->Reconcile(r);
                  });
}

grpc::ServerUnaryReactor* ReconciliationServiceImpl::ListReconciliationRuns(
    grpc::CallbackServerContext* ctx, const music::v1::ListReconciliationRunsRequest* request,
    music::v1::ListReconciliationRunsResponse* response) {
  return RunUnary(*authenticator_, "/music.v1.ReconciliationService/ListReconciliationRuns",
                  workers_, ctx, request, response,
                  [this](const std::string& /*tenant*/, const auto& r) {
                    return api_->ListReconciliationRuns(r);
                  });
}

grpc::ServerUnaryReactor* ReconciliationServiceImpl::GetReconciliationRun(
    grpc::CallbackServerContext* ctx, const music::v1::GetReconciliationRunRequest* request,
    music::v1::GetReconciliationRunResponse* response) {
  return RunUnary(*authenticator_, "/music.v1.ReconciliationService/GetReconciliationRun", workers_,
                  ctx, request, response, [this](const std::string& /*tenant*/, const auto& r) {
                    return api_->GetReconciliationRun(r);
                  });
}

}  // namespace music::service
