#include "persistence/postgres/pg_migrations.h"

#include "absl/strings/str_cat.h"
#include "music/v1/task.pb.h"

namespace music::persistence::pg_internal {
namespace {

// The terminal states are spelled as literals in the partial index tasks_active below and in the
// task store's ListActive query.
static_assert(music::v1::TASK_STATE_SUCCEEDED == 3 && music::v1::TASK_STATE_FAILED == 4 &&
                  music::v1::TASK_STATE_CANCELED == 5,
              "update the ListActive query and the tasks_active index");

// The advisory lock key every replica's migration takes ("music" in ASCII).
constexpr int64_t kMigrationLock = 0x6d75736963;

// Step i takes the schema from version i to i + 1. Never edit a released step; append one.
// Times are microseconds since the Unix epoch (BIGINT, the int64 extremes for the infinities),
// as in the SQLite store, so both read and write the same values. Ids are compared bytewise
// (COLLATE "C"), whatever the database's locale: listing order and cursors match SQLite's.
constexpr const char* kMigrations[] = {
    // 1: tasks, their clip index, the append-only ledger, usage records, reconciliation runs.
    R"sql(
CREATE TABLE tasks (
  task_id               TEXT    COLLATE "C" NOT NULL PRIMARY KEY,
  tenant                TEXT    NOT NULL,
  request_id            TEXT    NOT NULL,
  request_fingerprint   TEXT    NOT NULL,
  state                 INTEGER NOT NULL,
  kind                  INTEGER NOT NULL,
  provider              TEXT    NOT NULL,
  provider_task_id      TEXT    NOT NULL,
  submission            INTEGER NOT NULL,
  attempts              INTEGER NOT NULL,
  next_action_us        BIGINT  NOT NULL,
  deadline_us           BIGINT  NOT NULL,
  unknown_since_us      BIGINT  NOT NULL,
  create_time_us        BIGINT  NOT NULL,
  update_time_us        BIGINT  NOT NULL,
  version               BIGINT  NOT NULL,
  task                  BYTEA   NOT NULL,
  poll_url              TEXT    NOT NULL,
  reference_artifact_id TEXT    NOT NULL,
  provider_endpoint     TEXT    NOT NULL,
  traceparent           TEXT    NOT NULL,
  archive_pending       BOOLEAN NOT NULL
);
CREATE UNIQUE INDEX tasks_tenant_request_id ON tasks (tenant, request_id) WHERE request_id <> '';
CREATE INDEX tasks_tenant_create_time ON tasks (tenant, create_time_us DESC, task_id DESC);
CREATE INDEX tasks_provider_task_id ON tasks (provider, provider_task_id);
CREATE INDEX tasks_active ON tasks (create_time_us, task_id) WHERE state NOT IN (3, 4, 5);
CREATE INDEX tasks_archive_pending ON tasks (create_time_us, task_id) WHERE archive_pending;
CREATE TABLE task_clips (
  clip_id TEXT COLLATE "C" NOT NULL,
  task_id TEXT COLLATE "C" NOT NULL REFERENCES tasks (task_id) ON DELETE CASCADE,
  tenant  TEXT NOT NULL,
  PRIMARY KEY (task_id, clip_id)
);
CREATE INDEX task_clips_tenant_clip_id ON task_clips (tenant, clip_id);
CREATE TABLE billing_transactions (
  billing_transaction_id          TEXT   COLLATE "C" NOT NULL PRIMARY KEY,
  tenant                          TEXT   NOT NULL,
  task_id                         TEXT   NOT NULL,
  request_id                      TEXT   NOT NULL,
  provider                        TEXT   COLLATE "C" NOT NULL,
  provider_task_id                TEXT   NOT NULL,
  provider_billing_transaction_id TEXT   NOT NULL,
  model                           TEXT   NOT NULL,
  provider_model                  TEXT   NOT NULL,
  endpoint                        TEXT   NOT NULL,
  kind                            TEXT   NOT NULL,
  amount_micros                   BIGINT NOT NULL,
  currency                        TEXT   NOT NULL,
  time_us                         BIGINT NOT NULL
);
CREATE INDEX billing_transactions_tenant_time
  ON billing_transactions (tenant, time_us DESC, billing_transaction_id DESC);
CREATE INDEX billing_transactions_time ON billing_transactions (time_us);
CREATE INDEX billing_transactions_task ON billing_transactions (task_id);
-- The ledger is append-only, enforced by the database: no UPDATE, DELETE or TRUNCATE.
CREATE FUNCTION billing_transactions_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  RAISE EXCEPTION 'the billing ledger is append-only';
END $$;
CREATE TRIGGER billing_transactions_no_change BEFORE UPDATE OR DELETE ON billing_transactions
  FOR EACH ROW EXECUTE FUNCTION billing_transactions_append_only();
CREATE TRIGGER billing_transactions_no_truncate BEFORE TRUNCATE ON billing_transactions
  FOR EACH STATEMENT EXECUTE FUNCTION billing_transactions_append_only();
CREATE TABLE usage_records (
  provider                        TEXT   COLLATE "C" NOT NULL,
  usage_record_id                 TEXT   COLLATE "C" NOT NULL,
  provider_task_id                TEXT   NOT NULL,
  provider_billing_transaction_id TEXT   NOT NULL,
  request_id                      TEXT   NOT NULL,
  model                           TEXT   NOT NULL,
  endpoint                        TEXT   NOT NULL,
  kind                            TEXT   NOT NULL,
  amount_micros                   BIGINT NOT NULL,
  currency                        TEXT   NOT NULL,
  time_us                         BIGINT NOT NULL,
  PRIMARY KEY (provider, usage_record_id)
);
CREATE INDEX usage_records_time ON usage_records (time_us);
CREATE TABLE reconciliation_runs (
  run_id                TEXT   COLLATE "C" NOT NULL PRIMARY KEY,
  create_time_us        BIGINT NOT NULL,
  start_us              BIGINT NOT NULL,
  end_us                BIGINT NOT NULL,
  providers             TEXT   NOT NULL,
  tolerance_micros      BIGINT NOT NULL,
  tasks                 BIGINT NOT NULL,
  discrepancies         BIGINT NOT NULL,
  outcome_tasks         TEXT   NOT NULL,
  difference_usd_micros BIGINT NOT NULL,
  summary               TEXT   NOT NULL,
  report_json           TEXT   NOT NULL
);
CREATE INDEX reconciliation_runs_time ON reconciliation_runs (create_time_us DESC, run_id DESC);
)sql",
    // 2: leases (persistence/lease_store.h): the replica driving each task with its fencing
    // token, and one lease row per replica, renewed in one write. Lease times are the
    // database's clock (music_now_us), so replicas' clocks never disagree about an expiry.
    R"sql(
ALTER TABLE tasks ADD COLUMN lease_owner TEXT COLLATE "C" NOT NULL DEFAULT '';
ALTER TABLE tasks ADD COLUMN lease_token BIGINT NOT NULL DEFAULT 0;
CREATE INDEX tasks_lease_owner ON tasks (lease_owner) WHERE state NOT IN (3, 4, 5);
CREATE SEQUENCE task_lease_tokens;
CREATE TABLE replicas (
  replica_id TEXT COLLATE "C" NOT NULL PRIMARY KEY,
  expire_us  BIGINT NOT NULL
);
CREATE FUNCTION music_now_us() RETURNS BIGINT LANGUAGE sql VOLATILE AS $$
  SELECT (extract(epoch FROM clock_timestamp()) * 1000000)::bigint
$$;
)sql",
    // 3: a notification per committed task write, for the other replicas' WatchTask streams
    // (persistence/change_feed.h): "<task_id> <version> <writer>", the writer being the
    // session's application_name (the replica id). Sent at commit, in commit order.
    R"sql(
CREATE FUNCTION tasks_notify_change() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  PERFORM pg_notify('music_task_changes',
                    NEW.task_id || ' ' || NEW.version || ' ' || current_setting('application_name'));
  RETURN NULL;
END $$;
CREATE TRIGGER tasks_changes AFTER INSERT OR UPDATE ON tasks
  FOR EACH ROW EXECUTE FUNCTION tasks_notify_change();
)sql",
};
constexpr int kSchemaVersion = sizeof(kMigrations) / sizeof(kMigrations[0]);

}  // namespace

