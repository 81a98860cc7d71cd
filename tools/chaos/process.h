// Child processes of tools/chaos: started with posix_spawn, their output appended to a log file,
// ended with a signal. Plain POSIX so that a `kill -9` is exactly what an operator's would be.
#ifndef MUSIC_TOOLS_CHAOS_PROCESS_H_
#define MUSIC_TOOLS_CHAOS_PROCESS_H_

#include <sys/types.h>

#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"

namespace music::chaos {

/// One child process. Not thread-safe: one thread starts, kills and reaps it.
class ChildProcess {
 public:
  /// A process that runs `argv` (argv[0] a path) with `env` ("NAME=value") added to this
  /// process's environment, stdout and stderr appended to `log_path`.
  ChildProcess(std::vector<std::string> argv, std::vector<std::string> env, std::string log_path);
  ~ChildProcess();  ///< Kills (SIGKILL) and reaps a process still running.

  ChildProcess(const ChildProcess&) = delete;
  ChildProcess& operator=(const ChildProcess&) = delete;

  /// Spawns the process; FAILED_PRECONDITION while one is running.
  absl::Status Start();
  /// Sends `signal` and waits up to `timeout` for the process to end (then SIGKILL). No-op when
  /// nothing runs.
  void Stop(int signal, absl::Duration timeout = absl::Seconds(10));
  /// Whether the process runs; reaps it (without blocking) when it ended.
  bool Running();
  /// The pid while running, else 0.
  pid_t pid() const { return pid_; }
  /// The log file.
  const std::string& log_path() const { return log_path_; }

 private:
  const std::vector<std::string> argv_;
  const std::vector<std::string> env_;
  const std::string log_path_;
  pid_t pid_ = 0;
};

/// Runs `argv` to its end and returns its stdout (stderr goes to ours); an error when it cannot
/// start or exits non-zero.
absl::StatusOr<std::string> RunAndCapture(const std::vector<std::string>& argv);

/// A loopback TCP port that was free a moment ago (bound to port 0, then closed). A fixed port is
/// what a restarted replica needs: it comes back where its clients and callbacks expect it.
absl::StatusOr<int> PickFreePort();

/// Whether `path`'s content contains `needle` (a log line a child prints when ready).
bool FileContains(const std::string& path, const std::string& needle);

}  // namespace music::chaos

#endif  // MUSIC_TOOLS_CHAOS_PROCESS_H_
