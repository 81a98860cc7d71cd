// kie.ai clip operations as CONTRACT-NOTES.md (kie.ai section, "Advanced Features") describes
// them; README.md in this directory lists the emulator's choices where the documents are silent.
#include "tools/provider-emulator/kie_operations_contract.h"

#include <rapidjson/document.h>
#include <rapidjson/stringbuffer.h>

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_map.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/strings/string_view.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "absl/types/span.h"
#include "tools/provider-emulator/kie_contract.h"

namespace music::emulator {
namespace {

using rapidjson::Value;

enum class Op { kWav, kSeparateVocal, kSplitStem, kVideo };

constexpr size_t kVideoTextMax = 50;  // author, domainName (CONTRACT-NOTES)

// A stem's record-info member (camelCase) and callback member (snake_case).
struct Stem {
  absl::string_view camel;
  absl::string_view snake;
};
// Every member of the vocal-removal `response`, in the notes' order.
constexpr Stem kStems[] = {
    {"originUrl", "origin_url"},
    {"instrumentalUrl", "instrumental_url"},
    {"vocalUrl", "vocal_url"},
    {"backingVocalsUrl", "backing_vocals_url"},
    {"drumsUrl", "drums_url"},
    {"bassUrl", "bass_url"},
    {"guitarUrl", "guitar_url"},
    {"pianoUrl", "piano_url"},
    {"keyboardUrl", "keyboard_url"},
    {"percussionUrl", "percussion_url"},
    {"stringsUrl", "strings_url"},
    {"synthUrl", "synth_url"},
    {"fxUrl", "fx_url"},
    {"brassUrl", "brass_url"},
    {"woodwindsUrl", "woodwinds_url"},
};
// separate_vocal: vocals + instrumental (and the original). split_stem: up to 12 stems, no
// instrumental (`instrumentalUrl` null); this emulator leaves out piano.
constexpr absl::string_view kSeparateStems[] = {"originUrl", "instrumentalUrl", "vocalUrl"};
constexpr absl::string_view kSplitStems[] = {
    "originUrl", "vocalUrl",    "backingVocalsUrl", "drumsUrl",   "bassUrl",
    "guitarUrl", "keyboardUrl", "percussionUrl",    "stringsUrl", "synthUrl",
    "fxUrl",     "brassUrl",    "woodwindsUrl"};

struct OpTask {
  std::string id;
  Op op = Op::kWav;
  std::string source_task_id;
  std::string audio_id;
  std::string callback_url;
  std::string author, domain_name;
  absl::Time created;
  absl::Time done;
  bool fail = false;
  bool lose_callback = false;
  std::string wav_id, video_id;
  std::vector<std::pair<absl::string_view, std::string>> stems;  // camel key -> audio id
};

absl::string_view FailFlag(Op op) {
  switch (op) {
    case Op::kWav:
      return "GENERATE_WAV_FAILED";
    case Op::kVideo:
      return "GENERATE_MP4_FAILED";
    default:
      return "GENERATE_AUDIO_FAILED";
  }
}

// Reads a JSON object body; "" members and unknown members are errors, as strict as the notes.
class Body {
 public:
  Body(const std::string& text, const std::vector<absl::string_view>& allowed) {
    doc_.Parse(text.data(), text.size());
    if (doc_.HasParseError() || !doc_.IsObject()) {
      error_ = "the request body is not a JSON object";
      return;
    }
    for (const auto& m : doc_.GetObject()) {
      const absl::string_view name(m.name.GetString(), m.name.GetStringLength());
      bool known = false;
      for (absl::string_view a : allowed) known = known || a == name;
      if (!known && error_.empty()) error_ = absl::StrCat("unknown parameter ", name);
    }
  }
  std::string String(const char* name, bool required, size_t max_chars = 0) {
    auto it = doc_.IsObject() ? doc_.FindMember(name) : doc_.MemberEnd();
    if (!doc_.IsObject() || it == doc_.MemberEnd() || it->value.IsNull()) {
      if (required) Fail(absl::StrCat(name, " cannot be empty"));
      return "";
    }
    if (!it->value.IsString()) {
      Fail(absl::StrCat(name, " must be a string"));
      return "";
    }
    std::string value(it->value.GetString(), it->value.GetStringLength());
    if (required && value.empty()) Fail(absl::StrCat(name, " cannot be empty"));
    if (max_chars > 0 && Utf8Length(value) > max_chars) {
      Fail(absl::StrCat(name, " exceeds the maximum length of ", max_chars, " characters"));
    }
    return value;
  }
  void Fail(absl::string_view message) {
    if (error_.empty()) error_ = std::string(message);
  }
  const std::string& error() const { return error_; }

