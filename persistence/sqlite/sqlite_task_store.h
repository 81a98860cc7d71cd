#ifndef MUSIC_PERSISTENCE_SQLITE_SQLITE_TASK_STORE_H_
#define MUSIC_PERSISTENCE_SQLITE_SQLITE_TASK_STORE_H_

#include <cstddef>
#include <functional>
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
  /// Connections for queries (>= 1): as many reads run at once, none waiting for the writer.
  int read_connections = 4;
  /// Group commit caps: at most this many writes (>= 1) and about this many bytes (>= 1; the
  /// serialized tasks and ledger rows) per transaction. A larger write still goes, alone.
  int max_batch_writes = 256;
  size_t max_batch_bytes = size_t{8} << 20;
  /// The SQLite VFS to open the file with; empty: the default one. Tests plant I/O faults
  /// through a VFS of their own.
  std::string vfs;
  /// Take an exclusive flock on the file for the store's life: a second process (or store)
  /// opening it with this set gets FAILED_PRECONDITION naming the file. The server sets it; off
  /// by default so that tools and tests may open a file a store already has open.
  bool exclusive_lock = false;
  /// Create the database even where the marker next to it (`<path>.created`, written when the
  /// file was first created) says one existed. Off: a missing file with a marker is
  /// FAILED_PRECONDITION, never a silent fresh start.
  bool allow_recreate = false;
};

/// Opens the SQLite task store at options.path, creating the file and migrating its schema to the
/// newest version this code knows (idempotent: re-opening a migrated file changes nothing).
///
/// The store keeps one writer connection in WAL mode with foreign keys on and a pool of reader
/// connections (options.read_connections), and several stores (or processes) may share one file.
/// Writes (Create, Update, InsertUsageRecords, SaveReconciliationRun) are committed in groups:
/// writes that arrive while a transaction commits are queued and then run together in the next
/// one (BEGIN IMMEDIATE .. COMMIT, one fsync), each in its own savepoint, so a write that fails
/// (ABORTED, ALREADY_EXISTS, NOT_FOUND, ...) is rolled back alone and the others commit. A write
/// returns after its transaction committed: with synchronous=FULL it survives a process crash and
/// a power loss. When the transaction itself fails (COMMIT fails: disk full, I/O error; or SQLite
/// rolls it back) every write in it gets that error and none is stored. Reads run on the reader
/// connections and never wait for a write transaction; a read issued after a write returned sees
/// it. Times are stored with microsecond
/// precision (rounded down); absl::InfinitePast() and absl::InfiniteFuture() round-trip exactly.
/// A stored row that cannot be decoded is reported as DATA_LOSS. Update additionally returns
/// INVALID_ARGUMENT when record.task.version() < 2 or when it would change the task's tenant or
/// request_id (both immutable).
///
/// The store checks before every write transaction that `path` still names the file it opened:
/// once it was deleted or replaced, writes fail UNAVAILABLE and CheckHealth() says so.
///
/// Errors: INVALID_ARGUMENT for a bad option; FAILED_PRECONDITION when the file's schema is newer
/// than this code, when the file is missing but its marker exists (see allow_recreate), or when
/// exclusive_lock is set and another process holds the file; UNAVAILABLE when the file cannot be opened or is locked; DATA_LOSS when it is
/// not a database; INTERNAL for other SQLite failures.
absl::StatusOr<std::unique_ptr<TaskStore>> OpenSqliteTaskStore(const SqliteOptions& options);

/// The SQLite store implements both the task store and the billing store over one connection, so
/// a task change and its ledger rows commit in one transaction.
/// GetCommitStats() is always set: the group commit's counters.
class SqliteStore : public TaskStore, public BillingStore {
 public:
  /// Test seam: `hook(n)` runs on the thread that leads a batch of n writes, after it took them
  /// and before BEGIN, outside every lock of the store; while it blocks, later writes queue (and
  /// form the next batch). Empty: none.
  virtual void SetBatchHookForTesting(std::function<void(int)> hook) = 0;
  /// Test seam: blocks until at least `n` writes wait in the queue, not yet in a batch.
  virtual void AwaitQueuedWritesForTesting(int n) = 0;
};

/// As OpenSqliteTaskStore, with the billing interface too.
absl::StatusOr<std::unique_ptr<SqliteStore>> OpenSqliteStore(const SqliteOptions& options);

/// As OpenSqliteStore, as the two interfaces a server takes (both point to one store).
absl::StatusOr<Stores> OpenSqliteStores(const SqliteOptions& options);

/// The schema version (PRAGMA user_version) this build creates and upgrades to.
int SqliteSchemaVersion();

}  // namespace music::persistence

#endif  // MUSIC_PERSISTENCE_SQLITE_SQLITE_TASK_STORE_H_
