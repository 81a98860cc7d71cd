// beatra contract, as adapters/beatra/WIRE.md describes it (seed 002 and the beatra section of
// shared/seeds/CONTRACT-NOTES.md); WIRE.md "Emulator" lists what this file does where the
// documents are silent. Polling only: a task's state is computed from the clock at each request,
// so nothing is scheduled.
#include "tools/provider-emulator/beatra_contract.h"

#include <rapidjson/document.h>
#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

#include <algorithm>
#include <memory>
#include <cstdint>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_map.h"
#include "absl/container/flat_hash_set.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/string_view.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"

#include "tools/provider-emulator/documented_fields.h"

namespace music::emulator {
namespace {

using Writer = JsonWriter;
using rapidjson::Value;

// ---------------------------------------------------------------------------------------------
// Contract constants (WIRE.md).

constexpr absl::string_view kPrefix = "/beatra";
constexpr absl::string_view kTextToMusic = "/v1/music/text-to-music";
constexpr absl::string_view kReferenceToMusic = "/v1/music/reference-audio-to-music";

struct ModelInfo {
  absl::string_view model;
  absl::string_view option_namespace;
  int64_t price_micros;  // credits (seed 002 "Billing")
  int clips;
};

constexpr ModelInfo kModels[] = {
    {"suno-5.5", "suno", 80'000'000, 2},
    {"minimax-music-2.6", "minimax", 50'000'000, 1},
};

// seed 002: "default rate 1000 cr/$".
constexpr int64_t kCreditsPerUsd = 1000;
// CONTRACT-NOTES "Uploads up to 100 MB", taken as MiB (as the adapter does).
constexpr size_t kMaxUploadBytes = size_t{100} << 20;
constexpr int kDefaultListLimit = 20;
constexpr int kMaxListLimit = 100;

const ModelInfo* FindModel(absl::string_view model) {
  for (const ModelInfo& info : kModels) {
    if (info.model == model) return &info;
  }
  return nullptr;
}

// ---------------------------------------------------------------------------------------------
// JSON helpers.

// Micro-units as a decimal string with 4 places, the seed's notation ("80.0000", "0.0800").
std::string Decimal4(int64_t micros) {
  const char* sign = micros < 0 ? "-" : "";
  const int64_t abs = micros < 0 ? -micros : micros;
  return absl::StrFormat("%s%d.%04d", sign, abs / 1'000'000, (abs % 1'000'000) / 100);
}

std::string Rfc3339(absl::Time t) {
  return absl::FormatTime("%Y-%m-%dT%H:%M:%E3SZ", t, absl::UTCTimeZone());
}

// `value` as JSON text, as it came (the `metadata` a task echoes back).
std::string JsonText(const Value& value) {
  rapidjson::StringBuffer buffer;
  Writer w(buffer);
  value.Accept(w);
  return Finish(buffer);
}

// The error envelope (CONTRACT-NOTES): {"error": {"code", "message", "retryable", "request_id"}}.
std::string ErrorEnvelope(absl::string_view code, absl::string_view message, bool retryable,
                          absl::string_view request_id) {
  rapidjson::StringBuffer buffer;
  Writer w(buffer);
  w.StartObject();
  w.Key("error");
  w.StartObject();
  PutString(w, "code", code);
  PutString(w, "message", message);
  w.Key("retryable");
  w.Bool(retryable);
  PutString(w, "request_id", request_id);
  w.EndObject();
  w.EndObject();
  return Finish(buffer);
}

const Value* Member(const Value& obj, const char* name) {
  auto it = obj.FindMember(name);
  if (it == obj.MemberEnd() || it->value.IsNull()) return nullptr;
  return &it->value;
}

// ---------------------------------------------------------------------------------------------
// Tasks.

struct Task {
  std::string id;
  std::string model;
  std::string endpoint;    // kTextToMusic or kReferenceToMusic
  std::string request_id;  // X-Request-Id of the create that made it
  std::string prompt, lyrics, title;
  bool instrumental = false;
  std::string metadata;  // the request's `metadata` object as JSON text ("" when absent)
  std::string reference_artifact_id;
  int64_t price_micros = 0;
  absl::Time created;
  absl::Duration duration;
  std::string fail_code;  // "" unless the task ends failed
  std::string fail_message;
  bool fail_retryable = false;
  bool no_audio = false;
  int malformed_polls_left = 0;
  std::optional<absl::Time> cancel_requested;
  std::vector<std::string> clip_ids;
  std::vector<std::string> artifact_ids;

