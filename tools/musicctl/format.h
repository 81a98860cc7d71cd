#ifndef MUSIC_TOOLS_MUSICCTL_FORMAT_H_
#define MUSIC_TOOLS_MUSICCTL_FORMAT_H_

#include <string>
#include <vector>

#include "absl/time/time.h"
#include "google/protobuf/message.h"
#include "music/v1/music_service.pb.h"
#include "music/v1/task.pb.h"

namespace music::musicctl {

/// "SUCCEEDED" for TASK_STATE_SUCCEEDED; the number for values this build does not know.
std::string StateName(music::v1::TaskState state);

/// "MUSIC" for TASK_KIND_MUSIC; the number for values this build does not know.
std::string KindName(music::v1::TaskKind kind);
/// "CONVERT_TO_WAV" for CLIP_OPERATION_CONVERT_TO_WAV.
std::string ClipOperationName(music::v1::ClipOperation operation);

/// The google.rpc.Code (= grpc::StatusCode) name of `code`, e.g. "DEADLINE_EXCEEDED".
std::string CodeName(int code);

/// True for SUCCEEDED, FAILED and CANCELED.
bool IsTerminal(music::v1::TaskState state);

/// A task in full: identity, state, progress, error, input, and every clip or lyric variant.
/// Multi-line, ends with a newline.
std::string FormatTask(const music::v1::Task& task, absl::TimeZone tz);

/// One line for a watched change: time, version, state, provider status, progress flags, clips.
std::string FormatWatchLine(const music::v1::Task& task, absl::Time now, absl::TimeZone tz);

/// One short line for a watch heartbeat; dimmed with ANSI escapes when `color`.
std::string FormatHeartbeatLine(const music::v1::Heartbeat& heartbeat, absl::Time now,
                                absl::TimeZone tz, bool color);

/// An aligned table of tasks, one per line, with a header. Ends with a newline.
std::string FormatTaskTable(const std::vector<music::v1::Task>& tasks, absl::TimeZone tz);

/// An aligned table of the model catalog, the default marked with "*". Ends with a newline.
std::string FormatModels(const music::v1::ListModelsResponse& response);

/// `message` as proto3 JSON on one line, followed by a newline.
std::string ToJsonLine(const google::protobuf::Message& message);

}  // namespace music::musicctl

#endif  // MUSIC_TOOLS_MUSICCTL_FORMAT_H_
