#ifndef MUSIC_ADAPTERS_KIE_KIE_SIGNATURE_H_
#define MUSIC_ADAPTERS_KIE_KIE_SIGNATURE_H_

#include <string>

#include "absl/strings/string_view.h"

namespace music::adapters::kie {

/// The kie.ai callback signature (WIRE.md "Callbacks"): standard, padded base64 of
/// HMAC-SHA256(key, task_id + "." + timestamp). `timestamp` is the X-Webhook-Timestamp header
/// as sent (unix seconds). It covers no body bytes.
std::string KieCallbackSignature(absl::string_view key, absl::string_view task_id,
                                 absl::string_view timestamp);

/// True when `signature` (the X-Webhook-Signature header, base64 with or without padding) is
/// the signature of `task_id` and `timestamp`. The digests are compared in constant time.
bool VerifyKieCallbackSignature(absl::string_view key, absl::string_view task_id,
                                absl::string_view timestamp, absl::string_view signature);

}  // namespace music::adapters::kie

#endif  // MUSIC_ADAPTERS_KIE_KIE_SIGNATURE_H_
