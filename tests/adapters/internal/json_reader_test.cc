// The JsonReader contract (adapters/internal/json_reader.h): absent and null read as the empty
// value, a wrong type is INTERNAL naming the provider and the field, and *out never keeps an old
// value.

#include "adapters/internal/json_reader.h"

#include <rapidjson/document.h>

#include <limits>
#include <optional>
#include <string>

#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace music::adapters::internal {
namespace {

using absl::StatusCode;
using rapidjson::Value;
using ::testing::HasSubstr;

constexpr JsonReader kJson("Acme");

// The document every test reads: one member of each JSON type, and a null.
constexpr char kBody[] = R"({
  "s": "text", "empty": "", "n": 2.5, "i": 42, "neg": -7, "big": 18446744073709551615,
  "t": true, "f": false, "nil": null, "o": {"k": "v"}, "a": [1, 2]
})";

class JsonReaderTest : public ::testing::Test {
 protected:
  void SetUp() override { ASSERT_TRUE(kJson.ParseObject(kBody, doc_).ok()); }
  rapidjson::Document doc_;
};

TEST(JsonReaderErrorsTest, MalformedNamesTheProvider) {
  const absl::Status s = kJson.Malformed("no `data`");
  EXPECT_EQ(s.code(), StatusCode::kInternal);
  EXPECT_EQ(s.message(), "Acme sent a malformed answer: no `data`");
}

TEST(JsonReaderErrorsTest, WrongTypeNamesTheFieldAndTheExpectedType) {
  const absl::Status s = kJson.WrongType("status", "a string");
  EXPECT_EQ(s.code(), StatusCode::kInternal);
  EXPECT_EQ(s.message(), "Acme sent a malformed answer: `status` is not a string");
}

TEST(JsonReaderParseTest, ParseObject) {
  rapidjson::Document doc;
  EXPECT_TRUE(kJson.ParseObject(R"({"a":1})", doc).ok());
  EXPECT_TRUE(doc.IsObject());
  EXPECT_TRUE(kJson.ParseObject("{}", doc).ok());

  absl::Status s = kJson.ParseObject("", doc);
  EXPECT_EQ(s.code(), StatusCode::kInternal);
  EXPECT_THAT(s.message(), HasSubstr("Acme sent a malformed answer: empty body"));
  s = kJson.ParseObject(R"({"a":)", doc);
  EXPECT_EQ(s.code(), StatusCode::kInternal);
  EXPECT_THAT(s.message(), HasSubstr("invalid JSON at offset 5"));
  for (const char* not_object : {"[1]", "\"x\"", "1", "null", "true"}) {
    s = kJson.ParseObject(not_object, doc);
    EXPECT_EQ(s.code(), StatusCode::kInternal) << not_object;
    EXPECT_THAT(s.message(), HasSubstr("not a JSON object")) << not_object;
  }
  // Numbers beyond a double are a parse error, so a read number is always finite.
  EXPECT_FALSE(kJson.ParseObject(R"({"n":1e400})", doc).ok());
  // Deep nesting is parsed iteratively: no stack overflow, just an object.
  const std::string deep = "{\"a\":" + std::string(100000, '[') + std::string(100000, ']') + "}";
  EXPECT_TRUE(kJson.ParseObject(deep, doc).ok());
}

// A provider string that is not UTF-8 would be stored in a proto3 string field and break every
// client's decode of the task: the answer is malformed instead. RapidJSON alone lets a lone low
// surrogate escape through as bytes that are not UTF-8 (found by tests/fuzz).
TEST(JsonReaderParseTest, StringsThatAreNotUtf8AreMalformed) {
  rapidjson::Document doc;
  for (const char* bad : {"{\"a\":\"\xff\"}", "{\"a\":\"\\uDC00\"}", "{\"a\":\"\\uD800\"}",
                          "{\"a\":[{\"b\":\"ok\"},{\"c\":\"\\uDFFF\"}]}", "{\"\\uDC00\":1}",
                          "{\"a\":\"\xc0\xaf\"}"}) {
    const absl::Status s = kJson.ParseObject(bad, doc);
    EXPECT_EQ(s.code(), StatusCode::kInternal) << bad;
    EXPECT_THAT(s.message(), HasSubstr("Acme sent a malformed answer")) << bad;
  }
  // Pairs of surrogates and multi-byte characters are fine.
  EXPECT_TRUE(kJson.ParseObject("{\"a\":\"\\uD83C\\uDFB5 caf\xc3\xa9\"}", doc).ok());
  EXPECT_STREQ(doc["a"].GetString(), "\xf0\x9f\x8e\xb5 caf\xc3\xa9");
}

