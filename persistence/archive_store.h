// The output archive: where the service keeps its own copy of every clip's media, so a song stays
// playable after the provider's links expire. Implementations: a local directory
// (persistence/archive/local_archive_store.h, the default) and an S3-compatible object store
// (persistence/archive/s3_archive_store.h, for several replicas). Only the wiring and tests name
// them.
#ifndef MUSIC_PERSISTENCE_ARCHIVE_STORE_H_
#define MUSIC_PERSISTENCE_ARCHIVE_STORE_H_

#include <cstdint>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace music::persistence {

/// What an archived object is, as the caller computed it before the put.
struct ArchiveObject {
  /// Hex SHA-256 of the bytes (lower case, 64 characters).
  std::string sha256;
  /// Size in bytes.
  int64_t size_bytes = 0;
  /// Media type, e.g. "audio/wav".
  std::string content_type;
};

/// Stores opaque bytes by key. Keys are '/'-separated paths of non-empty segments made of
/// [A-Za-z0-9._~-], none "." or ".." (ValidArchiveKey); the archiver builds them from escaped ids.
/// Implementations are thread-safe and block on I/O: call them from worker threads, never from a
/// gRPC reaction or the engine's threads.
class ArchiveStore {
 public:
  virtual ~ArchiveStore() = default;

  /// Stores `bytes` under `key`, replacing any object there; durable when it returns. The store
  /// checks `bytes` against object.size_bytes and object.sha256 first (INVALID_ARGUMENT when they
  /// differ, nothing stored) and keeps content_type where it can. INVALID_ARGUMENT for a bad key;
  /// UNAVAILABLE / INTERNAL on storage failures (retryable: the put can be repeated).
  virtual absl::Status Put(absl::string_view key, absl::string_view bytes,
                           const ArchiveObject& object) = 0;

  /// The size of the object at `key`, bytes. NOT_FOUND when there is none; UNAVAILABLE / INTERNAL
  /// on storage failures.
  virtual absl::StatusOr<int64_t> Size(absl::string_view key) = 0;

  /// True when an object exists at `key` (Size without the size).
  absl::StatusOr<bool> Exists(absl::string_view key) {
    absl::StatusOr<int64_t> size = Size(key);
    if (absl::IsNotFound(size.status())) return false;
    if (!size.ok()) return size.status();
    return true;
  }

  /// Up to `length` bytes of the object at `key` from byte `offset` (fewer at the end; "" when
  /// offset equals the size). NOT_FOUND when there is no object; OUT_OF_RANGE when offset is
  /// negative or past the end; INVALID_ARGUMENT when length < 0; UNAVAILABLE / INTERNAL on
  /// storage failures.
  virtual absl::StatusOr<std::string> Read(absl::string_view key, int64_t offset,
                                           int64_t length) = 0;

  /// Where `key` is, for people and for Clip.*_archive.location: "file:///dir/key",
  /// "s3://bucket/key".
  virtual std::string Location(absl::string_view key) const = 0;
};

/// True when `key` has the form ArchiveStore documents.
inline bool ValidArchiveKey(absl::string_view key) {
  if (key.empty() || key.size() > 1024) return false;
  size_t start = 0;
  while (start <= key.size()) {
    size_t end = key.find('/', start);
    if (end == absl::string_view::npos) end = key.size();
    const absl::string_view segment = key.substr(start, end - start);
    if (segment.empty() || segment == "." || segment == "..") return false;
    for (char c : segment) {
      const bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                      c == '.' || c == '_' || c == '-' || c == '~';
      if (!ok) return false;
    }
    start = end + 1;
  }
  return true;
}

}  // namespace music::persistence

#endif  // MUSIC_PERSISTENCE_ARCHIVE_STORE_H_
