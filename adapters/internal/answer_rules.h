#ifndef MUSIC_ADAPTERS_INTERNAL_ANSWER_RULES_H_
#define MUSIC_ADAPTERS_INTERNAL_ANSWER_RULES_H_

#include <utility>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "adapters/provider_adapter.h"

namespace music::adapters::internal {

/// The rule for a create request the provider accepted (a 2xx answer that passed the adapter's
/// answer check) but whose answer cannot be read (no task id, malformed JSON, ...): the task may
/// exist at the provider and bill, so the error is marked outcome-unknown (provider_errors.h
/// MarkOutcomeUnknown) and the engine never blindly sends the create again. Returns `error` so
/// marked; code and message are kept. OK is returned as it is.
absl::Status UnreadableCreateAnswer(absl::Status error);

/// UnreadableCreateAnswer applied to the result of reading an accepted create answer: a value
/// passes through, an error comes back marked outcome-unknown.
template <typename T>
absl::StatusOr<T> ReadAcceptedCreateAnswer(absl::StatusOr<T> read) {
  if (read.ok()) return read;
  return UnreadableCreateAnswer(std::move(read).status());
}

/// The rule for a poll answer: it must be about the task asked for. An answer naming another
/// task (a non-empty `update.provider_task_id` other than `asked`) is INTERNAL "<provider>
/// answered for task "<id>" instead of the one asked for": applying another task's state to this
/// one would be worse than failing the poll. Otherwise OK, and `update.provider_task_id` is set to
/// `asked` (an answer that names no task is about the one asked for).
absl::Status RequireAnswerForTask(absl::string_view provider, absl::string_view asked,
                                  ProviderUpdate& update);

}  // namespace music::adapters::internal

#endif  // MUSIC_ADAPTERS_INTERNAL_ANSWER_RULES_H_
