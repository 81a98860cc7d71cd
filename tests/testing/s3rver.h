#ifndef MUSIC_TESTS_TESTING_S3RVER_H_
#define MUSIC_TESTS_TESTING_S3RVER_H_

#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/time/time.h"
#include "tests/testing/wait_for.h"

extern char** environ;

namespace music {

/// The npm package s3rver (tools/package.json; installed by tools/install-deps into
/// tools/node_modules), an S3-compatible server, run as a child process on a loopback port picked
/// by the system, with its data in `directory` and one bucket. Stopped (SIGTERM, then reaped) by
/// the destructor. s3rver knows one key pair, S3RVER / S3RVER; it checks the access key id and
/// the request's form but does not recompute V4 signatures.
class S3rverProcess {
 public:
  static constexpr char kAccessKey[] = "S3RVER";
  static constexpr char kSecretKey[] = "S3RVER";

  /// Starts it and waits (up to 30 s) for its "listening on" line. Fails the test (ADD_FAILURE)
  /// and returns false when the binary is missing or it does not come up.
  bool Start(const std::string& directory, const std::string& bucket) {
    const std::string binary = MUSIC_S3RVER_BINARY;
    if (::access(binary.c_str(), X_OK) != 0) {
      ADD_FAILURE() << binary << " is missing: run tools/install-deps (npm install in tools/)";
      return false;
    }
    log_ = absl::StrCat(directory, "/s3rver.log");
    const std::string data = absl::StrCat(directory, "/data");
    std::vector<std::string> args = {binary,    "-d", data,   "-a", "127.0.0.1", "-p",
                                     "0",       "--configure-bucket", bucket};
    std::vector<char*> argv;
    for (std::string& a : args) argv.push_back(a.data());
    argv.push_back(nullptr);
    posix_spawn_file_actions_t actions;
    posix_spawn_file_actions_init(&actions);
    posix_spawn_file_actions_addopen(&actions, 1, log_.c_str(), O_WRONLY | O_CREAT | O_TRUNC,
                                     0644);
    posix_spawn_file_actions_adddup2(&actions, 1, 2);
    const int rc = posix_spawn(&pid_, binary.c_str(), &actions, nullptr, argv.data(), environ);
    posix_spawn_file_actions_destroy(&actions);
    if (rc != 0) {
      pid_ = 0;
      ADD_FAILURE() << "cannot start " << binary;
      return false;
    }
    return WaitFor([this] { return ReadPort(); }, absl::Seconds(30), "s3rver to listen",
                   absl::Milliseconds(20));
  }

  ~S3rverProcess() {
    if (pid_ <= 0) return;
    ::kill(pid_, SIGTERM);
    int status = 0;
    ::waitpid(pid_, &status, 0);
  }

  /// "http://127.0.0.1:<port>".
  std::string endpoint() const { return absl::StrCat("http://127.0.0.1:", port_); }
  int port() const { return port_; }

 private:
  bool ReadPort() {
    std::ifstream in(log_);
    std::stringstream text;
    text << in.rdbuf();
    const std::string s = text.str();
    const std::string marker = "listening on 127.0.0.1:";
    const size_t at = s.find(marker);
    if (at == std::string::npos) return false;
    const size_t start = at + marker.size();
    size_t end = start;
    while (end < s.size() && s[end] >= '0' && s[end] <= '9') ++end;
    return absl::SimpleAtoi(s.substr(start, end - start), &port_) && port_ > 0;
  }

  pid_t pid_ = 0;
  int port_ = 0;
  std::string log_;
};

}  // namespace music

#endif  // MUSIC_TESTS_TESTING_S3RVER_H_