TEST_F(JsonReaderTest, Find) {
  ASSERT_NE(JsonReader::Find(doc_, "s"), nullptr);
  EXPECT_TRUE(JsonReader::Find(doc_, "s")->IsString());
  EXPECT_EQ(JsonReader::Find(doc_, "missing"), nullptr);
  EXPECT_EQ(JsonReader::Find(doc_, "nil"), nullptr);  // null reads as absent
  // Not an object: nothing to find (RapidJSON would assert).
  EXPECT_EQ(JsonReader::Find(doc_["a"], "x"), nullptr);
  EXPECT_EQ(JsonReader::Find(doc_["s"], "x"), nullptr);
}

TEST_F(JsonReaderTest, ReadString) {
  std::string out = "old";
  EXPECT_TRUE(kJson.ReadString(doc_, "s", &out).ok());
  EXPECT_EQ(out, "text");
  out = "old";
  EXPECT_TRUE(kJson.ReadString(doc_, "empty", &out).ok());
  EXPECT_EQ(out, "");
  // Absent and null: OK and cleared, never the old value.
  out = "old";
  EXPECT_TRUE(kJson.ReadString(doc_, "missing", &out).ok());
  EXPECT_EQ(out, "");
  out = "old";
  EXPECT_TRUE(kJson.ReadString(doc_, "nil", &out).ok());
  EXPECT_EQ(out, "");
  // A wrong type: INTERNAL naming the field, and cleared.
  for (const char* name : {"n", "i", "t", "o", "a"}) {
    out = "old";
    const absl::Status s = kJson.ReadString(doc_, name, &out);
    EXPECT_EQ(s.code(), StatusCode::kInternal) << name;
    EXPECT_EQ(s.message(),
              absl::StrCat("Acme sent a malformed answer: `", name, "` is not a string"));
    EXPECT_EQ(out, "") << name;
  }
  // Embedded NUL bytes are kept (the length, not strlen).
  rapidjson::Document doc;
  ASSERT_TRUE(kJson.ParseObject(R"({"z":"a\u0000b"})", doc).ok());
  EXPECT_TRUE(kJson.ReadString(doc, "z", &out).ok());
  EXPECT_EQ(out, std::string("a\0b", 3));
  // Not an object: absent.
  out = "old";
  EXPECT_TRUE(kJson.ReadString(doc_["a"], "s", &out).ok());
  EXPECT_EQ(out, "");
}

TEST_F(JsonReaderTest, ReadRequiredString) {
  std::string out = "old";
  EXPECT_TRUE(kJson.ReadRequiredString(doc_, "s", &out).ok());
  EXPECT_EQ(out, "text");
  EXPECT_TRUE(kJson.ReadRequiredString(doc_, "empty", &out).ok());  // present, if empty
  EXPECT_EQ(out, "");
  for (const char* name : {"missing", "nil", "n", "o"}) {
    out = "old";
    const absl::Status s = kJson.ReadRequiredString(doc_, name, &out);
    EXPECT_EQ(s.code(), StatusCode::kInternal) << name;
    EXPECT_THAT(s.message(), HasSubstr(absl::StrCat("`", name, "` is not a string")));
    EXPECT_EQ(out, "") << name;
  }
}

