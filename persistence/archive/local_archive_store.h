#ifndef MUSIC_PERSISTENCE_ARCHIVE_LOCAL_ARCHIVE_STORE_H_
#define MUSIC_PERSISTENCE_ARCHIVE_LOCAL_ARCHIVE_STORE_H_

#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "persistence/archive_store.h"

namespace music::persistence {

/// An ArchiveStore in a local directory: `key` is the file `<root>/<key>`. A put writes a
/// temporary file beside the target, fsyncs it, renames it over the target and fsyncs the
/// directory, so a crash leaves the old object or the new one, never a torn file. Several
/// replicas need a shared directory or the S3 store instead.
/// Creates `root` (and its parents) when missing; INVALID_ARGUMENT for an empty path, INTERNAL
/// when it cannot be created or is not a directory.
absl::StatusOr<std::unique_ptr<ArchiveStore>> OpenLocalArchiveStore(const std::string& root);

}  // namespace music::persistence

#endif  // MUSIC_PERSISTENCE_ARCHIVE_LOCAL_ARCHIVE_STORE_H_
