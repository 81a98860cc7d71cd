#include "tools/musicctl/watch.h"

#include <algorithm>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "domain/clock.h"
#include "grpcpp/client_context.h"
#include "tools/musicctl/format.h"
#include "tools/musicctl/options.h"
#include "tools/musicctl/rpc_error.h"

namespace music::musicctl {
namespace {

using music::v1::Task;

/// One watch: streams, reconnects and finally prints the task. Run() once.
class TaskWatcher {
 public:
  TaskWatcher(music::v1::MusicService::StubInterface& stub, const std::string& task_id,
              int64_t since_version, std::optional<Task> last, const WatchConfig& config,
              const Console& console)
      : stub_(stub),
        task_id_(task_id),
        config_(config),
        console_(console),
        deadline_(music::RealClock::Get()->Now() + config.timeout),
        since_(std::max(since_version, last ? last->version() : 0)),
        last_(std::move(last)),
        backoff_(config.initial_backoff) {}

  int Run() {
    while (true) {
      if (last_ && IsTerminal(last_->state())) return Finish(*last_);
      bool got_message = false;
      grpc::Status status = StreamOnce(&got_message);
      if (last_ && IsTerminal(last_->state())) return Finish(*last_);

      std::string why;
      if (status.ok()) {
        // The stream ended before a terminal task reached us (e.g. since_version was already the
        // final version): ask for the task as it stands.
        Task task;
        grpc::Status get = GetTask(&task);
        if (!get.ok()) return RpcFailed(get);
        if (IsTerminal(task.state())) {
          if (!last_ || task.version() > last_->version()) Show(task);
          return Finish(task);
        }
        why = "stream ended before the task did";
      } else if (status.error_code() == grpc::StatusCode::UNAVAILABLE) {
        why = absl::StrCat("UNAVAILABLE: ", status.error_message());
      } else if (status.error_code() == grpc::StatusCode::DEADLINE_EXCEEDED) {
        return TimedOut();  // The stream's only deadline is the watch's.
      } else {
        return RpcFailed(status);
      }
      last_error_ = why;

      if (got_message) backoff_ = config_.initial_backoff;
      absl::Duration left = deadline_ - music::RealClock::Get()->Now();
      if (left <= absl::ZeroDuration()) return TimedOut();
      absl::Duration wait = std::min(backoff_, left);
      console_.Notice(
          absl::StrCat("watch stream broke (", why, "); reconnecting in ", Seconds(wait)));
      absl::SleepFor(wait);
      backoff_ = std::min(backoff_ * 2, config_.max_backoff);
      reconnecting_ = true;
    }
  }

 private:
  /// Opens one WatchTask stream from since_ and prints what it delivers until it ends.
  grpc::Status StreamOnce(bool* got_message) {
    grpc::ClientContext context;
    context.set_deadline(absl::ToChronoTime(deadline_));
    music::v1::WatchTaskRequest request;
    request.set_task_id(task_id_);
    request.set_since_version(since_);
    auto reader = stub_.WatchTask(&context, request);
    music::v1::WatchTaskResponse response;
    while (reader->Read(&response)) {
      *got_message = true;
      NoteReconnected();
      if (response.has_heartbeat()) {
        if (console_.verbose) ShowHeartbeat(response);
      } else if (response.has_task()) {
        const Task& task = response.task();
        // A resumed stream may repeat the version it resumed from; show each version once.
        if (last_ && task.version() != 0 && task.version() <= last_->version()) continue;
        Show(task);
        since_ = std::max(since_, task.version());
        last_ = task;
      }
    }
    grpc::Status status = reader->Finish();
    if (status.ok()) NoteReconnected();
    return status;
  }

  /// After a reconnect, says once that the new stream works.
  void NoteReconnected() {
    if (!reconnecting_) return;
    console_.Notice(absl::StrCat("reconnected, resuming after version ", since_));
    reconnecting_ = false;
  }

  void Show(const Task& task) {
    if (console_.json) {
      music::v1::WatchTaskResponse event;
      *event.mutable_task() = task;
      *console_.out << ToJsonLine(event);
    } else {
      *console_.out << FormatWatchLine(task, music::RealClock::Get()->Now(), console_.tz) << "\n";
    }
    *console_.out << std::flush;
  }

  void ShowHeartbeat(const music::v1::WatchTaskResponse& response) {
    if (console_.json) {
      *console_.out << ToJsonLine(response);
    } else {
      *console_.out << FormatHeartbeatLine(response.heartbeat(), music::RealClock::Get()->Now(), console_.tz,
                                           console_.color)
                    << "\n";
    }
    *console_.out << std::flush;
  }

  /// Fetches the task once; used when a stream ended OK without a terminal task.
  grpc::Status GetTask(Task* task) {
    grpc::ClientContext context;
    context.set_deadline(absl::ToChronoTime(music::RealClock::Get()->Now() + config_.rpc_timeout));
    music::v1::GetTaskRequest request;
    request.set_task_id(task_id_);
    music::v1::GetTaskResponse response;
    grpc::Status status = stub_.GetTask(&context, request, &response);
    if (status.ok()) *task = std::move(*response.mutable_task());
    return status;
  }

  int Finish(const Task& task) {
    if (!console_.json) *console_.out << "\n" << FormatTask(task, console_.tz) << std::flush;
    return ExitCodeFor(task);
  }

  int RpcFailed(const grpc::Status& status) {
    *console_.err << FormatRpcError(status) << std::flush;
    return kExitRpcError;
  }

  int TimedOut() {
    *console_.err << "error: watch timed out after " << Seconds(config_.timeout) << "; task "
                  << task_id_
                  << (last_ ? absl::StrCat(" is still ", StateName(last_->state()), " at version ",
                                           last_->version())
                            : " not seen")
                  << (last_error_.empty() ? "" : absl::StrCat(" (last error ", last_error_, ")"))
                  << "\n"
                  << std::flush;
    return kExitRpcError;
  }

  static std::string Seconds(absl::Duration d) {
    return absl::StrFormat("%.1f s", absl::ToDoubleSeconds(d));
  }

  music::v1::MusicService::StubInterface& stub_;
  const std::string task_id_;
  const WatchConfig config_;
  const Console console_;
  const absl::Time deadline_;
  /// The version the next stream resumes after.
  int64_t since_;
  /// The newest task seen.
  std::optional<Task> last_;
  absl::Duration backoff_;
  /// A reconnect is under way and has not delivered anything yet.
  bool reconnecting_ = false;
  /// Why the previous stream broke, for the timeout message.
  std::string last_error_;
};

}  // namespace

int ExitCodeFor(const Task& task) {
  return task.state() == music::v1::TASK_STATE_SUCCEEDED ? kExitOk : kExitTaskFailed;
}

int WatchUntilDone(music::v1::MusicService::StubInterface& stub, const std::string& task_id,
                   int64_t since_version, std::optional<Task> last, const WatchConfig& config,
                   const Console& console) {
  return TaskWatcher(stub, task_id, since_version, std::move(last), config, console).Run();
}

}  // namespace music::musicctl
