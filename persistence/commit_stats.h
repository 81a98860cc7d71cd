// Counters of a store's write path (group commit): how many transactions, how many writes each
// carried and how long they took. Plain numbers for metrics exporters and benchmarks.
#ifndef MUSIC_PERSISTENCE_COMMIT_STATS_H_
#define MUSIC_PERSISTENCE_COMMIT_STATS_H_

#include <array>
#include <cstdint>

#include "absl/time/time.h"

namespace music::persistence {

/// What a store's write path did since it was opened. Counts only grow; take two snapshots and
/// subtract to measure an interval (the maxima are since open).
struct CommitStats {
  /// Log2 buckets: bucket i counts values in [2^i, 2^(i+1)); the last one also counts larger.
  static constexpr int kBuckets = 24;
  using Histogram = std::array<int64_t, kBuckets>;

  /// Index of the bucket holding `value` (values < 1 go to bucket 0).
  static int BucketOf(int64_t value) {
    int bucket = 0;
    while (value > 1 && bucket < kBuckets - 1) {
      value >>= 1;
      ++bucket;
    }
    return bucket;
  }

  /// Transactions committed (each one fsync with synchronous=FULL).
  int64_t commits = 0;
  /// Transactions that failed as a whole (BEGIN or COMMIT failed): every write in them failed.
  int64_t failed_commits = 0;
  /// Writes made durable by a committed transaction.
  int64_t writes_committed = 0;
  /// Writes that failed on their own (version mismatch, taken id, ...) inside a committed
  /// transaction; rolled back alone.
  int64_t writes_rejected = 0;
  /// Writes that failed because their whole transaction failed.
  int64_t writes_failed = 0;
  /// Writes per transaction (committed or failed), in log2 buckets: [0] = 1, [1] = 2-3, ...
  Histogram batch_sizes{};
  /// The most writes one transaction carried.
  int64_t max_batch = 0;
  /// Time from BEGIN to the end of COMMIT (the fsync included), summed over transactions.
  absl::Duration commit_time_total;
  /// The longest transaction.
  absl::Duration commit_time_max;
  /// Transaction durations in microseconds, log2 buckets: [0] = under 2 us, [10] = 1-2 ms, ...
  Histogram commit_micros{};
  /// Time a caller waited from queueing its write to its answer, summed over writes.
  absl::Duration write_wait_total;
  /// The longest such wait.
  absl::Duration write_wait_max;
};

}  // namespace music::persistence

#endif  // MUSIC_PERSISTENCE_COMMIT_STATS_H_
