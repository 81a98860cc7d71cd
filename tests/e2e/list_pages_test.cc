// List pages are cut by bytes as well as by count (service/core/music_api.h kMaxPageBytes): a
// page of large tasks stays under 1 MiB, default clients (4 MiB receive limit) read it, and the
// next_page_token continues exactly where the page stopped.
#include <set>

#include "service/core/music_api.h"
#include "tests/e2e/e2e_fixture.h"

namespace music::e2e {
namespace {

TEST_F(E2eTest, PagesOfLargeTasksAreCutByBytesWithoutGapsOrDuplicates) {
  // ~6 KiB per task (5,000 characters of lyrics, 1,000 of style): 240 tasks are ~1.4 MiB.
  constexpr int kTasks = 240;
  std::vector<std::string> created;  // oldest first
  for (int i = 0; i < kTasks; ++i) {
    music::v1::CreateMusicRequest req;
    req.set_style(std::string(1000, 's'));
    req.set_title(absl::StrCat("t", i));
    req.set_lyrics(std::string(5000, 'l'));
    music::v1::CreateMusicResponse resp;
    grpc::ClientContext ctx;
    grpc::Status s = stub_->CreateMusic(&ctx, req, &resp);
    ASSERT_TRUE(s.ok()) << s.error_message();
    created.push_back(resp.task().task_id());
  }

  std::vector<std::string> listed;
  std::string token;
  int pages = 0;
  do {
    music::v1::ListTasksRequest req;
    req.set_page_size(1000);
    req.set_page_token(token);
    music::v1::ListTasksResponse resp;
    grpc::ClientContext ctx;  // default limits: 4 MiB receive
    grpc::Status s = stub_->ListTasks(&ctx, req, &resp);
    ASSERT_TRUE(s.ok()) << s.error_message();
    EXPECT_LE(resp.ByteSizeLong(), service::kMaxPageBytes);
    EXPECT_GT(resp.tasks_size(), 0);
    for (const auto& t : resp.tasks()) listed.push_back(t.task_id());
    token = resp.next_page_token();
    ++pages;
  } while (!token.empty() && pages < 10);
  EXPECT_GE(pages, 2) << "1.4 MiB of tasks fit one page";
  ASSERT_EQ(listed.size(), created.size());
  EXPECT_EQ(std::set<std::string>(listed.begin(), listed.end()).size(), listed.size());
  // Newest first: the reverse of the creation order (creates are sequential).
  EXPECT_EQ(listed, std::vector<std::string>(created.rbegin(), created.rend()));

  // AIP-158: a page_size above the maximum is coerced to it, not refused.
  music::v1::ListTasksRequest big;
  big.set_page_size(1 << 30);
  music::v1::ListTasksResponse resp;
  grpc::ClientContext ctx;
  ASSERT_TRUE(stub_->ListTasks(&ctx, big, &resp).ok());
  EXPECT_EQ(resp.tasks(0).task_id(), listed.front());
}

}  // namespace
}  // namespace music::e2e
