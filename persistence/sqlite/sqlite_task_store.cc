#include "persistence/sqlite/sqlite_task_store.h"

#include <sqlite3.h>

#include <algorithm>
#include <cstdint>
#include <limits>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_map.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/ascii.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "absl/strings/string_view.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "music/v1/task.pb.h"

namespace music::persistence {
namespace {

// The terminal states are spelled as literals in kListActiveSql and in the partial index
// tasks_active (SQLite uses a partial index only when the query repeats its WHERE term).
static_assert(music::v1::TASK_STATE_SUCCEEDED == 3 && music::v1::TASK_STATE_FAILED == 4 &&
                  music::v1::TASK_STATE_CANCELED == 5,
              "update kListActiveSql and the tasks_active index");

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
};
constexpr int kSchemaVersion = sizeof(kMigrations) / sizeof(kMigrations[0]);

// Columns read by DecodeRow, in this order; the tasks table is always aliased `t`.
#define MUSIC_TASK_COLUMNS                                                                        \
  "t.task_id, t.request_fingerprint, t.submission, t.attempts, t.next_action_us, t.deadline_us, " \
  "t.unknown_since_us, t.version, t.task, t.poll_url, t.reference_artifact_id, "                  \
  "t.provider_endpoint"

constexpr char kBeginSql[] = "BEGIN IMMEDIATE";
constexpr char kCommitSql[] = "COMMIT";
constexpr char kRollbackSql[] = "ROLLBACK";
// Parameters ?1..?20 are bound by BindTaskColumns.
constexpr char kInsertTaskSql[] =
    "INSERT INTO tasks (task_id, tenant, request_id, request_fingerprint, state, kind, provider, "
    "provider_task_id, submission, attempts, next_action_us, deadline_us, unknown_since_us, "
    "create_time_us, update_time_us, version, task, poll_url, reference_artifact_id, "
    "provider_endpoint) "
    "VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, ?17, ?18, ?19, "
    "?20)";
// ?21: the version the caller read.
constexpr char kUpdateTaskSql[] =
    "UPDATE tasks SET request_fingerprint = ?4, state = ?5, kind = ?6, provider = ?7, "
    "provider_task_id = ?8, submission = ?9, attempts = ?10, next_action_us = ?11, "
    "deadline_us = ?12, unknown_since_us = ?13, create_time_us = ?14, update_time_us = ?15, "
    "version = ?16, task = ?17, poll_url = ?18, reference_artifact_id = ?19, "
    "provider_endpoint = ?20 "
    "WHERE task_id = ?1 AND tenant = ?2 AND request_id = ?3 AND version = ?21";
constexpr char kGetSql[] = "SELECT " MUSIC_TASK_COLUMNS " FROM tasks t WHERE t.task_id = ?1";
constexpr char kGetByRequestIdSql[] =
    "SELECT " MUSIC_TASK_COLUMNS
    " FROM tasks t WHERE t.tenant = ?1 AND t.request_id = ?2 AND t.request_id <> ''";
constexpr char kGetKeysSql[] = "SELECT version, tenant, request_id FROM tasks WHERE task_id = ?1";
constexpr char kDeleteClipsSql[] = "DELETE FROM task_clips WHERE task_id = ?1";
constexpr char kInsertClipSql[] =
    "INSERT OR IGNORE INTO task_clips (clip_id, task_id, tenant) VALUES (?1, ?2, ?3)";
// A clip id shared by several tasks resolves to the oldest of them.
constexpr char kFindByClipIdSql[] =
    "SELECT " MUSIC_TASK_COLUMNS
    " FROM task_clips c JOIN tasks t ON t.task_id = c.task_id "
    "WHERE c.tenant = ?1 AND c.clip_id = ?2 ORDER BY t.create_time_us, t.task_id LIMIT 1";
constexpr char kFindByProviderTaskIdSql[] =
    "SELECT " MUSIC_TASK_COLUMNS
    " FROM tasks t WHERE t.provider = ?1 AND t.provider_task_id = ?2 "
    "ORDER BY t.create_time_us, t.task_id LIMIT 1";
constexpr char kListActiveSql[] =
    "SELECT " MUSIC_TASK_COLUMNS
    " FROM tasks t WHERE t.state NOT IN (3, 4, 5) ORDER BY t.create_time_us, t.task_id LIMIT ?1";

// Microseconds since the Unix epoch; the infinities map to the int64 extremes, which no finite
// time uses.
int64_t ToMicros(absl::Time t) {
  if (t == absl::InfinitePast()) return std::numeric_limits<int64_t>::min();
  if (t == absl::InfiniteFuture()) return std::numeric_limits<int64_t>::max();
  const int64_t us = absl::ToUnixMicros(t);  // rounds down, saturates
  if (us == std::numeric_limits<int64_t>::min()) return us + 1;
  if (us == std::numeric_limits<int64_t>::max()) return us - 1;
  return us;
}

absl::Time FromMicros(int64_t us) {
  if (us == std::numeric_limits<int64_t>::min()) return absl::InfinitePast();
  if (us == std::numeric_limits<int64_t>::max()) return absl::InfiniteFuture();
  return absl::FromUnixMicros(us);
}

int64_t TimestampMicros(const google::protobuf::Timestamp& ts) {
  return ToMicros(absl::FromUnixSeconds(ts.seconds()) + absl::Nanoseconds(ts.nanos()));
}

absl::Status SqliteError(sqlite3* db, int rc, absl::string_view what) {
  std::string message = absl::StrCat("sqlite: ", what, ": ", sqlite3_errstr(rc));
  if (db != nullptr && sqlite3_errcode(db) == rc) {
    absl::StrAppend(&message, " (", sqlite3_errmsg(db), ")");
  }
  switch (rc & 0xff) {
    case SQLITE_BUSY:
    case SQLITE_LOCKED:
    case SQLITE_CANTOPEN:
      return absl::UnavailableError(message);
    case SQLITE_CORRUPT:
    case SQLITE_NOTADB:
      return absl::DataLossError(message);
    default:
      return absl::InternalError(message);
  }
}

// Binds text; an empty view (even one with a null data()) binds '' rather than NULL.
int BindText(sqlite3_stmt* stmt, int index, absl::string_view s) {
  return sqlite3_bind_text(stmt, index, s.empty() ? "" : s.data(), static_cast<int>(s.size()),
                           SQLITE_TRANSIENT);
}

std::string ColumnText(sqlite3_stmt* stmt, int col) {
  const unsigned char* p = sqlite3_column_text(stmt, col);
  if (p == nullptr) return std::string();
  return std::string(reinterpret_cast<const char*>(p),
                     static_cast<size_t>(sqlite3_column_bytes(stmt, col)));
}

absl::Status ValidateRecord(const domain::TaskRecord& record) {
  if (record.task.task_id().empty()) {
    return absl::InvalidArgumentError("task.task_id is empty");
  }
  const int submission = static_cast<int>(record.submission);
  if (submission < static_cast<int>(domain::SubmissionState::kNotSubmitted) ||
      submission > static_cast<int>(domain::SubmissionState::kUnknown)) {
    return absl::InvalidArgumentError(absl::StrCat("bad submission state ", submission));
  }
  return absl::OkStatus();
}

// Resets a cached statement (and drops its bindings) when it goes out of scope.
class ScopedStmt {
 public:
  explicit ScopedStmt(sqlite3_stmt* stmt) : stmt_(stmt) {}
  ScopedStmt(const ScopedStmt&) = delete;
  ScopedStmt& operator=(const ScopedStmt&) = delete;
  ~ScopedStmt() {
    sqlite3_reset(stmt_);
    sqlite3_clear_bindings(stmt_);
  }
  sqlite3_stmt* get() const { return stmt_; }

