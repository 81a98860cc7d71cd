#include "persistence/sqlite/sqlite_file_guard.h"

#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"

namespace music::persistence::sqlite_internal {
namespace {

bool Exists(const std::string& path) {
  struct stat st {};
  return ::stat(path.c_str(), &st) == 0;
}

std::string Errno() { return std::strerror(errno); }

}  // namespace

std::string MarkerPath(const std::string& path) { return path + ".created"; }

absl::Status CheckNotRecreating(const std::string& path, bool allow_recreate) {
  if (allow_recreate || Exists(path) || !Exists(MarkerPath(path))) return absl::OkStatus();
  return absl::FailedPreconditionError(absl::StrCat(
      "database file ", path, " is missing but ", MarkerPath(path),
      " says a database was created there: refusing to start on a new empty one (restore the "
      "file, or set database.allow_recreate to start empty)"));
}

absl::Status WriteMarker(const std::string& path) {
  const std::string marker = MarkerPath(path);
  if (Exists(marker)) return absl::OkStatus();
  const int fd = ::open(marker.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
  if (fd < 0) {
    if (errno == EEXIST) return absl::OkStatus();
    return absl::InternalError(absl::StrCat("cannot write ", marker, ": ", Errno()));
  }
  const std::string text = absl::StrCat(
      "music-server created ", path, " at ", absl::FormatTime(absl::Now(), absl::UTCTimeZone()),
      "\n");
  const bool ok = ::write(fd, text.data(), text.size()) == static_cast<ssize_t>(text.size()) &&
                  ::fsync(fd) == 0;
  const std::string error = ok ? "" : Errno();
  ::close(fd);
  if (!ok) return absl::InternalError(absl::StrCat("cannot write ", marker, ": ", error));
  return absl::OkStatus();
}

absl::StatusOr<std::unique_ptr<FileGuard>> FileGuard::Acquire(const std::string& path,
                                                             bool exclusive) {
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    return absl::UnavailableError(absl::StrCat("cannot open database file ", path, ": ", Errno()));
  }
  if (exclusive && ::flock(fd, LOCK_EX | LOCK_NB) != 0) {
    const std::string error = errno == EWOULDBLOCK ? "held by another process" : Errno();
    ::close(fd);
    return absl::FailedPreconditionError(absl::StrCat(
        "database file ", path, " is in use: its exclusive lock is ", error,
        " (another music-server on the same file?)"));
  }
  struct stat st {};
  if (::fstat(fd, &st) != 0) {
    const std::string error = Errno();
    ::close(fd);
    return absl::UnavailableError(absl::StrCat("cannot stat database file ", path, ": ", error));
  }
  return std::unique_ptr<FileGuard>(new FileGuard(path, fd, st.st_dev, st.st_ino));
}

FileGuard::~FileGuard() { ::close(fd_); }

absl::Status FileGuard::Check() const {
  // The path first: a file renamed over ours has also unlinked ours, and "replaced" is the
  // better message then.
  struct stat named {};
  if (::stat(path_.c_str(), &named) != 0) {
    return absl::UnavailableError(
        absl::StrCat("database file ", path_, " was deleted under the running server (", Errno(),
                     "); writes are refused (restore the file and restart)"));
  }
  if (named.st_dev != dev_ || named.st_ino != ino_) {
    return absl::UnavailableError(
        absl::StrCat("database file ", path_, " was replaced by another file under the running "
                     "server; writes are refused (restart to open the new one)"));
  }
  struct stat held {};
  if (::fstat(fd_, &held) != 0 || held.st_nlink == 0) {
    return absl::UnavailableError(absl::StrCat("database file ", path_,
                                               " was deleted under the running server; writes "
                                               "are refused (restore the file and restart)"));
  }
  return absl::OkStatus();
}

}  // namespace music::persistence::sqlite_internal
