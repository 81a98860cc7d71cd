// musicctl's commands for the clip operations (issue 12 B): stems, wav, video (tasks watched to
// the end with progress lines), lyrics-timing (an LRC file), boost-style and balance.
#ifndef MUSIC_TOOLS_MUSICCTL_CLIP_COMMANDS_H_
#define MUSIC_TOOLS_MUSICCTL_CLIP_COMMANDS_H_

#include <string>

#include "music/v1/billing_service.grpc.pb.h"
#include "music/v1/music_service.grpc.pb.h"
#include "tools/musicctl/console.h"
#include "tools/musicctl/options.h"

namespace music::musicctl {

/// True for the commands RunClipCommand runs.
inline bool IsClipCommand(Command c) {
  return c == Command::kStems || c == Command::kWav || c == Command::kVideo ||
         c == Command::kLyricsTiming || c == Command::kBoostStyle;
}

/// Runs stems / wav / video (CreateClipOperation, then WatchTask to the end; stems downloads
/// each stem into --out DIR as <clip>-<stem>.wav, wav into --out FILE when given),
/// lyrics-timing (GetTimestampedLyrics as LRC on stdout or into --lrc FILE) and boost-style.
/// Returns the exit code as RunCommand does.
int RunClipCommand(const Options& options, music::v1::MusicService::StubInterface& stub,
                   const Console& console);

/// `balance PROVIDER`: BillingService.GetProviderBalance.
int ProviderBalance(const Options& options, music::v1::BillingService::StubInterface& billing,
                    const Console& console);

/// The aligned words as an LRC file: one `[mm:ss.xx]line` per sung line, timed at the line's
/// first word. A word's line break (kie.ai words carry them) ends its line; section markers such
/// as `[Verse]` are left out. Empty for an instrumental clip.
std::string FormatLrc(const music::v1::GetTimestampedLyricsResponse& lyrics);

}  // namespace music::musicctl

#endif  // MUSIC_TOOLS_MUSICCTL_CLIP_COMMANDS_H_
