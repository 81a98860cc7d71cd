#include "adapters/kie/kie_audio_operations.h"

#include <rapidjson/stringbuffer.h>

#include <cmath>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "adapters/internal/json_writer.h"
#include "adapters/kie/kie_request_body.h"

namespace music::adapters::kie {
namespace {

using internal::JsonWriter;
using internal::PutIfSet;
using internal::PutString;

// In custom mode kie.ai's `prompt` is the text to sing (as on generate): lyrics win.
const std::string& SungPrompt(const music::v1::TaskInput& input) {
  return input.lyrics().empty() ? input.prompt() : input.lyrics();
}

}  // namespace

const char* KieAudioOperationPath(music::v1::AudioOperation operation) {
  switch (operation) {
    case music::v1::AUDIO_OPERATION_COVER:
      return "/api/v1/generate/upload-cover";
    case music::v1::AUDIO_OPERATION_EXTEND:
      return "/api/v1/generate/upload-extend";
    case music::v1::AUDIO_OPERATION_ADD_INSTRUMENTAL:
      return "/api/v1/generate/add-instrumental";
    case music::v1::AUDIO_OPERATION_ADD_VOCALS:
      return "/api/v1/generate/add-vocals";
    default:
      return nullptr;
  }
}

bool KieModelRunsAudioOperation(absl::string_view provider_model,
                                music::v1::AudioOperation operation) {
  switch (operation) {
    case music::v1::AUDIO_OPERATION_COVER:
    case music::v1::AUDIO_OPERATION_EXTEND:
      return true;
    case music::v1::AUDIO_OPERATION_ADD_INSTRUMENTAL:
    case music::v1::AUDIO_OPERATION_ADD_VOCALS:
      return provider_model == "V4_5PLUS" || provider_model == "V5";
    default:
      return false;
  }
}

absl::StatusOr<std::string> BuildKieAudioOperationBody(const music::v1::TaskInput& input,
                                                       absl::string_view model,
                                                       absl::string_view callback_url,
                                                       absl::string_view upload_url) {
  const music::v1::AudioOperation operation = input.audio_operation();
  if (KieAudioOperationPath(operation) == nullptr) {
    return absl::InvalidArgumentError("kie.ai: no audio operation given");
  }
  if (upload_url.empty()) {
    return absl::InvalidArgumentError("kie.ai: an audio operation needs the uploaded audio's URL");
  }
  if (model.empty()) return absl::InvalidArgumentError("no kie.ai model");
  if (!KieModelRunsAudioOperation(model, operation)) {
    return absl::InvalidArgumentError(absl::StrCat("kie.ai runs ",
                                                   music::v1::AudioOperation_Name(operation),
                                                   " on V4_5PLUS and V5 only, not ", model));
  }
  // JSON has no NaN or infinity; such a value would corrupt the body.
  if (!std::isfinite(input.continue_at_seconds()) || input.continue_at_seconds() < 0) {
    return absl::InvalidArgumentError("continue_at_seconds must be a finite number >= 0");
  }

  rapidjson::StringBuffer buffer;
  JsonWriter w(buffer);
  w.StartObject();
  PutString(w, "uploadUrl", upload_url);
  switch (operation) {
    case music::v1::AUDIO_OPERATION_COVER:
      WriteGenerateFields(input, w);  // "fields of generate plus uploadUrl"
      break;
    case music::v1::AUDIO_OPERATION_EXTEND:
      WriteExtendFields(input, w);  // as /api/v1/generate/extend
      break;
    case music::v1::AUDIO_OPERATION_ADD_INSTRUMENTAL:
      PutString(w, "title", input.title());
      PutString(w, "tags", input.style());  // the accompaniment's style
      PutIfSet(w, "negativeTags", input.negative_tags());
      break;
    case music::v1::AUDIO_OPERATION_ADD_VOCALS:
      PutString(w, "prompt", SungPrompt(input));
      PutString(w, "style", input.style());
      PutString(w, "title", input.title());
      PutIfSet(w, "negativeTags", input.negative_tags());
      break;
    default:
      break;
  }
  PutString(w, "model", model);
  PutString(w, "callBackUrl", callback_url);
  w.EndObject();
  return std::string(buffer.GetString(), buffer.GetSize());
}

}  // namespace music::adapters::kie
