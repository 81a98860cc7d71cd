// The kie.ai Suno adapter: builds the requests of WIRE.md, sends them through an HttpClient and
// turns answers and callbacks into ProviderUpdates. Parsing, the status table, the error table
// and signatures live in their own files; this file only wires them to the ProviderAdapter calls.

#include "adapters/kie/kie_adapter.h"

#include <rapidjson/stringbuffer.h>

#include <cmath>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/strip.h"
#include "adapters/internal/answer_rules.h"
#include "adapters/internal/async_call.h"
#include "adapters/internal/json_writer.h"
#include "adapters/internal/url_encode.h"
#include "adapters/kie/kie_clip_operations.h"
#include "adapters/kie/kie_audio_operations.h"
#include "adapters/kie/kie_errors.h"
#include "adapters/kie/kie_file_upload.h"
#include "adapters/kie/kie_json.h"
#include "adapters/kie/kie_models.h"
#include "adapters/kie/kie_request_body.h"
#include "adapters/kie/kie_signature.h"
#include "adapters/provider_errors.h"

namespace music::adapters::kie {
namespace {

using music::v1::TaskKind;

constexpr char kGeneratePath[] = "/api/v1/generate";
constexpr char kExtendPath[] = "/api/v1/generate/extend";
constexpr char kLyricsPath[] = "/api/v1/lyrics";
constexpr char kMusicRecordPath[] = "/api/v1/generate/record-info";
constexpr char kLyricsRecordPath[] = "/api/v1/lyrics/record-info";
constexpr char kTimestampedLyricsPath[] = "/api/v1/generate/get-timestamped-lyrics";
constexpr char kStylePath[] = "/api/v1/style/generate";
constexpr char kCreditPath[] = "/api/v1/chat/credit";
constexpr char kFileStreamUploadPath[] = "/api/file-stream-upload";

// The adapter's configuration. Immutable, and shared with the completions of SubmitAsync and
// PollAsync, so an answer that arrives after the adapter is gone is still read safely.
struct KieConfig {
  KieConfig(KieOptions options_in, const Clock* clock_in)
      : options(std::move(options_in)),
        base_url(absl::StripSuffix(options.base_url, "/")),
        upload_base_url(absl::StripSuffix(options.upload_base_url, "/")),
        clock(clock_in) {}

  http::Request NewRequest(absl::string_view method, absl::string_view path_and_query) const {
    http::Request request;
    request.method = std::string(method);
    request.url = absl::StrCat(base_url, path_and_query);
    request.headers.emplace_back("Authorization", absl::StrCat("Bearer ", options.api_key));
    request.headers.emplace_back("Accept", "application/json");
    request.timeout = options.request_timeout;
    return request;
  }

  // Prefixes `operation` (when given) and strips the API key from the message, whatever the
  // message came from (libcurl, a provider `msg`), keeping the status payloads.
  absl::Status Clean(const absl::Status& status, absl::string_view operation) const {
    const std::string message = operation.empty()
                                    ? std::string(status.message())
                                    : absl::StrCat("kie.ai ", operation, ": ", status.message());
    return WithMessage(status, Redact(message, options.api_key));
  }

