// Tenant quotas through the gRPC edge (real server, SQLite file, kie.ai adapter, the provider
// emulator over HTTP): a create over the tenant's max_tasks_in_flight or requests_per_second is
// RESOURCE_EXHAUSTED with google.rpc.RetryInfo and google.rpc.QuotaFailure in
// grpc-status-details-bin, leaves no task and no ledger row, and a retry of a stored request_id
// is answered. The server serves one tenant (ServerOptions::tenant) until callers are
// authenticated; that other tenants are unaffected is shown in the engine
// (tests/service/core/quota_test.cc), where tenants are a parameter.
#include <grpcpp/grpcpp.h>

#include <string>

#include "google/rpc/error_details.pb.h"
#include "google/rpc/status.pb.h"
#include "tests/e2e/e2e_fixture.h"

namespace music::e2e {
namespace {

struct QuotaDetails {
  bool has_retry_info = false;
  absl::Duration retry_delay;
  google::rpc::QuotaFailure quota_failure;
};

QuotaDetails DetailsOf(const grpc::Status& s) {
  QuotaDetails out;
  google::rpc::Status details;
  if (!details.ParseFromString(s.error_details())) return out;
  for (const auto& any : details.details()) {
    if (any.type_url() == "type.googleapis.com/google.rpc.RetryInfo") {
      google::rpc::RetryInfo info;
      if (info.ParseFromString(any.value())) {
        out.has_retry_info = true;
        out.retry_delay = absl::Seconds(info.retry_delay().seconds()) +
                          absl::Nanoseconds(info.retry_delay().nanos());
      }
    } else if (any.type_url() == "type.googleapis.com/google.rpc.QuotaFailure") {
      out.quota_failure.ParseFromString(any.value());
    }
  }
  return out;
}

class QuotaE2eTest : public E2eTest {
 protected:
  void ConfigureServer(service::ServerOptions& options) override {
    options.tenant = "acme";
    service::TenantQuota& q = options.engine.quotas.tenants["acme"];
    q.max_tasks_in_flight = 1;
    q.requests_per_second = rps_;
    q.burst = 1;
  }

  grpc::Status TryCreate(const std::string& prompt, const std::string& request_id,
                         music::v1::Task* task) {
    music::v1::CreateMusicRequest req;
    req.set_prompt(prompt);
    req.set_request_id(request_id);
    music::v1::CreateMusicResponse resp;
    grpc::ClientContext ctx;
    grpc::Status s = stub_->CreateMusic(&ctx, req, &resp);
    *task = resp.task();
    return s;
  }

  int ListedTasks() {
    music::v1::ListTasksRequest req;
    req.set_page_size(100);
    music::v1::ListTasksResponse resp;
    grpc::ClientContext ctx;
    grpc::Status s = stub_->ListTasks(&ctx, req, &resp);
    EXPECT_TRUE(s.ok()) << s.error_message();
    return resp.tasks_size();
  }

  double rps_ = 0;
};

TEST_F(QuotaE2eTest, OverTasksInFlightIsResourceExhaustedWithRetryInfoAndLeavesNothing) {
  music::v1::Task first;
  ASSERT_TRUE(TryCreate("calm piano", "req-1", &first).ok());
  music::v1::Task none;
  const grpc::Status refused = TryCreate("loud drums", "req-2", &none);
  ASSERT_EQ(refused.error_code(), grpc::StatusCode::RESOURCE_EXHAUSTED) << refused.error_message();
  EXPECT_NE(refused.error_message().find("max_tasks_in_flight"), std::string::npos)
      << refused.error_message();
  const QuotaDetails d = DetailsOf(refused);
  EXPECT_TRUE(d.has_retry_info);
  EXPECT_GT(d.retry_delay, absl::ZeroDuration());
  ASSERT_EQ(d.quota_failure.violations_size(), 1);
  EXPECT_EQ(d.quota_failure.violations(0).subject(), "tenant:acme");
  EXPECT_NE(d.quota_failure.violations(0).description().find("max_tasks_in_flight"),
            std::string::npos);
  // The refused create left no task and no ledger row: only the first task's RESERVE.
  EXPECT_EQ(ListedTasks(), 1);
  const auto rows = AllTransactions();
  ASSERT_EQ(rows.size(), 1u);
  EXPECT_EQ(rows[0].task_id(), first.task_id());
  // A retry of the first create is answered with its task, not refused.
  music::v1::Task again;
  ASSERT_TRUE(TryCreate("calm piano", "req-1", &again).ok());
  EXPECT_EQ(again.task_id(), first.task_id());

  // Once the first task ended, the tenant may create again.
  EXPECT_EQ(WaitDone(first.task_id()).state(), music::v1::TASK_STATE_SUCCEEDED);
  music::v1::Task second;
  const grpc::Status after = TryCreate("loud drums", "req-2", &second);
  EXPECT_TRUE(after.ok()) << after.error_message();
  EXPECT_EQ(ListedTasks(), 2);
}

class QuotaRateE2eTest : public QuotaE2eTest {
 protected:
  void SetUp() override {
    rps_ = 0.2;  // one create per 5 s
    QuotaE2eTest::SetUp();
  }
};

TEST_F(QuotaRateE2eTest, OverRequestsPerSecondSaysWhenToRetry) {
  music::v1::Task first;
  ASSERT_TRUE(TryCreate("calm piano", "", &first).ok());
  EXPECT_EQ(WaitDone(first.task_id()).state(), music::v1::TASK_STATE_SUCCEEDED);
  music::v1::Task none;
  const grpc::Status refused = TryCreate("loud drums", "", &none);
  ASSERT_EQ(refused.error_code(), grpc::StatusCode::RESOURCE_EXHAUSTED) << refused.error_message();
  const QuotaDetails d = DetailsOf(refused);
  ASSERT_TRUE(d.has_retry_info);
  // The next token comes 5 s after the first create, less the time the task took.
  EXPECT_GT(d.retry_delay, absl::ZeroDuration());
  EXPECT_LE(d.retry_delay, absl::Seconds(5));
  ASSERT_EQ(d.quota_failure.violations_size(), 1);
  EXPECT_NE(d.quota_failure.violations(0).description().find("requests_per_second"),
            std::string::npos);
  EXPECT_EQ(ListedTasks(), 1);
  const auto rows = AllTransactions();
  EXPECT_FALSE(rows.empty());
  for (const auto& row : rows) {
    EXPECT_EQ(row.task_id(), first.task_id()) << "a ledger row of the refused create";
  }
}

}  // namespace
}  // namespace music::e2e
