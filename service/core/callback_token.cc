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

std::string HmacSha256Tag(absl::string_view secret, absl::string_view message, size_t bytes) {
  if (secret.empty()) return "";
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int length = 0;
  if (HMAC(EVP_sha256(), secret.data(), static_cast<int>(secret.size()),
           reinterpret_cast<const unsigned char*>(message.data()), message.size(), digest,
           &length) == nullptr ||
      length < bytes) {
    return "";
  }
  return absl::WebSafeBase64Escape(absl::string_view(reinterpret_cast<const char*>(digest), bytes));
}

bool TagMatches(absl::string_view expected, absl::string_view given) {
  return !expected.empty() && expected.size() == given.size() &&
         CRYPTO_memcmp(expected.data(), given.data(), given.size()) == 0;
}

std::string CallbackToken(absl::string_view secret, absl::string_view provider,
                          absl::string_view task_id) {
  return HmacSha256Tag(secret, absl::StrCat(provider, "/", task_id), kTokenBytes);
}

bool VerifyCallbackToken(absl::Span<const std::string> secrets, absl::string_view provider,
                         absl::string_view task_id, absl::string_view token) {
  bool match = false;
  for (const std::string& secret : secrets) {
    // Every secret is tried (no early exit) and each comparison takes the same time whatever
    // the bytes: the answer's timing tells nothing about how much of a guess was right.
    if (TagMatches(CallbackToken(secret, provider, task_id), token)) match = true;
  }
  return match;
}

}  // namespace music::service
