#ifndef MUSIC_ADAPTERS_PROVIDER_ADAPTER_H_
#define MUSIC_ADAPTERS_PROVIDER_ADAPTER_H_

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "absl/functional/any_invocable.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "adapters/http/http_types.h"
#include "music/v1/music_service.pb.h"
#include "music/v1/task.pb.h"

namespace music::adapters {

/// A provider task's state, normalised. Each adapter maps its raw statuses onto these in one table.
enum class ProviderState {
  kPending,    // accepted, not started (kie.ai PENDING)
  kRunning,    // generating; partial results may be present (kie.ai TEXT_SUCCESS, FIRST_SUCCESS)
  kSucceeded,  // finished with results
  kFailed,     // finished without results
  kCanceled,   // canceled at the provider
};

/// What the service asks a provider to do.
struct SubmitRequest {
  music::v1::TaskKind kind = music::v1::TASK_KIND_UNSPECIFIED;
  /// The service's task id: part of the callback URL and of idempotency keys.
  std::string task_id;
  /// The provider's model id (e.g. kie.ai "V4_5").
  std::string provider_model;
  /// The request as the caller gave it (validated by the service).
  music::v1::TaskInput input;
  /// Where the provider should POST callbacks for this task; empty when callbacks are off.
  std::string callback_url;
  /// The caller's request_id (may be empty). Adapters that look tasks up by request id
  /// (kLookupByRequestId) send `idempotency_key` as the provider's request id instead, because
  /// it is never empty.
  std::string request_id;
  /// Derived from the task and the provider (the same for every attempt of this task at this
  /// provider): the provider's Idempotency-Key (beatra) or lookup request id (kLookupByRequestId).
  std::string idempotency_key;
  /// The provider's id of the task's reference audio (from UploadReferenceAudio), or "".
  std::string reference_artifact_id;
};

/// What a provider answered to a create.
struct SubmitResult {
  std::string provider_task_id;
  /// Where to poll, when the provider names it (TokenLab `poll_url`); else "".
  std::string poll_url;
  /// The provider's billing transaction id, when the create answer carries it (TokenLab
  /// `X-Billing-Transaction-ID`).
  std::string provider_billing_transaction_id;
  /// The provider endpoint path that took the create, e.g. "/api/v1/generate" (for the ledger).
  std::string endpoint;
};

/// What to poll.
struct PollTarget {
  music::v1::TaskKind kind = music::v1::TASK_KIND_UNSPECIFIED;
  std::string provider_task_id;
  /// SubmitResult::poll_url as stored, or "".
  std::string poll_url;
  /// TASK_KIND_CLIP_OPERATION: which operation (TaskInput.clip_operation), because each has its
  /// own poll route at kie.ai (CONTRACT-NOTES.md "Advanced Features").
  music::v1::ClipOperation clip_operation = music::v1::CLIP_OPERATION_UNSPECIFIED;
};

/// Bytes of reference audio to store at a provider.
struct ReferenceAudioUpload {
  std::string filename;
  std::string content_type;
  std::string bytes;
};

/// A provider's view of a task, from a poll answer or a callback.
struct ProviderUpdate {
  std::string provider_task_id;
  ProviderState state = ProviderState::kPending;
  /// The provider's raw status (kie.ai "TEXT_SUCCESS", or the callbackType for callbacks).
  std::string provider_status;
  bool lyrics_ready = false;
  bool first_clip_ready = false;
  std::vector<music::v1::Clip> clips;
  std::vector<music::v1::LyricVariant> lyric_variants;
  /// For kFailed: the gRPC-style code to report (e.g. FAILED_PRECONDITION for a content filter).
  absl::StatusCode error_code = absl::StatusCode::kOk;
  std::string error_message;
  /// The provider's raw error code (kie.ai `errorCode`, or a callback's `code`).
  std::string provider_error_code;
  /// For kFailed: the provider says the same request may succeed if sent again (beatra
  /// `error.retryable`, CONTRACT-NOTES "beatra": `error {code, message, retryable}`). The engine
  /// then resubmits the task as a new provider task (a new idempotency key) within its retry
  /// budget instead of failing it.
  bool retryable = false;
  /// Progress as the provider reports it (beatra `progress {percent, stage, message}`); percent
  /// is -1 when not reported.
  int32_t progress_percent = -1;
  std::string progress_stage;
  std::string progress_message;
  /// The provider's billing report, when it gives one: micro-units of `billing_currency`
  /// ("CREDITS" or "USD"). beatra `billing.charged_credits` / `refunded_credits`; PiAPI
  /// `meta.usage.consume` (USD). has_billing is false when the answer carries none.
  bool has_billing = false;
  int64_t charged_micros = 0;
  int64_t refunded_micros = 0;
  std::string billing_currency;
  /// The provider's billing transaction id, when the answer carries it (TokenLab).
  std::string provider_billing_transaction_id;
  /// TASK_KIND_CLIP_OPERATION: what the operation produced so far (a WAV URL, stems, a video).
  /// has_operation_result is false when the answer carries none.
  bool has_operation_result = false;
  music::v1::ClipOperationResult operation_result;
};

/// The source clip of a synchronous clip call (GetTimestampedLyrics).
struct ClipRef {
  /// The provider task that made the clip (kie.ai `taskId`).
  std::string provider_task_id;
  /// The clip's id at the provider (kie.ai `audioId`).
  std::string clip_id;
};

/// What a provider said about its account balance.
struct ProviderBalance {
  /// Micro-units of `currency` ("CREDITS" or "USD").
  int64_t balance_micros = 0;
  std::string currency;
};

/// What a style boost answered.
struct StyleBoost {
  std::string provider_task_id;
  std::string style;
  /// Micro-credits charged and left.
  int64_t credits_consumed_micros = 0;
  int64_t credits_remaining_micros = 0;
};

/// How a provider lets the service recover a create whose answer was lost.
enum class ResubmitPolicy {
  /// No idempotency key and no lookup (kie.ai): a create is sent at most once. A lost answer is
  /// recovered only when the provider's callback for that task arrives.
  kAtMostOnce,
  /// The provider deduplicates creates by an idempotency key derived from the task (beatra).
  kIdempotencyKey,
  /// The provider can find a task by the caller's request id (no built-in provider: TokenLab
  /// documents no such lookup, CONTRACT-NOTES; kept for providers that do, and tested with the
  /// engine's fake provider).
  kLookupByRequestId,
};

/// Receives the outcome of ProviderAdapter::SubmitAsync; called once.
using SubmitCallback = absl::AnyInvocable<void(absl::StatusOr<SubmitResult>) &&>;
/// Receives the outcome of ProviderAdapter::PollAsync; called once.
using PollCallback = absl::AnyInvocable<void(absl::StatusOr<ProviderUpdate>) &&>;

/// One provider API behind one interface. Implementations are thread-safe; the blocking methods
/// block on network I/O (run them on worker threads); SubmitAsync/PollAsync do not, when the
/// adapter and its HttpClient are asynchronous.
///
/// Errors returned by Submit/Poll/Cancel use these codes (helpers in provider_errors.h):
///  - UNAVAILABLE: 5xx, maintenance, connection refused before anything was sent: retry.
///  - RESOURCE_EXHAUSTED: rate limited (429): retry, after RetryAfter() when given.
///  - DEADLINE_EXCEEDED: no answer in time; for Submit, IsOutcomeUnknown() says whether the
///    request may have reached the provider.
///  - FAILED_PRECONDITION: the provider cannot take it (402 insufficient credits, 451, ...).
///  - INVALID_ARGUMENT: the provider refused the request (400/422 validation, content policy).
///  - UNAUTHENTICATED / PERMISSION_DENIED: bad API key.
///  - INTERNAL / DATA_LOSS: malformed answer; for Submit after a 2xx, IsOutcomeUnknown() is true.
class ProviderAdapter {
 public:
  virtual ~ProviderAdapter() = default;

