#include "tools/provider-emulator/emulator.h"

#include <httplib.h>
#include <rapidjson/document.h>
#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>
#include <sys/socket.h>

#include <algorithm>
#include <memory>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/strip.h"
#include "absl/synchronization/mutex.h"
#include "absl/synchronization/notification.h"
#include "absl/time/clock.h"
#include "tools/provider-emulator/audio.h"
#include "tools/provider-emulator/beatra_contract.h"
#include "tools/provider-emulator/callback_sender.h"
#include "tools/provider-emulator/core.h"
#include "tools/provider-emulator/faults.h"
#include "tools/provider-emulator/kie_contract.h"
#include "tools/provider-emulator/piapi_contract.h"
#include "tools/provider-emulator/scheduler.h"
#include "tools/provider-emulator/stats.h"
#include "tools/provider-emulator/tokenlab_contract.h"
#include "tools/provider-emulator/usage_export.h"
#include "tools/provider-emulator/usage_writer.h"

namespace music::emulator {
namespace {

using Writer = rapidjson::Writer<rapidjson::StringBuffer>;

std::string ErrorJson(int code, absl::string_view msg) {
  rapidjson::StringBuffer buffer;
  Writer w(buffer);
  w.StartObject();
  w.Key("code");
  w.Int(code);
  w.Key("msg");
  w.String(msg.data(), static_cast<rapidjson::SizeType>(msg.size()));
  w.Key("data");
  w.Null();
  w.EndObject();
  return std::string(buffer.GetString(), buffer.GetSize());
}

// The FaultConfig members by their JSON (and flag) names.
struct RateField {
  const char* name;
  double FaultConfig::*member;
};
constexpr RateField kRateFields[] = {
    {"create_429_rate", &FaultConfig::create_429_rate},
    {"create_500_rate", &FaultConfig::create_500_rate},
    {"create_slow_rate", &FaultConfig::create_slow_rate},
    {"create_malformed_rate", &FaultConfig::create_malformed_rate},
    {"poll_500_rate", &FaultConfig::poll_500_rate},
    {"poll_malformed_rate", &FaultConfig::poll_malformed_rate},
    {"poll_slow_rate", &FaultConfig::poll_slow_rate},
    {"success_without_audio_rate", &FaultConfig::success_without_audio_rate},
    {"lose_callback_rate", &FaultConfig::lose_callback_rate},
    {"duplicate_callback_rate", &FaultConfig::duplicate_callback_rate},
    {"reorder_callbacks_rate", &FaultConfig::reorder_callbacks_rate},
    {"generate_audio_failed_rate", &FaultConfig::generate_audio_failed_rate},
    {"sensitive_word_rate", &FaultConfig::sensitive_word_rate},
};

std::string FaultsJson(const FaultConfig& faults) {
  rapidjson::StringBuffer buffer;
  Writer w(buffer);
  w.StartObject();
  for (const RateField& field : kRateFields) {
    w.Key(field.name);
    w.Double(faults.*field.member);
  }
  w.Key("create_429_count");
  w.Int(faults.create_429_count);
  w.Key("create_500_count");
  w.Int(faults.create_500_count);
  w.Key("slow_delay_ms");
  w.Int64(absl::ToInt64Milliseconds(faults.slow_delay));
  w.Key("media_expired");
  w.Bool(faults.media_expired);
  w.Key("media_stall");
  w.Bool(faults.media_stall);
  w.Key("kie_402_count");
  w.Int(faults.kie_402_count);
  w.Key("kie_key_refused");
  w.Bool(faults.kie_key_refused);
  w.Key("seed");
  w.Uint64(faults.seed);
  w.EndObject();
  return std::string(buffer.GetString(), buffer.GetSize());
}

// Applies the members of `body` to `faults`; "reset": true starts from the defaults.
absl::Status ApplyFaultsJson(const std::string& body, FaultConfig* faults) {
  rapidjson::Document doc;
  doc.Parse(body.data(), body.size());
  if (doc.HasParseError() || !doc.IsObject()) {
    return absl::InvalidArgumentError("the body is not a JSON object");
  }
  if (auto reset = doc.FindMember("reset"); reset != doc.MemberEnd()) {
    if (!reset->value.IsBool()) return absl::InvalidArgumentError("reset must be a boolean");
    if (reset->value.GetBool()) *faults = FaultConfig();
  }
  for (const auto& member : doc.GetObject()) {
    const std::string name(member.name.GetString(), member.name.GetStringLength());
    const rapidjson::Value& v = member.value;
    if (name == "reset") continue;
    bool known = false;
    for (const RateField& field : kRateFields) {
      if (name != field.name) continue;
      known = true;
      if (!v.IsNumber()) return absl::InvalidArgumentError(absl::StrCat(name, " must be a number"));
      faults->*field.member = v.GetDouble();
    }
    if (known) continue;
    if (name == "create_429_count" || name == "create_500_count" || name == "kie_402_count") {
      if (!v.IsInt()) return absl::InvalidArgumentError(absl::StrCat(name, " must be an integer"));
      (name == "create_429_count"   ? faults->create_429_count
       : name == "create_500_count" ? faults->create_500_count
                                    : faults->kie_402_count) = v.GetInt();
    } else if (name == "kie_key_refused") {
      if (!v.IsBool()) return absl::InvalidArgumentError("kie_key_refused must be a boolean");
      faults->kie_key_refused = v.GetBool();
    } else if (name == "slow_delay_ms") {
      if (!v.IsInt64()) return absl::InvalidArgumentError("slow_delay_ms must be an integer");
      faults->slow_delay = absl::Milliseconds(v.GetInt64());
    } else if (name == "media_expired") {
      if (!v.IsBool()) return absl::InvalidArgumentError("media_expired must be a boolean");
      faults->media_expired = v.GetBool();
    } else if (name == "media_stall") {
      if (!v.IsBool()) return absl::InvalidArgumentError("media_stall must be a boolean");
      faults->media_stall = v.GetBool();
    } else if (name == "seed") {
      if (!v.IsUint64()) return absl::InvalidArgumentError("seed must be a non-negative integer");
      faults->seed = v.GetUint64();
    } else {
      return absl::InvalidArgumentError(absl::StrCat("unknown field: ", name));
    }
  }
  return ValidateFaultConfig(*faults);
}

std::string StatsJson(const EmulatorStats& s, int64_t tasks) {
  const std::pair<const char*, int64_t> counters[] = {
      {"creates_accepted", s.creates_accepted},
      {"idempotency_keys", s.idempotency_keys},
      {"creates_rejected", s.creates_rejected},
      {"creates_invalid", s.creates_invalid},
      {"creates_rate_limited", s.creates_rate_limited},
      {"creates_server_error", s.creates_server_error},
      {"creates_account_limited", s.creates_account_limited},
      {"creates_out_of_credits", s.creates_out_of_credits},
      {"creates_malformed", s.creates_malformed},
      {"creates_slow", s.creates_slow},
      {"generate_creates", s.generate_creates},
      {"extend_creates", s.extend_creates},
      {"lyrics_creates", s.lyrics_creates},
      {"clip_operation_creates", s.clip_operation_creates},
      {"audio_operation_creates", s.audio_operation_creates},
      {"polls", s.polls},
      {"polls_not_found", s.polls_not_found},
      {"polls_server_error", s.polls_server_error},
      {"polls_malformed", s.polls_malformed},
      {"polls_slow", s.polls_slow},
      {"polls_rate_limited", s.polls_rate_limited},
      {"unauthorized", s.unauthorized},
      {"undocumented_routes", s.undocumented_routes},
      {"callbacks_sent", s.callbacks_sent},
      {"callbacks_failed", s.callbacks_failed},
      {"callback_attempts", s.callback_attempts},
      {"callbacks_retried", s.callbacks_retried},
      {"callbacks_dropped", s.callbacks_dropped},
      {"audio_served", s.audio_served},
      {"audio_not_found", s.audio_not_found},
      {"audio_stalled", s.audio_stalled},
      {"tasks", tasks},
  };
  rapidjson::StringBuffer buffer;
  Writer w(buffer);
  w.StartObject();
  for (const auto& [name, value] : counters) {
    w.Key(name);
    w.Int64(value);
  }
  w.EndObject();
  return std::string(buffer.GetString(), buffer.GetSize());
}

// {"<task id>": <accepted creates>, ...}, ordered by task id so that two reads compare as text.
std::string SubmissionsJson(const absl::flat_hash_map<std::string, int64_t>& by_task) {
  std::vector<std::pair<std::string, int64_t>> sorted(by_task.begin(), by_task.end());
  std::sort(sorted.begin(), sorted.end());
  rapidjson::StringBuffer buffer;
  Writer w(buffer);
  w.StartObject();
  for (const auto& [task_id, count] : sorted) {
    w.Key(task_id.data(), static_cast<rapidjson::SizeType>(task_id.size()));
    w.Int64(count);
  }
  w.EndObject();
  return std::string(buffer.GetString(), buffer.GetSize());
}

}  // namespace

class ProviderEmulator::Impl {
 public:
  explicit Impl(EmulatorOptions options)
      : options_(std::move(options)),
        faults_(options_.faults),
        scheduler_(options_.clock),
        callbacks_(CallbackPolicy{options_.callback_timeout, options_.callback_max_retries,
                                  options_.callback_retry_backoff},
                   &scheduler_, &stats_, options_.callback_workers),
        port_(options_.port) {}

