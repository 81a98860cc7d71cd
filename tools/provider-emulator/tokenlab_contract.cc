// TokenLab music contract, as adapters/tokenlab/WIRE.md describes it (seeds 000/001 and the
// TokenLab section of shared/seeds/CONTRACT-NOTES.md), under the prefix /tokenlab. WIRE.md
// "Emulator" lists the routes, the directives this contract understands and its usage records.
#include "tools/provider-emulator/tokenlab_contract.h"

#include <rapidjson/document.h>
#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

#include <algorithm>
#include <cstdint>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_map.h"
#include "absl/container/flat_hash_set.h"
#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"

#include "tools/provider-emulator/documented_fields.h"

namespace music::emulator {
namespace {

using Writer = JsonWriter;
using rapidjson::Value;

constexpr absl::string_view kPrefix = "/tokenlab";
constexpr absl::string_view kCreateEndpoint = "/v1/music/generations";
constexpr absl::string_view kModel = "suno_music";
// The emulator's price of one task: $0.10 (the seeds publish none; WIRE.md "Emulator").
constexpr int64_t kPriceMicros = 100000;
constexpr absl::string_view kPriceText = "0.10";
// Request fields of the public contract (seed 000 "Choose The Workflow"; CONTRACT-NOTES "TokenLab":
// the reference page also lists `mv` and `user`). Anything else, `request_id` included (TokenLab
// assigns it), is "Unsupported parameter" (seed 000 "Common Errors").
constexpr absl::string_view kKnownFields[] = {"model",        "prompt",           "title",
                                              "tags",         "action",           "continue_clip_id",
                                              "continue_at",  "mv",               "user"};

enum class Action { kMusic, kLyrics };
enum class Phase { kPending, kProcessing, kCompleted, kFailed };

struct Task {
  std::string id;
  int64_t seq = 0;  // creation order, for newest-first lists
  Action action = Action::kMusic;
  std::string prompt, title, tags;
  std::string continue_clip_id;
  std::optional<double> continue_at;
  std::string request_id;  // assigned here, as TokenLab does (CONTRACT-NOTES)
  std::string user;        // the caller identifier, as sent
  std::string billing_transaction_id;
  std::string clip_id;  // music: the one clip
  absl::Time created;
  absl::Duration duration;
  std::string error_code;  // "" unless the task fails; "cancelled" for a provider-side cancel
  bool no_audio = false;
  int malformed_polls_left = 0;
};

bool Cancelled(const Task& task) { return task.error_code == "cancelled"; }
bool Fails(const Task& task) { return !task.error_code.empty(); }

// pending -> processing at d/4 -> completed at d; a failing task fails at d/2.
Phase PhaseAt(const Task& task, absl::Time now) {
  const absl::Duration elapsed = now - task.created;
  if (Fails(task) && elapsed >= task.duration / 2) return Phase::kFailed;
  if (!Fails(task) && elapsed >= task.duration) return Phase::kCompleted;
  if (elapsed >= task.duration / 4) return Phase::kProcessing;
  return Phase::kPending;
}

absl::Time EndTime(const Task& task) {
  return task.created + (Fails(task) ? task.duration / 2 : task.duration);
}

absl::string_view StatusName(Phase phase) {
  switch (phase) {
    case Phase::kPending:
      return "pending";
    case Phase::kProcessing:
      return "processing";
    case Phase::kCompleted:
      return "completed";
    case Phase::kFailed:
      return "failed";
  }
  return "pending";
}

// The failure message of a `task_error=` code.
std::string FailureMessage(absl::string_view code) {
  if (code == "cancelled") return "The task was cancelled";
  if (code == "content_policy_violation") return "The prompt was rejected by the content policy";
  if (code == "insufficient_balance") return "Insufficient balance to settle the task";
  return "Music generation failed";
}

// {"error": {"code", "message", "type"}} (WIRE.md "Errors").
std::string ErrorEnvelope(absl::string_view code, absl::string_view message,
                          absl::string_view type) {
  rapidjson::StringBuffer buffer;
  Writer w(buffer);
  w.StartObject();
  w.Key("error");
  w.StartObject();
  PutString(w, "code", code);
  PutString(w, "message", message);
  PutString(w, "type", type);
  w.EndObject();
  w.EndObject();
  return Finish(buffer);
}

// A validated create request.
struct CreateSpec {
  Action action = Action::kMusic;
  std::string prompt, title, tags, continue_clip_id, mv, user;
  std::optional<double> continue_at;
};

class TokenlabContract final : public ProviderContract {
 public:
  explicit TokenlabContract(const EmulatorCore* core) : core_(core) {}