  const KieOptions options;
  const std::string base_url;         // without a trailing "/"
  const std::string upload_base_url;  // without a trailing "/"
  const Clock* const clock;
};

// A create: the request to send, and what reading its answer needs.
struct SubmitCall {
  http::Request http;
  const char* path = nullptr;
  std::string operation;
  bool lyrics_create = false;
  // A WAV create: code 409 names the earlier WAV task of the clip, which is adopted.
  bool wav_create = false;
};

absl::StatusOr<SubmitCall> BuildSubmit(const KieConfig& config, const SubmitRequest& request) {
  const music::v1::TaskInput& input = request.input;
  const char* path = nullptr;
  std::string body;
  switch (request.kind) {
    case music::v1::TASK_KIND_MUSIC:
      if (request.provider_model.empty()) return absl::InvalidArgumentError("no kie.ai model");
      path = kGeneratePath;
      body = BuildGenerateBody(input, request.provider_model, request.callback_url);
      break;
    case music::v1::TASK_KIND_CONTINUATION:
      if (request.provider_model.empty()) return absl::InvalidArgumentError("no kie.ai model");
      if (input.continue_from_clip_id().empty()) {
        return absl::InvalidArgumentError("a continuation needs continue_from_clip_id");
      }
      // JSON has no NaN or infinity; such a value would corrupt the body.
      if (!std::isfinite(input.continue_at_seconds()) || input.continue_at_seconds() < 0) {
        return absl::InvalidArgumentError("continue_at_seconds must be a finite number >= 0");
      }
      path = kExtendPath;
      body = BuildExtendBody(input, request.provider_model, request.callback_url);
      break;
    case music::v1::TASK_KIND_LYRICS:
      path = kLyricsPath;
      body = BuildLyricsBody(input, request.callback_url);
      break;
    case music::v1::TASK_KIND_CLIP_OPERATION: {
      absl::StatusOr<ClipOperationCreate> create =
          BuildClipOperationCreate(input, request.callback_url);
      if (!create.ok()) return create.status();
      path = create->path;
      body = std::move(create->body);
      break;
    }
    case music::v1::TASK_KIND_AUDIO_OPERATION: {
      // The audio is the downloadUrl UploadReferenceAudio returned (kie_file_upload.h).
      absl::StatusOr<std::string> built = BuildKieAudioOperationBody(
          input, request.provider_model, request.callback_url, request.reference_artifact_id);
      if (!built.ok()) return built.status();
      path = KieAudioOperationPath(input.audio_operation());
      body = *std::move(built);
      break;
    }
    default:
      return absl::InvalidArgumentError(
          absl::StrCat("kie.ai cannot run task kind ", music::v1::TaskKind_Name(request.kind)));
  }

  SubmitCall call;
  call.path = path;
  call.operation = absl::StrCat("POST ", path);
  call.lyrics_create = request.kind == music::v1::TASK_KIND_LYRICS;
  call.wav_create = request.kind == music::v1::TASK_KIND_CLIP_OPERATION &&
                    input.clip_operation() == music::v1::CLIP_OPERATION_CONVERT_TO_WAV;
  call.http = config.NewRequest("POST", path);
  call.http.headers.emplace_back("Content-Type", "application/json");
  call.http.body = std::move(body);
  call.http.urgent = true;  // a create goes ahead of queued polls (http_types.h)
  return call;
}

absl::StatusOr<SubmitResult> ReadSubmit(const KieConfig& config, const SubmitCall& call,
                                        const absl::StatusOr<http::Response>& response) {
  if (!response.ok()) return config.Clean(response.status(), call.operation);
  if (call.wav_create) {
    // 409: "a WAV for that clip exists already", `data` names the earlier task (CONTRACT-NOTES):
    // that task is this clip's WAV, so it is adopted rather than failing the operation.
    if (std::optional<std::string> earlier = ParseKieWavConflict(response->body)) {
      SubmitResult result;
      result.provider_task_id = *std::move(earlier);
      result.endpoint = call.path;
      return result;
    }
  }
  if (absl::Status s =
          CheckKieAnswer(*response, call.operation, call.lyrics_create, config.clock->Now());
      !s.ok()) {
    return config.Clean(s, "");
  }
  absl::StatusOr<std::string> task_id =
      internal::ReadAcceptedCreateAnswer(ParseKieCreateAnswer(response->body));
  if (!task_id.ok()) return config.Clean(task_id.status(), call.operation);
  SubmitResult result;
  result.provider_task_id = *std::move(task_id);
  result.endpoint = call.path;
  return result;
}

// A poll: the request to send, and what reading its answer needs.
struct PollCall {
  http::Request http;
  std::string operation;
  std::string provider_task_id;
  bool lyrics = false;
  music::v1::ClipOperation clip_operation = music::v1::CLIP_OPERATION_UNSPECIFIED;
};

absl::StatusOr<PollCall> BuildPoll(const KieConfig& config, const PollTarget& target) {
  const TaskKind kind = target.kind;
  const bool lyrics = kind == music::v1::TASK_KIND_LYRICS;
  const bool clip_operation = kind == music::v1::TASK_KIND_CLIP_OPERATION;
  // The audio operations are music tasks at kie.ai: generate's record-info reports them
  // (`operationType` upload_cover / upload_extend, CONTRACT-NOTES.md).
  if (!lyrics && !clip_operation && kind != music::v1::TASK_KIND_MUSIC &&
      kind != music::v1::TASK_KIND_CONTINUATION && kind != music::v1::TASK_KIND_AUDIO_OPERATION) {
    return absl::InvalidArgumentError(
        absl::StrCat("kie.ai cannot poll task kind ", music::v1::TaskKind_Name(kind)));
  }
  if (target.provider_task_id.empty()) return absl::InvalidArgumentError("empty kie.ai task id");

  const char* path = lyrics ? kLyricsRecordPath : kMusicRecordPath;
  if (clip_operation) {
    path = ClipOperationRecordPath(target.clip_operation);
    if (path == nullptr) return absl::InvalidArgumentError("no kie.ai clip operation to poll");
  }
  PollCall call;
  call.clip_operation =
      clip_operation ? target.clip_operation : music::v1::CLIP_OPERATION_UNSPECIFIED;
  call.operation = absl::StrCat("GET ", path);
  call.provider_task_id = target.provider_task_id;
  call.lyrics = lyrics;
  call.http = config.NewRequest(
      "GET", absl::StrCat(path, "?taskId=", internal::UrlEncode(target.provider_task_id)));
  return call;
}

absl::StatusOr<ProviderUpdate> ReadPoll(const KieConfig& config, const PollCall& call,
                                        const absl::StatusOr<http::Response>& response) {
  if (!response.ok()) return config.Clean(response.status(), call.operation);
  if (absl::Status s =
          CheckKieAnswer(*response, call.operation, /*lyrics_create=*/false, config.clock->Now());
      !s.ok()) {
    return config.Clean(s, "");
  }

  absl::StatusOr<ProviderUpdate> update =
      call.clip_operation != music::v1::CLIP_OPERATION_UNSPECIFIED
          ? ParseKieClipOperationRecord(call.clip_operation, response->body)
      : call.lyrics ? ParseKieLyricsRecord(response->body)
                    : ParseKieMusicRecord(response->body);
  if (!update.ok()) return config.Clean(update.status(), call.operation);
  if (absl::Status s = internal::RequireAnswerForTask("kie.ai", call.provider_task_id, *update);
      !s.ok()) {
    return config.Clean(s, call.operation);
  }
  update->error_message = Redact(update->error_message, config.options.api_key);
  return update;
}

class KieAdapter final : public ProviderAdapter {
 public:
  KieAdapter(KieOptions options, std::shared_ptr<http::HttpClient> client, const Clock* clock)
      : config_(std::make_shared<const KieConfig>(std::move(options), clock)),
        client_(std::move(client)) {}