  // When the task ends on its own: failures at d/2, successes at d.
  absl::Time natural_end() const { return created + (fail_code.empty() ? duration : duration / 2); }
  bool canceled() const {
    return cancel_requested.has_value() && *cancel_requested < natural_end();
  }
  std::optional<absl::Time> end_time(absl::Time now) const {
    if (canceled()) return *cancel_requested;
    if (now >= natural_end()) return natural_end();
    return std::nullopt;
  }
  absl::string_view status(absl::Time now) const {
    if (canceled()) return "canceled";
    if (now >= natural_end()) return fail_code.empty() ? "succeeded" : "failed";
    if (now - created < duration / 5) return "queued";
    return "running";
  }
  // Refunded (all of it) once failed or canceled (seed 002 "Billing"); the refund time or nullopt.
  std::optional<absl::Time> refunded_at(absl::Time now) const {
    if (canceled()) return *cancel_requested;
    if (!fail_code.empty() && now >= natural_end()) return natural_end();
    return std::nullopt;
  }
};

struct Upload {
  std::string artifact_id;
  std::string filename;
  std::string content_type;
  size_t size = 0;
  absl::Time created;
};

// A remembered Idempotency-Key: what it was first sent with and the task it made.
struct KeyRecord {
  std::string endpoint;
  // The parsed body: "the same request" is the same JSON value, whatever the key order
  // (rapidjson's == compares object members by name).
  std::shared_ptr<const rapidjson::Document> body;
  std::string task_id;
};

// Known `task_error=` names and the retryable flag their failure reports.
bool RetryableTaskError(absl::string_view code) {
  return code == "billing_failed" || code == "internal_error";
}

// kie-style `fail=` directives and the shared task faults, as beatra error codes.
std::string FailCodeFor(absl::string_view kie_status) {
  if (kie_status == "SENSITIVE_WORD_ERROR") return "content_policy_violation";
  if (kie_status == "GENERATE_AUDIO_FAILED" || kie_status == "CREATE_TASK_FAILED" ||
      kie_status == "CALLBACK_EXCEPTION") {
    return "generation_failed";
  }
  return "";
}

// ---------------------------------------------------------------------------------------------
// The contract.

class BeatraContract final : public ProviderContract {
 public:
  explicit BeatraContract(const EmulatorCore* core) : core_(core) {}

  void RegisterRoutes(httplib::Server* server) override {
    const std::string p(kPrefix);
    server->Post(p + std::string(kTextToMusic),
                 [this](const httplib::Request& req, httplib::Response& res) {
                   HandleCreate(req, &res, kTextToMusic);
                 });
    server->Post(p + std::string(kReferenceToMusic),
                 [this](const httplib::Request& req, httplib::Response& res) {
                   HandleCreate(req, &res, kReferenceToMusic);
                 });
    server->Post(p + "/v1/uploads", [this](const httplib::Request& req, httplib::Response& res) {
      HandleUpload(req, &res);
    });
    server->Post(
        p + R"(/v1/tasks/([^/]+)/cancel)",
        [this](const httplib::Request& req, httplib::Response& res) { HandleCancel(req, &res); });
    server->Get(
        p + R"(/v1/tasks/([^/]+))",
        [this](const httplib::Request& req, httplib::Response& res) { HandleGet(req, &res); });
    server->Get(p + "/v1/tasks", [this](const httplib::Request& req, httplib::Response& res) {
      HandleList(req, &res);
    });
  }

  int64_t TaskCount() const override {
    absl::MutexLock lock(&mu_);
    return static_cast<int64_t>(tasks_.size());
  }

  std::string provider() const override { return "beatra"; }

  std::vector<UsageRecord> UsageRecords() const override {
    const absl::Time now = core_->Now();
    std::vector<UsageRecord> records;
    absl::MutexLock lock(&mu_);
    for (const std::string& id : order_) {
      const Task& task = tasks_.at(id);
      UsageRecord charge;
      charge.provider = "beatra";
      charge.usage_record_id = absl::StrCat("usage_", task.id, "_charge");
      charge.provider_task_id = task.id;
      charge.request_id = task.request_id;
      charge.model = task.model;
      charge.endpoint = task.endpoint;
      charge.kind = UsageKind::kCharge;
      charge.amount_micros = task.price_micros;
      charge.currency = UsageCurrency::kCredits;
      charge.time = task.created;  // prepaid: debited at create (seed 002)
      records.push_back(charge);
      if (std::optional<absl::Time> refunded = task.refunded_at(now)) {
        UsageRecord refund = charge;
        refund.usage_record_id = absl::StrCat("usage_", task.id, "_refund");
        refund.kind = UsageKind::kRefund;
        refund.time = *refunded;
        records.push_back(std::move(refund));
      }
    }
    return records;
  }

