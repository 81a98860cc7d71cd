#ifndef MUSIC_SERVICE_CORE_TASK_ENGINE_H_
#define MUSIC_SERVICE_CORE_TASK_ENGINE_H_

#include <atomic>
#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <queue>
#include <set>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "absl/container/flat_hash_map.h"

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "adapters/http/http_types.h"
#include "adapters/http/reference_audio_fetcher.h"
#include "adapters/provider_adapter.h"
#include "adapters/provider_module.h"
#include "persistence/lease_store.h"
#include "persistence/task_store.h"
#include "service/core/catalog.h"
#include "service/core/circuit_breaker.h"
#include "service/core/event_log.h"
#include "domain/clock.h"
#include "service/core/executor.h"
#include "service/core/metrics.h"
#include "service/core/provider_health.h"
#include "service/core/quota.h"
#include "service/core/rate_limiter.h"
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
  /// Where the outcome of every submit and poll is recorded, so a provider refusing the
  /// service's API key (adapters::IsProviderAuthError) is listed unavailable until a request to
  /// it succeeds again; null: not tracked. Not owned; outlives the engine.
  ProviderHealth* provider_health = nullptr;
  /// Time between polls of a running task (the seeds recommend 5-10 s). Never below
  /// kMinPollInterval (kie.ai allows 3 record-info requests/s per task).
  absl::Duration poll_interval = absl::Seconds(7);
  /// Callbacks are the main signal: while a provider's callbacks are arriving (one within
  /// `callback_trust_window`), its tasks are polled only this often, as a check on a callback
  /// that is overdue. Zero (the default) or anything below poll_interval: poll_interval always.
  absl::Duration callback_poll_interval = absl::ZeroDuration();
  absl::Duration callback_trust_window = absl::Minutes(10);
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
  /// go to <base>/callbacks/<provider>/<task_id>/<token> (CallbackToken). Empty: no callback
  /// URL is given to providers.
  std::string callback_base_url;
  /// The callback token secrets: the first signs the URLs handed out now; every one is accepted
  /// (the others are the previous secrets of a rotation, for tasks created before it). Empty:
  /// every callback is refused and no callback URL is handed out (fail closed; MusicServer
  /// refuses to start without one).
  std::vector<std::string> callback_token_secrets;
  /// Worker threads running the steps (when `executor` is null). Provider HTTP holds none (the
  /// transport is asynchronous); a store write waits for its group commit on one, so the count
  /// bounds how many task changes a commit makes durable together: 8 drove 77 tasks/s to their
  /// end on 2 cores, 64 about 550/s (README.md, Performance).
  int workers = 64;
  /// Submission steps (creates, lookups of lost creates) handed to the executor at once. Due
  /// submissions beyond it wait in one queue per tenant and are handed over round-robin across
  /// tenants as running ones end (task_engine.cc "Fair queueing"), so a tenant with thousands
  /// queued delays another tenant's first submission by at most one round. Below 1: 1.
  int max_submissions_in_flight = 64;
  /// Load shedding: while the oldest task queued for submission has waited longer than this,
  /// Create refuses new tasks UNAVAILABLE (reason OVERLOADED, with RetryInfo) instead of storing
  /// work the engine cannot start: the backlog and a new task's wait stay bounded, and the store's
  /// writes go to the tasks already accepted. A retry of a request already stored is answered as
  /// before. Zero or less: never shed.
  absl::Duration overload_submission_wait = absl::Seconds(5);
  /// Per-tenant quotas checked by Create (quota.h): creates per second and tasks in flight.
  QuotaOptions quotas;
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
  /// Client-side account limits by provider name (the modules' ProviderModule::rate_limits
  /// after config). Creates of one provider share one limiter (one account per provider);
  /// each task's polls have their own. A create or poll over its limit is not sent: the task's
  /// step runs again, on the engine's timer, when the limiter frees a slot, and the wait is
  /// added to Task.rate_limit_wait and music_provider_rate_limit_wait_seconds. Callbacks,
  /// cancels and lookups are not limited. Absent (or zero counts): no limit.
  std::map<std::string, adapters::RateLimits> rate_limits;
  /// Downloads reference_audio_uri at submit time (SSRF-safe). Not owned; nullptr: tasks with a
  /// reference_audio_uri fail FAILED_PRECONDITION ("reference audio URLs are disabled").
  http::ReferenceAudioFetcher* reference_fetcher = nullptr;
  /// Where the engine counts tasks, provider calls, callbacks and ledger rows. Not owned; must
  /// outlive the engine. nullptr: a private Metrics nobody scrapes.
  Metrics* metrics = nullptr;
  /// Called once per task after the write that made it terminal (SUCCEEDED, FAILED or
  /// CANCELED) is stored, on the thread of that write: it must not block (the archiver only
  /// queues the task). Empty: nothing.
  std::function<void(const domain::TaskRecord&)> on_task_ended;
  /// Ends the provider requests still in flight when Shutdown's deadline has passed (the wiring
  /// passes every provider transport's http::HttpClient::AbortInFlight); their follow-ups then
  /// record the outcome (a create becomes "outcome unknown", see "Lost submissions"). Null:
  /// Shutdown waits for them to end on their own (answer or transport timeout).
  std::function<void()> abort_provider_calls;
  /// Leases for several replicas on one store (persistence/lease_store.h). Start() and then every
  /// lease_ttl / 3 renew this replica's lease and claim, lease_claim_batch at a time, the tasks of
  /// replicas whose lease expired; the engine drives (submits, polls, recovers) only the tasks it
  /// holds, and stops driving one whose fenced write the store refuses (another replica claimed
  /// it). Callbacks and cancels of a task another replica drives are applied here without
  /// driving it. Shutdown releases the lease. Not owned; outlives the engine. Null: this engine
  /// drives every non-terminal task of the store (one server per store).
  persistence::LeaseStore* leases = nullptr;
  int lease_claim_batch = 500;
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
  /// The caller's normalized W3C traceparent (NormalizeTraceparent), or "": kept on the record.
  std::string traceparent;
};

