// A caller picks a model, not a provider: an alias whose first provider refuses the task (402 out
// of credits, or 5xx past the retry budget) is submitted to the next one, through real adapters,
// libcurl and the provider emulator. Reference audio reaches beatra both ways: uploaded through
// UploadReferenceAudio, and as an https URL the service downloads through the SSRF-safe fetcher.
//
// Debian's cpp-httplib.pc defines it too; httplib.h needs it before its first inclusion.
#ifndef CPPHTTPLIB_OPENSSL_SUPPORT
#define CPPHTTPLIB_OPENSSL_SUPPORT
#endif
#include <gmock/gmock.h>
#include <httplib.h>

#include <atomic>
#include <chrono>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/strip.h"
#include "adapters/beatra/beatra_adapter.h"
#include "adapters/http/safe_fetcher.h"
#include "adapters/tokenlab/tokenlab_adapter.h"
#include "music/v1/billing_service.grpc.pb.h"
#include "tests/e2e/e2e_fixture.h"
#include "tests/e2e/https_audio_server.h"

namespace music::e2e {
namespace {

constexpr char kBeatraKey[] = "e2e-beatra-key";
constexpr char kTokenlabKey[] = "e2e-tokenlab-key";

class RoutingE2eTest : public E2eTest {
 protected:
  void ConfigureEmulator(emulator::EmulatorOptions& eo) override {
    eo.beatra_api_key = kBeatraKey;
    eo.tokenlab_api_key = kTokenlabKey;
  }

  void AddProviders(std::shared_ptr<http::HttpClient> client, bool with_key,
                    service::ProviderRegistry* registry,
                    std::vector<music::v1::Model>* models) override {
    E2eTest::AddProviders(client, with_key, registry, models);  // kie.ai
    adapters::beatra::BeatraOptions bo;
    bo.base_url = absl::StrCat(emulator_->base_url(), "/beatra");
    bo.api_key = kBeatraKey;
    bo.request_timeout = absl::Seconds(1);
    AddAdapter(adapters::beatra::NewBeatraAdapter(bo, client), true, registry, models);
    adapters::tokenlab::TokenlabOptions to;
    to.base_url = absl::StrCat(emulator_->base_url(), "/tokenlab");
    to.api_key = kTokenlabKey;
    to.request_timeout = absl::Seconds(1);
    AddAdapter(adapters::tokenlab::NewTokenlabAdapter(to, client), true, registry, models);
  }

  // "suno" tries beatra first, then kie.ai; "suno-tl" tries TokenLab, then kie.ai.
  std::unique_ptr<service::Catalog> MakeCatalog(std::vector<music::v1::Model> models) override {
    music::v1::ModelAlias suno;
    suno.set_name("suno");
    suno.add_models("beatra-suno-5.5");
    suno.add_models("suno-v4.5");
    music::v1::ModelAlias suno_tl;
    suno_tl.set_name("suno-tl");
    suno_tl.add_models("tokenlab-suno-music");
    suno_tl.add_models("suno-v4.5");
    music::v1::ModelAlias suno_kie;  // kie.ai (credits) first, then TokenLab (USD)
    suno_kie.set_name("suno-kie");
    suno_kie.add_models("suno-v4.5");
    suno_kie.add_models("tokenlab-suno-music");
    auto catalog =
        service::Catalog::Create(std::move(models), {suno, suno_tl, suno_kie}, "suno");
    EXPECT_TRUE(catalog.ok()) << catalog.status();
    return catalog.ok() ? *std::move(catalog) : nullptr;
  }

  // "<KIND> <provider> <amount> <currency>" of each ledger row of `task_id`, read through
  // BillingService.ListBillingTransactions.
  std::vector<std::string> LedgerRows(const std::string& task_id) {
    std::vector<std::string> rows;
    auto billing = music::v1::BillingService::NewStub(channel_);
    music::v1::ListBillingTransactionsRequest req;
    req.set_page_size(1000);
    music::v1::ListBillingTransactionsResponse resp;
    grpc::ClientContext ctx;
    grpc::Status s = billing->ListBillingTransactions(&ctx, req, &resp);
    EXPECT_TRUE(s.ok()) << s.error_message();
    for (const auto& t : resp.transactions()) {
      if (t.task_id() != task_id) continue;
      const std::string name = music::v1::BillingTransactionKind_Name(t.kind());
      absl::string_view kind = name;
      absl::ConsumePrefix(&kind, "BILLING_TRANSACTION_KIND_");
      rows.push_back(absl::StrCat(kind, " ", t.provider(), " ", t.amount_micros(), " ",
                                  t.currency()));
    }
    return rows;
  }

