// The store contract suite run against the SQLite store: one fresh database file per test, each
// handle its own connection (as another service process on the same file would have).
#include <stdlib.h>

#include <filesystem>
#include <memory>
#include <string>
#include <system_error>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "persistence/sqlite/sqlite_task_store.h"
#include "tests/persistence/contract/store_contract_test.h"

namespace music::persistence::store_test {
namespace {

class SqliteBackend : public StoreBackend {
 public:
  explicit SqliteBackend(std::string dir) : dir_(std::move(dir)) {}
  ~SqliteBackend() override {
    std::error_code ec;
    std::filesystem::remove_all(dir_, ec);
  }

  absl::StatusOr<Stores> Open() override {
    SqliteOptions options;
    options.path = dir_ + "/music.db";
    return OpenSqliteStores(options);
  }

 private:
  std::string dir_;
};

StoreImplementation SqliteImplementation() {
  return {"Sqlite", []() -> absl::StatusOr<std::unique_ptr<StoreBackend>> {
            std::string dir = ::testing::TempDir() + "sqlite_store_contract_XXXXXX";
            if (mkdtemp(dir.data()) == nullptr) {
              return absl::InternalError("mkdtemp failed for " + dir);
            }
            return std::make_unique<SqliteBackend>(dir);
          }};
}

MUSIC_INSTANTIATE_STORE_CONTRACT(Sqlite, SqliteImplementation());

}  // namespace
}  // namespace music::persistence::store_test
