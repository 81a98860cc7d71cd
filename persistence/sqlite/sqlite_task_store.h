#ifndef MUSIC_PERSISTENCE_SQLITE_SQLITE_TASK_STORE_H_
#define MUSIC_PERSISTENCE_SQLITE_SQLITE_TASK_STORE_H_

#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "persistence/billing_store.h"
#include "persistence/stores.h"
#include "persistence/task_store.h"

namespace music::persistence {

/// How OpenSqliteTaskStore opens the database.
struct SqliteOptions {
  /// Path of the database file; created (with its -wal and -shm companions) if absent. The
  /// directory must exist. In-memory databases are rejected (WAL mode needs a file).
  std::string path;
  /// PRAGMA synchronous: "FULL" (an acknowledged write survives power loss), "NORMAL" (survives a
  /// process crash) or "EXTRA". Case-insensitive.
  std::string synchronous = "FULL";
  /// How long a call waits for a lock held by another connection (another process on the same
  /// file) before it fails with UNAVAILABLE. Zero: fail at once. Millisecond resolution.
  absl::Duration busy_timeout = absl::Seconds(5);
};

/// Opens the SQLite task store at options.path, creating the file and migrating its schema to the
/// newest version this code knows (idempotent: re-opening a migrated file changes nothing).
///
/// The store keeps one connection in WAL mode with foreign keys on; calls are serialized by a
/// mutex, and several stores (or processes) may share one file. Times are stored with microsecond
/// precision (rounded down); absl::InfinitePast() and absl::InfiniteFuture() round-trip exactly.
/// A stored row that cannot be decoded is reported as DATA_LOSS. Update additionally returns
/// INVALID_ARGUMENT when record.task.version() < 2 or when it would change the task's tenant or
/// request_id (both immutable).
///
/// Errors: INVALID_ARGUMENT for a bad option; FAILED_PRECONDITION when the file's schema is newer
/// than this code; UNAVAILABLE when the file cannot be opened or is locked; DATA_LOSS when it is
/// not a database; INTERNAL for other SQLite failures.
absl::StatusOr<std::unique_ptr<TaskStore>> OpenSqliteTaskStore(const SqliteOptions& options);

/// The SQLite store implements both the task store and the billing store over one connection, so
/// a task change and its ledger rows commit in one transaction.
class SqliteStore : public TaskStore, public BillingStore {};

/// As OpenSqliteTaskStore, with the billing interface too.
absl::StatusOr<std::unique_ptr<SqliteStore>> OpenSqliteStore(const SqliteOptions& options);

/// As OpenSqliteStore, as the two interfaces a server takes (both point to one store).
absl::StatusOr<Stores> OpenSqliteStores(const SqliteOptions& options);

/// The schema version (PRAGMA user_version) this build creates and upgrades to.
int SqliteSchemaVersion();

}  // namespace music::persistence

#endif  // MUSIC_PERSISTENCE_SQLITE_SQLITE_TASK_STORE_H_
