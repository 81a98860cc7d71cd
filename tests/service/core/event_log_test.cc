#include "service/core/event_log.h"

#include <gtest/gtest.h>

#include <regex>
#include <string>
#include <vector>

#include "rapidjson/document.h"

namespace music::service {
namespace {

// Captures the log's lines; restores the defaults after each test.
class EventLogTest : public ::testing::Test {
 protected:
  void SetUp() override {
    SetEventLogSink([this](absl::string_view line) { lines_.emplace_back(line); });
    SetEventLogLevel(LogLevel::kInfo);
    SetEventLogEnabled(true);
  }
  void TearDown() override {
    SetEventLogSink(nullptr);
    SetEventLogLevel(LogLevel::kInfo);
    SetEventLogEnabled(true);
  }

  // The only line written, parsed.
  rapidjson::Document OnlyLine() {
    rapidjson::Document doc;
    EXPECT_EQ(lines_.size(), 1u);
    if (lines_.empty()) return doc;
    EXPECT_EQ(lines_[0].back(), '\n');
    EXPECT_EQ(lines_[0].find('\n'), lines_[0].size() - 1) << "one line per event";
    doc.Parse(lines_[0].c_str());
    EXPECT_FALSE(doc.HasParseError()) << lines_[0];
    EXPECT_TRUE(doc.IsObject()) << lines_[0];
    return doc;
  }

  static std::string Get(const rapidjson::Document& doc, const char* key) {
    if (!doc.IsObject() || !doc.HasMember(key) || !doc[key].IsString()) return "<absent>";
    return doc[key].GetString();
  }

