// musicctl's billing and reconcile commands against in-process fake BillingService and
// ReconciliationService: the built binary runs with popen; output and exit codes are checked.
#include <stdlib.h>
#include <sys/wait.h>

#include <cstdio>
#include <fstream>
#include <memory>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/synchronization/mutex.h"
#include "gmock/gmock.h"
#include "grpcpp/grpcpp.h"
#include "gtest/gtest.h"
#include "music/v1/billing_service.grpc.pb.h"
#include "music/v1/reconciliation_service.grpc.pb.h"
#include "tests/testing/temp_dir.h"
#include "tools/musicctl/options.h"

namespace music::musicctl {
namespace {

using ::testing::HasSubstr;

class FakeBilling final : public music::v1::BillingService::Service {
 public:
  grpc::Status ListBillingTransactions(
      grpc::ServerContext*, const music::v1::ListBillingTransactionsRequest* request,
      music::v1::ListBillingTransactionsResponse* response) override {
    auto* t = response->add_transactions();
    t->set_kind(music::v1::BILLING_TRANSACTION_KIND_SETTLE);
    t->set_task_id(request->page_token().empty() ? "tsk_first" : "tsk_second");
    t->set_amount_micros(12'500'000);
    t->set_currency("CREDITS");
    t->set_provider("kie");
    t->mutable_time()->set_seconds(1700000000);
    if (request->page_token().empty()) response->set_next_page_token("p2");
    return grpc::Status::OK;
  }
  grpc::Status ExportBillingTransactions(
      grpc::ServerContext*, const music::v1::ExportBillingTransactionsRequest* r,
      music::v1::ExportBillingTransactionsResponse* response) override {
    response->set_content(r->format() == music::v1::BILLING_FILE_FORMAT_CSV ? "csv,file\n"
                                                                            : "{\"json\":1}\n");
    return grpc::Status::OK;
  }
  grpc::Status ImportUsageRecords(grpc::ServerContext*,
                                  const music::v1::ImportUsageRecordsRequest* request,
                                  music::v1::ImportUsageRecordsResponse* response) override {
    absl::MutexLock lock(&mu_);
    last_import_ = *request;
    response->set_records(3);
    response->set_inserted(2);
    response->set_duplicates(1);
    return grpc::Status::OK;
  }
  grpc::Status CheckLedger(grpc::ServerContext*, const music::v1::CheckLedgerRequest*,
                           music::v1::CheckLedgerResponse* response) override {
    if (broken_) {
      auto* v = response->add_violations();
      v->set_task_id("tsk_bad");
      v->set_kind("UNBALANCED");
      v->set_detail("reserved 1 != settled 0 + refunded 0");
    }
    return grpc::Status::OK;
  }
  music::v1::ImportUsageRecordsRequest last_import() {
    absl::MutexLock lock(&mu_);
    return last_import_;
  }
  bool broken_ = false;

 private:
  absl::Mutex mu_;
  music::v1::ImportUsageRecordsRequest last_import_ ABSL_GUARDED_BY(mu_);
};

class FakeReconciliation final : public music::v1::ReconciliationService::Service {
 public:
  grpc::Status Reconcile(grpc::ServerContext*, const music::v1::ReconcileRequest* request,
                         music::v1::ReconcileResponse* response) override {
    {
      absl::MutexLock lock(&mu_);
      last_ = *request;
    }
    if (request->tolerance_micros() > 100) {
      return grpc::Status(grpc::StatusCode::INVALID_ARGUMENT, "tolerance_micros: too large");
    }
    response->mutable_run()->set_run_id(request->dry_run() ? "" : "rec_1");
    response->mutable_run()->set_summary("SUMMARY TABLE\n");
    response->mutable_run()->set_tasks(10);
    response->mutable_run()->set_discrepancies(2);
    return grpc::Status::OK;
  }
  music::v1::ReconcileRequest last() {
    absl::MutexLock lock(&mu_);
    return last_;
  }

 private:
  absl::Mutex mu_;
  music::v1::ReconcileRequest last_ ABSL_GUARDED_BY(mu_);
};

struct RunResult {
  std::string output;
  int exit_code = -1;
};

class MusicctlBillingTest : public ::testing::Test {
 protected:
  void SetUp() override {
    grpc::ServerBuilder builder;
    int port = 0;
    builder.AddListeningPort("127.0.0.1:0", grpc::InsecureServerCredentials(), &port);
    builder.RegisterService(&billing_);
    builder.RegisterService(&reconciliation_);
    server_ = builder.BuildAndStart();
    ASSERT_NE(server_, nullptr);
    address_ = absl::StrCat("127.0.0.1:", port);
  }
  void TearDown() override { server_->Shutdown(); }

  RunResult Musicctl(const std::vector<std::string>& args) {
    std::string command =
        absl::StrCat(MUSICCTL_PATH, " ", absl::StrJoin(args, " "), " --server ", address_, " 2>&1");
    RunResult run;
    FILE* pipe = popen(command.c_str(), "r");
    if (pipe == nullptr) {
      ADD_FAILURE() << "popen failed: " << command;
      return run;
    }
    char buffer[4096];
    size_t n;
    while ((n = fread(buffer, 1, sizeof(buffer), pipe)) > 0) run.output.append(buffer, n);
    const int status = pclose(pipe);
    run.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
    return run;
  }

