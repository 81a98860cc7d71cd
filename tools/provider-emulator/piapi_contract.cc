// PiAPI Udio `music-u` contract, as adapters/piapi/WIRE.md describes it (seed 003 and the PiAPI
// section of shared/seeds/CONTRACT-NOTES.md). WIRE.md "Emulator" lists the emulator's choices
// where the documents are silent (webhook timestamps, the error-10000 answer, usage records).
#include "tools/provider-emulator/piapi_contract.h"

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
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/ascii.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"

#include "tools/provider-emulator/documented_fields.h"

namespace music::emulator {
namespace {

using Writer = JsonWriter;
using rapidjson::Value;

// ---------------------------------------------------------------------------------------------
// Contract constants (WIRE.md).

constexpr absl::string_view kModel = "music-u";
constexpr absl::string_view kTaskType = "generate_music";
// CONTRACT-NOTES "PiAPI": "PiAPI also documents a `generate_lyrics` task (`input.prompt` ->
// `output.lyrics_pairs[{title, text}]`)".
constexpr absl::string_view kLyricsTaskType = "generate_lyrics";
constexpr absl::string_view kTaskPath = "/api/v1/task";
constexpr absl::string_view kClipModelName = "udio-32";
// Seed 003 "Unit Pricing": $0.05 per generation, in USD micros (the usage export).
constexpr int64_t kPriceMicros = 50000;
// `meta.usage.consume` per song, in PiAPI's own unit: CONTRACT-NOTES "PiAPI": "The unit of
// `meta.usage.consume` is not documented: do not book it as money". The emulator reports a
// figure that is plainly not dollars (an adapter booking it as USD charges $40,000).
constexpr int64_t kConsumeUnits = 40000;
constexpr char kUsageType[] = "point";
// Seed 003 "Song Extend": udio32 adds 32 seconds per extend call.
constexpr double kExtendSeconds = 32;
constexpr int kFreezeFailed = 10000;

// Where a task is on its timeline.
enum class Phase { kPending, kProcessing, kCompleted, kFailed };

// Capitalised for polls ("Completed", as the seed's enum), lower-case for webhooks ("completed",
// as the seed's example): CONTRACT-NOTES says both occur.
absl::string_view PhaseName(Phase phase, bool lower_case) {
  switch (phase) {
    case Phase::kPending:
      return lower_case ? "pending" : "Pending";
    case Phase::kProcessing:
      return lower_case ? "processing" : "Processing";
    case Phase::kCompleted:
      return lower_case ? "completed" : "Completed";
    case Phase::kFailed:
      return lower_case ? "failed" : "Failed";
  }
  return "Pending";
}

// ---------------------------------------------------------------------------------------------
// JSON helpers.

// The unified response with `data: null`: {"code": code, "data": null, "message": message}.
std::string ErrorEnvelope(int code, absl::string_view message) {
  rapidjson::StringBuffer buffer;
  Writer w(buffer);
  w.StartObject();
  w.Key("code");
  w.Int(code);
  w.Key("data");
  w.Null();
  PutString(w, "message", message);
  w.EndObject();
  return Finish(buffer);
}

// Reads request members, keeping the first validation error. Absent and null members read as
// absent; a present member of the wrong type is an error.
// The member `name` of `object` when both are JSON objects, else a null value (so a caller can
// chain lookups without checks; RejectUndocumented passes a non-object).
const Value& FindObject(const Value& object, const char* name) {
  static const Value kNull;
  if (!object.IsObject()) return kNull;
  auto it = object.FindMember(name);
  return it == object.MemberEnd() ? kNull : it->value;
}

class FieldReader {
 public:
  explicit FieldReader(const Value* object) : object_(object) {}

  std::string String(const char* name, bool required) {
    const Value* v = Find(name);
    if (v == nullptr || (v->IsString() && v->GetStringLength() == 0)) {
      if (required) Fail(absl::StrCat(name, " is required"));
      return "";
    }
    if (!v->IsString()) {
      Fail(absl::StrCat(name, " must be a string"));
      return "";
    }
    return std::string(v->GetString(), v->GetStringLength());
  }

