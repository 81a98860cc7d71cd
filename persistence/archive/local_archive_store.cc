#include "persistence/archive/local_archive_store.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <string>
#include <system_error>
#include <utility>

#include "absl/strings/str_cat.h"
#include "domain/sha256.h"

namespace music::persistence {
namespace {

absl::Status ErrnoError(absl::string_view what, const std::string& path, int err) {
  const std::string message = absl::StrCat(what, " ", path, ": ", std::strerror(err));
  // A full disk or an I/O error may pass; anything else is a setup problem.
  if (err == ENOSPC || err == EIO || err == EAGAIN || err == EINTR || err == EDQUOT) {
    return absl::UnavailableError(message);
  }
  return absl::InternalError(message);
}

// Writes all of `bytes` to `fd`.
bool WriteAll(int fd, absl::string_view bytes) {
  while (!bytes.empty()) {
    const ssize_t n = ::write(fd, bytes.data(), bytes.size());
    if (n < 0) {
      if (errno == EINTR) continue;
      return false;
    }
    bytes.remove_prefix(static_cast<size_t>(n));
  }
  return true;
}

absl::Status FsyncDirectory(const std::string& dir) {
  const int fd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) return ErrnoError("open", dir, errno);
  const int rc = ::fsync(fd);
  const int err = errno;
  ::close(fd);
  if (rc != 0) return ErrnoError("fsync", dir, err);
  return absl::OkStatus();
}

class LocalArchiveStore final : public ArchiveStore {
 public:
  explicit LocalArchiveStore(std::string root) : root_(std::move(root)) {}

  absl::Status Put(absl::string_view key, absl::string_view bytes,
                   const ArchiveObject& object) override {
    if (!ValidArchiveKey(key)) return absl::InvalidArgumentError(absl::StrCat("bad key ", key));
    if (static_cast<int64_t>(bytes.size()) != object.size_bytes) {
      return absl::InvalidArgumentError(absl::StrCat("size ", bytes.size(), " is not the declared ",
                                                     object.size_bytes));
    }
    if (domain::Sha256Hex(bytes) != object.sha256) {
      return absl::InvalidArgumentError("the bytes do not have the declared SHA-256");
    }
    const std::string path = PathOf(key);
    const std::string dir = std::filesystem::path(path).parent_path().string();
    std::error_code ec;
    std::filesystem::create_directories(dir, ec);
    if (ec) return ErrnoError("mkdir", dir, ec.value());
    // A name no other put of this process uses; another process shares no directory with this
    // one unless they are replicas, and those use S3.
    const std::string tmp =
        absl::StrCat(path, ".tmp-", ::getpid(), "-", counter_.fetch_add(1));
    const int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd < 0) return ErrnoError("create", tmp, errno);
    bool ok = WriteAll(fd, bytes);
    int err = errno;
    if (ok && ::fsync(fd) != 0) {
      ok = false;
      err = errno;
    }
    ::close(fd);
    if (ok && ::rename(tmp.c_str(), path.c_str()) != 0) {
      ok = false;
      err = errno;
    }
    if (!ok) {
      ::unlink(tmp.c_str());
      return ErrnoError("write", path, err);
    }
    return FsyncDirectory(dir);
  }

  absl::StatusOr<int64_t> Size(absl::string_view key) override {
    if (!ValidArchiveKey(key)) return absl::InvalidArgumentError(absl::StrCat("bad key ", key));
    const std::string path = PathOf(key);
    struct stat st;
    if (::stat(path.c_str(), &st) != 0) {
      if (errno == ENOENT || errno == ENOTDIR) {
        return absl::NotFoundError(absl::StrCat("no archived object ", key));
      }
      return ErrnoError("stat", path, errno);
    }
    if (!S_ISREG(st.st_mode)) return absl::NotFoundError(absl::StrCat("no archived object ", key));
    return static_cast<int64_t>(st.st_size);
  }

  absl::StatusOr<std::string> Read(absl::string_view key, int64_t offset,
                                   int64_t length) override {
    if (!ValidArchiveKey(key)) return absl::InvalidArgumentError(absl::StrCat("bad key ", key));
    if (length < 0) return absl::InvalidArgumentError("length must not be negative");
    const std::string path = PathOf(key);
    const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
      if (errno == ENOENT || errno == ENOTDIR) {
        return absl::NotFoundError(absl::StrCat("no archived object ", key));
      }
      return ErrnoError("open", path, errno);
    }
    struct stat st;
    if (::fstat(fd, &st) != 0) {
      const int err = errno;
      ::close(fd);
      return ErrnoError("stat", path, err);
    }
    const int64_t size = st.st_size;
    if (offset < 0 || offset > size) {
      ::close(fd);
      return absl::OutOfRangeError(absl::StrCat("offset ", offset, " is outside 0..", size));
    }
    std::string out(static_cast<size_t>(std::min(length, size - offset)), '\0');
    size_t done = 0;
    while (done < out.size()) {
      const ssize_t n = ::pread(fd, out.data() + done, out.size() - done,
                                static_cast<off_t>(offset + static_cast<int64_t>(done)));
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0) {
        const int err = n < 0 ? errno : EIO;
        ::close(fd);
        return ErrnoError("read", path, err);
      }
      done += static_cast<size_t>(n);
    }
    ::close(fd);
    return out;
  }

  std::string Location(absl::string_view key) const override {
    return absl::StrCat("file://", PathOf(key));
  }

 private:
  std::string PathOf(absl::string_view key) const { return absl::StrCat(root_, "/", key); }

  const std::string root_;
  std::atomic<uint64_t> counter_{0};
};

}  // namespace

absl::StatusOr<std::unique_ptr<ArchiveStore>> OpenLocalArchiveStore(const std::string& root) {
  if (root.empty()) return absl::InvalidArgumentError("the archive directory is empty");
  std::error_code ec;
  std::filesystem::create_directories(root, ec);
  if (ec) return absl::InternalError(absl::StrCat("cannot create ", root, ": ", ec.message()));
  if (!std::filesystem::is_directory(root, ec)) {
    return absl::InternalError(absl::StrCat(root, " is not a directory"));
  }
  // Absolute, so Location() names the file wherever the reader stands.
  std::string absolute = std::filesystem::absolute(root, ec).lexically_normal().string();
  if (ec) absolute = root;
  while (absolute.size() > 1 && absolute.back() == '/') absolute.pop_back();
  return std::unique_ptr<ArchiveStore>(new LocalArchiveStore(std::move(absolute)));
}

}  // namespace music::persistence
