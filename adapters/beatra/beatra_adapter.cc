// The beatra adapter: builds the requests of WIRE.md, sends them through an HttpClient and turns
// answers into ProviderUpdates. Parsing, the status table, the error table and request bodies
// live in their own files; this file only wires them to the ProviderAdapter calls.

#include "adapters/beatra/beatra_adapter.h"

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
#include "adapters/internal/url_encode.h"
#include "adapters/provider_errors.h"

namespace music::adapters::beatra {
namespace {

constexpr char kTextToMusicPath[] = "/v1/music/text-to-music";
constexpr char kReferenceToMusicPath[] = "/v1/music/reference-audio-to-music";
constexpr char kUploadsPath[] = "/v1/uploads";
constexpr char kTasksPath[] = "/v1/tasks/";

class BeatraAdapter final : public ProviderAdapter {
 public:
  BeatraAdapter(BeatraOptions options, std::shared_ptr<http::HttpClient> client, const Clock* clock)
      : options_(std::move(options)),
        clock_(clock),
        base_url_(absl::StripSuffix(options_.base_url, "/")),
        client_(std::move(client)) {}

  std::string provider() const override { return "beatra"; }

  ResubmitPolicy resubmit_policy() const override { return ResubmitPolicy::kIdempotencyKey; }

  std::vector<music::v1::Model> Models() const override { return BeatraModels(); }

  absl::StatusOr<SubmitResult> Submit(const SubmitRequest& request) override {
    if (request.kind != music::v1::TASK_KIND_MUSIC) {
      return absl::InvalidArgumentError(
          absl::StrCat("beatra cannot run task kind ", music::v1::TaskKind_Name(request.kind)));
    }
    // Without the key a resend could create a second task: never send a create without one.
    if (request.idempotency_key.empty()) {
      return absl::InvalidArgumentError("a beatra create needs an idempotency key");
    }
    absl::StatusOr<std::string> body = BuildBeatraCreateBody(request);
    if (!body.ok()) return Clean(body.status(), "");

    const char* path =
        request.reference_artifact_id.empty() ? kTextToMusicPath : kReferenceToMusicPath;
    const std::string operation = absl::StrCat("POST ", path);
    http::Request http_request = NewRequest("POST", path, options_.request_timeout);
    http_request.headers.emplace_back("Content-Type", "application/json");
    // The same key on every attempt of this task (CONTRACT-NOTES: 24 h dedupe window).
    http_request.headers.emplace_back("Idempotency-Key", request.idempotency_key);
    http_request.body = *std::move(body);
    absl::StatusOr<http::Response> response = client_->Send(http_request);
    if (!response.ok()) return Clean(response.status(), operation);
    if (absl::Status s = CheckBeatraAnswer(*response, operation, clock_->Now()); !s.ok()) {
      return Clean(s, "");
    }
    // The Idempotency-Key makes a resend of an outcome-unknown create return that same task.
    absl::StatusOr<std::string> task_id =
        internal::ReadAcceptedCreateAnswer(ParseBeatraCreateAnswer(response->body));
    if (!task_id.ok()) return Clean(task_id.status(), WithRequestId(operation, *response));
    SubmitResult result;
    result.provider_task_id = *std::move(task_id);
    result.endpoint = path;
    return result;
  }

  absl::StatusOr<ProviderUpdate> Poll(const PollTarget& target) override {
    if (target.kind != music::v1::TASK_KIND_MUSIC) {
      return absl::InvalidArgumentError(
          absl::StrCat("beatra cannot poll task kind ", music::v1::TaskKind_Name(target.kind)));
    }
    if (target.provider_task_id.empty()) return absl::InvalidArgumentError("empty beatra task id");
    const std::string operation = absl::StrCat("GET ", kTasksPath, "{id}");
    http::Request http_request =
        NewRequest("GET", absl::StrCat(kTasksPath, internal::UrlEncode(target.provider_task_id)),
                   options_.request_timeout);
    absl::StatusOr<http::Response> response = client_->Send(http_request);
    if (!response.ok()) return Clean(response.status(), operation);
    if (absl::Status s = CheckBeatraAnswer(*response, operation, clock_->Now()); !s.ok()) {
      return Clean(s, "");
    }
    absl::StatusOr<ProviderUpdate> update = ParseBeatraTask(response->body);
    if (!update.ok()) return Clean(update.status(), WithRequestId(operation, *response));
    if (absl::Status s = internal::RequireAnswerForTask("beatra", target.provider_task_id, *update);
        !s.ok()) {
      return Clean(s, operation);
    }
    update->error_message = Redact(update->error_message, options_.api_key);
    return update;
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
        options_.request_timeout);
    http_request.headers.emplace_back("Content-Type", "application/json");
    http_request.body = "{}";
    absl::StatusOr<http::Response> response = client_->Send(http_request);
    if (!response.ok()) return Clean(response.status(), operation);
    // Best effort and idempotent (CONTRACT-NOTES): a task that already ended has nothing to
    // cancel, which is not an error for the caller.
    if (response->status == 409) return absl::OkStatus();
    if (absl::Status s = CheckBeatraAnswer(*response, operation, clock_->Now()); !s.ok()) {
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
    http::Request http_request = NewRequest("POST", kUploadsPath, options_.upload_timeout);
    http_request.headers.emplace_back("Content-Type",
                                      absl::StrCat("multipart/form-data; boundary=", boundary));
    http_request.body = BuildUploadBody(upload, boundary);
    absl::StatusOr<http::Response> response = client_->Send(http_request);
    if (!response.ok()) return Clean(response.status(), operation);
    if (absl::Status s = CheckBeatraAnswer(*response, operation, clock_->Now()); !s.ok()) {
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
    http::Request request;
    request.method = std::string(method);
    request.url = absl::StrCat(base_url_, path);
    request.headers.emplace_back("Authorization", absl::StrCat("Bearer ", options_.api_key));
    request.headers.emplace_back("Accept", "application/json");
    request.timeout = timeout;
    return request;
  }

  // "<operation> (request id X)" when the answer carries X-Request-Id, for support.
  static std::string WithRequestId(absl::string_view operation, const http::Response& response) {
    const absl::string_view id = http::FindHeader(response.headers, "X-Request-Id");
    if (id.empty()) return std::string(operation);
    return absl::StrCat(operation, " (request id ", absl::CEscape(id.substr(0, 128)), ")");
  }

  // Prefixes `operation` (when given) and strips the API key from the message, whatever it came
  // from (libcurl, a provider message), keeping the status payloads.
  absl::Status Clean(const absl::Status& status, absl::string_view operation) const {
    const std::string message = operation.empty()
                                    ? std::string(status.message())
                                    : absl::StrCat("beatra ", operation, ": ", status.message());
    absl::Status out = WithMessage(status, Redact(message, options_.api_key));
    // The provider's code is echoed from the answer too, so it can carry the key as well.
    if (const std::string code = GetProviderErrorCode(out); !code.empty()) {
      SetProviderErrorCode(out, Redact(code, options_.api_key));
    }
    return out;
  }

  const BeatraOptions options_;
  const Clock* const clock_;
  const std::string base_url_;  // without a trailing "/"
  const std::shared_ptr<http::HttpClient> client_;
};

}  // namespace

std::unique_ptr<ProviderAdapter> NewBeatraAdapter(BeatraOptions options,
                                                  std::shared_ptr<http::HttpClient> client,
                                                  const Clock* clock) {
  return std::make_unique<BeatraAdapter>(std::move(options), std::move(client), clock);
}

}  // namespace music::adapters::beatra