  std::optional<double> Number(const char* name, bool required) {
    const Value* v = Find(name);
    if (v == nullptr) {
      if (required) Fail(absl::StrCat(name, " is required"));
      return std::nullopt;
    }
    if (!v->IsNumber()) {
      Fail(absl::StrCat(name, " must be a number"));
      return std::nullopt;
    }
    return v->GetDouble();
  }

  const Value* Object(const char* name, bool required) {
    const Value* v = Find(name);
    if (v == nullptr) {
      if (required) Fail(absl::StrCat(name, " is required"));
      return nullptr;
    }
    if (!v->IsObject()) {
      Fail(absl::StrCat(name, " must be an object"));
      return nullptr;
    }
    return v;
  }

  void Fail(absl::string_view message) {
    if (status_.ok()) status_ = absl::InvalidArgumentError(message);
  }
  const absl::Status& status() const { return status_; }

 private:
  const Value* Find(const char* name) const {
    if (object_ == nullptr) return nullptr;
    auto it = object_->FindMember(name);
    if (it == object_->MemberEnd() || it->value.IsNull()) return nullptr;
    return &it->value;
  }

  const Value* object_;
  absl::Status status_;
};

// ---------------------------------------------------------------------------------------------
// Tasks.

// A validated create request.
struct TaskSpec {
  std::string gpt_description_prompt, prompt, lyrics_type, negative_tags, title;
  // `input.lyrics`: in seed 003's extend example (`"lyrics": ""`) and CONTRACT-NOTES' input list.
  std::string lyrics;
  double seed = -1;
  std::string continue_song_id;
  double continue_at = 0;
  std::string service_mode = "public";
  std::string webhook_endpoint, webhook_secret;
  bool lyrics_task = false;  // task_type generate_lyrics
};

struct Task {
  std::string id;
  TaskSpec spec;
  absl::Time created;
  absl::Duration duration;
  bool extend = false;
  double clip_seconds = 0;
  // Failure: "" unless the task ends Failed; the data.error it then reports.
  bool fails = false;
  int error_code = 0;
  std::string error_message;
  bool no_audio = false;
  bool lose_callbacks = false;
  bool duplicate_callbacks = false;
  bool reorder_callbacks = false;
  int malformed_polls_left = 0;
  std::vector<std::string> clip_ids;  // two clips
};

// Offsets on the timeline: Processing from d/4; Completed at d, or Failed at d/2.
absl::Duration ProcessingAt(const Task& t) { return t.duration / 4; }
absl::Duration EndAt(const Task& t) { return t.fails ? t.duration / 2 : t.duration; }
Phase EndPhase(const Task& t) { return t.fails ? Phase::kFailed : Phase::kCompleted; }

Phase PhaseAt(const Task& task, absl::Time now) {
  const absl::Duration elapsed = now - task.created;
  if (elapsed >= EndAt(task)) return EndPhase(task);
  // A zero-length task is never seen pending after its end; a positive one starts pending.
  if (elapsed >= ProcessingAt(task) && ProcessingAt(task) > absl::ZeroDuration()) {
    return Phase::kProcessing;
  }
  return Phase::kPending;
}

std::string IsoTime(absl::Time t) {
  return absl::FormatTime("%Y-%m-%dT%H:%M:%E6SZ", t, absl::UTCTimeZone());
}

// ---------------------------------------------------------------------------------------------
// The contract.

class PiapiContract final : public ProviderContract {
 public:
  explicit PiapiContract(const EmulatorCore* core) : core_(core) {}

  void RegisterRoutes(httplib::Server* server) override {
    server->Post(
        std::string(kTaskPath),
        [this](const httplib::Request& req, httplib::Response& res) { HandleCreate(req, &res); });
    server->Get(
        R"(/api/v1/task/([^/?]+))",
        [this](const httplib::Request& req, httplib::Response& res) { HandleGet(req, &res); });
  }

  int64_t TaskCount() const override {
    absl::MutexLock lock(&mu_);
    return static_cast<int64_t>(tasks_.size());
  }

  std::string provider() const override { return "piapi"; }