  std::string provider() const override { return "kie"; }

  ResubmitPolicy resubmit_policy() const override { return ResubmitPolicy::kAtMostOnce; }

  std::vector<music::v1::Model> Models() const override { return KieModels(); }

  absl::StatusOr<SubmitResult> Submit(const SubmitRequest& request) override {
    absl::StatusOr<SubmitCall> call = BuildSubmit(*config_, request);
    if (!call.ok()) return call.status();
    return ReadSubmit(*config_, *call, client_->Send(call->http));
  }

  void SubmitAsync(const SubmitRequest& request, SubmitCallback done) override {
    internal::SendCall(*client_, config_, BuildSubmit(*config_, request), &ReadSubmit,
                       std::move(done));
  }

  absl::StatusOr<ProviderUpdate> Poll(const PollTarget& target) override {
    absl::StatusOr<PollCall> call = BuildPoll(*config_, target);
    if (!call.ok()) return call.status();
    return ReadPoll(*config_, *call, client_->Send(call->http));
  }

  void PollAsync(const PollTarget& target, PollCallback done) override {
    internal::SendCall(*client_, config_, BuildPoll(*config_, target), &ReadPoll, std::move(done));
  }

  absl::StatusOr<ProviderUpdate> ParseCallback(TaskKind kind,
                                               const http::Request& request) override {
    const bool signed_callbacks = !config_->options.webhook_hmac_key.empty();
    const absl::string_view timestamp = http::FindHeader(request.headers, "X-Webhook-Timestamp");
    const absl::string_view signature = http::FindHeader(request.headers, "X-Webhook-Signature");
    if (signed_callbacks && (timestamp.empty() || signature.empty())) {
      return absl::UnauthenticatedError("kie.ai callback without X-Webhook-Timestamp/Signature");
    }

    absl::StatusOr<ProviderUpdate> update;
    switch (kind) {
      case music::v1::TASK_KIND_MUSIC:
      case music::v1::TASK_KIND_CONTINUATION:
      case music::v1::TASK_KIND_AUDIO_OPERATION:  // "results like generate" (CONTRACT-NOTES.md)
        update = ParseKieMusicCallback(request.body);
        break;
      case music::v1::TASK_KIND_LYRICS:
        update = ParseKieLyricsCallback(request.body);
        break;
      case music::v1::TASK_KIND_CLIP_OPERATION:
        update = ParseKieClipOperationCallback(request.body);
        break;
      default:
        return absl::InvalidArgumentError(
            absl::StrCat("no kie.ai callbacks for task kind ", music::v1::TaskKind_Name(kind)));
    }
    if (!update.ok()) return Clean(update.status(), "");

    if (signed_callbacks) {
      if (absl::Status s = CheckSignature(update->provider_task_id, timestamp, signature);
          !s.ok()) {
        return s;
      }
    }
    update->error_message = Redact(update->error_message, config_->options.api_key);
    return update;
  }

