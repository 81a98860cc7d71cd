#ifndef MUSIC_SERVICE_CORE_TASK_ENGINE_H_
#define MUSIC_SERVICE_CORE_TASK_ENGINE_H_

#include <atomic>
#include <functional>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "adapters/http/http_types.h"
#include "adapters/http/reference_audio_fetcher.h"
#include "adapters/provider_adapter.h"
#include "persistence/task_store.h"
#include "service/core/catalog.h"
#include "service/core/circuit_breaker.h"
#include "domain/clock.h"
#include "service/core/executor.h"
#include "service/core/thread_pool.h"
#include "service/core/watch_hub.h"

namespace music::service {

/// The provider adapters of this deployment, by provider name ("kie").
class ProviderRegistry {
 public:
  void Add(std::shared_ptr<adapters::ProviderAdapter> adapter) {
    const std::string name = adapter->provider();
    adapters_[name] = std::move(adapter);
  }
  /// The adapter for `provider`, or nullptr.
  adapters::ProviderAdapter* Find(absl::string_view provider) const {
    auto it = adapters_.find(std::string(provider));
    return it == adapters_.end() ? nullptr : it->second.get();
  }

 private:
  std::map<std::string, std::shared_ptr<adapters::ProviderAdapter>> adapters_;
};

/// How the engine drives tasks. Durations are wall-clock (or FakeClock) time.
struct EngineOptions {
  /// Time between polls of a running task (the seeds recommend 5-10 s). Never below
  /// kMinPollInterval (kie.ai allows 3 record-info requests/s per task).
  absl::Duration poll_interval = absl::Seconds(7);
  /// A task not terminal this long after creation fails with DEADLINE_EXCEEDED.
  absl::Duration task_deadline = absl::Minutes(30);
  /// Backoff of failed submissions and polls: initial * 2^(n-1), capped, with jitter; a
  /// provider's Retry-After wins when longer.
  absl::Duration backoff_initial = absl::Milliseconds(500);
  absl::Duration backoff_max = absl::Seconds(60);
  /// Submission attempts (retryable failures) before the task fails.
  int max_submit_attempts = 8;
  /// How long a task whose submission outcome is unknown waits for the provider's callback to
  /// reveal the provider task before it fails (see task_engine.cc, "Lost submissions").
  absl::Duration unknown_submission_grace = absl::Minutes(10);
  /// Public base URL of the callback listener (e.g. "https://music.example.com"); callbacks
  /// go to <base>/callbacks/<provider>/<task_id>. Empty: no callback URL is given to providers.
  std::string callback_base_url;
  /// Worker threads for provider HTTP and database work (when `executor` is null).
  int workers = 8;
  /// Runs the engine's steps (provider HTTP, database writes). Not owned; must outlive the
  /// engine. nullptr: the engine owns a ThreadPool of `workers` threads.
  Executor* executor = nullptr;
  /// True: Start() runs a scheduler thread that hands due steps to the executor. False (tests):
  /// no thread; nothing runs until the owner calls TaskEngine::RunDue().
  bool scheduler_thread = true;
  /// Longest the scheduler sleeps before re-reading the clock (bounds FakeClock latency).
  absl::Duration scheduler_tick = absl::Milliseconds(100);
  /// The per-provider circuit breaker (failure_threshold 0 turns it off).
  CircuitBreakerOptions circuit_breaker;
  /// Downloads reference_audio_uri at submit time (SSRF-safe). Not owned; nullptr: tasks with a
  /// reference_audio_uri fail FAILED_PRECONDITION ("reference audio URLs are disabled").
  http::ReferenceAudioFetcher* reference_fetcher = nullptr;
};

/// kie.ai's per-task record-info limit (3 requests/s), CONTRACT-NOTES.md.
inline constexpr absl::Duration kMinPollInterval = absl::Milliseconds(334);

/// A validated create, ready to store.
struct CreateSpec {
  std::string tenant;
  std::string request_id;
  music::v1::TaskKind kind = music::v1::TASK_KIND_UNSPECIFIED;
  /// Catalog entry of the model the task starts on (a plain model, or the first candidate of an
  /// alias route that can do the task).
  const music::v1::Model* model = nullptr;
  /// The name the caller asked for, stored as Task.model: an alias name makes the engine fail
  /// over along the alias's members. Empty: model->name().
  std::string model_name;
  music::v1::TaskInput input;
};

/// The result of TaskEngine::Create.
struct CreateOutcome {
  music::v1::Task task;
  /// False when an earlier create with the same request_id returned this task.
  bool created = false;
};

/// Drives every task from creation to a terminal state: submits it to its provider (with retries
/// and backoff), polls it, merges callbacks, enforces deadlines, and publishes every change to the
/// WatchHub. All state is in the TaskStore; in-memory state is only a schedule, rebuilt by Start().
class TaskEngine {
 public:
  /// Pointers must outlive the engine.
  TaskEngine(EngineOptions options, persistence::TaskStore* store,
             const ProviderRegistry* providers, const Catalog* catalog, const Clock* clock,
             WatchHub* hub);
  ~TaskEngine();