 private:
  sqlite3_stmt* stmt_;
};

// Columns of a ledger row, in BillingTransaction order (DecodeTransaction, BindTransaction).
constexpr char kTransactionColumns[] =
    "billing_transaction_id, tenant, task_id, request_id, provider, provider_task_id, "
    "provider_billing_transaction_id, model, provider_model, endpoint, kind, amount_micros, "
    "currency, time_us";
constexpr char kUsageColumns[] =
    "provider, usage_record_id, provider_task_id, provider_billing_transaction_id, request_id, "
    "model, endpoint, kind, amount_micros, currency, time_us";
constexpr char kRunColumns[] =
    "run_id, create_time_us, start_us, end_us, providers, tolerance_micros, tasks, discrepancies, "
    "outcome_tasks, difference_usd_micros, summary";

// Binds ?1..?14 of a ledger row insert.
absl::Status BindTransaction(sqlite3_stmt* stmt, const billing::BillingTransaction& t) {
  int rc = SQLITE_OK;
  auto check = [&rc](int result) {
    if (rc == SQLITE_OK) rc = result;
  };
  check(BindText(stmt, 1, t.billing_transaction_id));
  check(BindText(stmt, 2, t.tenant));
  check(BindText(stmt, 3, t.task_id));
  check(BindText(stmt, 4, t.request_id));
  check(BindText(stmt, 5, t.provider));
  check(BindText(stmt, 6, t.provider_task_id));
  check(BindText(stmt, 7, t.provider_billing_transaction_id));
  check(BindText(stmt, 8, t.model));
  check(BindText(stmt, 9, t.provider_model));
  check(BindText(stmt, 10, t.endpoint));
  check(BindText(stmt, 11, billing::TransactionKindName(t.kind)));
  check(sqlite3_bind_int64(stmt, 12, t.amount_micros));
  check(BindText(stmt, 13, billing::CurrencyName(t.currency)));
  check(sqlite3_bind_int64(stmt, 14, ToMicros(t.time)));
  if (rc != SQLITE_OK) return SqliteError(nullptr, rc, "bind");
  return absl::OkStatus();
}

absl::StatusOr<billing::BillingTransaction> DecodeTransaction(sqlite3_stmt* stmt) {
  billing::BillingTransaction t;
  t.billing_transaction_id = ColumnText(stmt, 0);
  t.tenant = ColumnText(stmt, 1);
  t.task_id = ColumnText(stmt, 2);
  t.request_id = ColumnText(stmt, 3);
  t.provider = ColumnText(stmt, 4);
  t.provider_task_id = ColumnText(stmt, 5);
  t.provider_billing_transaction_id = ColumnText(stmt, 6);
  t.model = ColumnText(stmt, 7);
  t.provider_model = ColumnText(stmt, 8);
  t.endpoint = ColumnText(stmt, 9);
  auto kind = billing::ParseTransactionKind(ColumnText(stmt, 10));
  auto currency = billing::ParseCurrency(ColumnText(stmt, 12));
  if (!kind || !currency) {
    return absl::DataLossError(
        absl::StrCat("billing transaction ", t.billing_transaction_id, ": bad kind or currency"));
  }
  t.kind = *kind;
  t.amount_micros = sqlite3_column_int64(stmt, 11);
  t.currency = *currency;
  t.time = FromMicros(sqlite3_column_int64(stmt, 13));
  return t;
}

absl::Status BindUsage(sqlite3_stmt* stmt, const billing::UsageRecord& u) {
  int rc = SQLITE_OK;
  auto check = [&rc](int result) {
    if (rc == SQLITE_OK) rc = result;
  };
  check(BindText(stmt, 1, u.provider));
  check(BindText(stmt, 2, u.usage_record_id));
  check(BindText(stmt, 3, u.provider_task_id));
  check(BindText(stmt, 4, u.provider_billing_transaction_id));
  check(BindText(stmt, 5, u.request_id));
  check(BindText(stmt, 6, u.model));
  check(BindText(stmt, 7, u.endpoint));
  check(BindText(stmt, 8, billing::UsageKindName(u.kind)));
  check(sqlite3_bind_int64(stmt, 9, u.amount_micros));
  check(BindText(stmt, 10, billing::CurrencyName(u.currency)));
  check(sqlite3_bind_int64(stmt, 11, ToMicros(u.time)));
  if (rc != SQLITE_OK) return SqliteError(nullptr, rc, "bind");
  return absl::OkStatus();
}

absl::StatusOr<billing::UsageRecord> DecodeUsage(sqlite3_stmt* stmt) {
  billing::UsageRecord u;
  u.provider = ColumnText(stmt, 0);
  u.usage_record_id = ColumnText(stmt, 1);
  u.provider_task_id = ColumnText(stmt, 2);
  u.provider_billing_transaction_id = ColumnText(stmt, 3);
  u.request_id = ColumnText(stmt, 4);
  u.model = ColumnText(stmt, 5);
  u.endpoint = ColumnText(stmt, 6);
  auto kind = billing::ParseUsageKind(ColumnText(stmt, 7));
  auto currency = billing::ParseCurrency(ColumnText(stmt, 9));
  if (!kind || !currency) {
    return absl::DataLossError(
        absl::StrCat("usage record ", u.usage_record_id, ": bad kind or currency"));
  }
  u.kind = *kind;
  u.amount_micros = sqlite3_column_int64(stmt, 8);
  u.currency = *currency;
  u.time = FromMicros(sqlite3_column_int64(stmt, 10));
  return u;
}

// "a,b" <-> {"a", "b"}; provider names hold no commas.
std::vector<std::string> SplitList(absl::string_view s) {
  if (s.empty()) return {};
  return absl::StrSplit(s, ',');
}

// Outcome counts as "NAME=n;NAME=n".
std::string JoinCounts(const std::vector<std::pair<std::string, int64_t>>& counts) {
  std::vector<std::string> parts;
  for (const auto& [name, n] : counts) parts.push_back(absl::StrCat(name, "=", n));
  return absl::StrJoin(parts, ";");
}

std::vector<std::pair<std::string, int64_t>> SplitCounts(absl::string_view s) {
  std::vector<std::pair<std::string, int64_t>> counts;
  if (s.empty()) return counts;
  for (absl::string_view part : absl::StrSplit(s, ';')) {
    std::pair<absl::string_view, absl::string_view> kv = absl::StrSplit(part, '=');
    int64_t n = 0;
    if (!absl::SimpleAtoi(kv.second, &n)) continue;
    counts.emplace_back(std::string(kv.first), n);
  }
  return counts;
}

bool ProviderSelected(absl::Span<const std::string> providers, absl::string_view provider) {
  return providers.empty() ||
         std::find(providers.begin(), providers.end(), provider) != providers.end();
}

class SqliteTaskStore final : public SqliteStore {
 public:
  // Takes ownership of an open connection.
  explicit SqliteTaskStore(sqlite3* db) : db_(db) {}
  SqliteTaskStore(const SqliteTaskStore&) = delete;
  SqliteTaskStore& operator=(const SqliteTaskStore&) = delete;

