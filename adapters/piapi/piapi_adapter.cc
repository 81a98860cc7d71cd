// The PiAPI Udio `music-u` adapter: builds the requests of WIRE.md, sends them through an
// HttpClient and turns answers and webhooks into ProviderUpdates. Parsing, the status table, the
// error table and the request body live in their own files; this file wires them to the
// ProviderAdapter calls and keeps the webhook replay window.

#include "adapters/piapi/piapi_adapter.h"

#include <openssl/crypto.h>

#include <cmath>
#include <deque>
#include <string>
#include <utility>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_set.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/strip.h"
#include "absl/synchronization/mutex.h"
#include "adapters/internal/answer_rules.h"
#include "adapters/internal/url_encode.h"
#include "adapters/piapi/piapi_errors.h"
#include "adapters/piapi/piapi_json.h"
#include "adapters/piapi/piapi_models.h"
#include "adapters/piapi/piapi_request_body.h"
#include "adapters/provider_errors.h"

namespace music::adapters::piapi {
namespace {

using music::v1::TaskKind;

constexpr char kTaskPath[] = "/api/v1/task";
constexpr char kSecretHeader[] = "x-webhook-secret";
// Webhook deliveries remembered for dropping repeats; PiAPI resends within minutes, so the last
// 10,000 (task, timestamp) pairs cover far more than its retry window.
constexpr size_t kSeenDeliveries = 10000;

// Constant time for equal lengths (CRYPTO_memcmp); a length mismatch is a mismatch.
bool SecretsEqual(absl::string_view a, absl::string_view b) {
  if (a.size() != b.size()) return false;
  return CRYPTO_memcmp(a.data(), b.data(), a.size()) == 0;
}

// The last `capacity` keys seen. Thread-safe.
class ReplayWindow {
 public:
  explicit ReplayWindow(size_t capacity) : capacity_(capacity) {}

  // True when `key` is new (and remembers it); false for a repeat.
  bool Insert(std::string key) {
    absl::MutexLock lock(&mu_);
    if (!seen_.insert(key).second) return false;
    order_.push_back(std::move(key));
    if (order_.size() > capacity_) {
      seen_.erase(order_.front());
      order_.pop_front();
    }
    return true;
  }

 private:
  const size_t capacity_;
  absl::Mutex mu_;
  absl::flat_hash_set<std::string> seen_ ABSL_GUARDED_BY(mu_);
  std::deque<std::string> order_ ABSL_GUARDED_BY(mu_);
};

class PiapiAdapter final : public ProviderAdapter {
 public:
  PiapiAdapter(PiapiOptions options, std::shared_ptr<http::HttpClient> client, const Clock* clock)
      : options_(std::move(options)),
        clock_(clock),
        base_url_(absl::StripSuffix(options_.base_url, "/")),
        client_(std::move(client)),
        seen_(kSeenDeliveries) {}

  std::string provider() const override { return "piapi"; }

  ResubmitPolicy resubmit_policy() const override { return ResubmitPolicy::kAtMostOnce; }

  std::vector<music::v1::Model> Models() const override { return PiapiModels(); }

  absl::StatusOr<SubmitResult> Submit(const SubmitRequest& request) override {
    const music::v1::TaskInput& input = request.input;
    bool continuation = false;
    switch (request.kind) {
      case music::v1::TASK_KIND_MUSIC:
        break;
      case music::v1::TASK_KIND_CONTINUATION:
        if (input.continue_from_clip_id().empty()) {
          return absl::InvalidArgumentError("a continuation needs continue_from_clip_id");
        }
        // JSON has no NaN or infinity; such a value would corrupt the body.
        if (!std::isfinite(input.continue_at_seconds()) || input.continue_at_seconds() < 0) {
          return absl::InvalidArgumentError("continue_at_seconds must be a finite number >= 0");
        }
        continuation = true;
        break;
      default:
        // Seed 003: music-u supports only generate_music (no lyrics-only task).
        return absl::InvalidArgumentError(absl::StrCat("PiAPI music-u cannot run task kind ",
                                                       music::v1::TaskKind_Name(request.kind)));
    }
    if (request.provider_model.empty()) return absl::InvalidArgumentError("no PiAPI model");

    PiapiWebhook webhook;
    if (!options_.webhook_secret.empty() && !request.callback_url.empty()) {
      webhook.endpoint = request.callback_url;
      webhook.secret = options_.webhook_secret;
    }
    const std::string operation = absl::StrCat("POST ", kTaskPath);
    http::Request http_request = NewRequest("POST", kTaskPath);
    http_request.headers.emplace_back("Content-Type", "application/json");
    http_request.body = BuildPiapiCreateBody(input, request.provider_model, continuation,
                                             options_.service_mode, webhook);
    absl::StatusOr<http::Response> response = client_->Send(http_request);
    if (!response.ok()) return Clean(response.status(), operation);
    if (absl::Status s = CheckPiapiAnswer(*response, operation, /*create=*/true, clock_->Now());
        !s.ok()) {
      return Clean(s, "");
    }
    absl::StatusOr<std::string> task_id =
        internal::ReadAcceptedCreateAnswer(ParsePiapiCreateAnswer(response->body));
    if (!task_id.ok()) return Clean(task_id.status(), operation);
    SubmitResult result;
    result.provider_task_id = *std::move(task_id);
    result.endpoint = kTaskPath;
    return result;
  }