  ~Impl() { Stop(); }

  absl::Status Start() {
    absl::MutexLock lock(&mu_);
    if (started_) return absl::FailedPreconditionError("the emulator was already started");
    started_ = true;

    server_.new_task_queue = [threads = static_cast<size_t>(options_.server_threads)] {
      return new httplib::ThreadPool(threads);
    };
    // Without it, a keep-alive request waits for the delayed ACK of the previous answer (~40 ms
    // on Linux): 149 requests/s on one connection instead of thousands.
    server_.set_tcp_nodelay(true);
    server_.set_keep_alive_timeout(1);  // bounds how long Stop waits for idle connections
    // httplib closes a keep-alive connection after 5 requests by default, so every fifth poll
    // paid a new TCP connection (and a POST racing the close got an empty reply). 1,000 is
    // nginx's keepalive_requests default, closer to what a provider's front end does.
    server_.set_keep_alive_max_count(1000);
    // httplib's default also sets SO_REUSEPORT, which would let two emulators share a port.
    server_.set_socket_options([this](socket_t sock) {
      int yes = 1;
      setsockopt(sock, SOL_SOCKET, SO_REUSEADDR, &yes, sizeof(yes));
      listen_socket_ = sock;
    });
    int port = options_.port;
    if (port == 0) {
      port = server_.bind_to_any_port(options_.host);
      if (port < 0) {
        return absl::UnavailableError(absl::StrCat("cannot bind ", options_.host, ":0"));
      }
    } else if (!server_.bind_to_port(options_.host, port)) {
      return absl::UnavailableError(absl::StrCat("cannot bind ", options_.host, ":", port));
    }
    port_ = port;
    // httplib listens with a backlog of 5: a burst of concurrent clients would see dropped SYNs
    // and 1 s connect retries. Listening again on Linux raises the backlog.
    if (listen_socket_ != INVALID_SOCKET) ::listen(listen_socket_, SOMAXCONN);

    core_.options = options_;
    core_.public_base_url = std::string(absl::StripSuffix(
        options_.public_base_url.empty() ? PublicDefaultUrl() : options_.public_base_url, "/"));
    core_.scheduler = &scheduler_;
    core_.callbacks = &callbacks_;
    core_.faults = &faults_;
    core_.clips = &clips_;
    core_.stats = &stats_;
    core_.stopping = &stopping_;
    core_.submissions = &submissions_;
    contracts_.push_back(NewKieContract(&core_));
    contracts_.push_back(NewPiapiContract(&core_));
    contracts_.push_back(NewTokenlabContract(&core_));
    contracts_.push_back(NewBeatraContract(&core_));

    RegisterRoutes();
    for (auto& contract : contracts_) contract->RegisterRoutes(&server_);

    scheduler_.Start();
    callbacks_.Start();
    listener_ = std::thread([this] { server_.listen_after_bind(); });
    // Waits on a real socket, so on real time whatever options.clock is.
    const Clock* real = RealClock::Get();
    const absl::Time deadline = real->Now() + absl::Seconds(10);
    while (!server_.is_running()) {
      if (real->Now() > deadline) return absl::DeadlineExceededError("the server did not start");
      absl::SleepFor(absl::Milliseconds(1));
    }
    return absl::OkStatus();
  }