/// The result of TaskEngine::Create.
struct CreateOutcome {
  music::v1::Task task;
  /// False when an earlier create with the same request_id returned this task.
  bool created = false;
};

/// Drives every task from creation to a terminal state: submits it to its provider (with retries
/// and backoff), polls it, merges callbacks, enforces deadlines, and publishes every change to the
/// WatchHub. All state is in the TaskStore; in memory the engine keeps a timer per task and the
/// last record it read or wrote (so a poll that changed nothing touches no store), rebuilt by
/// Start(). Provider requests go through the adapters' asynchronous calls: a worker thread never
/// waits on a provider when the adapter's transport is asynchronous.
class TaskEngine {
 public:
  /// Pointers must outlive the engine.
  TaskEngine(EngineOptions options, persistence::TaskStore* store,
             const ProviderRegistry* providers, const Catalog* catalog, const Clock* clock,
             WatchHub* hub);
  ~TaskEngine();

  /// Resumes every non-terminal task from the store (with options.leases: registers this
  /// replica's lease and claims the tasks no live replica holds) and starts the scheduler (the
  /// threads only with options.scheduler_thread).
  absl::Status Start();

  /// Another replica wrote `task_id` at `version` (a change feed's news): a cached copy older than
  /// that is dropped, so the next step reads the store. O(1).
  void NoteStoredChange(absl::string_view task_id, int64_t version);

  /// With options.leases: renews this replica's lease, then claims and schedules the tasks whose
  /// replica's lease expired, in batches. Returns how many it claimed; the store's error when the
  /// renewal or a claim failed (the next tick tries again). Run every lease_ttl / 3 by the lease
  /// thread (options.scheduler_thread), or by the owner in manual mode. Without leases: 0.
  absl::StatusOr<int> RunLeaseTick();
  /// Stops scheduling and starts no new step: steps still queued in the executor return at once,
  /// so a queued submission or poll stays as the store has it (PENDING tasks are submitted by
  /// the next Start(), here or on another replica). Provider requests in flight get until
  /// `abort_at` (wall time), then options.abort_provider_calls ends them; their follow-ups
  /// finish their writes. Joins threads (the own pool's; an injected executor is its owner's to
  /// drain). Idempotent.
  void Shutdown(absl::Time abort_at);
  /// Shutdown with no deadline: in-flight provider requests end on their own.
  void Shutdown() { Shutdown(absl::InfiniteFuture()); }

  /// Hands every step due at the clock's now to the executor, as the scheduler thread does on
  /// each wake-up. Returns how many were handed over (0: nothing due, or shut down). For the
  /// manual mode (options.scheduler_thread false); harmless beside the thread.
  int RunDue();