  absl::StatusOr<ProviderUpdate> Poll(const PollTarget& target) override {
    if (target.kind != music::v1::TASK_KIND_MUSIC &&
        target.kind != music::v1::TASK_KIND_CONTINUATION) {
      return absl::InvalidArgumentError(
          absl::StrCat("PiAPI cannot poll task kind ", music::v1::TaskKind_Name(target.kind)));
    }
    if (target.provider_task_id.empty()) return absl::InvalidArgumentError("empty PiAPI task id");
    const std::string operation = absl::StrCat("GET ", kTaskPath, "/{task_id}");
    http::Request http_request = NewRequest(
        "GET", absl::StrCat(kTaskPath, "/", internal::UrlEncode(target.provider_task_id)));
    absl::StatusOr<http::Response> response = client_->Send(http_request);
    if (!response.ok()) return Clean(response.status(), operation);
    if (absl::Status s = CheckPiapiAnswer(*response, operation, /*create=*/false, clock_->Now());
        !s.ok()) {
      return Clean(s, "");
    }
    absl::StatusOr<ProviderUpdate> update = ParsePiapiTaskAnswer(response->body);
    if (!update.ok()) return Clean(update.status(), operation);
    if (absl::Status s = internal::RequireAnswerForTask("PiAPI", target.provider_task_id, *update);
        !s.ok()) {
      return Clean(s, operation);
    }
    update->error_message = Redact(update->error_message, options_.api_key);
    return update;
  }

  absl::StatusOr<ProviderUpdate> ParseCallback(TaskKind kind,
                                               const http::Request& request) override {
    // Authenticate before reading the body: a forged delivery learns nothing and costs nothing.
    if (options_.webhook_secret.empty()) {
      return absl::UnauthenticatedError("PiAPI webhooks are not configured (no webhook secret)");
    }
    const absl::string_view secret = http::FindHeader(request.headers, kSecretHeader);
    if (secret.empty()) return absl::UnauthenticatedError("PiAPI webhook without x-webhook-secret");
    if (!SecretsEqual(secret, options_.webhook_secret)) {
      return absl::UnauthenticatedError("PiAPI webhook secret does not match");
    }
    if (kind != music::v1::TASK_KIND_MUSIC && kind != music::v1::TASK_KIND_CONTINUATION) {
      return absl::InvalidArgumentError(
          absl::StrCat("no PiAPI webhooks for task kind ", music::v1::TaskKind_Name(kind)));
    }
    absl::StatusOr<PiapiCallback> callback = ParsePiapiCallback(request.body);
    if (!callback.ok()) return Clean(callback.status(), "");
    // CONTRACT-NOTES "PiAPI": "Use `timestamp` to drop repeats".
    if (!seen_.Insert(absl::StrCat(callback->update.provider_task_id, "\n", callback->timestamp))) {
      return absl::AlreadyExistsError(
          absl::StrCat("PiAPI webhook for task ", absl::CEscape(callback->update.provider_task_id),
                       " at ", callback->timestamp, " was already received"));
    }
    ProviderUpdate update = std::move(callback->update);
    update.error_message = Redact(update.error_message, options_.api_key);
    return update;
  }

  absl::Status Cancel(absl::string_view provider_task_id) override {
    return absl::UnimplementedError("PiAPI has no cancel API");
  }

 private:
  http::Request NewRequest(absl::string_view method, absl::string_view path) const {
    http::Request request;
    request.method = std::string(method);
    request.url = absl::StrCat(base_url_, path);
    request.headers.emplace_back("x-api-key", options_.api_key);
    request.headers.emplace_back("Accept", "application/json");
    request.timeout = options_.request_timeout;
    return request;
  }

  // Prefixes `operation` (when given) and strips the API key and the webhook secret from the
  // message, whatever it came from (libcurl, a provider `message`), keeping the payloads.
  absl::Status Clean(const absl::Status& status, absl::string_view operation) const {
    std::string message = operation.empty()
                              ? std::string(status.message())
                              : absl::StrCat("PiAPI ", operation, ": ", status.message());
    message = Redact(Redact(message, options_.api_key), options_.webhook_secret);
    return WithMessage(status, message);
  }

  const PiapiOptions options_;
  const Clock* const clock_;
  const std::string base_url_;  // without a trailing "/"
  const std::shared_ptr<http::HttpClient> client_;
  ReplayWindow seen_;
};

}  // namespace

std::unique_ptr<ProviderAdapter> NewPiapiAdapter(PiapiOptions options,
                                                 std::shared_ptr<http::HttpClient> client,
                                                 const Clock* clock) {
  return std::make_unique<PiapiAdapter>(std::move(options), std::move(client), clock);
}

}  // namespace music::adapters::piapi
