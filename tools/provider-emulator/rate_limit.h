// A provider account's documented request limits, as the provider enforces them: a request over
// the limit is refused (kie.ai answers 429), never queued (CONTRACT-NOTES.md, kie.ai "Limits": "20
// new generation requests per 10 s per account (excess answered 429, not queued)"; record-info "is
// limited to 3 requests/s per task").
#ifndef MUSIC_TOOLS_PROVIDER_EMULATOR_RATE_LIMIT_H_
#define MUSIC_TOOLS_PROVIDER_EMULATOR_RATE_LIMIT_H_

#include <deque>
#include <string>

#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_map.h"
#include "absl/strings/string_view.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"

namespace music::emulator {

/// At most `limit` admitted requests per key in any sliding `window` (the times are the caller's
/// clock, so a FakeClock drives it in tests). Refused requests do not count. Thread-safe.
class SlidingWindowLimit {
 public:
  SlidingWindowLimit(int limit, absl::Duration window) : limit_(limit), window_(window) {}

  /// True, and counted, when `key` has had fewer than `limit` admitted requests in
  /// (now - window, now]; false (not counted) otherwise. `limit` <= 0 admits everything.
  bool Admit(absl::string_view key, absl::Time now);

 private:
  const int limit_;
  const absl::Duration window_;
  absl::Mutex mu_;
  absl::flat_hash_map<std::string, std::deque<absl::Time>> admitted_ ABSL_GUARDED_BY(mu_);
};

}  // namespace music::emulator

#endif  // MUSIC_TOOLS_PROVIDER_EMULATOR_RATE_LIMIT_H_