  void Stop() {
    {
      absl::MutexLock lock(&mu_);
      if (!started_ || stopped_) return;
      stopped_ = true;
    }
    stopping_.Notify();  // wakes slow answers
    server_.stop();
    if (listener_.joinable()) listener_.join();
    scheduler_.Stop();
    callbacks_.Stop();
  }

  int port() const {
    absl::MutexLock lock(&mu_);
    return port_;
  }

  std::string base_url() const { return absl::StrCat("http://", options_.host, ":", port()); }

  void SetFaults(const FaultConfig& faults) { faults_.Set(faults); }
  FaultConfig faults() const { return faults_.Get(); }
  EmulatorStats stats() const { return stats_.Snapshot(); }
  absl::flat_hash_map<std::string, int64_t> SubmissionsByTask() const {
    return submissions_.Snapshot();
  }

  std::vector<UsageRecord> UsageRecords(const std::string& provider) const {
    absl::MutexLock lock(&mu_);
    for (const auto& contract : contracts_) {
      if (contract->provider() == provider) return contract->UsageRecords();
    }
    return {};
  }

  int64_t TaskCount() const {
    absl::MutexLock lock(&mu_);
    int64_t total = 0;
    for (const auto& contract : contracts_) total += contract->TaskCount();
    return total;
  }