  /// Stores a new task (before returning) and schedules its submission. With a request_id that
  /// the tenant used before: the earlier task when the request is the same, ALREADY_EXISTS when
  /// it differs (AIP-155), whatever the quotas. RESOURCE_EXHAUSTED (quota.h QuotaExceeded, with
  /// RetryInfo and QuotaFailure) when the tenant is over options.quotas' requests_per_second or
  /// max_tasks_in_flight: nothing is stored or reserved then. UNAVAILABLE (reason OVERLOADED,
  /// RetryInfo) while the oldest queued submission has waited longer than
  /// options.overload_submission_wait: nothing is stored either. Storage errors pass through
  /// (UNAVAILABLE / INTERNAL).
  absl::StatusOr<CreateOutcome> Create(const CreateSpec& spec);

  /// Cancels a task: CANCELED at once, later provider results ignored; best-effort cancel at the
  /// provider. NOT_FOUND for another tenant's or an unknown task; a canceled task is returned as
  /// it is; FAILED_PRECONDITION when it already succeeded or failed.
  absl::StatusOr<music::v1::Task> Cancel(absl::string_view tenant, absl::string_view task_id);

  /// Applies a provider callback delivery for `task_id`, which came with `token` (the last path
  /// segment of the URL) from `peer` (an address, for the log). UNAUTHENTICATED when the token is
  /// not this task's under any callback secret: checked first, before the task is read or the
  /// body parsed, so nothing is changed or adopted by a delivery that was not given the URL.
  /// Then NOT_FOUND for an unknown task (or one of another provider); the adapter's
  /// UNAUTHENTICATED / INVALID_ARGUMENT for deliveries its own scheme refuses (kie.ai HMAC,
  /// PiAPI secret) or malformed ones; FAILED_PRECONDITION when it names another provider task.
  /// Duplicate, late and out-of-order deliveries are accepted and change nothing they should
  /// not. A refused delivery is logged (callback.rejected, with the task's fields when the token
  /// matched and the task exists; never the token or the body).
  absl::Status HandleCallback(absl::string_view provider, absl::string_view task_id,
                              absl::string_view token, const http::Request& request,
                              absl::string_view peer = "");

  /// The URL a provider should call back for `task_id` (with its token), or "" when callbacks
  /// are off (no base URL or no secret).
  std::string CallbackUrl(absl::string_view provider, absl::string_view task_id) const;

  /// Wakes the scheduler thread to re-read the clock (after an injected clock jumped). Without
  /// the thread (options.scheduler_thread false) the owner calls RunDue() instead.
  void Kick();

  /// EngineOptions::callback_token_secrets (the first signs, every one verifies): they also key
  /// reference_audio_id tags (reference_audio_id.h).
  const std::vector<std::string>& callback_token_secrets() const {
    return options_.callback_token_secrets;
  }

  /// The per-provider circuit breaker the engine consults before every create.
  CircuitBreaker& circuit_breaker() { return breaker_; }

  /// The tenant's non-terminal tasks this engine counts against max_tasks_in_flight (those it
  /// drives, plus creates being stored). O(1).
  int TasksInFlight(absl::string_view tenant);

  /// How long the earliest due step has been waiting to run (zero when none is overdue): a
  /// scheduler that keeps up stays near zero; every task's deadline is a due step, so a task
  /// stuck past its deadline shows here. O(1), for a scrape-time gauge.
  absl::Duration OldestDueAge();

 private:
  using Mutation = std::function<absl::StatusOr<bool>(domain::TaskRecord&)>;
  using Done = std::function<void()>;