TEST_F(JsonReaderTest, ReadFirstString) {
  std::string out = "old";
  EXPECT_TRUE(kJson.ReadFirstString(doc_, {"s", "empty"}, &out).ok());
  EXPECT_EQ(out, "text");
  // Empty and absent members give way to the next one.
  EXPECT_TRUE(kJson.ReadFirstString(doc_, {"empty", "missing", "nil", "s"}, &out).ok());
  EXPECT_EQ(out, "text");
  out = "old";
  EXPECT_TRUE(kJson.ReadFirstString(doc_, {"empty", "missing", "nil"}, &out).ok());
  EXPECT_EQ(out, "");
  // Every present member is type-checked, even after a set one.
  out = "old";
  const absl::Status s = kJson.ReadFirstString(doc_, {"s", "n"}, &out);
  EXPECT_EQ(s.code(), StatusCode::kInternal);
  EXPECT_THAT(s.message(), HasSubstr("`n` is not a string"));
  EXPECT_EQ(out, "");
}

TEST_F(JsonReaderTest, ReadNumber) {
  double out = -1;
  EXPECT_TRUE(kJson.ReadNumber(doc_, "n", &out).ok());
  EXPECT_EQ(out, 2.5);
  EXPECT_TRUE(kJson.ReadNumber(doc_, "i", &out).ok());  // an integer reads as its double
  EXPECT_EQ(out, 42);
  EXPECT_TRUE(kJson.ReadNumber(doc_, "neg", &out).ok());
  EXPECT_EQ(out, -7);
  EXPECT_TRUE(kJson.ReadNumber(doc_, "big", &out).ok());
  EXPECT_EQ(out, 18446744073709551615.0);
  for (const char* name : {"missing", "nil"}) {
    out = -1;
    EXPECT_TRUE(kJson.ReadNumber(doc_, name, &out).ok()) << name;
    EXPECT_EQ(out, 0) << name;
  }
  for (const char* name : {"s", "t", "o", "a"}) {
    out = -1;
    const absl::Status s = kJson.ReadNumber(doc_, name, &out);
    EXPECT_EQ(s.code(), StatusCode::kInternal) << name;
    EXPECT_THAT(s.message(), HasSubstr(absl::StrCat("`", name, "` is not a number")));
    EXPECT_EQ(out, 0) << name;
  }
  // A Value built by hand can hold what the parser never yields.
  rapidjson::Document doc(rapidjson::kObjectType);
  doc.AddMember("inf", Value(std::numeric_limits<double>::infinity()), doc.GetAllocator());
  doc.AddMember("nan", Value(std::numeric_limits<double>::quiet_NaN()), doc.GetAllocator());
  EXPECT_EQ(kJson.ReadNumber(doc, "inf", &out).code(), StatusCode::kInternal);
  EXPECT_EQ(kJson.ReadNumber(doc, "nan", &out).code(), StatusCode::kInternal);
  EXPECT_EQ(out, 0);
}

TEST_F(JsonReaderTest, ReadOptionalNumber) {
  std::optional<double> out = -1;
  EXPECT_TRUE(kJson.ReadNumber(doc_, "n", &out).ok());
  EXPECT_EQ(out, 2.5);
  rapidjson::Document doc;
  ASSERT_TRUE(kJson.ParseObject(R"({"zero":0})", doc).ok());
  EXPECT_TRUE(kJson.ReadNumber(doc, "zero", &out).ok());
  EXPECT_EQ(out, 0.0);  // 0 is a value, not absent
  for (const char* name : {"missing", "nil"}) {
    out = -1;
    EXPECT_TRUE(kJson.ReadNumber(doc_, name, &out).ok()) << name;
    EXPECT_EQ(out, std::nullopt) << name;
  }
  out = -1;
  EXPECT_EQ(kJson.ReadNumber(doc_, "s", &out).code(), StatusCode::kInternal);
  EXPECT_EQ(out, std::nullopt);
}