 private:
  std::string PublicDefaultUrl() const ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    std::string host = options_.host;
    if (host == "0.0.0.0" || host == "::" || host.empty()) host = "127.0.0.1";
    return absl::StrCat("http://", host, ":", port_);
  }

  void RegisterRoutes() {
    server_.Get("/_emulator/health", [](const httplib::Request&, httplib::Response& res) {
      SetJson(&res, 200, R"({"status":"ok"})");
    });
    server_.Get("/_emulator/stats", [this](const httplib::Request&, httplib::Response& res) {
      SetJson(&res, 200, StatsJson(stats(), TaskCount()));
    });
    // Ours, not a provider's: how many times the caller submitted each of its tasks.
    server_.Get("/_emulator/submissions", [this](const httplib::Request&, httplib::Response& res) {
      SetJson(&res, 200, SubmissionsJson(SubmissionsByTask()));
    });
    server_.Get("/_emulator/faults", [this](const httplib::Request&, httplib::Response& res) {
      SetJson(&res, 200, FaultsJson(faults()));
    });
    server_.Post("/_emulator/faults", [this](const httplib::Request& req, httplib::Response& res) {
      FaultConfig config = faults();
      if (absl::Status status = ApplyFaultsJson(req.body, &config); !status.ok()) {
        SetJson(&res, 422, ErrorJson(422, status.message()));
        return;
      }
      SetFaults(config);
      SetJson(&res, 200, FaultsJson(config));
    });
    server_.Get("/_emulator/usage", [this](const httplib::Request& req, httplib::Response& res) {
      ServeUsage(req, &res);
    });
    server_.Get(R"(/audio/([A-Za-z0-9_-]+)\.wav)",
                [this](const httplib::Request& req, httplib::Response& res) {
                  ServeAudio(req.matches[1], /*stream=*/false, &res);
                });
    server_.Get(R"(/stream/([A-Za-z0-9_-]+))",
                [this](const httplib::Request& req, httplib::Response& res) {
                  ServeAudio(req.matches[1], /*stream=*/true, &res);
                });
    server_.Get(R"(/images/([A-Za-z0-9_-]+)\.png)",
                [this](const httplib::Request& req, httplib::Response& res) {
                  if (faults_.Get().media_expired) {
                    SetJson(&res, 403, ErrorJson(403, "link expired"));
                    return;
                  }
                  if (!clips_.Find(req.matches[1]).has_value()) {
                    SetJson(&res, 404, ErrorJson(404, "image not found"));
                    return;
                  }
                  res.set_content(TinyPng(), "image/png");
                });
    // Unknown paths (and handlers that set only a status) answer with the JSON envelope.
    server_.set_error_handler([](const httplib::Request&, httplib::Response& res) {
      if (res.body.empty()) {
        SetJson(&res, res.status,
                ErrorJson(res.status, res.status == 404 ? "not found" : "request failed"));
      }
    });
  }

  // GET /_emulator/usage?provider=P&format=jsonl|csv[&missing=N&extra=N&amount=N&duplicate=N
  // &refund=N&seed=S]: the provider's usage export, with the differences applied.
  void ServeUsage(const httplib::Request& req, httplib::Response* res) {
    const std::string provider = req.get_param_value("provider");
    const std::string format_name = req.get_param_value("format");
    if (!HasUsageExport(provider)) {
      SetJson(res, 422, ErrorJson(422, "parameter provider: kie, piapi, tokenlab or beatra"));
      return;
    }
    if (format_name != "jsonl" && format_name != "csv") {
      SetJson(res, 422, ErrorJson(422, "parameter format: jsonl or csv"));
      return;
    }
    std::vector<std::pair<std::string, std::string>> params(req.params.begin(), req.params.end());
    absl::StatusOr<UsageDifferences> differences = ParseUsageDifferences(params);
    if (!differences.ok()) {
      SetJson(res, 422, ErrorJson(422, differences.status().message()));
      return;
    }
    const UsageLayout layout = format_name == "csv" ? UsageLayout::kCsv : UsageLayout::kJsonl;
    absl::StatusOr<std::string> body = WriteUsageExport(
        provider, layout, ApplyUsageDifferences(UsageRecords(provider), *differences));
    if (!body.ok()) {
      SetJson(res, 500, ErrorJson(500, body.status().message()));
      return;
    }
    res->set_content(*body,
                     layout == UsageLayout::kCsv ? "text/csv" : "application/x-ndjson");
  }