 private:
  rapidjson::Document doc_;
  std::string error_;
};

class KieOperationsImpl final : public KieOperations {
 public:
  KieOperationsImpl(const EmulatorCore* core, KieOperationHooks hooks)
      : core_(core), hooks_(std::move(hooks)) {}

  void RegisterRoutes(httplib::Server* server) override {
    server->Post("/api/v1/wav/generate", [this](const httplib::Request& q, httplib::Response& r) {
      HandleCreate(q, &r, "/api/v1/wav/generate");
    });
    server->Post("/api/v1/vocal-removal/generate",
                 [this](const httplib::Request& q, httplib::Response& r) {
                   HandleCreate(q, &r, "/api/v1/vocal-removal/generate");
                 });
    server->Post("/api/v1/mp4/generate", [this](const httplib::Request& q, httplib::Response& r) {
      HandleCreate(q, &r, "/api/v1/mp4/generate");
    });
    for (const char* route : {"/api/v1/wav/record-info", "/api/v1/vocal-removal/record-info",
                              "/api/v1/mp4/record-info"}) {
      server->Get(route, [this, route = std::string(route)](const httplib::Request& q,
                                                            httplib::Response& r) {
        HandleRecordInfo(q, &r, route);
      });
    }
    server->Post("/api/v1/generate/get-timestamped-lyrics",
                 [this](const httplib::Request& q, httplib::Response& r) {
                   HandleTimestampedLyrics(q, &r);
                 });
    server->Post("/api/v1/style/generate",
                 [this](const httplib::Request& q, httplib::Response& r) { HandleStyle(q, &r); });
    server->Get("/api/v1/chat/credit", [this](const httplib::Request& q, httplib::Response& r) {
      if (!hooks_.authorized(q, &r)) return;
      rapidjson::StringBuffer buffer;
      JsonWriter w(buffer);
      w.StartObject();
      w.Key("code");
      w.Int(200);
      PutString(w, "msg", "success");
      w.Key("data");
      {
        absl::MutexLock lock(&mu_);
        w.Int64(credits_);
      }
      w.EndObject();
      SetJson(&r, 200, Finish(buffer));
    });
    server->Get(R"(/videos/([A-Za-z0-9_-]+)\.mp4)",
                [this](const httplib::Request& q, httplib::Response& r) { ServeVideo(q, &r); });
  }

  int64_t TaskCount() const override {
    absl::MutexLock lock(&mu_);
    return static_cast<int64_t>(tasks_.size());
  }

 private:
  void HandleCreate(const httplib::Request& req, httplib::Response* res, absl::string_view path);
  void HandleRecordInfo(const httplib::Request& req, httplib::Response* res,
                        absl::string_view route);
  void HandleTimestampedLyrics(const httplib::Request& req, httplib::Response* res);
  void HandleStyle(const httplib::Request& req, httplib::Response* res);
  void ServeVideo(const httplib::Request& req, httplib::Response* res);
  void SendCallback(const std::string& id);
  std::string RecordJson(const OpTask& task, absl::Time now) const;
  std::string CallbackJson(const OpTask& task) const;

