// ProviderHealth: a provider refusing the service's API key is unavailable until a request to it
// succeeds; other failures say nothing about the key.
#include "service/core/provider_health.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <string>
#include <utility>
#include <vector>

#include "adapters/provider_auth.h"
#include "tests/testing/fake_clock.h"

namespace music::service {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::Optional;

TEST(ProviderHealthTest, AKeyRefusalMarksTheProviderUntilASuccess) {
  FakeClock clock(absl::FromUnixSeconds(1'800'000'000));
  ProviderHealth health(&clock);
  std::vector<std::string> changes;
  health.SetOnChange([&](const std::string& provider, bool available) {
    changes.push_back(provider + (available ? " up" : " down"));
  });
  EXPECT_EQ(health.UnavailableReason("kie"), std::nullopt);

  health.Record("kie", adapters::ProviderAuthError("kie.ai create answered code 401", "401"));
  EXPECT_THAT(health.UnavailableReason("kie"),
              Optional(HasSubstr("kie refused the service's API key (401) at 2027-01-15T08:00:00Z")));
  EXPECT_EQ(health.UnavailableReason("tokenlab"), std::nullopt);  // per provider
  // A second refusal, a 5xx, a content refusal or a 402: still unavailable, no new change.
  health.Record("kie", adapters::ProviderAuthError("again", "403"));
  health.Record("kie", absl::UnavailableError("HTTP 503"));
  health.Record("kie", absl::InvalidArgumentError("prompt refused"));
  health.Record("kie", absl::FailedPreconditionError("insufficient credits"));
  EXPECT_NE(health.UnavailableReason("kie"), std::nullopt);

  health.Record("kie", absl::OkStatus());  // the probe: the next request that gets through
  EXPECT_EQ(health.UnavailableReason("kie"), std::nullopt);
  health.Record("kie", absl::OkStatus());
  EXPECT_THAT(changes, ElementsAre("kie down", "kie up"));
}

TEST(ProviderHealthTest, OnlyTheAuthMarkCounts) {
  FakeClock clock;
  ProviderHealth health(&clock);
  // UNAUTHENTICATED from elsewhere (a forged callback) is not our key at the provider.
  health.Record("kie", absl::UnauthenticatedError("callback signature does not match"));
  EXPECT_EQ(health.UnavailableReason("kie"), std::nullopt);
  EXPECT_EQ(ProviderHealthServiceName("kie"), "music.v1.provider/kie");
}

}  // namespace
}  // namespace music::service