  /// The provider's name in the catalog and in callback URLs, e.g. "kie".
  virtual std::string provider() const = 0;

  virtual ResubmitPolicy resubmit_policy() const = 0;

  /// The built-in catalog entries for this provider (name, provider model, capabilities and
  /// limits from the provider's document). `available` is left to the service.
  virtual std::vector<music::v1::Model> Models() const = 0;

  /// Creates the provider task.
  virtual absl::StatusOr<SubmitResult> Submit(const SubmitRequest& request) = 0;

  /// Reads the provider task's current state.
  virtual absl::StatusOr<ProviderUpdate> Poll(const PollTarget& target) = 0;

  /// Asynchronous Submit/Poll: same results and errors as the blocking ones; `done` runs exactly
  /// once, possibly on a transport thread, and must not block (hand heavy work elsewhere). The
  /// arguments are copied as needed: they need not outlive the call. A request refused before
  /// anything is sent (INVALID_ARGUMENT) is given to `done` at once, on the calling thread.
  /// Defaults call the blocking method and then done on the calling thread. The built-in
  /// adapters send through HttpClient::SendAsync and read the answer in its completion.
  virtual void SubmitAsync(const SubmitRequest& request, SubmitCallback done) {
    std::move(done)(Submit(request));
  }
  virtual void PollAsync(const PollTarget& target, PollCallback done) {
    std::move(done)(Poll(target));
  }