  // Reads the task, applies `fn` (which returns true to write), writes it with a version check,
  // publishes and reschedules; retries on ABORTED with a fresh read.
  // `drive` false: a change that does not drive the task (a callback, a cancel), applied also to
  // a task another replica drives; true: a step of the task's driver, refused (LeaseLostError)
  // when this engine does not hold the task.
  absl::StatusOr<domain::TaskRecord> Mutate(absl::string_view task_id, const Mutation& fn,
                                            bool drive = true);
  // Whether this engine drives `record`: always without leases, else when it holds its lease.
  bool Drives(const domain::TaskRecord& record) const;
  // Stops driving a task another replica holds now: its slot (timer, cache) goes.
  void StopDriving(absl::string_view task_id);
  // Schedules tasks read at Start or claimed: an interrupted submission at once, overdue polls
  // spread over one poll interval.
  void Resume(const std::vector<domain::TaskRecord>& records);
  void LeaseLoop();
  // HandleCallback without the counting and logging; `duplicate` says an accepted delivery
  // changed nothing; `*found` gets the task's record once it is loaded.
  absl::Status ApplyCallback(adapters::ProviderAdapter* adapter, absl::string_view provider,
                             absl::string_view task_id, const http::Request& request,
                             bool& duplicate, std::shared_ptr<const domain::TaskRecord>* found);
  void Schedule(const std::string& task_id, absl::Time when);
  void SchedulerLoop();
  // Pops the timers due at `now` and marks their slots running; a slot already running is run
  // again when its step ends. O(log n) per due task, nothing scanned.
  std::vector<std::pair<uint32_t, std::string>> TakeDueLocked(absl::Time now)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Hands `ready` (from TakeDueLocked) to the executor: submissions ahead of polls.
  void Dispatch(const std::vector<std::pair<uint32_t, std::string>>& ready);
  // Runs one step of a task; `done` runs once when the step (and any provider request it sent
  // asynchronously) has ended.
  void Step(const std::string& task_id, Done done);
  void Submit(domain::TaskRecord record, adapters::ProviderAdapter* adapter, Done done);
  // The follow-up of a create's answer.
  void FinishSubmit(const std::string& task_id, const std::string& provider,
                    adapters::ProviderAdapter* adapter,
                    const absl::StatusOr<adapters::SubmitResult>& sent);
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
  // Inside a Mutate: when `update` is a failure the provider marked retryable and the task has
  // provider attempts left (max_submit_attempts per provider), records the failed provider task
  // in Task.resubmissions and sends `r` back to kNotSubmitted at the same provider (a new
  // idempotency key, see task_engine.cc "Retryable provider failures"); returns true. Otherwise
  // changes nothing and returns false.
  bool ResubmitAfterRetryableFailure(domain::TaskRecord& r, const adapters::ProviderUpdate& update,
                                     absl::Time now);
  // Moves `r` to `next`, recording the provider it leaves in Task.failovers.
  static void FailOver(domain::TaskRecord& r, const music::v1::Model& next,
                       absl::StatusCode code, absl::string_view message, absl::Time now);
  void Poll(const domain::TaskRecord& record, adapters::ProviderAdapter* adapter, Done done);
  // `polled_task_id`: the provider task the poll asked about; an answer arriving after the task
  // moved on to another provider task is dropped.
  void FinishPoll(const std::string& task_id, const std::string& provider,
                  const std::string& polled_task_id,
                  const absl::StatusOr<adapters::ProviderUpdate>& update);
  // The client-side limits of one provider (EngineOptions::rate_limits), fixed at construction.
  struct ProviderLimits {
    // The account's creates; null: not limited. Thread-safe itself.
    std::unique_ptr<SlidingWindowLimiter> creates;
    int polls_per_second = 0;
  };
  // The limits of `provider`, or null when it has none.
  const ProviderLimits* LimitsOf(const std::string& provider) const;
  // Takes a create slot of the task's provider account at `now`. nullopt: send now (the slot is
  // held until ReleaseCreateSlot or ReturnCreateSlot), and `*waited` is how long the task has
  // waited for it (its wait ends with EndCreateWait, once the create is marked); else the time
  // to try again (the task's wait goes on).
  std::optional<absl::Time> AcquireCreateSlot(const std::string& task_id,
                                              const std::string& provider, absl::Time now,
                                              absl::Duration* waited);
  // The create's answer arrived: its slot counts for one window from now.
  void ReleaseCreateSlot(const std::string& provider);
  // The create was not sent after all: its slot counts for nothing.
  void ReturnCreateSlot(const std::string& provider);
  // The create that waited `waited` is marked kSubmitting (the wait is stored): the wait ends.
  void EndCreateWait(const std::string& task_id, const std::string& provider,
                     absl::Duration waited);
  // As AcquireCreateSlot for a poll of the task, under its provider's polls_per_second; the
  // wait is kept in the task's slot until a poll's write stores it (TakePollWait).
  std::optional<absl::Time> AcquirePollSlot(const std::string& task_id,
                                            const std::string& provider, absl::Time now);
  // A poll's answer arrived: it counts against the task's poll limit from now.
  void RecordPollAnswer(const std::string& task_id, const std::string& provider);
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

