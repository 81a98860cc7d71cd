#ifndef MUSIC_ADAPTERS_KIE_KIE_REQUEST_BODY_H_
#define MUSIC_ADAPTERS_KIE_KIE_REQUEST_BODY_H_

#include <string>

#include "absl/strings/string_view.h"
#include "adapters/internal/json_writer.h"
#include "music/v1/task.pb.h"

namespace music::adapters::kie {

/// True when `input` asks for kie.ai custom mode: a style, a title or exact lyrics is given.
bool IsCustomMode(const music::v1::TaskInput& input);

/// Writes generate's own members into the open JSON object `w`: `prompt` (by mode, as below),
/// `customMode`, `instrumental`, `style`, `title` and the options. Shared by generate and
/// upload-cover (CONTRACT-NOTES.md: "fields of generate plus `uploadUrl`").
void WriteGenerateFields(const music::v1::TaskInput& input, internal::JsonWriter& w);

/// Writes extend's own members into the open JSON object `w`: `defaultParamFlag`
/// (continue_at_seconds > 0) and with it `prompt`, `style`, `title`, `continueAt`; the options
/// (the flag standing for custom mode). Shared by extend and upload-extend.
void WriteExtendFields(const music::v1::TaskInput& input, internal::JsonWriter& w);

/// The JSON body of `POST /api/v1/generate` (WIRE.md "Create"): always `customMode`,
/// `instrumental`, `model`, `callBackUrl`. Simple mode adds `prompt` (the description); custom
/// mode adds `prompt` = lyrics, else the prompt (left out when empty and instrumental). `style`,
/// `title` and `negativeTags` only when non-empty. The options of CONTRACT-NOTES.md kie.ai
/// "Generate (and extend) optional fields", each only when set: `vocalGender` (`m` | `f`) and
/// `personaId` in custom mode, `styleWeight`, `weirdnessConstraint` (TaskInput.weirdness),
/// `audioWeight` (numbers rounded to 2 decimals; validation keeps them in [0, 1]).
std::string BuildGenerateBody(const music::v1::TaskInput& input, absl::string_view model,
                              absl::string_view callback_url);

/// The JSON body of `POST /api/v1/generate/extend`: `audioId` (continue_from_clip_id),
/// `defaultParamFlag` (continue_at_seconds > 0), `model`, `callBackUrl`; with the flag set also
/// `prompt`, `style`, `title` and `continueAt` (seconds, a number), which kie.ai then requires.
/// The generate options as in BuildGenerateBody (`negativeTags`, the weights), with the flag set
/// standing for custom mode (`vocalGender`, `personaId` only then).
std::string BuildExtendBody(const music::v1::TaskInput& input, absl::string_view model,
                            absl::string_view callback_url);

/// The JSON body of `POST /api/v1/lyrics`: `{prompt, callBackUrl}`.
std::string BuildLyricsBody(const music::v1::TaskInput& input, absl::string_view callback_url);

}  // namespace music::adapters::kie

#endif  // MUSIC_ADAPTERS_KIE_KIE_REQUEST_BODY_H_