  ~SqliteTaskStore() override {
    absl::MutexLock lock(&mu_);
    for (auto& [sql, stmt] : stmts_) sqlite3_finalize(stmt);
    stmts_.clear();
    sqlite3_close_v2(db_);
    db_ = nullptr;
  }

  absl::StatusOr<CreateResult> Create(const domain::TaskRecord& record) override {
    if (absl::Status s = ValidateRecord(record); !s.ok()) return s;
    if (record.task.version() != 1) {
      return absl::InvalidArgumentError(
          absl::StrCat("a new task has version 1, not ", record.task.version()));
    }
    std::string blob;
    if (!record.task.SerializeToString(&blob)) {
      return absl::InternalError("cannot serialize the task");
    }
    absl::MutexLock lock(&mu_);
    if (absl::Status s = Begin(); !s.ok()) return s;
    absl::StatusOr<CreateResult> result = CreateInTransaction(record, blob);
    if (absl::Status s = End(result.status()); !s.ok()) return s;
    return result;
  }

  absl::StatusOr<CreateResult> Create(
      const domain::TaskRecord& record, absl::Span<const billing::BillingTransaction> ledger) override {
    if (absl::Status s = ValidateRecord(record); !s.ok()) return s;
    if (record.task.version() != 1) {
      return absl::InvalidArgumentError(
          absl::StrCat("a new task has version 1, not ", record.task.version()));
    }
    std::string blob;
    if (!record.task.SerializeToString(&blob)) {
      return absl::InternalError("cannot serialize the task");
    }
    absl::MutexLock lock(&mu_);
    if (absl::Status s = Begin(); !s.ok()) return s;
    absl::StatusOr<CreateResult> result = CreateInTransaction(record, blob);
    // A request_id that returned an existing task adds no reservation: the first create made it.
    if (result.ok() && result->created) {
      if (absl::Status s = AppendLedger(ledger); !s.ok()) result = s;
    }
    if (absl::Status s = End(result.status()); !s.ok()) return s;
    return result;
  }

  absl::Status Update(const domain::TaskRecord& record,
                      absl::Span<const billing::BillingTransaction> ledger) override {
    if (absl::Status s = ValidateRecord(record); !s.ok()) return s;
    if (record.task.version() < 2) {
      return absl::InvalidArgumentError(
          absl::StrCat("an updated task has version >= 2, not ", record.task.version()));
    }
    std::string blob;
    if (!record.task.SerializeToString(&blob)) {
      return absl::InternalError("cannot serialize the task");
    }
    absl::MutexLock lock(&mu_);
    if (absl::Status s = Begin(); !s.ok()) return s;
    absl::Status status = UpdateInTransaction(record, blob);
    // The task row first: a failed version check writes no ledger row.
    if (status.ok()) status = AppendLedger(ledger);
    return End(status);
  }

  absl::StatusOr<BillingPage> ListBillingTransactions(const BillingListQuery& query) override {
    if (query.page_size < 1) {
      return absl::InvalidArgumentError(
          absl::StrCat("page_size must be >= 1, not ", query.page_size));
    }
    std::string sql = absl::StrCat("SELECT ", kTransactionColumns,
                                   " FROM billing_transactions WHERE tenant = ?1 AND time_us >= ?2 "
                                   "AND time_us < ?3");
    if (query.after.has_value()) sql += " AND (time_us, billing_transaction_id) < (?4, ?5)";
    sql += " ORDER BY time_us DESC, billing_transaction_id DESC LIMIT ?6";
    absl::MutexLock lock(&mu_);
    absl::StatusOr<sqlite3_stmt*> stmt = Prepare(sql);
    if (!stmt.ok()) return stmt.status();
    ScopedStmt scoped(*stmt);
    BindText(*stmt, 1, query.tenant);
    sqlite3_bind_int64(*stmt, 2, ToMicros(query.range.start));
    sqlite3_bind_int64(*stmt, 3, ToMicros(query.range.end));
    if (query.after.has_value()) {
      sqlite3_bind_int64(*stmt, 4, ToMicros(query.after->time));
      BindText(*stmt, 5, query.after->id);
    }
    sqlite3_bind_int64(*stmt, 6, static_cast<int64_t>(query.page_size) + 1);
    BillingPage page;
    auto rows = QueryRows<billing::BillingTransaction>(*stmt, DecodeTransaction);
    if (!rows.ok()) return rows.status();
    page.transactions = *std::move(rows);
    if (page.transactions.size() > static_cast<size_t>(query.page_size)) {
      page.transactions.resize(static_cast<size_t>(query.page_size));
      page.has_more = true;
    }
    return page;
  }

  absl::StatusOr<std::vector<billing::BillingTransaction>> ListBillingTransactionsForReconciliation(
      const TimeRange& range, absl::Span<const std::string> providers) override {
    const std::string sql = absl::StrCat(
        "SELECT ", kTransactionColumns,
        " FROM billing_transactions WHERE task_id IN (SELECT task_id FROM billing_transactions "
        "WHERE time_us >= ?1 AND time_us < ?2) ORDER BY time_us, billing_transaction_id");
    absl::MutexLock lock(&mu_);
    absl::StatusOr<sqlite3_stmt*> stmt = Prepare(sql);
    if (!stmt.ok()) return stmt.status();
    ScopedStmt scoped(*stmt);
    sqlite3_bind_int64(*stmt, 1, ToMicros(range.start));
    sqlite3_bind_int64(*stmt, 2, ToMicros(range.end));
    auto rows = QueryRows<billing::BillingTransaction>(*stmt, DecodeTransaction);
    if (!rows.ok()) return rows.status();
    rows->erase(std::remove_if(rows->begin(), rows->end(),
                               [&](const billing::BillingTransaction& t) {
                                 return !ProviderSelected(providers, t.provider);
                               }),
                rows->end());
    return rows;
  }

  absl::StatusOr<UsageInsertResult> InsertUsageRecords(
      absl::Span<const billing::UsageRecord> records) override {
    for (const billing::UsageRecord& r : records) {
      if (r.provider.empty() || r.usage_record_id.empty()) {
        return absl::InvalidArgumentError(
            absl::StrCat("usage record of provider \"", r.provider, "\" for task \"",
                         r.provider_task_id, "\": provider and usage_record_id are required"));
      }
    }
    const std::string sql = absl::StrCat("INSERT OR IGNORE INTO usage_records (", kUsageColumns,
                                         ") VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11)");
    absl::MutexLock lock(&mu_);
    if (absl::Status s = Begin(); !s.ok()) return s;
    UsageInsertResult result;
    absl::Status status = absl::OkStatus();
    absl::StatusOr<sqlite3_stmt*> stmt = Prepare(sql);
    if (!stmt.ok()) status = stmt.status();
    for (size_t i = 0; status.ok() && i < records.size(); ++i) {
      ScopedStmt scoped(*stmt);
      status = BindUsage(*stmt, records[i]);
      if (!status.ok()) break;
      const int rc = sqlite3_step(*stmt);
      if (rc != SQLITE_DONE) {
        status = SqliteError(db_, rc, "insert usage record");
        break;
      }
      if (sqlite3_changes(db_) == 1) {
        ++result.inserted;
      } else {
        ++result.duplicates;
      }
    }
    if (absl::Status s = End(status); !s.ok()) return s;
    return result;
  }

