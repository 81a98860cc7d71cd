// The beatra adapter: builds the requests of WIRE.md, sends them through an HttpClient and turns
// answers into ProviderUpdates. Parsing, the status table, the error table and request bodies
// live in their own files; this file only wires them to the ProviderAdapter calls.

#include "adapters/beatra/beatra_adapter.h"

#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/strip.h"
#include "adapters/beatra/beatra_errors.h"
#include "adapters/beatra/beatra_json.h"
#include "adapters/beatra/beatra_models.h"
#include "adapters/beatra/beatra_request_body.h"
#include "adapters/internal/answer_rules.h"
#include "adapters/internal/async_call.h"
#include "adapters/internal/url_encode.h"
#include "adapters/provider_errors.h"

namespace music::adapters::beatra {
namespace {

constexpr char kTextToMusicPath[] = "/v1/music/text-to-music";
constexpr char kReferenceToMusicPath[] = "/v1/music/reference-audio-to-music";
constexpr char kUploadsPath[] = "/v1/uploads";
constexpr char kTasksPath[] = "/v1/tasks/";

// "<operation> (request id X)" when the answer carries X-Request-Id, for support.
std::string WithRequestId(absl::string_view operation, const http::Response& response) {
  const absl::string_view id = http::FindHeader(response.headers, "X-Request-Id");
  if (id.empty()) return std::string(operation);
  return absl::StrCat(operation, " (request id ", absl::CEscape(id.substr(0, 128)), ")");
}

// The adapter's configuration. Immutable, and shared with the completions of SubmitAsync and
// PollAsync, so an answer that arrives after the adapter is gone is still read safely.
struct BeatraConfig {
  BeatraConfig(BeatraOptions options_in, const Clock* clock_in)
      : options(std::move(options_in)),
        clock(clock_in),
        base_url(absl::StripSuffix(options.base_url, "/")) {}

  http::Request NewRequest(absl::string_view method, absl::string_view path,
                           absl::Duration timeout) const {
    http::Request request;
    request.method = std::string(method);
    request.url = absl::StrCat(base_url, path);
    request.headers.emplace_back("Authorization", absl::StrCat("Bearer ", options.api_key));
    request.headers.emplace_back("Accept", "application/json");
    request.timeout = timeout;
    return request;
  }

  // Prefixes `operation` (when given) and strips the API key from the message, whatever it came
  // from (libcurl, a provider message), keeping the status payloads.
  absl::Status Clean(const absl::Status& status, absl::string_view operation) const {
    const std::string message = operation.empty()
                                    ? std::string(status.message())
                                    : absl::StrCat("beatra ", operation, ": ", status.message());
    absl::Status out = WithMessage(status, Redact(message, options.api_key));
    // The provider's code is echoed from the answer too, so it can carry the key as well.
    if (const std::string code = GetProviderErrorCode(out); !code.empty()) {
      SetProviderErrorCode(out, Redact(code, options.api_key));
    }
    return out;
  }

  const BeatraOptions options;
  const Clock* const clock;
  const std::string base_url;  // without a trailing "/"
};

// A create or a poll: the request to send, and what reading its answer needs.
struct SubmitCall {
  http::Request http;
  const char* path = nullptr;
  std::string operation;
};
struct PollCall {
  http::Request http;
  std::string operation;
  std::string provider_task_id;
};

absl::StatusOr<SubmitCall> BuildSubmit(const BeatraConfig& config, const SubmitRequest& request) {
  if (request.kind != music::v1::TASK_KIND_MUSIC) {
    return absl::InvalidArgumentError(
        absl::StrCat("beatra cannot run task kind ", music::v1::TaskKind_Name(request.kind)));
  }
  // Without the key a resend could create a second task: never send a create without one.
  if (request.idempotency_key.empty()) {
    return absl::InvalidArgumentError("a beatra create needs an idempotency key");
  }
  absl::StatusOr<std::string> body = BuildBeatraCreateBody(request);
  if (!body.ok()) return config.Clean(body.status(), "");

  SubmitCall call;
  call.path = request.reference_artifact_id.empty() ? kTextToMusicPath : kReferenceToMusicPath;
  call.operation = absl::StrCat("POST ", call.path);
  call.http = config.NewRequest("POST", call.path, config.options.request_timeout);
  call.http.headers.emplace_back("Content-Type", "application/json");
  // The same key on every attempt of this task (CONTRACT-NOTES: 24 h dedupe window).
  call.http.headers.emplace_back("Idempotency-Key", request.idempotency_key);
  call.http.body = *std::move(body);
  call.http.urgent = true;  // a create goes ahead of queued polls (http_types.h)
  return call;
}

absl::StatusOr<SubmitResult> ReadSubmit(const BeatraConfig& config, const SubmitCall& call,
                                        const absl::StatusOr<http::Response>& response) {
  if (!response.ok()) return config.Clean(response.status(), call.operation);
  if (absl::Status s = CheckBeatraAnswer(*response, call.operation, config.clock->Now()); !s.ok()) {
    return config.Clean(s, "");
  }
  // The Idempotency-Key makes a resend of an outcome-unknown create return that same task.
  absl::StatusOr<std::string> task_id =
      internal::ReadAcceptedCreateAnswer(ParseBeatraCreateAnswer(response->body));
  if (!task_id.ok()) {
    return config.Clean(task_id.status(), WithRequestId(call.operation, *response));
  }
  SubmitResult result;
  result.provider_task_id = *std::move(task_id);
  result.endpoint = call.path;
  return result;
}

absl::StatusOr<PollCall> BuildPoll(const BeatraConfig& config, const PollTarget& target) {
  if (target.kind != music::v1::TASK_KIND_MUSIC) {
    return absl::InvalidArgumentError(
        absl::StrCat("beatra cannot poll task kind ", music::v1::TaskKind_Name(target.kind)));
  }
  if (target.provider_task_id.empty()) return absl::InvalidArgumentError("empty beatra task id");
  PollCall call;
  call.operation = absl::StrCat("GET ", kTasksPath, "{id}");
  call.provider_task_id = target.provider_task_id;
  call.http = config.NewRequest(
      "GET", absl::StrCat(kTasksPath, internal::UrlEncode(target.provider_task_id)),
      config.options.request_timeout);
  return call;
}

absl::StatusOr<ProviderUpdate> ReadPoll(const BeatraConfig& config, const PollCall& call,
                                        const absl::StatusOr<http::Response>& response) {
  if (!response.ok()) return config.Clean(response.status(), call.operation);
  if (absl::Status s = CheckBeatraAnswer(*response, call.operation, config.clock->Now()); !s.ok()) {
    return config.Clean(s, "");
  }
  absl::StatusOr<ProviderUpdate> update = ParseBeatraTask(response->body);
  if (!update.ok()) return config.Clean(update.status(), WithRequestId(call.operation, *response));
  if (absl::Status s = internal::RequireAnswerForTask("beatra", call.provider_task_id, *update);
      !s.ok()) {
    return config.Clean(s, call.operation);
  }
  update->error_message = Redact(update->error_message, config.options.api_key);
  return update;
}

class BeatraAdapter final : public ProviderAdapter {
 public:
  BeatraAdapter(BeatraOptions options, std::shared_ptr<http::HttpClient> client, const Clock* clock)
      : config_(std::make_shared<const BeatraConfig>(std::move(options), clock)),
        client_(std::move(client)) {}

