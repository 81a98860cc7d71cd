// What only the PostgreSQL store does, against a real server: migrations that replicas starting
// together run once, the refusal of a newer schema, the append-only ledger enforced by the
// database itself, and the codes a caller sees while the server is away, until it is back.
#include <string>
#include <thread>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "persistence/postgres/postgres_store.h"
#include "tests/persistence/store_test_util.h"
#include "tests/testing/postgres_server.h"
#include "tests/testing/status_matchers.h"
#include "tests/testing/temp_dir.h"

namespace music::persistence::store_test {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;

// A fresh database on the run's shared server, dropped at the end of the test.
class PostgresStoreTest : public ::testing::Test {
 protected:
  void SetUp() override {
    absl::StatusOr<std::string> url = PostgresServer::Shared().CreateDatabase("store");
    ASSERT_TRUE(url.ok()) << url.status();
    url_ = *url;
  }
  void TearDown() override { PostgresServer::Shared().DropDatabase(url_).IgnoreError(); }

  absl::StatusOr<Stores> Open() {
    PostgresOptions options;
    options.url = url_;
    options.connections = 2;
    return OpenPostgresStores(options);
  }

  std::string url_;
};

TEST_F(PostgresStoreTest, ReplicasStartingTogetherMigrateOnce) {
  constexpr int kReplicas = 6;
  std::vector<absl::Status> opened(kReplicas);
  std::vector<std::thread> threads;
  for (int i = 0; i < kReplicas; ++i) {
    threads.emplace_back([&, i] { opened[i] = Open().status(); });
  }
  for (std::thread& t : threads) t.join();
  for (const absl::Status& s : opened) EXPECT_THAT(s, IsOk());
  // One row per step: each ran once (a second run of step 1 would fail on CREATE TABLE).
  EXPECT_THAT(PostgresServer::Exec(
                  url_, absl::StrCat("DO $$ BEGIN IF (SELECT count(*) FROM schema_migrations) <> ",
                                     PostgresSchemaVersion(),
                                     " THEN RAISE EXCEPTION 'migrated twice'; END IF; END $$")),
              IsOk());
  absl::StatusOr<Stores> stores = Open();
  ASSERT_THAT(stores.status(), IsOk());
  MustCreate(*stores->tasks, MakeRecord("t1"));
}

TEST_F(PostgresStoreTest, RefusesASchemaNewerThanItsOwn) {
  ASSERT_THAT(Open().status(), IsOk());
  ASSERT_THAT(PostgresServer::Exec(url_, "INSERT INTO schema_migrations (version) VALUES (999)"),
              IsOk());
  EXPECT_THAT(Open().status(),
              StatusIs(absl::StatusCode::kFailedPrecondition, HasSubstr("newer")));
}

TEST_F(PostgresStoreTest, TheDatabaseRefusesToChangeTheLedger) {
  absl::StatusOr<Stores> stores = Open();
  ASSERT_THAT(stores.status(), IsOk());
  NewPricedTask(*stores->tasks, "t1", kBase);
  for (const char* sql : {"UPDATE billing_transactions SET amount_micros = 0",
                          "DELETE FROM billing_transactions", "TRUNCATE billing_transactions"}) {
    EXPECT_THAT(PostgresServer::Exec(url_, sql), StatusIs(absl::StatusCode::kInternal,
                                                          HasSubstr("append-only")))
        << sql;
  }
  absl::StatusOr<BillingPage> page = stores->billing->ListBillingTransactions(
      BillingListQuery{"tenant-a", TimeRange{}, 10, std::nullopt});
  ASSERT_THAT(page.status(), IsOk());
  ASSERT_EQ(page->transactions.size(), 1u);
  EXPECT_EQ(page->transactions[0].amount_micros, 12'000'000);
}

TEST(PostgresStoreOpenTest, BadOptionsAreInvalidArgument) {
  PostgresOptions options;
  EXPECT_THAT(OpenPostgresStores(options).status(), StatusIs(absl::StatusCode::kInvalidArgument));
  options.url = "postgresql://music@127.0.0.1:1/music";
  options.connections = 0;
  EXPECT_THAT(OpenPostgresStores(options).status(), StatusIs(absl::StatusCode::kInvalidArgument));
  options.connections = 1;
  options.url = "postgresql://music@127.0.0.1:1/music?no_such_option=1";
  EXPECT_THAT(OpenPostgresStores(options).status(), StatusIs(absl::StatusCode::kInvalidArgument));
}

TEST(PostgresStoreOpenTest, AnUnreachableServerIsUnavailableAndThePasswordIsNotRepeated) {
  PostgresOptions options;
  // Port 1 on loopback: nothing listens, the connection is refused at once.
  options.url = "postgresql://music:s3cret-password@127.0.0.1:1/music";
  options.connect_timeout = absl::Seconds(2);
  const absl::Status status = OpenPostgresStores(options).status();
  EXPECT_THAT(status, StatusIs(absl::StatusCode::kUnavailable, Not(HasSubstr("s3cret"))));
}

// A server of the test's own, killed (as a crash) and started again under an open store.
TEST(PostgresStoreRestartTest, UnavailableWhileTheServerIsDownThenRecoversWithoutReopening) {
  TempDir dir("pg_restart");
  PostgresServer server;
  ASSERT_THAT(server.Start(dir.File("pg")), IsOk());
  PostgresOptions options;
  options.url = server.url();
  options.connections = 3;
  options.connect_timeout = absl::Seconds(2);
  absl::StatusOr<Stores> stores = OpenPostgresStores(options);
  ASSERT_THAT(stores.status(), IsOk());
  TaskStore& tasks = *stores->tasks;
  MustCreate(tasks, MakeRecord("before"));
  EXPECT_THAT(tasks.CheckHealth(), IsOk());

  ASSERT_THAT(server.Kill(), IsOk());
  EXPECT_THAT(tasks.Get("before").status(), StatusIs(absl::StatusCode::kUnavailable));
  EXPECT_THAT(tasks.Create(MakeRecord("during")).status(),
              StatusIs(absl::StatusCode::kUnavailable));
  EXPECT_THAT(tasks.CheckHealth(), StatusIs(absl::StatusCode::kUnavailable));

  ASSERT_THAT(server.Restart(), IsOk());
  // The pooled connections died with the server; the first use after the restart opens a new
  // one instead of failing.
  EXPECT_THAT(tasks.CheckHealth(), IsOk());
  absl::StatusOr<domain::TaskRecord> before = tasks.Get("before");
  ASSERT_THAT(before.status(), IsOk());
  MustCreate(tasks, MakeRecord("after"));
  // Nothing of the refused create was written.
  EXPECT_THAT(tasks.Get("during").status(), StatusIs(absl::StatusCode::kNotFound));
}

}  // namespace
}  // namespace music::persistence::store_test