  absl::StatusOr<std::vector<billing::UsageRecord>> ListUsageRecords(
      const TimeRange& range, absl::Span<const std::string> providers) override {
    const std::string sql = absl::StrCat("SELECT ", kUsageColumns,
                                         " FROM usage_records WHERE time_us >= ?1 AND time_us < ?2 "
                                         "ORDER BY time_us, provider, usage_record_id");
    absl::MutexLock lock(&mu_);
    absl::StatusOr<sqlite3_stmt*> stmt = Prepare(sql);
    if (!stmt.ok()) return stmt.status();
    ScopedStmt scoped(*stmt);
    sqlite3_bind_int64(*stmt, 1, ToMicros(range.start));
    sqlite3_bind_int64(*stmt, 2, ToMicros(range.end));
    auto rows = QueryRows<billing::UsageRecord>(*stmt, DecodeUsage);
    if (!rows.ok()) return rows.status();
    rows->erase(std::remove_if(rows->begin(), rows->end(),
                               [&](const billing::UsageRecord& u) {
                                 return !ProviderSelected(providers, u.provider);
                               }),
                rows->end());
    return rows;
  }

  absl::Status SaveReconciliationRun(const ReconciliationRun& run) override {
    if (run.run_id.empty()) return absl::InvalidArgumentError("run_id is empty");
    const std::string sql =
        absl::StrCat("INSERT INTO reconciliation_runs (", kRunColumns,
                     ", report_json) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12)");
    absl::MutexLock lock(&mu_);
    absl::StatusOr<sqlite3_stmt*> stmt = Prepare(sql);
    if (!stmt.ok()) return stmt.status();
    ScopedStmt scoped(*stmt);
    BindText(*stmt, 1, run.run_id);
    sqlite3_bind_int64(*stmt, 2, ToMicros(run.create_time));
    sqlite3_bind_int64(*stmt, 3, ToMicros(run.range.start));
    sqlite3_bind_int64(*stmt, 4, ToMicros(run.range.end));
    BindText(*stmt, 5, absl::StrJoin(run.providers, ","));
    sqlite3_bind_int64(*stmt, 6, run.tolerance_micros);
    sqlite3_bind_int64(*stmt, 7, run.tasks);
    sqlite3_bind_int64(*stmt, 8, run.discrepancies);
    BindText(*stmt, 9, JoinCounts(run.outcome_tasks));
    sqlite3_bind_int64(*stmt, 10, run.difference_usd_micros);
    BindText(*stmt, 11, run.summary);
    BindText(*stmt, 12, run.report_json);
    const int rc = sqlite3_step(*stmt);
    if (rc == SQLITE_CONSTRAINT_PRIMARYKEY) {
      return absl::AlreadyExistsError(absl::StrCat("reconciliation run ", run.run_id, " exists"));
    }
    if (rc != SQLITE_DONE) return SqliteError(db_, rc, "insert reconciliation run");
    return absl::OkStatus();
  }

  absl::StatusOr<ReconciliationRun> GetReconciliationRun(absl::string_view run_id) override {
    const std::string sql = absl::StrCat(
        "SELECT ", kRunColumns, ", report_json FROM reconciliation_runs WHERE run_id = ?1");
    absl::MutexLock lock(&mu_);
    absl::StatusOr<sqlite3_stmt*> stmt = Prepare(sql);
    if (!stmt.ok()) return stmt.status();
    ScopedStmt scoped(*stmt);
    BindText(*stmt, 1, run_id);
    auto runs = QueryRows<ReconciliationRun>(*stmt, DecodeRun);
    if (!runs.ok()) return runs.status();
    if (runs->empty()) {
      return absl::NotFoundError(absl::StrCat("reconciliation run ", run_id, " not found"));
    }
    return std::move(runs->front());
  }

  absl::StatusOr<RunPage> ListReconciliationRuns(
      int page_size, const std::optional<BillingCursor>& after) override {
    if (page_size < 1) {
      return absl::InvalidArgumentError(absl::StrCat("page_size must be >= 1, not ", page_size));
    }
    std::string sql = absl::StrCat("SELECT ", kRunColumns, ", '' FROM reconciliation_runs");
    if (after.has_value()) sql += " WHERE (create_time_us, run_id) < (?1, ?2)";
    sql += " ORDER BY create_time_us DESC, run_id DESC LIMIT ?3";
    absl::MutexLock lock(&mu_);
    absl::StatusOr<sqlite3_stmt*> stmt = Prepare(sql);
    if (!stmt.ok()) return stmt.status();
    ScopedStmt scoped(*stmt);
    if (after.has_value()) {
      sqlite3_bind_int64(*stmt, 1, ToMicros(after->time));
      BindText(*stmt, 2, after->id);
    }
    sqlite3_bind_int64(*stmt, 3, static_cast<int64_t>(page_size) + 1);
    auto runs = QueryRows<ReconciliationRun>(*stmt, DecodeRun);
    if (!runs.ok()) return runs.status();
    RunPage page;
    page.runs = *std::move(runs);
    if (page.runs.size() > static_cast<size_t>(page_size)) {
      page.runs.resize(static_cast<size_t>(page_size));
      page.has_more = true;
    }
    return page;
  }

  absl::StatusOr<std::vector<LedgerViolation>> CheckLedger() override {
    // One consistent snapshot of both tables: a read transaction.
    absl::MutexLock lock(&mu_);
    if (absl::Status s = Exec("BEGIN", "begin"); !s.ok()) return s;
    absl::StatusOr<std::vector<LedgerViolation>> result = CheckLedgerInTransaction();
    Exec(kRollbackSql, "end read").IgnoreError();
    return result;
  }

  absl::StatusOr<domain::TaskRecord> Get(absl::string_view task_id) override {
    absl::MutexLock lock(&mu_);
    absl::StatusOr<sqlite3_stmt*> stmt = Prepare(kGetSql);
    if (!stmt.ok()) return stmt.status();
    ScopedStmt scoped(*stmt);
    BindText(*stmt, 1, task_id);
    return QueryOne(*stmt, absl::StrCat("task ", task_id));
  }

  absl::Status Update(const domain::TaskRecord& record) override {
    if (absl::Status s = ValidateRecord(record); !s.ok()) return s;
    if (record.task.version() < 2) {
      return absl::InvalidArgumentError(
          absl::StrCat("an updated task has version >= 2, not ", record.task.version()));
    }
    std::string blob;
    if (!record.task.SerializeToString(&blob)) {
      return absl::InternalError("cannot serialize the task");
    }
    absl::MutexLock lock(&mu_);
    if (absl::Status s = Begin(); !s.ok()) return s;
    return End(UpdateInTransaction(record, blob));
  }

