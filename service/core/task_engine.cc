// Lost submissions.
// The engine writes SubmissionState::kSubmitting before it sends a create to a provider, and
// kSubmitted with the provider's task id after the answer. A task can therefore be found with its
// submission outcome unknown: the process died between the two writes, or the create timed out
// after the connection was up, or the provider answered 2xx with a body we could not read. What
// happens next depends on what the provider offers (ResubmitPolicy):
//  - kIdempotencyKey (beatra): sending again with the same Idempotency-Key is safe (the provider
//    deduplicates), so the task goes back to kNotSubmitted.
//  - kLookupByRequestId (a provider that documents a lookup; no built-in one does since TokenLab
//    turned out to document none, CONTRACT-NOTES): the task waits in kUnknown and the engine looks it up by the
//    request id it sent (Recover): found, it is adopted; NOT_FOUND, the create is sent again (no
//    task exists, so none can be doubled); any other answer is retried with backoff.
//  - kAtMostOnce (kie.ai, PiAPI, TokenLab: no idempotency key, no lookup): sending again could create a second
//    provider task, billed twice. The task is never resent. It waits in kUnknown for the
//    provider's callback, whose URL carries our task id: the first callback reveals the provider
//    task id and the task is adopted and driven on as usual. If no callback arrives within
//    unknown_submission_grace (or the task deadline), the task fails with UNAVAILABLE saying the
//    submission outcome is unknown, so the caller can decide to create it again.
//
// Routing.
// A task created through a model alias (Task.model = the alias) starts on the first alias member
// that can do it; Task.provider / provider_model name the member it is on now, and
// Task.failovers the members it left, in order. When a provider does not take the task -- 402 /
// FAILED_PRECONDITION at once; UNAVAILABLE, RESOURCE_EXHAUSTED, timeouts and other retryable
// errors once the per-provider retry budget is spent or the provider's circuit opens; an open
// circuit before anything is sent -- the task moves to the next member (see NextCandidate) with a
// fresh submission (kNotSubmitted, attempts 0, and SubmitRequest.idempotency_key is per
// provider). Never when the provider may hold the task: a kAtMostOnce create whose outcome is
// unknown waits as above, because a second provider task could be billed twice; a
// kLookupByRequestId one moves on only after the lookup said NOT_FOUND. INVALID_ARGUMENT (the
// provider refused the content) fails the task: another provider would be asked the same thing.
// The route is derived from the catalog and the task, so a restart resumes it where it was.
//
// Rate limits.
// A provider module may declare its account's limits (adapters::RateLimits: kie.ai 20 creates
// per 10 s per account and 3 record-info polls per second per task, CONTRACT-NOTES.md), and
// config may change them (EngineOptions::rate_limits). The engine keeps them on the client side
// instead of earning 429s: one SlidingWindowLimiter per provider account, shared by every task of
// the provider, for creates; a RecentRequests window in each task's slot for its polls (memory
// O(tasks in flight)). A create or poll over the limit is not sent and writes nothing: the step
// is rescheduled on the engine's timer for the time the limiter names (never a sleep, never a
// blocked worker), and runs again then like any due step. Both count a request from its answer,
// not from its sending, so network latency never lets the provider see one too many in a window.
// The create limiter is asked after the circuit breaker and the reference-audio upload, right
// before the kSubmitting mark: a create it grants is sent at once. How long a task's requests
// waited goes into Task.rate_limit_wait (a create's wait with its kSubmitting write, a poll's
// with the poll's write) and into music_provider_rate_limit_wait_seconds. Callbacks, cancels and
// lookups are not limited.
//
// Retryable provider failures.
// A provider task that fails with an error the provider marks retryable (beatra
// `error.retryable: true`, CONTRACT-NOTES "beatra": `error {code, message, retryable}`;
// ProviderUpdate::retryable) is not the end of our task: the failed provider task is recorded in
// Task.resubmissions and the task goes back to kNotSubmitted at the same provider, as a new
// provider task. Its idempotency key must be new (the old key would answer with the failed
// task), so attempt n >= 2 at a provider sends "<task_id>.<provider>.<n>", n counted from the
// stored Task.resubmissions (durable across restarts, so a resent create of attempt n reuses
// attempt n's key); attempt 1 keeps "<task_id>.<provider>", the key of tasks in flight before
// resubmission existed. At most max_submit_attempts provider tasks per provider; after that the
// failure fails the task as any other. The reservation is untouched: one RESERVE and one
// SETTLE/REFUND per task whatever the number of attempts (the failed attempt's billing report
// is dropped; beatra refunds a failed task, seed 002 "Billing").
//
// Fair queueing.
// Due submission steps (creates, and the lookups and recoveries of lost creates) do not go to
// the executor in the order they became due: each waits in its tenant's FIFO queue, the tenants
// with a non-empty queue take turns (round-robin, one submission per turn), and at most
// max_submissions_in_flight submissions are with the executor at once (a step holds its place
// until its provider request has ended). A tenant with 5,000 creates queued therefore delays
// another tenant's first create by at most one round: it goes at the next free place after the
// tenants ahead of it in the round. Queues hold slot indices (no copy of the task); every
// operation is O(1) amortised under the engine lock. Polls are not queued (one per task,
// limited per task already). The order in which steps reach the create rate limiter is the
// round's order, so a noisy tenant's backlog cannot take every freed provider slot either
// (tests/service/core/task_engine_fair_queue_test.cc).
//
// Quotas.
// Create checks the tenant's quotas (EngineOptions::quotas, config `tenants.*`) before it
// stores anything: requests_per_second, a token bucket per tenant over creates (creates cost
// money at a provider; reads are cheap and not limited), and max_tasks_in_flight, the tenant's
// non-terminal tasks. The in-flight count is kept in memory: every non-terminal task this engine
// drives is counted once in its slot (Start() counts the store's active tasks, so a restart
// starts from the truth), a create takes its place under the engine lock before its store
// write (so concurrent creates never pass the limit together) and gives it back when the write
// stored nothing, and the slot's retirement on the terminal write gives it back. A refusal is
// RESOURCE_EXHAUSTED with RetryInfo and QuotaFailure (quota.h) and stores, reserves and bills
// nothing; a retry of a request_id the tenant already used is answered with its task, never
// refused.
//
// Reference audio.
// A reference_audio_uri is downloaded (SSRF-safe fetcher) and stored at the task's provider
// before the create, and the provider's artifact id is written to the record first, so retries and
// restarts never download it again. A failover clears it: the next provider needs its own upload.
#include "service/core/task_engine.h"

#include <algorithm>
#include <cmath>
#include <string>
#include <vector>

#include "absl/random/random.h"
#include "absl/strings/cord.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "adapters/provider_auth.h"
#include "adapters/provider_errors.h"
#include "domain/ledger.h"
#include "google/rpc/error_details.pb.h"
#include "service/core/callback_token.h"
#include "service/core/event_log.h"
#include "service/core/reference_audio_id.h"
#include "service/core/request_fingerprint.h"
#include "service/core/status_details.h"
#include "service/core/task_merge.h"
#include "service/core/validation.h"