  std::vector<std::string> lines_;
};

TEST_F(EventLogTest, LineIsAJsonObjectWithTimeLevelEventAndFields) {
  LogEvent(LogLevel::kWarn, "circuit.opened", {{"provider", "kie"}, {"failures", "5"}});
  rapidjson::Document doc = OnlyLine();
  EXPECT_TRUE(
      std::regex_match(Get(doc, "time"), std::regex(R"(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z)")))
      << Get(doc, "time");
  EXPECT_EQ(Get(doc, "level"), "warn");
  EXPECT_EQ(Get(doc, "event"), "circuit.opened");
  EXPECT_EQ(Get(doc, "provider"), "kie");
  EXPECT_EQ(Get(doc, "failures"), "5");
  // time, level and event come first, in that order.
  EXPECT_EQ(lines_[0].rfind("{\"time\":", 0), 0u) << lines_[0];
  EXPECT_LT(lines_[0].find("\"level\""), lines_[0].find("\"event\""));
}

TEST_F(EventLogTest, TaskLineCarriesTheTaskFieldsAndTraceContext) {
  domain::TaskRecord r;
  r.task.set_task_id("task-1");
  r.task.set_request_id("req-1");
  r.task.set_tenant("tenant-a");
  r.task.set_provider("kie");
  r.task.set_provider_task_id("p-1");
  r.traceparent = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";
  LogTaskEvent(LogLevel::kInfo, "task.ended", r, {{"state", "TASK_STATE_SUCCEEDED"}});
  rapidjson::Document doc = OnlyLine();
  EXPECT_EQ(Get(doc, "task_id"), "task-1");
  EXPECT_EQ(Get(doc, "request_id"), "req-1");
  EXPECT_EQ(Get(doc, "tenant"), "tenant-a");
  EXPECT_EQ(Get(doc, "provider"), "kie");
  EXPECT_EQ(Get(doc, "provider_task_id"), "p-1");
  EXPECT_EQ(Get(doc, "traceparent"), r.traceparent);
  EXPECT_EQ(Get(doc, "trace_id"), "4bf92f3577b34da6a3ce929d0e0e4736");
  EXPECT_EQ(Get(doc, "state"), "TASK_STATE_SUCCEEDED");
}

TEST_F(EventLogTest, TaskLineWithoutTraceContextHasNoTraceFields) {
  domain::TaskRecord r;
  r.task.set_task_id("task-1");
  LogTaskEvent(LogLevel::kInfo, "task.created", r);
  rapidjson::Document doc = OnlyLine();
  EXPECT_EQ(Get(doc, "task_id"), "task-1");
  EXPECT_EQ(Get(doc, "provider_task_id"), "");  // always present, so queries can rely on it
  EXPECT_FALSE(doc.HasMember("traceparent"));
  EXPECT_FALSE(doc.HasMember("trace_id"));
}

TEST_F(EventLogTest, LevelFiltersLowerLines) {
  LogEvent(LogLevel::kDebug, "a");  // below the default (info)
  LogEvent(LogLevel::kInfo, "b");
  SetEventLogLevel(LogLevel::kWarn);
  EXPECT_FALSE(IsEventLogged(LogLevel::kInfo));
  EXPECT_TRUE(IsEventLogged(LogLevel::kError));
  LogEvent(LogLevel::kInfo, "c");
  LogEvent(LogLevel::kError, "d");
  SetEventLogLevel(LogLevel::kDebug);
  LogEvent(LogLevel::kDebug, "e");
  ASSERT_EQ(lines_.size(), 3u);
  EXPECT_NE(lines_[0].find("\"event\":\"b\""), std::string::npos);
  EXPECT_NE(lines_[1].find("\"level\":\"error\",\"event\":\"d\""), std::string::npos);
  EXPECT_NE(lines_[2].find("\"level\":\"debug\""), std::string::npos);
}

TEST_F(EventLogTest, DisabledWritesNothing) {
  SetEventLogEnabled(false);
  LogEvent(LogLevel::kError, "x");
  EXPECT_TRUE(lines_.empty());
}

TEST_F(EventLogTest, KeysNamingSecretsAreRedacted) {
  LogEvent(LogLevel::kInfo, "x",
           {{"api_key", "abc"},
            {"webhook_secret", "def"},
            {"Authorization", "Bearer ghi"},
            {"page_token", "jkl"},
            {"error", "fine"}});
  rapidjson::Document doc = OnlyLine();
  EXPECT_EQ(Get(doc, "api_key"), "[redacted]");
  EXPECT_EQ(Get(doc, "webhook_secret"), "[redacted]");
  EXPECT_EQ(Get(doc, "Authorization"), "[redacted]");
  EXPECT_EQ(Get(doc, "page_token"), "[redacted]");
  EXPECT_EQ(Get(doc, "error"), "fine");
  for (const char* v : {"abc", "def", "ghi", "jkl"})
    EXPECT_EQ(lines_[0].find(v), std::string::npos);
}

TEST_F(EventLogTest, RegisteredSecretValuesAreRedactedWhereverTheyAppear) {
  AddEventLogSecret("sk-live-0123456789");
  AddEventLogSecret("short");  // too short to scrub: would blank ordinary words
  LogEvent(LogLevel::kWarn, "task.submit_failed",
           {{"error", "401 from provider: {\"echo\":\"Bearer sk-live-0123456789\"} short"}});
  rapidjson::Document doc = OnlyLine();
  EXPECT_EQ(Get(doc, "error"), "401 from provider: {\"echo\":\"Bearer [redacted]\"} short");
}

TEST_F(EventLogTest, ValuesAreEscapedCutAndValidUtf8) {
  std::string long_value(1000, 'a');
  long_value.replace(299, 2, "\xc3\xa9");  // 'é' straddling the 300-byte cut
  LogEvent(LogLevel::kInfo, "x",
           {{"quote", "a \"b\"\nc"}, {"bad_utf8", "ok\xff\xfe."}, {"long", long_value}});
  rapidjson::Document doc = OnlyLine();
  EXPECT_EQ(Get(doc, "quote"), "a \"b\"\nc");
  EXPECT_EQ(Get(doc, "bad_utf8"), "ok??.");
  EXPECT_EQ(Get(doc, "long"), std::string(299, 'a'));  // cut before the 2-byte character
}

TEST(LogLevelTest, ParsesItsOwnNamesOnly) {
  for (LogLevel l : {LogLevel::kDebug, LogLevel::kInfo, LogLevel::kWarn, LogLevel::kError}) {
    EXPECT_EQ(ParseLogLevel(LogLevelName(l)), l);
  }
  EXPECT_EQ(ParseLogLevel("INFO"), std::nullopt);
  EXPECT_EQ(ParseLogLevel("warning"), std::nullopt);
  EXPECT_EQ(ParseLogLevel(""), std::nullopt);
}

}  // namespace
}  // namespace music::service