  absl::StatusOr<ListPage> List(const ListQuery& query) override {
    if (query.page_size < 1) {
      return absl::InvalidArgumentError(
          absl::StrCat("page_size must be >= 1, not ", query.page_size));
    }
    const bool by_state = query.state != music::v1::TASK_STATE_UNSPECIFIED;
    const bool by_kind = query.kind != music::v1::TASK_KIND_UNSPECIFIED;
    std::string sql = "SELECT " MUSIC_TASK_COLUMNS " FROM tasks t WHERE t.tenant = ?1";
    if (by_state) sql += " AND t.state = ?2";
    if (by_kind) sql += " AND t.kind = ?3";
    if (query.after.has_value()) sql += " AND (t.create_time_us, t.task_id) < (?4, ?5)";
    sql += " ORDER BY t.create_time_us DESC, t.task_id DESC LIMIT ?6";

    absl::MutexLock lock(&mu_);
    absl::StatusOr<sqlite3_stmt*> stmt = Prepare(sql);
    if (!stmt.ok()) return stmt.status();
    ScopedStmt scoped(*stmt);
    BindText(*stmt, 1, query.tenant);
    if (by_state) sqlite3_bind_int64(*stmt, 2, query.state);
    if (by_kind) sqlite3_bind_int64(*stmt, 3, query.kind);
    if (query.after.has_value()) {
      sqlite3_bind_int64(*stmt, 4, ToMicros(query.after->create_time));
      BindText(*stmt, 5, query.after->task_id);
    }
    sqlite3_bind_int64(*stmt, 6, static_cast<int64_t>(query.page_size) + 1);
    absl::StatusOr<std::vector<domain::TaskRecord>> records = QueryAll(*stmt);
    if (!records.ok()) return records.status();
    ListPage page;
    page.records = *std::move(records);
    if (page.records.size() > static_cast<size_t>(query.page_size)) {
      page.records.resize(static_cast<size_t>(query.page_size));
      page.has_more = true;
    }
    return page;
  }

  absl::StatusOr<std::vector<domain::TaskRecord>> ListActive(int limit) override {
    if (limit < 1) return absl::InvalidArgumentError(absl::StrCat("limit must be >= 1: ", limit));
    absl::MutexLock lock(&mu_);
    absl::StatusOr<sqlite3_stmt*> stmt = Prepare(kListActiveSql);
    if (!stmt.ok()) return stmt.status();
    ScopedStmt scoped(*stmt);
    sqlite3_bind_int64(*stmt, 1, limit);
    return QueryAll(*stmt);
  }

  absl::StatusOr<domain::TaskRecord> FindByClipId(absl::string_view tenant,
                                          absl::string_view clip_id) override {
    absl::MutexLock lock(&mu_);
    absl::StatusOr<sqlite3_stmt*> stmt = Prepare(kFindByClipIdSql);
    if (!stmt.ok()) return stmt.status();
    ScopedStmt scoped(*stmt);
    BindText(*stmt, 1, tenant);
    BindText(*stmt, 2, clip_id);
    return QueryOne(*stmt, absl::StrCat("clip ", clip_id));
  }

  absl::StatusOr<domain::TaskRecord> FindByProviderTaskId(absl::string_view provider,
                                                  absl::string_view provider_task_id) override {
    if (provider_task_id.empty()) return absl::NotFoundError("empty provider task id");
    absl::MutexLock lock(&mu_);
    absl::StatusOr<sqlite3_stmt*> stmt = Prepare(kFindByProviderTaskIdSql);
    if (!stmt.ok()) return stmt.status();
    ScopedStmt scoped(*stmt);
    BindText(*stmt, 1, provider);
    BindText(*stmt, 2, provider_task_id);
    return QueryOne(*stmt, absl::StrCat("provider task ", provider, "/", provider_task_id));
  }

 private:
  // Returns the cached statement for `sql`, preparing it on first use.
  absl::StatusOr<sqlite3_stmt*> Prepare(const std::string& sql) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    auto it = stmts_.find(sql);
    if (it != stmts_.end()) return it->second;
    sqlite3_stmt* stmt = nullptr;
    const int rc = sqlite3_prepare_v3(db_, sql.c_str(), static_cast<int>(sql.size()) + 1,
                                      SQLITE_PREPARE_PERSISTENT, &stmt, nullptr);
    if (rc != SQLITE_OK) {
      sqlite3_finalize(stmt);
      return SqliteError(db_, rc, "prepare");
    }
    stmts_.emplace(sql, stmt);
    return stmt;
  }

