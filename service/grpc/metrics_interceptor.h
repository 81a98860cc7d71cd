// Counts every gRPC call of the server (music_rpc_requests_total, music_rpc_duration_seconds) as
// a server interceptor, so no handler has to remember to.
#ifndef MUSIC_SERVICE_GRPC_METRICS_INTERCEPTOR_H_
#define MUSIC_SERVICE_GRPC_METRICS_INTERCEPTOR_H_

#include <grpcpp/support/server_interceptor.h>

#include <memory>

#include "service/core/metrics.h"

namespace music::service {

/// Makes one interceptor per call that records its method, status code and time from the call's
/// start to its status into `metrics` (not owned; must outlive the server). Calls whose status is
/// never sent (the client went away first) are not counted.
std::unique_ptr<grpc::experimental::ServerInterceptorFactoryInterface> NewRpcMetricsInterceptor(
    Metrics* metrics);

}  // namespace music::service

#endif  // MUSIC_SERVICE_GRPC_METRICS_INTERCEPTOR_H_
