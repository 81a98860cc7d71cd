#ifndef MUSIC_ADAPTERS_TOKENLAB_TOKENLAB_REQUEST_BODY_H_
#define MUSIC_ADAPTERS_TOKENLAB_TOKENLAB_REQUEST_BODY_H_

#include <string>

#include "absl/status/statusor.h"
#include "adapters/provider_adapter.h"

namespace music::adapters::tokenlab {

/// The JSON body of `POST /v1/music/generations` for `request` (WIRE.md "Create"; seed 000 "Choose
/// The Workflow" / "Create A Music Task"): `model`, `action` ("MUSIC" for music and
/// continuations, "LYRICS" for lyrics), `prompt`, `title`, `tags` (the style, plus "instrumental"
/// for instrumentals), `continue_clip_id` / `continue_at` (continuations) and `user` (=
/// request.task_id, the documented caller identifier; CONTRACT-NOTES "TokenLab"). Nothing else:
/// TokenLab answers 400 "Unsupported parameter" to any other member. INVALID_ARGUMENT, before anything is sent, for what TokenLab's
/// public contract has no field for (negative tags, seed, model_options, reference audio), an
/// unsupported task kind, a missing model or a bad continuation point.
absl::StatusOr<std::string> BuildCreateBody(const SubmitRequest& request);

}  // namespace music::adapters::tokenlab

#endif  // MUSIC_ADAPTERS_TOKENLAB_TOKENLAB_REQUEST_BODY_H_
