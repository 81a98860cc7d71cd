#include "service/core/validation.h"

#include <cmath>
#include <optional>
#include <string>
#include <utility>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "service/core/audio_operation_validation.h"
#include "service/core/reference_audio_id.h"
#include "service/core/status_details.h"

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

absl::Status CheckIdLength(absl::string_view field, absl::string_view id) {
  if (id.size() <= kMaxIdBytes) return absl::OkStatus();
  return InvalidField(field, absl::StrCat("at most ", kMaxIdBytes, " bytes (got ", id.size(),
                                          "); no id this service issues is longer"));
}

namespace {

// Decodes the UTF-8 code point at s[*i] and advances *i (the input is valid UTF-8: protobuf
// refuses a string that is not).
uint32_t NextCodePoint(absl::string_view s, size_t* i) {
  const auto b = static_cast<unsigned char>(s[*i]);
  int extra = b < 0x80 ? 0 : b < 0xE0 ? 1 : b < 0xF0 ? 2 : 3;
  uint32_t cp = extra == 0 ? b : b & (0x3F >> extra);
  ++*i;
  for (; extra > 0 && *i < s.size(); --extra, ++*i) {
    cp = (cp << 6) | (static_cast<unsigned char>(s[*i]) & 0x3F);
  }
  return cp;
}

// Whitespace (Unicode White_Space), controls (Cc) and the invisible format characters people
// paste (zero-width space/joiners, BOM): a prompt of only these says nothing.
bool IsBlankCodePoint(uint32_t c) {
  return c <= 0x20 || (c >= 0x7F && c <= 0xA0) || c == 0x1680 || (c >= 0x2000 && c <= 0x200F) ||
         c == 0x2028 || c == 0x2029 || c == 0x202F || c == 0x205F || c == 0x2060 ||
         c == 0x3000 || c == 0xFEFF;
}

}  // namespace

void CheckText(absl::string_view field, absl::string_view value,
               std::vector<FieldViolation>& out) {
  if (value.empty()) return;
  if (value.find('\0') != absl::string_view::npos) {
    out.push_back({std::string(field), "must not contain NUL characters"});
    return;
  }
  for (size_t i = 0; i < value.size();) {
    if (!IsBlankCodePoint(NextCodePoint(value, &i))) return;
  }
  out.push_back(
      {std::string(field), "must not be blank (only whitespace or control characters)"});
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
    if (!r.lyrics().empty() && caps.max_lyrics_chars() > 0) {
      CheckMax("lyrics", r.lyrics(), caps.max_lyrics_chars(), out);
    } else {
      CheckMax(r.lyrics().empty() ? "prompt" : "lyrics",
               r.lyrics().empty() ? r.prompt() : r.lyrics(), caps.max_custom_prompt_chars(), out);
    }
  }
  CheckMax("negative_tags", r.negative_tags(), caps.max_style_chars(), out);
  const music::v1::TaskInput input = MusicInput(r);
  ValidateModelFeatures(input, model, out);
  ValidateGenerateOptions(music::v1::TASK_KIND_MUSIC, input, model, out);
}

music::v1::TaskInput MusicInput(const music::v1::CreateMusicRequest& r) {
  music::v1::TaskInput in;
  in.set_prompt(r.prompt());
  in.set_style(r.style());
  in.set_title(r.title());
  in.set_lyrics(r.lyrics());
  in.set_instrumental(r.instrumental());
  in.set_negative_tags(r.negative_tags());
  in.set_reference_audio_uri(r.reference_audio_uri());
  in.set_reference_audio_id(r.reference_audio_id());
  in.set_seed(r.seed());
  if (r.has_model_options()) *in.mutable_model_options() = r.model_options();
  CopyGenerateOptions(r, in);
  return in;
}