  std::vector<UsageRecord> UsageRecords() const override {
    const absl::Time now = core_->Now();
    std::vector<UsageRecord> records;
    absl::MutexLock lock(&mu_);
    for (const auto& [id, task] : tasks_) {
      // PiAPI charges `consume` when a task completes; a failed task consumes 0 (its frozen
      // amount is released), so it has no record at all. Lyrics tasks have no published price.
      if (PhaseAt(task, now) != Phase::kCompleted || task.spec.lyrics_task) continue;
      UsageRecord record;
      record.provider = "piapi";
      record.usage_record_id = absl::StrCat("piapi-", id, "-consume");
      record.provider_task_id = id;
      record.model = std::string(kModel);
      record.endpoint = std::string(kTaskPath);
      record.kind = UsageKind::kCharge;
      record.amount_micros = kPriceMicros;
      record.currency = UsageCurrency::kUsd;
      record.time = task.created + EndAt(task);
      records.push_back(std::move(record));
    }
    std::sort(records.begin(), records.end(),
              [](const UsageRecord& a, const UsageRecord& b) {
                return a.time < b.time ||
                       (a.time == b.time && a.usage_record_id < b.usage_record_id);
              });
    return records;
  }

 private:
  bool Authorized(const httplib::Request& req, httplib::Response* res) {
    const std::string& key = core_->options.piapi_api_key;
    if (key.empty() || req.get_header_value("x-api-key") == key) return true;
    core_->stats->Add(&EmulatorStats::unauthorized);
    SetJson(res, 401, ErrorEnvelope(401, "Unauthorized: invalid or missing x-api-key"));
    return false;
  }

  void HandleCreate(const httplib::Request& req, httplib::Response* res);
  void HandleGet(const httplib::Request& req, httplib::Response* res);
  absl::StatusOr<TaskSpec> ParseCreate(const Value& body) const;
  std::string CreateTask(TaskSpec spec, const Directives& directives, const TaskFaults& faults);
  void ScheduleWebhooks(const Task& task);
  void SendWebhook(const std::string& task_id, Phase phase, int64_t timestamp);

  void WriteTaskData(Writer& w, const Task& task, Phase phase, bool lower_case) const;
  void WriteClip(Writer& w, const Task& task, size_t index, bool first) const;
  std::string TaskAnswer(const Task& task, Phase phase) const;