  /// Parses (and, where configured, authenticates) a callback delivery for a task of `kind`.
  /// Errors: UNAUTHENTICATED when a signature or secret is required and missing or wrong;
  /// INVALID_ARGUMENT when the body is malformed; ALREADY_EXISTS for a repeat of a delivery
  /// already seen (PiAPI `timestamp`): the receiver acknowledges it and changes nothing.
  /// UNIMPLEMENTED for providers without callbacks.
  virtual absl::StatusOr<ProviderUpdate> ParseCallback(music::v1::TaskKind kind,
                                                       const http::Request& request) = 0;

  /// Best-effort cancel at the provider. UNIMPLEMENTED when the provider has no cancel API.
  virtual absl::Status Cancel(absl::string_view provider_task_id) = 0;

  /// For kLookupByRequestId: the provider task created by an earlier Submit of `request` (same
  /// idempotency_key), found by the provider's request-id lookup. NOT_FOUND when there is none,
  /// so a new create is safe; other errors mean "cannot tell yet" (retry later).
  virtual absl::StatusOr<SubmitResult> FindByRequestId(const SubmitRequest& request) {
    return absl::UnimplementedError(provider() + " has no lookup by request id");
  }

  /// Stores reference audio at the provider and returns the provider's id for it (beatra
  /// `POST /v1/uploads` -> `artifact_id`). UNIMPLEMENTED for providers without uploads.
  virtual absl::StatusOr<std::string> UploadReferenceAudio(const ReferenceAudioUpload& upload) {
    return absl::UnimplementedError(provider() + " takes no reference audio");
  }

  /// The provider's live model list merged into the built-in entries (TokenLab
  /// `GET /v1/models?recommended_for=music`); UNIMPLEMENTED when the provider has none. Called
  /// once at start-up; failures leave the built-in entries.
  virtual absl::StatusOr<std::vector<music::v1::Model>> FetchModels() {
    return absl::UnimplementedError(provider() + " has no model list API");
  }

  /// The lyrics of a clip aligned to its audio, answered at once (kie.ai
  /// `get-timestamped-lyrics`). Blocking. Errors as Submit; UNIMPLEMENTED when the provider has
  /// no such call.
  virtual absl::StatusOr<music::v1::GetTimestampedLyricsResponse> GetTimestampedLyrics(
      const ClipRef& clip) {
    return absl::UnimplementedError(provider() + " has no timestamped lyrics");
  }

  /// Expands a style description, answered at once (kie.ai `POST /api/v1/style/generate`).
  /// Blocking. Errors as Submit; UNIMPLEMENTED when the provider has no such call.
  virtual absl::StatusOr<StyleBoost> BoostStyle(absl::string_view content) {
    return absl::UnimplementedError(provider() + " has no style boost");
  }

  /// The account's remaining balance (kie.ai `GET /api/v1/chat/credit`). Blocking. Errors as
  /// Poll; UNIMPLEMENTED when the provider has no balance endpoint.
  virtual absl::StatusOr<ProviderBalance> GetBalance() {
    return absl::UnimplementedError(provider() + " has no balance endpoint");
  }
};

}  // namespace music::adapters

#endif  // MUSIC_ADAPTERS_PROVIDER_ADAPTER_H_
