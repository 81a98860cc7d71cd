#ifndef MUSIC_TOOLS_MUSICCTL_RPC_ERROR_H_
#define MUSIC_TOOLS_MUSICCTL_RPC_ERROR_H_

#include <string>

#include "grpcpp/support/status.h"

namespace music::musicctl {

/// A failed RPC for people: "error: CODE: message", then one indented line per detail found in
/// the google.rpc.Status details (BadRequest field violations, ErrorInfo reason / domain /
/// metadata, PreconditionFailure violations, RetryInfo delay). Ends with a newline.
std::string FormatRpcError(const grpc::Status& status);

}  // namespace music::musicctl

#endif  // MUSIC_TOOLS_MUSICCTL_RPC_ERROR_H_