  const EmulatorCore* const core_;
  mutable absl::Mutex mu_;
  absl::flat_hash_map<std::string, Task> tasks_ ABSL_GUARDED_BY(mu_);
  absl::flat_hash_map<std::string, std::string> clip_owner_ ABSL_GUARDED_BY(mu_);  // clip -> task
};

absl::StatusOr<TaskSpec> PiapiContract::ParseCreate(const Value& body) const {
  // The members seed 003 documents (its schema, the examples and the extend example; and
  // CONTRACT-NOTES "PiAPI"): anything else is refused, as a strict provider would.
  for (absl::Status s : {
           RejectUndocumented(body, {"model", "task_type", "input", "config"}),
           RejectUndocumented(FindObject(body, "input"),
                              {"prompt", "negative_tags", "title", "gpt_description_prompt", "seed",
                               "lyrics_type", "lyrics", "continue_song_id", "continue_at"},
                              "input."),
           RejectUndocumented(FindObject(body, "config"), {"service_mode", "webhook_config"},
                              "config."),
           RejectUndocumented(FindObject(FindObject(body, "config"), "webhook_config"),
                              {"endpoint", "secret"}, "config.webhook_config."),
       }) {
    if (!s.ok()) return s;
  }
  FieldReader top(&body);
  const std::string model = top.String("model", /*required=*/true);
  const std::string task_type = top.String("task_type", /*required=*/true);
  const Value* input_object = top.Object("input", /*required=*/true);
  const Value* config_object = top.Object("config", /*required=*/false);
  if (!top.status().ok()) return top.status();
  if (model != kModel) return absl::InvalidArgumentError("model must be music-u");
  if (task_type != kTaskType && task_type != kLyricsTaskType) {
    return absl::InvalidArgumentError("task_type must be generate_music or generate_lyrics");
  }

  TaskSpec spec;
  FieldReader input(input_object);
  if (task_type == kLyricsTaskType) {
    spec.lyrics_task = true;
    spec.prompt = input.String("prompt", /*required=*/true);
    if (!input.status().ok()) return input.status();
    if (spec.prompt.empty()) return absl::InvalidArgumentError("input.prompt is required");
    FieldReader config(config_object);
    const std::string mode = config.String("service_mode", false);
    if (!mode.empty()) spec.service_mode = mode;
    if (!config.status().ok()) return config.status();
    return spec;
  }
  spec.gpt_description_prompt = input.String("gpt_description_prompt", false);
  spec.prompt = input.String("prompt", false);
  spec.lyrics = input.String("lyrics", false);
  spec.lyrics_type = input.String("lyrics_type", /*required=*/true);
  spec.negative_tags = input.String("negative_tags", false);
  spec.title = input.String("title", false);
  spec.seed = input.Number("seed", false).value_or(-1);
  spec.continue_song_id = input.String("continue_song_id", false);
  const std::optional<double> continue_at =
      input.Number("continue_at", /*required=*/!spec.continue_song_id.empty());
  if (!input.status().ok()) return input.status();
  const bool extend = !spec.continue_song_id.empty();
  if (spec.lyrics_type != "generate" && spec.lyrics_type != "user" &&
      spec.lyrics_type != "instrumental") {
    return absl::InvalidArgumentError("lyrics_type must be generate, user or instrumental");
  }
  // The words: seed 003 "Udio Full Lyrics" sends them in `prompt` ("generate a song from exact
  // prompt"); CONTRACT-NOTES lists `lyrics` as the input member. Either spelling is accepted.
  if (spec.lyrics_type == "user" && spec.prompt.empty() && spec.lyrics.empty()) {
    return absl::InvalidArgumentError(
        "prompt or lyrics (the words) is required for lyrics_type user");
  }
  // generate / instrumental make a song "from gpt-description-prompt" (seed 003 lyrics_type
  // enum), an extend too: seed 003's "Udio Song Extend Example" sends one with continue_at 0.
  if (spec.lyrics_type != "user" && spec.gpt_description_prompt.empty()) {
    return absl::InvalidArgumentError(
        extend ? "gpt_description_prompt is required for an extend with lyrics_type generate or "
                 "instrumental (seed 003 \"Udio Song Extend Example\")"
               : "gpt_description_prompt is required");
  }
  if (continue_at.has_value()) {
    if (!(*continue_at >= 0)) return absl::InvalidArgumentError("continue_at must be >= 0");
    spec.continue_at = *continue_at;
  }

  FieldReader config(config_object);
  const std::string mode = config.String("service_mode", false);
  if (!mode.empty()) spec.service_mode = mode;
  const Value* webhook = config.Object("webhook_config", false);
  if (!config.status().ok()) return config.status();
  FieldReader hook(webhook);
  spec.webhook_endpoint = hook.String("endpoint", false);
  spec.webhook_secret = hook.String("secret", false);
  if (!hook.status().ok()) return hook.status();
  if (!spec.webhook_endpoint.empty() && !SplitHttpUrl(spec.webhook_endpoint).ok()) {
    return absl::InvalidArgumentError("webhook_config.endpoint must be an http(s) URL");
  }
  if (extend) {
    absl::MutexLock lock(&mu_);
    if (!clip_owner_.contains(spec.continue_song_id)) {
      return absl::NotFoundError(
          absl::StrCat("continue_song_id not found: ", spec.continue_song_id));
    }
  }
  return spec;
}

void PiapiContract::HandleCreate(const httplib::Request& req, httplib::Response* res) {
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
    SetJson(res, 429, ErrorEnvelope(429, "too many requests, please retry later"));
    return;
  }
  if (faults.rejection == CreateRejection::kServerError) {
    stats.Add(&EmulatorStats::creates_rejected);
    stats.Add(&EmulatorStats::creates_server_error);
    SetJson(res, 500, ErrorEnvelope(500, "internal server error"));
    return;
  }

  rapidjson::Document doc;
  doc.Parse(req.body.data(), req.body.size());
  absl::StatusOr<TaskSpec> spec =
      absl::InvalidArgumentError("the request body is not a JSON object");
  if (!doc.HasParseError() && doc.IsObject()) spec = ParseCreate(doc);
  if (!spec.ok()) {
    const int code = absl::IsNotFound(spec.status()) ? 404 : 400;
    stats.Add(&EmulatorStats::creates_rejected);
    stats.Add(&EmulatorStats::creates_invalid);
    SetJson(res, code, ErrorEnvelope(code, spec.status().message()));
    return;
  }

