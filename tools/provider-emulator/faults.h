#ifndef MUSIC_TOOLS_PROVIDER_EMULATOR_FAULTS_H_
#define MUSIC_TOOLS_PROVIDER_EMULATOR_FAULTS_H_

#include <cstdint>
#include <optional>
#include <random>
#include <string>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "absl/strings/string_view.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "tools/provider-emulator/emulator.h"

namespace music::emulator {

/// How a create request is answered before it is validated.
enum class CreateRejection { kNone, kRateLimited, kServerError };

/// Faults drawn for one create request.
struct CreateFaults {
  CreateRejection rejection = CreateRejection::kNone;
  bool slow = false;       ///< Wait slow_delay, then answer.
  bool malformed = false;  ///< Create the task, answer a truncated body.
};

/// Faults drawn for one poll.
struct PollFaults {
  bool server_error = false;
  bool malformed = false;
  bool slow = false;
};

/// Faults drawn once for a task, at its creation.
struct TaskFaults {
  bool no_audio = false;
  bool lose_callbacks = false;
  bool duplicate_callbacks = false;
  bool reorder_callbacks = false;
  bool generate_failed = false;  ///< GENERATE_AUDIO_FAILED (lyrics: GENERATE_LYRICS_FAILED).
  bool sensitive_word = false;   ///< SENSITIVE_WORD_ERROR.
};

/// Per-task overrides written into a request's prompt, lyrics, style or title text as
/// `[emu:NAME]` or `[emu:NAME=VALUE]`. Unknown names are ignored.
struct Directives {
  std::string fail_status;  ///< fail=STATUS, e.g. GENERATE_AUDIO_FAILED.
  bool no_audio = false;
  bool lose_callbacks = false;
  bool duplicate_callbacks = false;
  bool reorder_callbacks = false;
  int malformed_polls = 0;  ///< malformed_poll[=N]: the task's first N polls (default 1).
  bool slow_create = false;
  bool malformed_create = false;
  std::optional<absl::Duration> duration;  ///< duration_ms=N.
  /// create_error=NAME: answer the create with a provider-specific error shape instead of a task
  /// (e.g. PiAPI "10000", beatra "insufficient_balance" / "rate_limited", TokenLab "402" /
  /// "429"). Each contract documents the names it knows; unknown names are ignored.
  std::string create_error;
  /// task_error=NAME: the task is created and later fails with this provider-specific error.
  std::string task_error;
  /// task_error_once=NAME: like task_error, but only the first task made from a request body
  /// fails; a later create with the same body (a client's resubmission under a new idempotency
  /// key) makes a task that succeeds. beatra only.
  std::string task_error_once;
};

/// Adds the directives found in `text` to `out` (later ones win).
void ParseDirectives(absl::string_view text, Directives* out);

/// Validates rates (in [0,1]), counts (>= 0) and slow_delay (>= 0).
absl::Status ValidateFaultConfig(const FaultConfig& config);

/// Draws faults from a FaultConfig with a seeded generator. Every Next* call draws a fixed number
/// of values whatever the rates, so changing one rate does not shift the others' sequence.
class FaultInjector {
 public:
  explicit FaultInjector(const FaultConfig& config);

  /// Replaces the configuration and re-seeds.
  void Set(const FaultConfig& config);
  /// The configuration, with the remaining counts.
  FaultConfig Get() const;
  /// How long slow answers wait.
  absl::Duration slow_delay() const;

  /// Faults of the next create request; consumes create_429_count, then create_500_count.
  CreateFaults NextCreate();
  /// True (and one of the count consumed) when the next kie.ai create answers 402.
  bool TakeKie402();
  /// Whether kie.ai refuses every key (FaultConfig::kie_key_refused).
  bool kie_key_refused() const;
  /// Faults of the next poll.
  PollFaults NextPoll();
  /// Faults of a new task.
  TaskFaults NextTask();

 private:
  bool Draw(double rate) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  mutable absl::Mutex mu_;
  FaultConfig config_ ABSL_GUARDED_BY(mu_);
  std::mt19937_64 rng_ ABSL_GUARDED_BY(mu_);
};

}  // namespace music::emulator

#endif  // MUSIC_TOOLS_PROVIDER_EMULATOR_FAULTS_H_
