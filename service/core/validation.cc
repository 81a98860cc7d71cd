#include "service/core/validation.h"

#include <cmath>
#include <string>

#include "absl/strings/str_cat.h"

namespace music::service {
namespace {

void CheckMax(absl::string_view field, absl::string_view value, int max,
              std::vector<FieldViolation>& out) {
  if (max > 0 && CharCount(value) > static_cast<size_t>(max)) {
    out.push_back(
        {std::string(field),
         absl::StrCat("at most ", max, " characters for this model (got ", CharCount(value), ")")});
  }
}

void Require(absl::string_view field, absl::string_view value, absl::string_view why,
             std::vector<FieldViolation>& out) {
  if (value.empty()) out.push_back({std::string(field), absl::StrCat("required ", why)});
}

}  // namespace

size_t CharCount(absl::string_view s) {
  size_t n = 0;
  for (unsigned char c : s) {
    if ((c & 0xC0) != 0x80) ++n;  // count every byte that starts a code point
  }
  return n;
}

void ValidateRequestId(absl::string_view request_id, std::vector<FieldViolation>& out) {
  if (request_id.size() > static_cast<size_t>(kMaxRequestIdChars)) {
    out.push_back({"request_id", absl::StrCat("at most ", kMaxRequestIdChars, " characters")});
    return;
  }
  for (unsigned char c : request_id) {
    if (c < 0x21 || c > 0x7E) {
      out.push_back({"request_id", "printable ASCII only, no spaces"});
      return;
    }
  }
}

bool IsCustomMode(const music::v1::CreateMusicRequest& r) {
  return !r.style().empty() || !r.title().empty() || !r.lyrics().empty();
}

void ValidateCreateMusic(const music::v1::CreateMusicRequest& r, const music::v1::Model& model,
                         std::vector<FieldViolation>& out) {
  const auto& caps = model.capabilities();
  if (!caps.music()) {
    out.push_back({"model", absl::StrCat("model ", model.name(), " does not create music")});
  }
  if (r.instrumental() && !caps.instrumental()) {
    out.push_back(
        {"instrumental", absl::StrCat("model ", model.name(), " makes no instrumentals")});
  }
  if (!IsCustomMode(r)) {
    Require("prompt", r.prompt(), "(describe the music; or give style and title for custom mode)",
            out);
    CheckMax("prompt", r.prompt(), caps.max_prompt_chars(), out);
  } else {
    Require("style", r.style(), "in custom mode (when title or lyrics are given)", out);
    Require("title", r.title(), "in custom mode (when style or lyrics are given)", out);
    CheckMax("style", r.style(), caps.max_style_chars(), out);
    CheckMax("title", r.title(), caps.max_title_chars(), out);
    if (r.instrumental() && !r.lyrics().empty()) {
      out.push_back({"lyrics", "an instrumental takes no lyrics"});
    }
    if (!r.lyrics().empty() && !r.prompt().empty()) {
      out.push_back({"prompt", "in custom mode give the words in lyrics or prompt, not both"});
    }
    if (!r.instrumental() && r.lyrics().empty() && r.prompt().empty()) {
      out.push_back({"lyrics", "required in custom mode unless instrumental"});
    }
    CheckMax(r.lyrics().empty() ? "prompt" : "lyrics", r.lyrics().empty() ? r.prompt() : r.lyrics(),
             caps.max_custom_prompt_chars(), out);
  }
  CheckMax("negative_tags", r.negative_tags(), caps.max_style_chars(), out);
}

void ValidateCreateLyrics(const music::v1::CreateLyricsRequest& r, const music::v1::Model& model,
                          std::vector<FieldViolation>& out) {
  if (!model.capabilities().lyrics()) {
    out.push_back({"model", absl::StrCat("model ", model.name(), " does not create lyrics")});
  }
  Require("prompt", r.prompt(), "(what the lyrics are about)", out);
  CheckMax("prompt", r.prompt(), model.capabilities().max_lyrics_prompt_chars(), out);
}

void ValidateContinueClip(const music::v1::ContinueClipRequest& r, const music::v1::Model& model,
                          std::vector<FieldViolation>& out) {
  const auto& caps = model.capabilities();
  if (!caps.continuation()) {
    out.push_back({"model", absl::StrCat("model ", model.name(), " does not continue clips")});
  }
  Require("clip_id", r.clip_id(), "(the clip to continue)", out);
  double at = r.continue_at_seconds();
  if (!std::isfinite(at) || at < 0) {
    out.push_back({"continue_at_seconds", "must be a finite number of seconds >= 0"});
    return;
  }
  if (at > 0) {
    const char* why = "when continue_at_seconds is set";
    Require("prompt", r.prompt(), why, out);
    Require("style", r.style(), why, out);
    Require("title", r.title(), why, out);
    CheckMax("prompt", r.prompt(), caps.max_custom_prompt_chars(), out);
    CheckMax("style", r.style(), caps.max_style_chars(), out);
    CheckMax("title", r.title(), caps.max_title_chars(), out);
  } else {
    const char* why =
        "must be empty when continue_at_seconds is 0 (the source clip's "
        "parameters are reused); set continue_at_seconds to give new ones";
    if (!r.prompt().empty()) out.push_back({"prompt", why});
    if (!r.style().empty()) out.push_back({"style", why});
    if (!r.title().empty()) out.push_back({"title", why});
  }
}

}  // namespace music::service
