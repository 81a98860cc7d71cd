// The SQLite store's schema: its migration steps and PRAGMA user_version. Internal to
// persistence/sqlite.
#ifndef MUSIC_PERSISTENCE_SQLITE_SQLITE_MIGRATIONS_H_
#define MUSIC_PERSISTENCE_SQLITE_SQLITE_MIGRATIONS_H_

#include <sqlite3.h>

#include <cstdint>

#include "absl/status/status.h"

namespace music::persistence::sqlite_internal {

/// FAILED_PRECONDITION when a file's user_version is newer than this code's schema (upgrade the
/// service) or negative.
absl::Status CheckSchemaNotNewer(int64_t version);

/// The file's PRAGMA user_version.
absl::Status ReadSchemaVersion(sqlite3* db, int64_t* version);

/// Applies the missing migration steps, in one transaction (all or none), and sets user_version
/// to SqliteSchemaVersion(). Idempotent. FAILED_PRECONDITION as CheckSchemaNotNewer; SQLite
/// errors as SqliteError, naming the step that failed.
absl::Status Migrate(sqlite3* db);

}  // namespace music::persistence::sqlite_internal

#endif  // MUSIC_PERSISTENCE_SQLITE_SQLITE_MIGRATIONS_H_