  // Runs a statement that returns no rows.
  absl::Status Exec(const std::string& sql, absl::string_view what)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    absl::StatusOr<sqlite3_stmt*> stmt = Prepare(sql);
    if (!stmt.ok()) return stmt.status();
    ScopedStmt scoped(*stmt);
    const int rc = sqlite3_step(*stmt);
    if (rc != SQLITE_DONE) return SqliteError(db_, rc, what);
    return absl::OkStatus();
  }

  absl::Status Begin() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) { return Exec(kBeginSql, "begin"); }

  // Inserts ledger rows inside the caller's transaction. A taken id is ALREADY_EXISTS: the task
  // already has a row of that kind, and the caller's whole transaction must roll back.
  absl::Status AppendLedger(absl::Span<const billing::BillingTransaction> ledger)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    if (ledger.empty()) return absl::OkStatus();
    absl::StatusOr<sqlite3_stmt*> stmt =
        Prepare(absl::StrCat("INSERT INTO billing_transactions (", kTransactionColumns,
                             ") VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, "
                             "?14)"));
    if (!stmt.ok()) return stmt.status();
    for (const billing::BillingTransaction& t : ledger) {
      if (t.billing_transaction_id.empty() || t.task_id.empty() || t.amount_micros < 0) {
        return absl::InvalidArgumentError(absl::StrCat(
            "billing transaction \"", t.billing_transaction_id,
            "\": billing_transaction_id and task_id are required and amount_micros >= 0"));
      }
      ScopedStmt scoped(*stmt);
      if (absl::Status s = BindTransaction(*stmt, t); !s.ok()) return s;
      const int rc = sqlite3_step(*stmt);
      if (rc == SQLITE_CONSTRAINT_PRIMARYKEY) {
        return absl::AlreadyExistsError(
            absl::StrCat("billing transaction ", t.billing_transaction_id, " already exists"));
      }
      if (rc != SQLITE_DONE) return SqliteError(db_, rc, "insert billing transaction");
    }
    return absl::OkStatus();
  }

  // Steps `stmt` to the end, decoding every row.
  template <typename T, typename Decode>
  absl::StatusOr<std::vector<T>> QueryRows(sqlite3_stmt* stmt, Decode decode)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    std::vector<T> rows;
    while (true) {
      const int rc = sqlite3_step(stmt);
      if (rc == SQLITE_DONE) return rows;
      if (rc != SQLITE_ROW) return SqliteError(db_, rc, "select");
      absl::StatusOr<T> row = decode(stmt);
      if (!row.ok()) return row.status();
      rows.push_back(*std::move(row));
    }
  }

  static absl::StatusOr<ReconciliationRun> DecodeRun(sqlite3_stmt* stmt) {
    ReconciliationRun run;
    run.run_id = ColumnText(stmt, 0);
    run.create_time = FromMicros(sqlite3_column_int64(stmt, 1));
    run.range.start = FromMicros(sqlite3_column_int64(stmt, 2));
    run.range.end = FromMicros(sqlite3_column_int64(stmt, 3));
    run.providers = SplitList(ColumnText(stmt, 4));
    run.tolerance_micros = sqlite3_column_int64(stmt, 5);
    run.tasks = sqlite3_column_int64(stmt, 6);
    run.discrepancies = sqlite3_column_int64(stmt, 7);
    run.outcome_tasks = SplitCounts(ColumnText(stmt, 8));
    run.difference_usd_micros = sqlite3_column_int64(stmt, 9);
    run.summary = ColumnText(stmt, 10);
    run.report_json = ColumnText(stmt, 11);
    return run;
  }

  absl::StatusOr<std::vector<LedgerViolation>> CheckLedgerInTransaction()
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    struct TaskSums {
      bool has_task = false;
      music::v1::TaskState state = music::v1::TASK_STATE_UNSPECIFIED;
      music::v1::TaskBilling billing;
      int reserves = 0, settles = 0, refunds = 0;
      int64_t reserved = 0, settled = 0, refunded = 0;
      std::set<std::string> currencies;
    };
    std::map<std::string, TaskSums> tasks;
    {
      absl::StatusOr<sqlite3_stmt*> stmt = Prepare("SELECT task_id, state, task FROM tasks");
      if (!stmt.ok()) return stmt.status();
      ScopedStmt scoped(*stmt);
      int rc;
      while ((rc = sqlite3_step(*stmt)) == SQLITE_ROW) {
        TaskSums& sums = tasks[ColumnText(*stmt, 0)];
        sums.has_task = true;
        sums.state = static_cast<music::v1::TaskState>(sqlite3_column_int64(*stmt, 1));
        music::v1::Task task;
        const int size = sqlite3_column_bytes(*stmt, 2);
        const void* blob = sqlite3_column_blob(*stmt, 2);
        if (task.ParseFromArray(size > 0 ? blob : "", size)) sums.billing = task.billing();
      }
      if (rc != SQLITE_DONE) return SqliteError(db_, rc, "select tasks");
    }
    {
      absl::StatusOr<sqlite3_stmt*> stmt =
          Prepare("SELECT task_id, kind, amount_micros, currency FROM billing_transactions");
      if (!stmt.ok()) return stmt.status();
      ScopedStmt scoped(*stmt);
      int rc;
      while ((rc = sqlite3_step(*stmt)) == SQLITE_ROW) {
        TaskSums& sums = tasks[ColumnText(*stmt, 0)];
        const std::string kind = ColumnText(*stmt, 1);
        const int64_t amount = sqlite3_column_int64(*stmt, 2);
        sums.currencies.insert(ColumnText(*stmt, 3));
        if (kind == "RESERVE") {
          ++sums.reserves;
          sums.reserved += amount;
        } else if (kind == "SETTLE") {
          ++sums.settles;
          sums.settled += amount;
        } else {
          ++sums.refunds;
          sums.refunded += amount;
        }
      }
      if (rc != SQLITE_DONE) return SqliteError(db_, rc, "select billing transactions");
    }
    std::vector<LedgerViolation> violations;
    for (const auto& [task_id, t] : tasks) {
      auto add = [&, id = task_id](absl::string_view kind, std::string detail) {
        violations.push_back({id, std::string(kind), std::move(detail)});
      };
      if (!t.has_task) {
        add("ORPHAN", "ledger rows for a task that does not exist");
        continue;
      }
      // A task stored before the ledger existed (schema 2) has no billing at all: not checked.
      if (t.billing.currency().empty() && t.reserves + t.settles + t.refunds == 0) continue;
      const bool terminal = domain::IsTerminal(t.state);
      if (t.reserves == 0) add("MISSING_RESERVE", "no RESERVE row");
      if (t.reserves > 1) add("DUPLICATE_RESERVE", absl::StrCat(t.reserves, " RESERVE rows"));
      if (t.settles > 1) add("DUPLICATE_SETTLE", absl::StrCat(t.settles, " SETTLE rows"));
      if (t.refunds > 1) add("DUPLICATE_REFUND", absl::StrCat(t.refunds, " REFUND rows"));
      if (t.settles > 0 &&
          (t.state == music::v1::TASK_STATE_FAILED || t.state == music::v1::TASK_STATE_CANCELED)) {
        add("SETTLED_NOT_SUCCEEDED", absl::StrCat("a ", music::v1::TaskState_Name(t.state),
                                                  " task has a SETTLE of ", t.settled, " micros"));
      }
      if (terminal && t.settles + t.refunds == 0) {
        add("UNFINISHED", "terminal task without SETTLE or REFUND");
      }
      if (!terminal && t.settles + t.refunds > 0) {
        add("UNFINISHED", "a task not yet terminal already has SETTLE or REFUND rows");
      }
      if (terminal && t.reserved != t.settled + t.refunded) {
        add("UNBALANCED", absl::StrCat("reserved ", t.reserved, " != settled ", t.settled,
                                       " + refunded ", t.refunded));
      }
      if (t.currencies.size() > 1) {
        add("CURRENCY", absl::StrCat("rows in ", absl::StrJoin(t.currencies, " and ")));
      }
      if (t.billing.reserved_micros() != t.reserved || t.billing.charged_micros() != t.settled ||
          t.billing.refunded_micros() != t.refunded ||
          (t.currencies.size() == 1 && *t.currencies.begin() != t.billing.currency())) {
        add("BILLING_MISMATCH",
            absl::StrCat("Task.billing reserved/charged/refunded ", t.billing.reserved_micros(),
                         "/", t.billing.charged_micros(), "/", t.billing.refunded_micros(), " ",
                         t.billing.currency(), " vs ledger ", t.reserved, "/", t.settled, "/",
                         t.refunded));
      }
    }
    return violations;
  }

  // Commits when `status` is OK, else rolls back; returns `status` or the commit error.
  absl::Status End(absl::Status status) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    if (status.ok()) status = Exec(kCommitSql, "commit");
    // A failed COMMIT (e.g. SQLITE_BUSY) leaves the transaction open.
    if (!status.ok() && sqlite3_get_autocommit(db_) == 0) {
      Exec(kRollbackSql, "rollback").IgnoreError();
    }
    return status;
  }

  // Steps a query that yields at most one row.
  absl::StatusOr<domain::TaskRecord> QueryOne(sqlite3_stmt* stmt, absl::string_view what)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    const int rc = sqlite3_step(stmt);
    if (rc == SQLITE_DONE) return absl::NotFoundError(absl::StrCat(what, " not found"));
    if (rc != SQLITE_ROW) return SqliteError(db_, rc, "select");
    return DecodeRow(stmt);
  }

  absl::StatusOr<std::vector<domain::TaskRecord>> QueryAll(sqlite3_stmt* stmt)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    std::vector<domain::TaskRecord> records;
    while (true) {
      const int rc = sqlite3_step(stmt);
      if (rc == SQLITE_DONE) return records;
      if (rc != SQLITE_ROW) return SqliteError(db_, rc, "select");
      absl::StatusOr<domain::TaskRecord> record = DecodeRow(stmt);
      if (!record.ok()) return record.status();
      records.push_back(*std::move(record));
    }
  }

  // Decodes a row of MUSIC_TASK_COLUMNS. DATA_LOSS when it is malformed.
  static absl::StatusOr<domain::TaskRecord> DecodeRow(sqlite3_stmt* stmt) {
    const std::string task_id = ColumnText(stmt, 0);
    for (int col : {2, 3, 4, 5, 6, 7}) {
      if (sqlite3_column_type(stmt, col) != SQLITE_INTEGER) {
        return absl::DataLossError(absl::StrCat(
            "task ", task_id, ": column ", sqlite3_column_name(stmt, col), " is not an integer"));
      }
    }
    domain::TaskRecord record;
    const int blob_size = sqlite3_column_bytes(stmt, 8);
    const void* blob = sqlite3_column_blob(stmt, 8);
    if (!record.task.ParseFromArray(blob_size > 0 ? blob : "", blob_size)) {
      return absl::DataLossError(absl::StrCat("task ", task_id, ": the stored task is corrupt"));
    }
    const int64_t version = sqlite3_column_int64(stmt, 7);
    if (record.task.task_id() != task_id || record.task.version() != version) {
      return absl::DataLossError(absl::StrCat(
          "task ", task_id, ": the stored task does not match its row (id ", record.task.task_id(),
          ", version ", record.task.version(), " vs ", version, ")"));
    }
    const int64_t submission = sqlite3_column_int64(stmt, 2);
    if (submission < static_cast<int>(domain::SubmissionState::kNotSubmitted) ||
        submission > static_cast<int>(domain::SubmissionState::kUnknown)) {
      return absl::DataLossError(
          absl::StrCat("task ", task_id, ": bad submission state ", submission));
    }
    const int64_t attempts = sqlite3_column_int64(stmt, 3);
    if (attempts < std::numeric_limits<int32_t>::min() ||
        attempts > std::numeric_limits<int32_t>::max()) {
      return absl::DataLossError(absl::StrCat("task ", task_id, ": bad attempts ", attempts));
    }
    record.request_fingerprint = ColumnText(stmt, 1);
    record.submission = static_cast<domain::SubmissionState>(submission);
    record.attempts = static_cast<int32_t>(attempts);
    record.next_action_time = FromMicros(sqlite3_column_int64(stmt, 4));
    record.deadline = FromMicros(sqlite3_column_int64(stmt, 5));
    record.unknown_since = FromMicros(sqlite3_column_int64(stmt, 6));
    record.poll_url = ColumnText(stmt, 9);
    record.reference_artifact_id = ColumnText(stmt, 10);
    record.provider_endpoint = ColumnText(stmt, 11);
    return record;
  }

  // Binds ?1..?20 of kInsertTaskSql / kUpdateTaskSql.
  static absl::Status BindTaskColumns(sqlite3_stmt* stmt, const domain::TaskRecord& r,
                                      const std::string& blob) {
    const music::v1::Task& t = r.task;
    int rc = SQLITE_OK;
    auto check = [&rc](int result) {
      if (rc == SQLITE_OK) rc = result;
    };
    check(BindText(stmt, 1, t.task_id()));
    check(BindText(stmt, 2, t.tenant()));
    check(BindText(stmt, 3, t.request_id()));
    check(BindText(stmt, 4, r.request_fingerprint));
    check(sqlite3_bind_int64(stmt, 5, t.state()));
    check(sqlite3_bind_int64(stmt, 6, t.kind()));
    check(BindText(stmt, 7, t.provider()));
    check(BindText(stmt, 8, t.provider_task_id()));
    check(sqlite3_bind_int64(stmt, 9, static_cast<int>(r.submission)));
    check(sqlite3_bind_int64(stmt, 10, r.attempts));
    check(sqlite3_bind_int64(stmt, 11, ToMicros(r.next_action_time)));
    check(sqlite3_bind_int64(stmt, 12, ToMicros(r.deadline)));
    check(sqlite3_bind_int64(stmt, 13, ToMicros(r.unknown_since)));
    check(sqlite3_bind_int64(stmt, 14, TimestampMicros(t.create_time())));
    check(sqlite3_bind_int64(stmt, 15, TimestampMicros(t.update_time())));
    check(sqlite3_bind_int64(stmt, 16, t.version()));
    check(sqlite3_bind_blob64(stmt, 17, blob.empty() ? "" : blob.data(), blob.size(),
                              SQLITE_TRANSIENT));
    check(BindText(stmt, 18, r.poll_url));
    check(BindText(stmt, 19, r.reference_artifact_id));
    check(BindText(stmt, 20, r.provider_endpoint));
    if (rc != SQLITE_OK) return SqliteError(nullptr, rc, "bind");
    return absl::OkStatus();
  }

  // Replaces the clip index of the task with record.task.clips().
  absl::Status IndexClips(const music::v1::Task& task) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    {
      absl::StatusOr<sqlite3_stmt*> del = Prepare(kDeleteClipsSql);
      if (!del.ok()) return del.status();
      ScopedStmt scoped(*del);
      BindText(*del, 1, task.task_id());
      const int rc = sqlite3_step(*del);
      if (rc != SQLITE_DONE) return SqliteError(db_, rc, "delete clips");
    }
    absl::StatusOr<sqlite3_stmt*> ins = Prepare(kInsertClipSql);
    if (!ins.ok()) return ins.status();
    for (const music::v1::Clip& clip : task.clips()) {
      if (clip.clip_id().empty()) continue;
      ScopedStmt scoped(*ins);
      BindText(*ins, 1, clip.clip_id());
      BindText(*ins, 2, task.task_id());
      BindText(*ins, 3, task.tenant());
      const int rc = sqlite3_step(*ins);
      if (rc != SQLITE_DONE) return SqliteError(db_, rc, "insert clip");
    }
    return absl::OkStatus();
  }

  absl::StatusOr<domain::TaskRecord> GetByRequestId(const music::v1::Task& task)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    absl::StatusOr<sqlite3_stmt*> stmt = Prepare(kGetByRequestIdSql);
    if (!stmt.ok()) return stmt.status();
    ScopedStmt scoped(*stmt);
    BindText(*stmt, 1, task.tenant());
    BindText(*stmt, 2, task.request_id());
    return QueryOne(*stmt, absl::StrCat("request ", task.request_id()));
  }

  absl::StatusOr<CreateResult> CreateInTransaction(const domain::TaskRecord& record,
                                                   const std::string& blob)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    int rc;
    {
      absl::StatusOr<sqlite3_stmt*> stmt = Prepare(kInsertTaskSql);
      if (!stmt.ok()) return stmt.status();
      ScopedStmt scoped(*stmt);
      if (absl::Status s = BindTaskColumns(*stmt, record, blob); !s.ok()) return s;
      rc = sqlite3_step(*stmt);
    }
    if ((rc & 0xff) == SQLITE_CONSTRAINT) {
      // Which key is taken? The request id wins: a retried Create gets the original task.
      absl::Status error = SqliteError(db_, rc, "insert task");
      if (!record.task.request_id().empty()) {
        absl::StatusOr<domain::TaskRecord> existing = GetByRequestId(record.task);
        if (existing.ok()) return CreateResult{*std::move(existing), false};
        if (!absl::IsNotFound(existing.status())) return existing.status();
      }
      if (rc == SQLITE_CONSTRAINT_PRIMARYKEY) {
        return absl::AlreadyExistsError(
            absl::StrCat("task ", record.task.task_id(), " already exists"));
      }
      return error;
    }
    if (rc != SQLITE_DONE) return SqliteError(db_, rc, "insert task");
    if (absl::Status s = IndexClips(record.task); !s.ok()) return s;
    return CreateResult{record, true};
  }

  absl::Status UpdateInTransaction(const domain::TaskRecord& record, const std::string& blob)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    const int64_t expected_version = record.task.version() - 1;
    {
      absl::StatusOr<sqlite3_stmt*> stmt = Prepare(kUpdateTaskSql);
      if (!stmt.ok()) return stmt.status();
      ScopedStmt scoped(*stmt);
      if (absl::Status s = BindTaskColumns(*stmt, record, blob); !s.ok()) return s;
      sqlite3_bind_int64(*stmt, 21, expected_version);
      const int rc = sqlite3_step(*stmt);
      if (rc != SQLITE_DONE) return SqliteError(db_, rc, "update task");
    }
    if (sqlite3_changes(db_) == 0) return ExplainNoUpdate(record.task, expected_version);
    return IndexClips(record.task);
  }

  // Why an UPDATE matched no row: NOT_FOUND, ABORTED (version) or INVALID_ARGUMENT (immutable
  // field changed).
  absl::Status ExplainNoUpdate(const music::v1::Task& task, int64_t expected_version)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    absl::StatusOr<sqlite3_stmt*> stmt = Prepare(kGetKeysSql);
    if (!stmt.ok()) return stmt.status();
    ScopedStmt scoped(*stmt);
    BindText(*stmt, 1, task.task_id());
    const int rc = sqlite3_step(*stmt);
    if (rc == SQLITE_DONE) {
      return absl::NotFoundError(absl::StrCat("task ", task.task_id(), " not found"));
    }
    if (rc != SQLITE_ROW) return SqliteError(db_, rc, "select task");
    const int64_t stored_version = sqlite3_column_int64(*stmt, 0);
    if (stored_version != expected_version) {
      return absl::AbortedError(absl::StrCat("task ", task.task_id(), " is at version ",
                                             stored_version, ", not ", expected_version));
    }
    return absl::InvalidArgumentError(
        absl::StrCat("task ", task.task_id(), ": tenant and request_id cannot change (stored ",
                     ColumnText(*stmt, 1), "/", ColumnText(*stmt, 2), ")"));
  }

  absl::Mutex mu_;
  sqlite3* db_ ABSL_GUARDED_BY(mu_);
  absl::flat_hash_map<std::string, sqlite3_stmt*> stmts_ ABSL_GUARDED_BY(mu_);
};

