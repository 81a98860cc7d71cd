#ifndef MUSIC_SERVICE_GRPC_STATUS_MAPPING_H_
#define MUSIC_SERVICE_GRPC_STATUS_MAPPING_H_

#include <grpcpp/support/status.h>

#include "absl/status/status.h"

namespace music::service {

/// Maps a domain status to the wire (absl and gRPC codes are one to one). Payloads set by
/// status_details.h (BadRequest, ErrorInfo, PreconditionFailure) become google.rpc.Status details
/// in grpc-status-details-bin (AIP-193); other payloads stay inside. A provider refusing the
/// service's own key (adapters::IsProviderAuthError, FAILED_PRECONDITION) gets an ErrorInfo
/// {reason PROVIDER_AUTH, domain music.v1, metadata provider_error_code} when it has none.
grpc::Status ToGrpcStatus(const absl::Status& status);

}  // namespace music::service

#endif  // MUSIC_SERVICE_GRPC_STATUS_MAPPING_H_
