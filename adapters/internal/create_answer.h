#ifndef MUSIC_ADAPTERS_INTERNAL_CREATE_ANSWER_H_
#define MUSIC_ADAPTERS_INTERNAL_CREATE_ANSWER_H_

#include <utility>

#include "absl/status/status.h"
#include "absl/status/statusor.h"

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

}  // namespace music::adapters::internal

#endif  // MUSIC_ADAPTERS_INTERNAL_CREATE_ANSWER_H_