void ValidateGenerateOptions(music::v1::TaskKind kind, const music::v1::TaskInput& in,
                             const music::v1::Model& model, std::vector<FieldViolation>& out) {
  const auto& caps = model.capabilities();
  const bool continuation = kind == music::v1::TASK_KIND_CONTINUATION;
  const bool custom = continuation ? in.continue_at_seconds() > 0
                                   : !in.style().empty() || !in.title().empty() ||
                                         !in.lyrics().empty();
  // kie.ai takes a voice and a persona only with the song's own style and title (CONTRACT-NOTES
  // "custom mode only"); a continuation has them only when it does not reuse the source's.
  const char* not_custom =
      continuation ? "only with continue_at_seconds > 0 (the continuation's own parameters)"
                   : "only in custom mode (give style and title)";
  const auto refuse = [&](const char* field, const char* what) {
    out.push_back({field, absl::StrCat("model ", model.name(), " takes no ", what)});
  };
  if (in.vocal_gender() != music::v1::VOCAL_GENDER_UNSPECIFIED) {
    if (in.vocal_gender() != music::v1::VOCAL_GENDER_MALE &&
        in.vocal_gender() != music::v1::VOCAL_GENDER_FEMALE) {
      out.push_back({"vocal_gender", "must be VOCAL_GENDER_MALE or VOCAL_GENDER_FEMALE"});
    } else if (!caps.vocal_gender()) {
      refuse("vocal_gender", "vocal gender");
    } else if (!custom) {
      out.push_back({"vocal_gender", not_custom});
    }
  }
  if (!in.persona_id().empty()) {
    if (!caps.persona_id()) {
      refuse("persona_id", "persona");
    } else if (!custom) {
      out.push_back({"persona_id", not_custom});
    }
  }
  struct Weight {
    const char* field;
    bool set;
    double value;
    bool taken;
  };
  const Weight weights[] = {
      {"style_weight", in.has_style_weight(), in.style_weight(), caps.style_weight()},
      {"weirdness", in.has_weirdness(), in.weirdness(), caps.weirdness()},
      {"audio_weight", in.has_audio_weight(), in.audio_weight(), caps.audio_weight()},
  };
  for (const Weight& weight : weights) {
    if (!weight.set) continue;
    if (!weight.taken) {
      refuse(weight.field, weight.field);
      continue;
    }
    // "a number in [0, 1] with at most 2 decimals" (CONTRACT-NOTES kie.ai). A double holds 0.29
    // as 0.28999..., so the hundredths are compared with a tolerance far below 0.005.
    const double hundredths = weight.value * 100;
    if (!std::isfinite(weight.value) || weight.value < 0 || weight.value > 1) {
      out.push_back({weight.field, "must be a number in [0, 1]"});
    } else if (std::abs(hundredths - std::round(hundredths)) > 1e-6) {
      out.push_back({weight.field, "at most 2 decimals (e.g. 0.65)"});
    }
  }
}

