// What a server holds on its SQLite file besides the connections: an exclusive advisory lock (a
// second server on the same file refuses to start), the file's identity (so a deleted or
// replaced file is noticed instead of written into the void) and the data directory's marker (so
// a missing file is never silently recreated empty). Internal to persistence/sqlite.
#ifndef MUSIC_PERSISTENCE_SQLITE_SQLITE_FILE_GUARD_H_
#define MUSIC_PERSISTENCE_SQLITE_SQLITE_FILE_GUARD_H_

#include <sys/types.h>

#include <memory>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"

namespace music::persistence::sqlite_internal {

/// The marker written next to a database file the first time it is created (`<path>.created`).
std::string MarkerPath(const std::string& path);

/// Before the database is opened: OK when `path` exists, or when neither it nor its marker does
/// (a first start), or when `allow_recreate` is set. FAILED_PRECONDITION naming both files when
/// the marker says a database was created here and the file is gone (deleted, a volume not
/// mounted): recreating it empty would silently drop every task and ledger row.
absl::Status CheckNotRecreating(const std::string& path, bool allow_recreate);

/// Writes the marker if it is not there yet (after the schema was migrated). INTERNAL when it
/// cannot be written.
absl::Status WriteMarker(const std::string& path);

/// Holds the database file open for the life of the store.
class FileGuard {
 public:
  /// Opens `path` (which must exist) and records its identity. With `exclusive`, takes
  /// flock(LOCK_EX | LOCK_NB) on it: FAILED_PRECONDITION naming the file when another process
  /// (another music-server) holds it. flock is separate from SQLite's own fcntl locks, so the
  /// store's own connections are unaffected. UNAVAILABLE when the file cannot be opened.
  static absl::StatusOr<std::unique_ptr<FileGuard>> Acquire(const std::string& path,
                                                            bool exclusive);
  ~FileGuard();
  FileGuard(const FileGuard&) = delete;
  FileGuard& operator=(const FileGuard&) = delete;

  /// OK while `path` still names the file that was opened. UNAVAILABLE when it was deleted
  /// (unlinked, or the path is gone) or replaced (the path names another inode): writes would go
  /// to a file nobody will open again. Two syscalls; thread-safe.
  absl::Status Check() const;

 private:
  FileGuard(std::string path, int fd, dev_t dev, ino_t ino)
      : path_(std::move(path)), fd_(fd), dev_(dev), ino_(ino) {}

  const std::string path_;
  const int fd_;
  const dev_t dev_;
  const ino_t ino_;
};

}  // namespace music::persistence::sqlite_internal

#endif  // MUSIC_PERSISTENCE_SQLITE_SQLITE_FILE_GUARD_H_