  // The engine's state of one task it drives (non-terminal, in this process). Slots are indexed
  // by a small integer so the timer heap holds integers, not strings.
  struct Slot {
    std::string task_id;
    // The task's tenant, once a record was seen; counted in tasks_in_flight_ while in use.
    std::string tenant;
    bool counted_in_flight = false;
    // Queued for, or holding, one of the max_submissions_in_flight places.
    bool queued_submission = false;
    bool holds_submission = false;
    // When it joined its tenant's submission queue (meaningful while queued_submission).
    absl::Time queued_since = absl::InfiniteFuture();
    // The record as this engine last read or wrote it (the store's version): a step or a poll
    // that changes nothing reads and writes nothing. Null: read the store.
    std::shared_ptr<const domain::TaskRecord> record;
    absl::Time due = absl::InfiniteFuture();
    // Heap entries carry the generation they were pushed with; any other is stale.
    uint64_t generation = 0;
    bool in_use = false;
    bool running = false;
    // Became due while its step was running: run again when the step ends.
    bool due_while_running = false;
    // Reached a terminal state (or vanished) while running: free the slot when the step ends.
    bool retire = false;
    int poll_failures = 0;
    // Consecutive failed store writes or reads of this task's steps; drives their backoff.
    int store_failures = 0;
    // The music_tasks gauge this task is counted in (by its state, kind and provider), or null.
    prometheus::Gauge* counted = nullptr;
    // Since when the task's next provider request has been waiting for a rate limiter
    // (InfiniteFuture: not waiting). In memory: a restart starts the count over.
    absl::Time rate_limited_since = absl::InfiniteFuture();
    // Time its polls waited for the limiter that no write has stored in Task.rate_limit_wait.
    absl::Duration unsaved_poll_wait = absl::ZeroDuration();
    // The task's last poll answers, for its provider's polls_per_second.
    RecentRequests recent_polls;
  };
  struct TimerEntry {
    absl::Time when;
    uint32_t slot;
    uint64_t generation;
    bool operator>(const TimerEntry& o) const { return when > o.when; }
  };
  // The slot of `task_id`, created when absent.
  uint32_t SlotLocked(const std::string& task_id) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void RetireLocked(uint32_t slot) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Counts the slot's task in its tenant's tasks in flight, once (`reserved`: already counted).
  void CountInFlightLocked(Slot& slot, const domain::TaskRecord& record, bool reserved)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // How long the slot's task has waited for a rate limiter at `now` (zero: not waiting).
  static absl::Duration RateLimitWaitLocked(const Slot& slot, absl::Time now);
  // The music_tasks gauge of `record` (null for a terminal one). Looked up before taking mu_:
  // the lookup formats labels and takes the metrics' own lock.
  prometheus::Gauge* GaugeFor(const domain::TaskRecord& record);
  // Moves the slot's task to `gauge` (null: counted nowhere).
  static void CountLocked(Slot& slot, prometheus::Gauge* gauge);
  // Sends the outcome of one provider call to the metrics, with its latency since `start`.
  void CountCall(const std::string& provider, absl::string_view endpoint,
                 const absl::Status& status, absl::Time start);
  // LogTaskEvent with the task's record (the cached one when there is one); a task that cannot
  // be loaded is logged with its id only.
  void LogTask(LogLevel level, absl::string_view event, absl::string_view task_id,
               LogFields fields);
  // The cached record of a task this engine drives, or the store's.
  absl::StatusOr<std::shared_ptr<const domain::TaskRecord>> Load(absl::string_view task_id);
  // Records a record this engine wrote (or read) in its slot, when newer than the cached one,
  // and starts the slot's store backoff over; a terminal record retires the slot. `reserved`:
  // Create already counted the new task in tasks_in_flight_.
  void Remember(const domain::TaskRecord& record, bool reserved = false);
  // Create's quota checks. OK: the create may go on, one task counted in tasks_in_flight_
  // (`*reserved` true) unless the tenant has no max_tasks_in_flight; else RESOURCE_EXHAUSTED
  // and `*refused_quota` names the quota.
  absl::Status AdmitCreate(const std::string& tenant, absl::Time now, bool* reserved,
                           std::string* refused_quota);
  // UNAVAILABLE (OVERLOADED) when a queued submission has waited longer than
  // options_.overload_submission_wait at `now`; OK otherwise. Looks at the front of each
  // tenant's queue (each is FIFO): O(tenants with a queue), not O(tasks).
  absl::Status CheckOverload(absl::Time now) ABSL_LOCKS_EXCLUDED(mu_);
  // A create admitted with a reservation stored nothing: the reservation ends.
  void Unreserve(const std::string& tenant);
  // The earlier outcome of `spec`'s request_id (AIP-155): `stored` (null: looked up), or
  // NOT_FOUND when the tenant has not used it; ALREADY_EXISTS when it was used for a request
  // whose fingerprint is not `fingerprint`.
  absl::StatusOr<CreateOutcome> ExistingCreate(const CreateSpec& spec,
                                               const std::string& fingerprint,
                                               const domain::TaskRecord* stored);
  // Takes submission slots off the tenants' queues round-robin while fewer than
  // max_submissions_in_flight run, marking each; the caller hands them to the executor.
  std::vector<std::pair<uint32_t, std::string>> TakeSubmissionsLocked()
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Hands steps to the executor (`urgent`: ahead of polls); a step the executor refuses
  // (shutdown) is released.
  void HandOver(const std::vector<std::pair<uint32_t, std::string>>& steps, bool urgent);
  void Forget(absl::string_view task_id);
  // A step's store write or read failed (not a lost version race): logs it with the task id and
  // runs the task's step again after a backoff, so a store fault never strands the task (the
  // step is redone from the stored state; its deadline still applies).
  void RetryAfterStoreFault(const std::string& task_id, const absl::Status& error);
  // The step of `slot` ended: let it run again (at once when it became due meanwhile).
  void StepDone(uint32_t slot);
  // The poll interval for a task of `provider` now (see callback_poll_interval).
  absl::Duration PollInterval(const std::string& provider);
  // Runs a provider completion's follow-up (a store write) on the executor; runs `fn` inline
  // when the executor no longer takes work (shutdown), so the step still ends.
  void Continue(std::function<void()> fn);
  void AsyncStarted();
  void AsyncEnded();

