#include "adapters/tokenlab/tokenlab_request_body.h"

#include <rapidjson/stringbuffer.h>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "adapters/internal/json_writer.h"

namespace music::adapters::tokenlab {
namespace {

using internal::JsonWriter;
using internal::PutIfSet;
using internal::PutSeconds;
using internal::PutString;

// Seed 000 puts instrumentals in the "Full song or instrumental" workflow with no field of their
// own: the request says so in `tags`, where the style goes.
std::string Tags(const music::v1::TaskInput& input) {
  if (!input.instrumental()) return input.style();
  if (absl::StrContains(absl::AsciiStrToLower(input.style()), "instrumental")) {
    return input.style();
  }
  return input.style().empty() ? std::string("instrumental")
                               : absl::StrCat(input.style(), ", instrumental");
}

// TokenLab's create has one text field, `prompt`: a description, or the words to sing in custom
// mode (the service never sends both, validation.cc).
const std::string& PromptText(const music::v1::TaskInput& input) {
  return input.prompt().empty() ? input.lyrics() : input.prompt();
}

// A music create needs a prompt (seed 000 "Key fields"), but a custom-mode instrumental may come
// with style and title only: its tags then describe the music.
std::string MusicPrompt(const music::v1::TaskInput& input) {
  const std::string& text = PromptText(input);
  return text.empty() ? Tags(input) : text;
}

absl::Status Unsupported(absl::string_view what) {
  return absl::InvalidArgumentError(
      absl::StrCat("TokenLab's public music contract has no ", what,
                   " (seed 000: fields outside it answer \"Unsupported parameter\")"));
}

}  // namespace

absl::StatusOr<std::string> BuildCreateBody(const SubmitRequest& request) {
  const music::v1::TaskInput& input = request.input;
  const music::v1::TaskKind kind = request.kind;
  if (kind != music::v1::TASK_KIND_MUSIC && kind != music::v1::TASK_KIND_LYRICS &&
      kind != music::v1::TASK_KIND_CONTINUATION) {
    return absl::InvalidArgumentError(
        absl::StrCat("TokenLab cannot run task kind ", music::v1::TaskKind_Name(kind)));
  }
  if (request.provider_model.empty()) return absl::InvalidArgumentError("no TokenLab model");
  if (!input.negative_tags().empty()) return Unsupported("negative tags");
  if (input.seed() != 0) return Unsupported("generation seed");
  if (input.has_model_options() && input.model_options().fields_size() > 0) {
    return Unsupported("model_options");
  }
  if (!input.reference_audio_uri().empty() || !input.reference_audio_id().empty() ||
      !request.reference_artifact_id.empty()) {
    return Unsupported("reference audio");
  }
  if (kind == music::v1::TASK_KIND_CONTINUATION) {
    if (input.continue_from_clip_id().empty()) {
      return absl::InvalidArgumentError("a continuation needs continue_from_clip_id");
    }
    // JSON has no NaN or infinity; such a value would corrupt the body.
    if (!std::isfinite(input.continue_at_seconds()) || input.continue_at_seconds() < 0) {
      return absl::InvalidArgumentError("continue_at_seconds must be a finite number >= 0");
    }
  }

  rapidjson::StringBuffer buffer;
  JsonWriter w(buffer);
  w.StartObject();
  PutString(w, "model", request.provider_model);
  switch (kind) {
    case music::v1::TASK_KIND_LYRICS:
      PutString(w, "prompt", input.prompt());
      PutString(w, "action", "LYRICS");
      break;
    case music::v1::TASK_KIND_MUSIC:
      PutString(w, "prompt", MusicPrompt(input));
      PutIfSet(w, "title", input.title());
      PutIfSet(w, "tags", Tags(input));
      PutString(w, "action", "MUSIC");
      break;
    default:  // continuation: the source clip's own parameters unless new ones are given
      PutIfSet(w, "prompt", PromptText(input));
      PutIfSet(w, "title", input.title());
      PutIfSet(w, "tags", Tags(input));
      PutString(w, "action", "MUSIC");
      PutString(w, "continue_clip_id", input.continue_from_clip_id());
      // 0 means "from the source clip's parameters / end" (task.proto); `continue_at` is
      // optional in seed 000, so it is left out rather than sent as 0.
      if (input.continue_at_seconds() > 0)
        PutSeconds(w, "continue_at", input.continue_at_seconds());
      break;
  }
  // `user` is the documented "caller identifier" (CONTRACT-NOTES "TokenLab": the reference page
  // lists `mv` and `user`); it carries our task id so a TokenLab usage record can be traced back.
  // No `request_id`: TokenLab assigns that itself and answers "Unsupported parameter" to it
  // (seed 000 "Common Errors"; CONTRACT-NOTES "`request_id` is NOT a request field").
  PutIfSet(w, "user", request.task_id);
  w.EndObject();
  return std::string(buffer.GetString(), buffer.GetSize());
}

}  // namespace music::adapters::tokenlab
