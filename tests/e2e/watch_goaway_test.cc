// WatchTask across GOAWAY: a server whose connections live only a few hundred milliseconds
// (grpc.max_connection_age_seconds, as a mesh-facing deployment sets it) sends GOAWAY and then
// cuts the streams still open after the grace; musicctl's watch reconnects with the last version
// it saw and the server delivers from there, so the watch ends at the terminal task having seen
// each version at most once, in order.
#include <gtest/gtest.h>

#include <sstream>
#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_split.h"
#include "google/protobuf/util/json_util.h"
#include "tests/e2e/e2e_fixture.h"
#include "tools/musicctl/console.h"
#include "tools/musicctl/options.h"
#include "tools/musicctl/watch.h"

namespace music::e2e {
namespace {

class WatchGoawayTest : public E2eTest {
 protected:
  void ConfigureEmulator(emulator::EmulatorOptions& eo) override {
    // Long enough for several connection ages to pass while the task runs.
    eo.task_duration = absl::Seconds(3);
  }
  void ConfigureServer(service::ServerOptions& options) override {
    options.max_connection_age = absl::Milliseconds(300);
    options.max_connection_age_grace = absl::Milliseconds(200);
    options.keepalive_time = absl::Seconds(1);
    options.keepalive_timeout = absl::Seconds(1);
  }

  // Watches `id` to its end as musicctl does (reconnecting after each GOAWAY); `out` gets the
  // JSON lines, `err` the notices. musicctl's exit code.
  int Watch(const std::string& id, std::ostringstream& out, std::ostringstream& err) {
    musicctl::Console console;
    console.out = &out;
    console.err = &err;
    console.json = true;  // one WatchTaskResponse per line on `out`, notices on `err`
    musicctl::WatchConfig config;
    config.timeout = absl::Seconds(60);
    config.initial_backoff = absl::Milliseconds(20);
    config.max_backoff = absl::Milliseconds(100);
    return musicctl::WatchUntilDone(*stub_, id, 0, std::nullopt, config, console);
  }
};

TEST_F(WatchGoawayTest, MusicctlWatchSurvivesGoawayAndSeesEachVersionOnce) {
  const music::v1::Task created = CreateMusic("a watch across connection ages");
  ASSERT_FALSE(created.task_id().empty());

  std::ostringstream out, err;
  EXPECT_EQ(Watch(created.task_id(), out, err), musicctl::kExitOk) << err.str();

  std::vector<int64_t> versions;
  music::v1::Task last;
  for (absl::string_view line : absl::StrSplit(out.str(), '\n', absl::SkipEmpty())) {
    music::v1::WatchTaskResponse response;
    ASSERT_TRUE(google::protobuf::util::JsonStringToMessage(std::string(line), &response).ok())
        << line;
    if (!response.has_task()) continue;
    versions.push_back(response.task().version());
    last = response.task();
  }
  ASSERT_FALSE(versions.empty());
  for (size_t i = 1; i < versions.size(); ++i) {
    EXPECT_LT(versions[i - 1], versions[i]) << "a version shown twice or out of order";
  }
  // The watch ended on the stored terminal task.
  const music::v1::Task stored = GetTask(created.task_id());
  EXPECT_EQ(stored.state(), music::v1::TASK_STATE_SUCCEEDED);
  EXPECT_EQ(last.version(), stored.version());
  EXPECT_EQ(last.state(), stored.state());
  // The connection did age out under the watch: at least one stream broke and was resumed.
  EXPECT_TRUE(absl::StrContains(err.str(), "reconnected, resuming after version")) << err.str();
}

TEST_F(WatchGoawayTest, ResumedStreamDeliversFromTheGivenVersion) {
  const music::v1::Task created = CreateMusic("resume from a version");
  std::ostringstream out, err;
  ASSERT_EQ(Watch(created.task_id(), out, err), musicctl::kExitOk) << err.str();
  const music::v1::Task done = GetTask(created.task_id());
  ASSERT_EQ(done.state(), music::v1::TASK_STATE_SUCCEEDED);
  ASSERT_GT(done.version(), 2);
  // A client that saw version done-1 before its connection went away asks from there: it gets
  // the final task, nothing older. Several streams in a row, over connections that keep aging.
  for (int i = 0; i < 3; ++i) {
    grpc::Status status;
    std::vector<int64_t> seen;
    // A stream caught by a connection's end is UNAVAILABLE; a client retries it (AIP-194).
    for (int attempt = 0; attempt < 5; ++attempt) {
      grpc::ClientContext ctx;
      ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(10));
      music::v1::WatchTaskRequest req;
      req.set_task_id(created.task_id());
      req.set_since_version(done.version() - 1);
      auto reader = stub_->WatchTask(&ctx, req);
      music::v1::WatchTaskResponse response;
      seen.clear();
      while (reader->Read(&response)) {
        if (response.has_task()) seen.push_back(response.task().version());
      }
      status = reader->Finish();
      if (status.error_code() != grpc::StatusCode::UNAVAILABLE) break;
    }
    EXPECT_TRUE(status.ok()) << status.error_message();
    EXPECT_EQ(seen, std::vector<int64_t>{done.version()});
  }
}

}  // namespace
}  // namespace music::e2e
