#include "service/core/callback_token.h"

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>

#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"

namespace music::service {
namespace {

// 192 bits: well above the 128 the guessing bound asks for, and a whole number of base64
// characters (32), so there is no padding to strip or to compare.
constexpr size_t kTokenBytes = 24;

}  // namespace

std::string CallbackToken(absl::string_view secret, absl::string_view provider,
                          absl::string_view task_id) {
  if (secret.empty()) return "";
  const std::string message = absl::StrCat(provider, "/", task_id);
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int length = 0;
  if (HMAC(EVP_sha256(), secret.data(), static_cast<int>(secret.size()),
           reinterpret_cast<const unsigned char*>(message.data()), message.size(), digest,
           &length) == nullptr ||
      length < kTokenBytes) {
    return "";
  }
  return absl::WebSafeBase64Escape(
      absl::string_view(reinterpret_cast<const char*>(digest), kTokenBytes));
}

bool VerifyCallbackToken(absl::Span<const std::string> secrets, absl::string_view provider,
                         absl::string_view task_id, absl::string_view token) {
  bool match = false;
  for (const std::string& secret : secrets) {
    const std::string expected = CallbackToken(secret, provider, task_id);
    // Every secret is tried (no early exit) and each comparison takes the same time whatever
    // the bytes: the answer's timing tells nothing about how much of a guess was right.
    if (!expected.empty() && expected.size() == token.size() &&
        CRYPTO_memcmp(expected.data(), token.data(), token.size()) == 0) {
      match = true;
    }
  }
  return match;
}

}  // namespace music::service
