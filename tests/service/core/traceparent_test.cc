#include "service/core/traceparent.h"

#include <gtest/gtest.h>

namespace music::service {
namespace {

constexpr char kValid[] = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";

TEST(TraceparentTest, AcceptsTheSpecExample) {
  EXPECT_EQ(NormalizeTraceparent(kValid), kValid);
  EXPECT_EQ(NormalizeTraceparent("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-00"),
            "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-00");
}

TEST(TraceparentTest, ALaterVersionIsReadAsItsFirstFourParts) {
  EXPECT_EQ(NormalizeTraceparent("01-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"),
            kValid);
  EXPECT_EQ(NormalizeTraceparent(
                "cc-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01-what-the-future-holds"),
            kValid);
  // A later version must separate what it adds with '-'.
  EXPECT_EQ(NormalizeTraceparent("cc-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01x"), "");
}

TEST(TraceparentTest, MalformedValuesAreIgnored) {
  for (const char* bad : {
           "",
           "garbage",
           "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01-extra",  // 00 has no more
           "00-4BF92F3577B34DA6A3CE929D0E0E4736-00F067AA0BA902B7-01",        // upper case
           "00-00000000000000000000000000000000-00f067aa0ba902b7-01",        // zero trace id
           "00-4bf92f3577b34da6a3ce929d0e0e4736-0000000000000000-01",        // zero parent id
           "ff-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",        // forbidden version
           "00-4bf92f3577b34da6a3ce929d0e0e473-600f067aa0ba902b7-01",        // dash misplaced
           "00_4bf92f3577b34da6a3ce929d0e0e4736_00f067aa0ba902b7_01",
           "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-0g",
           "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-1",
       }) {
    EXPECT_EQ(NormalizeTraceparent(bad), "") << bad;
  }
}

}  // namespace
}  // namespace music::service
