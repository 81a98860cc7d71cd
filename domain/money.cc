#include "domain/money.h"

#include <limits>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"

namespace music::billing {

absl::StatusOr<int64_t> ParseDecimalMicros(absl::string_view s) {
  const absl::string_view original = s;
  auto bad = [&](absl::string_view why) {
    return absl::InvalidArgumentError(
        absl::StrCat("not a decimal amount (", why, "): \"", original.substr(0, 40), "\""));
  };
  if (s.empty()) return bad("empty");
  bool negative = false;
  if (s[0] == '-' || s[0] == '+') {
    negative = s[0] == '-';
    s.remove_prefix(1);
  }
  // Accumulate as a negative number so that INT64_MIN micros is representable.
  constexpr int64_t kMin = std::numeric_limits<int64_t>::min();
  int64_t acc = 0;
  int int_digits = 0;
  size_t i = 0;
  for (; i < s.size() && s[i] >= '0' && s[i] <= '9'; ++i, ++int_digits) {
    const int d = s[i] - '0';
    if (acc < (kMin + d) / 10) return bad("too large");
    acc = acc * 10 - d;
  }
  int frac_digits = 0;
  int64_t frac = 0;
  if (i < s.size() && s[i] == '.') {
    ++i;
    for (; i < s.size() && s[i] >= '0' && s[i] <= '9'; ++i, ++frac_digits) {
      if (frac_digits >= 6) return bad("more than 6 decimals");
      frac = frac * 10 + (s[i] - '0');
    }
    if (frac_digits == 0) return bad("no digits after the point");
  }
  if (i != s.size()) return bad("unexpected character");
  if (int_digits == 0 && frac_digits == 0) return bad("no digits");
  for (int k = frac_digits; k < 6; ++k) frac *= 10;
  if (acc < (kMin + frac) / kMicrosPerUnit) return bad("too large");
  int64_t micros = acc * kMicrosPerUnit - frac;  // <= 0
  if (!negative) {
    if (micros == kMin) return bad("too large");
    micros = -micros;
  }
  return micros;
}

std::string FormatMicros(int64_t micros) {
  // Work in unsigned so that INT64_MIN negates cleanly.
  const bool negative = micros < 0;
  const uint64_t abs = negative ? 0 - static_cast<uint64_t>(micros) : static_cast<uint64_t>(micros);
  const uint64_t units = abs / kMicrosPerUnit;
  uint64_t frac = abs % kMicrosPerUnit;
  std::string out = negative ? "-" : "";
  absl::StrAppend(&out, units);
  if (frac != 0) {
    char digits[7] = "000000";
    for (int k = 5; k >= 0; --k, frac /= 10) digits[k] = static_cast<char>('0' + frac % 10);
    int len = 6;
    while (digits[len - 1] == '0') --len;
    absl::StrAppend(&out, ".", absl::string_view(digits, len));
  }
  return out;
}

std::string FormatRfc3339(absl::Time t) {
  return absl::FormatTime("%Y-%m-%dT%H:%M:%E*SZ", t, absl::UTCTimeZone());
}

absl::StatusOr<absl::Time> ParseRfc3339(absl::string_view s) {
  absl::Time t;
  std::string err;
  if (s.empty() || !absl::ParseTime(absl::RFC3339_full, std::string(s), &t, &err)) {
    return absl::InvalidArgumentError(
        absl::StrCat("not an RFC 3339 time: \"", s.substr(0, 40), "\""));
  }
  return t;
}

std::string UtcDay(absl::Time t) { return absl::FormatTime("%Y-%m-%d", t, absl::UTCTimeZone()); }

}  // namespace music::billing
