// The TokenLab adapter: builds the requests of WIRE.md, sends them through an HttpClient and turns
// answers into SubmitResults and ProviderUpdates. Parsing, the status table, the error table, the
// request body and URL rules live in their own files; this file only wires them to the
// ProviderAdapter calls.

#include "adapters/tokenlab/tokenlab_adapter.h"

#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/escaping.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/strip.h"
#include "adapters/internal/answer_rules.h"
#include "adapters/internal/async_call.h"
#include "adapters/internal/url_encode.h"
#include "adapters/provider_errors.h"
#include "adapters/tokenlab/tokenlab_errors.h"
#include "adapters/tokenlab/tokenlab_json.h"
#include "adapters/tokenlab/tokenlab_models.h"
#include "adapters/tokenlab/tokenlab_request_body.h"
#include "adapters/tokenlab/tokenlab_url.h"

namespace music::adapters::tokenlab {
namespace {

using music::v1::TaskKind;

constexpr char kCreatePath[] = "/v1/music/generations";
constexpr char kTasksPath[] = "/v1/tasks";
constexpr char kModelsPath[] = "/v1/models?recommended_for=music";

// "scheme://authority" of an absolute URL, or "" when it has none.
absl::string_view OriginOf(absl::string_view url) {
  const size_t scheme_end = url.find("://");
  if (scheme_end == absl::string_view::npos) return {};
  const size_t path = url.find_first_of("/?#", scheme_end + 3);
  return url.substr(0, path);
}

// The adapter's configuration. Immutable, and shared with the completions of SubmitAsync and
// PollAsync, so an answer that arrives after the adapter is gone is still read safely.
struct TokenlabConfig {
  TokenlabConfig(TokenlabOptions options_in, const Clock* clock_in)
      : options(std::move(options_in)),
        clock(clock_in),
        base_url(absl::StripSuffix(options.base_url, "/")) {}

  // poll_url first (seed 000 "Use poll_url first"), but only on base_url's own origin: the API
  // key goes with it. Otherwise, and when there is none, the fixed route.
  std::string PollUrl(const PollTarget& target) const {
    const std::string& poll_url = target.poll_url;
    if (!poll_url.empty()) {
      if (SameOrigin(base_url, poll_url)) return poll_url;
      if (absl::StartsWith(poll_url, "/") && !absl::StartsWith(poll_url, "//") &&
          !absl::StrContains(poll_url, '\\') && !OriginOf(base_url).empty()) {
        return absl::StrCat(OriginOf(base_url), poll_url);
      }
    }
    return absl::StrCat(base_url, kTasksPath, "/", internal::UrlEncode(target.provider_task_id));
  }

  http::Request NewRequest(absl::string_view method, std::string url) const {
    http::Request request;
    request.method = std::string(method);
    request.url = std::move(url);
    request.headers.emplace_back("Authorization", absl::StrCat("Bearer ", options.api_key));
    request.headers.emplace_back("Accept", "application/json");
    request.timeout = options.request_timeout;
    return request;
  }

  // Prefixes `operation` (when given) and strips the API key from the message, whatever the
  // message came from (libcurl, a provider `message`), keeping the status payloads.
  absl::Status Clean(const absl::Status& status, absl::string_view operation) const {
    const std::string message = operation.empty()
                                    ? std::string(status.message())
                                    : absl::StrCat("TokenLab ", operation, ": ", status.message());
    return WithMessage(status, Redact(message, options.api_key));
  }

