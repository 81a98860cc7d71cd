// The PostgreSQL store's schema: versioned migrations, run at start under an advisory lock.
// Internal to persistence/postgres.
#ifndef MUSIC_PERSISTENCE_POSTGRES_PG_MIGRATIONS_H_
#define MUSIC_PERSISTENCE_POSTGRES_PG_MIGRATIONS_H_

#include <cstdint>

#include "absl/status/status.h"
#include "persistence/postgres/pg_connection.h"

namespace music::persistence::pg_internal {

/// The schema version this code writes (the number of migration steps).
int SchemaVersion();

/// Brings the database to SchemaVersion() in one transaction holding a transaction-scoped
/// advisory lock, so replicas starting together migrate once (the others wait, then find nothing
/// to do). Applied versions are rows of `schema_migrations`. FAILED_PRECONDITION when the
/// database's schema is newer than this code knows (nothing is changed); a failed step rolls
/// back every step of this call.
absl::Status Migrate(Connection& conn);

}  // namespace music::persistence::pg_internal

#endif  // MUSIC_PERSISTENCE_POSTGRES_PG_MIGRATIONS_H_
