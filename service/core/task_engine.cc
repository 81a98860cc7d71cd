// Lost submissions.
// The engine writes SubmissionState::kSubmitting before it sends a create to a provider, and
// kSubmitted with the provider's task id after the answer. A task can therefore be found with its
// submission outcome unknown: the process died between the two writes, or the create timed out
// after the connection was up, or the provider answered 2xx with a body we could not read. What
// happens next depends on what the provider offers (ResubmitPolicy):
//  - kIdempotencyKey (beatra): sending again with the same Idempotency-Key is safe (the provider
//    deduplicates), so the task goes back to kNotSubmitted.
//  - kLookupByRequestId (TokenLab): the task waits in kUnknown and the engine looks it up by the
//    request id it sent (Recover): found, it is adopted; NOT_FOUND, the create is sent again (no
//    task exists, so none can be doubled); any other answer is retried with backoff.
//  - kAtMostOnce (kie.ai: no idempotency key, no lookup): sending again could create a second
//    provider task, billed twice. The task is never resent. It waits in kUnknown for the
//    provider's callback, whose URL carries our task id: the first callback reveals the provider
//    task id and the task is adopted and driven on as usual. If no callback arrives within
//    unknown_submission_grace (or the task deadline), the task fails with UNAVAILABLE saying the
//    submission outcome is unknown, so the caller can decide to create it again.
#include "service/core/task_engine.h"

#include <algorithm>
#include <cmath>
#include <vector>

#include "absl/random/random.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "adapters/provider_errors.h"
#include "service/billing/ledger.h"
#include "service/core/event_log.h"
#include "service/core/request_fingerprint.h"
#include "service/core/status_details.h"
#include "service/core/task_merge.h"

