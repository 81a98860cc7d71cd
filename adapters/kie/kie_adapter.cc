// The kie.ai Suno adapter: builds the requests of WIRE.md, sends them through an HttpClient and
// turns answers and callbacks into ProviderUpdates. Parsing, the status table, the error table
// and signatures live in their own files; this file only wires them to the ProviderAdapter calls.

#include "adapters/kie/kie_adapter.h"

#include <cmath>
#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/strip.h"
#include "adapters/internal/answer_rules.h"
#include "adapters/internal/url_encode.h"
#include "adapters/kie/kie_errors.h"
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

class KieAdapter final : public ProviderAdapter {
 public:
  KieAdapter(KieOptions options, std::shared_ptr<http::HttpClient> client, const Clock* clock)
      : options_(std::move(options)),
        base_url_(absl::StripSuffix(options_.base_url, "/")),
        client_(std::move(client)),
        clock_(clock) {}

  std::string provider() const override { return "kie"; }

  ResubmitPolicy resubmit_policy() const override { return ResubmitPolicy::kAtMostOnce; }

  std::vector<music::v1::Model> Models() const override { return KieModels(); }

  absl::StatusOr<SubmitResult> Submit(const SubmitRequest& request) override {
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
      default:
        return absl::InvalidArgumentError(
            absl::StrCat("kie.ai cannot run task kind ", music::v1::TaskKind_Name(request.kind)));
    }

    const std::string operation = absl::StrCat("POST ", path);
    http::Request http_request = NewRequest("POST", path);
    http_request.headers.emplace_back("Content-Type", "application/json");
    http_request.body = std::move(body);
    absl::StatusOr<http::Response> response = client_->Send(http_request);
    if (!response.ok()) return Clean(response.status(), operation);

    const bool lyrics_create = request.kind == music::v1::TASK_KIND_LYRICS;
    if (absl::Status s = CheckKieAnswer(*response, operation, lyrics_create, clock_->Now());
        !s.ok()) {
      return Clean(s, "");
    }
    absl::StatusOr<std::string> task_id =
        internal::ReadAcceptedCreateAnswer(ParseKieCreateAnswer(response->body));
    if (!task_id.ok()) return Clean(task_id.status(), operation);
    SubmitResult result;
    result.provider_task_id = *std::move(task_id);
    result.endpoint = path;
    return result;
  }

  absl::StatusOr<ProviderUpdate> Poll(const PollTarget& target) override {
    const TaskKind kind = target.kind;
    absl::string_view provider_task_id = target.provider_task_id;
    const bool lyrics = kind == music::v1::TASK_KIND_LYRICS;
    if (!lyrics && kind != music::v1::TASK_KIND_MUSIC &&
        kind != music::v1::TASK_KIND_CONTINUATION) {
      return absl::InvalidArgumentError(
          absl::StrCat("kie.ai cannot poll task kind ", music::v1::TaskKind_Name(kind)));
    }
    if (provider_task_id.empty()) return absl::InvalidArgumentError("empty kie.ai task id");

    const char* path = lyrics ? kLyricsRecordPath : kMusicRecordPath;
    const std::string operation = absl::StrCat("GET ", path);
    http::Request http_request =
        NewRequest("GET", absl::StrCat(path, "?taskId=", internal::UrlEncode(provider_task_id)));
    absl::StatusOr<http::Response> response = client_->Send(http_request);
    if (!response.ok()) return Clean(response.status(), operation);
    if (absl::Status s =
            CheckKieAnswer(*response, operation, /*lyrics_create=*/false, clock_->Now());
        !s.ok()) {
      return Clean(s, "");
    }

    absl::StatusOr<ProviderUpdate> update =
        lyrics ? ParseKieLyricsRecord(response->body) : ParseKieMusicRecord(response->body);
    if (!update.ok()) return Clean(update.status(), operation);
    if (absl::Status s = internal::RequireAnswerForTask("kie.ai", provider_task_id, *update);
        !s.ok()) {
      return Clean(s, operation);
    }
    update->error_message = Redact(update->error_message, options_.api_key);
    return update;
  }

  absl::StatusOr<ProviderUpdate> ParseCallback(TaskKind kind,
                                               const http::Request& request) override {
    const bool signed_callbacks = !options_.webhook_hmac_key.empty();
    const absl::string_view timestamp = http::FindHeader(request.headers, "X-Webhook-Timestamp");
    const absl::string_view signature = http::FindHeader(request.headers, "X-Webhook-Signature");
    if (signed_callbacks && (timestamp.empty() || signature.empty())) {
      return absl::UnauthenticatedError("kie.ai callback without X-Webhook-Timestamp/Signature");
    }

    absl::StatusOr<ProviderUpdate> update;
    switch (kind) {
      case music::v1::TASK_KIND_MUSIC:
      case music::v1::TASK_KIND_CONTINUATION:
        update = ParseKieMusicCallback(request.body);
        break;
      case music::v1::TASK_KIND_LYRICS:
        update = ParseKieLyricsCallback(request.body);
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
    update->error_message = Redact(update->error_message, options_.api_key);
    return update;
  }

  absl::Status Cancel(absl::string_view provider_task_id) override {
    return absl::UnimplementedError("kie.ai has no cancel API");
  }

 private:
  http::Request NewRequest(absl::string_view method, absl::string_view path_and_query) const {
    http::Request request;
    request.method = std::string(method);
    request.url = absl::StrCat(base_url_, path_and_query);
    request.headers.emplace_back("Authorization", absl::StrCat("Bearer ", options_.api_key));
    request.headers.emplace_back("Accept", "application/json");
    request.timeout = options_.request_timeout;
    return request;
  }

  // The signature covers task id and timestamp only (WIRE.md), so the timestamp's age is what
  // limits replaying a captured delivery.
  absl::Status CheckSignature(absl::string_view task_id, absl::string_view timestamp,
                              absl::string_view signature) const {
    int64_t seconds = 0;
    if (!absl::SimpleAtoi(timestamp, &seconds)) {
      return absl::UnauthenticatedError("kie.ai callback timestamp is not unix seconds");
    }
    const absl::Duration age = absl::AbsDuration(clock_->Now() - absl::FromUnixSeconds(seconds));
    if (age > options_.max_signature_age) {
      return absl::UnauthenticatedError("kie.ai callback timestamp is too old or in the future");
    }
    if (!VerifyKieCallbackSignature(options_.webhook_hmac_key, task_id, timestamp, signature)) {
      return absl::UnauthenticatedError("kie.ai callback signature does not match");
    }
    return absl::OkStatus();
  }

  // Prefixes `operation` (when given) and strips the API key from the message, whatever the
  // message came from (libcurl, a provider `msg`), keeping the status payloads.
  absl::Status Clean(const absl::Status& status, absl::string_view operation) const {
    const std::string message = operation.empty()
                                    ? std::string(status.message())
                                    : absl::StrCat("kie.ai ", operation, ": ", status.message());
    return WithMessage(status, Redact(message, options_.api_key));
  }

  const KieOptions options_;
  const std::string base_url_;  // without a trailing "/"
  const std::shared_ptr<http::HttpClient> client_;
  const Clock* const clock_;
};

}  // namespace

std::unique_ptr<ProviderAdapter> NewKieAdapter(KieOptions options,
                                               std::shared_ptr<http::HttpClient> client,
                                               const Clock* clock) {
  return std::make_unique<KieAdapter>(std::move(options), std::move(client), clock);
}

}  // namespace music::adapters::kie
