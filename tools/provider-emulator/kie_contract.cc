// kie.ai Suno API contract, as adapters/kie/WIRE.md describes it (seed 004 and the kie.ai section
// of shared/seeds/CONTRACT-NOTES.md). README.md in this directory lists the emulator's choices
// where the documents are silent.
#include "tools/provider-emulator/kie_contract.h"

#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <rapidjson/document.h>
#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <initializer_list>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_map.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/escaping.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "absl/types/span.h"
#include "tools/provider-emulator/usage_record.h"
#include "tools/provider-emulator/rate_limit.h"
#include "tools/provider-emulator/kie_operations_contract.h"
#include "tools/provider-emulator/documented_fields.h"
#include "tools/provider-emulator/kie_upload_contract.h"

namespace music::emulator {
namespace {

using Writer = JsonWriter;
using rapidjson::Value;

// ---------------------------------------------------------------------------------------------
// Contract constants (WIRE.md).

struct ModelInfo {
  absl::string_view model;       // request `model`
  absl::string_view model_name;  // answer `modelName` / `type`
  size_t prompt_max;             // custom-mode prompt (lyrics) limit
  size_t style_max;
};

constexpr ModelInfo kModels[] = {
    {"V3_5", "chirp-v3-5", 3000, 200},  {"V4", "chirp-v4", 3000, 200},
    {"V4_5", "chirp-v4-5", 5000, 1000}, {"V4_5PLUS", "chirp-v4-5-plus", 5000, 1000},
    {"V4_5ALL", "chirp-v4-5-all", 5000, 1000},  // CONTRACT-NOTES.md (kie.ai): no V5_5
    {"V5", "chirp-v5", 5000, 1000},
};
constexpr size_t kSimplePromptMax = 500;
constexpr size_t kTitleMax = 80;
constexpr size_t kLyricsPromptMax = 200;

constexpr absl::string_view kPending = "PENDING";
constexpr absl::string_view kTextSuccess = "TEXT_SUCCESS";
constexpr absl::string_view kFirstSuccess = "FIRST_SUCCESS";
constexpr absl::string_view kSuccess = "SUCCESS";
constexpr absl::string_view kCreateTaskFailed = "CREATE_TASK_FAILED";
constexpr absl::string_view kGenerateAudioFailed = "GENERATE_AUDIO_FAILED";
constexpr absl::string_view kGenerateLyricsFailed = "GENERATE_LYRICS_FAILED";
constexpr absl::string_view kCallbackException = "CALLBACK_EXCEPTION";
constexpr absl::string_view kSensitiveWordError = "SENSITIVE_WORD_ERROR";

const ModelInfo* FindModel(absl::string_view model) {
  for (const ModelInfo& info : kModels) {
    if (info.model == model) return &info;
  }
  return nullptr;
}

// The errorCode / errorMessage of a failure status, also the code and msg of its error callback.
std::pair<int, absl::string_view> FailureCode(absl::string_view status) {
  if (status == kSensitiveWordError) return {400, "The content contains sensitive words."};
  if (status == kGenerateAudioFailed) return {501, "Audio generation failed"};
  if (status == kGenerateLyricsFailed) return {501, "Lyrics generation failed"};
  if (status == kCreateTaskFailed) return {500, "Failed to create task"};
  return {500, "Callback exception"};  // CALLBACK_EXCEPTION
}

// ---------------------------------------------------------------------------------------------
// JSON helpers.

// {"code": code, "msg": msg, "data": null}
std::string Envelope(int code, absl::string_view msg) {
  rapidjson::StringBuffer buffer;
  Writer w(buffer);
  w.StartObject();
  w.Key("code");
  w.Int(code);
  PutString(w, "msg", msg);
  w.Key("data");
  w.Null();
  w.EndObject();
  return Finish(buffer);
}

std::string Serialize(const Value& value) {
  rapidjson::StringBuffer buffer;
  Writer w(buffer);
  value.Accept(w);
  return Finish(buffer);
}

// Reads request members, keeping the first validation error. Absent and null members read as
// absent; a present member of the wrong type is an error.
class FieldReader {
 public:
  explicit FieldReader(const Value& object) : object_(object) {}

  // "" when absent. `required`: absent or "" is an error. `max_chars` > 0: a longer value is one.
  std::string String(const char* name, bool required, size_t max_chars = 0) {
    const Value* v = Find(name);
    if (v == nullptr || (v->IsString() && v->GetStringLength() == 0)) {
      if (required) Fail(absl::StrCat(name, " cannot be empty"));
      return "";
    }
    if (!v->IsString()) {
      Fail(absl::StrCat(name, " must be a string"));
      return "";
    }
    std::string value(v->GetString(), v->GetStringLength());
    if (max_chars > 0 && Utf8Length(value) > max_chars) {
      Fail(absl::StrCat(name, " exceeds the maximum length of ", max_chars, " characters"));
    }
    return value;
  }

