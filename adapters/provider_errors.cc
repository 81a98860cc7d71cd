#include "adapters/provider_errors.h"

#include <string>

#include "absl/strings/ascii.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_replace.h"
#include "absl/strings/strip.h"

namespace music::adapters {
namespace {
constexpr char kRetryAfterUrl[] = "type.music/retry-after-ms";
constexpr char kOutcomeUnknownUrl[] = "type.music/outcome-unknown";
constexpr char kProviderCodeUrl[] = "type.music/provider-error-code";
}  // namespace

void SetRetryAfter(absl::Status& status, absl::Duration delay) {
  status.SetPayload(kRetryAfterUrl, absl::Cord(absl::StrCat(absl::ToInt64Milliseconds(delay))));
}

std::optional<absl::Duration> GetRetryAfter(const absl::Status& status) {
  auto payload = status.GetPayload(kRetryAfterUrl);
  if (!payload) return std::nullopt;
  int64_t ms = 0;
  if (!absl::SimpleAtoi(std::string(*payload), &ms)) return std::nullopt;
  return absl::Milliseconds(ms);
}

void MarkOutcomeUnknown(absl::Status& status) {
  status.SetPayload(kOutcomeUnknownUrl, absl::Cord("1"));
}

bool IsOutcomeUnknown(const absl::Status& status) {
  return status.GetPayload(kOutcomeUnknownUrl).has_value();
}

void SetProviderErrorCode(absl::Status& status, absl::string_view code) {
  status.SetPayload(kProviderCodeUrl, absl::Cord(code));
}

std::string GetProviderErrorCode(const absl::Status& status) {
  auto payload = status.GetPayload(kProviderCodeUrl);
  return payload ? std::string(*payload) : std::string();
}

bool IsRetryable(const absl::Status& status) {
  switch (status.code()) {
    case absl::StatusCode::kUnavailable:
    case absl::StatusCode::kResourceExhausted:
    case absl::StatusCode::kDeadlineExceeded:
    case absl::StatusCode::kAborted:
    case absl::StatusCode::kInternal:
    case absl::StatusCode::kDataLoss:
      return true;
    default:
      return false;
  }
}

std::optional<absl::Duration> ParseRetryAfter(absl::string_view value, absl::Time now) {
  value = absl::StripAsciiWhitespace(value);
  int64_t seconds = 0;
  if (absl::SimpleAtoi(value, &seconds)) {
    if (seconds < 0) return std::nullopt;
    return absl::Seconds(seconds);
  }
  absl::Time when;
  std::string err;
  if (absl::ParseTime("%a, %d %b %Y %H:%M:%S GMT", std::string(value), &when, &err)) {
    return when > now ? when - now : absl::ZeroDuration();
  }
  return std::nullopt;
}

void SetRetryAfterFromHeaders(absl::Status& status, const http::Headers& headers, absl::Time now) {
  if (status.code() != absl::StatusCode::kResourceExhausted &&
      status.code() != absl::StatusCode::kUnavailable) {
    return;
  }
  const absl::string_view retry_after = http::FindHeader(headers, "Retry-After");
  if (retry_after.empty()) return;
  if (std::optional<absl::Duration> delay = ParseRetryAfter(retry_after, now)) {
    SetRetryAfter(status, *delay);
  }
}

absl::Status WithMessage(const absl::Status& status, absl::string_view message) {
  absl::Status out(status.code(), message);
  status.ForEachPayload(
      [&out](absl::string_view url, const absl::Cord& payload) { out.SetPayload(url, payload); });
  return out;
}

std::string Redact(absl::string_view text, absl::string_view secret) {
  if (secret.empty()) return std::string(text);
  return absl::StrReplaceAll(text, {{secret, "[redacted]"}});
}

}  // namespace music::adapters