  void RegisterRoutes(httplib::Server* server) override {
    const std::string prefix(kPrefix);
    server->Post(
        prefix + "/v1/music/generations",
        [this](const httplib::Request& req, httplib::Response& res) { HandleCreate(req, &res); });
    server->Get(prefix + R"(/v1/tasks/([A-Za-z0-9_.-]+))",
                [this](const httplib::Request& req, httplib::Response& res) {
                  HandlePoll(req, &res, req.matches[1]);
                });
    // No task list or lookup by request id is documented (CONTRACT-NOTES "TokenLab"): the route
    // answers 404 like any unknown one, so a client that relies on it fails here first.
    server->Get(prefix + "/v1/tasks", [this](const httplib::Request& req, httplib::Response& res) {
      if (!Authorized(req, &res)) return;
      core_->stats->Add(&EmulatorStats::undocumented_routes);
      SetJson(&res, 404,
              ErrorEnvelope("not_found", "No route GET /v1/tasks", "invalid_request_error"));
    });
    server->Get(prefix + "/v1/models", [this](const httplib::Request& req, httplib::Response& res) {
      HandleModels(req, &res);
    });
  }

  int64_t TaskCount() const override {
    absl::MutexLock lock(&mu_);
    return static_cast<int64_t>(tasks_.size());
  }

  std::string provider() const override { return "tokenlab"; }

  std::vector<UsageRecord> UsageRecords() const override {
    const absl::Time now = core_->Now();
    std::vector<const Task*> ordered;
    std::vector<UsageRecord> records;
    absl::MutexLock lock(&mu_);
    for (const auto& [id, task] : tasks_) ordered.push_back(&task);
    std::sort(ordered.begin(), ordered.end(),
              [](const Task* a, const Task* b) { return a->seq < b->seq; });
    for (const Task* task : ordered) {
      UsageRecord record;
      record.provider = "tokenlab";
      record.provider_task_id = task->id;
      record.provider_billing_transaction_id = task->billing_transaction_id;
      record.request_id = task->request_id;
      record.model = std::string(kModel);
      record.endpoint = std::string(kCreateEndpoint);
      record.amount_micros = kPriceMicros;
      record.currency = UsageCurrency::kUsd;
      // The estimate reserved at create is charged at once (seed 000 "Billing And
      // Reconciliation"); a task that ends failed or cancelled gets it back.
      record.usage_record_id = absl::StrCat("tlu_", task->id, "_charge");
      record.kind = UsageKind::kCharge;
      record.time = task->created;
      records.push_back(record);
      if (Fails(*task) && PhaseAt(*task, now) == Phase::kFailed) {
        record.usage_record_id = absl::StrCat("tlu_", task->id, "_refund");
        record.kind = UsageKind::kRefund;
        record.time = EndTime(*task);
        records.push_back(record);
      }
    }
    return records;
  }

 private:
  bool Authorized(const httplib::Request& req, httplib::Response* res) {
    const std::string& key = core_->options.tokenlab_api_key;
    if (key.empty() || req.get_header_value("Authorization") == absl::StrCat("Bearer ", key)) {
      return true;
    }
    core_->stats->Add(&EmulatorStats::unauthorized);
    SetJson(res, 401, ErrorEnvelope("invalid_api_key", "Invalid API key", "authentication_error"));
    return false;
  }

  // Validation per WIRE.md "Create"; INVALID_ARGUMENT carries the 400 message.
  absl::StatusOr<CreateSpec> ParseCreate(const std::string& body) const;
  void HandleCreate(const httplib::Request& req, httplib::Response* res);
  // Answers a `create_error=` directive; false when the name is not one this contract knows.
  bool AnswerCreateError(absl::string_view name, const CreateSpec& spec, httplib::Response* res);
  void HandlePoll(const httplib::Request& req, httplib::Response* res, const std::string& id);
  void HandleModels(const httplib::Request& req, httplib::Response* res);

  std::string PollUrl(const std::string& id) const {
    return absl::StrCat(core_->public_base_url, kPrefix, "/v1/tasks/", id);
  }
  void WriteTask(Writer& w, const Task& task, absl::Time now) const
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  std::string TaskJson(const Task& task, absl::Time now) const ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    rapidjson::StringBuffer buffer;
    Writer w(buffer);
    WriteTask(w, task, now);
    return Finish(buffer);
  }

