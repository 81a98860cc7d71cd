#ifndef MUSIC_TESTS_FUZZ_FUZZ_CHECKS_H_
#define MUSIC_TESTS_FUZZ_FUZZ_CHECKS_H_

// What the fuzz targets check of a parser's answer beyond "no crash": the result is read whole
// (so ASan sees every byte of it) and is consistent with itself. A violation aborts, which
// libFuzzer reports as a crash with its input.
#include <cstdio>
#include <cstdlib>
#include <string>

#include "absl/status/statusor.h"
#include "adapters/provider_adapter.h"

namespace music::fuzz {

[[noreturn]] inline void Fail(const char* what) {
  std::fprintf(stderr, "fuzz check failed: %s\n", what);
  std::abort();
}

/// Reads a parsed string whole; an error must carry a message (the caller is told why).
inline void Touch(const absl::StatusOr<std::string>& s) {
  if (!s.ok()) {
    if (s.status().message().empty()) Fail("an error without a message");
    return;
  }
  volatile size_t sum = 0;
  for (char c : *s) sum = sum + static_cast<unsigned char>(c);
}

/// Reads a parsed update whole and checks what every parser promises: a state the enum knows and
/// clips that serialize.
inline void CheckUpdate(const absl::StatusOr<adapters::ProviderUpdate>& u) {
  if (!u.ok()) {
    if (u.status().message().empty()) Fail("an error without a message");
    return;
  }
  switch (u->state) {
    case adapters::ProviderState::kPending:
    case adapters::ProviderState::kRunning:
    case adapters::ProviderState::kSucceeded:
    case adapters::ProviderState::kFailed:
    case adapters::ProviderState::kCanceled:
      break;
    default:
      Fail("a state outside ProviderState");
  }
  for (const music::v1::Clip& clip : u->clips) {
    std::string bytes;
    if (!clip.SerializeToString(&bytes)) Fail("a clip that does not serialize");
  }
  volatile size_t sum = u->provider_task_id.size() + u->provider_status.size();
  (void)sum;
}

}  // namespace music::fuzz

#endif  // MUSIC_TESTS_FUZZ_FUZZ_CHECKS_H_
