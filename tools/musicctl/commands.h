#ifndef MUSIC_TOOLS_MUSICCTL_COMMANDS_H_
#define MUSIC_TOOLS_MUSICCTL_COMMANDS_H_

#include "music/v1/music_service.grpc.pb.h"
#include "tools/musicctl/console.h"
#include "tools/musicctl/options.h"

namespace music::musicctl {

/// Runs the command `options` describes against `stub` and returns the process exit code
/// (kExitOk, kExitRpcError, kExitTaskFailed or kExitUsage). `options.command` must not be kHelp.
int RunCommand(const Options& options, music::v1::MusicService::StubInterface& stub,
               const Console& console);

}  // namespace music::musicctl

#endif  // MUSIC_TOOLS_MUSICCTL_COMMANDS_H_