  const EmulatorCore* const core_;
  mutable absl::Mutex mu_;
  absl::flat_hash_map<std::string, Task> tasks_ ABSL_GUARDED_BY(mu_);
  absl::flat_hash_map<std::string, std::string> clip_owner_ ABSL_GUARDED_BY(mu_);  // clip -> task
  // `user` values already answered 429 by `create_error=429` (once per user).
  absl::flat_hash_set<std::string> rate_limited_once_ ABSL_GUARDED_BY(mu_);
  int64_t next_seq_ ABSL_GUARDED_BY(mu_) = 0;
};

absl::StatusOr<CreateSpec> TokenlabContract::ParseCreate(const std::string& body) const {
  rapidjson::Document doc;
  doc.Parse(body.data(), body.size());
  if (doc.HasParseError() || !doc.IsObject()) {
    return absl::InvalidArgumentError("The request body must be a JSON object");
  }
  if (absl::Status s = RejectUndocumented(doc, kKnownFields); !s.ok()) return s;
  auto string_field = [&doc](const char* name, std::string* out) -> absl::Status {
    auto it = doc.FindMember(name);
    if (it == doc.MemberEnd() || it->value.IsNull()) return absl::OkStatus();
    if (!it->value.IsString()) {
      return absl::InvalidArgumentError(absl::StrCat(name, " must be a string"));
    }
    out->assign(it->value.GetString(), it->value.GetStringLength());
    return absl::OkStatus();
  };
  CreateSpec spec;
  std::string model, action;
  for (absl::Status s :
       {string_field("model", &model), string_field("prompt", &spec.prompt),
        string_field("title", &spec.title), string_field("tags", &spec.tags),
        string_field("action", &action), string_field("continue_clip_id", &spec.continue_clip_id),
        string_field("mv", &spec.mv), string_field("user", &spec.user)}) {
    if (!s.ok()) return s;
  }
  if (auto it = doc.FindMember("continue_at"); it != doc.MemberEnd() && !it->value.IsNull()) {
    if (!it->value.IsNumber() || !(it->value.GetDouble() >= 0)) {
      return absl::InvalidArgumentError("continue_at must be a number of seconds >= 0");
    }
    spec.continue_at = it->value.GetDouble();
  }
  if (model.empty()) return absl::InvalidArgumentError("model is required");
  if (model != kModel) {
    return absl::InvalidArgumentError(absl::StrCat("Unknown music model: ", model));
  }
  if (action.empty() || action == "MUSIC") {
    spec.action = Action::kMusic;
  } else if (action == "LYRICS") {
    spec.action = Action::kLyrics;
  } else {
    return absl::InvalidArgumentError("action must be MUSIC or LYRICS");
  }
  if (spec.action == Action::kLyrics) {
    if (!spec.continue_clip_id.empty() || spec.continue_at.has_value()) {
      return absl::InvalidArgumentError("LYRICS tasks take no continue_clip_id / continue_at");
    }
    if (spec.prompt.empty()) return absl::InvalidArgumentError("prompt is required");
  } else if (spec.continue_clip_id.empty()) {
    if (spec.continue_at.has_value()) {
      return absl::InvalidArgumentError("continue_at needs continue_clip_id");
    }
    if (spec.prompt.empty()) return absl::InvalidArgumentError("prompt is required");
  }
  if (!spec.continue_clip_id.empty()) {
    absl::MutexLock lock(&mu_);
    auto owner = clip_owner_.find(spec.continue_clip_id);
    const Task* source = owner == clip_owner_.end() ? nullptr : &tasks_.at(owner->second);
    if (source == nullptr || PhaseAt(*source, core_->Now()) != Phase::kCompleted ||
        source->no_audio) {
      return absl::InvalidArgumentError(
          absl::StrCat("continue_clip_id is not a completed clip: ", spec.continue_clip_id));
    }
    if (spec.continue_at.has_value() && *spec.continue_at >= core_->options.clip_seconds) {
      return absl::InvalidArgumentError("continue_at must be less than the clip's duration");
    }
  }
  return spec;
}

bool TokenlabContract::AnswerCreateError(absl::string_view name, const CreateSpec& spec,
                                         httplib::Response* res) {
  StatsRecorder& stats = *core_->stats;
  const std::string lower = absl::AsciiStrToLower(name);
  if (lower == "402" || lower == "insufficient_balance") {
    stats.Add(&EmulatorStats::creates_rejected);
    SetJson(res, 402,
            ErrorEnvelope("insufficient_balance",
                          "Insufficient balance: top up your TokenLab balance", "billing_error"));
    return true;
  }
  if (lower == "spend_limit" || lower == "spend_limit_exceeded") {
    stats.Add(&EmulatorStats::creates_rejected);
    SetJson(res, 402,
            ErrorEnvelope("spend_limit_exceeded", "Spend limit reached for this API key",
                          "billing_error"));
    return true;
  }
  if (lower == "429" || lower == "rate_limit_exceeded") {
    // Once per `user` (the caller identifier), so a client that honours Retry-After and retries
    // gets through.
    if (!spec.user.empty()) {
      absl::MutexLock lock(&mu_);
      if (!rate_limited_once_.insert(spec.user).second) return false;
    }
    stats.Add(&EmulatorStats::creates_rejected);
    stats.Add(&EmulatorStats::creates_rate_limited);
    res->set_header("Retry-After", "1");
    SetJson(
        res, 429,
        ErrorEnvelope("rate_limit_exceeded", "Too many requests, retry later", "rate_limit_error"));
    return true;
  }
  if (lower == "500") {
    stats.Add(&EmulatorStats::creates_rejected);
    stats.Add(&EmulatorStats::creates_server_error);
    SetJson(res, 500, ErrorEnvelope("internal_error", "Internal server error", "server_error"));
    return true;
  }
  if (lower == "400" || lower == "unsupported_parameter") {
    stats.Add(&EmulatorStats::creates_rejected);
    stats.Add(&EmulatorStats::creates_invalid);
    SetJson(res, 400,
            ErrorEnvelope("unsupported_parameter", "Unsupported parameter: emulated",
                          "invalid_request_error"));
    return true;
  }
  return false;
}

void TokenlabContract::HandleCreate(const httplib::Request& req, httplib::Response* res) {
  StatsRecorder& stats = *core_->stats;
  if (!Authorized(req, res)) {
    stats.Add(&EmulatorStats::creates_rejected);
    return;
  }
  const CreateFaults faults = core_->faults->NextCreate();
  if (faults.rejection == CreateRejection::kRateLimited) {
    stats.Add(&EmulatorStats::creates_rejected);
    stats.Add(&EmulatorStats::creates_rate_limited);
    res->set_header("Retry-After", "1");
    SetJson(
        res, 429,
        ErrorEnvelope("rate_limit_exceeded", "Too many requests, retry later", "rate_limit_error"));
    return;
  }
  if (faults.rejection == CreateRejection::kServerError) {
    stats.Add(&EmulatorStats::creates_rejected);
    stats.Add(&EmulatorStats::creates_server_error);
    SetJson(res, 500, ErrorEnvelope("internal_error", "Internal server error", "server_error"));
    return;
  }
  absl::StatusOr<CreateSpec> spec = ParseCreate(req.body);
  if (!spec.ok()) {
    stats.Add(&EmulatorStats::creates_rejected);
    stats.Add(&EmulatorStats::creates_invalid);
    const bool unsupported = absl::StartsWith(spec.status().message(), "Unsupported parameter");
    SetJson(res, 400,
            ErrorEnvelope(unsupported ? "unsupported_parameter" : "invalid_request",
                          spec.status().message(), "invalid_request_error"));
    return;
  }
  Directives directives;
  ParseDirectives(absl::StrCat(spec->prompt, " ", spec->title, " ", spec->tags), &directives);
  if (!directives.create_error.empty() && AnswerCreateError(directives.create_error, *spec, res)) {
    return;
  }

  const TaskFaults task_faults = core_->faults->NextTask();
  Task task;
  task.id = absl::StrCat("ldtask_", RandomHexId());
  task.action = spec->action;
  task.prompt = spec->prompt;
  task.title = spec->title;
  task.tags = spec->tags;
  task.continue_clip_id = spec->continue_clip_id;
  task.continue_at = spec->continue_at;
  task.request_id = absl::StrCat("req_", RandomHexId());
  task.user = spec->user;
  task.billing_transaction_id = absl::StrCat("btx_", RandomHexId());
  task.created = core_->Now();
  task.duration = directives.duration.value_or(core_->options.task_duration);
  task.error_code = absl::AsciiStrToLower(directives.task_error);
  if (task.error_code == "canceled" || task.error_code == "cancel") task.error_code = "cancelled";
  if (task.error_code.empty() && task_faults.generate_failed) task.error_code = "generation_failed";
  if (task.error_code.empty() && task_faults.sensitive_word) {
    task.error_code = "content_policy_violation";
  }
  task.malformed_polls_left = directives.malformed_polls;
  if (task.action == Action::kMusic) {
    task.no_audio = task_faults.no_audio || directives.no_audio;
    task.clip_id = absl::StrCat("clip_", RandomHexId());
    ClipAudio audio;
    audio.seconds = core_->options.clip_seconds;
    const bool playable = !task.no_audio && !Fails(task);
    audio.stream_ready_at =
        task.no_audio ? absl::InfiniteFuture() : task.created + task.duration / 4;
    audio.audio_ready_at = playable ? task.created + task.duration : absl::InfiniteFuture();
    core_->clips->Put(task.clip_id, audio);
  }

  const std::string id = task.id;
  const std::string billing_id = task.billing_transaction_id;
  std::string answer;
  {
    absl::MutexLock lock(&mu_);
    task.seq = next_seq_++;
    if (!task.clip_id.empty()) clip_owner_[task.clip_id] = id;
    // The create answer: the task as it stands (pending), with poll_url (seed 000).
    answer = TaskJson(task, task.created);
    tasks_.emplace(id, std::move(task));
  }
  stats.Add(&EmulatorStats::creates_accepted);
  stats.Add(spec->action == Action::kLyrics  ? &EmulatorStats::lyrics_creates
            : spec->continue_clip_id.empty() ? &EmulatorStats::generate_creates
                                             : &EmulatorStats::extend_creates);
  // A slow answer comes after the task exists: a client that gives up has still created it.
  if (faults.slow || directives.slow_create) {
    stats.Add(&EmulatorStats::creates_slow);
    core_->Sleep(core_->faults->slow_delay());
  }
  if (faults.malformed || directives.malformed_create) {
    stats.Add(&EmulatorStats::creates_malformed);
    answer = Truncate(answer);
  }
  res->set_header("X-Task-ID", id);
  res->set_header("X-Billing-Transaction-ID", billing_id);
  SetJson(res, 200, answer);
}

void TokenlabContract::WriteTask(Writer& w, const Task& task, absl::Time now) const {
  const Phase phase = PhaseAt(task, now);
  const std::string& base = core_->public_base_url;
  const absl::Duration elapsed = now - task.created;
  w.StartObject();
  PutString(w, "id", task.id);
  PutString(w, "task_id", task.id);
  PutString(w, "object", "music.generation");
  PutString(w, "status", StatusName(phase));
  PutString(w, "model", kModel);
  PutString(w, "action", task.action == Action::kLyrics ? "LYRICS" : "MUSIC");
  PutString(w, "poll_url", PollUrl(task.id));
  PutNullableString(w, "request_id", task.request_id);
  PutString(w, "billing_transaction_id", task.billing_transaction_id);
  w.Key("created_at");
  w.Int64(absl::ToUnixSeconds(task.created));
  w.Key("progress");
  if (phase == Phase::kCompleted) {
    w.Int(100);
  } else {
    const double total = absl::ToDoubleMilliseconds(task.duration);
    const double done = total > 0 ? absl::ToDoubleMilliseconds(elapsed) / total : 1.0;
    w.Int(std::clamp(static_cast<int>(done * 100), 0, 99));
  }
  if (!task.continue_clip_id.empty()) {
    PutString(w, "continue_clip_id", task.continue_clip_id);
    if (task.continue_at.has_value()) {
      w.Key("continue_at");
      w.Double(*task.continue_at);
    }
  }
  const bool done = phase == Phase::kCompleted;
  if (task.action == Action::kLyrics) {
    PutNullableString(w, "title", done ? "Emulated Lyrics" : "");
    PutNullableString(
        w, "lyrics",
        done ? absl::StrCat("[Verse]\n", task.prompt, "\n[Chorus]\nTokenLab hums along\n") : "");
  } else {
    const bool streaming = !task.no_audio && phase != Phase::kPending && phase != Phase::kFailed;
    PutString(w, "clip_id", task.clip_id);
    PutNullableString(
        w, "audio_url",
        done && !task.no_audio ? absl::StrCat(base, "/audio/", task.clip_id, ".wav") : "");
    PutNullableString(w, "stream_audio_url",
                      streaming ? absl::StrCat(base, "/stream/", task.clip_id) : "");
    PutNullableString(w, "image_url",
                      phase == Phase::kPending || phase == Phase::kFailed
                          ? ""
                          : absl::StrCat(base, "/images/", task.clip_id, ".png"));
    PutNullableString(w, "video_url",
                      done ? absl::StrCat(base, kPrefix, "/videos/", task.clip_id, ".mp4") : "");
    PutString(w, "title", task.title.empty() ? "Emulated Song" : task.title);
    PutString(w, "tags", task.tags.empty() ? "emulated, electronic" : task.tags);
    PutNullableString(w, "lyrics",
                      done ? absl::StrCat("[Verse]\n", task.prompt, "\n[Outro]\nla la la\n") : "");
    w.Key("duration");
    if (done) {
      w.Double(core_->options.clip_seconds);
    } else {
      w.Null();
    }
  }
  if (phase == Phase::kFailed) {
    w.Key("error");
    w.StartObject();
    PutString(w, "code", task.error_code);
    PutString(w, "message", FailureMessage(task.error_code));
    w.EndObject();
    if (Cancelled(task)) {
      w.Key("cancelled");
      w.Bool(true);
      PutString(w, "cancellation_status", "cancelled");
    }
  } else {
    w.Key("error");
    w.Null();
  }
  // Reserved (and charged) at create; given back when the task fails or is cancelled.
  w.Key("billing");
  w.StartObject();
  PutString(w, "currency", "USD");
  PutString(w, "charged", kPriceText);
  PutString(w, "refunded", phase == Phase::kFailed ? kPriceText : "0");
  w.EndObject();
  w.EndObject();
}

void TokenlabContract::HandlePoll(const httplib::Request& req, httplib::Response* res,
                                  const std::string& id) {
  StatsRecorder& stats = *core_->stats;
  if (!Authorized(req, res)) return;
  stats.Add(&EmulatorStats::polls);
  const PollFaults faults = core_->faults->NextPoll();
  if (faults.slow) {
    stats.Add(&EmulatorStats::polls_slow);
    core_->Sleep(core_->faults->slow_delay());
  }
  if (faults.server_error) {
    stats.Add(&EmulatorStats::polls_server_error);
    SetJson(res, 500, ErrorEnvelope("internal_error", "Internal server error", "server_error"));
    return;
  }
  std::string body;
  std::string billing_id;
  bool malformed = faults.malformed;
  {
    absl::MutexLock lock(&mu_);
    auto it = tasks_.find(id);
    if (it == tasks_.end()) {
      stats.Add(&EmulatorStats::polls_not_found);
      SetJson(res, 404,
              ErrorEnvelope("task_not_found", absl::StrCat("No task ", id), "not_found_error"));
      return;
    }
    Task& task = it->second;
    if (task.malformed_polls_left > 0) {
      --task.malformed_polls_left;
      malformed = true;
    }
    body = TaskJson(task, core_->Now());
    billing_id = task.billing_transaction_id;
  }
  if (malformed) {
    stats.Add(&EmulatorStats::polls_malformed);
    body = Truncate(body);
  }
  res->set_header("X-Task-ID", id);
  res->set_header("X-Billing-Transaction-ID", billing_id);
  SetJson(res, 200, body);
}

void TokenlabContract::HandleModels(const httplib::Request& req, httplib::Response* res) {
  if (!Authorized(req, res)) return;
  const std::string purpose = req.get_param_value("recommended_for");
  rapidjson::StringBuffer buffer;
  Writer w(buffer);
  w.StartObject();
  PutString(w, "object", "list");
  w.Key("data");
  w.StartArray();
  if (purpose.empty() || purpose == "music") {
    w.StartObject();
    PutString(w, "id", kModel);
    PutString(w, "object", "model");
    PutString(w, "owned_by", "tokenlab");
    w.Key("created");
    w.Int64(1700000000);
    // CONTRACT-NOTES "TokenLab": the model's own contract lives under `lemondata`; lyric
    // generation is documented for this model here (seed 000: lyric-only flows need "a model
    // whose public contract documents lyric generation").
    w.Key("lemondata");
    w.StartObject();
    PutString(w, "category", "music");
    PutString(w, "pricing_unit", "per_task");
    w.Key("capability_flags");
    w.StartArray();
    for (const char* flag : {"async", "instrumental"}) w.String(flag);
    w.EndArray();
    w.Key("supported_operations");
    w.StartArray();
    for (const char* op : {"music", "lyrics", "continuation"}) w.String(op);
    w.EndArray();
    w.EndObject();
    w.EndObject();
  }
  w.EndArray();
  w.EndObject();
  SetJson(res, 200, Finish(buffer));
}

}  // namespace

std::unique_ptr<ProviderContract> NewTokenlabContract(const EmulatorCore* core) {
  return std::make_unique<TokenlabContract>(core);
}

}  // namespace music::emulator