  bool Bool(const char* name, bool required) {
    const Value* v = Find(name);
    if (v == nullptr) {
      if (required) Fail(absl::StrCat(name, " is required"));
      return false;
    }
    if (!v->IsBool()) {
      Fail(absl::StrCat(name, " must be a boolean"));
      return false;
    }
    return v->GetBool();
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

  void Fail(absl::string_view message) {
    if (status_.ok()) status_ = absl::InvalidArgumentError(message);
  }
  const absl::Status& status() const { return status_; }

 private:
  const Value* Find(const char* name) const {
    auto it = object_.FindMember(name);
    if (it == object_.MemberEnd() || it->value.IsNull()) return nullptr;
    return &it->value;
  }

  const Value& object_;
  absl::Status status_;
};

std::string ReadCallbackUrl(FieldReader& reader) {
  std::string url = reader.String("callBackUrl", /*required=*/true);
  if (!url.empty() && !SplitHttpUrl(url).ok()) {
    reader.Fail("callBackUrl must be an http(s) URL");
  }
  return url;
}

const ModelInfo* ReadModel(FieldReader& reader) {
  const std::string model = reader.String("model", /*required=*/true);
  if (model.empty()) return nullptr;
  const ModelInfo* info = FindModel(model);
  if (info == nullptr) {
    reader.Fail(absl::StrCat("model must be one of V3_5, V4, V4_5, V4_5PLUS, V4_5ALL, V5; got ", model));
  }
  return info;
}

// CONTRACT-NOTES.md kie.ai "Generate (and extend) optional fields": `negativeTags`;
// `vocalGender` `m` | `f` (custom mode only); `styleWeight`, `weirdnessConstraint`, `audioWeight`,
// each a number in [0, 1] with at most 2 decimals; `personaId` (custom mode only). On extend the
// emulator reads `defaultParamFlag: true` (the request's own prompt, style and title) as custom
// mode: with false the source clip's parameters are reused (README.md in this directory).
void ReadGenerateOptions(FieldReader& reader, bool custom) {
  reader.String("negativeTags", /*required=*/false);
  const std::string vocal_gender = reader.String("vocalGender", /*required=*/false);
  if (!vocal_gender.empty() && vocal_gender != "m" && vocal_gender != "f") {
    reader.Fail(absl::StrCat("vocalGender must be m or f; got ", vocal_gender));
  }
  const std::string persona_id = reader.String("personaId", /*required=*/false);
  if (!custom && !vocal_gender.empty()) reader.Fail("vocalGender is only for custom mode");
  if (!custom && !persona_id.empty()) reader.Fail("personaId is only for custom mode");
  for (const char* name : {"styleWeight", "weirdnessConstraint", "audioWeight"}) {
    const std::optional<double> value = reader.Number(name, /*required=*/false);
    if (!value.has_value()) continue;
    if (!(*value >= 0 && *value <= 1)) {
      reader.Fail(absl::StrCat(name, " must be between 0 and 1"));
    } else if (const double cents = *value * 100; std::fabs(cents - std::round(cents)) > 1e-6) {
      // JSON 0.29 parses to 0.28999...: a third decimal is an offset far above that error.
      reader.Fail(absl::StrCat(name, " allows at most 2 decimal places"));
    }
  }
}

// ---------------------------------------------------------------------------------------------
// Tasks.

enum class Kind { kMusic, kLyrics };
enum class Endpoint {
  kGenerate,
  kExtend,
  kLyrics,
  // The operations on uploaded audio (CONTRACT-NOTES.md "From uploaded audio").
  kUploadCover,
  kUploadExtend,
  kAddInstrumental,
  kAddVocals,
};
enum class CallbackType { kNone, kText, kFirst, kComplete, kError };

// The members CONTRACT-NOTES.md "kie.ai" documents for each create route; the emulator refuses any
// other (documented_fields.h). Generate: the seed's fields plus "Generate (and extend) optional
// fields: negativeTags; vocalGender ...; styleWeight, weirdnessConstraint, audioWeight ...;
// personaId"; upload-cover: "fields of generate plus uploadUrl"; upload-extend, add-instrumental,
// add-vocals: the lists under "From uploaded audio"; lyrics: "{prompt, callBackUrl}".
absl::Span<const absl::string_view> DocumentedMembers(Endpoint endpoint) {
  static constexpr absl::string_view kGenerate[] = {
      "prompt",       "customMode",  "instrumental",        "model",       "callBackUrl",
      "style",        "title",       "negativeTags",        "vocalGender", "styleWeight",
      "weirdnessConstraint", "audioWeight", "personaId"};
  static constexpr absl::string_view kExtend[] = {
      "audioId",     "defaultParamFlag", "prompt",      "style",       "title",
      "continueAt",  "model",            "callBackUrl", "negativeTags", "vocalGender",
      "styleWeight", "weirdnessConstraint", "audioWeight", "personaId"};
  static constexpr absl::string_view kLyrics[] = {"prompt", "callBackUrl"};
  static constexpr absl::string_view kUploadCover[] = {
      "uploadUrl",   "prompt",      "customMode",  "instrumental",        "model",
      "callBackUrl", "style",       "title",       "negativeTags",        "vocalGender",
      "styleWeight", "weirdnessConstraint", "audioWeight", "personaId"};
  static constexpr absl::string_view kUploadExtend[] = {
      "uploadUrl",   "defaultParamFlag", "continueAt",  "prompt",       "style",
      "title",       "model",            "callBackUrl", "negativeTags", "vocalGender",
      "styleWeight", "weirdnessConstraint", "audioWeight", "personaId"};
  static constexpr absl::string_view kAddInstrumental[] = {
      "uploadUrl", "title", "tags", "negativeTags", "model", "callBackUrl"};
  static constexpr absl::string_view kAddVocals[] = {
      "uploadUrl", "prompt", "style", "title", "negativeTags", "model", "callBackUrl"};
  switch (endpoint) {
    case Endpoint::kGenerate:
      return kGenerate;
    case Endpoint::kExtend:
      return kExtend;
    case Endpoint::kLyrics:
      return kLyrics;
    case Endpoint::kUploadCover:
      return kUploadCover;
    case Endpoint::kUploadExtend:
      return kUploadExtend;
    case Endpoint::kAddInstrumental:
      return kAddInstrumental;
    case Endpoint::kAddVocals:
      return kAddVocals;
  }
  return {};
}

// One point on a task's timeline: from `at` after creation the task reads `status`.
struct Step {
  absl::Duration at;
  absl::string_view status;
  CallbackType callback = CallbackType::kNone;  // sent when the step is reached
  int ready_clips = -1;                         // clips with audio; -1: `response` is null
};

// A validated create request.
struct TaskSpec {
  Kind kind = Kind::kMusic;
  std::string operation_type = "generate";
  std::string parent_music_id;
  const ModelInfo* model = nullptr;
  std::string prompt, style, title;
  std::string callback_url;
  std::string directive_text;  // the request's own free text, scanned for [emu:...]
};

struct Task {
  std::string id;
  Kind kind = Kind::kMusic;
  std::string operation_type;
  std::string parent_music_id;
  std::string param;  // the request body, as a JSON string
  std::string model;
  std::string model_name;
  std::string prompt, style, title, tags;
  std::string callback_url;
  absl::Time created;
  std::vector<Step> plan;
  std::string fail_status;  // "" unless the task ends in a failure
  // A documented errorCode (400 / 408 / 413, CONTRACT-NOTES) from `task_error=`; 0: the status's.
  int error_code = 0;
  bool no_audio = false;
  bool lose_callbacks = false;
  bool duplicate_callbacks = false;
  bool reorder_callbacks = false;
  int malformed_polls_left = 0;
  std::vector<std::string> clip_ids;                        // music: two clips
  std::vector<std::pair<std::string, std::string>> lyrics;  // lyrics: (title, text) variants
};

// CONTRACT-NOTES "kie.ai": record-info `errorCode` "400 copyrighted lyrics, 408 timeout, 413 audio
// matches an existing work"; the same codes are callback `code` values.
absl::string_view DocumentedErrorMessage(int code) {
  switch (code) {
    case 400:
      return "The lyrics contain copyrighted material.";
    case 408:
      return "Generation timed out.";
    case 413:
      return "The uploaded audio matches an existing work.";
    default:
      return "";
  }
}

// The errorCode / errorMessage (and error callback code / msg) of a failed task.
std::pair<int, absl::string_view> TaskFailure(const Task& task) {
  if (task.error_code != 0) return {task.error_code, DocumentedErrorMessage(task.error_code)};
  return FailureCode(task.fail_status);
}

std::vector<Step> BuildPlan(Kind kind, absl::string_view fail, absl::Duration d) {
  const absl::Duration zero = absl::ZeroDuration();
  if (fail == kCreateTaskFailed) return {{zero, kCreateTaskFailed, CallbackType::kError}};
  if (kind == Kind::kLyrics) {
    if (fail.empty()) return {{zero, kPending}, {d, kSuccess, CallbackType::kComplete, 2}};
    const CallbackType end =
        fail == kCallbackException ? CallbackType::kNone : CallbackType::kError;
    return {{zero, kPending}, {d, fail, end}};
  }
  const absl::Duration text = d / 4;
  const absl::Duration first = d / 2;
  if (fail == kSensitiveWordError) return {{zero, kPending}, {text, fail, CallbackType::kError}};
  if (fail == kGenerateAudioFailed) {
    return {{zero, kPending},
            {text, kTextSuccess, CallbackType::kText, 0},
            {first, fail, CallbackType::kError}};
  }
  std::vector<Step> plan = {{zero, kPending},
                            {text, kTextSuccess, CallbackType::kText, 0},
                            {first, kFirstSuccess, CallbackType::kFirst, 1},
                            {d, kSuccess, CallbackType::kComplete, 2}};
  if (fail == kCallbackException) plan.back() = {d, kCallbackException, CallbackType::kNone, 2};
  return plan;
}

// A `fail=` directive as a status of this kind of task; "" when not a failure status.
std::string NormalizeFailStatus(absl::string_view fail, Kind kind) {
  if (fail == kGenerateAudioFailed || fail == kGenerateLyricsFailed) {
    return std::string(kind == Kind::kMusic ? kGenerateAudioFailed : kGenerateLyricsFailed);
  }
  if (fail == kCreateTaskFailed || fail == kSensitiveWordError || fail == kCallbackException) {
    return std::string(fail);
  }
  return "";
}

const Step& CurrentStep(const Task& task, absl::Time now) {
  const absl::Duration elapsed = now - task.created;
  size_t index = 0;
  for (size_t i = 0; i < task.plan.size(); ++i) {
    if (task.plan[i].at <= elapsed) index = i;
  }
  return task.plan[index];
}

absl::Time FirstTimeWithClips(const Task& task, int clips) {
  for (const Step& step : task.plan) {
    if (step.ready_clips >= clips) return task.created + step.at;
  }
  return absl::InfiniteFuture();
}

std::string KieSignatureImpl(absl::string_view key, absl::string_view task_id,
                             absl::string_view timestamp) {
  const std::string message = absl::StrCat(task_id, ".", timestamp);
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int length = 0;
  if (HMAC(EVP_sha256(), key.data(), static_cast<int>(key.size()),
           reinterpret_cast<const unsigned char*>(message.data()), message.size(), digest,
           &length) == nullptr) {
    return "";
  }
  return absl::Base64Escape(
      absl::string_view(reinterpret_cast<const char*>(digest), static_cast<size_t>(length)));
}

// ---------------------------------------------------------------------------------------------
// The contract.

class KieContract : public ProviderContract {
 public:
  explicit KieContract(const EmulatorCore* core) : core_(core) {
    // The clip operations (kie_operations_contract.cc) work on this contract's clips.
    KieOperationHooks hooks;
    hooks.find_clip = [this](const std::string& task_id,
                             const std::string& audio_id) -> std::optional<KieClipInfo> {
      absl::MutexLock lock(&mu_);
      auto owner = clip_owner_.find(audio_id);
      if (owner == clip_owner_.end() || owner->second != task_id) return std::nullopt;
      auto task = tasks_.find(task_id);
      if (task == tasks_.end()) return std::nullopt;
      return KieClipInfo{task->second.prompt};
    };
    hooks.authorized = [this](const httplib::Request& req, httplib::Response* res) {
      return Authorized(req, res);
    };
    operations_ = NewKieOperations(core_, std::move(hooks));
  }

