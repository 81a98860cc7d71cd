// The store contract suite run against the SQLite store: one fresh database file per test, each
// handle its own connection (as another service process on the same file would have).
#include <memory>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "persistence/sqlite/sqlite_task_store.h"
#include "tests/persistence/contract/store_contract_test.h"
#include "tests/testing/temp_dir.h"

namespace music::persistence::store_test {
namespace {

class SqliteBackend : public StoreBackend {
 public:
  absl::StatusOr<Stores> Open() override {
    if (dir_.path().empty()) return absl::InternalError("no temp dir for the SQLite file");
    SqliteOptions options;
    options.path = dir_.File("music.db");
    return OpenSqliteStores(options);
  }

 private:
  TempDir dir_{"sqlite_store_contract"};
};

StoreImplementation SqliteImplementation() {
  return {"Sqlite", []() -> absl::StatusOr<std::unique_ptr<StoreBackend>> {
            return std::make_unique<SqliteBackend>();
          }};
}

MUSIC_INSTANTIATE_STORE_CONTRACT(Sqlite, SqliteImplementation());

}  // namespace
}  // namespace music::persistence::store_test
