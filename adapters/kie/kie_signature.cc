#include "adapters/kie/kie_signature.h"

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>

#include <string>

#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"

namespace music::adapters::kie {
namespace {

constexpr size_t kDigestBytes = 32;  // SHA-256

std::string Digest(absl::string_view key, absl::string_view task_id, absl::string_view timestamp) {
  const std::string message = absl::StrCat(task_id, ".", timestamp);
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int length = 0;
  if (HMAC(EVP_sha256(), key.data(), static_cast<int>(key.size()),
           reinterpret_cast<const unsigned char*>(message.data()), message.size(), digest,
           &length) == nullptr) {
    return std::string();  // never equal to a decoded 32-byte signature
  }
  return std::string(reinterpret_cast<const char*>(digest), length);
}

}  // namespace

std::string KieCallbackSignature(absl::string_view key, absl::string_view task_id,
                                 absl::string_view timestamp) {
  return absl::Base64Escape(Digest(key, task_id, timestamp));
}

bool VerifyKieCallbackSignature(absl::string_view key, absl::string_view task_id,
                                absl::string_view timestamp, absl::string_view signature) {
  std::string given;
  if (!absl::Base64Unescape(signature, &given) || given.size() != kDigestBytes) return false;
  const std::string expected = Digest(key, task_id, timestamp);
  if (expected.size() != kDigestBytes) return false;
  // Constant time: a byte-by-byte early exit would let a forger find the digest one byte at a time.
  return CRYPTO_memcmp(given.data(), expected.data(), kDigestBytes) == 0;
}

}  // namespace music::adapters::kie
