// The PiAPI Udio `music-u` adapter: builds the requests of WIRE.md, sends them through an
// HttpClient and turns answers and webhooks into ProviderUpdates. Parsing, the status table, the
// error table and the request body live in their own files; this file wires them to the
// ProviderAdapter calls and keeps the webhook replay window.

#include "adapters/piapi/piapi_adapter.h"

#include <openssl/crypto.h>

#include <cmath>
#include <deque>
#include <memory>
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
#include "adapters/internal/async_call.h"
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

// The adapter's configuration. Immutable, and shared with the completions of SubmitAsync and
// PollAsync, so an answer that arrives after the adapter is gone is still read safely.
struct PiapiConfig {
  PiapiConfig(PiapiOptions options_in, const Clock* clock_in)
      : options(std::move(options_in)),
        clock(clock_in),
        base_url(absl::StripSuffix(options.base_url, "/")) {}

  http::Request NewRequest(absl::string_view method, absl::string_view path) const {
    http::Request request;
    request.method = std::string(method);
    request.url = absl::StrCat(base_url, path);
    request.headers.emplace_back("x-api-key", options.api_key);
    request.headers.emplace_back("Accept", "application/json");
    request.timeout = options.request_timeout;
    return request;
  }

  // Prefixes `operation` (when given) and strips the API key and the webhook secret from the
  // message, whatever it came from (libcurl, a provider `message`), keeping the payloads.
  absl::Status Clean(const absl::Status& status, absl::string_view operation) const {
    std::string message = operation.empty()
                              ? std::string(status.message())
                              : absl::StrCat("PiAPI ", operation, ": ", status.message());
    message = Redact(Redact(message, options.api_key), options.webhook_secret);
    return WithMessage(status, message);
  }

  const PiapiOptions options;
  const Clock* const clock;
  const std::string base_url;  // without a trailing "/"
};

// A create or a poll: the request to send, and what reading its answer needs.
struct SubmitCall {
  http::Request http;
  std::string operation;
};
struct PollCall {
  http::Request http;
  std::string operation;
  std::string provider_task_id;
};

absl::StatusOr<SubmitCall> BuildSubmit(const PiapiConfig& config, const SubmitRequest& request) {
  const music::v1::TaskInput& input = request.input;
  bool continuation = false;
  bool lyrics = false;
  switch (request.kind) {
    case music::v1::TASK_KIND_MUSIC:
      break;
    case music::v1::TASK_KIND_LYRICS:
      // CONTRACT-NOTES "PiAPI": the `generate_lyrics` task takes `input.prompt`.
      if (input.prompt().empty()) return absl::InvalidArgumentError("a lyrics task needs a prompt");
      lyrics = true;
      break;
    case music::v1::TASK_KIND_CONTINUATION:
      if (input.continue_from_clip_id().empty()) {
        return absl::InvalidArgumentError("a continuation needs continue_from_clip_id");
      }
      // JSON has no NaN or infinity; such a value would corrupt the body.
      if (!std::isfinite(input.continue_at_seconds()) || input.continue_at_seconds() < 0) {
        return absl::InvalidArgumentError("continue_at_seconds must be a finite number >= 0");
      }
      // Seed 003's extend example describes the continuation (`gpt_description_prompt` with
      // `lyrics_type: "generate"`); with neither a description nor words there is nothing to
      // send (validation.cc, CONTINUATION_STYLE_DESCRIPTION_OR_LYRICS).
      if (PiapiContinuationDescription(input).empty() && input.lyrics().empty()) {
        return absl::InvalidArgumentError(
            "a PiAPI continuation needs a description (prompt or style) or lyrics");
      }
      continuation = true;
      break;
    default:
      return absl::InvalidArgumentError(absl::StrCat("PiAPI music-u cannot run task kind ",
                                                     music::v1::TaskKind_Name(request.kind)));
  }
  if (request.provider_model.empty()) return absl::InvalidArgumentError("no PiAPI model");

  PiapiWebhook webhook;
  if (!config.options.webhook_secret.empty() && !request.callback_url.empty()) {
    webhook.endpoint = request.callback_url;
    webhook.secret = config.options.webhook_secret;
  }
  SubmitCall call;
  call.operation = absl::StrCat("POST ", kTaskPath);
  call.http = config.NewRequest("POST", kTaskPath);
  call.http.urgent = true;  // a create goes ahead of queued polls (http_types.h)
  call.http.headers.emplace_back("Content-Type", "application/json");
  call.http.body =
      lyrics ? BuildPiapiLyricsBody(input.prompt(), request.provider_model,
                                    config.options.service_mode)
             : BuildPiapiCreateBody(input, request.provider_model, continuation,
                                    config.options.service_mode, webhook);
  return call;
}

