// Opening the SQLite store: options, the connection, the schema, then the store object.
#include <algorithm>
#include <cstdint>
#include <limits>
#include <memory>
#include <string>
#include <utility>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/time/time.h"
#include "persistence/sqlite/sqlite_db.h"
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
  return Stores{shared, shared};
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
  const int64_t busy_ms = std::min<int64_t>(absl::ToInt64Milliseconds(options.busy_timeout),
                                            std::numeric_limits<int>::max());

  absl::StatusOr<sqlite_internal::Connection> db =
      sqlite_internal::OpenConnection(options.path, static_cast<int>(busy_ms));
  if (!db.ok()) return db.status();
  // Refuse a newer schema before touching the file.
  int64_t version = 0;
  if (absl::Status s = sqlite_internal::ReadSchemaVersion(db->get(), &version); !s.ok()) return s;
  if (absl::Status s = sqlite_internal::CheckSchemaNotNewer(version); !s.ok()) return s;
  if (absl::Status s = sqlite_internal::ConfigureConnection(db->get(), options.path, synchronous);
      !s.ok()) {
    return s;
  }
  if (absl::Status s = sqlite_internal::Migrate(db->get()); !s.ok()) return s;
  return std::unique_ptr<SqliteStore>(
      std::make_unique<sqlite_internal::SqliteStoreImpl>(*std::move(db)));
}

}  // namespace music::persistence
