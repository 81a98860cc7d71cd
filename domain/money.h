// Exact decimal <-> micro-unit conversion and the RFC 3339 time helpers shared by the billing
// file formats. Money never goes through floating point: "0.05" is parsed digit by digit.
#ifndef MUSIC_DOMAIN_MONEY_H_
#define MUSIC_DOMAIN_MONEY_H_

#include <cstdint>
#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"

namespace music::billing {

/// Micro-units per unit of a currency (1 credit or $1).
inline constexpr int64_t kMicrosPerUnit = 1'000'000;

/// Parses a decimal such as "0.05", "-12", "80.0000", "+3.5" into micro-units (0.05 -> 50000).
/// At most 6 fractional digits; no exponent, no spaces, no thousands separators.
/// INVALID_ARGUMENT (message without a location; callers add line and field) on anything else or
/// when the value does not fit int64 micros.
absl::StatusOr<int64_t> ParseDecimalMicros(absl::string_view s);

/// The shortest exact decimal of `micros` units: 50000 -> "0.05", 12000000 -> "12", -1 ->
/// "-0.000001". ParseDecimalMicros(FormatMicros(x)) == x for every int64 x.
std::string FormatMicros(int64_t micros);

/// RFC 3339 in UTC with only as many fractional second digits as needed:
/// "2026-11-23T13:31:30Z", "2026-11-23T13:31:30.25Z".
std::string FormatRfc3339(absl::Time t);

/// Parses RFC 3339 with any offset ("2026-11-23T13:31:30Z", "...+01:00", fractions allowed).
/// INVALID_ARGUMENT otherwise.
absl::StatusOr<absl::Time> ParseRfc3339(absl::string_view s);

/// The UTC day of `t` as "YYYY-MM-DD".
std::string UtcDay(absl::Time t);

}  // namespace music::billing

#endif  // MUSIC_DOMAIN_MONEY_H_