  void RegisterRoutes(httplib::Server* server) override {
    server->Post("/api/v1/generate", [this](const httplib::Request& req, httplib::Response& res) {
      HandleCreate(req, &res, Endpoint::kGenerate);
    });
    server->Post("/api/v1/generate/extend",
                 [this](const httplib::Request& req, httplib::Response& res) {
                   HandleCreate(req, &res, Endpoint::kExtend);
                 });
    server->Post("/api/v1/lyrics", [this](const httplib::Request& req, httplib::Response& res) {
      HandleCreate(req, &res, Endpoint::kLyrics);
    });
    const std::pair<const char*, Endpoint> audio_operations[] = {
        {"/api/v1/generate/upload-cover", Endpoint::kUploadCover},
        {"/api/v1/generate/upload-extend", Endpoint::kUploadExtend},
        {"/api/v1/generate/add-instrumental", Endpoint::kAddInstrumental},
        {"/api/v1/generate/add-vocals", Endpoint::kAddVocals},
    };
    for (const auto& [path, endpoint] : audio_operations) {
      server->Post(path, [this, endpoint = endpoint](const httplib::Request& req,
                                                     httplib::Response& res) {
        HandleCreate(req, &res, endpoint);
      });
    }
    RegisterKieUploadRoutes(server, core_, &uploads_);
    server->Get("/api/v1/generate/record-info",
                [this](const httplib::Request& req, httplib::Response& res) {
                  HandleRecordInfo(req, &res, Kind::kMusic);
                });
    server->Get("/api/v1/lyrics/record-info",
                [this](const httplib::Request& req, httplib::Response& res) {
                  HandleRecordInfo(req, &res, Kind::kLyrics);
                });
    operations_->RegisterRoutes(server);
  }

