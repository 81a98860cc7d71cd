// What only the PostgreSQL store does, against a real server: migrations that replicas starting
// together run once, the refusal of a newer schema, the append-only ledger enforced by the
// database itself, and the codes a caller sees while the server is away, until it is back.
#include <set>
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
#include "tests/testing/wait_for.h"

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

// Leases (persistence/lease_store.h): the creating replica drives a task; another claims it only
// once that replica's lease is gone; the old driver's fenced writes are then refused, while a
// write that does not drive the task (a callback that reached another replica) is checked by
// version only.
class PostgresLeaseTest : public PostgresStoreTest {
 protected:
  Stores Replica(const std::string& id, absl::Duration ttl = absl::Seconds(30)) {
    PostgresOptions options;
    options.url = url_;
    options.connections = 2;
    options.replica_id = id;
    options.lease_ttl = ttl;
    absl::StatusOr<Stores> stores = OpenPostgresStores(options);
    EXPECT_TRUE(stores.ok()) << stores.status();
    return stores.ok() ? *std::move(stores) : Stores();
  }
  static std::vector<std::string> Ids(const std::vector<domain::TaskRecord>& records) {
    std::vector<std::string> ids;
    for (const domain::TaskRecord& r : records) ids.push_back(r.task.task_id());
    return ids;
  }
};

TEST_F(PostgresLeaseTest, OneDriverPerTaskAndTheOldDriverIsFencedOff) {
  Stores a = Replica("replica-a");
  Stores b = Replica("replica-b");
  ASSERT_NE(a.leases, nullptr);
  ASSERT_THAT(a.leases->RenewLeases(), IsOk());
  ASSERT_THAT(b.leases->RenewLeases(), IsOk());
  domain::TaskRecord created = MustCreate(*a.tasks, MakeRecord("t1"));
  EXPECT_EQ(created.lease.owner, "replica-a");
  EXPECT_GT(created.lease.token, 0);
  absl::StatusOr<domain::TaskRecord> stored = b.tasks->Get("t1");
  ASSERT_THAT(stored.status(), IsOk());
  EXPECT_EQ(stored->lease.owner, "replica-a");
  EXPECT_EQ(stored->lease.token, created.lease.token);

  // A is alive: nothing to claim.
  absl::StatusOr<std::vector<domain::TaskRecord>> claimed = b.leases->ClaimTasks(10);
  ASSERT_THAT(claimed.status(), IsOk());
  EXPECT_TRUE(claimed->empty());

  // A's lease ends (as at its shutdown, or when it stops renewing): B claims its task.
  ASSERT_THAT(a.leases->ReleaseLeases(), IsOk());
  claimed = b.leases->ClaimTasks(10);
  ASSERT_THAT(claimed.status(), IsOk());
  ASSERT_EQ(Ids(*claimed), std::vector<std::string>{"t1"});
  const domain::TaskRecord taken = (*claimed)[0];
  EXPECT_EQ(taken.lease.owner, "replica-b");
  EXPECT_GT(taken.lease.token, created.lease.token);
  EXPECT_EQ(taken.task.version(), 1);  // a claim is not a change of the task

  // A, still holding its old record, writes as the driver: refused, nothing written.
  domain::TaskRecord stale = created;
  stale.task.set_version(2);
  stale.attempts = 7;
  const absl::Status fenced = a.tasks->Update(stale);
  EXPECT_TRUE(IsLeaseLost(fenced)) << fenced;
  EXPECT_THAT(fenced, StatusIs(absl::StatusCode::kFailedPrecondition, HasSubstr("replica-b")));
  EXPECT_EQ(b.tasks->Get("t1")->task.version(), 1);

  // B drives it now.
  domain::TaskRecord next = taken;
  next.task.set_version(2);
  ASSERT_THAT(b.tasks->Update(next), IsOk());
  // A callback that reached A is applied there: A does not drive the task (the record it read
  // names B), so the write is checked by version only and leaves the lease to B.
  absl::StatusOr<domain::TaskRecord> read_by_a = a.tasks->Get("t1");
  ASSERT_THAT(read_by_a.status(), IsOk());
  domain::TaskRecord callback = *read_by_a;
  callback.task.set_version(3);
  ASSERT_THAT(a.tasks->Update(callback), IsOk());
  absl::StatusOr<domain::TaskRecord> after = b.tasks->Get("t1");
  ASSERT_THAT(after.status(), IsOk());
  EXPECT_EQ(after->task.version(), 3);
  EXPECT_EQ(after->lease.owner, "replica-b");
  EXPECT_EQ(after->lease.token, taken.lease.token);

  // A terminal task is never claimed.
  domain::TaskRecord done = *after;
  done.task.set_version(4);
  done.task.set_state(music::v1::TASK_STATE_SUCCEEDED);
  ASSERT_THAT(b.tasks->Update(done), IsOk());
  ASSERT_THAT(b.leases->ReleaseLeases(), IsOk());
  ASSERT_THAT(a.leases->RenewLeases(), IsOk());
  claimed = a.leases->ClaimTasks(10);
  ASSERT_THAT(claimed.status(), IsOk());
  EXPECT_TRUE(claimed->empty());
}