int SchemaVersion() { return kSchemaVersion; }

absl::Status Migrate(Connection& conn) {
  return conn.InTransaction([](Connection& c) -> absl::Status {
    absl::StatusOr<Result> locked =
        c.Exec("SELECT pg_advisory_xact_lock($1)", Params().Add(kMigrationLock), "migration lock");
    if (!locked.ok()) return locked.status();
    if (absl::Status s = c.ExecScript(
            "CREATE TABLE IF NOT EXISTS schema_migrations ("
            "version INTEGER NOT NULL PRIMARY KEY, applied_at TIMESTAMPTZ NOT NULL DEFAULT now())",
            "schema_migrations");
        !s.ok()) {
      return s;
    }
    absl::StatusOr<Result> current = c.Exec(
        "SELECT COALESCE(MAX(version), 0) FROM schema_migrations", Params(), "schema version");
    if (!current.ok()) return current.status();
    absl::StatusOr<int64_t> version = current->Int64(0, 0);
    if (!version.ok()) return version.status();
    if (*version > kSchemaVersion) {
      return absl::FailedPreconditionError(
          absl::StrCat("PostgreSQL: database schema version ", *version,
                       " is newer than this code's ", kSchemaVersion, "; upgrade the service"));
    }
    for (int64_t step = *version; step < kSchemaVersion; ++step) {
      if (absl::Status s = c.ExecScript(kMigrations[step], absl::StrCat("migration ", step + 1));
          !s.ok()) {
        return s;
      }
      absl::StatusOr<Result> recorded =
          c.Exec("INSERT INTO schema_migrations (version) VALUES ($1)", Params().Add(step + 1),
                 "record migration");
      if (!recorded.ok()) return recorded.status();
    }
    return absl::OkStatus();
  });
}

}  // namespace music::persistence::pg_internal