namespace music::service {

using persistence::IsTerminal;
using persistence::SubmissionState;
using persistence::TaskRecord;

namespace {

std::string NewTaskId() {
  static absl::Mutex mu(absl::kConstInit);
  static absl::BitGen* gen = new absl::BitGen();
  absl::MutexLock lock(&mu);
  return absl::StrFormat("tsk_%016x%08x", absl::Uniform<uint64_t>(*gen),
                         absl::Uniform<uint32_t>(*gen));
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
      pool_(std::max(1, options_.workers)) {}

TaskEngine::~TaskEngine() { Shutdown(); }

absl::Status TaskEngine::Start() {
  auto active = store_->ListActive(1'000'000);
  if (!active.ok()) return active.status();
  const absl::Time now = clock_->Now();
  absl::BitGen gen;
  for (const TaskRecord& record : *active) {
    absl::Time when = record.next_action_time;
    if (record.submission == SubmissionState::kSubmitting) {
      when = now;  // an interrupted submission is looked at at once (see "Lost submissions")
    } else if (record.submission == SubmissionState::kSubmitted && when < now) {
      // Overdue polls are spread over one interval, so a restart with many running tasks does
      // not hit the provider with all of them at once.
      when = now + options_.poll_interval * absl::Uniform(gen, 0.0, 1.0);
    }
    Schedule(record.task.task_id(), when);
  }
  LogEvent("engine.started", {{"resumed_tasks", absl::StrCat(active->size())}});
  scheduler_ = std::thread([this] { SchedulerLoop(); });
  return absl::OkStatus();
}

void TaskEngine::Shutdown() {
  {
    absl::MutexLock lock(&mu_);
    if (stopping_ && !scheduler_.joinable()) return;
    stopping_ = true;
  }
  if (scheduler_.joinable()) scheduler_.join();
  pool_.Shutdown();
}

void TaskEngine::Kick() {
  absl::MutexLock lock(&mu_);
  kicked_ = true;
}

std::string TaskEngine::CallbackUrl(absl::string_view provider, absl::string_view task_id) const {
  if (options_.callback_base_url.empty()) return "";
  absl::string_view base = options_.callback_base_url;
  if (!base.empty() && base.back() == '/') base.remove_suffix(1);
  return absl::StrCat(base, "/callbacks/", provider, "/", task_id);
}

absl::StatusOr<CreateOutcome> TaskEngine::Create(const CreateSpec& spec) {
  const absl::Time now = clock_->Now();
  TaskRecord record;
  music::v1::Task& task = record.task;
  task.set_task_id(NewTaskId());
  task.set_tenant(spec.tenant);
  task.set_request_id(spec.request_id);
  task.set_kind(spec.kind);
  task.set_model(spec.model->name());
  task.set_provider(spec.model->provider());
  task.set_state(music::v1::TASK_STATE_PENDING);
  *task.mutable_input() = spec.input;
  SetTimestamp(now, task.mutable_create_time());
  SetTimestamp(now, task.mutable_update_time());
  task.set_version(1);
  record.request_fingerprint = RequestFingerprint(spec.kind, spec.model->name(), spec.input);
  record.submission = SubmissionState::kNotSubmitted;
  record.next_action_time = now;
  record.deadline = now + options_.task_deadline;
  // The reservation is stored with the task, in one transaction: no task exists unreserved.
  const billing::BillingTransaction reserve = billing::Reserve(spec.model, record, now);
  if (!spec.model->has_price()) {
    LogEvent("billing.unpriced_model", {{"task_id", task.task_id()}, {"model", task.model()}});
  }

  auto result = store_->Create(record, absl::MakeConstSpan(&reserve, 1));
  if (!result.ok()) return result.status();
  if (!result->created) {
    if (result->record.request_fingerprint != record.request_fingerprint) {
      return ErrorWithReason(absl::StatusCode::kAlreadyExists,
                             absl::StrCat("request_id \"", spec.request_id,
                                          "\" was already used for a different request (task ",
                                          result->record.task.task_id(), ")"),
                             "REQUEST_ID_REUSED", {{"request_id", spec.request_id}});
    }
    return CreateOutcome{result->record.task, false};
  }
  hub_->Publish(task);
  Schedule(task.task_id(), now);
  return CreateOutcome{task, true};
}

absl::StatusOr<music::v1::Task> TaskEngine::Cancel(absl::string_view tenant,
                                                   absl::string_view task_id) {
  auto current = store_->Get(task_id);
  if (!current.ok() || current->task.tenant() != tenant) {
    if (current.ok() || absl::IsNotFound(current.status())) {
      return absl::NotFoundError(absl::StrCat("task ", task_id, " not found"));
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
  });
  if (!updated.ok()) return updated.status();
  // Best effort at the provider; the task is canceled for us whatever it answers.
  if (!updated->task.provider_task_id().empty()) {
    if (auto* adapter = providers_->Find(updated->task.provider())) {
      pool_.Schedule(
          [adapter, id = updated->task.provider_task_id()] { adapter->Cancel(id).IgnoreError(); });
    }
  }
  return updated->task;
}

absl::Status TaskEngine::HandleCallback(absl::string_view provider, absl::string_view task_id,
                                        const http::Request& request) {
  auto record = store_->Get(task_id);
  if (!record.ok() || record->task.provider() != provider) {
    if (record.ok() || absl::IsNotFound(record.status())) {
      return absl::NotFoundError(absl::StrCat("no task ", task_id, " for provider ", provider));
    }
    return record.status();
  }
  adapters::ProviderAdapter* adapter = providers_->Find(provider);
  if (adapter == nullptr) return absl::NotFoundError(absl::StrCat("no provider ", provider));
  auto update = adapter->ParseCallback(record->task.kind(), request);
  if (absl::IsAlreadyExists(update.status())) {
    // A repeat of a delivery already applied (PiAPI resends with the same timestamp).
    LogEvent("callback.repeat", {{"task_id", std::string(task_id)}, {"provider", std::string(provider)}});
    return absl::OkStatus();
  }
  if (!update.ok()) return update.status();

  const absl::Time now = clock_->Now();
  auto result = Mutate(task_id, [&](TaskRecord& r) -> absl::StatusOr<bool> {
    if (IsTerminal(r.task.state())) return false;  // late delivery: nothing can change
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
      r.next_action_time = Clamp(now + options_.poll_interval, r);
      changed = true;
    }
    changed |= MergeProviderUpdate(*update, now, r.task);
    return changed;
  });
  return result.status();
}

absl::StatusOr<TaskRecord> TaskEngine::Mutate(absl::string_view task_id, const Mutation& fn) {
  for (int attempt = 0; attempt < 16; ++attempt) {
    auto current = store_->Get(task_id);
    if (!current.ok()) return current.status();
    TaskRecord next = *current;
    auto write = fn(next);
    if (!write.ok()) return write.status();
    if (!*write) return *current;
    next.task.set_version(current->task.version() + 1);
    SetTimestamp(clock_->Now(), next.task.mutable_update_time());
    // SETTLE / REFUND go in the same write as the terminal transition, whichever path (success,
    // failure, cancel, deadline) gets there first; the version check lets only one win.
    std::vector<billing::BillingTransaction> ledger;
    if (IsTerminal(next.task.state()) && !IsTerminal(current->task.state())) {
      ledger = billing::Finish(next, clock_->Now());
    }
    absl::Status s = store_->Update(next, ledger);
    if (s.ok()) {
      hub_->Publish(next.task);
      if (IsTerminal(next.task.state()) && !IsTerminal(current->task.state())) {
        LogEvent("task.ended",
                 {{"task_id", next.task.task_id()},
                  {"provider", next.task.provider()},
                  {"provider_task_id", next.task.provider_task_id()},
                  {"state", music::v1::TaskState_Name(next.task.state())},
                  {"error_code", absl::StatusCodeToString(
                                     static_cast<absl::StatusCode>(next.task.error().code()))},
                  {"error", next.task.error().message()}});
      }
      if (IsTerminal(next.task.state())) {
        absl::MutexLock lock(&mu_);
        poll_failures_.erase(next.task.task_id());
      } else {
        Schedule(next.task.task_id(), next.next_action_time);
      }
      return next;
    }
    if (!absl::IsAborted(s)) return s;  // ABORTED: another writer won; read again
  }
  return absl::AbortedError(absl::StrCat("task ", task_id, " kept changing; try again"));
}

void TaskEngine::Schedule(const std::string& task_id, absl::Time when) {
  absl::MutexLock lock(&mu_);
  auto it = due_.find(task_id);
  if (it != due_.end()) {
    if (it->second <= when) return;  // already due earlier
    queue_.erase({it->second, task_id});
  }
  due_[task_id] = when;
  queue_.emplace(when, task_id);
  kicked_ = true;
}

void TaskEngine::SchedulerLoop() {
  std::set<std::string> deferred;  // due while a step for the same task was running
  while (true) {
    std::vector<std::string> ready;
    {
      absl::MutexLock lock(&mu_);
      absl::Duration wait = options_.scheduler_tick;
      if (!queue_.empty()) {
        wait =
            std::min(wait, std::max(absl::ZeroDuration(), queue_.begin()->first - clock_->Now()));
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
      const absl::Time now = clock_->Now();
      while (!queue_.empty() && queue_.begin()->first <= now) {
        std::string id = queue_.begin()->second;
        queue_.erase(queue_.begin());
        due_.erase(id);
        if (running_.count(id)) {
          deferred.insert(id);
          continue;
        }
        running_.insert(id);
        ready.push_back(std::move(id));
      }
      for (auto it = deferred.begin(); it != deferred.end();) {
        if (running_.count(*it) || due_.count(*it)) {
          ++it;
          continue;
        }
        running_.insert(*it);
        ready.push_back(*it);
        it = deferred.erase(it);
      }
    }
    for (auto& id : ready) {
      pool_.Schedule([this, id] {
        Step(id);
        absl::MutexLock lock(&mu_);
        running_.erase(id);
        kicked_ = true;
      });
    }
  }
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

void TaskEngine::Step(const std::string& task_id) {
  auto loaded = store_->Get(task_id);
  if (!loaded.ok()) {
    // The store is unhappy (not a lost task): look again later.
    if (!absl::IsNotFound(loaded.status())) {
      Schedule(task_id, clock_->Now() + options_.backoff_max);
    }
    return;
  }
  const TaskRecord& record = *loaded;
  if (IsTerminal(record.task.state())) return;
  const absl::Time now = clock_->Now();
  if (now >= record.deadline) {
    FailNow(task_id, absl::StatusCode::kDeadlineExceeded,
            absl::StrCat("the task did not finish within its deadline of ",
                         absl::FormatDuration(options_.task_deadline)));
    return;
  }
  adapters::ProviderAdapter* adapter = providers_->Find(record.task.provider());
  if (adapter == nullptr) {
    FailNow(task_id, absl::StatusCode::kFailedPrecondition,
            absl::StrCat("provider ", record.task.provider(), " is not configured"));
    return;
  }
  switch (record.submission) {
    case SubmissionState::kNotSubmitted:
      Submit(record, adapter);
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
      return;
    case SubmissionState::kUnknown:
      if (adapter->resubmit_policy() == adapters::ResubmitPolicy::kLookupByRequestId) {
        Recover(record, adapter);
        return;
      }
      if (now >= record.unknown_since + options_.unknown_submission_grace) {
        FailNow(task_id, absl::StatusCode::kUnavailable,
                "the provider's answer to the submission was lost and no callback revealed the "
                "provider task; it was not sent again, to avoid a second (billed) provider task");
      } else {
        Schedule(task_id, Clamp(record.unknown_since + options_.unknown_submission_grace, record));
      }
      return;
    case SubmissionState::kSubmitted:
      Poll(record, adapter);
      return;
  }
}

void TaskEngine::Submit(const TaskRecord& record, adapters::ProviderAdapter* adapter) {
  const std::string& task_id = record.task.task_id();
  // Written before sending, so a crash mid-send is seen on restart (see "Lost submissions").
  auto marked = Mutate(task_id, [&](TaskRecord& r) -> absl::StatusOr<bool> {
    if (r.submission != SubmissionState::kNotSubmitted || IsTerminal(r.task.state())) {
      return absl::AbortedError("changed meanwhile");
    }
    r.submission = SubmissionState::kSubmitting;
    r.next_action_time = Clamp(clock_->Now() + options_.unknown_submission_grace, r);
    return true;
  });
  if (!marked.ok()) return;

  const adapters::SubmitRequest request = BuildSubmitRequest(record);
  absl::StatusOr<adapters::SubmitResult> sent = adapter->Submit(request);

  const absl::Time now = clock_->Now();
  const auto policy = adapter->resubmit_policy();
  if (!sent.ok()) {
    LogEvent("task.submit_failed",
             {{"task_id", task_id},
              {"provider", record.task.provider()},
              {"code", absl::StatusCodeToString(sent.status().code())},
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
      // create (see "Lost submissions").
      r.submission = SubmissionState::kUnknown;
      r.unknown_since = now;
      r.attempts += 1;
      r.next_action_time =
          Clamp(policy == adapters::ResubmitPolicy::kLookupByRequestId
                    ? now + Backoff(r.attempts, error)
                    : now + options_.unknown_submission_grace,
                r);
      return true;
    }
    if ((adapters::IsRetryable(error) || adapters::IsOutcomeUnknown(error)) &&
        r.attempts + 1 < options_.max_submit_attempts) {
      r.submission = SubmissionState::kNotSubmitted;
      r.attempts += 1;
      r.next_action_time = Clamp(now + Backoff(r.attempts, error), r);
      return true;
    }
    FailTask(error.code(), absl::StrCat("the provider refused the task: ", error.message()), "",
             adapters::GetProviderErrorCode(error), now, r.task);
    return true;
  }).IgnoreError();
  if (sent.ok()) {
    // If the task was canceled while sending, cancel at the provider too (best effort).
    auto after = store_->Get(task_id);
    if (after.ok() && after->task.state() == music::v1::TASK_STATE_CANCELED) {
      adapter->Cancel(sent->provider_task_id).IgnoreError();
    }
  }
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
  // One key per (task, provider): every retry of this task at this provider reuses it, and a
  // failover to another provider never collides with it.
  request.idempotency_key = absl::StrCat(record.task.task_id(), ".", record.task.provider());
  request.reference_artifact_id = record.reference_artifact_id;
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
  absl::StatusOr<adapters::SubmitResult> found = adapter->FindByRequestId(BuildSubmitRequest(record));
  const absl::Time now = clock_->Now();
  LogEvent("task.lookup_by_request_id",
           {{"task_id", task_id},
            {"provider", record.task.provider()},
            {"result", found.ok() ? "found" : absl::StatusCodeToString(found.status().code())}});
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
      // The lost create never made a task: creating now cannot make a second one.
      r.submission = SubmissionState::kNotSubmitted;
      r.next_action_time = now;
      return true;
    }
    r.attempts += 1;
    r.next_action_time = Clamp(now + Backoff(r.attempts, found.status()), r);
    return true;
  }).IgnoreError();
}

void TaskEngine::Poll(const TaskRecord& record, adapters::ProviderAdapter* adapter) {
  const std::string& task_id = record.task.task_id();
  adapters::PollTarget target;
  target.kind = record.task.kind();
  target.provider_task_id = record.task.provider_task_id();
  target.poll_url = record.poll_url;
  auto update = adapter->Poll(target);
  const absl::Time now = clock_->Now();
  const absl::Duration interval = std::max(options_.poll_interval, kMinPollInterval);
  if (!update.ok()) {
    // A failed poll never fails the task (only the deadline does): back off and poll again.
    int failures;
    {
      absl::MutexLock lock(&mu_);
      failures = ++poll_failures_[task_id];
    }
    Schedule(task_id, Clamp(now + std::max(interval, Backoff(failures, update.status())), record));
    return;
  }
  {
    absl::MutexLock lock(&mu_);
    poll_failures_.erase(task_id);
  }
  auto result = Mutate(task_id, [&](TaskRecord& r) -> absl::StatusOr<bool> {
    if (r.submission != SubmissionState::kSubmitted) return false;
    const bool changed = MergeProviderUpdate(*update, now, r.task);
    if (changed) r.next_action_time = Clamp(now + interval, r);
    return changed;
  });
  if (result.ok() && !IsTerminal(result->task.state())) {
    Schedule(task_id, Clamp(now + interval, *result));
  }
}

}  // namespace music::service