  Directives directives;
  ParseDirectives(absl::StrCat(spec->gpt_description_prompt, " ", spec->prompt, " ", spec->lyrics,
                               " ", spec->title, " ", spec->negative_tags),
                  &directives);
  if (directives.create_error == "10000") {
    // CONTRACT-NOTES: a failed freeze answers error code 10000 with consume 0, and no task.
    stats.Add(&EmulatorStats::creates_rejected);
    rapidjson::StringBuffer buffer;
    Writer w(buffer);
    w.StartObject();
    w.Key("code");
    w.Int(500);
    w.Key("data");
    w.StartObject();
    PutString(w, "task_id", "");
    PutString(w, "model", kModel);
    PutString(w, "task_type", kTaskType);
    PutString(w, "status", "Failed");
    w.Key("meta");
    w.StartObject();
    w.Key("usage");
    w.StartObject();
    PutString(w, "type", kUsageType);
    w.Key("frozen");
    w.Int(0);
    w.Key("consume");
    w.Int(0);
    w.EndObject();
    w.Key("is_using_private_pool");
    w.Bool(false);
    w.EndObject();
    w.Key("error");
    w.StartObject();
    w.Key("code");
    w.Int(kFreezeFailed);
    PutString(w, "raw_message", "failed to freeze point");
    PutString(w, "message", "failed to freeze point");
    w.Key("detail");
    w.Null();
    w.EndObject();
    w.EndObject();
    PutString(w, "message", "failed to freeze point");
    w.EndObject();
    SetJson(res, 500, Finish(buffer));
    return;
  }

  const bool extend = !spec->continue_song_id.empty();
  const bool lyrics = spec->lyrics_task;
  const TaskFaults task_faults = core_->faults->NextTask();
  const std::string task_id = CreateTask(*std::move(spec), directives, task_faults);
  stats.Add(&EmulatorStats::creates_accepted);
  stats.Add(lyrics   ? &EmulatorStats::lyrics_creates
            : extend ? &EmulatorStats::extend_creates
                     : &EmulatorStats::generate_creates);

