// Billing end to end: tasks through the server and the emulator (kie.ai) with successes,
// failures, a cancel, duplicate callbacks and a restart; then the ledger checks out, the
// emulator's usage export (with injected differences) imports idempotently, and reconciliation
// reports exactly the injected differences.
#include <httplib.h>

#include <map>
#include <set>
#include <string>
#include <vector>

#include "adapters/kie/kie_usage_format.h"
#include "music/v1/billing_service.grpc.pb.h"
#include "music/v1/reconciliation_service.grpc.pb.h"
#include "service/billing/usage_format.h"
#include "tests/e2e/e2e_fixture.h"

namespace music::e2e {
namespace {

class BillingE2eTest : public E2eTest {
 protected:
  std::unique_ptr<music::v1::ReconciliationService::Stub> Reconciliation() {
    return music::v1::ReconciliationService::NewStub(channel_);
  }

  music::v1::CheckLedgerResponse CheckLedger() {
    music::v1::CheckLedgerResponse resp;
    grpc::ClientContext ctx;
    grpc::Status s = Billing()->CheckLedger(&ctx, music::v1::CheckLedgerRequest(), &resp);
    EXPECT_TRUE(s.ok()) << s.error_message();
    return resp;
  }

  // The emulator's kie usage export over real HTTP.
  std::string UsageExport(const std::string& query) {
    httplib::Client client("127.0.0.1", emulator_->port());
    auto res = client.Get("/_emulator/usage?provider=kie&" + query);
    EXPECT_TRUE(res) << "no answer";
    if (!res) return "";
    EXPECT_EQ(res->status, 200) << res->body;
    return res->body;
  }

