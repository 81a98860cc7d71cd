// tools/ci-gates (stage "tsan") builds this twice with -fsanitize=thread before trusting the TSan
// run: as is, two threads bump a counter under absl::MutexLock, which must run clean (TSan sees
// absl::Mutex: Abseil instrumented); with -DTSAN_PROBE_RACY the lock is left out, which TSan must
// report (TSan is live). Against Debian's uninstrumented libabsl the locked version is reported as
// a race, which is why the stage runs on an Abseil built with TSan.
#include <thread>

#include "absl/synchronization/mutex.h"

namespace {
absl::Mutex mu;
long counter = 0;  // guarded by mu (unless TSAN_PROBE_RACY)

void Work() {
  for (int i = 0; i < 100000; ++i) {
#ifndef TSAN_PROBE_RACY
    absl::MutexLock lock(&mu);
#endif
    ++counter;
  }
}
}  // namespace

int main() {
  std::thread a(Work);
  std::thread b(Work);
  a.join();
  b.join();
  return 0;
}
