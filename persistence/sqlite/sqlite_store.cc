// Opening the SQLite store: options, the connection, the schema, then the store object.
#include <algorithm>
#include <cstdint>
#include <limits>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/time/time.h"
#include "persistence/sqlite/sqlite_db.h"
#include "persistence/sqlite/sqlite_file_guard.h"
#include "persistence/sqlite/sqlite_group_commit.h"
#include "persistence/sqlite/sqlite_migrations.h"
#include "persistence/sqlite/sqlite_store_impl.h"
#include "persistence/sqlite/sqlite_task_store.h"

namespace music::persistence {

absl::StatusOr<std::unique_ptr<TaskStore>> OpenSqliteTaskStore(const SqliteOptions& options) {
  absl::StatusOr<std::unique_ptr<SqliteStore>> store = OpenSqliteStore(options);
  if (!store.ok()) return store.status();
  return std::unique_ptr<TaskStore>(*std::move(store));
}

absl::StatusOr<Stores> OpenSqliteStores(const SqliteOptions& options) {
  absl::StatusOr<std::unique_ptr<SqliteStore>> store = OpenSqliteStore(options);
  if (!store.ok()) return store.status();
  std::shared_ptr<SqliteStore> shared = *std::move(store);
  Stores stores;
  stores.tasks = shared;
  stores.billing = shared;
  return stores;
}

absl::StatusOr<std::unique_ptr<SqliteStore>> OpenSqliteStore(const SqliteOptions& options) {
  if (options.path.empty()) return absl::InvalidArgumentError("SqliteOptions.path is empty");
  if (options.path == ":memory:") {
    return absl::InvalidArgumentError("SqliteOptions.path: in-memory databases are not supported");
  }
  const std::string synchronous = absl::AsciiStrToUpper(options.synchronous);
  if (synchronous != "FULL" && synchronous != "NORMAL" && synchronous != "EXTRA") {
    return absl::InvalidArgumentError(
        absl::StrCat("SqliteOptions.synchronous must be FULL, NORMAL or EXTRA, not '",
                     options.synchronous, "'"));
  }
  if (options.busy_timeout < absl::ZeroDuration()) {
    return absl::InvalidArgumentError("SqliteOptions.busy_timeout is negative");
  }
  if (options.read_connections < 1) {
    return absl::InvalidArgumentError("SqliteOptions.read_connections must be >= 1");
  }
  if (options.max_batch_writes < 1 || options.max_batch_bytes < 1) {
    return absl::InvalidArgumentError(
        "SqliteOptions.max_batch_writes and max_batch_bytes must be >= 1");
  }
  const int64_t busy_ms = std::min<int64_t>(absl::ToInt64Milliseconds(options.busy_timeout),
                                            std::numeric_limits<int>::max());

  if (absl::Status s = sqlite_internal::CheckNotRecreating(options.path, options.allow_recreate);
      !s.ok()) {
    return s;
  }
  absl::StatusOr<sqlite_internal::Connection> db =
      sqlite_internal::OpenConnection(options.path, static_cast<int>(busy_ms), options.vfs);
  if (!db.ok()) return db.status();
  // The lock before the schema is read or migrated: a second server never touches the file.
  absl::StatusOr<std::unique_ptr<sqlite_internal::FileGuard>> guard =
      sqlite_internal::FileGuard::Acquire(options.path, options.exclusive_lock);
  if (!guard.ok()) return guard.status();
  // Refuse a newer schema before touching the file.
  int64_t version = 0;
  if (absl::Status s = sqlite_internal::ReadSchemaVersion(db->get(), &version); !s.ok()) return s;
  if (absl::Status s = sqlite_internal::CheckSchemaNotNewer(version); !s.ok()) return s;
  if (absl::Status s = sqlite_internal::ConfigureConnection(db->get(), options.path, synchronous);
      !s.ok()) {
    return s;
  }
  if (absl::Status s = sqlite_internal::Migrate(db->get()); !s.ok()) return s;
  if (absl::Status s = sqlite_internal::WriteMarker(options.path); !s.ok()) return s;
  // The readers open a migrated file; query_only keeps a bug from writing outside the group
  // commit.
  std::vector<sqlite_internal::Connection> readers;
  for (int i = 0; i < options.read_connections; ++i) {
    absl::StatusOr<sqlite_internal::Connection> reader =
        sqlite_internal::OpenConnection(options.path, static_cast<int>(busy_ms), options.vfs);
    if (!reader.ok()) return reader.status();
    if (absl::Status s =
            sqlite_internal::ConfigureConnection(reader->get(), options.path, synchronous);
        !s.ok()) {
      return s;
    }
    if (absl::Status s = sqlite_internal::ExecOnce(reader->get(), "PRAGMA query_only = ON");
        !s.ok()) {
      return s;
    }
    readers.push_back(*std::move(reader));
  }
  sqlite_internal::GroupCommitLimits limits;
  limits.max_writes = options.max_batch_writes;
  limits.max_bytes = options.max_batch_bytes;
  return std::unique_ptr<SqliteStore>(std::make_unique<sqlite_internal::SqliteStoreImpl>(
      *std::move(db), std::move(readers), limits, *std::move(guard)));
}

}  // namespace music::persistence
