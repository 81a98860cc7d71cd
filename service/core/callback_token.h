#ifndef MUSIC_SERVICE_CORE_CALLBACK_TOKEN_H_
#define MUSIC_SERVICE_CORE_CALLBACK_TOKEN_H_

#include <cstddef>
#include <string>
#include <vector>

#include "absl/strings/string_view.h"
#include "absl/types/span.h"

namespace music::service {

/// base64url (no padding) of the first `bytes` bytes (at most 32) of HMAC-SHA256(`secret`,
/// `message`). "" when `secret` is empty or HMAC fails. The one keyed tag of the service: callback
/// tokens and reference_audio_id tags (reference_audio_id.h) are both made with it.
std::string HmacSha256Tag(absl::string_view secret, absl::string_view message, size_t bytes);

/// True when `expected` is non-empty and equals `given`, in time that does not depend on where
/// they differ (CRYPTO_memcmp); a length difference answers at once (lengths are public).
bool TagMatches(absl::string_view expected, absl::string_view given);

/// The per-task callback token: base64url (no padding) of the first 24 bytes (192 bits) of
/// HMAC-SHA256(`secret`, provider + "/" + task_id); 32 characters. It is the last path segment of
/// every callback URL the service hands a provider (TaskEngine::CallbackUrl), so a delivery
/// proves it came from whoever was given that URL, whether or not the provider signs anything.
/// "" when `secret` is empty.
std::string CallbackToken(absl::string_view secret, absl::string_view provider,
                          absl::string_view task_id);

/// True when `token` is the token of (provider, task_id) under one of `secrets` (the current
/// one and those accepted during a rotation). Compares in constant time; an empty secret or
/// token never matches.
bool VerifyCallbackToken(absl::Span<const std::string> secrets, absl::string_view provider,
                         absl::string_view task_id, absl::string_view token);

}  // namespace music::service

#endif  // MUSIC_SERVICE_CORE_CALLBACK_TOKEN_H_
