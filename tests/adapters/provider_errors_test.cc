#include "adapters/provider_errors.h"

#include "absl/status/status.h"
#include "absl/time/time.h"
#include "gtest/gtest.h"

namespace music::adapters {
namespace {

// Fixed "now" for HTTP-date parsing: Sun, 06 Nov 1994 08:49:37 GMT (RFC 9110's example).
absl::Time Rfc9110Example() { return absl::FromUnixSeconds(784111777); }

TEST(ParseRetryAfterTest, DeltaSeconds) {
  EXPECT_EQ(ParseRetryAfter("120", Rfc9110Example()), absl::Seconds(120));
  EXPECT_EQ(ParseRetryAfter("0", Rfc9110Example()), absl::ZeroDuration());
  EXPECT_EQ(ParseRetryAfter("  7 ", Rfc9110Example()), absl::Seconds(7));
}

TEST(ParseRetryAfterTest, HttpDateInTheFuture) {
  EXPECT_EQ(ParseRetryAfter("Sun, 06 Nov 1994 08:50:07 GMT", Rfc9110Example()), absl::Seconds(30));
}

TEST(ParseRetryAfterTest, HttpDateInThePastIsZero) {
  EXPECT_EQ(ParseRetryAfter("Sun, 06 Nov 1994 08:00:00 GMT", Rfc9110Example()),
            absl::ZeroDuration());
}

TEST(ParseRetryAfterTest, RejectsGarbage) {
  EXPECT_EQ(ParseRetryAfter("", Rfc9110Example()), std::nullopt);
  EXPECT_EQ(ParseRetryAfter("-5", Rfc9110Example()), std::nullopt);
  EXPECT_EQ(ParseRetryAfter("soon", Rfc9110Example()), std::nullopt);
  EXPECT_EQ(ParseRetryAfter("1.5", Rfc9110Example()), std::nullopt);
  EXPECT_EQ(ParseRetryAfter("Sun, 06 Nov 1994", Rfc9110Example()), std::nullopt);
}

TEST(PayloadTest, RetryAfterRoundTrip) {
  absl::Status status = absl::ResourceExhaustedError("slow down");
  EXPECT_EQ(GetRetryAfter(status), std::nullopt);
  SetRetryAfter(status, absl::Milliseconds(2500));
  EXPECT_EQ(GetRetryAfter(status), absl::Milliseconds(2500));
}

TEST(PayloadTest, OutcomeUnknown) {
  absl::Status status = absl::DeadlineExceededError("timeout");
  EXPECT_FALSE(IsOutcomeUnknown(status));
  MarkOutcomeUnknown(status);
  EXPECT_TRUE(IsOutcomeUnknown(status));
  EXPECT_EQ(status.code(), absl::StatusCode::kDeadlineExceeded);
}

TEST(PayloadTest, ProviderErrorCode) {
  absl::Status status = absl::FailedPreconditionError("credits");
  EXPECT_EQ(GetProviderErrorCode(status), "");
  SetProviderErrorCode(status, "402");
  EXPECT_EQ(GetProviderErrorCode(status), "402");
}

TEST(PayloadTest, PayloadsAreIndependent) {
  absl::Status status = absl::ResourceExhaustedError("x");
  SetRetryAfter(status, absl::Seconds(1));
  SetProviderErrorCode(status, "429");
  EXPECT_FALSE(IsOutcomeUnknown(status));
  EXPECT_EQ(GetRetryAfter(status), absl::Seconds(1));
  EXPECT_EQ(GetProviderErrorCode(status), "429");
}

TEST(IsRetryableTest, Classification) {
  EXPECT_TRUE(IsRetryable(absl::UnavailableError("")));
  EXPECT_TRUE(IsRetryable(absl::ResourceExhaustedError("")));
  EXPECT_TRUE(IsRetryable(absl::DeadlineExceededError("")));
  EXPECT_TRUE(IsRetryable(absl::AbortedError("")));
  EXPECT_TRUE(IsRetryable(absl::InternalError("")));
  EXPECT_TRUE(IsRetryable(absl::DataLossError("")));
  EXPECT_FALSE(IsRetryable(absl::OkStatus()));
  EXPECT_FALSE(IsRetryable(absl::InvalidArgumentError("")));
  EXPECT_FALSE(IsRetryable(absl::FailedPreconditionError("")));
  EXPECT_FALSE(IsRetryable(absl::UnauthenticatedError("")));
  EXPECT_FALSE(IsRetryable(absl::PermissionDeniedError("")));
  EXPECT_FALSE(IsRetryable(absl::NotFoundError("")));
  EXPECT_FALSE(IsRetryable(absl::AlreadyExistsError("")));
  EXPECT_FALSE(IsRetryable(absl::UnimplementedError("")));
}

}  // namespace
}  // namespace music::adapters

namespace music::adapters {
namespace {

TEST(SharedErrorHelpersTest, RetryAfterFromHeadersOnlyForRetryableCodes) {
  const http::Headers headers = {{"retry-after", "7"}};
  const absl::Time now = absl::FromUnixSeconds(1'700'000'000);
  absl::Status limited = absl::ResourceExhaustedError("429");
  SetRetryAfterFromHeaders(limited, headers, now);
  EXPECT_EQ(GetRetryAfter(limited), absl::Seconds(7));
  absl::Status invalid = absl::InvalidArgumentError("422");
  SetRetryAfterFromHeaders(invalid, headers, now);
  EXPECT_FALSE(GetRetryAfter(invalid).has_value());
  absl::Status unavailable = absl::UnavailableError("503");
  SetRetryAfterFromHeaders(unavailable, {{"Retry-After", "soon"}}, now);
  EXPECT_FALSE(GetRetryAfter(unavailable).has_value());
}

TEST(SharedErrorHelpersTest, WithMessageKeepsCodeAndPayloadsAndRedactHidesSecrets) {
  absl::Status status = absl::DeadlineExceededError("key sk-123 timed out");
  MarkOutcomeUnknown(status);
  const absl::Status clean = WithMessage(status, Redact(status.message(), "sk-123"));
  EXPECT_EQ(clean.code(), absl::StatusCode::kDeadlineExceeded);
  EXPECT_EQ(clean.message(), "key [redacted] timed out");
  EXPECT_TRUE(IsOutcomeUnknown(clean));
  EXPECT_EQ(Redact("nothing to hide", ""), "nothing to hide");
}

}  // namespace
}  // namespace music::adapters
