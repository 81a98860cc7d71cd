// The caller's W3C traceparent (gRPC metadata on CreateMusic) is kept on the task (the SQLite
// row, across a restart) and logged on every line about the task; a malformed one is ignored.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "absl/synchronization/mutex.h"
#include "rapidjson/document.h"
#include "service/core/event_log.h"
#include "tests/e2e/e2e_fixture.h"
#include "tests/testing/wait_for.h"

namespace music::e2e {
namespace {

constexpr char kTraceparent[] = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01";

class TraceparentE2eTest : public E2eTest {
 protected:
  void SetUp() override {
    service::SetEventLogSink([this](absl::string_view line) {
      absl::MutexLock lock(&mu_);
      lines_.emplace_back(line);
    });
    E2eTest::SetUp();
  }
  void TearDown() override {
    E2eTest::TearDown();
    service::SetEventLogSink(nullptr);
  }

  music::v1::Task CreateWithTraceparent(const std::string& traceparent) {
    music::v1::CreateMusicRequest req;
    req.set_prompt("traced");
    music::v1::CreateMusicResponse resp;
    grpc::ClientContext ctx;
    ctx.AddMetadata("traceparent", traceparent);
    grpc::Status s = stub_->CreateMusic(&ctx, req, &resp);
    EXPECT_TRUE(s.ok()) << s.error_message();
    return resp.task();
  }

  // The parsed log lines about `task_id`.
  std::vector<rapidjson::Document> LinesAbout(const std::string& task_id) {
    std::vector<rapidjson::Document> out;
    absl::MutexLock lock(&mu_);
    for (const std::string& line : lines_) {
      rapidjson::Document doc;
      doc.Parse(line.c_str());
      EXPECT_TRUE(doc.IsObject()) << line;
      if (doc.IsObject() && doc.HasMember("task_id") && task_id == doc["task_id"].GetString()) {
        out.push_back(std::move(doc));
      }
    }
    return out;
  }

  absl::Mutex mu_;
  std::vector<std::string> lines_ ABSL_GUARDED_BY(mu_);
};

TEST_F(TraceparentE2eTest, KeptOnTheTaskAndLoggedOnEveryLineAboutIt) {
  const music::v1::Task created = CreateWithTraceparent(kTraceparent);
  ASSERT_EQ(WaitDone(created.task_id()).state(), music::v1::TASK_STATE_SUCCEEDED);
  // The engine logs task.ended after it published the end, so a watcher may see SUCCEEDED a
  // moment before that line is written: wait for it (real threads), then check every line.
  std::vector<rapidjson::Document> lines;
  ASSERT_TRUE(WaitFor(
      [&] {
        lines = LinesAbout(created.task_id());
        for (const auto& doc : lines) {
          if (doc.HasMember("event") && absl::string_view(doc["event"].GetString()) == "task.ended") {
            return true;
          }
        }
        return false;
      },
      absl::Seconds(10), "the task.ended log line"));
  ASSERT_GE(lines.size(), 2u);  // task.created ... task.ended
  bool ended = false;
  for (const auto& doc : lines) {
    ASSERT_TRUE(doc.HasMember("traceparent")) << doc["event"].GetString();
    EXPECT_STREQ(doc["traceparent"].GetString(), kTraceparent);
    EXPECT_STREQ(doc["trace_id"].GetString(), "0af7651916cd43dd8448eb211c80319c");
    ended |= absl::string_view(doc["event"].GetString()) == "task.ended";
  }
  EXPECT_TRUE(ended);
  // In the store: a restarted server still has it.
  StopServer();
  persistence::SqliteOptions so;
  so.path = db_path_;
  auto stores = persistence::OpenSqliteStores(so);
  ASSERT_TRUE(stores.ok()) << stores.status();
  auto record = stores->tasks->Get(created.task_id());
  ASSERT_TRUE(record.ok()) << record.status();
  EXPECT_EQ(record->traceparent, kTraceparent);
}

TEST_F(TraceparentE2eTest, AMalformedTraceparentIsIgnored) {
  const music::v1::Task created = CreateWithTraceparent("00-not-a-trace-context-01");
  ASSERT_FALSE(created.task_id().empty());  // never an error for the caller
  const std::vector<rapidjson::Document> lines = LinesAbout(created.task_id());
  ASSERT_FALSE(lines.empty());
  for (const auto& doc : lines) EXPECT_FALSE(doc.HasMember("traceparent"));
}

}  // namespace
}  // namespace music::e2e
