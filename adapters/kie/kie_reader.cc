#include "adapters/kie/kie_reader.h"

#include <string>

#include "absl/strings/str_cat.h"

namespace music::adapters::kie {

absl::Status RequireKieCode200(const rapidjson::Document& doc) {
  const rapidjson::Value* code = kKieJson.Find(doc, "code");
  if (code == nullptr || !code->IsInt()) return kKieJson.WrongType("code", "an integer");
  if (code->GetInt() != 200) {
    return kKieJson.Malformed(absl::StrCat("`code` is ", code->GetInt()));
  }
  return absl::OkStatus();
}

absl::Status AsKieCallbackError(const absl::Status& status) {
  return absl::InvalidArgumentError(absl::StrCat("malformed kie.ai callback: ", status.message()));
}

void FailKieUpdate(ProviderUpdate& update, absl::StatusCode code, absl::string_view message) {
  update.state = ProviderState::kFailed;
  update.error_code = code;
  update.error_message = std::string(message);
}

}  // namespace music::adapters::kie
