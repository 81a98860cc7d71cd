// The store contract suite run against the PostgreSQL store: one fresh database per test on the
// real server of the test run (tests/testing/postgres_server.h), each handle its own connection
// pool (as another replica of the service would have).
#include <memory>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "persistence/postgres/postgres_store.h"
#include "tests/persistence/contract/store_contract_test.h"
#include "tests/testing/postgres_server.h"

namespace music::persistence::store_test {
namespace {

class PostgresBackend : public StoreBackend {
 public:
  explicit PostgresBackend(std::string url) : url_(std::move(url)) {}
  ~PostgresBackend() override {
    PostgresServer::Shared().DropDatabase(url_).IgnoreError();
  }
  absl::StatusOr<Stores> Open() override {
    PostgresOptions options;
    options.url = url_;
    options.connections = 4;
    return OpenPostgresStores(options);
  }

 private:
  std::string url_;
};

StoreImplementation PostgresImplementation() {
  return {"Postgres", []() -> absl::StatusOr<std::unique_ptr<StoreBackend>> {
            absl::StatusOr<std::string> url =
                PostgresServer::Shared().CreateDatabase("store_contract");
            if (!url.ok()) return url.status();
            return std::make_unique<PostgresBackend>(*url);
          }};
}

MUSIC_INSTANTIATE_STORE_CONTRACT(Postgres, PostgresImplementation());

}  // namespace
}  // namespace music::persistence::store_test