  // "<task> <kind>: <detail>" of every CheckLedger finding.
  std::vector<std::string> LedgerFindings() {
    auto billing = music::v1::BillingService::NewStub(channel_);
    music::v1::CheckLedgerResponse resp;
    grpc::ClientContext ctx;
    grpc::Status s = billing->CheckLedger(&ctx, music::v1::CheckLedgerRequest(), &resp);
    EXPECT_TRUE(s.ok()) << s.error_message();
    std::vector<std::string> out;
    for (const auto& v : resp.violations()) {
      out.push_back(absl::StrCat(v.task_id(), " ", v.kind(), ": ", v.detail()));
    }
    return out;
  }

  music::v1::Task Create(const std::string& model, const std::string& prompt) {
    music::v1::CreateMusicRequest req;
    req.set_model(model);
    req.set_prompt(prompt);
    music::v1::CreateMusicResponse resp;
    grpc::ClientContext ctx;
    grpc::Status s = stub_->CreateMusic(&ctx, req, &resp);
    EXPECT_TRUE(s.ok()) << s.error_message();
    return resp.task();
  }
};

TEST_F(RoutingE2eTest, OutOfCreditsAtTheFirstProviderFailsOverToTheNext) {
  const music::v1::Task created =
      Create("suno", "calm piano [emu:create_error=insufficient_balance]");
  EXPECT_EQ(created.model(), "suno");
  const music::v1::Task done = WaitDone(created.task_id());
  ASSERT_EQ(done.state(), music::v1::TASK_STATE_SUCCEEDED) << done.DebugString();
  EXPECT_EQ(done.provider(), "kie");  // the task records which provider ran it
  EXPECT_EQ(done.provider_model(), "V4_5");
  ASSERT_EQ(done.failovers_size(), 1);
  EXPECT_EQ(done.failovers(0).provider(), "beatra");
  EXPECT_EQ(done.failovers(0).provider_model(), "suno-5.5");
  EXPECT_EQ(done.failovers(0).code(), static_cast<int>(absl::StatusCode::kFailedPrecondition));
  EXPECT_FALSE(done.clips().empty());
  // beatra's reservation (80 credits) released at the failover, kie.ai's (12) reserved and settled.
  EXPECT_EQ(done.billing().currency(), "CREDITS");
  EXPECT_EQ(done.billing().reservation_index(), 1);
  EXPECT_EQ(done.billing().reserved_micros(), 12'000'000);
  EXPECT_EQ(done.billing().charged_micros(), 12'000'000);
  EXPECT_EQ(done.billing().refunded_micros(), 0);
  EXPECT_THAT(LedgerRows(done.task_id()),
              ::testing::UnorderedElementsAre(
                  "RESERVE beatra 80000000 CREDITS", "REFUND beatra 80000000 CREDITS",
                  "RESERVE kie 12000000 CREDITS", "SETTLE kie 12000000 CREDITS"));
  EXPECT_TRUE(LedgerFindings().empty());
  // beatra refused the create (no task there); kie.ai made exactly one.
  EXPECT_EQ(emulator_->TaskCount(), 1);
}

// CONTRACT-NOTES "beatra": `unsupported_model` 400. The model is refused, not the request, so the
// alias moves on to its next model (the old adapter mapped it to INVALID_ARGUMENT and the task
// failed at once).
TEST_F(RoutingE2eTest, UnsupportedModelAtTheFirstProviderFailsOverToTheNext) {
  const music::v1::Task created =
      Create("suno", "calm piano [emu:create_error=unsupported_model]");
  const music::v1::Task done = WaitDone(created.task_id());
  ASSERT_EQ(done.state(), music::v1::TASK_STATE_SUCCEEDED) << done.DebugString();
  EXPECT_EQ(done.provider(), "kie");
  ASSERT_EQ(done.failovers_size(), 1);
  EXPECT_EQ(done.failovers(0).provider(), "beatra");
  EXPECT_EQ(done.failovers(0).code(), static_cast<int>(absl::StatusCode::kFailedPrecondition));
  EXPECT_EQ(emulator_->TaskCount(), 1);
}

TEST_F(RoutingE2eTest, ServerErrorsPastTheRetryBudgetFailOverToTheNext) {
  emulator::FaultConfig faults;
  faults.create_500_count = 8;  // the fixture's engine allows 8 attempts per provider
  emulator_->SetFaults(faults);
  const music::v1::Task created = Create("suno-tl", "lofi beat");
  const music::v1::Task done = WaitDone(created.task_id());
  ASSERT_EQ(done.state(), music::v1::TASK_STATE_SUCCEEDED) << done.DebugString();
  EXPECT_EQ(done.provider(), "kie");
  ASSERT_EQ(done.failovers_size(), 1);
  EXPECT_EQ(done.failovers(0).provider(), "tokenlab");
  EXPECT_EQ(done.failovers(0).code(), static_cast<int>(absl::StatusCode::kUnavailable));
  EXPECT_EQ(emulator_->stats().creates_server_error, 8);
  EXPECT_EQ(emulator_->TaskCount(), 1);
}

// Issue 12: kie.ai (12 credits) failing ended on TokenLab ($0.10) with RESERVE kie 12000000
// CREDITS and SETTLE tokenlab 12000000 CREDITS. Now the credits are released and the task is
// reserved and settled at TokenLab's price in USD; CheckLedger finds nothing.
TEST_F(RoutingE2eTest, FailoverFromKieToTokenlabBillsTokenlabsPriceInUsd) {
  emulator::FaultConfig faults;
  faults.create_500_count = 8;  // every kie.ai attempt of the fixture's budget
  emulator_->SetFaults(faults);
  const music::v1::Task created = Create("suno-kie", "lofi beat");
  const music::v1::Task done = WaitDone(created.task_id());
  ASSERT_EQ(done.state(), music::v1::TASK_STATE_SUCCEEDED) << done.DebugString();
  EXPECT_EQ(done.provider(), "tokenlab");
  ASSERT_EQ(done.failovers_size(), 1);
  EXPECT_EQ(done.failovers(0).provider(), "kie");
  EXPECT_EQ(done.billing().currency(), "USD");
  EXPECT_EQ(done.billing().reservation_index(), 1);
  EXPECT_EQ(done.billing().reserved_micros(), 100'000);
  EXPECT_EQ(done.billing().charged_micros(), 100'000);
  EXPECT_THAT(LedgerRows(done.task_id()),
              ::testing::UnorderedElementsAre(
                  "RESERVE kie 12000000 CREDITS", "REFUND kie 12000000 CREDITS",
                  "RESERVE tokenlab 100000 USD", "SETTLE tokenlab 100000 USD"));
  EXPECT_THAT(LedgerFindings(), ::testing::IsEmpty());
}

TEST_F(RoutingE2eTest, AFirstProviderThatTakesTheTaskRunsIt) {
  const music::v1::Task done = WaitDone(Create("suno", "sunny folk").task_id());
  ASSERT_EQ(done.state(), music::v1::TASK_STATE_SUCCEEDED) << done.DebugString();
  EXPECT_EQ(done.provider(), "beatra");
  EXPECT_EQ(done.failovers_size(), 0);
  EXPECT_EQ(done.clips_size(), 2);
}

TEST_F(RoutingE2eTest, ListModelsShowsPricesAndAliases) {
  music::v1::ListModelsResponse resp;
  grpc::ClientContext ctx;
  ASSERT_TRUE(stub_->ListModels(&ctx, music::v1::ListModelsRequest(), &resp).ok());
  bool saw_beatra = false;
  for (const auto& m : resp.models()) {
    if (m.name() == "beatra-suno-5.5") {
      saw_beatra = true;
      EXPECT_EQ(m.price().amount_micros(), 80'000'000);
      EXPECT_EQ(m.price().currency(), "CREDITS");
    }
  }
  EXPECT_TRUE(saw_beatra);
  ASSERT_GE(resp.aliases_size(), 2);
  EXPECT_EQ(resp.aliases(0).name(), "suno");
  EXPECT_EQ(resp.default_model(), "suno");
}

// Reference audio through the whole service: bytes streamed over gRPC, or an https URL the
// service fetches (loopback allowed here only by the fetcher's explicit test switch).
class ReferenceAudioE2eTest : public RoutingE2eTest {
 protected:
  void SetUp() override {
    ASSERT_TRUE(https_.Start());
    RoutingE2eTest::SetUp();
  }

  void ConfigureServer(service::ServerOptions& options) override {
    options.engine.reference_fetcher = https_.fetcher();
  }

  static std::string Mp3() { return HttpsAudioServer::Mp3(); }

  music::v1::Task CreateWithReference(const std::string& uri, const std::string& id) {
    music::v1::CreateMusicRequest req;
    req.set_model("beatra-suno-5.5");
    req.set_prompt("in the style of this hum");
    req.set_reference_audio_uri(uri);
    req.set_reference_audio_id(id);
    music::v1::CreateMusicResponse resp;
    grpc::ClientContext ctx;
    grpc::Status s = stub_->CreateMusic(&ctx, req, &resp);
    EXPECT_TRUE(s.ok()) << s.error_message();
    return resp.task();
  }

  HttpsAudioServer https_;
};

TEST_F(ReferenceAudioE2eTest, UploadedBytesReachBeatraAndTheTaskSucceeds) {
  grpc::ClientContext ctx;
  music::v1::UploadReferenceAudioResponse resp;
  auto writer = stub_->UploadReferenceAudio(&ctx, &resp);
  music::v1::UploadReferenceAudioRequest first;
  first.mutable_metadata()->set_model("beatra-suno-5.5");
  first.mutable_metadata()->set_filename("hum.mp3");
  first.mutable_metadata()->set_content_type("audio/mpeg");
  ASSERT_TRUE(writer->Write(first));
  const std::string bytes = Mp3();
  music::v1::UploadReferenceAudioRequest chunk;
  chunk.set_chunk(bytes);
  ASSERT_TRUE(writer->Write(chunk));
  ASSERT_TRUE(writer->WritesDone());
  const grpc::Status s = writer->Finish();
  ASSERT_TRUE(s.ok()) << s.error_message();
  ASSERT_TRUE(absl::StartsWith(resp.reference_audio_id(), "beatra/")) << resp.reference_audio_id();
  EXPECT_EQ(resp.size_bytes(), static_cast<int64_t>(bytes.size()));

  const music::v1::Task done =
      WaitDone(CreateWithReference("", resp.reference_audio_id()).task_id());
  ASSERT_EQ(done.state(), music::v1::TASK_STATE_SUCCEEDED) << done.DebugString();
  EXPECT_EQ(done.provider(), "beatra");
  EXPECT_EQ(done.clips_size(), 2);
}

TEST_F(ReferenceAudioE2eTest, AnHttpsUrlIsFetchedUploadedAndUsed) {
  const std::string uri = https_.url();
  const music::v1::Task done = WaitDone(CreateWithReference(uri, "").task_id());
  ASSERT_EQ(done.state(), music::v1::TASK_STATE_SUCCEEDED) << done.DebugString();
  EXPECT_EQ(https_.hits(), 1);  // fetched once, before the create
  EXPECT_EQ(done.provider(), "beatra");
}

TEST_F(ReferenceAudioE2eTest, AUrlOfAPrivateAddressFailsTheTaskWithoutAProviderTask) {
  const music::v1::Task done =
      WaitDone(CreateWithReference("https://169.254.169.254/latest/meta-data", "").task_id());
  ASSERT_EQ(done.state(), music::v1::TASK_STATE_FAILED) << done.DebugString();
  EXPECT_TRUE(done.error().code() == static_cast<int>(absl::StatusCode::kPermissionDenied) ||
              done.error().code() == static_cast<int>(absl::StatusCode::kInvalidArgument))
      << done.error().ShortDebugString();
  EXPECT_EQ(emulator_->TaskCount(), 0);
  EXPECT_EQ(done.billing().refunded_micros(), done.billing().reserved_micros());
}

}  // namespace
}  // namespace music::e2e
