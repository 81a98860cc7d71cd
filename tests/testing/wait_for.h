#ifndef MUSIC_TESTS_TESTING_WAIT_FOR_H_
#define MUSIC_TESTS_TESTING_WAIT_FOR_H_

#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <functional>
#include <string>

#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "domain/clock.h"

namespace music {

/// For end-to-end tests that wait on real I/O (another process, a socket, a server's threads):
/// polls `condition` every `interval` of real time until it holds or `timeout` has passed. At the
/// deadline it fails the test (naming `what`) and returns false; callers ASSERT on the result
/// when the rest of the test needs the condition. Unit tests never need it: they drive the
/// engine with a FakeClock and a ManualExecutor.
inline bool WaitFor(const std::function<bool()>& condition, absl::Duration timeout,
                    const std::string& what = "condition",
                    absl::Duration interval = absl::Milliseconds(5)) {
  const Clock* clock = RealClock::Get();
  const absl::Time deadline = clock->Now() + timeout;
  while (true) {
    if (condition()) return true;
    if (clock->Now() >= deadline) break;
    absl::SleepFor(interval);
  }
  if (condition()) return true;
  ADD_FAILURE() << "timed out after " << absl::FormatDuration(timeout) << " waiting for " << what;
  return false;
}

/// What a fake HTTP server does to be slow (a latency it injects, not a test waiting for
/// something): blocks the calling handler thread up to `delay` of real time, returning early once
/// `stop` is set (so a server's shutdown is not held up).
inline void ServerDelay(absl::Duration delay, const std::atomic<bool>& stop) {
  const Clock* clock = RealClock::Get();
  const absl::Time end = clock->Now() + delay;
  while (!stop && clock->Now() < end) {
    absl::SleepFor(std::min(absl::Milliseconds(5), end - clock->Now()));
  }
}

}  // namespace music

#endif  // MUSIC_TESTS_TESTING_WAIT_FOR_H_
