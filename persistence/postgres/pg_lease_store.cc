// The LeaseStore methods of the PostgreSQL store: one lease row per replica (renewed in one
// write, whatever the number of its tasks) and batched claims of the tasks of replicas whose
// lease expired. Expiry is judged by the database's clock (music_now_us()).
#include <string>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/str_cat.h"
#include "persistence/postgres/pg_row_codec.h"
#include "persistence/postgres/pg_store_impl.h"

namespace music::persistence::pg_internal {
namespace {

// Renewal, and the removal of lease rows dead for an hour (a task whose owner has no row is
// claimable, exactly as one whose owner's row expired, so removing them loses nothing).
constexpr char kRenewSql[] =
    "INSERT INTO replicas (replica_id, expire_us) VALUES ($1, music_now_us() + $2) "
    "ON CONFLICT (replica_id) DO UPDATE SET expire_us = EXCLUDED.expire_us";
constexpr char kForgetDeadReplicasSql[] =
    "DELETE FROM replicas WHERE expire_us < music_now_us() - 3600000000";
// Oldest first; SKIP LOCKED: replicas claiming at once take different tasks, and a task whose
// row a writer holds is left for the next round.
constexpr char kClaimSql[] =
    "WITH claimable AS ("
    " SELECT t.task_id FROM tasks t"
    " WHERE t.state NOT IN (3, 4, 5) AND t.lease_owner <> $1"
    " AND NOT EXISTS (SELECT 1 FROM replicas r"
    "                 WHERE r.replica_id = t.lease_owner AND r.expire_us >= music_now_us())"
    " ORDER BY t.create_time_us, t.task_id LIMIT $2"
    " FOR UPDATE OF t SKIP LOCKED)"
    " UPDATE tasks t SET lease_owner = $1, lease_token = nextval('task_lease_tokens')"
    " FROM claimable c WHERE t.task_id = c.task_id"
    " RETURNING " MUSIC_PG_TASK_COLUMNS;
constexpr char kReleaseSql[] = "UPDATE replicas SET expire_us = 0 WHERE replica_id = $1";

}  // namespace

absl::Status PostgresStore::RenewLeases() {
  return pool_.Transact([&](Connection& c) -> absl::Status {
    absl::StatusOr<Result> renewed =
        c.Exec(kRenewSql, Params().Add(replica_id_).Add(absl::ToInt64Microseconds(lease_ttl_)),
               "renew lease");
    if (!renewed.ok()) return renewed.status();
    return c.Exec(kForgetDeadReplicasSql, Params(), "forget dead replicas").status();
  });
}

absl::StatusOr<std::vector<domain::TaskRecord>> PostgresStore::ClaimTasks(int limit) {
  if (limit < 1) return absl::InvalidArgumentError(absl::StrCat("limit must be >= 1: ", limit));
  std::vector<domain::TaskRecord> claimed;
  const absl::Status status = pool_.Transact([&](Connection& c) -> absl::Status {
    claimed.clear();
    absl::StatusOr<Result> result =
        c.Exec(kClaimSql, Params().Add(replica_id_).Add(int64_t{limit}), "claim tasks");
    if (!result.ok()) return result.status();
    for (int row = 0; row < result->rows(); ++row) {
      absl::StatusOr<domain::TaskRecord> record = DecodeTaskRow(*result, row);
      if (!record.ok()) return record.status();
      claimed.push_back(*std::move(record));
    }
    return absl::OkStatus();
  });
  if (!status.ok()) return status;
  return claimed;
}

absl::Status PostgresStore::ReleaseLeases() {
  return pool_.Run([&](Connection& c) {
    return c.Exec(kReleaseSql, Params().Add(replica_id_), "release lease").status();
  });
}

}  // namespace music::persistence::pg_internal
