#include "persistence/sqlite/sqlite_migrations.h"

#include <string>

#include "absl/strings/str_cat.h"
#include "music/v1/task.pb.h"
#include "persistence/sqlite/sqlite_db.h"
#include "persistence/sqlite/sqlite_task_store.h"

namespace music::persistence {
namespace sqlite_internal {
namespace {

// The terminal states are spelled as literals in the partial index tasks_active below and in the
// task store's ListActive query (SQLite uses a partial index only when the query repeats its WHERE
// term).
static_assert(music::v1::TASK_STATE_SUCCEEDED == 3 && music::v1::TASK_STATE_FAILED == 4 &&
                  music::v1::TASK_STATE_CANCELED == 5,
              "update the ListActive query and the tasks_active index");

// Schema migrations, oldest first. Step i takes the database from PRAGMA user_version i to i + 1.
// Never edit a released step; append a new one.
constexpr const char* kMigrations[] = {
    // 1: tasks and their clip index.
    R"sql(
CREATE TABLE tasks (
  task_id             TEXT    NOT NULL PRIMARY KEY,
  tenant              TEXT    NOT NULL,
  request_id          TEXT    NOT NULL,
  request_fingerprint TEXT    NOT NULL,
  state               INTEGER NOT NULL,
  kind                INTEGER NOT NULL,
  provider            TEXT    NOT NULL,
  provider_task_id    TEXT    NOT NULL,
  submission          INTEGER NOT NULL,
  attempts            INTEGER NOT NULL,
  next_action_us      INTEGER NOT NULL,
  deadline_us         INTEGER NOT NULL,
  unknown_since_us    INTEGER NOT NULL,
  create_time_us      INTEGER NOT NULL,
  update_time_us      INTEGER NOT NULL,
  version             INTEGER NOT NULL,
  task                BLOB    NOT NULL
);
CREATE UNIQUE INDEX tasks_tenant_request_id ON tasks (tenant, request_id) WHERE request_id <> '';
CREATE INDEX tasks_tenant_create_time ON tasks (tenant, create_time_us DESC, task_id DESC);
CREATE INDEX tasks_provider_task_id ON tasks (provider, provider_task_id);
CREATE INDEX tasks_active ON tasks (create_time_us, task_id) WHERE state NOT IN (3, 4, 5);
CREATE TABLE task_clips (
  clip_id TEXT NOT NULL,
  task_id TEXT NOT NULL REFERENCES tasks (task_id) ON DELETE CASCADE,
  tenant  TEXT NOT NULL,
  PRIMARY KEY (task_id, clip_id)
);
CREATE INDEX task_clips_tenant_clip_id ON task_clips (tenant, clip_id);
)sql",
    // 2: where to poll (TokenLab poll_url), the uploaded reference audio, the create endpoint.
    R"sql(
ALTER TABLE tasks ADD COLUMN poll_url TEXT NOT NULL DEFAULT '';
ALTER TABLE tasks ADD COLUMN reference_artifact_id TEXT NOT NULL DEFAULT '';
ALTER TABLE tasks ADD COLUMN provider_endpoint TEXT NOT NULL DEFAULT '';
)sql",
    // 3: the billing ledger (append-only: triggers refuse UPDATE and DELETE), imported provider
    // usage records (unique per provider and record id) and reconciliation runs. IF NOT EXISTS: a
    // file whose user_version was set back (a restored backup of the pragma) migrates cleanly.
    R"sql(
CREATE TABLE IF NOT EXISTS billing_transactions (
  billing_transaction_id          TEXT    NOT NULL PRIMARY KEY,
  tenant                          TEXT    NOT NULL,
  task_id                         TEXT    NOT NULL,
  request_id                      TEXT    NOT NULL,
  provider                        TEXT    NOT NULL,
  provider_task_id                TEXT    NOT NULL,
  provider_billing_transaction_id TEXT    NOT NULL,
  model                           TEXT    NOT NULL,
  provider_model                  TEXT    NOT NULL,
  endpoint                        TEXT    NOT NULL,
  kind                            TEXT    NOT NULL,
  amount_micros                   INTEGER NOT NULL,
  currency                        TEXT    NOT NULL,
  time_us                         INTEGER NOT NULL
);
CREATE INDEX IF NOT EXISTS billing_transactions_tenant_time
  ON billing_transactions (tenant, time_us DESC, billing_transaction_id DESC);
CREATE INDEX IF NOT EXISTS billing_transactions_time ON billing_transactions (time_us);
CREATE INDEX IF NOT EXISTS billing_transactions_task ON billing_transactions (task_id);
CREATE TRIGGER IF NOT EXISTS billing_transactions_no_update BEFORE UPDATE ON billing_transactions
BEGIN SELECT RAISE(ABORT, 'the billing ledger is append-only'); END;
CREATE TRIGGER IF NOT EXISTS billing_transactions_no_delete BEFORE DELETE ON billing_transactions
BEGIN SELECT RAISE(ABORT, 'the billing ledger is append-only'); END;
CREATE TABLE IF NOT EXISTS usage_records (
  provider                        TEXT    NOT NULL,
  usage_record_id                 TEXT    NOT NULL,
  provider_task_id                TEXT    NOT NULL,
  provider_billing_transaction_id TEXT    NOT NULL,
  request_id                      TEXT    NOT NULL,
  model                           TEXT    NOT NULL,
  endpoint                        TEXT    NOT NULL,
  kind                            TEXT    NOT NULL,
  amount_micros                   INTEGER NOT NULL,
  currency                        TEXT    NOT NULL,
  time_us                         INTEGER NOT NULL,
  PRIMARY KEY (provider, usage_record_id)
);
CREATE INDEX IF NOT EXISTS usage_records_time ON usage_records (time_us);
CREATE TABLE IF NOT EXISTS reconciliation_runs (
  run_id                TEXT    NOT NULL PRIMARY KEY,
  create_time_us        INTEGER NOT NULL,
  start_us              INTEGER NOT NULL,
  end_us                INTEGER NOT NULL,
  providers             TEXT    NOT NULL,
  tolerance_micros      INTEGER NOT NULL,
  tasks                 INTEGER NOT NULL,
  discrepancies         INTEGER NOT NULL,
  outcome_tasks         TEXT    NOT NULL,
  difference_usd_micros INTEGER NOT NULL,
  summary               TEXT    NOT NULL,
  report_json           TEXT    NOT NULL
);
CREATE INDEX IF NOT EXISTS reconciliation_runs_time ON reconciliation_runs (create_time_us DESC, run_id DESC);
)sql",
    // 4: the archiver's queue: 1 while a succeeded task has clip media not archived yet
    // (domain::ArchivePending, written with every row). Succeeded tasks stored before it are
    // queued; the archiver clears those with nothing to copy.
    R"sql(
ALTER TABLE tasks ADD COLUMN archive_pending INTEGER NOT NULL DEFAULT 0;
UPDATE tasks SET archive_pending = 1 WHERE state = 3;
CREATE INDEX tasks_archive_pending ON tasks (create_time_us, task_id) WHERE archive_pending = 1;
)sql",
    // 5: the caller's W3C traceparent, kept on the task for its log lines.
    R"sql(