  /// Resumes every non-terminal task from the store and starts the scheduler (the thread only
  /// with options.scheduler_thread).
  absl::Status Start();
  /// Stops scheduling, lets in-flight steps finish their writes, joins threads (the own pool's;
  /// an injected executor is its owner's to drain). Idempotent.
  void Shutdown();

  /// Hands every step due at the clock's now to the executor, as the scheduler thread does on
  /// each wake-up. Returns how many were handed over (0: nothing due, or shut down). For the
  /// manual mode (options.scheduler_thread false); harmless beside the thread.
  int RunDue();

  /// Stores a new task (before returning) and schedules its submission. With a request_id that
  /// the tenant used before: the earlier task when the request is the same, ALREADY_EXISTS when
  /// it differs (AIP-155). Storage errors pass through (UNAVAILABLE / INTERNAL).
  absl::StatusOr<CreateOutcome> Create(const CreateSpec& spec);

  /// Cancels a task: CANCELED at once, later provider results ignored; best-effort cancel at the
  /// provider. NOT_FOUND for another tenant's or an unknown task; a canceled task is returned as
  /// it is; FAILED_PRECONDITION when it already succeeded or failed.
  absl::StatusOr<music::v1::Task> Cancel(absl::string_view tenant, absl::string_view task_id);

  /// Applies a provider callback delivery for `task_id`. NOT_FOUND for an unknown task (or one of
  /// another provider); the adapter's UNAUTHENTICATED / INVALID_ARGUMENT for forged or malformed
  /// deliveries; FAILED_PRECONDITION when it names another provider task. Duplicate, late and
  /// out-of-order deliveries are accepted and change nothing they should not.
  absl::Status HandleCallback(absl::string_view provider, absl::string_view task_id,
                              const http::Request& request);

  /// The URL a provider should call back for `task_id`, or "" when callbacks are off.
  std::string CallbackUrl(absl::string_view provider, absl::string_view task_id) const;

  /// Wakes the scheduler thread to re-read the clock (after an injected clock jumped). Without
  /// the thread (options.scheduler_thread false) the owner calls RunDue() instead.
  void Kick();

  /// The per-provider circuit breaker the engine consults before every create.
  CircuitBreaker& circuit_breaker() { return breaker_; }

 private:
  using Mutation = std::function<absl::StatusOr<bool>(domain::TaskRecord&)>;

