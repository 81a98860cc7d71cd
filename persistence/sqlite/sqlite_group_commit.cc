#include "persistence/sqlite/sqlite_group_commit.h"

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <utility>

#include "absl/time/time.h"

namespace music::persistence::sqlite_internal {
namespace {

// One savepoint name serves every write: a batch runs its writes one after the other, so at most
// one is open at a time.
constexpr char kSavepointSql[] = "SAVEPOINT write";
constexpr char kReleaseSql[] = "RELEASE write";
constexpr char kRollbackToSql[] = "ROLLBACK TO write";

// Durations of the write path: a steady clock, not the wall clock (that one may jump).
using SteadyClock = std::chrono::steady_clock;

absl::Duration Since(SteadyClock::time_point start) {
  return absl::FromChrono(SteadyClock::now() - start);
}

}  // namespace

struct GroupCommitter::PendingWrite {
  PendingWrite(WriteFn apply_fn, size_t size) : apply(apply_fn), bytes(size) {}
  WriteFn apply;
  size_t bytes;
  // Written by the leader that runs the write, read by its caller after `done`: the hand-over is
  // under mu_.
  absl::Status status;
  // Under mu_ (a field of a caller's stack object, so not annotated).
  bool done = false;
  // Its caller waits here: woken when its batch committed, or when it is at the front of the
  // queue as a batch ends (it leads the next one). One condition variable per write, not one
  // for all: a commit wakes the writes it answered and the next leader, not every waiting
  // thread (with ~100 writers waiting that was ~50 needless wake-ups per commit).
  absl::CondVar wake;
};

GroupCommitter::GroupCommitter(Connection writer, GroupCommitLimits limits, Precheck precheck)
    : limits_(limits), precheck_(std::move(precheck)), writer_(std::move(writer)) {}

absl::Status GroupCommitter::Write(WriteFn apply, size_t bytes) {
  PendingWrite write(apply, bytes);
  const SteadyClock::time_point queued = SteadyClock::now();
  mu_.Lock();
  queue_.push_back(&write);
  while (!write.done) {
    if (leading_) {
      write.wake.Wait(&mu_);
      continue;
    }
    // No batch in flight: this caller leads one, with its own write and whatever queued before
    // it while the previous batch committed.
    leading_ = true;
    const std::vector<PendingWrite*> batch = TakeBatch();
    std::function<void(int)> hook;
    if (batch_hook_) hook = batch_hook_;
    mu_.Unlock();
    if (hook) hook(static_cast<int>(batch.size()));
    const BatchOutcome outcome = RunBatch(batch);
    mu_.Lock();
    Record(batch, outcome);
    leading_ = false;
    // Answers the batch, and lets the next queued caller lead.
    for (PendingWrite* w : batch) {
      w->done = true;
      if (w != &write) w->wake.Signal();
    }
    if (!queue_.empty()) queue_.front()->wake.Signal();
  }
  const absl::Duration waited = Since(queued);
  stats_.write_wait_total += waited;
  stats_.write_wait_max = std::max(stats_.write_wait_max, waited);
  absl::Status status = std::move(write.status);
  mu_.Unlock();
  return status;
}

std::vector<GroupCommitter::PendingWrite*> GroupCommitter::TakeBatch() {
  std::vector<PendingWrite*> batch;
  size_t bytes = 0;
  while (!queue_.empty() && batch.size() < static_cast<size_t>(limits_.max_writes)) {
    PendingWrite* next = queue_.front();
    if (!batch.empty() && bytes + next->bytes > limits_.max_bytes) break;
    bytes += next->bytes;
    batch.push_back(next);
    queue_.pop_front();
  }
  return batch;
}

GroupCommitter::BatchOutcome GroupCommitter::RunBatch(const std::vector<PendingWrite*>& batch) {
  absl::MutexLock lock(&writer_mu_);
  const SteadyClock::time_point start = SteadyClock::now();
  absl::Status status = precheck_ ? precheck_() : absl::OkStatus();
  if (status.ok()) status = writer_.Begin();
  for (PendingWrite* write : batch) {
    if (!status.ok()) break;
    status = RunInSavepoint(*write);
  }
  if (status.ok()) status = writer_.Exec(kCommitSql, "commit");
  if (!status.ok()) {
    // A failed COMMIT (or a failure SQLite did not roll back itself) leaves the transaction
    // open: nothing of the batch may stay.
    if (writer_.InTransaction()) writer_.Exec(kRollbackSql, "rollback").IgnoreError();
    for (PendingWrite* write : batch) write->status = status;
  }
  return BatchOutcome{status.ok(), Since(start)};
}

absl::Status GroupCommitter::RunInSavepoint(PendingWrite& write) {
  if (absl::Status s = writer_.Exec(kSavepointSql, "savepoint"); !s.ok()) return s;
  write.status = write.apply(writer_);
  if (write.status.ok()) return writer_.Exec(kReleaseSql, "release savepoint");
  // On some errors (SQLITE_FULL, I/O errors, ...) SQLite rolls the whole transaction back: the
  // batch's earlier writes are gone too, so the batch fails with this error.
  if (!writer_.InTransaction()) return write.status;
  if (absl::Status s = writer_.Exec(kRollbackToSql, "rollback to savepoint"); !s.ok()) return s;
  return writer_.Exec(kReleaseSql, "release savepoint");
}

void GroupCommitter::Record(const std::vector<PendingWrite*>& batch, const BatchOutcome& outcome) {
  const auto size = static_cast<int64_t>(batch.size());
  if (outcome.committed) {
    ++stats_.commits;
    for (const PendingWrite* write : batch) {
      if (write->status.ok()) {
        ++stats_.writes_committed;
      } else {
        ++stats_.writes_rejected;
      }
    }
  } else {
    ++stats_.failed_commits;
    stats_.writes_failed += size;
  }
  ++stats_.batch_sizes[CommitStats::BucketOf(size)];
  stats_.max_batch = std::max(stats_.max_batch, size);
  stats_.commit_time_total += outcome.duration;
  stats_.commit_time_max = std::max(stats_.commit_time_max, outcome.duration);
  ++stats_.commit_micros[CommitStats::BucketOf(absl::ToInt64Microseconds(outcome.duration))];
}

CommitStats GroupCommitter::Stats() const {
  absl::MutexLock lock(&mu_);
  return stats_;
}

void GroupCommitter::SetBatchHookForTesting(std::function<void(int)> hook) {
  absl::MutexLock lock(&mu_);
  batch_hook_ = std::move(hook);
}

void GroupCommitter::AwaitQueuedForTesting(int n) {
  struct Wanted {
    const std::deque<PendingWrite*>* queue;
    size_t n;
  };
  absl::MutexLock lock(&mu_);
  Wanted wanted{&queue_, static_cast<size_t>(std::max(n, 0))};
  // A condition, not a write's CondVar: writers do not signal on every enqueue for this seam.
  mu_.Await(absl::Condition(
      +[](Wanted* w) { return w->queue->size() >= w->n; }, &wanted));
}

}  // namespace music::persistence::sqlite_internal