void ValidateModelFeatures(const music::v1::TaskInput& in, const music::v1::Model& model,
                           std::vector<FieldViolation>& out) {
  const auto& caps = model.capabilities();
  const bool has_uri = !in.reference_audio_uri().empty();
  const bool has_id = !in.reference_audio_id().empty();
  if (has_uri && has_id) {
    out.push_back(
        {"reference_audio_id", "give reference_audio_uri or reference_audio_id, not both"});
  }
  if ((has_uri || has_id) && !caps.reference_audio()) {
    out.push_back({has_uri ? "reference_audio_uri" : "reference_audio_id",
                   absl::StrCat("model ", model.name(), " takes no reference audio")});
  }
  if (has_uri) {
    absl::string_view uri = in.reference_audio_uri();
    const bool https = absl::StartsWithIgnoreCase(uri, "https://");
    absl::string_view rest = https ? uri.substr(8) : absl::string_view();
    const bool has_host =
        !rest.empty() && rest.front() != '/' && rest.front() != '?' && rest.front() != '#';
    bool printable = true;
    for (unsigned char c : uri) printable &= c > 0x20 && c < 0x7F;
    if (uri.size() > kMaxReferenceAudioUriChars) {
      out.push_back({"reference_audio_uri",
                     absl::StrCat("at most ", kMaxReferenceAudioUriChars, " characters")});
    } else if (!https || !has_host || !printable) {
      out.push_back({"reference_audio_uri",
                     "must be an https:// URL with a host (no spaces; percent-encode the rest)"});
    }
  }
  if (has_id) {
    // Only the form here: whether the id belongs to the caller's tenant is MusicApi's check
    // (VerifyReferenceAudioId), made before anything is stored.
    const std::optional<ReferenceAudioIdParts> parts =
        ParseReferenceAudioId(in.reference_audio_id());
    if (!parts.has_value()) {
      out.push_back({"reference_audio_id",
                     "not an id UploadReferenceAudio returns (pass it unchanged; ids issued "
                     "before ids were bound to tenants must be uploaded again)"});
    } else if (parts->provider != model.provider()) {
      out.push_back({"reference_audio_id",
                     absl::StrCat("was uploaded for provider ", TruncateForError(parts->provider),
                                  "; model ", model.name(), " runs on ", model.provider(),
                                  " (upload it for this model)")});
    }
  }
  if (in.seed() < 0) {
    out.push_back({"seed", "must not be negative (0 means random)"});
  } else if (in.seed() != 0 && !caps.seed()) {
    out.push_back({"seed", absl::StrCat("model ", model.name(), " takes no seed; leave it 0")});
  }
  if (!in.negative_tags().empty() && !caps.negative_tags()) {
    out.push_back(
        {"negative_tags", absl::StrCat("model ", model.name(), " takes no negative tags")});
  }
  for (const auto& [key, value] : in.model_options().fields()) {
    const std::string field = absl::StrCat("model_options.", key);
    bool known = false;
    for (const auto& ns : caps.model_option_namespaces()) known |= ns == key;
    if (!known) {
      out.push_back(
          {field,
           caps.model_option_namespaces().empty()
               ? absl::StrCat("model ", model.name(), " takes no model_options")
               : absl::StrCat("model ", model.name(), " takes model_options under ",
                              absl::StrJoin(caps.model_option_namespaces(), ", "), " only")});
    } else if (value.kind_case() != google::protobuf::Value::kStructValue) {
      out.push_back({field, "must be an object of the provider's options"});
    }
  }
}

void ValidateClipOperation(const music::v1::CreateClipOperationRequest& r,
                           std::vector<FieldViolation>& out) {
  if (r.clip_id().empty()) out.push_back({"clip_id", "required (the clip to operate on)"});
  if (r.operation() == music::v1::CLIP_OPERATION_UNSPECIFIED ||
      !music::v1::ClipOperation_IsValid(r.operation())) {
    out.push_back({"operation",
                   "required: CONVERT_TO_WAV, SEPARATE_VOCALS, SPLIT_STEMS or "
                   "CREATE_MUSIC_VIDEO"});
  }
  const bool video = r.operation() == music::v1::CLIP_OPERATION_CREATE_MUSIC_VIDEO;
  for (const auto& [field, value] :
       {std::pair<const char*, const std::string*>{"video_author", &r.video_author()},
        {"video_domain_name", &r.video_domain_name()}}) {
    if (value->empty()) continue;
    if (!video) {
      out.push_back({field, "only for CLIP_OPERATION_CREATE_MUSIC_VIDEO"});
    } else if (CharCount(*value) > kMaxVideoTextChars) {
      out.push_back({field, absl::StrCat("at most ", kMaxVideoTextChars, " characters")});
    }
  }
}

bool OffersClipOperation(const music::v1::Model& model, music::v1::ClipOperation operation) {
  for (int op : model.capabilities().clip_operations()) {
    if (op == operation) return true;
  }
  return false;
}