  FakeBilling billing_;
  FakeReconciliation reconciliation_;
  std::unique_ptr<grpc::Server> server_;
  std::string address_;
};

TEST_F(MusicctlBillingTest, ListFollowsPagesWithAll) {
  RunResult run = Musicctl({"billing", "list", "--all"});
  EXPECT_EQ(run.exit_code, kExitOk) << run.output;
  EXPECT_THAT(run.output, HasSubstr("tsk_first"));
  EXPECT_THAT(run.output, HasSubstr("tsk_second"));
  EXPECT_THAT(run.output, HasSubstr("12.5"));
  EXPECT_THAT(run.output, HasSubstr("SETTLE"));
  RunResult one = Musicctl({"billing", "list"});
  EXPECT_THAT(one.output, HasSubstr("--page_token p2"));
}

TEST_F(MusicctlBillingTest, ExportWritesTheFileInTheAskedFormat) {
  RunResult csv = Musicctl({"billing", "export", "--format", "csv"});
  EXPECT_EQ(csv.exit_code, kExitOk) << csv.output;
  EXPECT_EQ(csv.output, "csv,file\n");
  RunResult json = Musicctl({"billing", "export", "--format=json"});
  EXPECT_EQ(json.output, "{\"json\":1}\n");
  EXPECT_EQ(Musicctl({"billing", "export", "--format", "xml"}).exit_code, kExitUsage);
}

TEST_F(MusicctlBillingTest, ImportUsageSendsTheFile) {
  TempDir dir("musicctl_billing");
  const std::string path = dir.File("usage.jsonl");
  std::ofstream(path) << "{\"taskId\":\"t\"}\n";
  RunResult run =
      Musicctl({"billing", "import-usage", "--provider", "kie", "--format", "jsonl", path});
  EXPECT_EQ(run.exit_code, kExitOk) << run.output;
  EXPECT_THAT(run.output, HasSubstr("2 new, 1 already imported"));
  const auto sent = billing_.last_import();
  EXPECT_EQ(sent.provider(), "kie");
  EXPECT_EQ(sent.format(), music::v1::BILLING_FILE_FORMAT_JSONL);
  EXPECT_EQ(sent.content(), "{\"taskId\":\"t\"}\n");
  EXPECT_EQ(Musicctl({"billing", "import-usage", "--format", "csv", path}).exit_code, kExitUsage);
  EXPECT_EQ(Musicctl({"billing", "import-usage", "--provider", "kie", "--format", "csv",
                      "/nonexistent/file"})
                .exit_code,
            kExitUsage);
}

TEST_F(MusicctlBillingTest, CheckLedgerExitsNonZeroOnViolations) {
  RunResult ok = Musicctl({"billing", "check-ledger"});
  EXPECT_EQ(ok.exit_code, kExitOk) << ok.output;
  EXPECT_THAT(ok.output, HasSubstr("Ledger OK"));
  billing_.broken_ = true;
  RunResult bad = Musicctl({"billing", "check-ledger"});
  EXPECT_EQ(bad.exit_code, kExitFindings) << bad.output;
  EXPECT_THAT(bad.output, HasSubstr("tsk_bad  UNBALANCED"));
}

TEST_F(MusicctlBillingTest, ReconcilePrintsTheSummaryAndHonoursTheThreshold) {
  RunResult run = Musicctl({"reconcile", "--start", "2026-11-01T00:00:00Z", "--end",
                            "2026-11-02T00:00:00Z", "--providers", "kie,piapi",
                            "--tolerance_micros", "5", "--dry_run", "--in_flight_grace", "90"});
  EXPECT_EQ(run.exit_code, kExitFindings) << run.output;  // 2 discrepancies > 0
  EXPECT_THAT(run.output, HasSubstr("SUMMARY TABLE"));
  EXPECT_THAT(run.output, HasSubstr("Dry run: not stored. 2 of 10 tasks"));
  const auto sent = reconciliation_.last();
  EXPECT_EQ(sent.providers_size(), 2);
  EXPECT_EQ(sent.tolerance_micros(), 5);
  EXPECT_TRUE(sent.dry_run());
  EXPECT_EQ(sent.in_flight_grace().seconds(), 90);
  EXPECT_EQ(sent.start_time().seconds(), 1793491200);  // 2026-11-01T00:00:00Z
  RunResult within = Musicctl({"reconcile", "--start", "2026-11-01T00:00:00Z", "--end",
                               "2026-11-02T00:00:00Z", "--max_discrepancies", "2"});
  EXPECT_EQ(within.exit_code, kExitOk) << within.output;
  EXPECT_THAT(within.output, HasSubstr("Stored as run rec_1"));
  EXPECT_FALSE(reconciliation_.last().has_in_flight_grace());
  EXPECT_EQ(Musicctl({"reconcile", "--start", "2026-11-01T00:00:00Z"}).exit_code, kExitUsage);
  RunResult refused = Musicctl({"reconcile", "--start", "2026-11-01T00:00:00Z", "--end",
                                "2026-11-02T00:00:00Z", "--tolerance_micros", "500"});
  EXPECT_EQ(refused.exit_code, kExitRpcError) << refused.output;
  EXPECT_THAT(refused.output, HasSubstr("tolerance_micros"));
}

}  // namespace
}  // namespace music::musicctl