  std::string provider() const override { return "beatra"; }

  ResubmitPolicy resubmit_policy() const override { return ResubmitPolicy::kIdempotencyKey; }

  std::vector<music::v1::Model> Models() const override { return BeatraModels(); }

  absl::StatusOr<SubmitResult> Submit(const SubmitRequest& request) override {
    absl::StatusOr<SubmitCall> call = BuildSubmit(*config_, request);
    if (!call.ok()) return call.status();
    return ReadSubmit(*config_, *call, client_->Send(call->http));
  }

  // The reference-audio upload a create may need is its own call (UploadReferenceAudio, made
  // by the service first), so a create is always one request.
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

  absl::StatusOr<ProviderUpdate> ParseCallback(music::v1::TaskKind kind,
                                               const http::Request& request) override {
    return absl::UnimplementedError("beatra customer callbacks are Planned (seed 002): poll");
  }

  absl::Status Cancel(absl::string_view provider_task_id) override {
    if (provider_task_id.empty()) return absl::InvalidArgumentError("empty beatra task id");
    const std::string operation = absl::StrCat("POST ", kTasksPath, "{id}/cancel");
    http::Request http_request = NewRequest(
        "POST", absl::StrCat(kTasksPath, internal::UrlEncode(provider_task_id), "/cancel"),
        config_->options.request_timeout);
    http_request.headers.emplace_back("Content-Type", "application/json");
    http_request.body = "{}";
    absl::StatusOr<http::Response> response = client_->Send(http_request);
    if (!response.ok()) return Clean(response.status(), operation);
    // Best effort and idempotent (CONTRACT-NOTES): a task that already ended has nothing to
    // cancel, which is not an error for the caller.
    if (response->status == 409) return absl::OkStatus();
    if (absl::Status s = CheckBeatraAnswer(*response, operation, config_->clock->Now()); !s.ok()) {
      return Clean(s, "");
    }
    return absl::OkStatus();
  }

  absl::StatusOr<std::string> UploadReferenceAudio(const ReferenceAudioUpload& upload) override {
    if (upload.bytes.empty()) return absl::InvalidArgumentError("empty reference audio");
    if (upload.bytes.size() > kMaxUploadBytes) {
      return absl::InvalidArgumentError(absl::StrCat("reference audio of ", upload.bytes.size(),
                                                     " bytes is over beatra's 100 MiB limit"));
    }
    const std::string operation = absl::StrCat("POST ", kUploadsPath);
    const std::string boundary = NewMultipartBoundary(upload.bytes);
    http::Request http_request = NewRequest("POST", kUploadsPath, config_->options.upload_timeout);
    http_request.headers.emplace_back("Content-Type",
                                      absl::StrCat("multipart/form-data; boundary=", boundary));
    http_request.body = BuildUploadBody(upload, boundary);
    absl::StatusOr<http::Response> response = client_->Send(http_request);
    if (!response.ok()) return Clean(response.status(), operation);
    if (absl::Status s = CheckBeatraAnswer(*response, operation, config_->clock->Now()); !s.ok()) {
      return Clean(s, "");
    }
    absl::StatusOr<std::string> artifact_id = ParseBeatraUploadAnswer(response->body);
    if (!artifact_id.ok()) {
      return Clean(artifact_id.status(), WithRequestId(operation, *response));
    }
    return artifact_id;
  }

 private:
  http::Request NewRequest(absl::string_view method, absl::string_view path,
                           absl::Duration timeout) const {
    return config_->NewRequest(method, path, timeout);
  }

  absl::Status Clean(const absl::Status& status, absl::string_view operation) const {
    return config_->Clean(status, operation);
  }

  const std::shared_ptr<const BeatraConfig> config_;
  const std::shared_ptr<http::HttpClient> client_;
};

}  // namespace

std::unique_ptr<ProviderAdapter> NewBeatraAdapter(BeatraOptions options,
                                                  std::shared_ptr<http::HttpClient> client,
                                                  const Clock* clock) {
  return std::make_unique<BeatraAdapter>(std::move(options), std::move(client), clock);
}

}  // namespace music::adapters::beatra