absl::StatusOr<SubmitResult> ReadSubmit(const PiapiConfig& config, const SubmitCall& call,
                                        const absl::StatusOr<http::Response>& response) {
  if (!response.ok()) return config.Clean(response.status(), call.operation);
  if (absl::Status s =
          CheckPiapiAnswer(*response, call.operation, /*create=*/true, config.clock->Now());
      !s.ok()) {
    return config.Clean(s, "");
  }
  absl::StatusOr<std::string> task_id =
      internal::ReadAcceptedCreateAnswer(ParsePiapiCreateAnswer(response->body));
  if (!task_id.ok()) return config.Clean(task_id.status(), call.operation);
  SubmitResult result;
  result.provider_task_id = *std::move(task_id);
  result.endpoint = kTaskPath;
  return result;
}

absl::StatusOr<PollCall> BuildPoll(const PiapiConfig& config, const PollTarget& target) {
  if (target.kind != music::v1::TASK_KIND_MUSIC &&
      target.kind != music::v1::TASK_KIND_CONTINUATION &&
      target.kind != music::v1::TASK_KIND_LYRICS) {
    return absl::InvalidArgumentError(
        absl::StrCat("PiAPI cannot poll task kind ", music::v1::TaskKind_Name(target.kind)));
  }
  if (target.provider_task_id.empty()) return absl::InvalidArgumentError("empty PiAPI task id");
  PollCall call;
  call.operation = absl::StrCat("GET ", kTaskPath, "/{task_id}");
  call.provider_task_id = target.provider_task_id;
  call.http = config.NewRequest(
      "GET", absl::StrCat(kTaskPath, "/", internal::UrlEncode(target.provider_task_id)));
  return call;
}

absl::StatusOr<ProviderUpdate> ReadPoll(const PiapiConfig& config, const PollCall& call,
                                        const absl::StatusOr<http::Response>& response) {
  if (!response.ok()) return config.Clean(response.status(), call.operation);
  if (absl::Status s =
          CheckPiapiAnswer(*response, call.operation, /*create=*/false, config.clock->Now());
      !s.ok()) {
    return config.Clean(s, "");
  }
  absl::StatusOr<ProviderUpdate> update =
      ParsePiapiTaskAnswer(response->body, config.options.consume_usd_per_unit);
  if (!update.ok()) return config.Clean(update.status(), call.operation);
  if (absl::Status s = internal::RequireAnswerForTask("PiAPI", call.provider_task_id, *update);
      !s.ok()) {
    return config.Clean(s, call.operation);
  }
  update->error_message = Redact(update->error_message, config.options.api_key);
  return update;
}

class PiapiAdapter final : public ProviderAdapter {
 public:
  PiapiAdapter(PiapiOptions options, std::shared_ptr<http::HttpClient> client, const Clock* clock)
      : config_(std::make_shared<const PiapiConfig>(std::move(options), clock)),
        client_(std::move(client)),
        seen_(kSeenDeliveries) {}

  std::string provider() const override { return "piapi"; }

  ResubmitPolicy resubmit_policy() const override { return ResubmitPolicy::kAtMostOnce; }

  std::vector<music::v1::Model> Models() const override { return PiapiModels(); }

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
    // Authenticate before reading the body: a forged delivery learns nothing and costs nothing.
    if (config_->options.webhook_secret.empty()) {
      return absl::UnauthenticatedError("PiAPI webhooks are not configured (no webhook secret)");
    }
    const absl::string_view secret = http::FindHeader(request.headers, kSecretHeader);
    if (secret.empty()) return absl::UnauthenticatedError("PiAPI webhook without x-webhook-secret");
    if (!SecretsEqual(secret, config_->options.webhook_secret)) {
      return absl::UnauthenticatedError("PiAPI webhook secret does not match");
    }
    if (kind != music::v1::TASK_KIND_MUSIC && kind != music::v1::TASK_KIND_CONTINUATION) {
      return absl::InvalidArgumentError(
          absl::StrCat("no PiAPI webhooks for task kind ", music::v1::TaskKind_Name(kind)));
    }
    absl::StatusOr<PiapiCallback> callback =
        ParsePiapiCallback(request.body, config_->options.consume_usd_per_unit);
    if (!callback.ok()) return Clean(callback.status(), "");
    // CONTRACT-NOTES "PiAPI": "Use `timestamp` to drop repeats".
    if (!seen_.Insert(absl::StrCat(callback->update.provider_task_id, "\n", callback->timestamp))) {
      return absl::AlreadyExistsError(
          absl::StrCat("PiAPI webhook for task ", absl::CEscape(callback->update.provider_task_id),
                       " at ", callback->timestamp, " was already received"));
    }
    ProviderUpdate update = std::move(callback->update);
    update.error_message = Redact(update.error_message, config_->options.api_key);
    return update;
  }

  absl::Status Cancel(absl::string_view provider_task_id) override {
    return absl::UnimplementedError("PiAPI has no cancel API");
  }

 private:
  absl::Status Clean(const absl::Status& status, absl::string_view operation) const {
    return config_->Clean(status, operation);
  }

  const std::shared_ptr<const PiapiConfig> config_;
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