  const EmulatorCore* const core_;
  const KieOperationHooks hooks_;
  mutable absl::Mutex mu_;
  absl::flat_hash_map<std::string, OpTask> tasks_ ABSL_GUARDED_BY(mu_);
  // The WAV task of each clip: a second WAV create answers 409 naming it.
  absl::flat_hash_map<std::string, std::string> wav_of_clip_ ABSL_GUARDED_BY(mu_);
  int64_t credits_ ABSL_GUARDED_BY(mu_) = 5000;
};

void KieOperationsImpl::HandleCreate(const httplib::Request& req, httplib::Response* res,
                                     absl::string_view path) {
  StatsRecorder& stats = *core_->stats;
  if (!hooks_.authorized(req, res)) {
    stats.Add(&EmulatorStats::creates_rejected);
    return;
  }
  const CreateFaults faults = core_->faults->NextCreate();
  if (faults.rejection != CreateRejection::kNone) {
    const bool limited = faults.rejection == CreateRejection::kRateLimited;
    stats.Add(&EmulatorStats::creates_rejected);
    stats.Add(limited ? &EmulatorStats::creates_rate_limited
                      : &EmulatorStats::creates_server_error);
    SetJson(res, limited ? 429 : 500,
            KieEnvelope(limited ? 429 : 500, limited ? "Too many requests, please try again later"
                                                     : "Internal server error"));
    return;
  }
  const bool wav = path == "/api/v1/wav/generate";
  const bool video = path == "/api/v1/mp4/generate";
  // Only the members the notes name: taskId, audioId, callBackUrl, and per route type or
  // author / domainName.
  std::vector<absl::string_view> allowed = {"taskId", "audioId", "callBackUrl"};
  if (video) {
    allowed.insert(allowed.end(), {"author", "domainName"});
  } else if (!wav) {
    allowed.push_back("type");
  }
  Body body(req.body, allowed);
  OpTask task;
  task.source_task_id = body.String("taskId", true);
  task.audio_id = body.String("audioId", true);
  task.callback_url = body.String("callBackUrl", true);
  if (!task.callback_url.empty() && !SplitHttpUrl(task.callback_url).ok()) {
    body.Fail("callBackUrl must be an http(s) URL");
  }
  task.op = wav ? Op::kWav : video ? Op::kVideo : Op::kSeparateVocal;
  if (video) {
    task.author = body.String("author", false, kVideoTextMax);
    task.domain_name = body.String("domainName", false, kVideoTextMax);
  } else if (!wav) {
    const std::string type = body.String("type", false);
    if (type == "split_stem") {
      task.op = Op::kSplitStem;
    } else if (!type.empty() && type != "separate_vocal") {
      body.Fail("type must be separate_vocal or split_stem");
    }
  }
  if (!body.error().empty()) {
    stats.Add(&EmulatorStats::creates_rejected);
    stats.Add(&EmulatorStats::creates_invalid);
    SetJson(res, 422, KieEnvelope(422, body.error()));
    return;
  }
  if (!hooks_.find_clip(task.source_task_id, task.audio_id)) {
    stats.Add(&EmulatorStats::creates_rejected);
    stats.Add(&EmulatorStats::creates_invalid);
    SetJson(res, 404, KieEnvelope(404, "no such audioId in that task"));
    return;
  }

  const TaskFaults task_faults = core_->faults->NextTask();
  task.id = RandomHexId();
  task.created = core_->Now();
  task.done = task.created + core_->options.task_duration;
  task.fail = task_faults.generate_failed;
  task.lose_callback = task_faults.lose_callbacks;
  ClipAudio audio;
  audio.seconds = core_->options.clip_seconds;
  audio.audio_ready_at = task.fail ? absl::InfiniteFuture() : task.done;
  audio.stream_ready_at = absl::InfiniteFuture();
  if (task.op == Op::kWav) {
    task.wav_id = RandomUuid();
    core_->clips->Put(task.wav_id, audio);
  } else if (task.op == Op::kVideo) {
    task.video_id = RandomUuid();
  } else {
    // Each stem is a real WAV file at /audio/<id>.wav, served once the task is done.
    const bool split = task.op == Op::kSplitStem;
    for (absl::string_view stem :
         split ? absl::MakeConstSpan(kSplitStems) : absl::MakeConstSpan(kSeparateStems)) {
      task.stems.emplace_back(stem, RandomUuid());
      core_->clips->Put(task.stems.back().second, audio);
    }
  }

  std::string earlier;
  {
    absl::MutexLock lock(&mu_);
    if (task.op == Op::kWav) {
      if (auto it = wav_of_clip_.find(task.audio_id); it != wav_of_clip_.end()) {
        earlier = it->second;
      } else {
        wav_of_clip_[task.audio_id] = task.id;
      }
    }
    if (earlier.empty()) {
      if (!task.lose_callback) {
        // The scheduler stops before the contract is destroyed, so `this` outlives the job.
        core_->scheduler->ScheduleAt(task.done, [this, id = task.id] { SendCallback(id); });
      }
      tasks_.emplace(task.id, task);
    }
  }
  rapidjson::StringBuffer buffer;
  JsonWriter w(buffer);
  w.StartObject();
  w.Key("code");
  if (!earlier.empty()) {
    // "a WAV for that clip exists already": `data` names the earlier task (CONTRACT-NOTES).
    stats.Add(&EmulatorStats::creates_rejected);
    w.Int(409);
    PutString(w, "msg", "A WAV for this audio already exists");
    w.Key("data");
    w.StartObject();
    PutString(w, "taskId", earlier);
    w.EndObject();
    w.EndObject();
    SetJson(res, 200, Finish(buffer));
    return;
  }
  stats.Add(&EmulatorStats::creates_accepted);
  stats.Add(&EmulatorStats::clip_operation_creates);
  core_->RecordSubmission(task.callback_url);
  w.Int(200);
  PutString(w, "msg", "success");
  w.Key("data");
  w.StartObject();
  PutString(w, "taskId", task.id);
  w.EndObject();
  w.EndObject();
  SetJson(res, 200, Finish(buffer));
}

std::string KieOperationsImpl::RecordJson(const OpTask& task, absl::Time now) const {
  const bool done = now >= task.done;
  const bool ok = done && !task.fail;
  const bool millis = task.op == Op::kSeparateVocal || task.op == Op::kSplitStem;
  const std::string& base = core_->public_base_url;
  auto put_time = [&](JsonWriter& w, const char* key, absl::Time t) {
    w.Key(key);
    if (millis) {
      w.Int64(absl::ToUnixMillis(t));  // epoch milliseconds for vocal separation
    } else {
      w.String(FormatDateTime(t).c_str());
    }
  };
  rapidjson::StringBuffer buffer;
  JsonWriter w(buffer);
  w.StartObject();
  w.Key("code");
  w.Int(200);
  PutString(w, "msg", "success");
  w.Key("data");
  w.StartObject();
  PutString(w, "taskId", task.id);
  PutString(w, "musicId", task.audio_id);
  PutString(w, "callbackUrl", task.callback_url);
  if (done) {
    put_time(w, "completeTime", task.done);
  } else {
    w.Key("completeTime");
    w.Null();
  }
  w.Key("response");
  if (!ok) {
    w.Null();
  } else {
    w.StartObject();
    if (task.op == Op::kWav) {
      PutString(w, "audioWavUrl", absl::StrCat(base, "/audio/", task.wav_id, ".wav"));
    } else if (task.op == Op::kVideo) {
      PutString(w, "videoUrl", absl::StrCat(base, "/videos/", task.video_id, ".mp4"));
    } else {
      for (const Stem& stem : kStems) {
        std::string url;
        for (const auto& [key, id] : task.stems) {
          if (key == stem.camel) url = absl::StrCat(base, "/audio/", id, ".wav");
        }
        PutNullableString(w, stem.camel, url);
      }
    }
    w.EndObject();
  }
  PutString(w, "successFlag", !done ? "PENDING" : ok ? "SUCCESS" : FailFlag(task.op));
  put_time(w, "createTime", task.created);
  w.Key("errorCode");
  if (done && task.fail) {
    w.Int(500);
  } else {
    w.Null();
  }
  PutNullableString(w, "errorMessage", done && task.fail ? "Generation failed" : "");
  w.EndObject();
  w.EndObject();
  return Finish(buffer);
}

void KieOperationsImpl::HandleRecordInfo(const httplib::Request& req, httplib::Response* res,
                                         absl::string_view route) {
  StatsRecorder& stats = *core_->stats;
  if (!hooks_.authorized(req, res)) return;
  stats.Add(&EmulatorStats::polls);
  const PollFaults faults = core_->faults->NextPoll();
  if (faults.server_error) {
    stats.Add(&EmulatorStats::polls_server_error);
    SetJson(res, 500, KieEnvelope(500, "Internal server error"));
    return;
  }
  const std::string id = req.get_param_value("taskId");
  if (id.empty()) {
    SetJson(res, 422, KieEnvelope(422, "taskId cannot be empty"));
    return;
  }
  std::string body;
  {
    absl::MutexLock lock(&mu_);
    auto it = tasks_.find(id);
    const Op op = it == tasks_.end() ? Op::kWav : it->second.op;
    const absl::string_view expected = op == Op::kWav     ? "/api/v1/wav/record-info"
                                       : op == Op::kVideo ? "/api/v1/mp4/record-info"
                                                          : "/api/v1/vocal-removal/record-info";
    if (it == tasks_.end() || expected != route) {
      stats.Add(&EmulatorStats::polls_not_found);
      SetJson(res, 404, KieEnvelope(404, "task not found"));
      return;
    }
    body = RecordJson(it->second, core_->Now());
  }
  if (faults.malformed) {
    stats.Add(&EmulatorStats::polls_malformed);
    body = Truncate(body);
  }
  SetJson(res, 200, body);
}

std::string KieOperationsImpl::CallbackJson(const OpTask& task) const {
  const std::string& base = core_->public_base_url;
  rapidjson::StringBuffer buffer;
  JsonWriter w(buffer);
  w.StartObject();
  w.Key("code");
  w.Int(task.fail ? 500 : 200);
  PutString(w, "msg", task.fail ? "Generation failed" : "success");
  w.Key("data");
  w.StartObject();
  PutString(w, "task_id", task.id);
  if (!task.fail) {
    if (task.op == Op::kWav) {
      PutString(w, "audioWavUrl", absl::StrCat(base, "/audio/", task.wav_id, ".wav"));
    } else if (task.op == Op::kVideo) {
      PutString(w, "video_url", absl::StrCat(base, "/videos/", task.video_id, ".mp4"));
    } else {
      // The two spellings of different language versions (CONTRACT-NOTES): split_stem answers
      // with the other one, so both are exercised.
      w.Key(task.op == Op::kSplitStem ? "vocal_separation_info" : "vocal_removal_info");
      w.StartObject();
      for (const Stem& stem : kStems) {
        std::string url;
        for (const auto& [key, id] : task.stems) {
          if (key == stem.camel) url = absl::StrCat(base, "/audio/", id, ".wav");
        }
        PutNullableString(w, stem.snake, url);
      }
      w.EndObject();
    }
  }
  w.EndObject();
  w.EndObject();
  return Finish(buffer);
}

void KieOperationsImpl::SendCallback(const std::string& id) {
  CallbackDelivery delivery;
  {
    absl::MutexLock lock(&mu_);
    auto it = tasks_.find(id);
    if (it == tasks_.end()) return;
    delivery.key = id;
    delivery.url = it->second.callback_url;
    delivery.body = CallbackJson(it->second);
  }
  if (const std::string& key = core_->options.kie_webhook_hmac_key; !key.empty()) {
    delivery.headers = [key, id, clock = core_->options.clock] {
      const std::string timestamp = absl::StrCat(absl::ToUnixSeconds(clock->Now()));
      return std::vector<std::pair<std::string, std::string>>{
          {"X-Webhook-Timestamp", timestamp},
          {"X-Webhook-Signature", KieWebhookSignature(key, id, timestamp)}};
    };
  }
  core_->callbacks->Send(std::move(delivery));
}

void KieOperationsImpl::HandleTimestampedLyrics(const httplib::Request& req,
                                                httplib::Response* res) {
  if (!hooks_.authorized(req, res)) return;
  Body body(req.body, {"taskId", "audioId"});
  const std::string task_id = body.String("taskId", true);
  const std::string audio_id = body.String("audioId", true);
  if (!body.error().empty()) {
    SetJson(res, 422, KieEnvelope(422, body.error()));
    return;
  }
  const std::optional<KieClipInfo> clip = hooks_.find_clip(task_id, audio_id);
  if (!clip) {
    SetJson(res, 404, KieEnvelope(404, "no such audioId in that task"));
    return;
  }
  rapidjson::StringBuffer buffer;
  JsonWriter w(buffer);
  w.StartObject();
  w.Key("code");
  w.Int(200);
  PutString(w, "msg", "success");
  w.Key("data");
  w.StartObject();
  w.Key("alignedWords");
  w.StartArray();
  // Half a second per word; an instrumental clip (no lyrics) has no words. As kie.ai's words do,
  // the last word of each line carries the line break.
  double t = 1.0;
  std::vector<std::string> words;
  for (absl::string_view line : absl::StrSplit(clip->lyrics, '\n')) {
    std::vector<std::string> in_line = absl::StrSplit(line, ' ', absl::SkipWhitespace());
    if (in_line.empty()) continue;
    in_line.back() += "\n";
    words.insert(words.end(), in_line.begin(), in_line.end());
  }
  for (const std::string& word : words) {
    w.StartObject();
    PutString(w, "word", word);
    w.Key("success");
    w.Bool(true);
    w.Key("startS");
    w.Double(t);
    w.Key("endS");
    w.Double(t + 0.4);
    w.Key("palign");
    w.Int(0);
    w.EndObject();
    t += 0.5;
  }
  w.EndArray();
  w.Key("waveformData");
  w.StartArray();
  for (int i = 0; i < 16; ++i) w.Double(0.05 * (i % 8));
  w.EndArray();
  w.Key("hootCer");
  w.Double(0.125);
  w.Key("isStreamed");
  w.Bool(false);
  w.EndObject();
  w.EndObject();
  SetJson(res, 200, Finish(buffer));
}

void KieOperationsImpl::HandleStyle(const httplib::Request& req, httplib::Response* res) {
  if (!hooks_.authorized(req, res)) return;
  Body body(req.body, {"content"});
  const std::string content = body.String("content", true);
  if (!body.error().empty()) {
    SetJson(res, 422, KieEnvelope(422, body.error()));
    return;
  }
  int64_t remaining = 0;
  {
    absl::MutexLock lock(&mu_);
    credits_ -= 1;  // a boost costs 1 credit here (kie.ai publishes no price)
    remaining = credits_;
  }
  rapidjson::StringBuffer buffer;
  JsonWriter w(buffer);
  w.StartObject();
  w.Key("code");
  w.Int(200);
  PutString(w, "msg", "success");
  w.Key("data");
  w.StartObject();
  PutString(w, "taskId", RandomHexId());
  PutString(w, "param", content);
  PutString(w, "result",
            absl::StrCat(content, ", warm analog synths, punchy drums, wide stereo, 120 bpm"));
  w.Key("creditsConsumed");
  w.Int(1);
  w.Key("creditsRemaining");
  w.Int64(remaining);
  PutString(w, "successFlag", "1");
  w.Key("errorCode");
  w.Null();
  w.Key("errorMessage");
  w.Null();
  PutString(w, "createTime", FormatDateTime(core_->Now()));
  w.EndObject();
  w.EndObject();
  SetJson(res, 200, Finish(buffer));
}

void KieOperationsImpl::ServeVideo(const httplib::Request& req, httplib::Response* res) {
  const std::string id = req.matches[1];
  bool ready = false;
  {
    absl::MutexLock lock(&mu_);
    for (const auto& [task_id, task] : tasks_) {
      ready = ready || (task.video_id == id && !task.fail && core_->Now() >= task.done);
    }
  }
  if (!ready) {
    res->status = 404;
    return;
  }
  // An ISO BMFF `ftyp` box: enough for a client to see an MP4, not a playable video.
  static constexpr char kFtyp[] = {0, 0, 0, 24, 'f', 't', 'y', 'p', 'i', 's', 'o', 'm',
                                   0, 0, 2, 0,  'i', 's', 'o', 'm', 'm', 'p', '4', '1'};
  res->set_content(std::string(kFtyp, sizeof(kFtyp)), "video/mp4");
}

}  // namespace

std::unique_ptr<KieOperations> NewKieOperations(const EmulatorCore* core, KieOperationHooks hooks) {
  return std::make_unique<KieOperationsImpl>(core, std::move(hooks));
}

}  // namespace music::emulator