  // A slow answer comes after the task exists: a client that gives up has still created it.
  if (faults.slow || directives.slow_create) {
    stats.Add(&EmulatorStats::creates_slow);
    core_->Sleep(core_->faults->slow_delay());
  }
  std::string answer;
  {
    absl::MutexLock lock(&mu_);
    const Task& task = tasks_.at(task_id);
    answer = TaskAnswer(task, PhaseAt(task, core_->Now()));
  }
  if (faults.malformed || directives.malformed_create) {
    stats.Add(&EmulatorStats::creates_malformed);
    answer = Truncate(answer);
  }
  SetJson(res, 200, answer);
}

std::string PiapiContract::CreateTask(TaskSpec spec, const Directives& directives,
                                      const TaskFaults& faults) {
  Task task;
  task.id = RandomUuid();
  task.created = core_->Now();
  core_->RecordSubmission(spec.webhook_endpoint);
  task.duration = directives.duration.value_or(core_->options.task_duration);
  task.extend = !spec.continue_song_id.empty();
  task.clip_seconds = core_->options.clip_seconds;
  if (task.extend) {
    // The extension holds the source up to continue_at plus the 32 s udio32 adds.
    if (std::optional<ClipAudio> source = core_->clips->Find(spec.continue_song_id)) {
      const double base =
          spec.continue_at > 0 ? std::min(spec.continue_at, source->seconds) : source->seconds;
      task.clip_seconds = base + kExtendSeconds;
    } else {
      task.clip_seconds = core_->options.clip_seconds + kExtendSeconds;
    }
  }
  if (!directives.task_error.empty()) {
    task.fails = true;
    int code = 0;
    if (absl::SimpleAtoi(directives.task_error, &code) && code != 0) {
      task.error_code = code;
      task.error_message = code == kFreezeFailed ? "failed to freeze point"
                                                 : absl::StrCat("task failed with code ", code);
    } else {
      task.error_code = 500;
      task.error_message = absl::StrCat("generation failed: ", directives.task_error);
    }
  } else if (!directives.fail_status.empty() || faults.generate_failed) {
    task.fails = true;
    task.error_code = 500;
    task.error_message = "generation failed";
  } else if (faults.sensitive_word) {
    task.fails = true;
    task.error_code = 400;
    task.error_message = "the prompt contains sensitive content";
  }
  task.no_audio = faults.no_audio || directives.no_audio;
  task.lose_callbacks = faults.lose_callbacks || directives.lose_callbacks;
  task.duplicate_callbacks = faults.duplicate_callbacks || directives.duplicate_callbacks;
  task.reorder_callbacks = faults.reorder_callbacks || directives.reorder_callbacks;
  task.malformed_polls_left = directives.malformed_polls;
  if (!spec.lyrics_task) task.clip_ids = {RandomUuid(), RandomUuid()};
  task.spec = std::move(spec);

  // Streams from Processing, downloads at Completed; never for failed or no-audio tasks.
  const bool audio = !task.fails && !task.no_audio;
  for (const std::string& clip_id : task.clip_ids) {
    ClipAudio clip;
    clip.seconds = task.clip_seconds;
    clip.stream_ready_at = audio ? task.created + ProcessingAt(task) : absl::InfiniteFuture();
    clip.audio_ready_at = audio ? task.created + EndAt(task) : absl::InfiniteFuture();
    core_->clips->Put(clip_id, clip);
  }

  std::string id = task.id;
  absl::MutexLock lock(&mu_);
  for (const std::string& clip : task.clip_ids) clip_owner_[clip] = id;
  ScheduleWebhooks(task);
  tasks_.emplace(id, std::move(task));
  return id;
}

void PiapiContract::ScheduleWebhooks(const Task& task) {
  if (task.spec.webhook_endpoint.empty()) return;
  // CONTRACT-NOTES: on create, on progress and on completion or failure.
  struct Delivery {
    absl::Duration at;
    Phase phase;
  };
  std::vector<Delivery> deliveries = {{absl::ZeroDuration(), Phase::kPending},
                                      {ProcessingAt(task), Phase::kProcessing},
                                      {EndAt(task), EndPhase(task)}};
  if (task.lose_callbacks) {
    core_->stats->Add(&EmulatorStats::callbacks_dropped, static_cast<int64_t>(deliveries.size()));
    return;
  }
  // Each delivery's timestamp is fixed here (unix milliseconds of its moment, + its index so two
  // stages of a zero-length task still differ): a duplicate resends the very same timestamp.
  std::vector<int64_t> timestamps;
  for (size_t i = 0; i < deliveries.size(); ++i) {
    timestamps.push_back(absl::ToUnixMillis(task.created + deliveries[i].at) +
                         static_cast<int64_t>(i));
  }
  std::vector<size_t> order = {0, 1, 2};
  if (task.reorder_callbacks) {
    // Everything at the end, newest first: completion before progress before create.
    std::reverse(order.begin(), order.end());
    for (Delivery& d : deliveries) d.at = EndAt(task);
  }
  const int copies = task.duplicate_callbacks ? 2 : 1;
  for (size_t i : order) {
    for (int copy = 0; copy < copies; ++copy) {
      // The scheduler and sender stop before the contract is destroyed, so `this` outlives it.
      core_->scheduler->ScheduleAt(task.created + deliveries[i].at,
                                   [this, id = task.id, phase = deliveries[i].phase,
                                    ts = timestamps[i]] { SendWebhook(id, phase, ts); });
    }
  }
}

void PiapiContract::SendWebhook(const std::string& task_id, Phase phase, int64_t timestamp) {
  CallbackDelivery delivery;
  std::string secret;
  {
    absl::MutexLock lock(&mu_);
    auto it = tasks_.find(task_id);
    if (it == tasks_.end()) return;
    const Task& task = it->second;
    delivery.key = task_id;
    delivery.url = task.spec.webhook_endpoint;
    secret = task.spec.webhook_secret;
    rapidjson::StringBuffer buffer;
    Writer w(buffer);
    w.StartObject();
    w.Key("timestamp");
    w.Int64(timestamp);
    w.Key("data");
    WriteTaskData(w, task, phase, /*lower_case=*/true);
    w.EndObject();
    delivery.body = Finish(buffer);
  }
  if (!secret.empty()) {
    // CONTRACT-NOTES: the secret verbatim in x-webhook-secret (not a signature).
    delivery.headers = [secret] {
      return std::vector<std::pair<std::string, std::string>>{{"x-webhook-secret", secret}};
    };
  }
  core_->callbacks->Send(std::move(delivery));
}

void PiapiContract::HandleGet(const httplib::Request& req, httplib::Response* res) {
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
    SetJson(res, 500, ErrorEnvelope(500, "internal server error"));
    return;
  }
  const std::string task_id = req.matches[1];
  std::string body;
  bool malformed = faults.malformed;
  {
    absl::MutexLock lock(&mu_);
    auto it = tasks_.find(task_id);
    if (it == tasks_.end()) {
      stats.Add(&EmulatorStats::polls_not_found);
      SetJson(res, 404, ErrorEnvelope(404, "task not found"));
      return;
    }
    Task& task = it->second;
    if (task.malformed_polls_left > 0) {
      --task.malformed_polls_left;
      malformed = true;
    }
    body = TaskAnswer(task, PhaseAt(task, core_->Now()));
  }
  if (malformed) {
    stats.Add(&EmulatorStats::polls_malformed);
    body = Truncate(body);
  }
  SetJson(res, 200, body);
}