TEST_F(PostgresLeaseTest, ReplicasClaimingAtOnceTakeDisjointBatches) {
  // Tasks created by a replica that never registered a lease (gone at once): claimable.
  Stores gone = Replica("replica-gone");
  constexpr int kTasks = 120;
  for (int i = 0; i < kTasks; ++i) {
    MustCreate(*gone.tasks, MakeRecord(absl::StrCat("t", i), "tenant-a", "",
                                       kBase + absl::Seconds(i)));
  }
  Stores a = Replica("replica-a");
  Stores b = Replica("replica-b");
  ASSERT_THAT(a.leases->RenewLeases(), IsOk());
  ASSERT_THAT(b.leases->RenewLeases(), IsOk());
  std::vector<std::string> by_a, by_b;
  auto claim_all = [](Stores& s, std::vector<std::string>* ids) {
    for (;;) {
      absl::StatusOr<std::vector<domain::TaskRecord>> batch = s.leases->ClaimTasks(7);
      ASSERT_TRUE(batch.ok()) << batch.status();
      if (batch->empty()) return;
      for (const domain::TaskRecord& r : *batch) ids->push_back(r.task.task_id());
    }
  };
  std::thread ta([&] { claim_all(a, &by_a); });
  std::thread tb([&] { claim_all(b, &by_b); });
  ta.join();
  tb.join();
  std::set<std::string> all(by_a.begin(), by_a.end());
  for (const std::string& id : by_b) {
    EXPECT_TRUE(all.insert(id).second) << id << " claimed by both replicas";
  }
  EXPECT_EQ(all.size(), static_cast<size_t>(kTasks));
  EXPECT_EQ(by_a.size() + by_b.size(), static_cast<size_t>(kTasks));
}

TEST_F(PostgresLeaseTest, AnExpiredLeaseIsTakenOverByTheDatabasesClock) {
  Stores short_lived = Replica("replica-short", absl::Milliseconds(300));
  Stores a = Replica("replica-a");
  ASSERT_THAT(short_lived.leases->RenewLeases(), IsOk());
  ASSERT_THAT(a.leases->RenewLeases(), IsOk());
  MustCreate(*short_lived.tasks, MakeRecord("t1"));
  absl::StatusOr<std::vector<domain::TaskRecord>> claimed = a.leases->ClaimTasks(10);
  ASSERT_THAT(claimed.status(), IsOk());
  EXPECT_TRUE(claimed->empty());  // renewed 300 ms ago at most: still its owner's
  // No renewal: the lease runs out on the database's clock and the task is claimable.
  EXPECT_TRUE(WaitFor(
      [&] {
        claimed = a.leases->ClaimTasks(10);
        return claimed.ok() && claimed->size() == 1;
      },
      absl::Seconds(10), "the expired lease's task to be claimed"));
}

}  // namespace
}  // namespace music::persistence::store_test
