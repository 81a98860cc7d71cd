#include "service/core/audio_operation_validation.h"

#include <cmath>
#include <string>

#include "absl/strings/str_cat.h"
#include "service/core/validation.h"

namespace music::service {
namespace {

void Require(const char* field, const std::string& value, const char* why,
             std::vector<FieldViolation>& out) {
  if (value.empty()) out.push_back({field, absl::StrCat("required ", why)});
}

void Forbid(const char* field, bool set, const char* why, std::vector<FieldViolation>& out) {
  if (set) out.push_back({field, why});
}

void CheckMax(const char* field, const std::string& value, int max,
              std::vector<FieldViolation>& out) {
  if (max > 0 && CharCount(value) > static_cast<size_t>(max)) {
    out.push_back({field, absl::StrCat("at most ", max, " characters for this model (got ",
                                       CharCount(value), ")")});
  }
}

}  // namespace

music::v1::TaskInput AudioOperationInput(const music::v1::CreateAudioOperationRequest& r) {
  music::v1::TaskInput in;
  in.set_audio_operation(r.operation());
  in.set_reference_audio_id(r.reference_audio_id());
  in.set_reference_audio_uri(r.reference_audio_uri());
  in.set_prompt(r.prompt());
  in.set_style(r.style());
  in.set_title(r.title());
  in.set_instrumental(r.instrumental());
  in.set_negative_tags(r.negative_tags());
  in.set_continue_at_seconds(r.continue_at_seconds());
  return in;
}

bool ModelOffersAudioOperation(const music::v1::Model& model,
                               music::v1::AudioOperation operation) {
  for (int op : model.capabilities().audio_operations()) {
    if (op == operation) return true;
  }
  return false;
}

void ValidateAudioOperationFields(const music::v1::TaskInput& in,
                                  std::vector<FieldViolation>& out) {
  const music::v1::AudioOperation op = in.audio_operation();
  if (op == music::v1::AUDIO_OPERATION_UNSPECIFIED || !music::v1::AudioOperation_IsValid(op)) {
    out.push_back({"operation", "required: COVER, EXTEND, ADD_INSTRUMENTAL or ADD_VOCALS"});
    return;
  }
  const bool has_id = !in.reference_audio_id().empty();
  const bool has_uri = !in.reference_audio_uri().empty();
  if (!has_id && !has_uri) {
    out.push_back({"reference_audio_id",
                   "required: the audio, from UploadReferenceAudio (or give reference_audio_uri)"});
  } else if (has_id && has_uri) {
    out.push_back(
        {"reference_audio_id", "give reference_audio_uri or reference_audio_id, not both"});
  }
  const double at = in.continue_at_seconds();
  if (!std::isfinite(at) || at < 0) {
    out.push_back({"continue_at_seconds", "must be a finite number of seconds >= 0"});
    return;
  }
  Forbid("instrumental", in.instrumental() && op != music::v1::AUDIO_OPERATION_COVER,
         "only a COVER can be instrumental", out);
  Forbid("continue_at_seconds", at > 0 && op != music::v1::AUDIO_OPERATION_EXTEND,
         "only for EXTEND", out);
  switch (op) {
    case music::v1::AUDIO_OPERATION_COVER: {
      const bool custom = !in.style().empty() || !in.title().empty();
      if (!custom) {
        Require("prompt", in.prompt(), "(describe the cover; or give style and title)", out);
      } else {
        Require("style", in.style(), "in custom mode (when title is given)", out);
        Require("title", in.title(), "in custom mode (when style is given)", out);
        if (!in.instrumental()) {
          Require("prompt", in.prompt(), "in custom mode unless instrumental (the words)", out);
        }
      }
      break;
    }
    case music::v1::AUDIO_OPERATION_EXTEND:
      if (at == 0) {
        out.push_back({"continue_at_seconds",
                       "required: where the extension starts, 0 < value < the audio's duration"});
      }
      Require("prompt", in.prompt(), "for EXTEND", out);
      Require("style", in.style(), "for EXTEND", out);
      Require("title", in.title(), "for EXTEND", out);
      Forbid("negative_tags", !in.negative_tags().empty(), "EXTEND takes no negative tags", out);
      break;
    case music::v1::AUDIO_OPERATION_ADD_INSTRUMENTAL:
      Require("title", in.title(), "for ADD_INSTRUMENTAL", out);
      Require("style", in.style(), "for ADD_INSTRUMENTAL (the accompaniment's style)", out);
      Forbid("prompt", !in.prompt().empty(), "ADD_INSTRUMENTAL takes no prompt", out);
      break;
    case music::v1::AUDIO_OPERATION_ADD_VOCALS:
      Require("prompt", in.prompt(), "for ADD_VOCALS (the words to sing)", out);
      Require("style", in.style(), "for ADD_VOCALS", out);
      Require("title", in.title(), "for ADD_VOCALS", out);
      break;
    default:
      break;
  }
}

void ValidateAudioOperation(const music::v1::TaskInput& in, const music::v1::Model& model,
                            std::vector<FieldViolation>& out) {
  ValidateAudioOperationFields(in, out);
  const auto& caps = model.capabilities();
  const bool custom = !in.style().empty() || !in.title().empty() ||
                      in.audio_operation() != music::v1::AUDIO_OPERATION_COVER;
  CheckMax("prompt", in.prompt(), custom ? caps.max_custom_prompt_chars() : caps.max_prompt_chars(),
           out);
  CheckMax("style", in.style(), caps.max_style_chars(), out);
  CheckMax("title", in.title(), caps.max_title_chars(), out);
  CheckMax("negative_tags", in.negative_tags(), caps.max_style_chars(), out);
  // The audio source's syntax, as for CreateMusic's reference audio: a model offering audio
  // operations takes the caller's audio whether or not its generate does.
  music::v1::TaskInput source;
  source.set_reference_audio_id(in.reference_audio_id());
  source.set_reference_audio_uri(in.reference_audio_uri());
  music::v1::Model takes_audio = model;
  takes_audio.mutable_capabilities()->set_reference_audio(true);
  std::vector<FieldViolation> found;
  ValidateModelFeatures(source, takes_audio, found);
  for (auto& v : found) {
    // "not both" is reported above already.
    if (!(v.field == "reference_audio_id" && !in.reference_audio_uri().empty())) {
      out.push_back(std::move(v));
    }
  }
}

}  // namespace music::service