TEST_F(JsonReaderTest, ReadBool) {
  bool out = false;
  EXPECT_TRUE(kJson.ReadBool(doc_, "t", &out).ok());
  EXPECT_TRUE(out);
  EXPECT_TRUE(kJson.ReadBool(doc_, "f", &out).ok());
  EXPECT_FALSE(out);
  for (const char* name : {"missing", "nil"}) {
    out = true;
    EXPECT_TRUE(kJson.ReadBool(doc_, name, &out).ok()) << name;
    EXPECT_FALSE(out) << name;
  }
  // No truthiness: 1 and "true" are not booleans.
  for (const char* name : {"i", "s", "o"}) {
    out = true;
    const absl::Status s = kJson.ReadBool(doc_, name, &out);
    EXPECT_EQ(s.code(), StatusCode::kInternal) << name;
    EXPECT_THAT(s.message(), HasSubstr(absl::StrCat("`", name, "` is not a boolean")));
    EXPECT_FALSE(out) << name;
  }
}

TEST_F(JsonReaderTest, ReadObject) {
  const Value* out = nullptr;
  EXPECT_TRUE(kJson.ReadObject(doc_, "o", &out).ok());
  ASSERT_NE(out, nullptr);
  EXPECT_EQ(out, &doc_["o"]);  // points into the document
  for (const char* name : {"missing", "nil"}) {
    out = &doc_;
    EXPECT_TRUE(kJson.ReadObject(doc_, name, &out).ok()) << name;
    EXPECT_EQ(out, nullptr) << name;
  }
  for (const char* name : {"a", "s", "i"}) {
    out = &doc_;
    const absl::Status s = kJson.ReadObject(doc_, name, &out);
    EXPECT_EQ(s.code(), StatusCode::kInternal) << name;
    EXPECT_THAT(s.message(), HasSubstr(absl::StrCat("`", name, "` is not an object")));
    EXPECT_EQ(out, nullptr) << name;  // never the wrong-typed value
  }
}

TEST_F(JsonReaderTest, ReadArray) {
  const Value* out = nullptr;
  EXPECT_TRUE(kJson.ReadArray(doc_, "a", &out).ok());
  ASSERT_NE(out, nullptr);
  EXPECT_EQ(out->Size(), 2u);
  for (const char* name : {"missing", "nil"}) {
    out = &doc_;
    EXPECT_TRUE(kJson.ReadArray(doc_, name, &out).ok()) << name;
    EXPECT_EQ(out, nullptr) << name;
  }
  for (const char* name : {"o", "s"}) {
    out = &doc_;
    const absl::Status s = kJson.ReadArray(doc_, name, &out);
    EXPECT_EQ(s.code(), StatusCode::kInternal) << name;
    EXPECT_THAT(s.message(), HasSubstr(absl::StrCat("`", name, "` is not an array")));
    EXPECT_EQ(out, nullptr) << name;
  }
}

TEST_F(JsonReaderTest, ReadCode) {
  std::string out = "old";
  EXPECT_TRUE(kJson.ReadCode(doc_, "i", &out).ok());
  EXPECT_EQ(out, "42");
  EXPECT_TRUE(kJson.ReadCode(doc_, "neg", &out).ok());
  EXPECT_EQ(out, "-7");
  EXPECT_TRUE(kJson.ReadCode(doc_, "s", &out).ok());
  EXPECT_EQ(out, "text");
  for (const char* name : {"missing", "nil"}) {
    out = "old";
    EXPECT_TRUE(kJson.ReadCode(doc_, name, &out).ok()) << name;
    EXPECT_EQ(out, "") << name;
  }
  // A fraction, a number beyond int64, a boolean or an object is not a code.
  for (const char* name : {"n", "big", "t", "o"}) {
    out = "old";
    const absl::Status s = kJson.ReadCode(doc_, name, &out);
    EXPECT_EQ(s.code(), StatusCode::kInternal) << name;
    EXPECT_THAT(s.message(), HasSubstr(absl::StrCat("`", name, "` is not a string or an integer")));
    EXPECT_EQ(out, "") << name;
  }
}

}  // namespace
}  // namespace music::adapters::internal
