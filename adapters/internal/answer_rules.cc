#include "adapters/internal/answer_rules.h"

#include <string>

#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "adapters/provider_errors.h"

namespace music::adapters::internal {

absl::Status UnreadableCreateAnswer(absl::Status error) {
  if (!error.ok()) MarkOutcomeUnknown(error);
  return error;
}

absl::Status RequireAnswerForTask(absl::string_view provider, absl::string_view asked,
                                  ProviderUpdate& update) {
  if (!update.provider_task_id.empty() && update.provider_task_id != asked) {
    return absl::InternalError(absl::StrCat(provider, " answered for task \"",
                                            absl::CEscape(update.provider_task_id),
                                            "\" instead of the one asked for"));
  }
  update.provider_task_id = std::string(asked);
  return absl::OkStatus();
}

}  // namespace music::adapters::internal
