// Group commit on the store's one writer connection: callers queue their writes, one of them (the
// leader) runs every queued write in one BEGIN IMMEDIATE .. COMMIT, each in its own SAVEPOINT, and
// answers them all after the one fsync. Internal to persistence/sqlite.
//
// Why a leader among the callers and not a writer thread: no thread to start or stop, nothing to
// hand over, and a single caller (the engine's tests, a quiet server) commits on its own thread at
// once. Batches form while the previous commit is in flight (its fsync is what the others wait
// for); nothing waits on a timer to collect writes.
#ifndef MUSIC_PERSISTENCE_SQLITE_SQLITE_GROUP_COMMIT_H_
#define MUSIC_PERSISTENCE_SQLITE_SQLITE_GROUP_COMMIT_H_

#include <cstddef>
#include <deque>
#include <functional>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/functional/function_ref.h"
#include "absl/status/status.h"
#include "absl/synchronization/mutex.h"
#include "persistence/commit_stats.h"
#include "persistence/sqlite/sqlite_db.h"

namespace music::persistence::sqlite_internal {

/// How large a batch may grow. A write larger than max_bytes still goes, alone.
struct GroupCommitLimits {
  int max_writes = 256;                ///< >= 1
  size_t max_bytes = size_t{8} << 20;  ///< Sum of the writes' estimated sizes, bytes.
};

/// Thread-safe. Owns the writer connection; nothing else may use it.
class GroupCommitter {
 public:
  /// One write: statements on the writer connection inside the batch's transaction. Its error
  /// rolls back its own changes only (ROLLBACK TO its savepoint). It must not BEGIN, COMMIT or
  /// ROLLBACK, and may run on another caller's thread.
  using WriteFn = absl::FunctionRef<absl::Status(SqliteDb& db)>;

  /// Runs before every transaction, outside the queue lock; its error fails the whole batch
  /// without touching the file (the store's check that the file is still the one it opened).
  using Precheck = std::function<absl::Status()>;

  /// `precheck` may be empty.
  GroupCommitter(Connection writer, GroupCommitLimits limits, Precheck precheck = nullptr);
  GroupCommitter(const GroupCommitter&) = delete;
  GroupCommitter& operator=(const GroupCommitter&) = delete;

  /// Queues `apply` (about `bytes` large) and returns once its transaction ended: its own status
  /// when the transaction committed (OK: durable), else the transaction's error (BEGIN or COMMIT
  /// failed, or a write's error rolled back the whole transaction, e.g. SQLITE_FULL or an I/O
  /// error; then no write of the batch is stored).
  absl::Status Write(WriteFn apply, size_t bytes) ABSL_LOCKS_EXCLUDED(mu_, writer_mu_);

  /// A copy of the counters.
  CommitStats Stats() const ABSL_LOCKS_EXCLUDED(mu_);

  /// Test seam: `hook(n)` runs on the leader's thread after it took a batch of n writes and
  /// before BEGIN, outside every lock; while it blocks, writes queue up. Empty: none.
  void SetBatchHookForTesting(std::function<void(int)> hook) ABSL_LOCKS_EXCLUDED(mu_);
  /// Test seam: blocks until at least `n` writes wait in the queue (not yet taken by a leader).
  void AwaitQueuedForTesting(int n) ABSL_LOCKS_EXCLUDED(mu_);

 private:
  struct PendingWrite;
  // What RunBatch found, for the counters.
  struct BatchOutcome {
    bool committed = false;
    absl::Duration duration;
  };

  // Takes the front of the queue up to the limits (at least one write).
  std::vector<PendingWrite*> TakeBatch() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Runs the batch in one transaction and sets every write's status.
  BatchOutcome RunBatch(const std::vector<PendingWrite*>& batch) ABSL_LOCKS_EXCLUDED(mu_)
      ABSL_LOCKS_EXCLUDED(writer_mu_);
  // Runs one write in its savepoint; an error other than the write's own ends the batch.
  absl::Status RunInSavepoint(PendingWrite& write) ABSL_EXCLUSIVE_LOCKS_REQUIRED(writer_mu_);
  void Record(const std::vector<PendingWrite*>& batch, const BatchOutcome& outcome)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  const GroupCommitLimits limits_;
  const Precheck precheck_;

  mutable absl::Mutex mu_;
  std::deque<PendingWrite*> queue_ ABSL_GUARDED_BY(mu_);
  // A leader is running a batch; the others wait.
  bool leading_ ABSL_GUARDED_BY(mu_) = false;
  CommitStats stats_ ABSL_GUARDED_BY(mu_);
  std::function<void(int)> batch_hook_ ABSL_GUARDED_BY(mu_);

  // Held by the leader for its transaction; only a leader takes it, so it is never contended.
  // It is here for the thread-safety analysis of the connection.
  absl::Mutex writer_mu_;
  SqliteDb writer_ ABSL_GUARDED_BY(writer_mu_);
};

}  // namespace music::persistence::sqlite_internal

#endif  // MUSIC_PERSISTENCE_SQLITE_SQLITE_GROUP_COMMIT_H_