  const TokenlabOptions options;
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
  bool lyrics = false;
};

absl::StatusOr<SubmitCall> BuildSubmit(const TokenlabConfig& config, const SubmitRequest& request) {
  absl::StatusOr<std::string> body = BuildCreateBody(request);
  if (!body.ok()) return config.Clean(body.status(), "");
  SubmitCall call;
  call.operation = absl::StrCat("POST ", kCreatePath);
  call.http = config.NewRequest("POST", absl::StrCat(config.base_url, kCreatePath));
  call.http.headers.emplace_back("Content-Type", "application/json");
  call.http.body = *std::move(body);
  call.http.urgent = true;  // a create goes ahead of queued polls (http_types.h)
  return call;
}

absl::StatusOr<SubmitResult> ReadSubmit(const TokenlabConfig& config, const SubmitCall& call,
                                        const absl::StatusOr<http::Response>& response) {
  if (!response.ok()) return config.Clean(response.status(), call.operation);
  if (absl::Status s = CheckTokenlabAnswer(*response, call.operation, config.clock->Now());
      !s.ok()) {
    return config.Clean(s, "");
  }

  absl::StatusOr<TokenlabTaskRef> ref = ParseTokenlabCreateAnswer(response->body);
  const absl::string_view header_id = http::FindHeader(response->headers, "X-Task-ID");
  if (ref.ok() && !header_id.empty() && header_id != ref->task_id) {
    ref = absl::InternalError(absl::StrCat("TokenLab answered task \"", absl::CEscape(ref->task_id),
                                           "\" with X-Task-ID \"", absl::CEscape(header_id), "\""));
  }
  // An unreadable 2xx is outcome-unknown: the task may exist and bill, and TokenLab documents no
  // lookup, so the engine never sends it again (kAtMostOnce).
  ref = internal::ReadAcceptedCreateAnswer(std::move(ref));
  if (!ref.ok()) return config.Clean(ref.status(), call.operation);
  SubmitResult result;
  result.provider_task_id = ref->task_id;
  result.poll_url = ref->poll_url;
  result.provider_billing_transaction_id =
      !ref->billing_transaction_id.empty()
          ? ref->billing_transaction_id
          : std::string(http::FindHeader(response->headers, "X-Billing-Transaction-ID"));
  result.endpoint = kCreatePath;
  return result;
}

absl::StatusOr<PollCall> BuildPoll(const TokenlabConfig& config, const PollTarget& target) {
  const TaskKind kind = target.kind;
  if (kind != music::v1::TASK_KIND_MUSIC && kind != music::v1::TASK_KIND_LYRICS &&
      kind != music::v1::TASK_KIND_CONTINUATION) {
    return absl::InvalidArgumentError(
        absl::StrCat("TokenLab cannot poll task kind ", music::v1::TaskKind_Name(kind)));
  }
  if (target.provider_task_id.empty()) return absl::InvalidArgumentError("empty TokenLab task id");
  PollCall call;
  call.operation = absl::StrCat("GET ", kTasksPath, "/{id}");
  call.provider_task_id = target.provider_task_id;
  call.lyrics = kind == music::v1::TASK_KIND_LYRICS;
  call.http = config.NewRequest("GET", config.PollUrl(target));
  return call;
}

absl::StatusOr<ProviderUpdate> ReadPoll(const TokenlabConfig& config, const PollCall& call,
                                        const absl::StatusOr<http::Response>& response) {
  if (!response.ok()) return config.Clean(response.status(), call.operation);
  if (absl::Status s = CheckTokenlabAnswer(*response, call.operation, config.clock->Now());
      !s.ok()) {
    return config.Clean(s, "");
  }
  absl::StatusOr<ProviderUpdate> update = ParseTokenlabTask(response->body, call.lyrics);
  if (!update.ok()) return config.Clean(update.status(), call.operation);
  if (absl::Status s = internal::RequireAnswerForTask("TokenLab", call.provider_task_id, *update);
      !s.ok()) {
    return config.Clean(s, call.operation);
  }
  if (update->provider_billing_transaction_id.empty()) {
    update->provider_billing_transaction_id =
        std::string(http::FindHeader(response->headers, "X-Billing-Transaction-ID"));
  }
  update->error_message = Redact(update->error_message, config.options.api_key);
  return update;
}

class TokenlabAdapter final : public ProviderAdapter {
 public:
  TokenlabAdapter(TokenlabOptions options, std::shared_ptr<http::HttpClient> client,
                  const Clock* clock)
      : config_(std::make_shared<const TokenlabConfig>(std::move(options), clock)),
        models_(TokenlabModels(config_->options.price)),
        client_(std::move(client)) {}

  std::string provider() const override { return "tokenlab"; }

  // CONTRACT-NOTES "TokenLab": "No idempotency header and no lookup of a task by `request_id` is
  // documented"; a lost create is not resent blindly ("retry only if no task was created").
  ResubmitPolicy resubmit_policy() const override { return ResubmitPolicy::kAtMostOnce; }

  std::vector<music::v1::Model> Models() const override { return models_; }

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
    return absl::UnimplementedError("TokenLab sends no customer webhooks; tasks are polled");
  }

  absl::Status Cancel(absl::string_view provider_task_id) override {
    return absl::UnimplementedError("TokenLab documents no cancel API");
  }

  absl::StatusOr<std::vector<music::v1::Model>> FetchModels() override {
    const std::string operation = absl::StrCat("GET ", kModelsPath);
    absl::StatusOr<http::Response> response =
        client_->Send(NewRequest("GET", absl::StrCat(config_->base_url, kModelsPath)));
    if (!response.ok()) return Clean(response.status(), operation);
    if (absl::Status s = CheckTokenlabAnswer(*response, operation, config_->clock->Now());
        !s.ok()) {
      return Clean(s, "");
    }
    absl::StatusOr<std::vector<TokenlabModelInfo>> live = ParseTokenlabModels(response->body);
    if (!live.ok()) return Clean(live.status(), operation);
    return MergeTokenlabModels(models_, *live);
  }

 private:
  http::Request NewRequest(absl::string_view method, std::string url) const {
    return config_->NewRequest(method, std::move(url));
  }

  absl::Status Clean(const absl::Status& status, absl::string_view operation) const {
    return config_->Clean(status, operation);
  }

  const std::shared_ptr<const TokenlabConfig> config_;
  const std::vector<music::v1::Model> models_;
  const std::shared_ptr<http::HttpClient> client_;
};

}  // namespace

std::unique_ptr<ProviderAdapter> NewTokenlabAdapter(TokenlabOptions options,
                                                    std::shared_ptr<http::HttpClient> client,
                                                    const Clock* clock) {
  return std::make_unique<TokenlabAdapter>(std::move(options), std::move(client), clock);
}

}  // namespace music::adapters::tokenlab
