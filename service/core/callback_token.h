#ifndef MUSIC_SERVICE_CORE_CALLBACK_TOKEN_H_
#define MUSIC_SERVICE_CORE_CALLBACK_TOKEN_H_

#include <string>
#include <vector>

#include "absl/strings/string_view.h"
#include "absl/types/span.h"

namespace music::service {

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
