#include "adapters/internal/json_writer.h"

#include <rapidjson/stringbuffer.h>

#include <functional>
#include <limits>
#include <string>

#include "gtest/gtest.h"

namespace music::adapters::internal {
namespace {

// The object `put` writes, as text.
std::string Object(const std::function<void(JsonWriter&)>& put) {
  rapidjson::StringBuffer buffer;
  JsonWriter w(buffer);
  w.StartObject();
  put(w);
  w.EndObject();
  return std::string(buffer.GetString(), buffer.GetSize());
}

TEST(JsonWriterTest, PutString) {
  EXPECT_EQ(Object([](JsonWriter& w) { PutString(w, "k", "v"); }), R"({"k":"v"})");
  EXPECT_EQ(Object([](JsonWriter& w) { PutString(w, "k", ""); }), R"({"k":""})");
  // Escaped, and the length counts: an embedded NUL is written, not a cut.
  EXPECT_EQ(Object([](JsonWriter& w) { PutString(w, "k", std::string("a\"\0b", 4)); }),
            R"({"k":"a\"\u0000b"})");
}

TEST(JsonWriterTest, PutIfSet) {
  EXPECT_EQ(Object([](JsonWriter& w) { PutIfSet(w, "k", "v"); }), R"({"k":"v"})");
  EXPECT_EQ(Object([](JsonWriter& w) { PutIfSet(w, "k", ""); }), "{}");
}

TEST(JsonWriterTest, PutBool) {
  EXPECT_EQ(Object([](JsonWriter& w) {
              PutBool(w, "a", true);
              PutBool(w, "b", false);
            }),
            R"({"a":true,"b":false})");
}

TEST(JsonWriterTest, PutSeconds) {
  auto seconds = [](double s) { return Object([s](JsonWriter& w) { PutSeconds(w, "s", s); }); };
  EXPECT_EQ(seconds(60), R"({"s":60})");
  EXPECT_EQ(seconds(0), R"({"s":0})");
  EXPECT_EQ(seconds(-3), R"({"s":-3})");
  EXPECT_EQ(seconds(12.5), R"({"s":12.5})");
  EXPECT_EQ(seconds(999999999999999), R"({"s":999999999999999})");
  // From 1e15 on, a double (an int64 cast of a huge value would be undefined).
  EXPECT_EQ(seconds(1e15), R"({"s":1000000000000000.0})");
  EXPECT_EQ(seconds(-1e300), R"({"s":-1e300})");
}

}  // namespace
}  // namespace music::adapters::internal
