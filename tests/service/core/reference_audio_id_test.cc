#include "service/core/reference_audio_id.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "absl/strings/str_cat.h"

namespace music::service {
namespace {

constexpr char kSecret[] = "secret-1";
constexpr char kPrevious[] = "secret-0";

std::vector<std::string> Secrets() { return {kSecret}; }

TEST(ReferenceAudioIdTest, TagIsTheTruncatedHmacOfTenantProviderAndArtifact) {
  // Expected values from Python's hmac module: base64url(HMAC-SHA256(key, msg)[:16]), no '='.
  EXPECT_EQ(IssueReferenceAudioId(kSecret, "tenant-a", "beatra", "art-1"),
            "beatra/ur0yxaTxTRk_5mfcMevGAg/art-1");
  // kie.ai's artifact is its download URL: slashes and spaces stay as they are.
  EXPECT_EQ(IssueReferenceAudioId(kSecret, "tenant-a", "kie", "https://files.example/a b.mp3"),
            "kie/170O0H_Kkv0sHSlS2pRwOw/https://files.example/a b.mp3");
  EXPECT_EQ(IssueReferenceAudioId("", "tenant-a", "beatra", "art-1"), "");
}

TEST(ReferenceAudioIdTest, ParseSplitsProviderTagAndArtifact) {
  const std::string id = IssueReferenceAudioId(kSecret, "t", "kie", "https://f.example/x/y.mp3");
  const auto parts = ParseReferenceAudioId(id);
  ASSERT_TRUE(parts.has_value()) << id;
  EXPECT_EQ(parts->provider, "kie");
  EXPECT_EQ(parts->tag.size(), kReferenceAudioTagChars);
  EXPECT_EQ(parts->artifact, "https://f.example/x/y.mp3");
}

TEST(ReferenceAudioIdTest, ParseRefusesOldAndMalformedIds) {
  const std::string tag(kReferenceAudioTagChars, 'A');
  for (const std::string& bad : std::vector<std::string>{
           "", "beatra", "beatra/", "/art-1",
           "beatra/art-1",                                    // the old untagged form
           "kie/https://files.example/a.mp3",                 // old kie.ai form: "https:" is no tag
           absl::StrCat("beatra/", tag),                      // no artifact
           absl::StrCat("beatra/", tag, "/"),                 // empty artifact
           absl::StrCat("/", tag, "/art-1"),                  // no provider
           absl::StrCat("beatra/", tag.substr(1), "/art-1"),  // tag too short
           absl::StrCat("beatra/", tag, "A/art-1"),           // tag too long
           absl::StrCat("beatra/", tag.substr(1), "+/art-1"),  // not base64url
           absl::StrCat("beatra/", tag.substr(1), "=/art-1"),  // padding
       }) {
    EXPECT_FALSE(ParseReferenceAudioId(bad).has_value()) << bad;
    EXPECT_FALSE(VerifyReferenceAudioId(Secrets(), "tenant-a", bad)) << bad;
  }
}

TEST(ReferenceAudioIdTest, VerifiesOnlyForTheTenantProviderAndArtifactItWasIssuedFor) {
  const std::string id = IssueReferenceAudioId(kSecret, "tenant-a", "beatra", "art-1");
  EXPECT_TRUE(VerifyReferenceAudioId(Secrets(), "tenant-a", id));
  EXPECT_FALSE(VerifyReferenceAudioId(Secrets(), "tenant-b", id));
  EXPECT_FALSE(VerifyReferenceAudioId(Secrets(), "", id));
  const auto tag = std::string(ParseReferenceAudioId(id)->tag);
  // The same tag moved to another provider or another artifact.
  EXPECT_FALSE(
      VerifyReferenceAudioId(Secrets(), "tenant-a", absl::StrCat("piapi/", tag, "/art-1")));
  EXPECT_FALSE(
      VerifyReferenceAudioId(Secrets(), "tenant-a", absl::StrCat("beatra/", tag, "/art-2")));
  // Another tenant's own id for the same artifact is a different tag.
  EXPECT_NE(IssueReferenceAudioId(kSecret, "tenant-b", "beatra", "art-1"), id);
}

TEST(ReferenceAudioIdTest, TruncatedOrAlteredTagIsRefused) {
  const std::string id = IssueReferenceAudioId(kSecret, "tenant-a", "beatra", "art-1");
  const auto parts = ParseReferenceAudioId(id);
  ASSERT_TRUE(parts.has_value());
  const std::string tag(parts->tag);
  EXPECT_FALSE(VerifyReferenceAudioId(Secrets(), "tenant-a",
                                      absl::StrCat("beatra/", tag.substr(0, 21), "/art-1")));
  EXPECT_FALSE(VerifyReferenceAudioId(Secrets(), "tenant-a",
                                      absl::StrCat("beatra/", tag.substr(0, 10), "/art-1")));
  std::string flipped = tag;
  flipped[5] = flipped[5] == 'A' ? 'B' : 'A';
  EXPECT_FALSE(
      VerifyReferenceAudioId(Secrets(), "tenant-a", absl::StrCat("beatra/", flipped, "/art-1")));
}

TEST(ReferenceAudioIdTest, APreviousSecretStillVerifiesAndAnUnknownOneDoesNot) {
  const std::string old_id = IssueReferenceAudioId(kPrevious, "tenant-a", "beatra", "art-1");
  // After a rotation the new secret signs and the previous one is still accepted.
  const std::vector<std::string> rotated = {kSecret, kPrevious};
  EXPECT_TRUE(VerifyReferenceAudioId(rotated, "tenant-a", old_id));
  EXPECT_TRUE(VerifyReferenceAudioId(
      rotated, "tenant-a", IssueReferenceAudioId(kSecret, "tenant-a", "beatra", "art-1")));
  // Once the previous secret is dropped, its ids are no longer good; an empty secret never is.
  EXPECT_FALSE(VerifyReferenceAudioId(Secrets(), "tenant-a", old_id));
  EXPECT_FALSE(VerifyReferenceAudioId({}, "tenant-a", old_id));
  EXPECT_FALSE(VerifyReferenceAudioId({""}, "tenant-a", old_id));
}

}  // namespace
}  // namespace music::service
