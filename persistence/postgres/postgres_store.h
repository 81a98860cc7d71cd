// The PostgreSQL implementation of persistence::TaskStore and BillingStore: several replicas of
// the service share one database. A task change and its ledger rows commit in one transaction;
// the ledger is append-only (triggers refuse UPDATE, DELETE and TRUNCATE); migrations are
// versioned and run at start under an advisory lock. Chosen by config `database.url`.
#ifndef MUSIC_PERSISTENCE_POSTGRES_POSTGRES_STORE_H_
#define MUSIC_PERSISTENCE_POSTGRES_POSTGRES_STORE_H_

#include <string>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "persistence/stores.h"

namespace music::persistence {

/// How the store connects.
struct PostgresOptions {
  /// A libpq connection URI, e.g. "postgresql://music@127.0.0.1:5432/music"; a password belongs
  /// in PGPASSWORD / PGPASSFILE (libpq reads them), not in a config file.
  std::string url;
  /// Connections in the pool (>= 1), opened on demand; the store's concurrency.
  int connections = 8;
  /// Per attempt to open a connection (rounded to seconds, at least 1).
  absl::Duration connect_timeout = absl::Seconds(5);
  /// A statement (or a lock wait) longer than this fails UNAVAILABLE.
  absl::Duration statement_timeout = absl::Seconds(30);
  /// This replica's id for its leases (persistence/lease_store.h); "": one made up of the host
  /// name, the process id and random bits (unique per process: a restarted replica is a new one
  /// and claims its predecessor's tasks once that lease expires).
  std::string replica_id;
  /// How long this replica's lease lasts after a renewal (> 0).
  absl::Duration lease_ttl = absl::Seconds(15);
};

/// Connects, migrates the schema (FAILED_PRECONDITION when the database's is newer than this
/// code's) and returns the store as Stores.tasks, Stores.billing, Stores.leases and
/// Stores.changes (LISTEN/NOTIFY; archive: null). Its sessions' application_name (as seen in
/// pg_stat_activity) is the replica id. The replica's lease is registered by the first LeaseStore::RenewLeases.
/// INVALID_ARGUMENT for bad options or a malformed URL; UNAVAILABLE when the server cannot be
/// reached. Errors never repeat the URL.
absl::StatusOr<Stores> OpenPostgresStores(const PostgresOptions& options);

/// The schema version this code writes.
int PostgresSchemaVersion();

}  // namespace music::persistence

#endif  // MUSIC_PERSISTENCE_POSTGRES_POSTGRES_STORE_H_