  absl::Status Cancel(absl::string_view provider_task_id) override {
    return absl::UnimplementedError("kie.ai has no cancel API");
  }

  absl::StatusOr<music::v1::GetTimestampedLyricsResponse> GetTimestampedLyrics(
      const ClipRef& clip) override {
    if (clip.provider_task_id.empty() || clip.clip_id.empty()) {
      return absl::InvalidArgumentError("kie.ai timestamped lyrics need taskId and audioId");
    }
    rapidjson::StringBuffer buffer;
    internal::JsonWriter w(buffer);
    w.StartObject();
    internal::PutString(w, "taskId", clip.provider_task_id);
    internal::PutString(w, "audioId", clip.clip_id);
    w.EndObject();
    absl::StatusOr<std::string> body =
        Call("POST", kTimestampedLyricsPath, std::string(buffer.GetString(), buffer.GetSize()));
    if (!body.ok()) return body.status();
    auto parsed = ParseKieTimestampedLyrics(*body);
    if (!parsed.ok()) return Clean(parsed.status(), absl::StrCat("POST ", kTimestampedLyricsPath));
    return parsed;
  }

  absl::StatusOr<StyleBoost> BoostStyle(absl::string_view content) override {
    rapidjson::StringBuffer buffer;
    internal::JsonWriter w(buffer);
    w.StartObject();
    internal::PutString(w, "content", content);
    w.EndObject();
    absl::StatusOr<std::string> body =
        Call("POST", kStylePath, std::string(buffer.GetString(), buffer.GetSize()));
    if (!body.ok()) return body.status();
    auto parsed = ParseKieStyleBoost(*body);
    if (!parsed.ok()) return Clean(parsed.status(), absl::StrCat("POST ", kStylePath));
    return parsed;
  }

  absl::StatusOr<ProviderBalance> GetBalance() override {
    absl::StatusOr<std::string> body = Call("GET", kCreditPath, "");
    if (!body.ok()) return body.status();
    auto parsed = ParseKieCredit(*body);
    if (!parsed.ok()) return Clean(parsed.status(), absl::StrCat("GET ", kCreditPath));
    return parsed;
  }

