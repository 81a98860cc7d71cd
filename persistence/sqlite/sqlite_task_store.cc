// The TaskStore methods of the SQLite store: task rows, their clip index, optimistic versions and
// request-id deduplication.
#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "absl/container/flat_hash_set.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"
#include "music/v1/task.pb.h"
#include "persistence/sqlite/sqlite_db.h"
#include "persistence/sqlite/sqlite_reader_pool.h"
#include "persistence/sqlite/sqlite_row_codec.h"
#include "persistence/sqlite/sqlite_store_impl.h"
#include "persistence/store_rows.h"

namespace music::persistence::sqlite_internal {
namespace {

// The terminal states are spelled as literals in kListActiveSql and in the partial index
// tasks_active (sqlite_migrations.cc): SQLite uses a partial index only when the query repeats
// its WHERE term.
static_assert(music::v1::TASK_STATE_SUCCEEDED == 3 && music::v1::TASK_STATE_FAILED == 4 &&
                  music::v1::TASK_STATE_CANCELED == 5,
              "update kListActiveSql and the tasks_active index");

// Parameters ?1..?22 are bound by BindTaskColumns.
constexpr char kInsertTaskSql[] =
    "INSERT INTO tasks (task_id, tenant, request_id, request_fingerprint, state, kind, provider, "
    "provider_task_id, submission, attempts, next_action_us, deadline_us, unknown_since_us, "
    "create_time_us, update_time_us, version, task, poll_url, reference_artifact_id, "
    "provider_endpoint, traceparent, archive_pending) "
    "VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, ?17, ?18, ?19, "
    "?20, ?21, ?22)";
// ?23: the version the caller read. The columns that never change (tenant, request_id, kind,
// create_time_us) are compared, not set: SQLite rewrites the entries of every index over a
// column named in SET, so setting create_time_us to itself rewrote tasks_tenant_create_time on
// every task change.
constexpr char kUpdateTaskSql[] =
    "UPDATE tasks SET request_fingerprint = ?4, state = ?5, provider = ?7, "
    "provider_task_id = ?8, submission = ?9, attempts = ?10, next_action_us = ?11, "
    "deadline_us = ?12, unknown_since_us = ?13, update_time_us = ?15, "
    "version = ?16, task = ?17, poll_url = ?18, reference_artifact_id = ?19, "
    "provider_endpoint = ?20, traceparent = ?21, archive_pending = ?22 "
    "WHERE task_id = ?1 AND tenant = ?2 AND request_id = ?3 AND kind = ?6 AND "
    "create_time_us = ?14 AND version = ?23";
constexpr char kGetSql[] = "SELECT " MUSIC_SQLITE_TASK_COLUMNS " FROM tasks t WHERE t.task_id = ?1";
constexpr char kGetByRequestIdSql[] =
    "SELECT " MUSIC_SQLITE_TASK_COLUMNS
    " FROM tasks t WHERE t.tenant = ?1 AND t.request_id = ?2 AND t.request_id <> ''";
constexpr char kGetKeysSql[] =
    "SELECT version, tenant, request_id, kind, create_time_us FROM tasks WHERE task_id = ?1";
constexpr char kListClipsSql[] = "SELECT clip_id FROM task_clips WHERE task_id = ?1";
constexpr char kDeleteClipSql[] = "DELETE FROM task_clips WHERE task_id = ?1 AND clip_id = ?2";
constexpr char kInsertClipSql[] =
    "INSERT OR IGNORE INTO task_clips (clip_id, task_id, tenant) VALUES (?1, ?2, ?3)";
// A clip id shared by several tasks resolves to the oldest of them.
constexpr char kFindByClipIdSql[] =
    "SELECT " MUSIC_SQLITE_TASK_COLUMNS
    " FROM task_clips c JOIN tasks t ON t.task_id = c.task_id "
    "WHERE c.tenant = ?1 AND c.clip_id = ?2 ORDER BY t.create_time_us, t.task_id LIMIT 1";
constexpr char kFindByProviderTaskIdSql[] =
    "SELECT " MUSIC_SQLITE_TASK_COLUMNS
    " FROM tasks t WHERE t.provider = ?1 AND t.provider_task_id = ?2 "
    "ORDER BY t.create_time_us, t.task_id LIMIT 1";
constexpr char kListActiveSql[] =
    "SELECT " MUSIC_SQLITE_TASK_COLUMNS
    " FROM tasks t WHERE t.state NOT IN (3, 4, 5) ORDER BY t.create_time_us, t.task_id LIMIT ?1";
// The WHERE term repeats the partial index tasks_archive_pending's; ?2/?3: the cursor (?4 = 0:
// none).
constexpr char kListArchivePendingSql[] =
    "SELECT " MUSIC_SQLITE_TASK_COLUMNS
    " FROM tasks t WHERE t.archive_pending = 1 AND t.create_time_us >= ?1 AND "
    "(?4 = 0 OR t.create_time_us > ?2 OR (t.create_time_us = ?2 AND t.task_id > ?3)) "
    "ORDER BY t.create_time_us, t.task_id LIMIT ?5";

// What a write adds to its batch, for GroupCommitLimits::max_bytes: the task and its ledger rows
// (a row is a few short strings and numbers).
size_t WriteBytes(const std::string& blob, absl::Span<const billing::BillingTransaction> ledger) {
  constexpr size_t kLedgerRowBytes = 256;
  return blob.size() + ledger.size() * kLedgerRowBytes;
}

}  // namespace

absl::StatusOr<CreateResult> SqliteStoreImpl::Create(const domain::TaskRecord& record) {
  return CreateWithLedger(record, {});
}

absl::StatusOr<CreateResult> SqliteStoreImpl::Create(
    const domain::TaskRecord& record, absl::Span<const billing::BillingTransaction> ledger) {
  return CreateWithLedger(record, ledger);
}

absl::StatusOr<CreateResult> SqliteStoreImpl::CreateWithLedger(
    const domain::TaskRecord& record, absl::Span<const billing::BillingTransaction> ledger) {
  absl::StatusOr<std::string> blob = store_rows::NewTaskBlob(record);
  if (!blob.ok()) return blob.status();
  absl::StatusOr<CreateResult> result = absl::UnknownError("create did not run");
  const absl::Status status = writes_.Write(
      [&](SqliteDb& db) {
        result = CreateInTransaction(db, record, *blob);
        // A request_id that returned an existing task adds no reservation: the first create
        // made it.
        if (result.ok() && result->created) {
          if (absl::Status s = AppendLedger(db, ledger); !s.ok()) result = s;
        }
        return result.status();
      },
      WriteBytes(*blob, ledger));
  if (!status.ok()) return status;
  return result;
}

absl::StatusOr<domain::TaskRecord> SqliteStoreImpl::Get(absl::string_view task_id) {
  ReaderPool::Lease lease = reads_.Acquire();
  SqliteDb& db = lease.db();
  absl::StatusOr<sqlite3_stmt*> stmt = db.Prepare(kGetSql);
  if (!stmt.ok()) return stmt.status();
  ScopedStmt scoped(*stmt);
  BindText(*stmt, 1, task_id);
  return QueryTask(db, *stmt, absl::StrCat("task ", task_id));
}

absl::Status SqliteStoreImpl::Update(const domain::TaskRecord& record) {
  return UpdateWithLedger(record, {});
}

absl::Status SqliteStoreImpl::Update(const domain::TaskRecord& record,
                                     absl::Span<const billing::BillingTransaction> ledger) {
  return UpdateWithLedger(record, ledger);
}

absl::Status SqliteStoreImpl::UpdateWithLedger(
    const domain::TaskRecord& record, absl::Span<const billing::BillingTransaction> ledger) {
  absl::StatusOr<std::string> blob = store_rows::UpdatedTaskBlob(record);
  if (!blob.ok()) return blob.status();
  return writes_.Write(
      [&](SqliteDb& db) {
        absl::Status status = UpdateInTransaction(db, record, *blob);
        // The task row first: a failed version check writes no ledger row.
        if (status.ok()) status = AppendLedger(db, ledger);
        return status;
      },
      WriteBytes(*blob, ledger));
}

absl::StatusOr<ListPage> SqliteStoreImpl::List(const ListQuery& query) {
  if (query.page_size < 1) {
    return absl::InvalidArgumentError(
        absl::StrCat("page_size must be >= 1, not ", query.page_size));
  }
  const bool by_state = query.state != music::v1::TASK_STATE_UNSPECIFIED;
  const bool by_kind = query.kind != music::v1::TASK_KIND_UNSPECIFIED;
  std::string sql = "SELECT " MUSIC_SQLITE_TASK_COLUMNS " FROM tasks t WHERE t.tenant = ?1";
  if (by_state) sql += " AND t.state = ?2";
  if (by_kind) sql += " AND t.kind = ?3";
  if (query.after.has_value()) sql += " AND (t.create_time_us, t.task_id) < (?4, ?5)";
  sql += " ORDER BY t.create_time_us DESC, t.task_id DESC LIMIT ?6";

  ReaderPool::Lease lease = reads_.Acquire();
  SqliteDb& db = lease.db();
  absl::StatusOr<sqlite3_stmt*> stmt = db.Prepare(sql);
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
  absl::StatusOr<std::vector<domain::TaskRecord>> records = QueryTasks(db, *stmt);
  if (!records.ok()) return records.status();
  ListPage page;
  page.records = *std::move(records);
  if (page.records.size() > static_cast<size_t>(query.page_size)) {
    page.records.resize(static_cast<size_t>(query.page_size));
    page.has_more = true;
  }
  return page;
}

absl::StatusOr<std::vector<domain::TaskRecord>> SqliteStoreImpl::ListActive(int limit) {
  if (limit < 1) return absl::InvalidArgumentError(absl::StrCat("limit must be >= 1: ", limit));
  ReaderPool::Lease lease = reads_.Acquire();
  SqliteDb& db = lease.db();
  absl::StatusOr<sqlite3_stmt*> stmt = db.Prepare(kListActiveSql);
  if (!stmt.ok()) return stmt.status();
  ScopedStmt scoped(*stmt);
  sqlite3_bind_int64(*stmt, 1, limit);
  return QueryTasks(db, *stmt);
}

absl::StatusOr<std::vector<domain::TaskRecord>> SqliteStoreImpl::ListArchivePending(
    const ArchivePendingQuery& query) {
  if (query.limit < 1) {
    return absl::InvalidArgumentError(absl::StrCat("limit must be >= 1: ", query.limit));
  }
  ReaderPool::Lease lease = reads_.Acquire();
  SqliteDb& db = lease.db();
  absl::StatusOr<sqlite3_stmt*> stmt = db.Prepare(kListArchivePendingSql);
  if (!stmt.ok()) return stmt.status();
  ScopedStmt scoped(*stmt);
  sqlite3_bind_int64(*stmt, 1, ToMicros(query.created_after));
  sqlite3_bind_int64(*stmt, 2, query.after ? ToMicros(query.after->create_time) : 0);
  BindText(*stmt, 3, query.after ? query.after->task_id : std::string());
  sqlite3_bind_int64(*stmt, 4, query.after ? 1 : 0);
  sqlite3_bind_int64(*stmt, 5, query.limit);
  return QueryTasks(db, *stmt);
}

absl::StatusOr<domain::TaskRecord> SqliteStoreImpl::FindByClipId(absl::string_view tenant,
                                                                 absl::string_view clip_id) {
  ReaderPool::Lease lease = reads_.Acquire();
  SqliteDb& db = lease.db();
  absl::StatusOr<sqlite3_stmt*> stmt = db.Prepare(kFindByClipIdSql);
  if (!stmt.ok()) return stmt.status();
  ScopedStmt scoped(*stmt);
  BindText(*stmt, 1, tenant);
  BindText(*stmt, 2, clip_id);
  return QueryTask(db, *stmt, absl::StrCat("clip ", clip_id));
}

absl::StatusOr<domain::TaskRecord> SqliteStoreImpl::FindByRequestId(absl::string_view tenant,
                                                                    absl::string_view request_id) {
  if (request_id.empty()) return absl::NotFoundError("empty request_id");
  ReaderPool::Lease lease = reads_.Acquire();
  SqliteDb& db = lease.db();
  absl::StatusOr<sqlite3_stmt*> stmt = db.Prepare(kGetByRequestIdSql);
  if (!stmt.ok()) return stmt.status();
  ScopedStmt scoped(*stmt);
  BindText(*stmt, 1, tenant);
  BindText(*stmt, 2, request_id);
  return QueryTask(db, *stmt, absl::StrCat("request ", request_id));
}

absl::StatusOr<domain::TaskRecord> SqliteStoreImpl::FindByProviderTaskId(
    absl::string_view provider, absl::string_view provider_task_id) {
  if (provider_task_id.empty()) return absl::NotFoundError("empty provider task id");
  ReaderPool::Lease lease = reads_.Acquire();
  SqliteDb& db = lease.db();
  absl::StatusOr<sqlite3_stmt*> stmt = db.Prepare(kFindByProviderTaskIdSql);
  if (!stmt.ok()) return stmt.status();
  ScopedStmt scoped(*stmt);
  BindText(*stmt, 1, provider);
  BindText(*stmt, 2, provider_task_id);
  return QueryTask(db, *stmt, absl::StrCat("provider task ", provider, "/", provider_task_id));
}

absl::StatusOr<domain::TaskRecord> SqliteStoreImpl::QueryTask(SqliteDb& db, sqlite3_stmt* stmt,
                                                              absl::string_view what) {
  return db.QueryOne<domain::TaskRecord>(stmt, DecodeTaskRow, what);
}

absl::StatusOr<std::vector<domain::TaskRecord>> SqliteStoreImpl::QueryTasks(SqliteDb& db,
                                                                            sqlite3_stmt* stmt) {
  return db.QueryRows<domain::TaskRecord>(stmt, DecodeTaskRow);
}

absl::Status SqliteStoreImpl::IndexClips(SqliteDb& db, const music::v1::Task& task, bool fresh) {
  absl::flat_hash_set<std::string> wanted;
  for (const music::v1::Clip& clip : task.clips()) {
    if (!clip.clip_id().empty()) wanted.insert(clip.clip_id());
  }
  absl::flat_hash_set<std::string> stored;
  if (!fresh) {
    absl::StatusOr<sqlite3_stmt*> list = db.Prepare(kListClipsSql);
    if (!list.ok()) return list.status();
    std::vector<std::string> stale;
    {
      ScopedStmt scoped(*list);
      BindText(*list, 1, task.task_id());
      int rc;
      while ((rc = sqlite3_step(*list)) == SQLITE_ROW) {
        std::string id = ColumnText(*list, 0);
        if (wanted.contains(id)) {
          stored.insert(std::move(id));
        } else {
          stale.push_back(std::move(id));
        }
      }
      if (rc != SQLITE_DONE) return db.Error(rc, "select clips");
    }
    if (!stale.empty()) {
      absl::StatusOr<sqlite3_stmt*> del = db.Prepare(kDeleteClipSql);
      if (!del.ok()) return del.status();
      for (const std::string& id : stale) {
        ScopedStmt scoped(*del);
        BindText(*del, 1, task.task_id());
        BindText(*del, 2, id);
        const int rc = sqlite3_step(*del);
        if (rc != SQLITE_DONE) return db.Error(rc, "delete clip");
      }
    }
  }
  // `stored` holds the wanted ids already indexed.
  if (stored.size() == wanted.size()) return absl::OkStatus();
  absl::StatusOr<sqlite3_stmt*> ins = db.Prepare(kInsertClipSql);
  if (!ins.ok()) return ins.status();
  for (const music::v1::Clip& clip : task.clips()) {
    if (clip.clip_id().empty() || stored.contains(clip.clip_id())) continue;
    ScopedStmt scoped(*ins);
    BindText(*ins, 1, clip.clip_id());
    BindText(*ins, 2, task.task_id());
    BindText(*ins, 3, task.tenant());
    const int rc = sqlite3_step(*ins);
    if (rc != SQLITE_DONE) return db.Error(rc, "insert clip");
  }
  return absl::OkStatus();
}

absl::StatusOr<domain::TaskRecord> SqliteStoreImpl::GetByRequestId(SqliteDb& db,
                                                                   const music::v1::Task& task) {
  absl::StatusOr<sqlite3_stmt*> stmt = db.Prepare(kGetByRequestIdSql);
  if (!stmt.ok()) return stmt.status();
  ScopedStmt scoped(*stmt);
  BindText(*stmt, 1, task.tenant());
  BindText(*stmt, 2, task.request_id());
  return QueryTask(db, *stmt, absl::StrCat("request ", task.request_id()));
}

absl::StatusOr<CreateResult> SqliteStoreImpl::CreateInTransaction(SqliteDb& db,
                                                                  const domain::TaskRecord& record,
                                                                  const std::string& blob) {
  int rc;
  {
    absl::StatusOr<sqlite3_stmt*> stmt = db.Prepare(kInsertTaskSql);
    if (!stmt.ok()) return stmt.status();
    ScopedStmt scoped(*stmt);
    if (absl::Status s = BindTaskColumns(*stmt, record, blob); !s.ok()) return s;
    rc = sqlite3_step(*stmt);
  }
  if ((rc & 0xff) == SQLITE_CONSTRAINT) {
    // Which key is taken? The request id wins: a retried Create gets the original task.
    absl::Status error = db.Error(rc, "insert task");
    if (!record.task.request_id().empty()) {
      absl::StatusOr<domain::TaskRecord> existing = GetByRequestId(db, record.task);
      if (existing.ok()) return CreateResult{*std::move(existing), false};
      if (!absl::IsNotFound(existing.status())) return existing.status();
    }
    if (rc == SQLITE_CONSTRAINT_PRIMARYKEY) {
      return absl::AlreadyExistsError(
          absl::StrCat("task ", record.task.task_id(), " already exists"));
    }
    return error;
  }
  if (rc != SQLITE_DONE) return db.Error(rc, "insert task");
  if (absl::Status s = IndexClips(db, record.task, /*fresh=*/true); !s.ok()) return s;
  return CreateResult{record, true};
}

absl::Status SqliteStoreImpl::UpdateInTransaction(SqliteDb& db, const domain::TaskRecord& record,
                                                  const std::string& blob) {
  const int64_t expected_version = record.task.version() - 1;
  {
    absl::StatusOr<sqlite3_stmt*> stmt = db.Prepare(kUpdateTaskSql);
    if (!stmt.ok()) return stmt.status();
    ScopedStmt scoped(*stmt);
    if (absl::Status s = BindTaskColumns(*stmt, record, blob); !s.ok()) return s;
    sqlite3_bind_int64(*stmt, 23, expected_version);
    const int rc = sqlite3_step(*stmt);
    if (rc != SQLITE_DONE) return db.Error(rc, "update task");
  }
  if (db.Changes() == 0) return ExplainNoUpdate(db, record.task, expected_version);
  return IndexClips(db, record.task, /*fresh=*/false);
}

absl::Status SqliteStoreImpl::ExplainNoUpdate(SqliteDb& db, const music::v1::Task& task,
                                              int64_t expected_version) {
  absl::StatusOr<sqlite3_stmt*> stmt = db.Prepare(kGetKeysSql);
  if (!stmt.ok()) return stmt.status();
  ScopedStmt scoped(*stmt);
  BindText(*stmt, 1, task.task_id());
  const int rc = sqlite3_step(*stmt);
  if (rc == SQLITE_DONE) {
    return absl::NotFoundError(absl::StrCat("task ", task.task_id(), " not found"));
  }
  if (rc != SQLITE_ROW) return db.Error(rc, "select task");
  const int64_t stored_version = sqlite3_column_int64(*stmt, 0);
  if (stored_version != expected_version) {
    return absl::AbortedError(absl::StrCat("task ", task.task_id(), " is at version ",
                                           stored_version, ", not ", expected_version));
  }
  if (ColumnText(*stmt, 1) != task.tenant() || ColumnText(*stmt, 2) != task.request_id()) {
    return absl::InvalidArgumentError(
        absl::StrCat("task ", task.task_id(), ": tenant and request_id cannot change (stored ",
                     ColumnText(*stmt, 1), "/", ColumnText(*stmt, 2), ")"));
  }
  return absl::InvalidArgumentError(absl::StrCat(
      "task ", task.task_id(), ": kind and create_time cannot change (stored kind ",
      sqlite3_column_int64(*stmt, 3), ", create_time_us ", sqlite3_column_int64(*stmt, 4), ")"));
}

}  // namespace music::persistence::sqlite_internal
