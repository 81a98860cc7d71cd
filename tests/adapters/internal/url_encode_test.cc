#include "adapters/internal/url_encode.h"

#include <string>

#include "gtest/gtest.h"

namespace music::adapters::internal {
namespace {

TEST(UrlEncodeTest, KeepsUnreservedCharacters) {
  const std::string unreserved =
      "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~";
  EXPECT_EQ(UrlEncode(unreserved), unreserved);
  EXPECT_EQ(UrlEncode(""), "");
}

TEST(UrlEncodeTest, EncodesEverythingElseWithUpperCaseHex) {
  EXPECT_EQ(UrlEncode("a b/c?d=e&f~_.-"), "a%20b%2Fc%3Fd%3De%26f~_.-");
  // Reserved characters that would end a path segment or a query value, or start one.
  EXPECT_EQ(UrlEncode("/?#[]@!$&'()*+,;=%"),
            "%2F%3F%23%5B%5D%40%21%24%26%27%28%29%2A%2B%2C%3B%3D%25");
  EXPECT_EQ(UrlEncode("../x"), "..%2Fx");  // no way out of the segment
  EXPECT_EQ(UrlEncode("\r\n"), "%0D%0A");
  EXPECT_EQ(UrlEncode(std::string("\0\x7f", 2)), "%00%7F");
}

TEST(UrlEncodeTest, EncodesUtf8ByteByByte) {
  EXPECT_EQ(UrlEncode("é"), "%C3%A9");
  EXPECT_EQ(UrlEncode("\xff"), "%FF");
}

}  // namespace
}  // namespace music::adapters::internal
