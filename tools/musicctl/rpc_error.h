#ifndef MUSIC_TOOLS_MUSICCTL_RPC_ERROR_H_
#define MUSIC_TOOLS_MUSICCTL_RPC_ERROR_H_

#include <string>

#include "absl/time/time.h"
#include "grpcpp/client_context.h"
#include "grpcpp/support/status.h"
#include "tools/musicctl/console.h"

namespace music::musicctl {

/// A failed RPC for people: "error: CODE: message", then one indented line per detail found in
/// the google.rpc.Status details (BadRequest field violations, ErrorInfo reason / domain /
/// metadata, PreconditionFailure violations, RetryInfo delay). Ends with a newline.
std::string FormatRpcError(const grpc::Status& status);

/// Prints FormatRpcError(status) on `console.err` and returns kExitRpcError (options.h), the
/// exit code of a command whose RPC failed.
int ReportRpcError(const grpc::Status& status, const Console& console);

/// Sets `context`'s deadline `timeout` (the --timeout flag) from now, on the real clock.
void SetRpcDeadline(grpc::ClientContext& context, absl::Duration timeout);

}  // namespace music::musicctl

#endif  // MUSIC_TOOLS_MUSICCTL_RPC_ERROR_H_
