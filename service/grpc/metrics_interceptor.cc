#include "service/grpc/metrics_interceptor.h"

#include <string>

#include "absl/time/clock.h"

namespace music::service {
namespace {

using grpc::experimental::InterceptionHookPoints;

class RpcMetricsInterceptor : public grpc::experimental::Interceptor {
 public:
  RpcMetricsInterceptor(Metrics* metrics, const char* method)
      : metrics_(metrics), method_(method == nullptr ? "" : method), start_(absl::Now()) {}

  void Intercept(grpc::experimental::InterceptorBatchMethods* methods) override {
    // Read before Proceed(): the status is the batch's, not ours to keep.
    if (methods->QueryInterceptionHookPoint(InterceptionHookPoints::PRE_SEND_STATUS)) {
      metrics_->RecordRpc(method_, static_cast<int>(methods->GetSendStatus().error_code()),
                          absl::Now() - start_);
    }
    methods->Proceed();
  }

 private:
  Metrics* const metrics_;
  // "/music.v1.MusicService/CreateMusic": a registered method, so a bounded label.
  const std::string method_;
  const absl::Time start_;
};

class Factory : public grpc::experimental::ServerInterceptorFactoryInterface {
 public:
  explicit Factory(Metrics* metrics) : metrics_(metrics) {}
  grpc::experimental::Interceptor* CreateServerInterceptor(
      grpc::experimental::ServerRpcInfo* info) override {
    return new RpcMetricsInterceptor(metrics_, info->method());
  }

 private:
  Metrics* const metrics_;
};

}  // namespace

std::unique_ptr<grpc::experimental::ServerInterceptorFactoryInterface> NewRpcMetricsInterceptor(
    Metrics* metrics) {
  return std::make_unique<Factory>(metrics);
}

}  // namespace music::service