  const EngineOptions options_;
  persistence::TaskStore* const store_;
  const ProviderRegistry* const providers_;
  const Catalog* const catalog_;
  const Clock* const clock_;
  WatchHub* const hub_;
  // Set when options.metrics is null; metrics_ points at it then.
  std::unique_ptr<Metrics> own_metrics_;
  Metrics* const metrics_;
  CircuitBreaker breaker_;
  // The tenants' requests_per_second buckets (over options_.quotas).
  TenantRateLimiter create_rate_;
  // By provider name; built in the constructor, read-only afterwards (no lock).
  absl::flat_hash_map<std::string, ProviderLimits> limits_;
  // Set when options.executor is null; executor_ points at it then.
  std::unique_ptr<ThreadPool> own_pool_;
  Executor* const executor_;

  absl::Mutex mu_;
  absl::flat_hash_map<std::string, uint32_t> slot_of_ ABSL_GUARDED_BY(mu_);
  std::vector<Slot> slots_ ABSL_GUARDED_BY(mu_);
  std::vector<uint32_t> free_slots_ ABSL_GUARDED_BY(mu_);
  std::priority_queue<TimerEntry, std::vector<TimerEntry>, std::greater<TimerEntry>> timers_
      ABSL_GUARDED_BY(mu_);
  // Tasks waiting for a provider's open circuit, woken when a request to it succeeds.
  std::map<std::string, std::set<std::string>> circuit_waiters_ ABSL_GUARDED_BY(mu_);
  // When each provider's last authenticated callback arrived.
  std::map<std::string, absl::Time> last_callback_ ABSL_GUARDED_BY(mu_);
  // Non-terminal tasks by tenant (slots counted, plus creates being stored); an entry is erased
  // at zero, so memory follows the tenants with tasks in flight.
  absl::flat_hash_map<std::string, int> tasks_in_flight_ ABSL_GUARDED_BY(mu_);
  // Fair queueing: due submission slots by tenant, the tenants with a non-empty queue in
  // round-robin order, and how many submissions the executor holds.
  absl::flat_hash_map<std::string, std::deque<uint32_t>> submit_queues_ ABSL_GUARDED_BY(mu_);
  std::deque<std::string> submit_ring_ ABSL_GUARDED_BY(mu_);
  int submissions_running_ ABSL_GUARDED_BY(mu_) = 0;
  // Provider requests sent asynchronously whose follow-up has not finished.
  int async_in_flight_ ABSL_GUARDED_BY(mu_) = 0;
  bool kicked_ ABSL_GUARDED_BY(mu_) = false;
  bool stopping_ ABSL_GUARDED_BY(mu_) = false;
  std::thread scheduler_;
  std::thread lease_thread_;
  std::atomic<bool> leases_released_{false};
};

}  // namespace music::service

#endif  // MUSIC_SERVICE_CORE_TASK_ENGINE_H_