#undef MUSIC_TASK_COLUMNS

// Closes a connection that never made it into a store.
struct ConnectionCloser {
  void operator()(sqlite3* db) const { sqlite3_close_v2(db); }
};
using Connection = std::unique_ptr<sqlite3, ConnectionCloser>;

// Runs one statement on a connection outside any store (open and migration time); the first
// column of the first row, as int64 or text, goes to the optional outputs.
absl::Status ExecOnce(sqlite3* db, const std::string& sql, int64_t* int_out = nullptr,
                      std::string* text_out = nullptr) {
  sqlite3_stmt* stmt = nullptr;
  int rc = sqlite3_prepare_v2(db, sql.c_str(), static_cast<int>(sql.size()) + 1, &stmt, nullptr);
  if (rc != SQLITE_OK) {
    sqlite3_finalize(stmt);
    return SqliteError(db, rc, sql);
  }
  bool first = true;
  while ((rc = sqlite3_step(stmt)) == SQLITE_ROW) {
    if (first && int_out != nullptr) *int_out = sqlite3_column_int64(stmt, 0);
    if (first && text_out != nullptr) *text_out = ColumnText(stmt, 0);
    first = false;
  }
  absl::Status status = rc == SQLITE_DONE ? absl::OkStatus() : SqliteError(db, rc, sql);
  sqlite3_finalize(stmt);
  return status;
}

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