  music::v1::ImportUsageRecordsResponse Import(const std::string& content,
                                               music::v1::BillingFileFormat format) {
    music::v1::ImportUsageRecordsRequest req;
    req.set_provider("kie");
    req.set_format(format);
    req.set_content(content);
    req.set_source("kie-usage");
    music::v1::ImportUsageRecordsResponse resp;
    grpc::ClientContext ctx;
    grpc::Status s = Billing()->ImportUsageRecords(&ctx, req, &resp);
    EXPECT_TRUE(s.ok()) << s.error_message();
    return resp;
  }
};

TEST_F(BillingE2eTest, LedgerBalancesAndReconciliationFindsExactlyTheInjectedDifferences) {
  std::vector<std::string> ids;
  for (int i = 0; i < 4; ++i)
    ids.push_back(CreateMusic("paid song " + std::to_string(i)).task_id());
  for (int i = 0; i < 2; ++i) {
    ids.push_back(
        CreateMusic("failing song " + std::to_string(i) + " [emu:fail=GENERATE_AUDIO_FAILED]")
            .task_id());
    ids.push_back(
        CreateMusic("twice told " + std::to_string(i) + " [emu:duplicate_callbacks]").task_id());
  }
  // Canceled while running; it fails at the provider too, so the provider charges nothing.
  const std::string canceled =
      CreateMusic("canceled [emu:fail=GENERATE_AUDIO_FAILED] [emu:duration_ms=3000]").task_id();
  ids.push_back(canceled);
  {
    music::v1::CancelTaskRequest req;
    req.set_task_id(canceled);
    music::v1::CancelTaskResponse resp;
    grpc::ClientContext ctx;
    ASSERT_TRUE(stub_->CancelTask(&ctx, req, &resp).ok());
  }
  for (const auto& id : ids) ASSERT_TRUE(domain::IsTerminal(WaitDone(id).state())) << id;

  // Two more, interrupted by a restart mid-generation. (The canceled task may never have reached
  // the provider, so count from what it has now.)
  const int64_t expected_provider_tasks = emulator_->TaskCount() + 2;
  std::vector<std::string> restarted;
  for (int i = 0; i < 2; ++i) {
    restarted.push_back(
        CreateMusic("restart song " + std::to_string(i) + " [emu:duration_ms=2000]").task_id());
  }
  WaitFor([&] { return emulator_->TaskCount() >= expected_provider_tasks; }, absl::Seconds(5),
          "the provider to have both tasks");
  ASSERT_EQ(emulator_->TaskCount(), expected_provider_tasks);
  StopServer();
  StartServer();
  for (const auto& id : restarted) {
    EXPECT_EQ(WaitDone(id).state(), music::v1::TASK_STATE_SUCCEEDED);
    ids.push_back(id);
  }

  // The ledger: clean, balanced, one RESERVE per task and one ending per task.
  EXPECT_EQ(CheckLedger().violations_size(), 0) << CheckLedger().DebugString();
  std::map<std::string, std::map<int, int>> kinds;  // task -> kind -> rows
  const auto rows = AllTransactions(/*page_size=*/4);
  for (const auto& t : rows) ++kinds[t.task_id()][t.kind()];
  std::map<music::v1::TaskState, int> states;
  for (const auto& id : ids) {
    const auto task = GetTask(id);
    ++states[task.state()];
    const auto& b = task.billing();
    EXPECT_EQ(b.reserved_micros(), 12'000'000) << id;
    EXPECT_EQ(b.reserved_micros(), b.charged_micros() + b.refunded_micros()) << id;
    EXPECT_EQ(kinds[id][music::v1::BILLING_TRANSACTION_KIND_RESERVE], 1) << id;
    if (task.state() == music::v1::TASK_STATE_SUCCEEDED) {
      EXPECT_EQ(kinds[id][music::v1::BILLING_TRANSACTION_KIND_SETTLE], 1) << id;
      EXPECT_EQ(b.charged_micros(), 12'000'000) << id;
    } else {
      EXPECT_EQ(kinds[id][music::v1::BILLING_TRANSACTION_KIND_SETTLE], 0) << id;
      EXPECT_EQ(kinds[id][music::v1::BILLING_TRANSACTION_KIND_REFUND], 1) << id;
    }
  }
  EXPECT_EQ(states[music::v1::TASK_STATE_SUCCEEDED], 8);
  EXPECT_EQ(states[music::v1::TASK_STATE_FAILED], 2);
  EXPECT_EQ(states[music::v1::TASK_STATE_CANCELED], 1);
  EXPECT_EQ(rows.size(), ids.size() * 2);  // RESERVE + (SETTLE or REFUND) each

  // The export is the ledger file tools/reconcile reads.
  {
    music::v1::ExportBillingTransactionsRequest req;
    req.set_format(music::v1::BILLING_FILE_FORMAT_CSV);
    music::v1::ExportBillingTransactionsResponse resp;
    grpc::ClientContext ctx;
    ASSERT_TRUE(Billing()->ExportBillingTransactions(&ctx, req, &resp).ok());
    auto parsed = billing::ParseLedger(billing::FileFormat::kCsv, resp.content(), "export.csv");
    ASSERT_TRUE(parsed.ok()) << parsed.status();
    EXPECT_EQ(parsed->size(), rows.size());
    EXPECT_EQ(resp.transaction_count(), static_cast<int64_t>(rows.size()));
  }

  // The provider's side, with one of each difference injected.
  const std::string usage =
      UsageExport("format=jsonl&missing=1&extra=1&amount=1&duplicate=1&refund=1&seed=7");
  auto exported = adapters::kie::ParseUsage(billing::FileFormat::kJsonl, usage, "usage.jsonl");
  ASSERT_TRUE(exported.ok()) << exported.status();
  const auto clean = emulator_->UsageRecords("kie");
  ASSERT_EQ(clean.size(), 8u);  // one charge per succeeded task
  // 8 charges - 1 missing + 1 extra + 1 duplicate + 1 refund.
  ASSERT_EQ(exported->size(), 10u);
  std::set<std::string> exported_tasks;
  for (const auto& r : *exported) exported_tasks.insert(r.provider_task_id);
  std::string missing_task;
  for (const auto& r : clean) {
    if (!exported_tasks.count(r.provider_task_id)) missing_task = r.provider_task_id;
  }
  ASSERT_FALSE(missing_task.empty());

  const auto first = Import(usage, music::v1::BILLING_FILE_FORMAT_JSONL);
  EXPECT_EQ(first.records(), 10);
  EXPECT_EQ(first.inserted(), 10);
  EXPECT_EQ(first.duplicates(), 0);
  const auto second = Import(usage, music::v1::BILLING_FILE_FORMAT_JSONL);
  EXPECT_EQ(second.inserted(), 0);
  EXPECT_EQ(second.duplicates(), 10);
  // The same export as CSV carries the same record ids: nothing new either.
  const auto as_csv =
      Import(UsageExport("format=csv&missing=1&extra=1&amount=1&duplicate=1&refund=1&seed=7"),
             music::v1::BILLING_FILE_FORMAT_CSV);
  EXPECT_EQ(as_csv.inserted(), 0);
  EXPECT_EQ(as_csv.duplicates(), 10);

  // Everything has ended: nothing is in flight, so a provider-only charge seconds old counts.
  music::v1::ReconcileRequest req;
  req.mutable_in_flight_grace()->set_seconds(0);
  music::v1::ReconcileResponse report;
  {
    grpc::ClientContext ctx;
    grpc::Status s = Reconciliation()->Reconcile(&ctx, req, &report);
    ASSERT_TRUE(s.ok()) << s.error_message();
  }
  std::map<std::string, std::vector<music::v1::Discrepancy>> by_outcome;
  for (const auto& d : report.discrepancies()) by_outcome[d.outcome()].push_back(d);
  EXPECT_EQ(report.discrepancies_size(), 5) << report.run().summary();
  for (const char* outcome : {"MISSING_USAGE_RECORD", "MISSING_BILLING_TRANSACTION",
                              "AMOUNT_MISMATCH", "DUPLICATE", "REFUND_MISMATCH"}) {
    EXPECT_EQ(by_outcome[outcome].size(), 1u) << outcome << "\n" << report.run().summary();
  }
  ASSERT_EQ(by_outcome["MISSING_USAGE_RECORD"].size(), 1u);
  EXPECT_EQ(by_outcome["MISSING_USAGE_RECORD"][0].provider_task_id(), missing_task);
  ASSERT_EQ(by_outcome["MISSING_BILLING_TRANSACTION"].size(), 1u);
  EXPECT_EQ(by_outcome["MISSING_BILLING_TRANSACTION"][0].provider_task_id(), "emu_extra_7_0");
  EXPECT_EQ(by_outcome["MISSING_BILLING_TRANSACTION"][0].task_id(), "");
  ASSERT_EQ(by_outcome["AMOUNT_MISMATCH"].size(), 1u);
  EXPECT_EQ(by_outcome["AMOUNT_MISMATCH"][0].difference_micros(), 1'000'000);
  ASSERT_EQ(by_outcome["REFUND_MISMATCH"].size(), 1u);
  EXPECT_EQ(by_outcome["REFUND_MISMATCH"][0].provider_net_micros(), 0);
  EXPECT_EQ(report.run().tasks(), static_cast<int64_t>(ids.size()) + 1);  // + the extra charge
  EXPECT_EQ(report.run().discrepancies(), 5);
  ASSERT_FALSE(report.run().run_id().empty());

  // The run is stored with its report; a dry run is not.
  music::v1::ReconcileRequest dry = req;
  dry.set_dry_run(true);
  music::v1::ReconcileResponse dry_report;
  {
    grpc::ClientContext ctx;
    ASSERT_TRUE(Reconciliation()->Reconcile(&ctx, dry, &dry_report).ok());
  }
  EXPECT_EQ(dry_report.run().run_id(), "");
  EXPECT_EQ(dry_report.discrepancies_size(), 5);
  // With the default hour of grace the fresh provider-only charge waits for a later run.
  music::v1::ReconcileRequest graced;
  graced.set_dry_run(true);
  music::v1::ReconcileResponse graced_report;
  {
    grpc::ClientContext ctx;
    ASSERT_TRUE(Reconciliation()->Reconcile(&ctx, graced, &graced_report).ok());
  }
  EXPECT_EQ(graced_report.discrepancies_size(), 4);
  EXPECT_EQ(graced_report.run().tasks(), static_cast<int64_t>(ids.size()));
  music::v1::ListReconciliationRunsResponse runs;
  {
    grpc::ClientContext ctx;
    ASSERT_TRUE(
        Reconciliation()
            ->ListReconciliationRuns(&ctx, music::v1::ListReconciliationRunsRequest(), &runs)
            .ok());
  }
  ASSERT_EQ(runs.runs_size(), 1);
  EXPECT_EQ(runs.runs(0).run_id(), report.run().run_id());
  EXPECT_EQ(runs.runs(0).report_json(), "");
  music::v1::GetReconciliationRunRequest get;
  get.set_run_id(report.run().run_id());
  music::v1::GetReconciliationRunResponse got;
  {
    grpc::ClientContext ctx;
    ASSERT_TRUE(Reconciliation()->GetReconciliationRun(&ctx, get, &got).ok());
  }
  EXPECT_EQ(got.run().discrepancies(), 5);
  EXPECT_NE(got.run().report_json().find("emu_extra_7_0"), std::string::npos);
  EXPECT_EQ(got.run().summary(), report.run().summary());
}

TEST_F(BillingE2eTest, BadRequestsNameTheField) {
  auto billing = Billing();
  {
    music::v1::ListBillingTransactionsRequest req;
    req.set_page_size(-1);
    music::v1::ListBillingTransactionsResponse resp;
    grpc::ClientContext ctx;
    EXPECT_EQ(billing->ListBillingTransactions(&ctx, req, &resp).error_code(),
              grpc::StatusCode::INVALID_ARGUMENT);
  }
  {
    music::v1::ListBillingTransactionsRequest req;
    req.set_page_token("not-a-token");
    music::v1::ListBillingTransactionsResponse resp;
    grpc::ClientContext ctx;
    grpc::Status s = billing->ListBillingTransactions(&ctx, req, &resp);
    EXPECT_EQ(s.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
    EXPECT_NE(s.error_message().find("page_token"), std::string::npos) << s.error_message();
  }
  {
    music::v1::ImportUsageRecordsRequest req;
    req.set_provider("kie");
    req.set_format(music::v1::BILLING_FILE_FORMAT_JSONL);
    req.set_source("bad.jsonl");
    req.set_content(
        "{\"taskId\":\"t1\",\"credits\":12,\"createTime\":1700000000000}\n"
        "{\"taskId\":\"t2\",\"credits\":\"lots\",\"createTime\":1700000000000}\n");
    music::v1::ImportUsageRecordsResponse resp;
    grpc::ClientContext ctx;
    grpc::Status s = billing->ImportUsageRecords(&ctx, req, &resp);
    EXPECT_EQ(s.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
    EXPECT_NE(s.error_message().find("bad.jsonl:2"), std::string::npos) << s.error_message();
    EXPECT_NE(s.error_message().find("credits"), std::string::npos) << s.error_message();
  }
  {
    music::v1::ImportUsageRecordsRequest req;
    req.set_provider("nobody");
    music::v1::ImportUsageRecordsResponse resp;
    grpc::ClientContext ctx;
    grpc::Status s = billing->ImportUsageRecords(&ctx, req, &resp);
    EXPECT_EQ(s.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
    EXPECT_NE(s.error_message().find("provider"), std::string::npos) << s.error_message();
  }
  {
    music::v1::ReconcileRequest req;
    req.set_tolerance_micros(-1);
    music::v1::ReconcileResponse resp;
    grpc::ClientContext ctx;
    EXPECT_EQ(Reconciliation()->Reconcile(&ctx, req, &resp).error_code(),
              grpc::StatusCode::INVALID_ARGUMENT);
  }
  {
    music::v1::GetReconciliationRunRequest req;
    req.set_run_id("rec_nope");
    music::v1::GetReconciliationRunResponse resp;
    grpc::ClientContext ctx;
    EXPECT_EQ(Reconciliation()->GetReconciliationRun(&ctx, req, &resp).error_code(),
              grpc::StatusCode::NOT_FOUND);
  }
  // An unreadable usage export parameter is the emulator's 422.
  httplib::Client client("127.0.0.1", emulator_->port());
  auto res = client.Get("/_emulator/usage?provider=kie&format=xml");
  ASSERT_TRUE(res);
  EXPECT_EQ(res->status, 422);
}

}  // namespace
}  // namespace music::e2e