  std::string provider() const override { return "kie"; }

  int64_t TaskCount() const override {
    absl::MutexLock lock(&mu_);
    return static_cast<int64_t>(tasks_.size());
  }

  // kie.ai bills credits per generation: one charge of options.kie_price_micros for every task
  // that has reached SUCCESS, at its success time (milliseconds, as kie.ai's createTime); failed
  // tasks cost nothing.
  std::vector<UsageRecord> UsageRecords() const override {
    const absl::Time now = core_->Now();
    std::vector<UsageRecord> records;
    absl::MutexLock lock(&mu_);
    for (const auto& [id, task] : tasks_) {
      if (task.plan.empty() || task.plan.back().status != kSuccess) continue;
      const absl::Time done = task.created + task.plan.back().at;
      if (done > now) continue;
      UsageRecord r;
      r.provider = "kie";
      r.provider_task_id = id;
      r.model = task.model;
      r.endpoint = task.operation_type;
      r.kind = UsageKind::kCharge;
      r.amount_micros = core_->options.kie_price_micros;
      r.currency = UsageCurrency::kCredits;
      r.time = absl::FromUnixMillis(absl::ToUnixMillis(done));
      r.usage_record_id = UsageRecordIdOf(r);
      records.push_back(std::move(r));
    }
    return records;
  }

 private:
  bool Authorized(const httplib::Request& req, httplib::Response* res) {
    const std::string& key = core_->options.kie_api_key;
    if (!core_->faults->kie_key_refused() &&
        (key.empty() || req.get_header_value("Authorization") == absl::StrCat("Bearer ", key))) {
      return true;
    }
    core_->stats->Add(&EmulatorStats::unauthorized);
    SetJson(res, 401, Envelope(401, "You do not have access permissions"));
    return false;
  }

  void HandleCreate(const httplib::Request& req, httplib::Response* res, Endpoint endpoint);
  // The account limit (EmulatorOptions::kie_rate_limits): true, with the answer set, when the
  // create is refused.
  bool RefusedByAccountLimit(httplib::Response* res, Endpoint endpoint);
  // The injected 402 (FaultConfig::kie_402_count): true, with the answer set, when it applies.
  bool OutOfCredits(httplib::Response* res, Endpoint endpoint);
  void HandleRecordInfo(const httplib::Request& req, httplib::Response* res, Kind kind);

  absl::StatusOr<TaskSpec> ParseGenerate(const Value& body) const;
  absl::StatusOr<TaskSpec> ParseExtend(const Value& body) const;
  absl::StatusOr<TaskSpec> ParseLyrics(const Value& body) const;
  absl::StatusOr<TaskSpec> ParseAudioOperation(const Value& body, Endpoint endpoint) const;

  // Creates, stores and schedules a task; returns its id.
  std::string CreateTask(TaskSpec spec, std::string param, const Directives& directives,
                         const TaskFaults& faults);
  void ScheduleCallbacks(const Task& task);
  void SendCallback(const std::string& task_id, size_t step_index);

  std::string MusicRecordJson(const Task& task, absl::Time now) const;
  std::string LyricsRecordJson(const Task& task, absl::Time now) const;
  std::string CallbackJson(const Task& task, const Step& step) const;
  void WriteClip(Writer& w, const Task& task, size_t index, bool ready, bool snake_case) const;
  void WriteLyrics(Writer& w, const Task& task, bool snake_case) const;

