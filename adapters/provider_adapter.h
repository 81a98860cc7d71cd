#ifndef MUSIC_ADAPTERS_PROVIDER_ADAPTER_H_
#define MUSIC_ADAPTERS_PROVIDER_ADAPTER_H_

#include <string>
#include <vector>

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
};

/// How a provider lets the service recover a create whose answer was lost.
enum class ResubmitPolicy {
  /// No idempotency key and no lookup (kie.ai): a create is sent at most once. A lost answer is
  /// recovered only when the provider's callback for that task arrives.
  kAtMostOnce,
  /// The provider deduplicates creates by an idempotency key derived from the task (beatra).
  kIdempotencyKey,
  /// The provider can find a task by the caller's request id (TokenLab).
  kLookupByRequestId,
};

/// One provider API behind one interface. Implementations are thread-safe; methods block on
/// network I/O (run them on worker threads).
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

  /// Creates the provider task. Returns the provider's task id.
  virtual absl::StatusOr<std::string> Submit(const SubmitRequest& request) = 0;

  /// Reads the provider task's current state.
  virtual absl::StatusOr<ProviderUpdate> Poll(music::v1::TaskKind kind,
                                              absl::string_view provider_task_id) = 0;

  /// Parses (and, where configured, authenticates) a callback delivery for a task of `kind`.
  /// Errors: UNAUTHENTICATED when a signature is required and missing or wrong; INVALID_ARGUMENT
  /// when the body is malformed.
  virtual absl::StatusOr<ProviderUpdate> ParseCallback(music::v1::TaskKind kind,
                                                       const http::Request& request) = 0;

  /// Best-effort cancel at the provider. UNIMPLEMENTED when the provider has no cancel API.
  virtual absl::Status Cancel(absl::string_view provider_task_id) = 0;
};

}  // namespace music::adapters

#endif  // MUSIC_ADAPTERS_PROVIDER_ADAPTER_H_
