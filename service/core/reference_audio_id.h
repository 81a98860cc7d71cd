#ifndef MUSIC_SERVICE_CORE_REFERENCE_AUDIO_ID_H_
#define MUSIC_SERVICE_CORE_REFERENCE_AUDIO_ID_H_

#include <cstddef>
#include <optional>
#include <string>

#include "absl/strings/string_view.h"
#include "absl/types/span.h"

namespace music::service {

/// The reference_audio_id UploadReferenceAudio returns, bound to the tenant that uploaded, without
/// storing anything: "<provider>/<tag>/<artifact>", where tag is base64url (no padding, 22
/// characters) of the first 16 bytes (128 bits) of HMAC-SHA256(secret, "reference_audio\n" +
/// tenant + "\n" + provider + "/" + artifact). The secret is the server's callback token secret
/// (EngineOptions::callback_token_secrets): the first signs, every one verifies, so ids issued
/// before a rotation stay good. The prefix "reference_audio\n" keeps these tags apart from
/// callback tokens made with the same secret. Another tenant cannot forge or reuse an id: the tag
/// answers for (tenant, provider, artifact) together.
///
/// The parts of an id; views into the string parsed.
struct ReferenceAudioIdParts {
  absl::string_view provider;
  absl::string_view tag;
  /// The provider's artifact id: may hold '/' (kie.ai's is a download URL, adapters/kie/WIRE.md).
  absl::string_view artifact;
};

/// Characters of a tag (16 bytes in base64url without padding).
inline constexpr size_t kReferenceAudioTagChars = 22;

/// The id for `artifact` stored at `provider` by `tenant`, tagged under `secret`; "" when `secret`
/// is empty (MusicServer refuses to start without one).
std::string IssueReferenceAudioId(absl::string_view secret, absl::string_view tenant,
                                  absl::string_view provider, absl::string_view artifact);

/// Splits an id into its parts; nullopt unless it has the form "<provider>/<tag>/<artifact>" with
/// a non-empty provider and artifact and a tag of kReferenceAudioTagChars base64url characters.
/// The old untagged "<provider>/<artifact>" ids (before ids were bound to tenants) are refused
/// here. Says nothing about whether the tag is right: see VerifyReferenceAudioId.
std::optional<ReferenceAudioIdParts> ParseReferenceAudioId(absl::string_view id);

/// True when `id` parses and its tag is the one of (tenant, provider, artifact) under one of
/// `secrets`. Every secret is tried, each compared in constant time. An empty secret never
/// matches.
bool VerifyReferenceAudioId(absl::Span<const std::string> secrets, absl::string_view tenant,
                            absl::string_view id);

}  // namespace music::service

#endif  // MUSIC_SERVICE_CORE_REFERENCE_AUDIO_ID_H_