  // Stores the audio with the file upload API and returns its downloadUrl, which the audio
  // operations send as `uploadUrl` (so the caller's own URL never reaches kie.ai). kie.ai deletes
  // the file after 3 days: a reference_audio_id is good for that long.
  absl::StatusOr<std::string> UploadReferenceAudio(const ReferenceAudioUpload& upload) override {
    if (upload.bytes.empty()) return absl::InvalidArgumentError("empty reference audio");
    if (upload.bytes.size() > kKieMaxUploadBytes) {
      return absl::InvalidArgumentError(absl::StrCat("reference audio of ", upload.bytes.size(),
                                                     " bytes is over the 100 MiB limit"));
    }
    const std::string operation = absl::StrCat("POST ", kFileStreamUploadPath);
    const std::string boundary = NewKieMultipartBoundary(upload.bytes);
    http::Request http_request;
    http_request.method = "POST";
    http_request.url = absl::StrCat(config_->upload_base_url, kFileStreamUploadPath);
    http_request.headers.emplace_back("Authorization",
                                      absl::StrCat("Bearer ", config_->options.api_key));
    http_request.headers.emplace_back("Accept", "application/json");
    http_request.headers.emplace_back("Content-Type",
                                      absl::StrCat("multipart/form-data; boundary=", boundary));
    http_request.timeout = config_->options.upload_timeout;
    http_request.body = BuildKieFileUploadBody(upload, boundary);
    absl::StatusOr<http::Response> response = client_->Send(http_request);
    if (!response.ok()) return Clean(response.status(), operation);
    if (absl::Status s = CheckKieAnswer(*response, operation, /*lyrics_create=*/false,
                                        config_->clock->Now());
        !s.ok()) {
      return Clean(s, "");
    }
    absl::StatusOr<std::string> url = ParseKieFileUploadAnswer(response->body);
    if (!url.ok()) return Clean(url.status(), operation);
    return url;
  }

 private:
  // One synchronous call (the answer is the result): sends, checks the envelope, returns the
  // body. Errors as Submit's.
  absl::StatusOr<std::string> Call(absl::string_view method, absl::string_view path,
                                   std::string body) const {
    const std::string operation = absl::StrCat(method, " ", path);
    http::Request request = config_->NewRequest(method, path);
    if (method == "POST") {
      request.headers.emplace_back("Content-Type", "application/json");
      request.body = std::move(body);
    }
    absl::StatusOr<http::Response> response = client_->Send(request);
    if (!response.ok()) return Clean(response.status(), operation);
    if (absl::Status s =
            CheckKieAnswer(*response, operation, /*lyrics_create=*/false, config_->clock->Now());
        !s.ok()) {
      return Clean(s, "");
    }
    return response->body;
  }

  // The signature covers task id and timestamp only (WIRE.md), so the timestamp's age is what
  // limits replaying a captured delivery.
  absl::Status CheckSignature(absl::string_view task_id, absl::string_view timestamp,
                              absl::string_view signature) const {
    int64_t seconds = 0;
    if (!absl::SimpleAtoi(timestamp, &seconds)) {
      return absl::UnauthenticatedError("kie.ai callback timestamp is not unix seconds");
    }
    const absl::Duration age =
        absl::AbsDuration(config_->clock->Now() - absl::FromUnixSeconds(seconds));
    if (age > config_->options.max_signature_age) {
      return absl::UnauthenticatedError("kie.ai callback timestamp is too old or in the future");
    }
    if (!VerifyKieCallbackSignature(config_->options.webhook_hmac_key, task_id, timestamp,
                                    signature)) {
      return absl::UnauthenticatedError("kie.ai callback signature does not match");
    }
    return absl::OkStatus();
  }

  absl::Status Clean(const absl::Status& status, absl::string_view operation) const {
    return config_->Clean(status, operation);
  }

  const std::shared_ptr<const KieConfig> config_;
  const std::shared_ptr<http::HttpClient> client_;
};

}  // namespace

std::unique_ptr<ProviderAdapter> NewKieAdapter(KieOptions options,
                                               std::shared_ptr<http::HttpClient> client,
                                               const Clock* clock) {
  return std::make_unique<KieAdapter>(std::move(options), std::move(client), clock);
}

}  // namespace music::adapters::kie