std::string PiapiContract::TaskAnswer(const Task& task, Phase phase) const {
  rapidjson::StringBuffer buffer;
  Writer w(buffer);
  w.StartObject();
  w.Key("code");
  w.Int(200);
  w.Key("data");
  WriteTaskData(w, task, phase, /*lower_case=*/false);
  PutString(w, "message", "success");
  w.EndObject();
  return Finish(buffer);
}

void PiapiContract::WriteClip(Writer& w, const Task& task, size_t index, bool first) const {
  const std::string& id = task.clip_ids[index];
  const std::string& base = core_->public_base_url;
  const std::string audio = task.no_audio ? "" : absl::StrCat(base, "/audio/", id, ".wav");
  const std::string image = absl::StrCat(base, "/images/", id, ".png");
  w.StartObject();
  // Seed 003's example leaves `id` empty (the map key is the id); the emulator does so for the
  // second clip so both readings are exercised.
  PutString(w, "id", first ? id : "");
  PutString(w, "video_url", "");
  PutString(w, "audio_url", audio);
  PutString(w, "image_url", image);
  PutString(w, "image_large_url", image);
  w.Key("is_video_pending");
  w.Bool(false);
  PutString(w, "major_model_version", "v1.5");
  PutString(w, "model_name", kClipModelName);
  w.Key("metadata");
  w.StartObject();
  PutString(w, "tags", task.spec.negative_tags.empty() ? "emulated, udio" : "emulated");
  PutString(w, "prompt",
            task.spec.lyrics_type != "user" ? ""
            : task.spec.prompt.empty()      ? task.spec.lyrics
                                            : task.spec.prompt);
  PutString(w, "gpt_description_prompt", task.spec.gpt_description_prompt);
  PutString(w, "audio_prompt_id", "");
  w.Key("history");
  w.Null();
  w.Key("concat_history");
  w.Null();
  PutString(w, "type", task.extend ? "extend" : "gen");
  w.Key("duration");
  w.Double(task.clip_seconds);
  w.Key("refund_credits");
  w.Bool(false);
  w.Key("stream");
  w.Bool(true);
  PutString(w, "error_type", "");
  PutString(w, "error_message", "");
  w.EndObject();
  PutString(w, "created_at", IsoTime(task.created));
  PutString(w, "status", "complete");
  PutString(w, "title", task.spec.title.empty() ? "Emulated Udio Song" : task.spec.title);
  w.EndObject();
}

