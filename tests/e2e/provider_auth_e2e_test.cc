// kie.ai refusing the service's own API key (the emulator's kie_key_refused fault: every kie
// request answers 401) through the real server: the task fails with a server-side code and the
// PROVIDER_AUTH reason, not the caller's UNAUTHENTICATED, and its reservation is refunded;
// ListModels and the provider's health service say kie.ai is
// unavailable, and once the key is accepted again the next task gets through and it comes back.
#include <grpcpp/grpcpp.h>

#include <string>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "google/rpc/error_details.pb.h"
#include "google/rpc/status.pb.h"
#include "grpc/health/v1/health.grpc.pb.h"
#include "music/v1/billing_service.grpc.pb.h"
#include "tests/e2e/e2e_fixture.h"

namespace music::e2e {
namespace {

class ProviderAuthE2eTest : public E2eTest {
 protected:
  // The models of provider kie as ListModels lists them: "<name> <available> <reason>".
  std::vector<std::string> KieModels() {
    music::v1::ListModelsResponse resp;
    grpc::ClientContext ctx;
    grpc::Status s = stub_->ListModels(&ctx, music::v1::ListModelsRequest(), &resp);
    EXPECT_TRUE(s.ok()) << s.error_message();
    std::vector<std::string> out;
    for (const auto& m : resp.models()) {
      if (m.provider() == "kie" && m.name() == "suno-v4.5") {
        out.push_back(absl::StrCat(m.name(), " ", m.available(), " ", m.unavailable_reason()));
      }
    }
    return out;
  }

  grpc::health::v1::HealthCheckResponse::ServingStatus KieHealth() {
    auto health = grpc::health::v1::Health::NewStub(channel_);
    grpc::health::v1::HealthCheckRequest req;
    req.set_service("music.v1.provider/kie");
    grpc::health::v1::HealthCheckResponse resp;
    grpc::ClientContext ctx;
    grpc::Status s = health->Check(&ctx, req, &resp);
    EXPECT_TRUE(s.ok()) << s.error_message();
    return resp.status();
  }

  void SetKeyRefused(bool refused) {
    emulator::FaultConfig faults = emulator_->faults();
    faults.kie_key_refused = refused;
    emulator_->SetFaults(faults);
  }
};

TEST_F(ProviderAuthE2eTest, OurKeyRefusedFailsProviderAuthAndKieComesBackWithTheKey) {
  EXPECT_EQ(KieHealth(), grpc::health::v1::HealthCheckResponse::SERVING);
  SetKeyRefused(true);
  const music::v1::Task created = CreateMusic("calm piano");
  const music::v1::Task done = WaitDone(created.task_id());
  ASSERT_EQ(done.state(), music::v1::TASK_STATE_FAILED) << done.DebugString();
  EXPECT_EQ(done.error().code(), static_cast<int>(absl::StatusCode::kFailedPrecondition));
  EXPECT_NE(done.error().code(), static_cast<int>(absl::StatusCode::kUnauthenticated));
  EXPECT_TRUE(absl::StartsWith(done.error().message(), "PROVIDER_AUTH: "))
      << done.error().message();
  EXPECT_EQ(done.error().provider_error_code(), "401");
  // The machine-readable reason, as stored and as GetTask returns it (AIP-193).
  EXPECT_EQ(done.error().reason(), "PROVIDER_AUTH");
  EXPECT_EQ(GetTask(created.task_id()).error().reason(), "PROVIDER_AUTH");
  EXPECT_GT(done.billing().reserved_micros(), 0);
  EXPECT_EQ(done.billing().refunded_micros(), done.billing().reserved_micros());
  EXPECT_EQ(done.billing().charged_micros(), 0);
  // Unavailable, with the reason; the server itself still serves.
  const std::vector<std::string> listed = KieModels();
  ASSERT_EQ(listed.size(), 1u);
  EXPECT_TRUE(absl::StartsWith(listed[0], "suno-v4.5 0 kie refused the service's API key (401)"))
      << listed[0];
  EXPECT_EQ(KieHealth(), grpc::health::v1::HealthCheckResponse::NOT_SERVING);

  // The key works again: the next task is the probe, and kie.ai is back.
  SetKeyRefused(false);
  const music::v1::Task again = WaitDone(CreateMusic("calm piano, take two").task_id());
  EXPECT_EQ(again.state(), music::v1::TASK_STATE_SUCCEEDED) << again.DebugString();
  EXPECT_EQ(KieModels(), std::vector<std::string>{"suno-v4.5 1 "});
  EXPECT_EQ(KieHealth(), grpc::health::v1::HealthCheckResponse::SERVING);
}

// A synchronous call the provider refuses for our key (kie.ai's style boost) is answered
// FAILED_PRECONDITION with a google.rpc.ErrorInfo {reason PROVIDER_AUTH, domain music.v1}, so a
// client tells it from its own UNAUTHENTICATED without reading the message.
TEST_F(ProviderAuthE2eTest, SynchronousCallRefusedForOurKeyCarriesProviderAuthErrorInfo) {
  SetKeyRefused(true);
  music::v1::BoostStyleRequest req;
  req.set_content("dreamy synthwave");
  music::v1::BoostStyleResponse resp;
  grpc::ClientContext ctx;
  const grpc::Status s = stub_->BoostStyle(&ctx, req, &resp);
  ASSERT_EQ(s.error_code(), grpc::StatusCode::FAILED_PRECONDITION) << s.error_message();
  google::rpc::Status details;
  ASSERT_TRUE(details.ParseFromString(s.error_details())) << "no grpc-status-details-bin";
  EXPECT_EQ(details.code(), static_cast<int>(grpc::StatusCode::FAILED_PRECONDITION));
  int infos = 0;
  for (const auto& any : details.details()) {
    if (any.type_url() != "type.googleapis.com/google.rpc.ErrorInfo") continue;
    google::rpc::ErrorInfo info;
    ASSERT_TRUE(info.ParseFromString(any.value()));
    ++infos;
    EXPECT_EQ(info.reason(), "PROVIDER_AUTH");
    EXPECT_EQ(info.domain(), "music.v1");
    const auto code = info.metadata().find("provider_error_code");
    ASSERT_NE(code, info.metadata().end());
    EXPECT_EQ(code->second, "401");
  }
  EXPECT_EQ(infos, 1);
}

}  // namespace
}  // namespace music::e2e
