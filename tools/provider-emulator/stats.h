#ifndef MUSIC_TOOLS_PROVIDER_EMULATOR_STATS_H_
#define MUSIC_TOOLS_PROVIDER_EMULATOR_STATS_H_

#include <cstdint>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"
#include "tools/provider-emulator/emulator.h"

namespace music::emulator {

/// Thread-safe EmulatorStats counters: `stats.Add(&EmulatorStats::polls)`.
class StatsRecorder {
 public:
  /// Adds `n` to one counter.
  void Add(int64_t EmulatorStats::*counter, int64_t n = 1) {
    absl::MutexLock lock(&mu_);
    stats_.*counter += n;
  }
  /// A copy of every counter.
  EmulatorStats Snapshot() const {
    absl::MutexLock lock(&mu_);
    return stats_;
  }

 private:
  mutable absl::Mutex mu_;
  EmulatorStats stats_ ABSL_GUARDED_BY(mu_);
};

}  // namespace music::emulator

#endif  // MUSIC_TOOLS_PROVIDER_EMULATOR_STATS_H_