void PiapiContract::WriteTaskData(Writer& w, const Task& task, Phase phase, bool lower_case) const {
  w.StartObject();
  PutString(w, "task_id", task.id);
  PutString(w, "model", kModel);
  PutString(w, "task_type", task.spec.lyrics_task ? kLyricsTaskType : kTaskType);
  PutString(w, "status", PhaseName(phase, lower_case));
  w.Key("config");
  w.StartObject();
  PutString(w, "service_mode", task.spec.service_mode);
  w.Key("webhook_config");
  w.StartObject();
  PutString(w, "endpoint", task.spec.webhook_endpoint);
  PutString(w, "secret", "");  // never echoed back
  w.EndObject();
  w.EndObject();
  if (task.spec.lyrics_task) {
    w.Key("input");
    w.StartObject();
    PutString(w, "prompt", task.spec.prompt);
    w.EndObject();
    w.Key("output");
    if (phase == Phase::kCompleted) {
      w.StartObject();
      w.Key("lyrics_pairs");
      w.StartArray();
      for (int i = 1; i <= 2; ++i) {
        w.StartObject();
        PutString(w, "title", absl::StrCat("Emulated Lyrics ", i));
        PutString(w, "text", absl::StrCat("[Verse]\n", task.spec.prompt,
                                          "\n[Chorus]\nUdio sings along, take ", i, "\n"));
        w.EndObject();
      }
      w.EndArray();
      w.EndObject();
    } else {
      w.Null();
    }
  } else {
    w.Key("input");
    w.StartObject();
    PutString(w, "gpt_description_prompt", task.spec.gpt_description_prompt);
    PutString(w, "prompt", task.spec.prompt);
    if (!task.spec.lyrics.empty()) PutString(w, "lyrics", task.spec.lyrics);
    PutString(w, "lyrics_type", task.spec.lyrics_type);
    PutString(w, "negative_tags", task.spec.negative_tags);
    w.Key("seed");
    w.Double(task.spec.seed);
    if (!task.spec.title.empty()) PutString(w, "title", task.spec.title);
    if (task.extend) {
      PutString(w, "continue_song_id", task.spec.continue_song_id);
      w.Key("continue_at");
      w.Double(task.spec.continue_at);
    }
    w.EndObject();
    w.Key("output");
    if (phase == Phase::kPending || phase == Phase::kFailed) {
      w.Null();
    } else {
      // Processing: the clip ids are known, their objects still empty (seed 003 shows `{}`).
      w.StartObject();
      w.Key("clips");
      w.StartObject();
      for (size_t i = 0; i < task.clip_ids.size(); ++i) {
        const std::string& id = task.clip_ids[i];
        w.Key(id.data(), static_cast<rapidjson::SizeType>(id.size()));
        if (phase == Phase::kCompleted) {
          WriteClip(w, task, i, /*first=*/i == 0);
        } else {
          w.StartObject();
          w.EndObject();
        }
      }
      w.EndObject();
      w.EndObject();
    }
  }
  w.Key("meta");
  w.StartObject();
  PutString(w, "created_at", IsoTime(task.created));
  PutString(w, "started_at",
            phase == Phase::kPending ? "" : IsoTime(task.created + ProcessingAt(task)));
  const bool ended = phase == Phase::kCompleted || phase == Phase::kFailed;
  PutString(w, "ended_at", ended ? IsoTime(task.created + EndAt(task)) : "");
  // The price is frozen while the task runs and consumed at completion; a failure consumes 0.
  w.Key("usage");
  w.StartObject();
  PutString(w, "type", kUsageType);
  w.Key("frozen");
  w.Int64(ended ? 0 : kConsumeUnits);
  w.Key("consume");
  w.Int64(phase == Phase::kCompleted ? kConsumeUnits : 0);
  w.EndObject();
  w.Key("is_using_private_pool");
  w.Bool(false);
  w.EndObject();
  w.Key("detail");
  w.Null();
  w.Key("logs");
  w.StartArray();
  w.EndArray();
  w.Key("error");
  w.StartObject();
  const bool failed = phase == Phase::kFailed;
  w.Key("code");
  w.Int(failed ? task.error_code : 0);
  PutString(w, "raw_message", failed ? task.error_message : "");
  PutString(w, "message", failed ? task.error_message : "");
  w.Key("detail");
  w.Null();
  w.EndObject();
  w.EndObject();
}

}  // namespace

std::unique_ptr<ProviderContract> NewPiapiContract(const EmulatorCore* core) {
  return std::make_unique<PiapiContract>(core);
}

}  // namespace music::emulator
