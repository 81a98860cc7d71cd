// The TaskStore methods of the PostgreSQL store: task rows, their clip index, optimistic
// versions and request-id deduplication. Every write is one transaction; READ COMMITTED is
// enough: the version check is in the UPDATE's WHERE (PostgreSQL re-evaluates it on the newest
// row version after waiting for a concurrent writer, so of two writers from one version exactly
// one matches), and a Create racing another on the same request_id waits on the unique index.
#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"
#include "music/v1/task.pb.h"
#include "persistence/postgres/pg_row_codec.h"
#include "persistence/postgres/pg_store_impl.h"
#include "persistence/store_rows.h"

namespace music::persistence::pg_internal {
namespace {

static_assert(music::v1::TASK_STATE_SUCCEEDED == 3 && music::v1::TASK_STATE_FAILED == 4 &&
                  music::v1::TASK_STATE_CANCELED == 5,
              "update kListActiveSql and the tasks_active index");

// ON CONFLICT DO NOTHING: a taken task_id or (tenant, request_id) inserts nothing and leaves the
// transaction usable, so the request id can be looked up next.
constexpr char kInsertTaskSql[] =
    "INSERT INTO tasks (task_id, tenant, request_id, request_fingerprint, state, kind, provider, "
    "provider_task_id, submission, attempts, next_action_us, deadline_us, unknown_since_us, "
    "create_time_us, update_time_us, version, task, poll_url, reference_artifact_id, "
    "provider_endpoint, traceparent, archive_pending, lease_owner, lease_token) "
    "VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, $19, "
    "$20, $21, $22, $23, nextval('task_lease_tokens')) ON CONFLICT DO NOTHING RETURNING lease_token";
// $23: the version the caller read. The lease columns are not written: a claim changes them,
// and a write of the driving replica is fenced by them (kFenceSql).
#define MUSIC_PG_UPDATE_TASK_SQL \
    "UPDATE tasks SET request_fingerprint = $4, state = $5, kind = $6, provider = $7, " \
    "provider_task_id = $8, submission = $9, attempts = $10, next_action_us = $11, " \
    "deadline_us = $12, unknown_since_us = $13, create_time_us = $14, update_time_us = $15, " \
    "version = $16, task = $17, poll_url = $18, reference_artifact_id = $19, " \
    "provider_endpoint = $20, traceparent = $21, archive_pending = $22 " \
    "WHERE task_id = $1 AND tenant = $2 AND request_id = $3 AND version = $23"
constexpr char kUpdateTaskSql[] = MUSIC_PG_UPDATE_TASK_SQL;
// The driving replica's write: $24 its id, $25 the fencing token it holds.
constexpr char kUpdateFencedTaskSql[] =
    MUSIC_PG_UPDATE_TASK_SQL " AND lease_owner = $24 AND lease_token = $25";
constexpr char kGetSql[] = "SELECT " MUSIC_PG_TASK_COLUMNS " FROM tasks t WHERE t.task_id = $1";
constexpr char kGetByRequestIdSql[] =
    "SELECT " MUSIC_PG_TASK_COLUMNS
    " FROM tasks t WHERE t.tenant = $1 AND t.request_id = $2 AND t.request_id <> ''";
constexpr char kGetKeysSql[] =
    "SELECT version, tenant, request_id, lease_owner, lease_token FROM tasks WHERE task_id = $1";
constexpr char kDeleteClipsSql[] = "DELETE FROM task_clips WHERE task_id = $1";
constexpr char kInsertClipSql[] =
    "INSERT INTO task_clips (clip_id, task_id, tenant) VALUES ($1, $2, $3) ON CONFLICT DO NOTHING";
// A clip id shared by several tasks resolves to the oldest of them.
constexpr char kFindByClipIdSql[] =
    "SELECT " MUSIC_PG_TASK_COLUMNS
    " FROM task_clips c JOIN tasks t ON t.task_id = c.task_id "
    "WHERE c.tenant = $1 AND c.clip_id = $2 ORDER BY t.create_time_us, t.task_id LIMIT 1";
constexpr char kFindByProviderTaskIdSql[] =
    "SELECT " MUSIC_PG_TASK_COLUMNS
    " FROM tasks t WHERE t.provider = $1 AND t.provider_task_id = $2 "
    "ORDER BY t.create_time_us, t.task_id LIMIT 1";
constexpr char kListActiveSql[] =
    "SELECT " MUSIC_PG_TASK_COLUMNS
    " FROM tasks t WHERE t.state NOT IN (3, 4, 5) ORDER BY t.create_time_us, t.task_id LIMIT $1";

}  // namespace

PostgresStore::PostgresStore(ConnectOptions options, int connections, std::string replica_id,
                             absl::Duration lease_ttl)
    : replica_id_(std::move(replica_id)),
      lease_ttl_(lease_ttl),
      pool_(std::move(options), connections) {}

absl::StatusOr<CreateResult> PostgresStore::Create(const domain::TaskRecord& record) {
  return Create(record, {});
}

absl::StatusOr<CreateResult> PostgresStore::Create(
    const domain::TaskRecord& record, absl::Span<const billing::BillingTransaction> ledger) {
  absl::StatusOr<std::string> blob = store_rows::NewTaskBlob(record);
  if (!blob.ok()) return blob.status();
  for (const billing::BillingTransaction& t : ledger) {
    if (absl::Status s = store_rows::CheckLedgerRow(t); !s.ok()) return s;
  }
  absl::StatusOr<CreateResult> result = absl::UnknownError("create did not run");
  const absl::Status status = pool_.Transact([&](Connection& c) {
    result = CreateIn(c, record, *blob);
    // A request_id that returned an existing task adds no reservation: the first create made it.
    if (result.ok() && result->created) {
      if (absl::Status s = AppendLedger(c, ledger); !s.ok()) result = s;
    }
    return result.status();
  });
  if (!status.ok()) return status;
  return result;
}

absl::StatusOr<domain::TaskRecord> PostgresStore::Get(absl::string_view task_id) {
  return QueryTask(kGetSql, Params().Add(task_id), absl::StrCat("task ", task_id));
}

absl::Status PostgresStore::Update(const domain::TaskRecord& record) { return Update(record, {}); }

absl::Status PostgresStore::Update(const domain::TaskRecord& record,
                                   absl::Span<const billing::BillingTransaction> ledger) {
  absl::StatusOr<std::string> blob = store_rows::UpdatedTaskBlob(record);
  if (!blob.ok()) return blob.status();
  for (const billing::BillingTransaction& t : ledger) {
    if (absl::Status s = store_rows::CheckLedgerRow(t); !s.ok()) return s;
  }
  return pool_.Transact([&](Connection& c) {
    // The task row first: a failed version check writes no ledger row.
    absl::Status status = UpdateIn(c, record, *blob);
    if (status.ok()) status = AppendLedger(c, ledger);
    return status;
  });
}

absl::StatusOr<ListPage> PostgresStore::List(const ListQuery& query) {
  if (query.page_size < 1) {
    return absl::InvalidArgumentError(
        absl::StrCat("page_size must be >= 1, not ", query.page_size));
  }
  Params params;
  params.Add(query.tenant);
  std::string sql = "SELECT " MUSIC_PG_TASK_COLUMNS " FROM tasks t WHERE t.tenant = $1";
  if (query.state != music::v1::TASK_STATE_UNSPECIFIED) {
    params.Add(int64_t{query.state});
    absl::StrAppend(&sql, " AND t.state = $", params.size());
  }
  if (query.kind != music::v1::TASK_KIND_UNSPECIFIED) {
    params.Add(int64_t{query.kind});
    absl::StrAppend(&sql, " AND t.kind = $", params.size());
  }
  if (query.after.has_value()) {
    params.Add(store_rows::ToMicros(query.after->create_time)).Add(query.after->task_id);
    absl::StrAppend(&sql, " AND (t.create_time_us, t.task_id) < ($", params.size() - 1, "::bigint, $",
                    params.size(), "::text)");
  }
  params.Add(static_cast<int64_t>(query.page_size) + 1);
  absl::StrAppend(&sql, " ORDER BY t.create_time_us DESC, t.task_id DESC LIMIT $", params.size());
  absl::StatusOr<std::vector<domain::TaskRecord>> records = QueryTasks(sql, params);
  if (!records.ok()) return records.status();
  ListPage page;
  page.records = *std::move(records);
  if (page.records.size() > static_cast<size_t>(query.page_size)) {
    page.records.resize(static_cast<size_t>(query.page_size));
    page.has_more = true;
  }
  return page;
}

absl::StatusOr<std::vector<domain::TaskRecord>> PostgresStore::ListActive(int limit) {
  if (limit < 1) return absl::InvalidArgumentError(absl::StrCat("limit must be >= 1: ", limit));
  return QueryTasks(kListActiveSql, Params().Add(int64_t{limit}));
}

absl::StatusOr<std::vector<domain::TaskRecord>> PostgresStore::ListArchivePending(
    const ArchivePendingQuery& query) {
  if (query.limit < 1) {
    return absl::InvalidArgumentError(absl::StrCat("limit must be >= 1: ", query.limit));
  }
  Params params;
  params.Add(store_rows::ToMicros(query.created_after));
  std::string sql = "SELECT " MUSIC_PG_TASK_COLUMNS
                    " FROM tasks t WHERE t.archive_pending AND t.create_time_us >= $1";
  if (query.after.has_value()) {
    params.Add(store_rows::ToMicros(query.after->create_time)).Add(query.after->task_id);
    sql += " AND (t.create_time_us, t.task_id) > ($2::bigint, $3::text)";
  }
  params.Add(int64_t{query.limit});
  absl::StrAppend(&sql, " ORDER BY t.create_time_us, t.task_id LIMIT $", params.size());
  return QueryTasks(sql, params);
}

absl::StatusOr<domain::TaskRecord> PostgresStore::FindByClipId(absl::string_view tenant,
                                                               absl::string_view clip_id) {
  return QueryTask(kFindByClipIdSql, Params().Add(tenant).Add(clip_id),
                   absl::StrCat("clip ", clip_id));
}

absl::StatusOr<domain::TaskRecord> PostgresStore::FindByRequestId(absl::string_view tenant,
                                                                  absl::string_view request_id) {
  if (request_id.empty()) return absl::NotFoundError("empty request_id");
  return QueryTask(kGetByRequestIdSql, Params().Add(tenant).Add(request_id),
                   absl::StrCat("request ", request_id));
}

absl::StatusOr<domain::TaskRecord> PostgresStore::FindByProviderTaskId(
    absl::string_view provider, absl::string_view provider_task_id) {
  if (provider_task_id.empty()) return absl::NotFoundError("empty provider task id");
  return QueryTask(kFindByProviderTaskIdSql, Params().Add(provider).Add(provider_task_id),
                   absl::StrCat("provider task ", provider, "/", provider_task_id));
}

absl::Status PostgresStore::CheckHealth() {
  absl::StatusOr<Pool::Lease> lease = pool_.Acquire(absl::Seconds(2));
  if (!lease.ok()) return lease.status();
  absl::StatusOr<Result> one = (*lease)->Exec("SELECT 1", Params(), "health check");
  return one.status();
}

absl::StatusOr<domain::TaskRecord> PostgresStore::QueryTask(absl::string_view sql,
                                                            const Params& params,
                                                            absl::string_view what) {
  absl::StatusOr<std::vector<domain::TaskRecord>> records = QueryTasks(sql, params);
  if (!records.ok()) return records.status();
  if (records->empty()) return absl::NotFoundError(absl::StrCat(what, " not found"));
  return std::move(records->front());
}

absl::StatusOr<std::vector<domain::TaskRecord>> PostgresStore::QueryTasks(absl::string_view sql,
                                                                          const Params& params) {
  std::vector<domain::TaskRecord> records;
  const absl::Status status = pool_.Read([&](Connection& c) -> absl::Status {
    absl::StatusOr<Result> result = c.Exec(sql, params, "select tasks");
    if (!result.ok()) return result.status();
    records.reserve(static_cast<size_t>(result->rows()));
    for (int row = 0; row < result->rows(); ++row) {
      absl::StatusOr<domain::TaskRecord> record = DecodeTaskRow(*result, row);
      if (!record.ok()) return record.status();
      records.push_back(*std::move(record));
    }
    return absl::OkStatus();
  });
  if (!status.ok()) return status;
  return records;
}

absl::StatusOr<CreateResult> PostgresStore::CreateIn(Connection& c,
                                                     const domain::TaskRecord& record,
                                                     const std::string& blob) {
  Params params;
  AddTaskColumns(params, record, blob);
  params.Add(replica_id_);  // the creating replica drives the task
  absl::StatusOr<Result> inserted = c.Exec(kInsertTaskSql, params, "insert task");
  if (!inserted.ok()) return inserted.status();
  if (inserted->rows() == 0) {
    // Which key is taken? The request id wins: a retried Create gets the original task.
    if (!record.task.request_id().empty()) {
      absl::StatusOr<Result> existing =
          c.Exec(kGetByRequestIdSql,
                 Params().Add(record.task.tenant()).Add(record.task.request_id()),
                 "select task by request id");
      if (!existing.ok()) return existing.status();
      if (existing->rows() > 0) {
        absl::StatusOr<domain::TaskRecord> stored = DecodeTaskRow(*existing, 0);
        if (!stored.ok()) return stored.status();
        return CreateResult{*std::move(stored), false};
      }
    }
    return absl::AlreadyExistsError(
        absl::StrCat("task ", record.task.task_id(), " already exists"));
  }
  if (absl::Status s = IndexClips(c, record.task, /*replace=*/false); !s.ok()) return s;
  CreateResult created{record, true};
  absl::StatusOr<int64_t> token = inserted->Int64(0, 0);
  if (!token.ok()) return token.status();
  created.record.lease = domain::TaskLease{replica_id_, *token};
  return created;
}

absl::Status PostgresStore::UpdateIn(Connection& c, const domain::TaskRecord& record,
                                     const std::string& blob) {
  const int64_t expected_version = record.task.version() - 1;
  // Fenced when this replica writes as the task's driver (the lease it read is its own).
  const bool fenced = record.lease.token != 0 && record.lease.owner == replica_id_;
  Params params;
  AddTaskColumns(params, record, blob);
  params.Add(expected_version);
  if (fenced) params.Add(record.lease.owner).Add(record.lease.token);
  absl::StatusOr<Result> updated =
      c.Exec(fenced ? kUpdateFencedTaskSql : kUpdateTaskSql, params, "update task");
  if (!updated.ok()) return updated.status();
  if (updated->affected() == 0) {
    return ExplainNoUpdate(c, record, expected_version, fenced);
  }
  return IndexClips(c, record.task, /*replace=*/true);
}

absl::Status PostgresStore::ExplainNoUpdate(Connection& c, const domain::TaskRecord& record,
                                            int64_t expected_version, bool fenced) {
  const music::v1::Task& task = record.task;
  absl::StatusOr<Result> keys = c.Exec(kGetKeysSql, Params().Add(task.task_id()), "select task");
  if (!keys.ok()) return keys.status();
  if (keys->rows() == 0) {
    return absl::NotFoundError(absl::StrCat("task ", task.task_id(), " not found"));
  }
  absl::StatusOr<int64_t> stored_version = keys->Int64(0, 0);
  if (!stored_version.ok()) return stored_version.status();
  if (*stored_version != expected_version) {
    return absl::AbortedError(absl::StrCat("task ", task.task_id(), " is at version ",
                                           *stored_version, ", not ", expected_version));
  }
  if (fenced) {
    absl::StatusOr<int64_t> token = keys->Int64(0, 4);
    if (!token.ok()) return token.status();
    if (keys->Text(0, 3) != record.lease.owner || *token != record.lease.token) {
      return LeaseLostError(absl::StrCat("task ", task.task_id(), " is driven by replica ",
                                         keys->Text(0, 3), " now (lease ", *token, ", not ",
                                         record.lease.token, ")"));
    }
  }
  return absl::InvalidArgumentError(
      absl::StrCat("task ", task.task_id(), ": tenant and request_id cannot change (stored ",
                   keys->Text(0, 1), "/", keys->Text(0, 2), ")"));
}

absl::Status PostgresStore::IndexClips(Connection& c, const music::v1::Task& task, bool replace) {
  if (replace) {
    absl::StatusOr<Result> deleted =
        c.Exec(kDeleteClipsSql, Params().Add(task.task_id()), "delete clips");
    if (!deleted.ok()) return deleted.status();
  }
  for (const music::v1::Clip& clip : task.clips()) {
    if (clip.clip_id().empty()) continue;
    absl::StatusOr<Result> inserted = c.Exec(
        kInsertClipSql, Params().Add(clip.clip_id()).Add(task.task_id()).Add(task.tenant()),
        "insert clip");
    if (!inserted.ok()) return inserted.status();
  }
  return absl::OkStatus();
}

}  // namespace music::persistence::pg_internal