 private:
  // Sets X-Request-Id (on every answer, CONTRACT-NOTES) and returns it.
  static std::string StartAnswer(httplib::Response* res) {
    std::string request_id = absl::StrCat("req_", RandomHexId().substr(0, 24));
    res->set_header("X-Request-Id", request_id);
    return request_id;
  }

  static void Error(httplib::Response* res, int http_status, absl::string_view code,
                    absl::string_view message, bool retryable, absl::string_view request_id) {
    SetJson(res, http_status, ErrorEnvelope(code, message, retryable, request_id));
  }

  bool Authorized(const httplib::Request& req, httplib::Response* res,
                  absl::string_view request_id) {
    const std::string& key = core_->options.beatra_api_key;
    if (key.empty() || req.get_header_value("Authorization") == absl::StrCat("Bearer ", key)) {
      return true;
    }
    core_->stats->Add(&EmulatorStats::unauthorized);
    Error(res, 401, "unauthorized", "Missing or invalid API key", false, request_id);
    return false;
  }

  void HandleCreate(const httplib::Request& req, httplib::Response* res,
                    absl::string_view endpoint);
  void HandleGet(const httplib::Request& req, httplib::Response* res);
  void HandleCancel(const httplib::Request& req, httplib::Response* res);
  void HandleList(const httplib::Request& req, httplib::Response* res);
  void HandleUpload(const httplib::Request& req, httplib::Response* res);

  // The task envelope (WIRE.md "Task envelope") as of `now`.
  void WriteTask(Writer& w, const Task& task, absl::Time now) const;
  std::string TaskJson(const Task& task, absl::Time now) const {
    rapidjson::StringBuffer buffer;
    Writer w(buffer);
    WriteTask(w, task, now);
    return Finish(buffer);
  }

