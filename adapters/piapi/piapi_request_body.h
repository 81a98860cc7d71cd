#ifndef MUSIC_ADAPTERS_PIAPI_PIAPI_REQUEST_BODY_H_
#define MUSIC_ADAPTERS_PIAPI_PIAPI_REQUEST_BODY_H_

#include <string>

#include "absl/strings/string_view.h"
#include "music/v1/task.pb.h"

namespace music::adapters::piapi {

/// The `lyrics_type` of a music task's `input` (seed 003): "instrumental" for an instrumental,
/// "user" when the caller gives the words (lyrics, or in custom mode the prompt: task.proto
/// TaskInput.prompt), else "generate".
std::string PiapiLyricsType(const music::v1::TaskInput& input);

/// The `lyrics_type` of a continuation (CONTINUATION_STYLE_DESCRIPTION_OR_LYRICS, seed 003
/// "Udio Song Extend Example"): "user" when `input.lyrics` holds the words, else "generate"
/// (the prompt describes the continuation).
std::string PiapiContinuationLyricsType(const music::v1::TaskInput& input);

/// The `gpt_description_prompt` of a continuation: the prompt and the style, joined with ", "
/// (either may be empty; PiAPI has no style field, seed 003's example describes with
/// "winter snow, Folk music").
std::string PiapiContinuationDescription(const music::v1::TaskInput& input);

/// What goes into `config.webhook_config`: both empty = no webhook_config at all.
struct PiapiWebhook {
  std::string endpoint;
  std::string secret;
};

/// The JSON body of `POST /api/v1/task` (WIRE.md "Create"): `model`, `task_type`
/// "generate_music", `input {gpt_description_prompt, prompt, lyrics_type, negative_tags, seed,
/// title, continue_song_id, continue_at}`, `config {service_mode, webhook_config {endpoint,
/// secret}}`. `prompt` only with lyrics_type "user"; `title` only when given; `continue_*` only
/// when `continuation`, whose lyrics_type and description come from
/// PiapiContinuationLyricsType / PiapiContinuationDescription (the words: `input.lyrics`); `seed`
/// is -1 when input.seed is 0; webhook_config only when `webhook.endpoint` is non-empty.
/// `input.continue_at_seconds` must be finite (checked by the caller).
std::string BuildPiapiCreateBody(const music::v1::TaskInput& input, absl::string_view model,
                                 bool continuation, absl::string_view service_mode,
                                 const PiapiWebhook& webhook);

/// The JSON body of a lyrics task (CONTRACT-NOTES "PiAPI": "PiAPI also documents a
/// `generate_lyrics` task (`input.prompt` -> `output.lyrics_pairs[{title, text}]`)"): `model`,
/// `task_type` "generate_lyrics", `input {prompt}`, `config {service_mode}` (no webhook: lyrics
/// tasks are polled).
std::string BuildPiapiLyricsBody(absl::string_view prompt, absl::string_view model,
                                 absl::string_view service_mode);

}  // namespace music::adapters::piapi

#endif  // MUSIC_ADAPTERS_PIAPI_PIAPI_REQUEST_BODY_H_