  void ServeAudio(const std::string& clip_id, bool stream, httplib::Response* res) {
    if (faults_.Get().media_expired) {
      stats_.Add(&EmulatorStats::audio_not_found);
      SetJson(res, 403, ErrorJson(403, "link expired"));
      return;
    }
    const std::optional<ClipAudio> clip = clips_.Find(clip_id);
    const absl::Time ready = !clip.has_value() ? absl::InfiniteFuture()
                             : stream          ? clip->stream_ready_at
                                               : clip->audio_ready_at;
    if (options_.clock->Now() < ready) {
      stats_.Add(&EmulatorStats::audio_not_found);
      SetJson(res, 404, ErrorJson(404, "audio not found"));
      return;
    }
    // No clip means `ready` is the infinite future, answered above; said again for clang-tidy.
    if (!clip.has_value()) return;
    stats_.Add(&EmulatorStats::audio_served);
    if (!stream && faults_.Get().media_stall) {
      stats_.Add(&EmulatorStats::audio_stalled);
      auto wav = std::make_shared<const std::string>(SynthesizeWav(clip_id, clip->seconds));
      res->set_content_provider(
          wav->size(), "audio/wav", [this, wav](size_t offset, size_t, httplib::DataSink& sink) {
            if (offset == 0) return sink.write(wav->data(), std::min<size_t>(4096, wav->size()));
            while (faults_.Get().media_stall &&
                   !stopping_.WaitForNotificationWithTimeout(absl::Milliseconds(20))) {
            }
            if (stopping_.HasBeenNotified()) return false;
            return sink.write(wav->data() + offset, wav->size() - offset);
          });
      return;
    }
    res->set_content(SynthesizeWav(clip_id, clip->seconds), "audio/wav");
  }

  const EmulatorOptions options_;
  StatsRecorder stats_;
  FaultInjector faults_;
  ClipRegistry clips_;
  SubmissionCounter submissions_;
  Scheduler scheduler_;
  CallbackSender callbacks_;
  absl::Notification stopping_;
  httplib::Server server_;
  EmulatorCore core_;

  mutable absl::Mutex mu_;
  bool started_ ABSL_GUARDED_BY(mu_) = false;
  bool stopped_ ABSL_GUARDED_BY(mu_) = false;
  int port_ ABSL_GUARDED_BY(mu_);
  std::vector<std::unique_ptr<ProviderContract>> contracts_ ABSL_GUARDED_BY(mu_);
  std::thread listener_;
  socket_t listen_socket_ = INVALID_SOCKET;  // set while binding, in Start
};

ProviderEmulator::ProviderEmulator(EmulatorOptions options)
    : impl_(std::make_unique<Impl>(std::move(options))) {}

ProviderEmulator::~ProviderEmulator() = default;

absl::Status ProviderEmulator::Start() { return impl_->Start(); }
void ProviderEmulator::Stop() { impl_->Stop(); }
int ProviderEmulator::port() const { return impl_->port(); }
std::string ProviderEmulator::base_url() const { return impl_->base_url(); }
void ProviderEmulator::SetFaults(const FaultConfig& faults) { impl_->SetFaults(faults); }
FaultConfig ProviderEmulator::faults() const { return impl_->faults(); }
EmulatorStats ProviderEmulator::stats() const { return impl_->stats(); }
int64_t ProviderEmulator::TaskCount() const { return impl_->TaskCount(); }
absl::flat_hash_map<std::string, int64_t> ProviderEmulator::SubmissionsByTask() const {
  return impl_->SubmissionsByTask();
}

std::vector<UsageRecord> ProviderEmulator::UsageRecords(
    const std::string& provider) const {
  return impl_->UsageRecords(provider);
}

}  // namespace music::emulator