  const EmulatorCore* const core_;
  SlidingWindowLimit account_creates_{core_->options.kie_creates_per_window,
                                      core_->options.kie_create_window};
  SlidingWindowLimit task_polls_{core_->options.kie_polls_per_second, absl::Seconds(1)};
  mutable absl::Mutex mu_;
  absl::flat_hash_map<std::string, Task> tasks_ ABSL_GUARDED_BY(mu_);
  absl::flat_hash_map<std::string, std::string> clip_owner_ ABSL_GUARDED_BY(mu_);  // clip -> task
  std::unique_ptr<KieOperations> operations_;
  KieUploadStore uploads_;  // the file upload API's files (own lock)
};

absl::StatusOr<TaskSpec> KieContract::ParseGenerate(const Value& body) const {
  FieldReader reader(body);
  TaskSpec spec;
  spec.callback_url = ReadCallbackUrl(reader);
  const bool custom = reader.Bool("customMode", /*required=*/true);
  const bool instrumental = reader.Bool("instrumental", /*required=*/true);
  spec.model = ReadModel(reader);
  if (!reader.status().ok()) return reader.status();
  ReadGenerateOptions(reader, custom);
  if (!custom) {
    // Simple mode: only the prompt counts; style and title are ignored.
    spec.prompt = reader.String("prompt", /*required=*/true, kSimplePromptMax);
  } else {
    spec.prompt = reader.String("prompt", /*required=*/!instrumental, spec.model->prompt_max);
    spec.style = reader.String("style", /*required=*/true, spec.model->style_max);
    spec.title = reader.String("title", /*required=*/true, kTitleMax);
  }
  if (!reader.status().ok()) return reader.status();
  spec.directive_text = absl::StrCat(spec.prompt, " ", spec.style, " ", spec.title);
  return spec;
}

absl::StatusOr<TaskSpec> KieContract::ParseExtend(const Value& body) const {
  FieldReader reader(body);
  TaskSpec spec;
  spec.operation_type = "extend";
  spec.callback_url = ReadCallbackUrl(reader);
  spec.parent_music_id = reader.String("audioId", /*required=*/true);
  const bool own_params = reader.Bool("defaultParamFlag", /*required=*/true);
  spec.model = ReadModel(reader);
  if (!reader.status().ok()) return reader.status();
  std::string prompt = reader.String("prompt", own_params, spec.model->prompt_max);
  std::string style = reader.String("style", own_params, spec.model->style_max);
  std::string title = reader.String("title", own_params, kTitleMax);
  const std::optional<double> continue_at = reader.Number("continueAt", own_params);
  if (own_params && continue_at.has_value() && !(*continue_at > 0)) {
    reader.Fail("continueAt must be greater than 0");
  }
  ReadGenerateOptions(reader, own_params);
  if (!reader.status().ok()) return reader.status();
  spec.directive_text = absl::StrCat(prompt, " ", style, " ", title);

  absl::MutexLock lock(&mu_);
  auto owner = clip_owner_.find(spec.parent_music_id);
  if (owner == clip_owner_.end()) {
    return absl::NotFoundError(absl::StrCat("audioId not found: ", spec.parent_music_id));
  }
  const Task& source = tasks_.at(owner->second);
  if (source.model != spec.model->model) {
    return absl::InvalidArgumentError(absl::StrCat("model must match the source clip's model (",
                                                   source.model, "), got ", spec.model->model));
  }
  if (own_params) {
    spec.prompt = std::move(prompt);
    spec.style = std::move(style);
    spec.title = std::move(title);
  } else {
    spec.prompt = source.prompt;
    spec.style = source.style;
    spec.title = source.title;
  }
  return spec;
}

absl::StatusOr<TaskSpec> KieContract::ParseLyrics(const Value& body) const {
  FieldReader reader(body);
  TaskSpec spec;
  spec.kind = Kind::kLyrics;
  spec.operation_type = "lyrics";
  spec.callback_url = ReadCallbackUrl(reader);
  spec.prompt = reader.String("prompt", /*required=*/true, kLyricsPromptMax);
  if (!reader.status().ok()) return reader.status();
  spec.directive_text = spec.prompt;
  return spec;
}

bool KieContract::RefusedByAccountLimit(httplib::Response* res, Endpoint endpoint) {
  if (!core_->options.kie_rate_limits || account_creates_.Admit("account", core_->Now())) {
    return false;
  }
  // As an injected 429: on /api/v1/lyrics the rate-limit code is 405 (CONTRACT-NOTES).
  const int code = endpoint == Endpoint::kLyrics ? 405 : 429;
  core_->stats->Add(&EmulatorStats::creates_rejected);
  core_->stats->Add(&EmulatorStats::creates_account_limited);
  SetJson(res, code, Envelope(code, "rate limited: 20 generation requests per 10 s per account"));
  return true;
}

bool KieContract::OutOfCredits(httplib::Response* res, Endpoint endpoint) {
  if (!core_->faults->TakeKie402()) return false;
  // On /api/v1/lyrics 429 means insufficient credits (CONTRACT-NOTES kie.ai create error codes).
  const int code = endpoint == Endpoint::kLyrics ? 429 : 402;
  core_->stats->Add(&EmulatorStats::creates_rejected);
  core_->stats->Add(&EmulatorStats::creates_out_of_credits);
  SetJson(res, code, Envelope(code, "Insufficient Credits"));
  return true;
}

// CONTRACT-NOTES.md "From uploaded audio": upload-cover takes generate's fields plus uploadUrl;
// upload-extend uploadUrl, defaultParamFlag, continueAt, prompt, style, title, model;
// add-instrumental uploadUrl, title, tags, negativeTags, model V4_5PLUS | V5; add-vocals
// uploadUrl, prompt, style, title, negativeTags, model V4_5PLUS | V5; all with callBackUrl. The
// uploadUrl must be a live file of the upload API (kie_upload_contract.h).
absl::StatusOr<TaskSpec> KieContract::ParseAudioOperation(const Value& body,
                                                          Endpoint endpoint) const {
  absl::StatusOr<TaskSpec> spec = TaskSpec();
  FieldReader reader(body);
  if (endpoint == Endpoint::kUploadCover) {
    spec = ParseGenerate(body);  // generate's rules, then uploadUrl
    if (!spec.ok()) return spec.status();
    spec->operation_type = "upload_cover";
  } else {
    spec->callback_url = ReadCallbackUrl(reader);
  }
  const std::string upload_url = reader.String("uploadUrl", /*required=*/true);
  if (!reader.status().ok()) return reader.status();

  if (endpoint == Endpoint::kUploadExtend) {
    spec->operation_type = "upload_extend";
    const bool own_params = reader.Bool("defaultParamFlag", /*required=*/true);
    spec->model = ReadModel(reader);
    if (!reader.status().ok()) return reader.status();
    spec->prompt = reader.String("prompt", own_params, spec->model->prompt_max);
    spec->style = reader.String("style", own_params, spec->model->style_max);
    spec->title = reader.String("title", own_params, kTitleMax);
    const std::optional<double> continue_at = reader.Number("continueAt", own_params);
    if (continue_at.has_value() && !(*continue_at > 0)) {
      reader.Fail("continueAt must be greater than 0");
    }
  } else if (endpoint == Endpoint::kAddInstrumental || endpoint == Endpoint::kAddVocals) {
    const bool vocals = endpoint == Endpoint::kAddVocals;
    spec->operation_type = vocals ? "add_vocals" : "add_instrumental";
    spec->model = ReadModel(reader);
    if (!reader.status().ok()) return reader.status();
    if (spec->model->model != "V4_5PLUS" && spec->model->model != "V5") {
      reader.Fail(absl::StrCat("model must be V4_5PLUS or V5; got ", spec->model->model));
    }
    spec->title = reader.String("title", /*required=*/true, kTitleMax);
    spec->style = reader.String(vocals ? "style" : "tags", /*required=*/true,
                                spec->model->style_max);
    if (vocals) spec->prompt = reader.String("prompt", /*required=*/true, spec->model->prompt_max);
    reader.String("negativeTags", /*required=*/false, spec->model->style_max);
  }
  if (!reader.status().ok()) return reader.status();
  if (!uploads_.FindByDownloadUrl(upload_url, core_->Now()).has_value()) {
    return absl::InvalidArgumentError(
        "uploadUrl is not a file of this account's file upload API (or it has expired)");
  }
  spec->directive_text = absl::StrCat(spec->prompt, " ", spec->style, " ", spec->title);
  return spec;
}

void KieContract::HandleCreate(const httplib::Request& req, httplib::Response* res,
                               Endpoint endpoint) {
  StatsRecorder& stats = *core_->stats;
  if (!Authorized(req, res)) {
    stats.Add(&EmulatorStats::creates_rejected);
    return;
  }
  if (RefusedByAccountLimit(res, endpoint) || OutOfCredits(res, endpoint)) return;
  const CreateFaults faults = core_->faults->NextCreate();
  if (faults.rejection == CreateRejection::kRateLimited) {
    // On /api/v1/lyrics kie.ai answers 405 for rate limiting (429 means insufficient credits).
    const int code = endpoint == Endpoint::kLyrics ? 405 : 429;
    stats.Add(&EmulatorStats::creates_rejected);
    stats.Add(&EmulatorStats::creates_rate_limited);
    res->set_header("Retry-After", "1");
    SetJson(res, code, Envelope(code, "Too many requests, please try again later"));
    return;
  }
  if (faults.rejection == CreateRejection::kServerError) {
    stats.Add(&EmulatorStats::creates_rejected);
    stats.Add(&EmulatorStats::creates_server_error);
    SetJson(res, 500, Envelope(500, "Internal server error"));
    return;
  }

  rapidjson::Document doc;
  doc.Parse(req.body.data(), req.body.size());
  absl::StatusOr<TaskSpec> spec =
      absl::InvalidArgumentError("the request body is not a JSON object");
  const bool object = !doc.HasParseError() && doc.IsObject();
  const absl::Status documented =
      object ? RejectUndocumented(doc, DocumentedMembers(endpoint)) : absl::OkStatus();
  if (!documented.ok()) {
    spec = documented;
  } else if (object) {
    switch (endpoint) {
      case Endpoint::kGenerate:
        spec = ParseGenerate(doc);
        break;
      case Endpoint::kExtend:
        spec = ParseExtend(doc);
        break;
      case Endpoint::kLyrics:
        spec = ParseLyrics(doc);
        break;
      case Endpoint::kUploadCover:
      case Endpoint::kUploadExtend:
      case Endpoint::kAddInstrumental:
      case Endpoint::kAddVocals:
        spec = ParseAudioOperation(doc, endpoint);
        break;
    }
  }
  if (!spec.ok()) {
    const int code = absl::IsNotFound(spec.status()) ? 404 : 422;
    stats.Add(&EmulatorStats::creates_rejected);
    stats.Add(&EmulatorStats::creates_invalid);
    SetJson(res, code, Envelope(code, spec.status().message()));
    return;
  }

  Directives directives;
  ParseDirectives(spec->directive_text, &directives);
  // CONTRACT-NOTES "kie.ai": "Create error codes: ... 402 insufficient credits ... On the lyrics
  // endpoint ... 429 means insufficient credits".
  if (directives.create_error == "402" || directives.create_error == "insufficient_credits") {
    const int code = endpoint == Endpoint::kLyrics ? 429 : 402;
    stats.Add(&EmulatorStats::creates_rejected);
    SetJson(res, code, Envelope(code, "Insufficient credits, please top up your account"));
    return;
  }
  const TaskFaults task_faults = core_->faults->NextTask();
  const std::string task_id = CreateTask(*std::move(spec), Serialize(doc), directives, task_faults);
  stats.Add(&EmulatorStats::creates_accepted);
  stats.Add(endpoint == Endpoint::kGenerate ? &EmulatorStats::generate_creates
            : endpoint == Endpoint::kExtend ? &EmulatorStats::extend_creates
            : endpoint == Endpoint::kLyrics ? &EmulatorStats::lyrics_creates
                                            : &EmulatorStats::audio_operation_creates);

  // A slow answer comes after the task exists: a client that gives up has still created it.
  if (faults.slow || directives.slow_create) {
    stats.Add(&EmulatorStats::creates_slow);
    core_->Sleep(core_->faults->slow_delay());
  }
  rapidjson::StringBuffer buffer;
  Writer w(buffer);
  w.StartObject();
  w.Key("code");
  w.Int(200);
  PutString(w, "msg", "success");
  w.Key("data");
  w.StartObject();
  PutString(w, "taskId", task_id);
  w.EndObject();
  w.EndObject();
  std::string answer = Finish(buffer);
  if (faults.malformed || directives.malformed_create) {
    stats.Add(&EmulatorStats::creates_malformed);
    answer = Truncate(answer);
  }
  SetJson(res, 200, answer);
}

std::string KieContract::CreateTask(TaskSpec spec, std::string param, const Directives& directives,
                                    const TaskFaults& faults) {
  Task task;
  task.id = RandomHexId();
  task.kind = spec.kind;
  task.operation_type = std::move(spec.operation_type);
  task.parent_music_id = std::move(spec.parent_music_id);
  task.param = std::move(param);
  task.prompt = std::move(spec.prompt);
  task.style = std::move(spec.style);
  task.title = std::move(spec.title);
  task.callback_url = std::move(spec.callback_url);
  task.created = core_->Now();
  core_->RecordSubmission(task.callback_url);

  std::string fail = NormalizeFailStatus(directives.fail_status, task.kind);
  if (fail.empty() && faults.generate_failed) {
    fail = NormalizeFailStatus(kGenerateAudioFailed, task.kind);
  } else if (fail.empty() && faults.sensitive_word) {
    fail = std::string(kSensitiveWordError);
  }
  // `task_error=400|408|413`: a generation failure reporting that documented errorCode.
  if (fail.empty() && !directives.task_error.empty()) {
    int code = 0;
    if (absl::SimpleAtoi(directives.task_error, &code) &&
        !DocumentedErrorMessage(code).empty()) {
      fail = NormalizeFailStatus(kGenerateAudioFailed, task.kind);
      task.error_code = code;
    }
  }
  task.fail_status = fail;
  task.malformed_polls_left = directives.malformed_polls;
  task.lose_callbacks = faults.lose_callbacks || directives.lose_callbacks;
  task.duplicate_callbacks = faults.duplicate_callbacks || directives.duplicate_callbacks;
  task.reorder_callbacks = faults.reorder_callbacks || directives.reorder_callbacks;
  const absl::Duration duration = directives.duration.value_or(core_->options.task_duration);

  if (task.kind == Kind::kMusic) {
    task.model = std::string(spec.model->model);
    task.model_name = std::string(spec.model->model_name);
    task.no_audio = faults.no_audio || directives.no_audio;
    task.tags = task.style.empty() ? "emulated, electronic, calm" : task.style;
    if (task.title.empty()) task.title = "Emulated Song";
    task.clip_ids = {RandomUuid(), RandomUuid()};
  } else {
    for (int i = 1; i <= 2; ++i) {
      task.lyrics.emplace_back(
          absl::StrCat("Emulated Lyrics ", i),
          absl::StrCat("[Verse]\n", task.prompt, "\n[Chorus]\nSing it again, take ", i,
                       "\n[Verse 2]\nThe emulator hums along\n"));
    }
  }
  task.plan = BuildPlan(task.kind, task.fail_status, duration);

  // Clips are known (images, streams) from the text stage; audio from their own stage.
  const absl::Time stream_ready =
      task.no_audio ? absl::InfiniteFuture() : FirstTimeWithClips(task, 0);
  for (size_t i = 0; i < task.clip_ids.size(); ++i) {
    ClipAudio audio;
    audio.seconds = core_->options.clip_seconds;
    audio.stream_ready_at = stream_ready;
    audio.audio_ready_at =
        task.no_audio ? absl::InfiniteFuture() : FirstTimeWithClips(task, static_cast<int>(i) + 1);
    core_->clips->Put(task.clip_ids[i], audio);
  }

  std::string id = task.id;
  {
    absl::MutexLock lock(&mu_);
    for (const std::string& clip : task.clip_ids) clip_owner_[clip] = id;
    ScheduleCallbacks(task);
    tasks_.emplace(id, std::move(task));
  }
  return id;
}

void KieContract::ScheduleCallbacks(const Task& task) {
  // (offset, step index) of every stage that calls back, in timeline order.
  std::vector<std::pair<absl::Duration, size_t>> deliveries;
  for (size_t i = 0; i < task.plan.size(); ++i) {
    if (task.plan[i].callback != CallbackType::kNone) deliveries.emplace_back(task.plan[i].at, i);
  }
  if (deliveries.empty()) return;
  if (task.lose_callbacks) {
    core_->stats->Add(&EmulatorStats::callbacks_dropped, static_cast<int64_t>(deliveries.size()));
    return;
  }
  if (task.reorder_callbacks) {
    // Everything at the last stage's time, newest first: complete before first before text.
    const absl::Duration last = deliveries.back().first;
    std::reverse(deliveries.begin(), deliveries.end());
    for (auto& delivery : deliveries) delivery.first = last;
  }
  const int copies = task.duplicate_callbacks ? 2 : 1;
  for (const auto& [offset, step] : deliveries) {
    for (int copy = 0; copy < copies; ++copy) {
      // The scheduler and sender stop before the contract is destroyed, so `this` outlives the job.
      core_->scheduler->ScheduleAt(task.created + offset,
                                   [this, id = task.id, step = step] { SendCallback(id, step); });
    }
  }
}

void KieContract::SendCallback(const std::string& task_id, size_t step_index) {
  CallbackDelivery delivery;
  {
    absl::MutexLock lock(&mu_);
    auto it = tasks_.find(task_id);
    if (it == tasks_.end()) return;
    const Task& task = it->second;
    delivery.key = task_id;
    delivery.url = task.callback_url;
    delivery.body = CallbackJson(task, task.plan[step_index]);
  }
  if (const std::string& key = core_->options.kie_webhook_hmac_key; !key.empty()) {
    delivery.headers = [key, task_id, clock = core_->options.clock] {
      const std::string timestamp = absl::StrCat(absl::ToUnixSeconds(clock->Now()));
      return std::vector<std::pair<std::string, std::string>>{
          {"X-Webhook-Timestamp", timestamp},
          {"X-Webhook-Signature", KieSignatureImpl(key, task_id, timestamp)}};
    };
  }
  core_->callbacks->Send(std::move(delivery));
}

void KieContract::HandleRecordInfo(const httplib::Request& req, httplib::Response* res, Kind kind) {
  StatsRecorder& stats = *core_->stats;
  if (!Authorized(req, res)) return;
  if (core_->options.kie_rate_limits &&
      !task_polls_.Admit(req.get_param_value("taskId"), core_->Now())) {
    // "limited to 3 requests/s per task" (CONTRACT-NOTES kie.ai, record-info).
    stats.Add(&EmulatorStats::polls_rate_limited);
    SetJson(res, 429, Envelope(429, "rate limited: 3 requests/s per task"));
    return;
  }
  stats.Add(&EmulatorStats::polls);
  const PollFaults faults = core_->faults->NextPoll();
  if (faults.slow) {
    stats.Add(&EmulatorStats::polls_slow);
    core_->Sleep(core_->faults->slow_delay());
  }
  if (faults.server_error) {
    stats.Add(&EmulatorStats::polls_server_error);
    SetJson(res, 500, Envelope(500, "Internal server error"));
    return;
  }
  const std::string task_id = req.get_param_value("taskId");
  if (task_id.empty()) {
    SetJson(res, 422, Envelope(422, "taskId cannot be empty"));
    return;
  }
  std::string body;
  bool malformed = faults.malformed;
  {
    absl::MutexLock lock(&mu_);
    auto it = tasks_.find(task_id);
    if (it == tasks_.end() || it->second.kind != kind) {
      stats.Add(&EmulatorStats::polls_not_found);
      SetJson(res, 404, Envelope(404, "task not found"));
      return;
    }
    Task& task = it->second;
    if (task.malformed_polls_left > 0) {
      --task.malformed_polls_left;
      malformed = true;
    }
    const absl::Time now = core_->Now();
    body = kind == Kind::kMusic ? MusicRecordJson(task, now) : LyricsRecordJson(task, now);
  }
  if (malformed) {
    stats.Add(&EmulatorStats::polls_malformed);
    body = Truncate(body);
  }
  SetJson(res, 200, body);
}

void KieContract::WriteClip(Writer& w, const Task& task, size_t index, bool ready,
                            bool snake_case) const {
  const std::string& id = task.clip_ids[index];
  const std::string& base = core_->public_base_url;
  const std::string audio =
      ready && !task.no_audio ? absl::StrCat(base, "/audio/", id, ".wav") : std::string();
  const std::string stream = task.no_audio ? std::string() : absl::StrCat(base, "/stream/", id);
  const std::string image = absl::StrCat(base, "/images/", id, ".png");
  w.StartObject();
  PutString(w, "id", id);
  PutString(w, snake_case ? "audio_url" : "audioUrl", audio);
  if (snake_case) PutString(w, "source_audio_url", audio);
  PutString(w, snake_case ? "stream_audio_url" : "streamAudioUrl", stream);
  if (snake_case) PutString(w, "source_stream_audio_url", stream);
  PutString(w, snake_case ? "image_url" : "imageUrl", image);
  if (snake_case) PutString(w, "source_image_url", image);
  PutString(w, "prompt", task.prompt);
  PutString(w, snake_case ? "model_name" : "modelName", task.model_name);
  PutString(w, "title", task.title);
  PutString(w, "tags", task.tags);
  PutString(w, "createTime", FormatDateTime(task.created));
  w.Key("duration");
  if (ready) {
    w.Double(core_->options.clip_seconds);
  } else {
    w.Null();  // still generating
  }
  w.EndObject();
}

void KieContract::WriteLyrics(Writer& w, const Task& task, bool snake_case) const {
  w.StartArray();
  for (const auto& [title, text] : task.lyrics) {
    w.StartObject();
    PutString(w, "text", text);
    PutString(w, "title", title);
    PutString(w, "status", "complete");
    PutString(w, snake_case ? "error_message" : "errorMessage", "");
    w.EndObject();
  }
  w.EndArray();
}

// record-info's `errorCode` / `errorMessage`: the failure's code and text, null otherwise.
void WriteRecordError(Writer& w, const Task& task, bool failed) {
  w.Key("errorCode");
  if (failed) {
    w.Int(TaskFailure(task).first);
  } else {
    w.Null();
  }
  w.Key("errorMessage");
  if (failed) {
    const absl::string_view message = TaskFailure(task).second;
    w.String(message.data(), static_cast<rapidjson::SizeType>(message.size()));
  } else {
    w.Null();
  }
}

std::string KieContract::MusicRecordJson(const Task& task, absl::Time now) const {
  const Step& step = CurrentStep(task, now);
  const bool failed = !task.fail_status.empty() && step.status == task.fail_status;
  rapidjson::StringBuffer buffer;
  Writer w(buffer);
  w.StartObject();
  w.Key("code");
  w.Int(200);
  PutString(w, "msg", "success");
  w.Key("data");
  w.StartObject();
  PutString(w, "taskId", task.id);
  PutString(w, "parentMusicId", task.parent_music_id);
  PutString(w, "param", task.param);
  w.Key("response");
  if (step.ready_clips < 0) {
    w.Null();
  } else {
    w.StartObject();
    PutString(w, "taskId", task.id);
    w.Key("sunoData");
    w.StartArray();
    for (size_t i = 0; i < task.clip_ids.size(); ++i) {
      WriteClip(w, task, i, static_cast<int>(i) < step.ready_clips, /*snake_case=*/false);
    }
    w.EndArray();
    w.EndObject();
  }
  PutString(w, "status", step.status);
  PutString(w, "type", task.model_name);
  PutString(w, "operationType", task.operation_type);
  WriteRecordError(w, task, failed);
  w.EndObject();
  w.EndObject();
  return Finish(buffer);
}

std::string KieContract::LyricsRecordJson(const Task& task, absl::Time now) const {
  const Step& step = CurrentStep(task, now);
  const bool failed = !task.fail_status.empty() && step.status == task.fail_status;
  rapidjson::StringBuffer buffer;
  Writer w(buffer);
  w.StartObject();
  w.Key("code");
  w.Int(200);
  PutString(w, "msg", "success");
  w.Key("data");
  w.StartObject();
  PutString(w, "taskId", task.id);
  PutString(w, "param", task.param);
  w.Key("response");
  if (step.ready_clips < 0) {
    w.Null();
  } else {
    w.StartObject();
    PutString(w, "taskId", task.id);
    w.Key("data");
    WriteLyrics(w, task, /*snake_case=*/false);
    w.EndObject();
  }
  PutString(w, "status", step.status);
  PutString(w, "type", "LYRICS");
  WriteRecordError(w, task, failed);
  w.EndObject();
  w.EndObject();
  return Finish(buffer);
}

std::string KieContract::CallbackJson(const Task& task, const Step& step) const {
  rapidjson::StringBuffer buffer;
  Writer w(buffer);
  w.StartObject();
  int code = 200;
  absl::string_view msg = "All generated successfully.";
  absl::string_view type = "complete";
  switch (step.callback) {
    case CallbackType::kText:
      msg = "Text generation completed successfully.";
      type = "text";
      break;
    case CallbackType::kFirst:
      msg = "First track generation completed successfully.";
      type = "first";
      break;
    case CallbackType::kError:
      std::tie(code, msg) = TaskFailure(task);
      type = "error";
      break;
    case CallbackType::kComplete:
    case CallbackType::kNone:
      break;
  }
  w.Key("code");
  w.Int(code);
  PutString(w, "msg", msg);
  w.Key("data");
  w.StartObject();
  PutString(w, "callbackType", type);
  PutString(w, "task_id", task.id);
  w.Key("data");
  if (step.callback == CallbackType::kError) {
    w.Null();
  } else if (task.kind == Kind::kLyrics) {
    WriteLyrics(w, task, /*snake_case=*/true);
  } else {
    w.StartArray();
    if (step.callback != CallbackType::kText) {
      for (size_t i = 0; i < task.clip_ids.size(); ++i) {
        WriteClip(w, task, i, static_cast<int>(i) < step.ready_clips, /*snake_case=*/true);
      }
    }
    w.EndArray();
  }
  w.EndObject();
  w.EndObject();
  return Finish(buffer);
}

}  // namespace

std::unique_ptr<ProviderContract> NewKieContract(const EmulatorCore* core) {
  return std::make_unique<KieContract>(core);
}

std::string KieEnvelope(int code, absl::string_view msg) { return Envelope(code, msg); }

std::string KieWebhookSignature(absl::string_view key, absl::string_view task_id,
                                absl::string_view timestamp) {
  return KieSignatureImpl(key, task_id, timestamp);
}

}  // namespace music::emulator