// Applies the missing migration steps in one transaction.
absl::Status Migrate(sqlite3* db) {
  if (absl::Status s = ExecOnce(db, kBeginSql); !s.ok()) return s;
  int64_t version = 0;
  absl::Status status = ExecOnce(db, "PRAGMA user_version", &version);
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

}  // namespace

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

  sqlite3* raw = nullptr;
  const int rc =
      sqlite3_open_v2(options.path.c_str(), &raw,
                      SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX, nullptr);
  Connection db(raw);
  if (rc != SQLITE_OK) {
    return SqliteError(db.get(), rc, absl::StrCat("open ", options.path));
  }
  sqlite3_extended_result_codes(db.get(), 1);
  sqlite3_busy_timeout(db.get(), static_cast<int>(busy_ms));

  // Refuse a newer schema before touching the file.
  int64_t version = 0;
  if (absl::Status s = ExecOnce(db.get(), "PRAGMA user_version", &version); !s.ok()) return s;
  if (absl::Status s = CheckSchemaNotNewer(version); !s.ok()) return s;

  std::string journal_mode;
  if (absl::Status s = ExecOnce(db.get(), "PRAGMA journal_mode = WAL", nullptr, &journal_mode);
      !s.ok()) {
    return s;
  }
  if (absl::AsciiStrToLower(journal_mode) != "wal") {
    return absl::InternalError(
        absl::StrCat("sqlite: cannot enable WAL mode on ", options.path, " (", journal_mode, ")"));
  }
  if (absl::Status s = ExecOnce(db.get(), absl::StrCat("PRAGMA synchronous = ", synchronous));
      !s.ok()) {
    return s;
  }
  int64_t foreign_keys = 0;
  if (absl::Status s = ExecOnce(db.get(), "PRAGMA foreign_keys = ON"); !s.ok()) return s;
  if (absl::Status s = ExecOnce(db.get(), "PRAGMA foreign_keys", &foreign_keys); !s.ok()) return s;
  if (foreign_keys != 1) return absl::InternalError("sqlite: foreign keys are not supported");

  if (absl::Status s = Migrate(db.get()); !s.ok()) return s;
  return std::unique_ptr<SqliteStore>(std::make_unique<SqliteTaskStore>(db.release()));
}

int SqliteSchemaVersion() { return kSchemaVersion; }

}  // namespace music::persistence
