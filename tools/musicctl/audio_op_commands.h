#ifndef MUSIC_TOOLS_MUSICCTL_AUDIO_OP_COMMANDS_H_
#define MUSIC_TOOLS_MUSICCTL_AUDIO_OP_COMMANDS_H_

#include "music/v1/music_service.grpc.pb.h"
#include "tools/musicctl/console.h"
#include "tools/musicctl/options.h"

namespace music::musicctl {

/// `cover` and `audio-op`: uploads the local file (UploadReferenceAudio for --model, or the
/// server's default model) unless the audio is given as --reference_audio_uri/_id, creates the
/// operation (CreateAudioOperation), then watches it to the end printing progress and the clips.
/// Exit codes as WatchUntilDone; kExitUsage when the file cannot be read; kExitRpcError when an
/// RPC fails.
int RunAudioOperation(const Options& options, music::v1::MusicService::StubInterface& stub,
                      const Console& console);

}  // namespace music::musicctl

#endif  // MUSIC_TOOLS_MUSICCTL_AUDIO_OP_COMMANDS_H_
