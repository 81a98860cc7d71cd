#ifndef MUSIC_PERSISTENCE_TASK_STORE_H_
#define MUSIC_PERSISTENCE_TASK_STORE_H_

#include <optional>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "absl/types/span.h"
#include "domain/task_record.h"
#include "domain/billing_types.h"
#include "persistence/commit_stats.h"

namespace music::persistence {

/// Result of TaskStore::Create.
struct CreateResult {
  /// The stored record: the new one, or the existing one with the same (tenant, request_id).
  domain::TaskRecord record;
  /// True when this call inserted the record.
  bool created = false;
};

/// Where a ListTasks page starts: strictly after (older than) this task in newest-first order.
struct ListCursor {
  absl::Time create_time;
  std::string task_id;
};

/// A ListTasks query. Order: create_time descending, then task_id descending.
struct ListQuery {
  std::string tenant;
  /// TASK_STATE_UNSPECIFIED: any state.
  music::v1::TaskState state = music::v1::TASK_STATE_UNSPECIFIED;
  /// TASK_KIND_UNSPECIFIED: any kind.
  music::v1::TaskKind kind = music::v1::TASK_KIND_UNSPECIFIED;
  /// At most this many records (>= 1).
  int page_size = 50;
  std::optional<ListCursor> after;
};

/// One page of ListTasks.
struct ListPage {
  std::vector<domain::TaskRecord> records;
  /// True when more records match after the last one returned.
  bool has_more = false;
};

/// A ListArchivePending query. Order: create_time ascending, then task_id ascending.
struct ArchivePendingQuery {
  /// Only tasks created at or after this (older ones are past the providers' media expiry).
  absl::Time created_after = absl::InfinitePast();
  /// Strictly after this task in that order; nullopt: from the start.
  std::optional<ListCursor> after;
  /// At most this many records (>= 1).
  int limit = 100;
};

/// Durable task storage. Implementations are thread-safe; every method is one atomic transaction.
/// Methods block on I/O: call them from the service's worker threads, never from a gRPC reaction.
class TaskStore {
 public:
  virtual ~TaskStore() = default;

  /// Inserts `record` (its task.version must be 1). When record.task.request_id is non-empty and a
  /// task of the same tenant already has it, inserts nothing and returns that task with
  /// created=false (the caller compares fingerprints). Clip ids of record.task.clips are indexed.
  /// Errors: ALREADY_EXISTS when task_id is taken; INVALID_ARGUMENT when version != 1; INTERNAL /
  /// UNAVAILABLE on storage failures.
  virtual absl::StatusOr<CreateResult> Create(const domain::TaskRecord& record) = 0;

  /// Create that also appends `ledger` rows (the task's RESERVE) in the same transaction; when the
  /// request_id returns an existing task (created=false) nothing is appended. ALREADY_EXISTS when
  /// a row's billing_transaction_id is taken. The default supports only an empty ledger
  /// (UNIMPLEMENTED otherwise): stores without billing.
  virtual absl::StatusOr<CreateResult> Create(
      const domain::TaskRecord& record, absl::Span<const billing::BillingTransaction> ledger) {
    if (!ledger.empty()) return absl::UnimplementedError("this store keeps no ledger");
    return Create(record);
  }

  /// Returns the task. NOT_FOUND when there is none.
  virtual absl::StatusOr<domain::TaskRecord> Get(absl::string_view task_id) = 0;

  /// Replaces the stored record with `record` if and only if the stored version is
  /// record.task.version() - 1 (optimistic concurrency: of two writers from the same version, one
  /// wins). Re-indexes the clip ids. Errors: NOT_FOUND; ABORTED when the version does not match.
  virtual absl::Status Update(const domain::TaskRecord& record) = 0;

  /// Update that also appends `ledger` rows (SETTLE / REFUND) in the same transaction: both or
  /// neither (a failed version check writes no row). ALREADY_EXISTS when a row's
  /// billing_transaction_id is taken (the task was already settled or refunded). The default
  /// supports only an empty ledger.
  virtual absl::Status Update(const domain::TaskRecord& record,
                              absl::Span<const billing::BillingTransaction> ledger) {
    if (!ledger.empty()) return absl::UnimplementedError("this store keeps no ledger");
    return Update(record);
  }

  /// Lists tasks of query.tenant, newest first.
  virtual absl::StatusOr<ListPage> List(const ListQuery& query) = 0;

  /// Every non-terminal task (any tenant), oldest first, at most `limit`. Used on start-up to
  /// resume work.
  virtual absl::StatusOr<std::vector<domain::TaskRecord>> ListActive(int limit) = 0;

  /// Succeeded tasks whose clips still have media to archive (domain::ArchivePending, any
  /// tenant), for the archiver's sweeper. INVALID_ARGUMENT when query.limit < 1. The default is
  /// UNIMPLEMENTED: a store without that index (the sweeper then finds nothing to resume).
  virtual absl::StatusOr<std::vector<domain::TaskRecord>> ListArchivePending(
      const ArchivePendingQuery& query) {
    (void)query;
    return absl::UnimplementedError("this store keeps no archive index");
  }

  /// The task of `tenant` that has a clip with this id. NOT_FOUND when there is none.
  virtual absl::StatusOr<domain::TaskRecord> FindByClipId(absl::string_view tenant,
                                                  absl::string_view clip_id) = 0;

  /// The task of `tenant` created with this request_id (AIP-155). NOT_FOUND when there is none
  /// (and for an empty request_id). The default is UNIMPLEMENTED: a store without that lookup.
  virtual absl::StatusOr<domain::TaskRecord> FindByRequestId(absl::string_view tenant,
                                                             absl::string_view request_id) {
    (void)tenant;
    (void)request_id;
    return absl::UnimplementedError("this store has no request_id lookup");
  }

  /// The task a provider knows by this id. NOT_FOUND when there is none.
  virtual absl::StatusOr<domain::TaskRecord> FindByProviderTaskId(absl::string_view provider,
                                                          absl::string_view provider_task_id) = 0;

  /// Counters of the write path (transactions, writes per transaction, commit time), for metrics;
  /// cheap (a copy under a short lock). nullopt: this store keeps none.
  virtual std::optional<CommitStats> GetCommitStats() const { return std::nullopt; }

  /// Whether the store can take writes now, for the server's health: OK, or UNAVAILABLE saying
  /// why (SQLite: its file was deleted or replaced). Cheap (no query); thread-safe.
  virtual absl::Status CheckHealth() { return absl::OkStatus(); }
};

}  // namespace music::persistence

#endif  // MUSIC_PERSISTENCE_TASK_STORE_H_