namespace music::service {

using domain::IsTerminal;
using domain::SubmissionState;
using domain::TaskRecord;

namespace {

// The file name given to a provider for a downloaded reference: the URL's last path segment.
std::string ReferenceFilename(absl::string_view url) {
  url = url.substr(0, url.find_first_of("?#"));
  const size_t scheme = url.find("://");
  if (scheme != absl::string_view::npos) url.remove_prefix(scheme + 3);
  const size_t slash = url.rfind('/');
  absl::string_view name =
      slash == absl::string_view::npos ? absl::string_view() : url.substr(slash + 1);
  if (name.empty()) return "reference-audio";
  return std::string(name.substr(0, 255));
}

// The audio type of downloaded bytes, from their first bytes (the server's Content-Type is
// untrusted), else from an "audio/" Content-Type; "" when it does not look like audio.
std::string SniffAudioType(absl::string_view bytes, absl::string_view content_type) {
  auto starts = [&](absl::string_view p, size_t at = 0) {
    return bytes.size() >= at + p.size() && bytes.substr(at, p.size()) == p;
  };
  if (starts("ID3")) return "audio/mpeg";
  if (bytes.size() >= 2 && static_cast<unsigned char>(bytes[0]) == 0xFF &&
      (static_cast<unsigned char>(bytes[1]) & 0xE0) == 0xE0) {
    return "audio/mpeg";
  }
  if (starts("RIFF") && starts("WAVE", 8)) return "audio/wav";
  if (starts("fLaC")) return "audio/flac";
  if (starts("OggS")) return "audio/ogg";
  if (starts("ftyp", 4)) return "audio/mp4";
  if (absl::StartsWithIgnoreCase(content_type, "audio/")) return std::string(content_type);
  return "";
}

bool IsRefusal(absl::StatusCode code) {
  return code == absl::StatusCode::kPermissionDenied ||
         code == absl::StatusCode::kInvalidArgument ||
         code == absl::StatusCode::kFailedPrecondition;
}

absl::Time TimeOf(const google::protobuf::Timestamp& ts) {
  return absl::FromUnixSeconds(ts.seconds()) + absl::Nanoseconds(ts.nanos());
}

// The music_callbacks_refused_total reason of a refused delivery (CallbackServer's HTTP answers).
absl::string_view CallbackRefusalReason(absl::StatusCode code) {
  switch (code) {
    case absl::StatusCode::kNotFound:
      return "unknown_task";
    case absl::StatusCode::kUnauthenticated:
    case absl::StatusCode::kPermissionDenied:
      return "unauthenticated";
    case absl::StatusCode::kInvalidArgument:
      return "malformed";
    case absl::StatusCode::kFailedPrecondition:
    case absl::StatusCode::kAlreadyExists:
      return "wrong_task";
    default:
      return "unavailable";
  }
}

// Adds `waited` to Task.rate_limit_wait.
void AddRateLimitWait(absl::Duration waited, music::v1::Task& task) {
  google::protobuf::Duration* total = task.mutable_rate_limit_wait();
  const absl::Duration sum =
      absl::Seconds(total->seconds()) + absl::Nanoseconds(total->nanos()) + waited;
  const int64_t seconds = absl::ToInt64Seconds(sum);
  total->set_seconds(seconds);
  total->set_nanos(static_cast<int32_t>(absl::ToInt64Nanoseconds(sum - absl::Seconds(seconds))));
}

// The AIP-193 reason a failure's status carries, for TaskError.reason: PROVIDER_AUTH when the
// provider refused the service's own key (adapters/provider_auth.h), else the reason of its
// google.rpc.ErrorInfo payload (status_details.h); "" when it has none.
std::string ReasonOf(const absl::Status& status) {
  if (adapters::IsProviderAuthError(status)) return adapters::kProviderAuthReason;
  if (auto payload = status.GetPayload(kErrorInfoUrl)) {
    google::rpc::ErrorInfo info;
    if (info.ParseFromString(std::string(*payload))) return info.reason();
  }
  return "";
}

// Which provider task of `task` at its current provider the next create makes: 1 for the
// first, n + 1 after n resubmissions there (see "Retryable provider failures").
int ProviderAttempt(const music::v1::Task& task) {
  int attempt = 1;
  for (const music::v1::ProviderResubmission& r : task.resubmissions()) {
    if (r.provider() == task.provider()) ++attempt;
  }
  return attempt;
}

// "tsk_" and 24 hex digits: the creation time in milliseconds since the epoch (12 digits, 48
// bits), then 48 random bits. Time first, as in a ULID or UUIDv7: the ids of new tasks sort
// after the ids already stored, so the B-tree indexes keyed by task id (the tasks table's
// primary key, the clip index, the ledger's billing transaction ids, which embed the task id)
// take new rows at their right edge instead of dirtying a random page each, which cut the
// pages a group commit writes. Ids stay unique (48 random bits within a millisecond) and reveal
// no more than the task's create_time, which its owner sees anyway.
std::string NewTaskId(absl::Time now) {
  static absl::Mutex mu(absl::kConstInit);
  static absl::BitGen* gen = new absl::BitGen();
  const uint64_t millis = static_cast<uint64_t>(std::max<int64_t>(0, absl::ToUnixMillis(now)));
  uint64_t random;
  {
    absl::MutexLock lock(&mu);
    random = absl::Uniform<uint64_t>(*gen);
  }
  return absl::StrFormat("tsk_%012x%012x", millis & 0xFFFFFFFFFFFFull,
                         random & 0xFFFFFFFFFFFFull);
}

}  // namespace

TaskEngine::TaskEngine(EngineOptions options, persistence::TaskStore* store,
                       const ProviderRegistry* providers, const Catalog* catalog,
                       const Clock* clock, WatchHub* hub)
    : options_(std::move(options)),
      store_(store),
      providers_(providers),
      catalog_(catalog),
      clock_(clock),
      hub_(hub),
      own_metrics_(options_.metrics == nullptr ? std::make_unique<Metrics>() : nullptr),
      metrics_(options_.metrics != nullptr ? options_.metrics : own_metrics_.get()),
      breaker_(options_.circuit_breaker, clock),
      create_rate_(&options_.quotas),
      own_pool_(options_.executor == nullptr
                    ? std::make_unique<ThreadPool>(std::max(1, options_.workers), "engine")
                    : nullptr),
      executor_(options_.executor != nullptr ? options_.executor : own_pool_.get()) {
  for (const auto& [provider, limits] : options_.rate_limits) {
    if (limits.creates_per_window <= 0 && limits.polls_per_second <= 0) continue;
    ProviderLimits& l = limits_[provider];
    if (limits.creates_per_window > 0 && limits.create_window > absl::ZeroDuration()) {
      l.creates =
          std::make_unique<SlidingWindowLimiter>(limits.creates_per_window, limits.create_window);
    }
    l.polls_per_second = std::max(0, limits.polls_per_second);
  }
}

TaskEngine::~TaskEngine() { Shutdown(); }

absl::Status TaskEngine::Start() {
  size_t resumed = 0;
  if (options_.leases != nullptr) {
    absl::StatusOr<int> claimed = RunLeaseTick();
    if (!claimed.ok()) return claimed.status();
    resumed = static_cast<size_t>(*claimed);
  } else {
    auto active = store_->ListActive(1'000'000);
    if (!active.ok()) return active.status();
    Resume(*active);
    resumed = active->size();
  }
  LogEvent(LogLevel::kInfo, "engine.started",
           {{"resumed_tasks", absl::StrCat(resumed)},
            {"replica", options_.leases != nullptr ? options_.leases->replica_id() : ""}});
  if (options_.scheduler_thread) {
    scheduler_ = std::thread([this] { SchedulerLoop(); });
    if (options_.leases != nullptr) lease_thread_ = std::thread([this] { LeaseLoop(); });
  }
  return absl::OkStatus();
}

void TaskEngine::Resume(const std::vector<TaskRecord>& records) {
  const absl::Time now = clock_->Now();
  absl::BitGen gen;
  for (const TaskRecord& record : records) {
    if (IsTerminal(record.task.state())) continue;
    absl::Time when = record.next_action_time;
    if (record.submission == SubmissionState::kSubmitting) {
      when = now;  // an interrupted submission is looked at at once (see "Lost submissions")
    } else if (record.submission == SubmissionState::kSubmitted && when < now) {
      // Overdue polls are spread over one interval, so a restart with many running tasks does
      // not hit the provider with all of them at once.
      when = now + options_.poll_interval * absl::Uniform(gen, 0.0, 1.0);
    }
    Remember(record);
    Schedule(record.task.task_id(), when);
  }
}

// Leases (EngineOptions::leases): one renewal per tick, whatever the number of tasks held, then
// claims in batches until nothing is left to claim. A claimed task is resumed as at a restart:
// its previous driver may have died mid-submission ("Lost submissions" covers that).
absl::StatusOr<int> TaskEngine::RunLeaseTick() {
  if (options_.leases == nullptr) return 0;
  if (absl::Status renewed = options_.leases->RenewLeases(); !renewed.ok()) {
    LogEvent(LogLevel::kWarn, "engine.lease_renewal_failed", {{"error", renewed.ToString()}});
    return renewed;
  }
  const int batch = std::max(1, options_.lease_claim_batch);
  int claimed_total = 0;
  for (;;) {
    {
      absl::MutexLock lock(&mu_);
      if (stopping_) break;
    }
    auto claimed = options_.leases->ClaimTasks(batch);
    if (!claimed.ok()) {
      LogEvent(LogLevel::kWarn, "engine.lease_claim_failed", {{"error", claimed.status().ToString()}});
      return claimed.status();
    }
    if (claimed->empty()) break;
    for (const TaskRecord& record : *claimed) {
      // A newer copy cached from a callback (not driven then) must not hide the claim's lease.
      Forget(record.task.task_id());
      LogTaskEvent(LogLevel::kInfo, "task.claimed", record,
                   {{"lease_token", absl::StrCat(record.lease.token)}});
    }
    Resume(*claimed);
    claimed_total += static_cast<int>(claimed->size());
    if (static_cast<int>(claimed->size()) < batch) break;
  }
  return claimed_total;
}

void TaskEngine::LeaseLoop() {
  const absl::Duration interval = std::max(absl::Milliseconds(100), options_.leases->lease_ttl() / 3);
  absl::MutexLock lock(&mu_);
  while (!stopping_) {
    mu_.AwaitWithTimeout(absl::Condition(&stopping_), interval);
    if (stopping_) break;
    mu_.Unlock();
    RunLeaseTick().IgnoreError();  // logged; the next tick tries again
    mu_.Lock();
  }
}

bool TaskEngine::Drives(const TaskRecord& record) const {
  return options_.leases == nullptr || record.lease.owner == options_.leases->replica_id();
}

void TaskEngine::StopDriving(absl::string_view task_id) {
  absl::MutexLock lock(&mu_);
  auto it = slot_of_.find(task_id);
  if (it != slot_of_.end()) RetireLocked(it->second);
}

void TaskEngine::Shutdown(absl::Time abort_at) {
  {
    absl::MutexLock lock(&mu_);
    if (stopping_ && !scheduler_.joinable() && async_in_flight_ == 0) return;
    stopping_ = true;
  }
  if (scheduler_.joinable()) scheduler_.join();
  if (lease_thread_.joinable()) lease_thread_.join();
  // Provider requests in flight end (answered, failed by the transport's timeout, or aborted
  // once the grace is over) before the engine goes: their follow-ups write the task and touch
  // this object.
  const absl::Condition drained(
      +[](TaskEngine* e) ABSL_EXCLUSIVE_LOCKS_REQUIRED(e->mu_) { return e->async_in_flight_ == 0; },
      this);
  int left = 0;
  {
    absl::MutexLock lock(&mu_);
    if (!mu_.AwaitWithDeadline(drained, abort_at)) left = async_in_flight_;
  }
  if (left > 0 && options_.abort_provider_calls) {
    LogEvent(LogLevel::kWarn, "engine.provider_calls_aborted",
             {{"in_flight", absl::StrCat(left)}});
    options_.abort_provider_calls();
  }
  {
    absl::MutexLock lock(&mu_);
    mu_.Await(drained);
  }
  if (own_pool_) own_pool_->Shutdown();
  // Every write of this engine has ended: the others may take its tasks at once.
  if (options_.leases != nullptr && !leases_released_.exchange(true)) {
    if (absl::Status released = options_.leases->ReleaseLeases(); !released.ok()) {
      LogEvent(LogLevel::kWarn, "engine.lease_release_failed", {{"error", released.ToString()}});
    }
  }
}

void TaskEngine::Kick() {
  absl::MutexLock lock(&mu_);
  kicked_ = true;
}

std::string TaskEngine::CallbackUrl(absl::string_view provider, absl::string_view task_id) const {
  if (options_.callback_base_url.empty() || options_.callback_token_secrets.empty()) return "";
  absl::string_view base = options_.callback_base_url;
  if (!base.empty() && base.back() == '/') base.remove_suffix(1);
  return absl::StrCat(base, "/callbacks/", provider, "/", task_id, "/",
                      CallbackToken(options_.callback_token_secrets.front(), provider, task_id));
}

void TaskEngine::LogTask(LogLevel level, absl::string_view event, absl::string_view task_id,
                         LogFields fields) {
  if (!IsEventLogged(level)) return;
  auto record = Load(task_id);
  if (record.ok()) {
    LogTaskEvent(level, event, **record, fields);
    return;
  }
  domain::TaskRecord bare;
  bare.task.set_task_id(std::string(task_id));
  LogTaskEvent(level, event, bare, fields);
}

absl::StatusOr<CreateOutcome> TaskEngine::Create(const CreateSpec& spec) {
  const absl::Time now = clock_->Now();
  TaskRecord record;
  music::v1::Task& task = record.task;
  task.set_task_id(NewTaskId(now));
  task.set_tenant(spec.tenant);
  task.set_request_id(spec.request_id);
  task.set_kind(spec.kind);
  const std::string& model_name = spec.model_name.empty() ? spec.model->name() : spec.model_name;
  task.set_model(model_name);
  task.set_provider(spec.model->provider());
  task.set_provider_model(spec.model->provider_model());
  task.set_state(music::v1::TASK_STATE_PENDING);
  *task.mutable_input() = spec.input;
  SetTimestamp(now, task.mutable_create_time());
  SetTimestamp(now, task.mutable_update_time());
  task.set_version(1);
  record.request_fingerprint = RequestFingerprint(spec.kind, model_name, spec.input);
  record.submission = SubmissionState::kNotSubmitted;
  record.next_action_time = now;
  record.deadline = now + options_.task_deadline;
  record.traceparent = spec.traceparent;
  bool reserved = false;
  std::string refused_quota;  // empty when the refusal is load shedding
  absl::Status admitted = CheckOverload(now);
  if (admitted.ok()) admitted = AdmitCreate(spec.tenant, now, &reserved, &refused_quota);
  if (!admitted.ok()) {
    // A retry of a request already stored is answered as before, never refused: it creates
    // nothing (AIP-155).
    if (!spec.request_id.empty()) {
      auto existing = ExistingCreate(spec, record.request_fingerprint, nullptr);
      if (existing.ok() || absl::IsAlreadyExists(existing.status())) return existing;
    }
    if (refused_quota.empty()) {
      metrics_->CreateShed(spec.tenant);
      // Debug, not info: shedding runs at the offered rate; music_creates_shed_total counts it.
      LogEvent(LogLevel::kDebug, "task.create_shed",
               {{"tenant", spec.tenant}, {"error", admitted.message()}});
    } else {
      metrics_->QuotaRefused(spec.tenant, refused_quota);
      LogEvent(LogLevel::kInfo, "task.quota_refused",
               {{"tenant", spec.tenant}, {"quota", refused_quota}, {"error", admitted.message()}});
    }
    return admitted;
  }

  // The reservation is stored with the task, in one transaction: no task exists unreserved.
  const billing::BillingTransaction reserve = billing::Reserve(spec.model, record, now);
  if (!spec.model->has_price()) {
    LogTaskEvent(LogLevel::kWarn, "billing.unpriced_model", record, {{"model", task.model()}});
  }

  auto result = store_->Create(record, absl::MakeConstSpan(&reserve, 1));
  if (!result.ok() || !result->created) {
    if (reserved) Unreserve(spec.tenant);  // nothing new is in flight
  }
  if (!result.ok()) return result.status();
  if (!result->created) return ExistingCreate(spec, record.request_fingerprint, &result->record);
  Remember(result->record, reserved);
  metrics_->TaskCreated(task.kind(), task.provider());
  metrics_->LedgerRows(absl::MakeConstSpan(&reserve, 1));
  LogTaskEvent(LogLevel::kInfo, "task.created", result->record,
               {{"kind", music::v1::TaskKind_Name(task.kind())}, {"model", task.model()}});
  hub_->Publish(task);
  Schedule(task.task_id(), now);
  return CreateOutcome{task, true};
}

absl::StatusOr<CreateOutcome> TaskEngine::ExistingCreate(const CreateSpec& spec,
                                                         const std::string& fingerprint,
                                                         const TaskRecord* stored) {
  TaskRecord existing;
  if (stored == nullptr) {
    auto found = store_->FindByRequestId(spec.tenant, spec.request_id);
    if (!found.ok()) return found.status();
    existing = *std::move(found);
  } else {
    existing = *stored;
  }
  if (existing.request_fingerprint != fingerprint) {
    return ErrorWithReason(absl::StatusCode::kAlreadyExists,
                           absl::StrCat("request_id \"", TruncateForError(spec.request_id),
                                        "\" was already used for a different request (task ",
                                        existing.task.task_id(), ")"),
                           "REQUEST_ID_REUSED", {{"request_id", spec.request_id}});
  }
  return CreateOutcome{existing.task, false};
}

absl::Status TaskEngine::AdmitCreate(const std::string& tenant, absl::Time now, bool* reserved,
                                     std::string* refused_quota) {
  *reserved = false;
  const TenantQuota& q = options_.quotas.For(tenant);
  if (std::optional<absl::Duration> wait = create_rate_.TryTake(tenant, now)) {
    *refused_quota = kQuotaRequestsPerSecond;
    return QuotaExceeded(tenant, kQuotaRequestsPerSecond,
                         absl::StrCat("at most ", q.requests_per_second, " creates per second"),
                         *wait);
  }
  if (q.max_tasks_in_flight <= 0) return absl::OkStatus();
  {
    absl::MutexLock lock(&mu_);
    int& n = tasks_in_flight_[tenant];
    if (n < q.max_tasks_in_flight) {
      ++n;  // checked and taken under one lock: concurrent creates never pass the limit together
      *reserved = true;
      return absl::OkStatus();
    }
  }
  create_rate_.Return(tenant);  // refused: the create costs the tenant no token either
  *refused_quota = kQuotaTasksInFlight;
  // A task ends at its next poll or callback at the earliest.
  return QuotaExceeded(tenant, kQuotaTasksInFlight,
                       absl::StrCat("at most ", q.max_tasks_in_flight,
                                    " tasks PENDING or RUNNING at once"),
                       std::max(options_.poll_interval, kMinPollInterval));
}

absl::Status TaskEngine::CheckOverload(absl::Time now) {
  if (options_.overload_submission_wait <= absl::ZeroDuration()) return absl::OkStatus();
  absl::Duration oldest = absl::ZeroDuration();
  size_t queued = 0;
  {
    absl::MutexLock lock(&mu_);
    for (const auto& [tenant, queue] : submit_queues_) {
      queued += queue.size();
      if (!queue.empty()) oldest = std::max(oldest, now - slots_[queue.front()].queued_since);
    }
  }
  if (oldest <= options_.overload_submission_wait) return absl::OkStatus();
  absl::Status status = ErrorWithReason(
      absl::StatusCode::kUnavailable,
      absl::StrCat("the service is overloaded: ", queued,
                   " tasks are waiting for submission, the oldest for ",
                   absl::FormatDuration(absl::Trunc(oldest, absl::Milliseconds(1))),
                   "; retry later"),
      "OVERLOADED", {{"tasks_waiting", absl::StrCat(queued)}});
  // The backlog drains at the engine's pace; a second is many rounds of submissions.
  SetRetryDelay(absl::Seconds(1), status);
  return status;
}

void TaskEngine::Unreserve(const std::string& tenant) {
  absl::MutexLock lock(&mu_);
  auto it = tasks_in_flight_.find(tenant);
  if (it == tasks_in_flight_.end()) return;
  if (--it->second <= 0) tasks_in_flight_.erase(it);
}

int TaskEngine::TasksInFlight(absl::string_view tenant) {
  absl::MutexLock lock(&mu_);
  auto it = tasks_in_flight_.find(tenant);
  return it == tasks_in_flight_.end() ? 0 : it->second;
}

void TaskEngine::CountInFlightLocked(Slot& slot, const TaskRecord& record, bool reserved) {
  if (slot.counted_in_flight || IsTerminal(record.task.state())) return;
  slot.tenant = record.task.tenant();
  slot.counted_in_flight = true;
  if (!reserved) ++tasks_in_flight_[slot.tenant];
}

absl::StatusOr<music::v1::Task> TaskEngine::Cancel(absl::string_view tenant,
                                                   absl::string_view task_id) {
  auto current = Load(task_id);
  if (!current.ok() || (*current)->task.tenant() != tenant) {
    if (current.ok() || absl::IsNotFound(current.status())) {
      return absl::NotFoundError(absl::StrCat("task ", TruncateForError(task_id), " not found"));
    }
    return current.status();
  }
  const absl::Time now = clock_->Now();
  auto updated = Mutate(task_id, [&](TaskRecord& r) -> absl::StatusOr<bool> {
    const auto state = r.task.state();
    if (state == music::v1::TASK_STATE_CANCELED) return false;
    if (IsTerminal(state)) {
      return FailedPrecondition(
          "TASK_FINISHED", r.task.task_id(),
          absl::StrCat("the task already ended in state ", music::v1::TaskState_Name(state)));
    }
    r.task.set_state(music::v1::TASK_STATE_CANCELED);
    r.task.mutable_error()->set_code(static_cast<int32_t>(absl::StatusCode::kCancelled));
    r.task.mutable_error()->set_message("canceled by the caller");
    SetTimestamp(now, r.task.mutable_end_time());
    return true;
  }, /*drive=*/false);
  if (!updated.ok()) return updated.status();
  // Best effort at the provider; the task is canceled for us whatever it answers.
  if (!updated->task.provider_task_id().empty()) {
    if (auto* adapter = providers_->Find(updated->task.provider())) {
      executor_->Schedule([this, adapter, provider = updated->task.provider(),
                           id = updated->task.provider_task_id()] {
        const absl::Time start = clock_->Now();
        const absl::Status canceled = adapter->Cancel(id);
        CountCall(provider, "cancel", canceled, start);
      });
    }
  }
  return updated->task;
}

absl::Status TaskEngine::HandleCallback(absl::string_view provider, absl::string_view task_id,
                                        absl::string_view token, const http::Request& request,
                                        absl::string_view peer) {
  // The provider comes from the URL: only a configured one becomes a label value.
  adapters::ProviderAdapter* adapter = providers_->Find(provider);
  const absl::string_view label = adapter != nullptr ? provider : absl::string_view("unknown");
  metrics_->CallbackReceived(label);
  bool duplicate = false;
  std::shared_ptr<const TaskRecord> found;
  // Fail closed: the token is checked before anything is read or parsed. Whatever the provider
  // signs (kie.ai signs only the task id and a timestamp, unless no key is set at all), only a
  // caller that was handed this task's URL gets further; a forged delivery can neither finish
  // a task nor make one whose create answer was lost adopt a provider task id.
  absl::Status s =
      VerifyCallbackToken(options_.callback_token_secrets, provider, task_id, token)
          ? ApplyCallback(adapter, provider, task_id, request, duplicate, &found)
          : absl::UnauthenticatedError("the callback URL's token is not this task's");
  if (!s.ok()) {
    metrics_->CallbackRefused(label, CallbackRefusalReason(s.code()));
  } else if (duplicate) {
    metrics_->CallbackDuplicate(label);
  }
  if (!s.ok() && IsEventLogged(LogLevel::kWarn)) {
    // The id and provider come from the URL: for an unknown task they are all there is.
    TaskRecord bare;
    if (found == nullptr) {
      bare.task.set_task_id(std::string(task_id));
      bare.task.set_provider(std::string(provider));
    }
    LogTaskEvent(LogLevel::kWarn, "callback.rejected", found ? *found : bare,
                 {{"callback_provider", provider},
                  {"peer", peer},
                  {"code", absl::StatusCodeToString(s.code())},
                  {"error", s.message()}});
  }
  return s;
}

absl::Status TaskEngine::ApplyCallback(adapters::ProviderAdapter* adapter,
                                       absl::string_view provider, absl::string_view task_id,
                                       const http::Request& request, bool& duplicate,
                                       std::shared_ptr<const TaskRecord>* found) {
  auto record = Load(task_id);
  if (record.ok()) *found = *record;
  if (!record.ok() || (*record)->task.provider() != provider) {
    if (record.ok() || absl::IsNotFound(record.status())) {
      return absl::NotFoundError(absl::StrCat("no task ", TruncateForError(task_id),
                                              " for provider ", TruncateForError(provider)));
    }
    return record.status();
  }
  if (adapter == nullptr) {
    return absl::NotFoundError(absl::StrCat("no provider ", TruncateForError(provider)));
  }
  auto update = adapter->ParseCallback((*record)->task.kind(), request);
  if (absl::IsAlreadyExists(update.status())) {
    // A repeat of a delivery already applied (PiAPI resends with the same timestamp).
    LogTaskEvent(LogLevel::kDebug, "callback.repeat", **record);
    duplicate = true;
    return absl::OkStatus();
  }
  if (!update.ok()) return update.status();

  const absl::Time now = clock_->Now();
  {
    // An authenticated delivery: this provider's callback channel works (PollInterval).
    absl::MutexLock lock(&mu_);
    last_callback_[std::string(provider)] = now;
  }
  auto result = Mutate(task_id, [&](TaskRecord& r) -> absl::StatusOr<bool> {
    duplicate = false;  // set again by each attempt of the write
    if (IsTerminal(r.task.state())) {
      duplicate = true;
      return false;  // late delivery: nothing can change
    }
    if (!update->provider_task_id.empty() && !r.task.provider_task_id().empty() &&
        update->provider_task_id != r.task.provider_task_id()) {
      return FailedPrecondition("PROVIDER_TASK_MISMATCH", r.task.task_id(),
                                "the callback names another provider task");
    }
    bool changed = false;
    if (r.submission != SubmissionState::kSubmitted) {
      if (r.submission == SubmissionState::kNotSubmitted || update->provider_task_id.empty()) {
        return FailedPrecondition("NOT_SUBMITTED", r.task.task_id(),
                                  "the task was not submitted to this provider");
      }
      // Adoption: the answer to our create was lost, the callback tells us the provider task.
      r.task.set_provider_task_id(update->provider_task_id);
      r.submission = SubmissionState::kSubmitted;
      r.attempts = 0;
      changed = true;
    }
    if (ResubmitAfterRetryableFailure(r, *update, now)) {
      duplicate = false;
      return true;
    }
    changed |= MergeProviderUpdate(*update, now, r.task);
    // The callback is the news a poll would have brought: the next poll is one interval away.
    if (changed) r.next_action_time = Clamp(now + PollInterval(std::string(provider)), r);
    duplicate = !changed;
    return changed;
  }, /*drive=*/false);
  return result.status();
}

absl::StatusOr<TaskRecord> TaskEngine::Mutate(absl::string_view task_id, const Mutation& fn,
                                              bool drive) {
  for (int attempt = 0; attempt < 16; ++attempt) {
    auto loaded = Load(task_id);
    if (!loaded.ok()) {
      if (!absl::IsNotFound(loaded.status())) {
        RetryAfterStoreFault(std::string(task_id), loaded.status());
      }
      return loaded.status();
    }
    const std::shared_ptr<const TaskRecord> current = *std::move(loaded);
    if (drive && !Drives(*current)) {
      // Another replica claimed the task: its driver's steps are that replica's now.
      StopDriving(task_id);
      return persistence::LeaseLostError(absl::StrCat(
          "task ", TruncateForError(task_id), " is driven by replica ", current->lease.owner));
    }
    TaskRecord next = *current;
    auto write = fn(next);
    if (!write.ok()) return write.status();
    if (!*write) return *current;
    next.task.set_version(current->task.version() + 1);
    SetTimestamp(clock_->Now(), next.task.mutable_update_time());
    // SETTLE / REFUND go in the same write as the terminal transition, whichever path (success,
    // failure, cancel, deadline) gets there first; the version check lets only one win.
    // A failover's release and new reservation likewise go with the move (ledger.h).
    std::vector<billing::BillingTransaction> ledger =
        billing::FailOverRows(*current, next, clock_->Now());
    if (IsTerminal(next.task.state()) && !IsTerminal(current->task.state())) {
      for (auto& row : billing::Finish(next, clock_->Now())) ledger.push_back(std::move(row));
    }
    absl::Status s = store_->Update(next, ledger);
    if (s.ok()) {
      // A change of a task another replica drives (a callback or cancel that reached this one)
      // is published here, but the task is neither cached nor scheduled: its driver does that.
      const bool drives = Drives(next);
      if (drives) {
        Remember(next);
      } else {
        StopDriving(task_id);
      }
      if (!IsTerminal(next.task.state()) && !ledger.empty()) metrics_->LedgerRows(ledger);
      hub_->Publish(next.task);
      if (options_.on_task_ended && IsTerminal(next.task.state()) &&
          !IsTerminal(current->task.state())) {
        options_.on_task_ended(next);
      }
      if (IsTerminal(next.task.state()) && !IsTerminal(current->task.state())) {
        metrics_->TaskEnded(next.task.kind(), next.task.provider(), next.task.state(),
                            next.task.error().code(),
                            clock_->Now() - TimeOf(next.task.create_time()));
        metrics_->LedgerRows(ledger);
        // A failure is worth a look; success and cancellation are the normal ends.
        LogTaskEvent(
            next.task.state() == music::v1::TASK_STATE_FAILED ? LogLevel::kWarn : LogLevel::kInfo,
            "task.ended", next,
            {{"state", music::v1::TaskState_Name(next.task.state())},
             {"error_code",
              absl::StatusCodeToString(static_cast<absl::StatusCode>(next.task.error().code()))},
             {"error", next.task.error().message()}});
      }
      if (!IsTerminal(next.task.state())) {
        if (IsEventLogged(LogLevel::kDebug)) {
          LogTaskEvent(LogLevel::kDebug, "task.updated", next,
                       {{"state", music::v1::TaskState_Name(next.task.state())},
                        {"version", absl::StrCat(next.task.version())}});
        }
        if (drives) Schedule(next.task.task_id(), next.next_action_time);
      }
      return next;
    }
    if (persistence::IsLeaseLost(s)) {
      // Another replica claimed the task after this one's lease lapsed: nothing was written,
      // and the step is the new driver's to redo.
      LogTaskEvent(LogLevel::kWarn, "task.lease_lost", *current, {{"error", s.ToString()}});
      StopDriving(task_id);
      if (!drive) continue;  // a callback or cancel still applies, from the stored record
      return s;
    }
    // ABORTED: another writer won; read the store again.
    Forget(task_id);
    if (!absl::IsAborted(s)) {
      // The store could not take it (unavailable, locked, full): nothing changed, so the step
      // is redone later from the stored state. A task whose store write failed is never left
      // without a timer.
      if (!absl::IsNotFound(s) && !absl::IsInvalidArgument(s)) {
        RetryAfterStoreFault(std::string(task_id), s);
      }
      return s;
    }
  }
  return absl::AbortedError(
      absl::StrCat("task ", TruncateForError(task_id), " kept changing; try again"));
}

void TaskEngine::RetryAfterStoreFault(const std::string& task_id, const absl::Status& error) {
  int failures;
  {
    absl::MutexLock lock(&mu_);
    failures = ++slots_[SlotLocked(task_id)].store_failures;
  }
  const absl::Duration delay = Backoff(failures, error);
  // With the record's fields when it is cached (a store that fails writes may fail reads too).
  LogTask(LogLevel::kWarn, "task.store_failed", task_id,
          {{"error", error.ToString()},
           {"attempt", absl::StrCat(failures)},
           {"retry_in", absl::FormatDuration(delay)}});
  Schedule(task_id, clock_->Now() + delay);
}

uint32_t TaskEngine::SlotLocked(const std::string& task_id) {
  auto [it, inserted] = slot_of_.try_emplace(task_id, 0);
  if (!inserted) return it->second;
  uint32_t index;
  if (!free_slots_.empty()) {
    index = free_slots_.back();
    free_slots_.pop_back();
  } else {
    index = static_cast<uint32_t>(slots_.size());
    slots_.emplace_back();
  }
  Slot& slot = slots_[index];
  // The generation survives reuse, so heap entries of the slot's previous task stay stale.
  const uint64_t generation = slot.generation + 1;
  slot = Slot();
  slot.generation = generation;
  slot.task_id = task_id;
  slot.in_use = true;
  it->second = index;
  return index;
}

void TaskEngine::RetireLocked(uint32_t index) {
  Slot& slot = slots_[index];
  if (!slot.in_use) return;
  CountLocked(slot, nullptr);  // no longer driven, even while its last step finishes
  if (slot.counted_in_flight) {
    // Terminal (or gone): it no longer counts against the tenant's max_tasks_in_flight.
    slot.counted_in_flight = false;
    auto it = tasks_in_flight_.find(slot.tenant);
    if (it != tasks_in_flight_.end() && --it->second <= 0) tasks_in_flight_.erase(it);
  }
  if (slot.running) {
    slot.retire = true;  // freed by StepDone
    return;
  }
  slot_of_.erase(slot.task_id);
  const uint64_t generation = slot.generation + 1;
  slot = Slot();
  slot.generation = generation;
  free_slots_.push_back(index);
}

absl::StatusOr<std::shared_ptr<const TaskRecord>> TaskEngine::Load(absl::string_view task_id) {
  {
    absl::MutexLock lock(&mu_);
    auto it = slot_of_.find(task_id);
    if (it != slot_of_.end() && slots_[it->second].record != nullptr) {
      return slots_[it->second].record;
    }
  }
  auto stored = store_->Get(task_id);
  if (!stored.ok()) return stored.status();
  auto record = std::make_shared<const TaskRecord>(*std::move(stored));
  prometheus::Gauge* const gauge = GaugeFor(*record);
  // Cache only tasks this engine drives (they have a slot); RPC-only reads do not grow memory.
  absl::MutexLock lock(&mu_);
  auto it = slot_of_.find(task_id);
  if (it != slot_of_.end()) {
    Slot& slot = slots_[it->second];
    if (slot.record == nullptr || slot.record->task.version() < record->task.version()) {
      slot.record = record;
      CountLocked(slot, gauge);
    }
    CountInFlightLocked(slot, *record, /*reserved=*/false);
  }
  return record;
}

void TaskEngine::Remember(const TaskRecord& record, bool reserved) {
  prometheus::Gauge* const gauge = GaugeFor(record);
  absl::MutexLock lock(&mu_);
  if (IsTerminal(record.task.state())) {
    auto it = slot_of_.find(record.task.task_id());
    if (it != slot_of_.end()) RetireLocked(it->second);
    return;
  }
  Slot& slot = slots_[SlotLocked(record.task.task_id())];
  CountInFlightLocked(slot, record, reserved);
  slot.store_failures = 0;
  if (slot.record == nullptr || slot.record->task.version() < record.task.version()) {
    slot.record = std::make_shared<const TaskRecord>(record);
    CountLocked(slot, gauge);
  }
}

prometheus::Gauge* TaskEngine::GaugeFor(const TaskRecord& record) {
  if (IsTerminal(record.task.state())) return nullptr;
  return &metrics_->ActiveTasks(record.task.state(), record.task.kind(), record.task.provider());
}

void TaskEngine::CountLocked(Slot& slot, prometheus::Gauge* gauge) {
  if (gauge == slot.counted) return;
  if (slot.counted != nullptr) slot.counted->Decrement();
  if (gauge != nullptr) gauge->Increment();
  slot.counted = gauge;
}

void TaskEngine::CountCall(const std::string& provider, absl::string_view endpoint,
                           const absl::Status& status, absl::Time start) {
  metrics_->ProviderCall(provider, endpoint, status, clock_->Now() - start);
}

absl::Duration TaskEngine::OldestDueAge() {
  const absl::Time now = clock_->Now();
  absl::MutexLock lock(&mu_);
  if (timers_.empty()) return absl::ZeroDuration();
  const TimerEntry& top = timers_.top();
  const Slot& slot = slots_[top.slot];
  // A stale entry is dropped at the next wake-up (within scheduler_tick); it says nothing.
  if (!slot.in_use || slot.generation != top.generation) return absl::ZeroDuration();
  return std::max(absl::ZeroDuration(), now - top.when);
}

void TaskEngine::NoteStoredChange(absl::string_view task_id, int64_t version) {
  absl::MutexLock lock(&mu_);
  auto it = slot_of_.find(task_id);
  if (it == slot_of_.end()) return;
  Slot& slot = slots_[it->second];
  if (slot.record != nullptr && slot.record->task.version() < version) slot.record = nullptr;
}

void TaskEngine::Forget(absl::string_view task_id) {
  absl::MutexLock lock(&mu_);
  auto it = slot_of_.find(task_id);
  if (it != slot_of_.end()) slots_[it->second].record = nullptr;
}

void TaskEngine::Schedule(const std::string& task_id, absl::Time when) {
  absl::MutexLock lock(&mu_);
  const uint32_t index = SlotLocked(task_id);
  Slot& slot = slots_[index];
  if (slot.due <= when) return;  // already due earlier
  slot.due = when;
  slot.generation += 1;
  // Wake the scheduler only when this timer is the new earliest one.
  if (timers_.empty() || when < timers_.top().when) kicked_ = true;
  timers_.push(TimerEntry{when, index, slot.generation});
  // Stale entries (rescheduled earlier, retired) are dropped when they surface; compact when
  // they dominate, so the heap stays proportional to the tasks driven.
  if (timers_.size() > 1024 && timers_.size() > 4 * slot_of_.size()) {
    std::vector<TimerEntry> live;
    live.reserve(slot_of_.size());
    while (!timers_.empty()) {
      const TimerEntry& e = timers_.top();
      if (slots_[e.slot].in_use && slots_[e.slot].generation == e.generation) live.push_back(e);
      timers_.pop();
    }
    for (const TimerEntry& e : live) timers_.push(e);
  }
}

void TaskEngine::SchedulerLoop() {
  while (true) {
    std::vector<std::pair<uint32_t, std::string>> ready;
    {
      absl::MutexLock lock(&mu_);
      absl::Duration wait = options_.scheduler_tick;
      if (!timers_.empty()) {
        wait = std::min(wait, std::max(absl::ZeroDuration(), timers_.top().when - clock_->Now()));
      }
      if (wait > absl::ZeroDuration()) {
        mu_.AwaitWithTimeout(absl::Condition(
                                 +[](TaskEngine* e) ABSL_EXCLUSIVE_LOCKS_REQUIRED(e->mu_) {
                                   return e->kicked_ || e->stopping_;
                                 },
                                 this),
                             wait);
      }
      kicked_ = false;
      if (stopping_) return;
      ready = TakeDueLocked(clock_->Now());
    }
    Dispatch(ready);
  }
}

int TaskEngine::RunDue() {
  std::vector<std::pair<uint32_t, std::string>> ready;
  {
    absl::MutexLock lock(&mu_);
    if (stopping_) return 0;
    ready = TakeDueLocked(clock_->Now());
  }
  const int n = static_cast<int>(ready.size());
  Dispatch(ready);
  return n;
}

std::vector<std::pair<uint32_t, std::string>> TaskEngine::TakeDueLocked(absl::Time now) {
  std::vector<std::pair<uint32_t, std::string>> ready;
  while (!timers_.empty() && timers_.top().when <= now) {
    const TimerEntry e = timers_.top();
    timers_.pop();
    Slot& slot = slots_[e.slot];
    if (!slot.in_use || slot.generation != e.generation) continue;  // stale
    slot.due = absl::InfiniteFuture();
    if (slot.running) {
      slot.due_while_running = true;
      continue;
    }
    slot.running = true;
    ready.emplace_back(e.slot, slot.task_id);
  }
  return ready;
}

void TaskEngine::StepDone(uint32_t index) {
  std::string again;
  std::vector<std::pair<uint32_t, std::string>> next_submissions;
  {
    absl::MutexLock lock(&mu_);
    Slot& slot = slots_[index];
    slot.running = false;
    if (slot.holds_submission) {
      // Its place goes to the next tenant in the round.
      slot.holds_submission = false;
      --submissions_running_;
      next_submissions = TakeSubmissionsLocked();
    }
    if (slot.retire) {
      RetireLocked(index);
    } else if (slot.due_while_running && !stopping_) {
      slot.due_while_running = false;
      slot.running = true;
      again = slot.task_id;
    }
  }
  HandOver(next_submissions, /*urgent=*/true);
  if (!again.empty()) {
    std::vector<std::pair<uint32_t, std::string>> ready;
    ready.emplace_back(index, std::move(again));
    Dispatch(ready);
  }
}

void TaskEngine::Dispatch(const std::vector<std::pair<uint32_t, std::string>>& ready) {
  std::vector<std::pair<uint32_t, std::string>> polls;
  std::vector<std::pair<uint32_t, std::string>> submissions;
  const absl::Time now = clock_->Now();
  {
    absl::MutexLock lock(&mu_);
    for (const auto& [index, id] : ready) {
      Slot& slot = slots_[index];
      const bool submission =
          slot.record == nullptr || slot.record->submission != SubmissionState::kSubmitted;
      if (!submission) {
        polls.emplace_back(index, id);
        continue;
      }
      // Fair queueing: into its tenant's queue; a tenant whose queue was empty joins the round.
      const std::string& tenant =
          slot.record != nullptr ? slot.record->task.tenant() : slot.tenant;
      std::deque<uint32_t>& queue = submit_queues_[tenant];
      if (queue.empty()) submit_ring_.push_back(tenant);
      queue.push_back(index);
      slot.queued_submission = true;
      slot.queued_since = now;
    }
    submissions = TakeSubmissionsLocked();
  }
  // Submissions go ahead of polls: a new task is not queued behind thousands of polls.
  HandOver(submissions, /*urgent=*/true);
  HandOver(polls, /*urgent=*/false);
}

std::vector<std::pair<uint32_t, std::string>> TaskEngine::TakeSubmissionsLocked() {
  std::vector<std::pair<uint32_t, std::string>> out;
  if (stopping_) return out;  // what is queued stays in the store; Start() resumes it
  const int limit = std::max(1, options_.max_submissions_in_flight);
  while (submissions_running_ < limit && !submit_ring_.empty()) {
    std::string tenant = std::move(submit_ring_.front());
    submit_ring_.pop_front();
    auto it = submit_queues_.find(tenant);
    if (it == submit_queues_.end()) continue;  // not reached: a tenant in the ring has a queue
    const uint32_t index = it->second.front();
    it->second.pop_front();
    // One submission per tenant per turn: back to the end of the round while it has more.
    if (it->second.empty()) {
      submit_queues_.erase(it);
    } else {
      submit_ring_.push_back(std::move(tenant));
    }
    Slot& slot = slots_[index];
    slot.queued_submission = false;
    slot.holds_submission = true;
    ++submissions_running_;
    out.emplace_back(index, slot.task_id);
  }
  return out;
}

void TaskEngine::HandOver(const std::vector<std::pair<uint32_t, std::string>>& steps,
                          bool urgent) {
  for (const auto& [index, id] : steps) {
    const uint32_t slot = index;
    std::function<void()> step = [this, slot, task_id = id] {
      Step(task_id, [this, slot] { StepDone(slot); });
    };
    const bool taken = urgent ? executor_->ScheduleUrgent(std::move(step))
                              : executor_->Schedule(std::move(step));
    if (!taken) {
      // The executor stopped taking work (shutdown): the task stays in the store and is resumed
      // by the next Start().
      absl::MutexLock lock(&mu_);
      Slot& s = slots_[slot];
      s.running = false;
      if (s.holds_submission) {
        s.holds_submission = false;
        --submissions_running_;
      }
      if (s.retire) RetireLocked(slot);
    }
  }
}

absl::Duration TaskEngine::PollInterval(const std::string& provider) {
  const absl::Duration base = std::max(options_.poll_interval, kMinPollInterval);
  if (options_.callback_poll_interval <= base || options_.callback_base_url.empty()) return base;
  absl::MutexLock lock(&mu_);
  auto it = last_callback_.find(provider);
  if (it == last_callback_.end() || clock_->Now() - it->second > options_.callback_trust_window) {
    return base;
  }
  return options_.callback_poll_interval;
}

void TaskEngine::AsyncStarted() {
  absl::MutexLock lock(&mu_);
  ++async_in_flight_;
}

void TaskEngine::AsyncEnded() {
  absl::MutexLock lock(&mu_);
  --async_in_flight_;
}

void TaskEngine::Continue(std::function<void()> fn) {
  // The provider's answer may arrive on a transport thread, where nothing may block: the
  // follow-up writes the store, so it runs on the executor.
  // Urgent: it finishes work already in progress (and frees the step), so under overload it goes
  // ahead of polls rather than behind them.
  auto shared = std::make_shared<std::function<void()>>(std::move(fn));
  if (!executor_->ScheduleUrgent([shared] { (*shared)(); })) (*shared)();
}

absl::Time TaskEngine::Clamp(absl::Time t, const TaskRecord& record) const {
  return std::min(t, record.deadline);
}

absl::Duration TaskEngine::Backoff(int attempt, const absl::Status& error) {
  static absl::Mutex mu(absl::kConstInit);
  static absl::BitGen* gen = new absl::BitGen();
  const double exp = std::pow(2.0, std::max(0, attempt - 1));
  absl::Duration base = std::min(options_.backoff_max, options_.backoff_initial * exp);
  double jitter;
  {
    absl::MutexLock lock(&mu);
    jitter = absl::Uniform(*gen, 0.5, 1.0);  // "equal jitter": never less than half the step
  }
  absl::Duration delay = base * jitter;
  if (auto retry_after = adapters::GetRetryAfter(error); retry_after && *retry_after > delay) {
    delay = *retry_after;
  }
  return delay;
}

void TaskEngine::FailNow(const std::string& task_id, absl::StatusCode code,
                         const std::string& message, const std::string& provider_error_code) {
  const absl::Time now = clock_->Now();
  Mutate(task_id, [&](TaskRecord& r) -> absl::StatusOr<bool> {
    return FailTask(code, message, r.task.progress().provider_status(), provider_error_code, now,
                    r.task);
  }).IgnoreError();
}

void TaskEngine::Step(const std::string& task_id, Done done) {
  {
    // After Shutdown began no submission or poll starts: the task stays as stored (a queued
    // PENDING one is submitted by the next Start), so shutting down never drains the queue.
    bool stopping;
    {
      absl::MutexLock lock(&mu_);
      stopping = stopping_;
    }
    if (stopping) {
      done();
      return;
    }
  }
  auto loaded = Load(task_id);
  if (!loaded.ok()) {
    // The store is unhappy (not a lost task): look again later.
    if (!absl::IsNotFound(loaded.status())) {
      RetryAfterStoreFault(task_id, loaded.status());
    } else {
      absl::MutexLock lock(&mu_);
      auto it = slot_of_.find(task_id);
      if (it != slot_of_.end()) RetireLocked(it->second);  // gone from the store: stop driving it
    }
    done();
    return;
  }
  const std::shared_ptr<const TaskRecord> held = *std::move(loaded);
  const TaskRecord& record = *held;
  if (IsTerminal(record.task.state())) {
    Remember(record);
    done();
    return;
  }
  if (!Drives(record)) {
    StopDriving(task_id);  // another replica claimed it: its steps are that replica's
    done();
    return;
  }
  const absl::Time now = clock_->Now();
  if (now >= record.deadline) {
    FailNow(task_id, absl::StatusCode::kDeadlineExceeded,
            absl::StrCat("the task did not finish within its deadline of ",
                         absl::FormatDuration(options_.task_deadline)));
    done();
    return;
  }
  adapters::ProviderAdapter* adapter = providers_->Find(record.task.provider());
  if (adapter == nullptr) {
    FailNow(task_id, absl::StatusCode::kFailedPrecondition,
            absl::StrCat("provider ", record.task.provider(), " is not configured"));
    done();
    return;
  }
  switch (record.submission) {
    case SubmissionState::kNotSubmitted:
      Submit(record, adapter, std::move(done));
      return;
    case SubmissionState::kSubmitting:
      // Found after a restart: the create may or may not have reached the provider.
      Mutate(task_id, [&](TaskRecord& r) -> absl::StatusOr<bool> {
        if (r.submission != SubmissionState::kSubmitting) return false;
        if (adapter->resubmit_policy() == adapters::ResubmitPolicy::kLookupByRequestId) {
          r.submission = SubmissionState::kUnknown;
          r.unknown_since = now;
          r.next_action_time = now;
        } else if (adapter->resubmit_policy() == adapters::ResubmitPolicy::kAtMostOnce) {
          r.submission = SubmissionState::kUnknown;
          r.unknown_since = now;
          r.next_action_time = Clamp(now + options_.unknown_submission_grace, r);
        } else {
          r.submission = SubmissionState::kNotSubmitted;
          r.next_action_time = now;
        }
        return true;
      }).IgnoreError();
      done();
      return;
    case SubmissionState::kUnknown:
      if (adapter->resubmit_policy() == adapters::ResubmitPolicy::kLookupByRequestId) {
        Recover(record, adapter);
        done();
        return;
      }
      if (now >= record.unknown_since + options_.unknown_submission_grace) {
        FailNow(task_id, absl::StatusCode::kUnavailable,
                "the provider's answer to the submission was lost and no callback revealed the "
                "provider task; it was not sent again, to avoid a second (billed) provider task");
      } else {
        Schedule(task_id, Clamp(record.unknown_since + options_.unknown_submission_grace, record));
      }
      done();
      return;
    case SubmissionState::kSubmitted:
      if (auto at = AcquirePollSlot(task_id, record.task.provider(), now); at.has_value()) {
        // Over the task's poll limit: not sent; polled when the limit allows (see "Rate limits").
        Schedule(task_id, Clamp(*at, record));
        done();
        return;
      }
      Poll(record, adapter, std::move(done));
      return;
  }
  done();
}

void TaskEngine::Submit(TaskRecord record, adapters::ProviderAdapter* adapter, Done done) {
  const std::string task_id = record.task.task_id();
  const std::string provider = record.task.provider();
  if (!breaker_.Allow(provider)) {
    // Nothing is sent to a provider whose circuit is open: the next alias member, or a wait.
    if (NextCandidate(record) != nullptr) {
      const absl::Time now = clock_->Now();
      Mutate(task_id, [&](TaskRecord& r) -> absl::StatusOr<bool> {
        if (r.submission != SubmissionState::kNotSubmitted || IsTerminal(r.task.state()) ||
            r.task.provider() != provider) {
          return false;
        }
        const music::v1::Model* next = NextCandidate(r);
        if (next == nullptr) return false;
        FailOver(r, *next, absl::StatusCode::kUnavailable,
                 absl::StrCat("circuit open: ", provider, " failed repeatedly; not tried"), now);
        return true;
      }).IgnoreError();
    } else {
      {
        absl::MutexLock lock(&mu_);
        circuit_waiters_[provider].insert(task_id);
      }
      Schedule(task_id, Clamp(breaker_.RetryAt(provider), record));
    }
    done();
    return;
  }
  if (!record.task.input().reference_audio_uri().empty() && record.reference_artifact_id.empty() &&
      !PrepareReferenceAudio(record, adapter)) {
    done();
    return;
  }
  // The account's create limit (see "Rate limits"): over it, nothing is sent or written and the
  // step runs again when a slot frees. Asked after the breaker, so a half-open circuit's probe
  // is granted only while the account has room (an open circuit sent nothing for its cool-down).
  absl::Duration waited;
  if (auto at = AcquireCreateSlot(task_id, provider, clock_->Now(), &waited); at.has_value()) {
    Schedule(task_id, Clamp(*at, record));
    done();
    return;
  }
  // Written before sending, so a crash mid-send is seen on restart (see "Lost submissions").
  auto marked = Mutate(task_id, [&](TaskRecord& r) -> absl::StatusOr<bool> {
    if (r.submission != SubmissionState::kNotSubmitted || IsTerminal(r.task.state()) ||
        r.task.provider() != provider) {
      return absl::AbortedError("changed meanwhile");
    }
    r.submission = SubmissionState::kSubmitting;
    r.next_action_time = Clamp(clock_->Now() + options_.unknown_submission_grace, r);
    if (waited > absl::ZeroDuration()) AddRateLimitWait(waited, r.task);
    return true;
  });
  if (!marked.ok()) {
    ReturnCreateSlot(provider);
    done();
    return;
  }
  EndCreateWait(task_id, provider, waited);

  const adapters::SubmitRequest request = BuildSubmitRequest(*marked);
  AsyncStarted();
  adapter->SubmitAsync(
      request, [this, task_id, provider, adapter, start = clock_->Now(),
                done = std::move(done)](absl::StatusOr<adapters::SubmitResult> sent) mutable {
        ReleaseCreateSlot(provider);  // answered (or failed): the slot counts from now
        CountCall(provider, "submit", sent.status(), start);
        auto answer = std::make_shared<absl::StatusOr<adapters::SubmitResult>>(std::move(sent));
        Continue([this, task_id, provider, adapter, answer, done = std::move(done)] {
          FinishSubmit(task_id, provider, adapter, *answer);
          done();
          AsyncEnded();
        });
      });
}

void TaskEngine::FinishSubmit(const std::string& task_id, const std::string& provider,
                              adapters::ProviderAdapter* adapter,
                              const absl::StatusOr<adapters::SubmitResult>& sent) {
  RecordOutcome(provider, sent.status());

  const absl::Time now = clock_->Now();
  const auto policy = adapter->resubmit_policy();
  if (!sent.ok()) {
    LogTask(LogLevel::kWarn, "task.submit_failed", task_id,
            {{"code", absl::StatusCodeToString(sent.status().code())},
             {"outcome_unknown", adapters::IsOutcomeUnknown(sent.status()) ? "true" : "false"},
             {"error", sent.status().message()}});
  }
  Mutate(task_id, [&](TaskRecord& r) -> absl::StatusOr<bool> {
    if (r.submission == SubmissionState::kSubmitted) return false;  // a callback adopted it
    if (IsTerminal(r.task.state())) {
      // Canceled while we were sending: keep it canceled, remember the provider task.
      if (sent.ok() && r.task.provider_task_id().empty()) {
        Adopt(*sent, r);
        return true;
      }
      return false;
    }
    if (sent.ok()) {
      Adopt(*sent, r);
      r.attempts = 0;
      r.task.set_state(music::v1::TASK_STATE_RUNNING);
      r.next_action_time = Clamp(now + options_.poll_interval, r);
      return true;
    }
    const absl::Status& error = sent.status();
    if (adapters::IsOutcomeUnknown(error) && policy != adapters::ResubmitPolicy::kIdempotencyKey) {
      // kAtMostOnce waits for a callback; kLookupByRequestId looks the task up before any new
      // create (see "Lost submissions"). Neither fails over: the provider may hold the task.
      r.submission = SubmissionState::kUnknown;
      r.unknown_since = now;
      r.attempts += 1;
      r.next_action_time = Clamp(policy == adapters::ResubmitPolicy::kLookupByRequestId
                                     ? now + Backoff(r.attempts, error)
                                     : now + options_.unknown_submission_grace,
                                 r);
      return true;
    }
    AfterProviderError(r, error, "the task", now);
    return true;
  }).IgnoreError();
  if (sent.ok()) {
    // If the task was canceled while sending, cancel at the provider too (best effort).
    auto after = store_->Get(task_id);
    if (after.ok() && after->task.state() == music::v1::TASK_STATE_CANCELED) {
      const absl::Time start = clock_->Now();
      const absl::Status canceled = adapter->Cancel(sent->provider_task_id);
      CountCall(provider, "cancel", canceled, start);
    }
  }
}

void TaskEngine::RecordOutcome(const std::string& provider, const absl::Status& status) {
  if (options_.provider_health != nullptr) options_.provider_health->Record(provider, status);
  breaker_.Record(provider, status);
  if (CircuitBreaker::CountsAsFailure(status)) return;
  std::set<std::string> waiters;
  {
    absl::MutexLock lock(&mu_);
    auto it = circuit_waiters_.find(provider);
    if (it == circuit_waiters_.end()) return;
    waiters = std::move(it->second);
    circuit_waiters_.erase(it);
  }
  const absl::Time now = clock_->Now();
  for (const auto& id : waiters) Schedule(id, now);
}

void TaskEngine::AfterProviderError(TaskRecord& r, const absl::Status& error,
                                    absl::string_view what, absl::Time now) {
  const bool retryable = adapters::IsRetryable(error) || adapters::IsOutcomeUnknown(error);
  const bool budget_left = r.attempts + 1 < options_.max_submit_attempts;
  const bool circuit_open = breaker_.state(r.task.provider()) == CircuitBreaker::State::kOpen;
  // 402 and the like fail over at once; retryable errors once the budget is spent or the
  // circuit opened; INVALID_ARGUMENT (the content was refused) and auth errors never.
  const bool fail_over = error.code() == absl::StatusCode::kFailedPrecondition ||
                         (retryable && (circuit_open || !budget_left));
  if (fail_over) {
    if (const music::v1::Model* next = NextCandidate(r); next != nullptr) {
      FailOver(r, *next, error.code(), error.message(), now);
      return;
    }
  }
  if (retryable && budget_left) {
    r.submission = SubmissionState::kNotSubmitted;
    r.attempts += 1;
    // With the circuit open, the next Submit waits out the cool-down (in memory only: a
    // restarted engine has a fresh breaker and should not inherit the wait).
    r.next_action_time = Clamp(now + Backoff(r.attempts, error), r);
    return;
  }
  // Our key refused: the message leads with the AIP-193 reason, PROVIDER_AUTH, so callers and
  // operators tell it from the caller's own errors (code FAILED_PRECONDITION, provider code 401).
  const std::string reason =
      adapters::IsProviderAuthError(error) ? absl::StrCat(adapters::kProviderAuthReason, ": ") : "";
  if (FailTask(error.code(),
               absl::StrCat(reason, "the provider refused ", what, ": ", error.message()), "",
               adapters::GetProviderErrorCode(error), now, r.task)) {
    r.task.mutable_error()->set_reason(ReasonOf(error));
  }
}

bool TaskEngine::ResubmitAfterRetryableFailure(TaskRecord& r,
                                               const adapters::ProviderUpdate& update,
                                               absl::Time now) {
  if (update.state != adapters::ProviderState::kFailed || !update.retryable) return false;
  const int attempt = ProviderAttempt(r.task);
  if (attempt >= options_.max_submit_attempts) return false;  // budget spent: it fails as usual
  const absl::StatusCode code =
      update.error_code == absl::StatusCode::kOk ? absl::StatusCode::kUnknown : update.error_code;
  music::v1::ProviderResubmission* resubmission = r.task.add_resubmissions();
  resubmission->set_provider(r.task.provider());
  resubmission->set_provider_task_id(r.task.provider_task_id().empty() ? update.provider_task_id
                                                                       : r.task.provider_task_id());
  resubmission->set_code(static_cast<int32_t>(code));
  resubmission->set_message(update.error_message);
  resubmission->set_provider_error_code(update.provider_error_code);
  SetTimestamp(now, resubmission->mutable_time());
  LogTaskEvent(LogLevel::kWarn, "task.resubmitted", r,
               {{"failed_provider_task_id", resubmission->provider_task_id()},
                {"provider_error_code", update.provider_error_code},
                {"attempt", absl::StrCat(attempt + 1)},
                {"error", update.error_message}});
  // What the failed provider task reported belongs to it, not to the next one. The reservation
  // stays; its settlement follows the provider task that ends the task.
  r.task.set_provider_task_id("");
  r.task.clear_clips();
  r.task.clear_lyric_variants();
  r.task.clear_operation_result();
  r.task.clear_progress();
  music::v1::TaskBilling* billing = r.task.mutable_billing();
  billing->set_provider_charged_micros(0);
  billing->set_provider_refunded_micros(0);
  billing->clear_provider_billing_transaction_id();
  r.poll_url.clear();
  r.submission = SubmissionState::kNotSubmitted;
  r.attempts = 0;
  r.unknown_since = absl::InfinitePast();
  r.next_action_time =
      Clamp(now + Backoff(attempt, absl::UnavailableError(update.error_message)), r);
  return true;
}

void TaskEngine::FailOver(TaskRecord& r, const music::v1::Model& next, absl::StatusCode code,
                          absl::string_view message, absl::Time now) {
  music::v1::ProviderFailover* failover = r.task.add_failovers();
  failover->set_provider(r.task.provider());
  failover->set_provider_model(r.task.provider_model());
  failover->set_code(static_cast<int32_t>(code));
  failover->set_message(std::string(message));
  SetTimestamp(now, failover->mutable_time());
  LogTaskEvent(LogLevel::kWarn, "task.failover", r,
               {{"from", r.task.provider()},
                {"to", next.provider()},
                {"code", absl::StatusCodeToString(code)},
                {"error", message}});
  // The reservation is released and the new model's price reserved in its own currency; Mutate
  // writes both rows with this change (domain/ledger.h, billing::FailOverRows).
  billing::Rereserve(&next, r);
  r.task.set_provider(next.provider());
  r.task.set_provider_model(next.provider_model());
  r.task.set_provider_task_id("");
  r.submission = SubmissionState::kNotSubmitted;
  r.attempts = 0;
  r.poll_url.clear();
  r.reference_artifact_id.clear();  // stored at the provider left behind
  r.unknown_since = absl::InfinitePast();
  r.next_action_time = now;
}

const music::v1::Model* TaskEngine::NextCandidate(const TaskRecord& record) const {
  const music::v1::ModelAlias* alias = catalog_->FindAlias(record.task.model());
  if (alias == nullptr) return nullptr;
  auto tried = [&](const music::v1::Model& m) {
    for (const auto& f : record.task.failovers()) {
      if (f.provider() == m.provider() && f.provider_model() == m.provider_model()) return true;
    }
    return false;
  };
  int current = -1;
  for (int i = 0; i < alias->models_size(); ++i) {
    const music::v1::Model* m = catalog_->Find(alias->models(i));
    if (m != nullptr && m->provider() == record.task.provider() &&
        m->provider_model() == record.task.provider_model()) {
      current = i;
      break;
    }
  }
  if (current < 0) return nullptr;  // the catalog changed under the task: stay where it is
  for (int i = current + 1; i < alias->models_size(); ++i) {
    const music::v1::Model* m = catalog_->Find(alias->models(i));
    if (m == nullptr || !m->available() || tried(*m) ||
        providers_->Find(m->provider()) == nullptr) {
      continue;
    }
    // A continuation or a clip operation works on a clip where it was made: no other provider
    // has the clip. A continuation also keeps the source clip's model (kie.ai, CONTRACT-NOTES:
    // "The model must match the source clip's model").
    if ((record.task.kind() == music::v1::TASK_KIND_CONTINUATION ||
         record.task.kind() == music::v1::TASK_KIND_CLIP_OPERATION) &&
        (m->provider() != record.task.provider() ||
         (record.task.kind() == music::v1::TASK_KIND_CONTINUATION &&
          m->provider_model() != record.task.provider_model()))) {
      continue;
    }
    std::vector<FieldViolation> violations;
    ValidateTaskInput(record.task.kind(), record.task.input(), *m, violations);
    if (violations.empty()) return m;
  }
  return nullptr;
}

bool TaskEngine::PrepareReferenceAudio(TaskRecord& record, adapters::ProviderAdapter* adapter) {
  const std::string task_id = record.task.task_id();
  const std::string provider = record.task.provider();
  const std::string& url = record.task.input().reference_audio_uri();
  if (options_.reference_fetcher == nullptr) {
    FailNow(task_id, absl::StatusCode::kFailedPrecondition,
            "reference audio URLs are disabled on this server; upload the audio with "
            "UploadReferenceAudio and pass reference_audio_id");
    return false;
  }
  absl::StatusOr<http::FetchedAudio> fetched = options_.reference_fetcher->Fetch(url);
  std::string content_type;
  if (fetched.ok()) {
    content_type = SniffAudioType(fetched->bytes, fetched->content_type);
    if (fetched->bytes.empty() || content_type.empty()) {
      fetched =
          absl::InvalidArgumentError("the URL did not serve audio (mp3, wav, flac, ogg, m4a)");
    }
  }
  LogTaskEvent(fetched.ok() ? LogLevel::kInfo : LogLevel::kWarn, "task.reference_audio_fetched",
               record,
               {{"result", fetched.ok() ? "ok" : absl::StatusCodeToString(fetched.status().code())},
                {"bytes", fetched.ok() ? absl::StrCat(fetched->bytes.size()) : "0"}});
  const absl::Time now = clock_->Now();
  if (!fetched.ok()) {
    const absl::Status& error = fetched.status();
    Mutate(task_id, [&](TaskRecord& r) -> absl::StatusOr<bool> {
      if (r.submission != SubmissionState::kNotSubmitted || IsTerminal(r.task.state())) {
        return false;
      }
      const std::string message =
          absl::StrCat("reference_audio_uri could not be used: ", error.message());
      if (IsRefusal(error.code()) || r.attempts + 1 >= options_.max_submit_attempts) {
        const bool failed = FailTask(error.code(), message, "", "", now, r.task);
        if (failed) r.task.mutable_error()->set_reason(ReasonOf(error));
        return failed;
      }
      r.attempts += 1;  // transient (network, timeout): the download is retried
      r.next_action_time = Clamp(now + Backoff(r.attempts, error), r);
      return true;
    }).IgnoreError();
    return false;
  }
  adapters::ReferenceAudioUpload upload;
  upload.filename = ReferenceFilename(fetched->final_url.empty() ? url : fetched->final_url);
  upload.content_type = content_type;
  upload.bytes = std::move(fetched->bytes);
  const absl::Time upload_start = clock_->Now();
  absl::StatusOr<std::string> artifact = adapter->UploadReferenceAudio(upload);
  CountCall(provider, "upload_reference", artifact.status(), upload_start);
  RecordOutcome(provider, artifact.status());
  auto updated = Mutate(task_id, [&](TaskRecord& r) -> absl::StatusOr<bool> {
    if (r.submission != SubmissionState::kNotSubmitted || IsTerminal(r.task.state()) ||
        r.task.provider() != provider) {
      return absl::AbortedError("changed meanwhile");
    }
    if (!artifact.ok()) {
      AfterProviderError(r, artifact.status(), "the reference audio", now);
      return true;
    }
    r.reference_artifact_id = *artifact;
    return true;
  });
  if (!updated.ok() || !artifact.ok()) return false;
  record = *updated;
  return true;
}

adapters::SubmitRequest TaskEngine::BuildSubmitRequest(const TaskRecord& record) const {
  adapters::SubmitRequest request;
  request.kind = record.task.kind();
  request.task_id = record.task.task_id();
  if (!record.task.provider_model().empty()) {
    request.provider_model = record.task.provider_model();
  } else {
    const music::v1::Model* model = catalog_->Find(record.task.model());
    request.provider_model = model != nullptr ? model->provider_model() : record.task.model();
  }
  request.input = record.task.input();
  request.callback_url = CallbackUrl(record.task.provider(), record.task.task_id());
  request.request_id = record.task.request_id();
  // One key per (task, provider, provider task): every retry of a create reuses it, a failover
  // to another provider never collides with it, and a resubmission after a retryable failure
  // gets a new one (attempt 1 keeps the key it had before resubmissions existed).
  request.idempotency_key = absl::StrCat(record.task.task_id(), ".", record.task.provider());
  if (const int attempt = ProviderAttempt(record.task); attempt > 1) {
    absl::StrAppend(&request.idempotency_key, ".", attempt);
  }
  request.reference_artifact_id = record.reference_artifact_id;
  if (request.reference_artifact_id.empty() && !record.task.input().reference_audio_id().empty()) {
    // "<provider>/<tag>/<artifact>" as UploadReferenceAudio returned it (reference_audio_id.h);
    // the create checked the provider and the tenant. A task stored before ids were tagged keeps
    // its "<provider>/<artifact>": the artifact is what follows the provider.
    absl::string_view id = record.task.input().reference_audio_id();
    if (const auto parts = ParseReferenceAudioId(id); parts.has_value()) {
      request.reference_artifact_id = std::string(parts->artifact);
    } else {
      const size_t slash = id.find('/');
      request.reference_artifact_id =
          std::string(slash == absl::string_view::npos ? id : id.substr(slash + 1));
    }
  }
  return request;
}

void TaskEngine::Adopt(const adapters::SubmitResult& result, TaskRecord& r) {
  r.task.set_provider_task_id(result.provider_task_id);
  r.poll_url = result.poll_url;
  if (!result.provider_billing_transaction_id.empty()) {
    r.task.mutable_billing()->set_provider_billing_transaction_id(
        result.provider_billing_transaction_id);
  }
  if (!result.endpoint.empty()) r.provider_endpoint = result.endpoint;
  r.submission = SubmissionState::kSubmitted;
}

void TaskEngine::Recover(const TaskRecord& record, adapters::ProviderAdapter* adapter) {
  const std::string& task_id = record.task.task_id();
  const absl::Time lookup_start = clock_->Now();
  absl::StatusOr<adapters::SubmitResult> found =
      adapter->FindByRequestId(BuildSubmitRequest(record));
  CountCall(record.task.provider(), "lookup", found.status(), lookup_start);
  if (!absl::IsNotFound(found.status())) RecordOutcome(record.task.provider(), found.status());
  const absl::Time now = clock_->Now();
  LogTaskEvent(
      LogLevel::kInfo, "task.lookup_by_request_id", record,
      {{"result", found.ok() ? "found" : absl::StatusCodeToString(found.status().code())}});
  Mutate(task_id, [&](TaskRecord& r) -> absl::StatusOr<bool> {
    if (r.submission != SubmissionState::kUnknown || IsTerminal(r.task.state())) return false;
    if (found.ok()) {
      Adopt(*found, r);
      r.attempts = 0;
      r.task.set_state(music::v1::TASK_STATE_RUNNING);
      r.next_action_time = now;
      return true;
    }
    if (absl::IsNotFound(found.status())) {
      // The lost create never made a task: creating now cannot make a second one, here or (once
      // the retry budget is spent) at the next alias member.
      if (r.attempts >= options_.max_submit_attempts) {
        if (const music::v1::Model* next = NextCandidate(r); next != nullptr) {
          FailOver(r, *next, absl::StatusCode::kDeadlineExceeded,
                   "no answer to the create, and the provider has no such task", now);
          return true;
        }
      }
      r.submission = SubmissionState::kNotSubmitted;
      r.next_action_time = now;
      return true;
    }
    r.attempts += 1;
    r.next_action_time = Clamp(now + Backoff(r.attempts, found.status()), r);
    return true;
  }).IgnoreError();
}

void TaskEngine::Poll(const TaskRecord& record, adapters::ProviderAdapter* adapter, Done done) {
  adapters::PollTarget target;
  target.kind = record.task.kind();
  target.provider_task_id = record.task.provider_task_id();
  target.poll_url = record.poll_url;
  target.clip_operation = record.task.input().clip_operation();
  AsyncStarted();
  adapter->PollAsync(
      target, [this, task_id = record.task.task_id(), provider = record.task.provider(),
               polled = record.task.provider_task_id(), start = clock_->Now(),
               done = std::move(done)](absl::StatusOr<adapters::ProviderUpdate> update) mutable {
        CountCall(provider, "poll", update.status(), start);
        auto answer = std::make_shared<absl::StatusOr<adapters::ProviderUpdate>>(std::move(update));
        Continue([this, task_id, provider, polled, answer, done = std::move(done)] {
          FinishPoll(task_id, provider, polled, *answer);
          done();
          AsyncEnded();
        });
      });
}

void TaskEngine::FinishPoll(const std::string& task_id, const std::string& provider,
                            const std::string& polled_task_id,
                            const absl::StatusOr<adapters::ProviderUpdate>& update) {
  RecordPollAnswer(task_id, provider);
  RecordOutcome(provider, update.status());
  auto loaded = Load(task_id);
  if (!loaded.ok()) {
    if (!absl::IsNotFound(loaded.status())) {
      Schedule(task_id, clock_->Now() + options_.backoff_max);
    }
    return;
  }
  const std::shared_ptr<const TaskRecord> record = *std::move(loaded);
  const absl::Time now = clock_->Now();
  const absl::Duration interval = PollInterval(provider);
  if (!update.ok()) {
    // A failed poll never fails the task (only the deadline does): back off and poll again.
    int failures = 1;
    {
      absl::MutexLock lock(&mu_);
      auto it = slot_of_.find(task_id);
      if (it != slot_of_.end()) failures = ++slots_[it->second].poll_failures;
    }
    Schedule(task_id, Clamp(now + std::max(interval, Backoff(failures, update.status())), *record));
    return;
  }
  // The time this task's polls waited for the rate limit that is not stored yet: it goes with
  // this poll's write (one write more only for a poll that waited and changed nothing).
  absl::Duration unsaved_wait;
  {
    absl::MutexLock lock(&mu_);
    auto it = slot_of_.find(task_id);
    if (it != slot_of_.end()) {
      slots_[it->second].poll_failures = 0;
      unsaved_wait = slots_[it->second].unsaved_poll_wait;
    }
  }
  bool stored_wait = false;
  auto result = Mutate(task_id, [&](TaskRecord& r) -> absl::StatusOr<bool> {
    stored_wait = false;  // set again by each attempt of the write
    if (r.submission != SubmissionState::kSubmitted) return false;
    // An answer about another provider task (one this task left behind) changes nothing.
    if (!polled_task_id.empty() && polled_task_id != r.task.provider_task_id()) return false;
    // An ended task (a callback ended it meanwhile) is not written again for its wait.
    const bool ended = IsTerminal(r.task.state());
    const bool resubmitted = ResubmitAfterRetryableFailure(r, *update, now);
    bool changed = resubmitted || MergeProviderUpdate(*update, now, r.task);
    if (unsaved_wait > absl::ZeroDuration() && !ended) {
      AddRateLimitWait(unsaved_wait, r.task);
      stored_wait = changed = true;
    }
    if (resubmitted) return true;  // ResubmitAfterRetryableFailure set the next action
    if (changed) r.next_action_time = Clamp(now + interval, r);
    return changed;
  });
  if (result.ok() && stored_wait) {
    absl::MutexLock lock(&mu_);
    auto it = slot_of_.find(task_id);
    if (it != slot_of_.end()) slots_[it->second].unsaved_poll_wait -= unsaved_wait;
  }
  if (result.ok() && !IsTerminal(result->task.state())) {
    Schedule(task_id, Clamp(now + interval, *result));
  }
}

const TaskEngine::ProviderLimits* TaskEngine::LimitsOf(const std::string& provider) const {
  auto it = limits_.find(provider);
  return it == limits_.end() ? nullptr : &it->second;
}

absl::Duration TaskEngine::RateLimitWaitLocked(const Slot& slot, absl::Time now) {
  if (slot.rate_limited_since == absl::InfiniteFuture()) return absl::ZeroDuration();
  return std::max(absl::ZeroDuration(), now - slot.rate_limited_since);
}

std::optional<absl::Time> TaskEngine::AcquireCreateSlot(const std::string& task_id,
                                                        const std::string& provider,
                                                        absl::Time now, absl::Duration* waited) {
  *waited = absl::ZeroDuration();
  const ProviderLimits* limits = LimitsOf(provider);
  if (limits == nullptr || limits->creates == nullptr) return std::nullopt;
  const std::optional<absl::Time> at = limits->creates->AcquireUntilRelease(now);
  absl::MutexLock lock(&mu_);
  auto it = slot_of_.find(task_id);
  if (it == slot_of_.end()) return at;
  Slot& slot = slots_[it->second];
  if (at.has_value()) {
    if (slot.rate_limited_since == absl::InfiniteFuture()) slot.rate_limited_since = now;
  } else {
    *waited = RateLimitWaitLocked(slot, now);
  }
  return at;
}

void TaskEngine::ReleaseCreateSlot(const std::string& provider) {
  const ProviderLimits* limits = LimitsOf(provider);
  if (limits != nullptr && limits->creates != nullptr) limits->creates->Release(clock_->Now());
}

void TaskEngine::ReturnCreateSlot(const std::string& provider) {
  const ProviderLimits* limits = LimitsOf(provider);
  if (limits != nullptr && limits->creates != nullptr) limits->creates->Return();
}

void TaskEngine::EndCreateWait(const std::string& task_id, const std::string& provider,
                               absl::Duration waited) {
  const ProviderLimits* limits = LimitsOf(provider);
  if (limits == nullptr || limits->creates == nullptr) return;
  {
    absl::MutexLock lock(&mu_);
    auto it = slot_of_.find(task_id);
    if (it != slot_of_.end()) slots_[it->second].rate_limited_since = absl::InfiniteFuture();
  }
  metrics_->RateLimitWait(provider, waited);
}

std::optional<absl::Time> TaskEngine::AcquirePollSlot(const std::string& task_id,
                                                      const std::string& provider,
                                                      absl::Time now) {
  const ProviderLimits* limits = LimitsOf(provider);
  if (limits == nullptr || limits->polls_per_second <= 0) return std::nullopt;
  std::optional<absl::Time> at;
  absl::Duration waited;
  {
    absl::MutexLock lock(&mu_);
    auto it = slot_of_.find(task_id);
    if (it == slot_of_.end()) return std::nullopt;
    Slot& slot = slots_[it->second];
    at = slot.recent_polls.NextAllowed(now, limits->polls_per_second, absl::Seconds(1));
    if (at.has_value()) {
      if (slot.rate_limited_since == absl::InfiniteFuture()) slot.rate_limited_since = now;
      return at;
    }
    waited = RateLimitWaitLocked(slot, now);
    slot.rate_limited_since = absl::InfiniteFuture();
    slot.unsaved_poll_wait += waited;
  }
  metrics_->RateLimitWait(provider, waited);
  return std::nullopt;
}

void TaskEngine::RecordPollAnswer(const std::string& task_id, const std::string& provider) {
  const ProviderLimits* limits = LimitsOf(provider);
  if (limits == nullptr || limits->polls_per_second <= 0) return;
  const absl::Time now = clock_->Now();
  absl::MutexLock lock(&mu_);
  auto it = slot_of_.find(task_id);
  if (it != slot_of_.end()) slots_[it->second].recent_polls.Record(now, limits->polls_per_second);
}

}  // namespace music::service