ALTER TABLE tasks ADD COLUMN traceparent TEXT NOT NULL DEFAULT '';
)sql",
};
constexpr int kSchemaVersion = sizeof(kMigrations) / sizeof(kMigrations[0]);

}  // namespace

absl::Status CheckSchemaNotNewer(int64_t version) {
  if (version > kSchemaVersion) {
    return absl::FailedPreconditionError(absl::StrCat("database schema version ", version,
                                                      " is newer than this code's ", kSchemaVersion,
                                                      "; upgrade the service"));
  }
  if (version < 0) {
    return absl::FailedPreconditionError(absl::StrCat("bad database schema version ", version));
  }
  return absl::OkStatus();
}

absl::Status ReadSchemaVersion(sqlite3* db, int64_t* version) {
  return ExecOnce(db, "PRAGMA user_version", version);
}

absl::Status Migrate(sqlite3* db) {
  if (absl::Status s = ExecOnce(db, kBeginSql); !s.ok()) return s;
  int64_t version = 0;
  absl::Status status = ReadSchemaVersion(db, &version);
  if (status.ok()) status = CheckSchemaNotNewer(version);
  for (int64_t step = version; status.ok() && step < kSchemaVersion; ++step) {
    char* error = nullptr;
    const int rc = sqlite3_exec(db, kMigrations[step], nullptr, nullptr, &error);
    if (rc != SQLITE_OK) {
      status = SqliteError(db, rc, absl::StrCat("migration ", step + 1));
      if (error != nullptr)
        status = absl::Status(status.code(), absl::StrCat(status.message(), ": ", error));
    }
    sqlite3_free(error);
    if (status.ok()) status = ExecOnce(db, absl::StrCat("PRAGMA user_version = ", step + 1));
  }
  if (status.ok()) status = ExecOnce(db, kCommitSql);
  if (!status.ok() && sqlite3_get_autocommit(db) == 0) {
    ExecOnce(db, kRollbackSql).IgnoreError();
  }
  return status;
}

}  // namespace sqlite_internal

int SqliteSchemaVersion() { return sqlite_internal::kSchemaVersion; }

}  // namespace music::persistence
