#include "adapters/internal/create_answer.h"

#include "adapters/provider_errors.h"

namespace music::adapters::internal {

absl::Status UnreadableCreateAnswer(absl::Status error) {
  if (!error.ok()) MarkOutcomeUnknown(error);
  return error;
}

}  // namespace music::adapters::internal
