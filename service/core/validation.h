#ifndef MUSIC_SERVICE_CORE_VALIDATION_H_
#define MUSIC_SERVICE_CORE_VALIDATION_H_

#include <vector>

#include "absl/status/status.h"
#include "absl/strings/string_view.h"
#include "music/v1/music_service.pb.h"
#include "music/v1/task.pb.h"
#include "service/core/status_details.h"

namespace music::service {

/// Longest id a request may name (task_id, clip_id, run_id), bytes: well above every id this
/// service issues (task ids are 28 bytes, run ids 20) or a provider returns (clip ids are UUIDs
/// or provider ids of at most a few dozen bytes).
inline constexpr size_t kMaxIdBytes = 256;

/// OK, or INVALID_ARGUMENT naming `field` when `id` is longer than kMaxIdBytes (so no store
/// lookup and no echo of it happens).
absl::Status CheckIdLength(absl::string_view field, absl::string_view id);

/// Checks a caller's free text (prompt, lyrics, style, title, ...): when not empty it must
/// contain no NUL and at least one character that is neither whitespace nor a control character
/// (Unicode White_Space and Cc/Cf ranges), else one violation naming `field`. Emptiness itself is
/// left to the field's own rule (required or optional).
void CheckText(absl::string_view field, absl::string_view value, std::vector<FieldViolation>& out);

/// Longest accepted request_id, characters.
inline constexpr int kMaxRequestIdChars = 128;

/// Number of Unicode code points in UTF-8 `s` (providers count characters, not bytes).
size_t CharCount(absl::string_view s);

/// Checks a request_id (AIP-155): at most kMaxRequestIdChars printable ASCII characters.
void ValidateRequestId(absl::string_view request_id, std::vector<FieldViolation>& out);

/// Checks a CreateMusicRequest against `model`'s limits (kie.ai limits, seed 004). Simple mode
/// (no style, title or lyrics): prompt required, <= max_prompt_chars. Custom mode: style and title
/// required; the sung text (lyrics, else prompt) required unless instrumental, <=
/// max_custom_prompt_chars; style <= max_style_chars; title <= max_title_chars. Appends one
/// violation per bad field.
void ValidateCreateMusic(const music::v1::CreateMusicRequest& request,
                         const music::v1::Model& model, std::vector<FieldViolation>& out);

/// Checks a CreateLyricsRequest: prompt required, <= max_lyrics_prompt_chars.
void ValidateCreateLyrics(const music::v1::CreateLyricsRequest& request,
                          const music::v1::Model& model, std::vector<FieldViolation>& out);

/// Checks the fields of a ContinueClipRequest that need no source clip, following the model's
/// declared capabilities.continuation_style. Always: clip_id required; continue_at_seconds finite
/// and >= 0. SOURCE_PARAMETERS_OR_CUSTOM (and UNSPECIFIED): when > 0, prompt, style and title
/// required and within the custom-mode limits; when 0, all three empty. DESCRIPTION_OR_LYRICS:
/// prompt (a description) or lyrics required at any continue_at_seconds, style and title
/// optional. OPTIONAL_FIELDS: prompt, style and title optional. lyrics only with
/// DESCRIPTION_OR_LYRICS. negative_tags only where capabilities.negative_tags, <= max_style_chars;
/// the generate options as ValidateGenerateOptions. Appends one violation (INVALID_ARGUMENT
/// detail) per bad field.
void ValidateContinueClip(const music::v1::ContinueClipRequest& request,
                          const music::v1::Model& model, std::vector<FieldViolation>& out);

/// Checks the parts of a request that depend on what `model` can take (all models of seed
/// 002/003/004): reference audio only where capabilities.reference_audio, at most one of
/// reference_audio_uri (https, syntax only: the download is checked at submit) and
/// reference_audio_id ("<provider>/<tag>/<artifact>" of the model's provider, reference_audio_id.h;
/// the tenant's tag is MusicApi's check); seed (>= 0) only where capabilities.seed unless 0;
/// negative_tags only where capabilities.negative_tags; model_options top-level keys among
/// capabilities.model_option_namespaces, each an object. Used by ValidateCreateMusic.
void ValidateModelFeatures(const music::v1::TaskInput& input, const music::v1::Model& model,
                           std::vector<FieldViolation>& out);

/// Checks the generate options of a MUSIC or CONTINUATION `input` (CONTRACT-NOTES.md kie.ai
/// "Generate (and extend) optional fields") against `model`'s capabilities, one violation naming
/// the field each: vocal_gender (MALE or FEMALE) and persona_id only where the capability says so
/// and only in custom mode (MUSIC: style, title or lyrics given; CONTINUATION: continue_at_seconds
/// > 0, the continuation's own parameters); style_weight, weirdness and audio_weight, when set,
/// only where the capability says so, each a finite number in [0, 1] with at most 2 decimals.
/// Used by ValidateCreateMusic and ValidateContinueClip.
void ValidateGenerateOptions(music::v1::TaskKind kind, const music::v1::TaskInput& input,
                             const music::v1::Model& model, std::vector<FieldViolation>& out);

/// Copies the generate options (vocal_gender, style_weight, weirdness, audio_weight, persona_id;
/// an unset weight stays unset) between the messages that carry them under the same names:
/// CreateMusicRequest, ContinueClipRequest and TaskInput.
template <typename From, typename To>
void CopyGenerateOptions(const From& from, To& to) {
  to.set_vocal_gender(from.vocal_gender());
  if (from.has_style_weight()) to.set_style_weight(from.style_weight());
  if (from.has_weirdness()) to.set_weirdness(from.weirdness());
  if (from.has_audio_weight()) to.set_audio_weight(from.audio_weight());
  to.set_persona_id(from.persona_id());
}

/// Longest video_author / video_domain_name, characters (kie.ai `author` / `domainName`,
/// CONTRACT-NOTES.md).
inline constexpr size_t kMaxVideoTextChars = 50;

/// Checks the fields of a CreateClipOperationRequest that need no source clip: clip_id required;
/// operation a known ClipOperation other than UNSPECIFIED; video_author and video_domain_name at
/// most kMaxVideoTextChars, and only with CLIP_OPERATION_CREATE_MUSIC_VIDEO.
void ValidateClipOperation(const music::v1::CreateClipOperationRequest& request,
                           std::vector<FieldViolation>& out);

/// Whether `model` lists `operation` in capabilities.clip_operations.
bool OffersClipOperation(const music::v1::Model& model, music::v1::ClipOperation operation);

/// Checks a stored task input of `kind` against `model` as the create RPC of that kind would
/// (the routing engine uses it to skip alias members that cannot do a task).
void ValidateTaskInput(music::v1::TaskKind kind, const music::v1::TaskInput& input,
                       const music::v1::Model& model, std::vector<FieldViolation>& out);

/// The TaskInput a CreateMusicRequest stores.
music::v1::TaskInput MusicInput(const music::v1::CreateMusicRequest& request);

/// Longest accepted reference_audio_uri, characters.
inline constexpr size_t kMaxReferenceAudioUriChars = 2048;

/// True when a CreateMusicRequest is in custom mode (style, title or lyrics given).
bool IsCustomMode(const music::v1::CreateMusicRequest& request);

}  // namespace music::service

#endif  // MUSIC_SERVICE_CORE_VALIDATION_H_
