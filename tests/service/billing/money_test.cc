#include "domain/money.h"

#include <gtest/gtest.h>

#include <cstdint>
#include <limits>

namespace music::billing {
namespace {

TEST(MoneyTest, ParsesDecimalsExactly) {
  EXPECT_EQ(*ParseDecimalMicros("0.05"), 50000);
  EXPECT_EQ(*ParseDecimalMicros("80.0000"), 80000000);
  EXPECT_EQ(*ParseDecimalMicros("12"), 12000000);
  EXPECT_EQ(*ParseDecimalMicros("-12.5"), -12500000);
  EXPECT_EQ(*ParseDecimalMicros("+3.000001"), 3000001);
  EXPECT_EQ(*ParseDecimalMicros(".5"), 500000);
  EXPECT_EQ(*ParseDecimalMicros("0.1"), 100000);  // 0.1 has no exact double; no rounding here
  EXPECT_EQ(*ParseDecimalMicros("9223372036854.775807"), std::numeric_limits<int64_t>::max());
  EXPECT_EQ(*ParseDecimalMicros("-9223372036854.775808"), std::numeric_limits<int64_t>::min());
}

TEST(MoneyTest, RejectsGarbage) {
  for (const char* bad : {"", "-", ".", "1.", "0.0000001", "1e-2", "1,5", " 1", "1 ", "abc", "0x10",
                          "1.2.3", "--1", "9223372036854.775808", "NaN"}) {
    absl::StatusOr<int64_t> v = ParseDecimalMicros(bad);
    EXPECT_EQ(v.status().code(), absl::StatusCode::kInvalidArgument) << bad;
  }
  EXPECT_NE(ParseDecimalMicros("0.0000001").status().message().find("more than 6 decimals"),
            std::string::npos);
}

TEST(MoneyTest, FormatRoundTrips) {
  EXPECT_EQ(FormatMicros(50000), "0.05");
  EXPECT_EQ(FormatMicros(12000000), "12");
  EXPECT_EQ(FormatMicros(-1), "-0.000001");
  EXPECT_EQ(FormatMicros(0), "0");
  for (int64_t v : {int64_t{0}, int64_t{1}, int64_t{-1}, int64_t{50000}, int64_t{123456789},
                    std::numeric_limits<int64_t>::max(), std::numeric_limits<int64_t>::min()}) {
    EXPECT_EQ(*ParseDecimalMicros(FormatMicros(v)), v) << v;
  }
}

TEST(MoneyTest, Rfc3339) {
  absl::StatusOr<absl::Time> t = ParseRfc3339("2026-11-23T13:31:30+01:00");
  ASSERT_TRUE(t.ok());
  EXPECT_EQ(FormatRfc3339(*t), "2026-11-23T12:31:30Z");
  EXPECT_EQ(FormatRfc3339(*t + absl::Milliseconds(250)), "2026-11-23T12:31:30.25Z");
  EXPECT_EQ(UtcDay(*t), "2026-11-23");
  EXPECT_FALSE(ParseRfc3339("2026-11-23 12:00").ok());
  EXPECT_FALSE(ParseRfc3339("").ok());
}

}  // namespace
}  // namespace music::billing