  const EmulatorCore* const core_;
  mutable absl::Mutex mu_;
  absl::flat_hash_map<std::string, Task> tasks_ ABSL_GUARDED_BY(mu_);
  std::vector<std::string> order_ ABSL_GUARDED_BY(mu_);  // task ids, oldest first
  // Idempotency keys, remembered for the emulator's life.
  absl::flat_hash_map<std::string, KeyRecord> keys_ ABSL_GUARDED_BY(mu_);
  // Idempotency keys (or bodies) whose one-shot retryable create_error already fired.
  absl::flat_hash_set<std::string> fired_ ABSL_GUARDED_BY(mu_);
  absl::flat_hash_map<std::string, Upload> uploads_ ABSL_GUARDED_BY(mu_);
};

void BeatraContract::HandleCreate(const httplib::Request& req, httplib::Response* res,
                                  absl::string_view endpoint) {
  StatsRecorder& stats = *core_->stats;
  const std::string request_id = StartAnswer(res);
  if (!Authorized(req, res, request_id)) {
    stats.Add(&EmulatorStats::creates_rejected);
    return;
  }
  const CreateFaults faults = core_->faults->NextCreate();
  if (faults.rejection == CreateRejection::kRateLimited) {
    stats.Add(&EmulatorStats::creates_rejected);
    stats.Add(&EmulatorStats::creates_rate_limited);
    res->set_header("Retry-After", "1");
    Error(res, 429, "rate_limited", "Too many requests, retry later", true, request_id);
    return;
  }
  if (faults.rejection == CreateRejection::kServerError) {
    stats.Add(&EmulatorStats::creates_rejected);
    stats.Add(&EmulatorStats::creates_server_error);
    Error(res, 500, "internal_error", "Internal server error", true, request_id);
    return;
  }
  auto invalid = [&](int http_status, absl::string_view code, absl::string_view message) {
    stats.Add(&EmulatorStats::creates_rejected);
    stats.Add(&EmulatorStats::creates_invalid);
    Error(res, http_status, code, message, false, request_id);
  };

  rapidjson::Document doc;
  doc.Parse(req.body.data(), req.body.size());
  if (doc.HasParseError() || !doc.IsObject()) {
    invalid(422, "invalid_request", "The request body must be a JSON object");
    return;
  }
  auto body = std::make_shared<rapidjson::Document>();
  body->CopyFrom(doc, body->GetAllocator());
  const std::string idempotency_key = req.get_header_value("Idempotency-Key");

  // A known key: the same request gets the same task, another request 409 (CONTRACT-NOTES).
  if (!idempotency_key.empty()) {
    std::string replay;
    {
      absl::MutexLock lock(&mu_);
      auto it = keys_.find(idempotency_key);
      if (it != keys_.end()) {
        if (it->second.endpoint != endpoint || !(*it->second.body == doc)) {
          stats.Add(&EmulatorStats::creates_rejected);
          Error(res, 409, "idempotency_conflict",
                "Idempotency-Key was already used with a different request", false, request_id);
          return;
        }
        replay = TaskJson(tasks_.at(it->second.task_id), core_->Now());
      }
    }
    if (!replay.empty()) {
      res->set_header("Idempotent-Replayed", "true");
      SetJson(res, 202, replay);
      return;
    }
  }

  // Validation (WIRE.md "Create"). seed 002: "Shared fields stay at the top level: model, prompt,
  // lyrics, instrumental, title, and metadata. Model-specific knobs live under model_options";
  // the reference-audio endpoint adds reference_audio. Anything else is refused.
  if (absl::Status s = RejectUndocumented(doc, {"model", "prompt", "lyrics", "instrumental", "title",
                                                "metadata", "model_options", "reference_audio"});
      !s.ok()) {
    invalid(422, "invalid_request", s.message());
    return;
  }
  const Value* model_value = Member(doc, "model");
  if (model_value == nullptr || !model_value->IsString()) {
    invalid(422, "invalid_request", "model is required");
    return;
  }
  const ModelInfo* model = FindModel(model_value->GetString());
  if (model == nullptr) {
    invalid(400, "unsupported_model",
            absl::StrCat("Unsupported model ", model_value->GetString(),
                         "; use suno-5.5 or minimax-music-2.6"));
    return;
  }
  Task task;
  const Value* v = Member(doc, "prompt");
  if (v == nullptr || !v->IsString() || v->GetStringLength() == 0) {
    invalid(422, "invalid_request", "prompt is required");
    return;
  }
  task.prompt = v->GetString();
  for (auto [name, out] : {std::pair<const char*, std::string*>{"lyrics", &task.lyrics},
                           std::pair<const char*, std::string*>{"title", &task.title}}) {
    if ((v = Member(doc, name)) != nullptr) {
      if (!v->IsString()) {
        invalid(422, "invalid_request", absl::StrCat(name, " must be a string"));
        return;
      }
      *out = v->GetString();
    }
  }
  if ((v = Member(doc, "instrumental")) != nullptr) {
    if (!v->IsBool()) {
      invalid(422, "invalid_request", "instrumental must be a boolean");
      return;
    }
    task.instrumental = v->GetBool();
  }
  if ((v = Member(doc, "metadata")) != nullptr) {
    if (!v->IsObject()) {
      invalid(422, "invalid_request", "metadata must be an object");
      return;
    }
    task.metadata = JsonText(*v);
  }
  if ((v = Member(doc, "model_options")) != nullptr) {
    if (!v->IsObject()) {
      invalid(422, "invalid_request", "model_options must be an object");
      return;
    }
    for (const auto& m : v->GetObject()) {
      const absl::string_view ns(m.name.GetString(), m.name.GetStringLength());
      if (ns != model->option_namespace) {
        // seed 002: "Unknown option namespaces are rejected so client bugs are caught early."
        invalid(422, "unsupported_option",
                absl::StrCat("model_options.", ns, " is not supported by ", model->model,
                             "; use model_options.", model->option_namespace));
        return;
      }
      if (!m.value.IsObject()) {
        invalid(422, "unsupported_option",
                absl::StrCat("model_options.", ns, " must be an object"));
        return;
      }
    }
  }
  const Value* reference = Member(doc, "reference_audio");
  if (endpoint == kReferenceToMusic) {
    const Value* artifact =
        reference != nullptr && reference->IsObject() ? Member(*reference, "artifact_id") : nullptr;
    if (artifact == nullptr || !artifact->IsString()) {
      invalid(422, "invalid_request", "reference_audio.artifact_id is required");
      return;
    }
    task.reference_artifact_id = artifact->GetString();
    absl::MutexLock lock(&mu_);
    if (!uploads_.contains(task.reference_artifact_id)) {
      stats.Add(&EmulatorStats::creates_rejected);
      stats.Add(&EmulatorStats::creates_invalid);
      Error(res, 422, "invalid_request",
            absl::StrCat("Unknown artifact ", task.reference_artifact_id), false, request_id);
      return;
    }
  } else if (reference != nullptr) {
    invalid(422, "invalid_request",
            "reference_audio belongs on /v1/music/reference-audio-to-music");
    return;
  }

  Directives directives;
  ParseDirectives(absl::StrCat(task.prompt, " ", task.lyrics, " ", task.title), &directives);
  if (!directives.create_error.empty()) {
    const std::string& name = directives.create_error;
    if (name == "insufficient_balance") {
      stats.Add(&EmulatorStats::creates_rejected);
      Error(res, 402, "insufficient_balance",
            absl::StrCat("Wallet balance is below the task price of ",
                         Decimal4(model->price_micros), " credits"),
            false, request_id);
      return;
    }
    if (name == "unsupported_model") {
      // CONTRACT-NOTES "beatra": `unsupported_model` 400 (this account cannot run the model).
      stats.Add(&EmulatorStats::creates_rejected);
      stats.Add(&EmulatorStats::creates_invalid);
      Error(res, 400, "unsupported_model",
            absl::StrCat("Model ", model->model, " is not available for this account"), false,
            request_id);
      return;
    }
    if (name == "rate_limited" || name == "billing_failed") {
      // Retryable errors fire once per key (or body), so the client's retry gets through.
      bool fire = false;
      {
        absl::MutexLock lock(&mu_);
        fire = fired_.insert(idempotency_key.empty() ? req.body : idempotency_key).second;
      }
      if (fire) {
        stats.Add(&EmulatorStats::creates_rejected);
        if (name == "rate_limited") {
          stats.Add(&EmulatorStats::creates_rate_limited);
          res->set_header("Retry-After", "1");
          Error(res, 429, "rate_limited", "Too many requests, retry later", true, request_id);
        } else {
          stats.Add(&EmulatorStats::creates_server_error);
          Error(res, 500, "billing_failed", "The wallet could not be debited, retry", true,
                request_id);
        }
        return;
      }
    }
  }

  // The task.
  const TaskFaults task_faults = core_->faults->NextTask();
  const absl::Time now = core_->Now();
  task.id = absl::StrCat("task_", RandomHexId());
  task.model = std::string(model->model);
  task.endpoint = std::string(endpoint);
  task.request_id = request_id;
  task.price_micros = model->price_micros;
  task.created = now;
  task.duration = directives.duration.value_or(core_->options.task_duration);
  task.no_audio = task_faults.no_audio || directives.no_audio;
  task.malformed_polls_left = directives.malformed_polls;
  bool fail_once = false;
  if (!directives.task_error_once.empty()) {
    // The first task of this body fails; the body's next create (a resubmission under another
    // Idempotency-Key) runs to success.
    absl::MutexLock lock(&mu_);
    fail_once = fired_.insert(absl::StrCat("task_error_once:", endpoint, ":", req.body)).second;
  }
  if (!directives.task_error.empty()) {
    task.fail_code = directives.task_error;
  } else if (fail_once) {
    task.fail_code = directives.task_error_once;
  } else if (std::string code = FailCodeFor(directives.fail_status); !code.empty()) {
    task.fail_code = code;
  } else if (task_faults.generate_failed) {
    task.fail_code = "generation_failed";
  } else if (task_faults.sensitive_word) {
    task.fail_code = "content_policy_violation";
  }
  if (!task.fail_code.empty()) {
    task.fail_retryable = RetryableTaskError(task.fail_code);
    task.fail_message = absl::StrCat("The task failed: ", task.fail_code);
  }
  for (int i = 0; i < model->clips; ++i) {
    task.clip_ids.push_back(RandomUuid());
    task.artifact_ids.push_back(absl::StrCat("art_", RandomHexId()));
    ClipAudio audio;
    audio.seconds = core_->options.clip_seconds;
    audio.stream_ready_at = task.no_audio || !task.fail_code.empty()
                                ? absl::InfiniteFuture()
                                : task.created + task.duration / 5;
    audio.audio_ready_at =
        task.no_audio || !task.fail_code.empty() ? absl::InfiniteFuture() : task.natural_end();
    core_->clips->Put(task.clip_ids.back(), audio);
  }

  std::string answer;
  {
    absl::MutexLock lock(&mu_);
    // Another request with this key may have won the race while we validated unlocked.
    if (!idempotency_key.empty()) {
      auto it = keys_.find(idempotency_key);
      if (it != keys_.end()) {
        const bool same = it->second.endpoint == endpoint && *it->second.body == doc;
        if (same) {
          res->set_header("Idempotent-Replayed", "true");
          SetJson(res, 202, TaskJson(tasks_.at(it->second.task_id), now));
        } else {
          stats.Add(&EmulatorStats::creates_rejected);
          Error(res, 409, "idempotency_conflict",
                "Idempotency-Key was already used with a different request", false, request_id);
        }
        return;
      }
      keys_[idempotency_key] = KeyRecord{std::string(endpoint), body, task.id};
      stats.Add(&EmulatorStats::idempotency_keys);
    }
    answer = TaskJson(task, now);
    order_.push_back(task.id);
    tasks_.emplace(task.id, std::move(task));
  }
  stats.Add(&EmulatorStats::creates_accepted);
  stats.Add(&EmulatorStats::generate_creates);

  // A slow answer comes after the task and its key exist: a client that gives up and resends
  // with the same key gets this task back.
  if (faults.slow || directives.slow_create) {
    stats.Add(&EmulatorStats::creates_slow);
    core_->Sleep(core_->faults->slow_delay());
  }
  if (faults.malformed || directives.malformed_create) {
    stats.Add(&EmulatorStats::creates_malformed);
    answer = Truncate(answer);
  }
  SetJson(res, 202, answer);
}

void BeatraContract::HandleGet(const httplib::Request& req, httplib::Response* res) {
  StatsRecorder& stats = *core_->stats;
  const std::string request_id = StartAnswer(res);
  if (!Authorized(req, res, request_id)) return;
  stats.Add(&EmulatorStats::polls);
  const PollFaults faults = core_->faults->NextPoll();
  if (faults.slow) {
    stats.Add(&EmulatorStats::polls_slow);
    core_->Sleep(core_->faults->slow_delay());
  }
  if (faults.server_error) {
    stats.Add(&EmulatorStats::polls_server_error);
    Error(res, 500, "internal_error", "Internal server error", true, request_id);
    return;
  }
  const std::string id = req.matches[1];
  std::string body;
  bool malformed = faults.malformed;
  {
    absl::MutexLock lock(&mu_);
    auto it = tasks_.find(id);
    if (it == tasks_.end()) {
      stats.Add(&EmulatorStats::polls_not_found);
      Error(res, 404, "not_found", absl::StrCat("No task ", id), false, request_id);
      return;
    }
    if (it->second.malformed_polls_left > 0) {
      --it->second.malformed_polls_left;
      malformed = true;
    }
    body = TaskJson(it->second, core_->Now());
  }
  if (malformed) {
    stats.Add(&EmulatorStats::polls_malformed);
    body = Truncate(body);
  }
  SetJson(res, 200, body);
}

void BeatraContract::HandleCancel(const httplib::Request& req, httplib::Response* res) {
  const std::string request_id = StartAnswer(res);
  if (!Authorized(req, res, request_id)) return;
  const std::string id = req.matches[1];
  const absl::Time now = core_->Now();
  absl::MutexLock lock(&mu_);
  auto it = tasks_.find(id);
  if (it == tasks_.end()) {
    Error(res, 404, "not_found", absl::StrCat("No task ", id), false, request_id);
    return;
  }
  Task& task = it->second;
  // Best effort and idempotent: a running task is canceled (and refunded) now; a repeat, or a
  // task that already ended, is answered with the task as it is.
  if (!task.cancel_requested.has_value() && !task.end_time(now).has_value()) {
    task.cancel_requested = now;
  }
  SetJson(res, 200, TaskJson(task, now));
}

void BeatraContract::HandleList(const httplib::Request& req, httplib::Response* res) {
  const std::string request_id = StartAnswer(res);
  if (!Authorized(req, res, request_id)) return;
  int limit = kDefaultListLimit;
  if (req.has_param("limit")) {
    if (!absl::SimpleAtoi(req.get_param_value("limit"), &limit) || limit < 1 ||
        limit > kMaxListLimit) {
      Error(res, 422, "invalid_request", "limit must be an integer from 1 to 100", false,
            request_id);
      return;
    }
  }
  const absl::Time now = core_->Now();
  rapidjson::StringBuffer buffer;
  Writer w(buffer);
  w.StartObject();
  w.Key("data");
  w.StartArray();
  absl::MutexLock lock(&mu_);
  int written = 0;
  for (auto it = order_.rbegin(); it != order_.rend() && written < limit; ++it, ++written) {
    WriteTask(w, tasks_.at(*it), now);  // newest first
  }
  w.EndArray();
  w.Key("has_more");
  w.Bool(static_cast<size_t>(written) < order_.size());
  w.EndObject();
  SetJson(res, 200, Finish(buffer));
}

void BeatraContract::HandleUpload(const httplib::Request& req, httplib::Response* res) {
  const std::string request_id = StartAnswer(res);
  if (!Authorized(req, res, request_id)) return;
  if (!req.is_multipart_form_data() || !req.has_file("file")) {
    Error(res, 422, "invalid_request", "Send multipart/form-data with a `file` part", false,
          request_id);
    return;
  }
  // CONTRACT-NOTES "beatra": "Uploads: multipart `file`, `purpose` (`reference_audio` for
  // music), `media_type`, `metadata` (a JSON string)". No purpose: refused.
  if (!req.has_file("purpose") || req.get_file_value("purpose").content.empty()) {
    Error(res, 422, "invalid_request", "`purpose` is required (reference_audio for music)", false,
          request_id);
    return;
  }
  if (req.get_file_value("purpose").content != "reference_audio") {
    Error(res, 422, "invalid_request",
          absl::StrCat("Unsupported purpose: ", req.get_file_value("purpose").content), false,
          request_id);
    return;
  }
  if (req.has_file("metadata")) {
    const std::string metadata = req.get_file_value("metadata").content;
    rapidjson::Document doc;
    doc.Parse(metadata.data(), metadata.size());
    if (doc.HasParseError() || !doc.IsObject()) {
      Error(res, 422, "invalid_request", "`metadata` must be a JSON object string", false,
            request_id);
      return;
    }
  }
  const httplib::MultipartFormData file = req.get_file_value("file");
  if (file.content.size() > kMaxUploadBytes) {
    Error(res, 413, "payload_too_large", "Uploads are limited to 100 MB", false, request_id);
    return;
  }
  if (file.content.empty()) {
    Error(res, 422, "invalid_request", "The file is empty", false, request_id);
    return;
  }
  Upload upload;
  upload.artifact_id = absl::StrCat("art_", RandomHexId());
  upload.filename = file.filename;
  upload.content_type = file.content_type;
  upload.size = file.content.size();
  upload.created = core_->Now();
  rapidjson::StringBuffer buffer;
  Writer w(buffer);
  w.StartObject();
  PutString(w, "artifact_id", upload.artifact_id);
  PutString(w, "filename", upload.filename);
  PutString(w, "content_type", upload.content_type);
  w.Key("size_bytes");
  w.Uint64(upload.size);
  PutString(w, "created_at", Rfc3339(upload.created));
  w.EndObject();
  {
    absl::MutexLock lock(&mu_);
    uploads_.emplace(upload.artifact_id, std::move(upload));
  }
  SetJson(res, 201, Finish(buffer));
}

void BeatraContract::WriteTask(Writer& w, const Task& task, absl::Time now) const {
  const absl::string_view status = task.status(now);
  const std::optional<absl::Time> end = task.end_time(now);
  const absl::Time started = task.created + task.duration / 5;
  const std::optional<absl::Time> refunded = task.refunded_at(now);
  w.StartObject();
  PutString(w, "task_id", task.id);
  PutString(w, "object", "task");
  PutString(
      w, "type",
      task.endpoint == kTextToMusic ? "music.text_to_music" : "music.reference_audio_to_music");
  PutString(w, "model", task.model);
  PutString(w, "status", status);

  // progress {percent, stage, message}: grows through the running window.
  int percent = 0;
  absl::string_view stage = "queued";
  absl::string_view message = "Waiting for a worker";
  const absl::Time at = end.value_or(now);
  if (at >= started) {
    const double fraction =
        absl::FDivDuration(at - started, task.created + task.duration - started);
    percent = 5 + static_cast<int>(90 * std::clamp(fraction, 0.0, 1.0));
    stage = percent < 50 ? "composing" : "rendering";
    message = percent < 50 ? "Composing the arrangement" : "Rendering audio";
  }
  if (status == "succeeded") {
    percent = 100;
    stage = "completed";
    message = "Done";
  } else if (status == "failed") {
    stage = "failed";
    message = "Generation failed";
  } else if (status == "canceled") {
    stage = "canceled";
    message = "Canceled on request";
  }
  w.Key("progress");
  w.StartObject();
  w.Key("percent");
  w.Int(percent);
  PutString(w, "stage", stage);
  PutString(w, "message", message);
  w.EndObject();

  w.Key("output");
  if (status != "succeeded") {
    w.Null();
  } else {
    const std::string& base = core_->public_base_url;
    w.StartObject();
    w.Key("clips");
    w.StartArray();
    for (size_t i = 0; i < task.clip_ids.size(); ++i) {
      const std::string& id = task.clip_ids[i];
      w.StartObject();
      PutString(w, "id", id);
      PutString(w, "artifact_id", task.artifact_ids[i]);
      PutString(w, "audio_url",
                task.no_audio ? std::string() : absl::StrCat(base, "/audio/", id, ".wav"));
      PutString(w, "stream_audio_url",
                task.no_audio ? std::string() : absl::StrCat(base, "/stream/", id));
      PutString(w, "image_url", absl::StrCat(base, "/images/", id, ".png"));
      PutString(w, "title", task.title.empty() ? "Emulated Track" : task.title);
      PutString(w, "model", task.model);
      PutString(w, "format", "wav");
      w.Key("duration_seconds");
      w.Double(core_->options.clip_seconds);
      w.EndObject();
    }
    w.EndArray();
    w.EndObject();
  }

  w.Key("error");
  if (status != "failed") {
    w.Null();
  } else {
    w.StartObject();
    PutString(w, "code", task.fail_code);
    PutString(w, "message", task.fail_message);
    w.Key("retryable");
    w.Bool(task.fail_retryable);
    w.EndObject();
  }

  // usage.lines[]: the debit at create and, once refunded, the credit back.
  w.Key("usage");
  w.StartObject();
  w.Key("lines");
  w.StartArray();
  w.StartObject();
  PutString(w, "description", absl::StrCat(task.model, " music task"));
  w.Key("quantity");
  w.Int(1);
  PutString(w, "unit", "task");
  PutString(w, "credits", Decimal4(task.price_micros));
  w.EndObject();
  if (refunded) {
    w.StartObject();
    PutString(w, "description", status == "canceled" ? "refund: canceled" : "refund: failed");
    w.Key("quantity");
    w.Int(1);
    PutString(w, "unit", "task");
    PutString(w, "credits", Decimal4(-task.price_micros));
    w.EndObject();
  }
  w.EndArray();
  w.EndObject();

  // billing: charged at create (prepaid), refunded_* only once refunded (seed 002).
  w.Key("billing");
  w.StartObject();
  PutString(w, "charged_credits", Decimal4(task.price_micros));
  PutString(w, "charged_credits_usd_reference", Decimal4(task.price_micros / kCreditsPerUsd));
  if (refunded) {
    PutString(w, "refunded_credits", Decimal4(task.price_micros));
    PutString(w, "refunded_credits_usd_reference", Decimal4(task.price_micros / kCreditsPerUsd));
  }
  PutString(w, "currency", "credits");
  w.EndObject();

  if (!task.metadata.empty()) {
    w.Key("metadata");
    w.RawValue(task.metadata.data(), task.metadata.size(), rapidjson::kObjectType);
  }
  PutString(w, "created_at", Rfc3339(task.created));
  PutNullableString(w, "started_at",
                    now >= started && (!end || *end >= started) ? Rfc3339(started) : std::string());
  PutNullableString(w, "completed_at", end ? Rfc3339(*end) : std::string());
  PutNullableString(w, "cancel_requested_at",
                    task.cancel_requested ? Rfc3339(*task.cancel_requested) : std::string());
  w.EndObject();
}

}  // namespace

std::unique_ptr<ProviderContract> NewBeatraContract(const EmulatorCore* core) {
  return std::make_unique<BeatraContract>(core);
}

}  // namespace music::emulator
