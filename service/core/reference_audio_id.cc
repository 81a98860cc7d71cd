#include "service/core/reference_audio_id.h"

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "service/core/callback_token.h"

namespace music::service {
namespace {

// 128 bits: the guessing bound for an id a caller could try against CreateMusic, and 22
// characters, short enough for a command line.
constexpr size_t kTagBytes = 16;

std::string Tag(absl::string_view secret, absl::string_view tenant, absl::string_view provider,
                absl::string_view artifact) {
  return HmacSha256Tag(
      secret, absl::StrCat("reference_audio\n", tenant, "\n", provider, "/", artifact), kTagBytes);
}

bool IsBase64UrlChar(char c) { return absl::ascii_isalnum(c) || c == '-' || c == '_'; }

}  // namespace

std::string IssueReferenceAudioId(absl::string_view secret, absl::string_view tenant,
                                  absl::string_view provider, absl::string_view artifact) {
  const std::string tag = Tag(secret, tenant, provider, artifact);
  if (tag.empty()) return "";
  return absl::StrCat(provider, "/", tag, "/", artifact);
}

std::optional<ReferenceAudioIdParts> ParseReferenceAudioId(absl::string_view id) {
  const size_t first = id.find('/');
  if (first == absl::string_view::npos || first == 0) return std::nullopt;
  const size_t second = id.find('/', first + 1);
  if (second == absl::string_view::npos || second + 1 == id.size()) return std::nullopt;
  ReferenceAudioIdParts parts;
  parts.provider = id.substr(0, first);
  parts.tag = id.substr(first + 1, second - first - 1);
  parts.artifact = id.substr(second + 1);
  if (parts.tag.size() != kReferenceAudioTagChars) return std::nullopt;
  for (char c : parts.tag) {
    if (!IsBase64UrlChar(c)) return std::nullopt;
  }
  return parts;
}

bool VerifyReferenceAudioId(absl::Span<const std::string> secrets, absl::string_view tenant,
                            absl::string_view id) {
  const std::optional<ReferenceAudioIdParts> parts = ParseReferenceAudioId(id);
  if (!parts.has_value()) return false;
  bool match = false;
  for (const std::string& secret : secrets) {
    // No early exit: the answer's timing does not tell which secret (if any) matched.
    if (TagMatches(Tag(secret, tenant, parts->provider, parts->artifact), parts->tag)) {
      match = true;
    }
  }
  return match;
}

}  // namespace music::service
