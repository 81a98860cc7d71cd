// Opening the PostgreSQL store: options, a first connection, the schema, then the store object.
#include "persistence/postgres/postgres_store.h"

#include <unistd.h>

#include <cstdint>
#include <memory>
#include <string>
#include <utility>

#include "absl/status/status.h"
#include "absl/random/random.h"
#include "absl/strings/str_cat.h"
#include "persistence/postgres/pg_change_feed.h"
#include "persistence/postgres/pg_connection.h"
#include "persistence/postgres/pg_migrations.h"
#include "persistence/postgres/pg_store_impl.h"

namespace music::persistence {

absl::StatusOr<Stores> OpenPostgresStores(const PostgresOptions& options) {
  if (options.url.empty()) return absl::InvalidArgumentError("PostgresOptions.url is empty");
  if (options.connections < 1) {
    return absl::InvalidArgumentError("PostgresOptions.connections must be >= 1");
  }
  if (options.connect_timeout <= absl::ZeroDuration() ||
      options.statement_timeout <= absl::ZeroDuration()) {
    return absl::InvalidArgumentError(
        "PostgresOptions.connect_timeout and statement_timeout must be > 0");
  }
  pg_internal::ConnectOptions connect;
  connect.url = options.url;
  connect.connect_timeout = options.connect_timeout;
  connect.statement_timeout = options.statement_timeout;
  if (options.lease_ttl <= absl::ZeroDuration()) {
    return absl::InvalidArgumentError("PostgresOptions.lease_ttl must be > 0");
  }
  std::string replica_id = options.replica_id;
  if (replica_id.empty()) {
    char host[256] = {};
    if (gethostname(host, sizeof(host) - 1) != 0) host[0] = '\0';
    absl::BitGen gen;
    replica_id = absl::StrCat(host[0] != '\0' ? host : "replica", "-", getpid(), "-",
                              absl::Hex(absl::Uniform<uint32_t>(gen), absl::kZeroPad8));
  }
  // The session's application_name is the replica id: the tasks trigger names the writer of
  // each change with it (migration 3), so a replica skips its own changes on the feed.
  connect.application_name = replica_id.substr(0, 63);
  auto store = std::make_shared<pg_internal::PostgresStore>(connect, options.connections,
                                                            replica_id, options.lease_ttl);
  {
    // The schema before anything is served; the connection goes back to the pool.
    absl::StatusOr<pg_internal::Pool::Lease> lease = store->pool().Acquire();
    if (!lease.ok()) return lease.status();
    if (absl::Status s = pg_internal::Migrate(**lease); !s.ok()) return s;
  }
  Stores stores;
  stores.tasks = store;
  stores.billing = store;
  stores.leases = store;
  stores.changes = std::make_shared<pg_internal::PgChangeFeed>(connect);
  return stores;
}

int PostgresSchemaVersion() { return pg_internal::SchemaVersion(); }

}  // namespace music::persistence