  // Reads the task, applies `fn` (which returns true to write), writes it with a version check,
  // publishes and reschedules; retries on ABORTED with a fresh read.
  absl::StatusOr<domain::TaskRecord> Mutate(absl::string_view task_id, const Mutation& fn);
  void Schedule(const std::string& task_id, absl::Time when);
  void SchedulerLoop();
  // Moves the tasks due at `now` (and deferred ones whose step ended) to running_.
  std::vector<std::string> TakeDueLocked(absl::Time now) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Hands `ready` (from TakeDueLocked) to the executor.
  void Dispatch(const std::vector<std::string>& ready);
  void Step(const std::string& task_id);
  void Submit(domain::TaskRecord record, adapters::ProviderAdapter* adapter);
  // Downloads the task's reference_audio_uri and stores it at the provider, keeping the
  // provider's artifact id in the record. False when the task cannot be sent now (it was failed,
  // failed over or rescheduled); else `record` is the updated record.
  bool PrepareReferenceAudio(domain::TaskRecord& record, adapters::ProviderAdapter* adapter);
  // The alias member a task routed through an alias moves to when its provider does not take
  // it: the next member after the current one that is available, configured, not tried yet and
  // able to do the task. nullptr for plain models and at the end of the route.
  const music::v1::Model* NextCandidate(const domain::TaskRecord& record) const;
  // Decides, inside a Mutate, what follows a provider's refusal of a task not yet accepted:
  // fail over, retry with backoff, or fail. `what` names the refused thing in the task error.
  void AfterProviderError(domain::TaskRecord& r, const absl::Status& error,
                          absl::string_view what, absl::Time now);
  // Moves `r` to `next`, recording the provider it leaves in Task.failovers.
  static void FailOver(domain::TaskRecord& r, const music::v1::Model& next,
                       absl::StatusCode code, absl::string_view message, absl::Time now);
  void Poll(const domain::TaskRecord& record, adapters::ProviderAdapter* adapter);
  // For kLookupByRequestId providers: finds the task a lost create made, or allows a new create.
  void Recover(const domain::TaskRecord& record, adapters::ProviderAdapter* adapter);
  adapters::SubmitRequest BuildSubmitRequest(const domain::TaskRecord& record) const;
  // Records the provider task an accepted create (or a lookup) revealed.
  static void Adopt(const adapters::SubmitResult& result, domain::TaskRecord& r);
  // Records the answer of a provider request in the breaker; a success (the circuit is closed
  // now) wakes the tasks that were waiting for it.
  void RecordOutcome(const std::string& provider, const absl::Status& status);
  void FailNow(const std::string& task_id, absl::StatusCode code, const std::string& message,
               const std::string& provider_error_code = "");
  absl::Duration Backoff(int attempt, const absl::Status& error);
  absl::Time Clamp(absl::Time t, const domain::TaskRecord& record) const;

  const EngineOptions options_;
  persistence::TaskStore* const store_;
  const ProviderRegistry* const providers_;
  const Catalog* const catalog_;
  const Clock* const clock_;
  WatchHub* const hub_;
  CircuitBreaker breaker_;
  // Set when options.executor is null; executor_ points at it then.
  std::unique_ptr<ThreadPool> own_pool_;
  Executor* const executor_;

  absl::Mutex mu_;
  std::set<std::pair<absl::Time, std::string>> queue_ ABSL_GUARDED_BY(mu_);
  std::map<std::string, absl::Time> due_ ABSL_GUARDED_BY(mu_);
  std::set<std::string> running_ ABSL_GUARDED_BY(mu_);
  // Due while a step for the same task was running; run when that step ends.
  std::set<std::string> deferred_ ABSL_GUARDED_BY(mu_);
  std::map<std::string, int> poll_failures_ ABSL_GUARDED_BY(mu_);
  // Tasks waiting for a provider's open circuit, woken when a request to it succeeds.
  std::map<std::string, std::set<std::string>> circuit_waiters_ ABSL_GUARDED_BY(mu_);
  bool kicked_ ABSL_GUARDED_BY(mu_) = false;
  bool stopping_ ABSL_GUARDED_BY(mu_) = false;
  std::thread scheduler_;
};

}  // namespace music::service

#endif  // MUSIC_SERVICE_CORE_TASK_ENGINE_H_