void ValidateTaskInput(music::v1::TaskKind kind, const music::v1::TaskInput& in,
                       const music::v1::Model& model, std::vector<FieldViolation>& out) {
  switch (kind) {
    case music::v1::TASK_KIND_MUSIC: {
      music::v1::CreateMusicRequest r;
      r.set_prompt(in.prompt());
      r.set_style(in.style());
      r.set_title(in.title());
      r.set_lyrics(in.lyrics());
      r.set_instrumental(in.instrumental());
      r.set_negative_tags(in.negative_tags());
      r.set_reference_audio_uri(in.reference_audio_uri());
      r.set_reference_audio_id(in.reference_audio_id());
      r.set_seed(in.seed());
      if (in.has_model_options()) *r.mutable_model_options() = in.model_options();
      CopyGenerateOptions(in, r);
      ValidateCreateMusic(r, model, out);
      return;
    }
    case music::v1::TASK_KIND_LYRICS: {
      music::v1::CreateLyricsRequest r;
      r.set_prompt(in.prompt());
      ValidateCreateLyrics(r, model, out);
      return;
    }
    case music::v1::TASK_KIND_CONTINUATION: {
      music::v1::ContinueClipRequest r;
      r.set_clip_id(in.continue_from_clip_id());
      r.set_continue_at_seconds(in.continue_at_seconds());
      r.set_prompt(in.prompt());
      r.set_style(in.style());
      r.set_title(in.title());
      r.set_negative_tags(in.negative_tags());
      CopyGenerateOptions(in, r);
      r.set_lyrics(in.lyrics());
      ValidateContinueClip(r, model, out);
      return;
    }
    case music::v1::TASK_KIND_CLIP_OPERATION: {
      music::v1::CreateClipOperationRequest r;
      r.set_clip_id(in.source_clip_id());
      r.set_operation(in.clip_operation());
      r.set_video_author(in.video_author());
      r.set_video_domain_name(in.video_domain_name());
      ValidateClipOperation(r, out);
      if (!OffersClipOperation(model, in.clip_operation())) {
        out.push_back({"operation", "the model does not offer this clip operation"});
      }
      return;
    }
    case music::v1::TASK_KIND_AUDIO_OPERATION:
      if (!ModelOffersAudioOperation(model, in.audio_operation())) {
        out.push_back({"operation", absl::StrCat("model ", model.name(), " does not run it")});
      }
      ValidateAudioOperation(in, model, out);
      return;
    default:
      out.push_back({"kind", "unknown task kind"});
  }
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
  // The model declares its continuation contract (music_service.proto ContinuationStyle); the
  // rule follows the declaration, never the provider's name.
  const music::v1::ContinuationStyle style = caps.continuation_style();
  if (style != music::v1::CONTINUATION_STYLE_DESCRIPTION_OR_LYRICS && !r.lyrics().empty()) {
    out.push_back({"lyrics",
                   "this model's continuations take no separate lyrics (continuation_style); "
                   "put the words in prompt"});
  }
  switch (style) {
    case music::v1::CONTINUATION_STYLE_DESCRIPTION_OR_LYRICS:
      // Any continue_at_seconds, 0 included (seed 003's extend example sends continue_at 0 with
      // a description): a description or exact lyrics says what to sing next.
      if (r.prompt().empty() && r.lyrics().empty()) {
        out.push_back(
            {"prompt", "required (a description of the continuation) unless lyrics are given"});
      }
      CheckMax("prompt", r.prompt(), caps.max_prompt_chars(), out);
      CheckMax(
          "lyrics", r.lyrics(),
          caps.max_lyrics_chars() > 0 ? caps.max_lyrics_chars() : caps.max_custom_prompt_chars(),
          out);
      CheckMax("style", r.style(), caps.max_style_chars(), out);
      CheckMax("title", r.title(), caps.max_title_chars(), out);
      break;
    case music::v1::CONTINUATION_STYLE_OPTIONAL_FIELDS:
      // Seed 000: only the clip is required; new words, style and title are optional.
      CheckMax("prompt", r.prompt(), caps.max_custom_prompt_chars(), out);
      CheckMax("style", r.style(), caps.max_style_chars(), out);
      CheckMax("title", r.title(), caps.max_title_chars(), out);
      break;
    default:  // SOURCE_PARAMETERS_OR_CUSTOM, and UNSPECIFIED read as it
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
      break;
  }
  // Every style: the generate options the model's capabilities list (kie.ai extend takes
  // generate's, CONTRACT-NOTES "Generate (and extend) optional fields"); others refused.
  if (!r.negative_tags().empty() && !caps.negative_tags()) {
    out.push_back(
        {"negative_tags", absl::StrCat("model ", model.name(), " takes no negative tags")});
  }
  CheckMax("negative_tags", r.negative_tags(), caps.max_style_chars(), out);
  music::v1::TaskInput options;
  options.set_continue_at_seconds(at);
  CopyGenerateOptions(r, options);
  ValidateGenerateOptions(music::v1::TASK_KIND_CONTINUATION, options, model, out);
}

}  // namespace music::service
