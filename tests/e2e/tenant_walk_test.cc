// Issue 11 A end to end: tenants A and B with their own tokens on one real server (SQLite file,
// the kie.ai adapter against the emulator). B makes everything a tenant can own (a song, a
// continuation of its clip, a clip operation, an upload); A then calls every RPC with B's ids
// and request_id and never sees B's data. Also: who is refused, with which code, and what stays
// open (health, reflection), and the mesh identity header from a trusted peer only.
#include <gmock/gmock.h>
#include <grpcpp/generic/generic_stub.h>
#include <grpcpp/grpcpp.h>
#include <gtest/gtest.h>

#include <functional>
#include <memory>
#include <ostream>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "adapters/beatra/beatra_adapter.h"
#include "grpc/health/v1/health.grpc.pb.h"
#include "music/v1/reconciliation_service.grpc.pb.h"
#include "service/auth/authenticator.h"
#include "service/core/quota.h"
#include "service/core/reference_audio_id.h"
#include "tests/e2e/e2e_fixture.h"

namespace music::e2e {
namespace {

using service::auth::Role;
using service::auth::RoleSet;

constexpr char kTokenA[] = "tenant-a-token-3b9f";
constexpr char kTokenB[] = "tenant-b-token-77c1";
constexpr char kTokenReaderB[] = "tenant-b-reader-token-0d2e";
constexpr char kTokenOperator[] = "operator-token-a41f";
constexpr char kMeshIdA[] = "spiffe://cluster.local/ns/a/sa/app";
constexpr char kBeatraKey[] = "tenant-walk-beatra-key";

RoleSet Roles(std::initializer_list<Role> roles) {
  RoleSet set = 0;
  for (Role r : roles) set |= static_cast<RoleSet>(r);
  return set;
}

std::array<uint8_t, 32> HashOf(const std::string& token) {
  const std::string hex = service::auth::TokenSha256Hex(token);
  std::array<uint8_t, 32> out{};
  for (size_t i = 0; i < out.size(); ++i) {
    out[i] = static_cast<uint8_t>(std::stoi(hex.substr(2 * i, 2), nullptr, 16));
  }
  return out;
}

service::auth::CallerConfig Caller(const std::string& name, const std::string& tenant,
                                   RoleSet roles, const std::string& token) {
  service::auth::CallerConfig c;
  c.name = name;
  c.tenant = tenant;
  c.roles = roles;
  c.token_sha256 = {HashOf(token)};
  return c;
}

// The callers of both fixtures; `trusted_peer` is the CIDR the mesh header is believed from.
service::auth::AuthConfig Callers(const std::string& trusted_peer) {
  const RoleSet tenant_roles =
      Roles({Role::kTasksCreate, Role::kTasksRead, Role::kTasksCancel, Role::kBillingRead});
  service::auth::AuthConfig config;
  config.callers = {
      Caller("a-app", "tenant-a", tenant_roles, kTokenA),
      Caller("b-app", "tenant-b", tenant_roles, kTokenB),
      Caller("b-reader", "tenant-b", Roles({Role::kTasksRead}), kTokenReaderB),
      Caller("ops", "operators",
             Roles({Role::kBillingImport, Role::kLedgerCheck, Role::kReconciliationRun,
                    Role::kReconciliationRead, Role::kProviderBalance}),
             kTokenOperator)};
  config.callers[0].mesh_ids = {kMeshIdA};
  config.mesh_identity_header = "x-forwarded-client-cert";
  config.trusted_peers = {*service::auth::ParseCidr(trusted_peer)};
  return config;
}

class TenantWalkTest : public E2eTest {
 protected:
  void ConfigureServer(service::ServerOptions& options) override {
    options.authenticator = service::auth::NewAuthenticator(Callers("127.0.0.1/32"));
  }
  void ConfigureEmulator(emulator::EmulatorOptions& eo) override { eo.beatra_api_key = kBeatraKey; }
  // kie.ai, plus beatra: its models take reference audio in CreateMusic (seed 002), kie.ai's only
  // in CreateAudioOperation.
  void AddProviders(std::shared_ptr<http::HttpClient> client, bool with_key,
                    service::ProviderRegistry* registry,
                    std::vector<music::v1::Model>* models) override {
    E2eTest::AddProviders(client, with_key, registry, models);
    adapters::beatra::BeatraOptions bo;
    bo.base_url = absl::StrCat(emulator_->base_url(), "/beatra");
    bo.api_key = kBeatraKey;
    AddAdapter(adapters::beatra::NewBeatraAdapter(bo, client), true, registry, models);
  }

  // A context carrying `token` ("" = none).
  static std::unique_ptr<grpc::ClientContext> As(const std::string& token) {
    auto ctx = std::make_unique<grpc::ClientContext>();
    if (!token.empty()) ctx->AddMetadata("authorization", "Bearer " + token);
    ctx->set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(20));
    return ctx;
  }

  music::v1::Task Create(const std::string& token, const std::string& request_id) {
    music::v1::CreateMusicRequest req;
    req.set_prompt("a song of tenant " + token);
    req.set_request_id(request_id);
    music::v1::CreateMusicResponse resp;
    grpc::Status s = stub_->CreateMusic(As(token).get(), req, &resp);
    EXPECT_TRUE(s.ok()) << s.error_message();
    return resp.task();
  }

  music::v1::Task WaitDoneAs(const std::string& token, const std::string& id) {
    music::v1::WatchTaskRequest req;
    req.set_task_id(id);
    auto ctx = As(token);
    auto reader = stub_->WatchTask(ctx.get(), req);
    music::v1::WatchTaskResponse msg;
    music::v1::Task last;
    while (reader->Read(&msg)) {
      if (msg.has_task()) last = msg.task();
    }
    grpc::Status s = reader->Finish();
    EXPECT_TRUE(s.ok()) << s.error_message();
    return last;
  }

  grpc::Status GetTaskAs(const std::string& token, const std::string& id,
                         music::v1::GetTaskResponse* resp = nullptr) {
    music::v1::GetTaskRequest req;
    req.set_task_id(id);
    music::v1::GetTaskResponse ignored;
    return stub_->GetTask(As(token).get(), req, resp ? resp : &ignored);
  }

  grpc::Status UploadAs(const std::string& token, std::string* id,
                        const std::string& model = "suno-v4.5") {
    auto ctx = As(token);
    music::v1::UploadReferenceAudioResponse resp;
    auto writer = stub_->UploadReferenceAudio(ctx.get(), &resp);
    music::v1::UploadReferenceAudioRequest first;
    first.mutable_metadata()->set_model(model);
    first.mutable_metadata()->set_filename("b.mp3");
    first.mutable_metadata()->set_content_type("audio/mpeg");
    writer->Write(first);
    music::v1::UploadReferenceAudioRequest chunk;
    std::string bytes("ID3\x04", 4);
    bytes.resize(8 << 10, 'b');
    chunk.set_chunk(bytes);
    writer->Write(chunk);
    writer->WritesDone();
    grpc::Status s = writer->Finish();
    *id = resp.reference_audio_id();
    return s;
  }

  std::unique_ptr<music::v1::ReconciliationService::Stub> Recon() {
    return music::v1::ReconciliationService::NewStub(channel_);
  }

  // The code of every read/write of `token` against the objects of B.
  struct BObjects {
    music::v1::Task song, continuation, clip_operation;
    std::string clip_id, request_id, upload_id;
  };

  BObjects MakeBObjects() {
    BObjects b;
    b.request_id = "b-request-1";
    b.song = Create(kTokenB, b.request_id);
    const music::v1::Task done = WaitDoneAs(kTokenB, b.song.task_id());
    EXPECT_EQ(done.state(), music::v1::TASK_STATE_SUCCEEDED);
    EXPECT_GT(done.clips_size(), 0);
    if (done.clips_size() > 0) b.clip_id = done.clips(0).clip_id();
    {
      music::v1::ContinueClipRequest req;
      req.set_clip_id(b.clip_id);
      music::v1::ContinueClipResponse resp;
      grpc::Status s = stub_->ContinueClip(As(kTokenB).get(), req, &resp);
      EXPECT_TRUE(s.ok()) << s.error_message();
      b.continuation = resp.task();
    }
    {
      music::v1::CreateClipOperationRequest req;
      req.set_clip_id(b.clip_id);
      req.set_operation(music::v1::CLIP_OPERATION_CONVERT_TO_WAV);
      music::v1::CreateClipOperationResponse resp;
      grpc::Status s = stub_->CreateClipOperation(As(kTokenB).get(), req, &resp);
      EXPECT_TRUE(s.ok()) << s.error_message();
      b.clip_operation = resp.task();
    }
    grpc::Status s = UploadAs(kTokenB, &b.upload_id);
    EXPECT_TRUE(s.ok()) << s.error_message();
    return b;
  }
};

MATCHER_P(GrpcCodeIs, code, "has gRPC status code " + std::to_string(static_cast<int>(code))) {
  *result_listener << "whose status is " << arg.error_code() << " " << arg.error_message();
  return arg.error_code() == code;
}

// A walks every RPC with B's ids and request_id.
TEST_F(TenantWalkTest, TenantAReachesNothingOfTenantB) {
  const BObjects b = MakeBObjects();
  ASSERT_FALSE(b.clip_id.empty());
  const std::vector<std::string> b_tasks = {b.song.task_id(), b.continuation.task_id(),
                                            b.clip_operation.task_id()};
  // B sees its own (the fixture is right about what exists).
  for (const std::string& id : b_tasks) {
    EXPECT_THAT(GetTaskAs(kTokenB, id), GrpcCodeIs(grpc::StatusCode::OK)) << id;
  }

  for (const std::string& id : b_tasks) {
    EXPECT_THAT(GetTaskAs(kTokenA, id), GrpcCodeIs(grpc::StatusCode::NOT_FOUND)) << id;
    music::v1::CancelTaskRequest cancel;
    cancel.set_task_id(id);
    music::v1::CancelTaskResponse cancel_resp;
    EXPECT_THAT(stub_->CancelTask(As(kTokenA).get(), cancel, &cancel_resp),
                GrpcCodeIs(grpc::StatusCode::NOT_FOUND))
        << id;
    music::v1::WatchTaskRequest watch;
    watch.set_task_id(id);
    auto ctx = As(kTokenA);
    auto reader = stub_->WatchTask(ctx.get(), watch);
    music::v1::WatchTaskResponse msg;
    EXPECT_FALSE(reader->Read(&msg)) << "A read a WatchTask message of B's task " << id;
    EXPECT_THAT(reader->Finish(), GrpcCodeIs(grpc::StatusCode::NOT_FOUND)) << id;
    music::v1::GetClipAudioRequest audio;
    audio.set_task_id(id);
    audio.set_clip_id(b.clip_id);
    auto actx = As(kTokenA);
    auto areader = stub_->GetClipAudio(actx.get(), audio);
    music::v1::GetClipAudioResponse chunk;
    EXPECT_FALSE(areader->Read(&chunk));
    EXPECT_THAT(areader->Finish(), GrpcCodeIs(grpc::StatusCode::NOT_FOUND)) << id;
  }
  // B's task was not canceled by any of that.
  music::v1::GetTaskResponse still;
  ASSERT_THAT(GetTaskAs(kTokenB, b.song.task_id(), &still), GrpcCodeIs(grpc::StatusCode::OK));
  EXPECT_EQ(still.task().state(), music::v1::TASK_STATE_SUCCEEDED);

  // B's clip, as the source of A's continuation, clip operation or timestamped lyrics: A gets
  // exactly what it gets for a clip id that exists nowhere (MusicApi::FindSourceClip looks in the
  // caller's tenant only), so it cannot even tell that B's clip exists.
  const std::string nowhere = "00000000-0000-4000-8000-000000000000";
  auto same_as_nowhere = [&](const std::function<grpc::Status(const std::string&)>& call) {
    const grpc::Status b_clip = call(b.clip_id);
    const grpc::Status no_clip = call(nowhere);
    EXPECT_FALSE(b_clip.ok());
    EXPECT_EQ(b_clip.error_code(), no_clip.error_code()) << b_clip.error_message();
    std::string message = b_clip.error_message();
    if (size_t at = message.find(b.clip_id); at != std::string::npos) {
      message.replace(at, b.clip_id.size(), nowhere);
    }
    EXPECT_EQ(message, no_clip.error_message());
  };
  same_as_nowhere([&](const std::string& clip) {
    music::v1::ContinueClipRequest req;
    req.set_clip_id(clip);
    music::v1::ContinueClipResponse resp;
    return stub_->ContinueClip(As(kTokenA).get(), req, &resp);
  });
  same_as_nowhere([&](const std::string& clip) {
    music::v1::CreateClipOperationRequest req;
    req.set_clip_id(clip);
    req.set_operation(music::v1::CLIP_OPERATION_CONVERT_TO_WAV);
    music::v1::CreateClipOperationResponse resp;
    return stub_->CreateClipOperation(As(kTokenA).get(), req, &resp);
  });
  same_as_nowhere([&](const std::string& clip) {
    music::v1::GetTimestampedLyricsRequest req;
    req.set_clip_id(clip);
    music::v1::GetTimestampedLyricsResponse resp;
    return stub_->GetTimestampedLyrics(As(kTokenA).get(), req, &resp);
  });
  // B itself reaches its clip (the oracle above compares against a real clip).
  {
    music::v1::GetTimestampedLyricsRequest req;
    req.set_clip_id(b.clip_id);
    music::v1::GetTimestampedLyricsResponse resp;
    grpc::Status s = stub_->GetTimestampedLyrics(As(kTokenB).get(), req, &resp);
    EXPECT_TRUE(s.ok()) << s.error_code() << " " << s.error_message();
  }

  // B's request_id gives A a new task of A's own, never B's.
  const music::v1::Task mine = Create(kTokenA, b.request_id);
  EXPECT_FALSE(mine.task_id().empty());
  EXPECT_NE(mine.task_id(), b.song.task_id());
  EXPECT_EQ(mine.tenant(), "tenant-a");
  // And B still gets its own back for it.
  EXPECT_EQ(Create(kTokenB, b.request_id).task_id(), b.song.task_id());

  // Listing: only A's.
  {
    music::v1::ListTasksRequest req;
    req.set_page_size(100);
    music::v1::ListTasksResponse resp;
    ASSERT_THAT(stub_->ListTasks(As(kTokenA).get(), req, &resp), GrpcCodeIs(grpc::StatusCode::OK));
    ASSERT_EQ(resp.tasks_size(), 1);
    EXPECT_EQ(resp.tasks(0).task_id(), mine.task_id());
  }

  // The ledger: A's rows only, listed and exported.
  {
    music::v1::ListBillingTransactionsRequest req;
    req.set_page_size(1000);
    music::v1::ListBillingTransactionsResponse resp;
    ASSERT_THAT(Billing()->ListBillingTransactions(As(kTokenA).get(), req, &resp),
                GrpcCodeIs(grpc::StatusCode::OK));
    EXPECT_GT(resp.transactions_size(), 0);
    for (const auto& row : resp.transactions()) {
      EXPECT_EQ(row.tenant(), "tenant-a");
      EXPECT_EQ(row.task_id(), mine.task_id());
    }
    music::v1::ExportBillingTransactionsRequest ex;
    ex.set_format(music::v1::BILLING_FILE_FORMAT_JSONL);
    music::v1::ExportBillingTransactionsResponse ex_resp;
    ASSERT_THAT(Billing()->ExportBillingTransactions(As(kTokenA).get(), ex, &ex_resp),
                GrpcCodeIs(grpc::StatusCode::OK));
    for (const std::string& id : b_tasks) {
      EXPECT_EQ(ex_resp.content().find(id), std::string::npos) << id;
    }
    EXPECT_EQ(ex_resp.content().find("tenant-b"), std::string::npos);
  }

  // What spans every tenant or the provider account is the operator's, not A's.
  {
    music::v1::ImportUsageRecordsRequest imp;
    imp.set_provider("kie");
    imp.set_format(music::v1::BILLING_FILE_FORMAT_JSONL);
    imp.set_content("{}\n");
    music::v1::ImportUsageRecordsResponse imp_resp;
    EXPECT_THAT(Billing()->ImportUsageRecords(As(kTokenA).get(), imp, &imp_resp),
                GrpcCodeIs(grpc::StatusCode::PERMISSION_DENIED));
    music::v1::CheckLedgerResponse check;
    EXPECT_THAT(Billing()->CheckLedger(As(kTokenA).get(), {}, &check),
                GrpcCodeIs(grpc::StatusCode::PERMISSION_DENIED));
    music::v1::GetProviderBalanceRequest bal;
    bal.set_provider("kie");
    music::v1::GetProviderBalanceResponse bal_resp;
    EXPECT_THAT(Billing()->GetProviderBalance(As(kTokenA).get(), bal, &bal_resp),
                GrpcCodeIs(grpc::StatusCode::PERMISSION_DENIED));
    music::v1::ReconcileResponse rec;
    EXPECT_THAT(Recon()->Reconcile(As(kTokenA).get(), {}, &rec),
                GrpcCodeIs(grpc::StatusCode::PERMISSION_DENIED));
    music::v1::ListReconciliationRunsResponse runs;
    EXPECT_THAT(Recon()->ListReconciliationRuns(As(kTokenA).get(), {}, &runs),
                GrpcCodeIs(grpc::StatusCode::PERMISSION_DENIED));
    music::v1::GetReconciliationRunRequest run;
    run.set_run_id("run-1");
    music::v1::GetReconciliationRunResponse run_resp;
    EXPECT_THAT(Recon()->GetReconciliationRun(As(kTokenA).get(), run, &run_resp),
                GrpcCodeIs(grpc::StatusCode::PERMISSION_DENIED));
  }
  // ListModels and BoostStyle hold no tenant data: A may call them.
  music::v1::ListModelsResponse models;
  EXPECT_THAT(stub_->ListModels(As(kTokenA).get(), {}, &models), GrpcCodeIs(grpc::StatusCode::OK));
}

// B's reference_audio_id is B's alone (service/core/reference_audio_id.h): A's CreateMusic
// (beatra takes reference audio) and CreateAudioOperation (kie.ai) with it answer exactly what an
// id never issued answers, before anything is stored, reserved or sent to a provider; B's own
// creates with the same ids run.
TEST_F(TenantWalkTest, AnotherTenantsReferenceAudioIdIsRefusedBeforeAnythingIsStored) {
  std::string kie_id, beatra_id;
  ASSERT_THAT(UploadAs(kTokenB, &kie_id), GrpcCodeIs(grpc::StatusCode::OK));
  ASSERT_THAT(UploadAs(kTokenB, &beatra_id, "beatra-suno-5.5"), GrpcCodeIs(grpc::StatusCode::OK));
  ASSERT_TRUE(absl::StartsWith(kie_id, "kie/")) << kie_id;
  ASSERT_TRUE(absl::StartsWith(beatra_id, "beatra/")) << beatra_id;
  const int64_t provider_tasks = emulator_->TaskCount();

  using Call =
      std::function<grpc::Status(const std::string&, const std::string&, music::v1::Task*)>;
  const Call music = [&](const std::string& token, const std::string& id, music::v1::Task* task) {
    music::v1::CreateMusicRequest req;
    req.set_model("beatra-suno-5.5");
    req.set_prompt("in the style of this hum");
    req.set_reference_audio_id(id);
    music::v1::CreateMusicResponse resp;
    grpc::Status s = stub_->CreateMusic(As(token).get(), req, &resp);
    *task = resp.task();
    return s;
  };
  const Call cover = [&](const std::string& token, const std::string& id, music::v1::Task* task) {
    music::v1::CreateAudioOperationRequest req;
    req.set_model("suno-v4.5");
    req.set_operation(music::v1::AUDIO_OPERATION_COVER);
    req.set_reference_audio_id(id);
    req.set_style("jazz");
    req.set_title("My Take");
    req.set_prompt("words to sing");
    music::v1::CreateAudioOperationResponse resp;
    grpc::Status s = stub_->CreateAudioOperation(As(token).get(), req, &resp);
    *task = resp.task();
    return s;
  };
  // The same provider and artifact under a tag nobody issued.
  auto never_issued = [](const std::string& id) {
    const auto parts = service::ParseReferenceAudioId(id);
    EXPECT_TRUE(parts.has_value()) << id;
    if (!parts.has_value()) return std::string();
    return absl::StrCat(parts->provider, "/", std::string(service::kReferenceAudioTagChars, 'A'),
                        "/", parts->artifact);
  };
  const std::vector<std::pair<Call, std::string>> cases = {{music, beatra_id}, {cover, kie_id}};
  for (const auto& [call, id] : cases) {
    music::v1::Task task;
    const grpc::Status b_id = call(kTokenA, id, &task);
    EXPECT_THAT(b_id, GrpcCodeIs(grpc::StatusCode::FAILED_PRECONDITION)) << id;
    EXPECT_THAT(b_id.error_message(),
                ::testing::HasSubstr("reference_audio_id: no upload with this id for this tenant"));
    EXPECT_TRUE(task.task_id().empty());
    const grpc::Status forged = call(kTokenA, never_issued(id), &task);
    EXPECT_EQ(forged.error_code(), b_id.error_code()) << forged.error_message();
    EXPECT_EQ(forged.error_message(), b_id.error_message());
    // An id from before ids were tagged ("<provider>/<artifact>") is refused as such.
    const auto parts = service::ParseReferenceAudioId(id);
    ASSERT_TRUE(parts.has_value()) << id;
    const grpc::Status old =
        call(kTokenB, absl::StrCat(parts->provider, "/", parts->artifact), &task);
    EXPECT_THAT(old, GrpcCodeIs(grpc::StatusCode::INVALID_ARGUMENT));
    EXPECT_THAT(old.error_message(), ::testing::HasSubstr("reference_audio_id"));
    EXPECT_THAT(old.error_message(), ::testing::HasSubstr("uploaded again"));
  }
  // Nothing of A's was stored or reserved, nothing reached a provider.
  {
    music::v1::ListTasksRequest req;
    req.set_page_size(100);
    music::v1::ListTasksResponse resp;
    ASSERT_THAT(stub_->ListTasks(As(kTokenA).get(), req, &resp), GrpcCodeIs(grpc::StatusCode::OK));
    EXPECT_EQ(resp.tasks_size(), 0);
    music::v1::ListBillingTransactionsRequest rows;
    rows.set_page_size(1000);
    music::v1::ListBillingTransactionsResponse rows_resp;
    ASSERT_THAT(Billing()->ListBillingTransactions(As(kTokenA).get(), rows, &rows_resp),
                GrpcCodeIs(grpc::StatusCode::OK));
    EXPECT_EQ(rows_resp.transactions_size(), 0);
  }
  EXPECT_EQ(emulator_->TaskCount(), provider_tasks);

  // B's own creates with its ids run to the end at the provider that keeps the audio.
  for (const auto& [call, id] : cases) {
    music::v1::Task task;
    const grpc::Status s = call(kTokenB, id, &task);
    ASSERT_THAT(s, GrpcCodeIs(grpc::StatusCode::OK)) << id;
    const music::v1::Task done = WaitDoneAs(kTokenB, task.task_id());
    EXPECT_EQ(done.state(), music::v1::TASK_STATE_SUCCEEDED) << done.DebugString();
    EXPECT_EQ(done.tenant(), "tenant-b");
    EXPECT_TRUE(absl::StartsWith(id, done.provider() + "/")) << done.provider() << " " << id;
  }
  EXPECT_EQ(emulator_->TaskCount(), provider_tasks + 2);
}

TEST_F(TenantWalkTest, NoTokenOrAWrongTokenIsUnauthenticatedOnEveryService) {
  const music::v1::Task b = Create(kTokenB, "");
  for (const std::string& token : {std::string(), std::string("not-a-token")}) {
    EXPECT_THAT(GetTaskAs(token, b.task_id()), GrpcCodeIs(grpc::StatusCode::UNAUTHENTICATED));
    music::v1::CreateMusicRequest create;
    create.set_prompt("x");
    music::v1::CreateMusicResponse create_resp;
    EXPECT_THAT(stub_->CreateMusic(As(token).get(), create, &create_resp),
                GrpcCodeIs(grpc::StatusCode::UNAUTHENTICATED));
    music::v1::WatchTaskRequest watch;
    watch.set_task_id(b.task_id());
    auto ctx = As(token);
    auto reader = stub_->WatchTask(ctx.get(), watch);
    music::v1::WatchTaskResponse msg;
    EXPECT_FALSE(reader->Read(&msg));
    EXPECT_THAT(reader->Finish(), GrpcCodeIs(grpc::StatusCode::UNAUTHENTICATED));
    std::string id;
    EXPECT_THAT(UploadAs(token, &id), GrpcCodeIs(grpc::StatusCode::UNAUTHENTICATED));
    music::v1::CheckLedgerResponse check;
    EXPECT_THAT(Billing()->CheckLedger(As(token).get(), {}, &check),
                GrpcCodeIs(grpc::StatusCode::UNAUTHENTICATED));
    music::v1::ListReconciliationRunsResponse runs;
    EXPECT_THAT(Recon()->ListReconciliationRuns(As(token).get(), {}, &runs),
                GrpcCodeIs(grpc::StatusCode::UNAUTHENTICATED));
  }
}

// AIP-193: the role is checked before existence, so a caller without it learns nothing.
TEST_F(TenantWalkTest, ReaderWithoutCancelIsDeniedEvenForANonexistentTask) {
  const music::v1::Task b = Create(kTokenB, "");
  for (const std::string& id : {b.task_id(), std::string("no-such-task")}) {
    music::v1::CancelTaskRequest req;
    req.set_task_id(id);
    music::v1::CancelTaskResponse resp;
    EXPECT_THAT(stub_->CancelTask(As(kTokenReaderB).get(), req, &resp),
                GrpcCodeIs(grpc::StatusCode::PERMISSION_DENIED))
        << id;
  }
  // Reading its tenant's task is its right.
  EXPECT_THAT(GetTaskAs(kTokenReaderB, b.task_id()), GrpcCodeIs(grpc::StatusCode::OK));
  music::v1::CreateMusicRequest create;
  create.set_prompt("x");
  music::v1::CreateMusicResponse create_resp;
  EXPECT_THAT(stub_->CreateMusic(As(kTokenReaderB).get(), create, &create_resp),
              GrpcCodeIs(grpc::StatusCode::PERMISSION_DENIED));
}

TEST_F(TenantWalkTest, OnlyTheOperatorImportsUsageRecords) {
  music::v1::ImportUsageRecordsRequest req;
  req.set_provider("kie");
  req.set_format(music::v1::BILLING_FILE_FORMAT_JSONL);
  req.set_content(
      R"({"taskId":"t-1","model":"V4_5","creditsConsumed":999999,"time":"2026-01-01T00:00:00Z"})"
      "\n");
  music::v1::ImportUsageRecordsResponse resp;
  EXPECT_THAT(Billing()->ImportUsageRecords(As(kTokenB).get(), req, &resp),
              GrpcCodeIs(grpc::StatusCode::PERMISSION_DENIED));
  // The operator gets past the role check: whatever the parser says of the line, it is not
  // PERMISSION_DENIED or UNAUTHENTICATED.
  grpc::Status s = Billing()->ImportUsageRecords(As(kTokenOperator).get(), req, &resp);
  EXPECT_NE(s.error_code(), grpc::StatusCode::PERMISSION_DENIED) << s.error_message();
  EXPECT_NE(s.error_code(), grpc::StatusCode::UNAUTHENTICATED) << s.error_message();
  music::v1::CheckLedgerResponse check;
  EXPECT_THAT(Billing()->CheckLedger(As(kTokenOperator).get(), {}, &check),
              GrpcCodeIs(grpc::StatusCode::OK));
  // But the operator is no tenant's caller: tasks are not its to read.
  const music::v1::Task b = Create(kTokenB, "");
  EXPECT_THAT(GetTaskAs(kTokenOperator, b.task_id()),
              GrpcCodeIs(grpc::StatusCode::PERMISSION_DENIED));
}

TEST_F(TenantWalkTest, HealthAndReflectionStayOpen) {
  auto health = grpc::health::v1::Health::NewStub(channel_);
  grpc::health::v1::HealthCheckRequest req;
  grpc::health::v1::HealthCheckResponse resp;
  grpc::ClientContext ctx;
  ASSERT_THAT(health->Check(&ctx, req, &resp), GrpcCodeIs(grpc::StatusCode::OK));
  EXPECT_EQ(resp.status(), grpc::health::v1::HealthCheckResponse::SERVING);

  // ServerReflectionInfo with list_services (field 7, empty string), no token.
  grpc::GenericStub generic(channel_);
  grpc::CompletionQueue cq;
  grpc::ClientContext rctx;
  rctx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(10));
  auto call = generic.PrepareCall(
      &rctx, "/grpc.reflection.v1alpha.ServerReflection/ServerReflectionInfo", &cq);
  auto step = [&cq](intptr_t want) {
    void* tag = nullptr;
    bool ok = false;
    return cq.Next(&tag, &ok) && reinterpret_cast<intptr_t>(tag) == want && ok;
  };
  call->StartCall(reinterpret_cast<void*>(1));
  ASSERT_TRUE(step(1));
  grpc::Slice slice(std::string("\x3a\x00", 2));
  grpc::ByteBuffer request(&slice, 1);
  call->Write(request, reinterpret_cast<void*>(2));
  ASSERT_TRUE(step(2));
  grpc::ByteBuffer answer;
  call->Read(&answer, reinterpret_cast<void*>(3));
  ASSERT_TRUE(step(3));
  std::vector<grpc::Slice> slices;
  ASSERT_TRUE(answer.Dump(&slices).ok());
  std::string bytes;
  for (const auto& s : slices) bytes.append(reinterpret_cast<const char*>(s.begin()), s.size());
  EXPECT_NE(bytes.find("music.v1.MusicService"), std::string::npos);
  call->WritesDone(reinterpret_cast<void*>(4));
  ASSERT_TRUE(step(4));
  grpc::Status status;
  call->Finish(&status, reinterpret_cast<void*>(5));
  ASSERT_TRUE(step(5));
  EXPECT_TRUE(status.ok()) << status.error_message();
  cq.Shutdown();
  void* tag;
  bool ok;
  while (cq.Next(&tag, &ok)) {
  }
}

// The mesh identity header from a trusted peer (this test's client, 127.0.0.1) names caller A.
TEST_F(TenantWalkTest, MeshHeaderFromATrustedPeerIsTheCaller) {
  music::v1::CreateMusicRequest req;
  req.set_prompt("via the mesh");
  music::v1::CreateMusicResponse resp;
  grpc::ClientContext ctx;
  ctx.AddMetadata(
      "x-forwarded-client-cert",
      std::string("By=spiffe://cluster.local/ns/music/sa/server;Hash=00;URI=") + kMeshIdA);
  ASSERT_THAT(stub_->CreateMusic(&ctx, req, &resp), GrpcCodeIs(grpc::StatusCode::OK));
  EXPECT_EQ(resp.task().tenant(), "tenant-a");
}

// The same header from a peer outside auth.trusted_peers is ignored: no identity.
class UntrustedMeshTest : public TenantWalkTest {
 protected:
  void ConfigureServer(service::ServerOptions& options) override {
    options.authenticator = service::auth::NewAuthenticator(Callers("10.0.0.0/8"));
  }
};

TEST_F(UntrustedMeshTest, MeshHeaderFromAnyOtherPeerIsIgnored) {
  music::v1::CreateMusicRequest req;
  req.set_prompt("via a forged header");
  music::v1::CreateMusicResponse resp;
  grpc::ClientContext ctx;
  ctx.AddMetadata("x-forwarded-client-cert", std::string("URI=") + kMeshIdA);
  EXPECT_THAT(stub_->CreateMusic(&ctx, req, &resp), GrpcCodeIs(grpc::StatusCode::UNAUTHENTICATED));
}

// Quotas are per tenant, and the tenant is the caller's: tenant A over its create rate is refused
// RESOURCE_EXHAUSTED while tenant B, through the same server at the same time, is not.
class TenantQuotaTest : public TenantWalkTest {
 protected:
  void ConfigureServer(service::ServerOptions& options) override {
    TenantWalkTest::ConfigureServer(options);
    service::TenantQuota a;
    a.requests_per_second = 0.001;  // one create, then a refill in 1,000 s
    a.burst = 1;
    options.engine.quotas.tenants["tenant-a"] = a;
  }
};

TEST_F(TenantQuotaTest, OneTenantOverItsQuotaDoesNotRefuseAnother) {
  const music::v1::Task first = Create(kTokenA, "a-1");
  EXPECT_EQ(first.tenant(), "tenant-a");
  music::v1::CreateMusicRequest req;
  req.set_prompt("one too many");
  req.set_request_id("a-2");
  music::v1::CreateMusicResponse resp;
  EXPECT_THAT(stub_->CreateMusic(As(kTokenA).get(), req, &resp),
              GrpcCodeIs(grpc::StatusCode::RESOURCE_EXHAUSTED));
  for (int i = 0; i < 3; ++i) {
    const music::v1::Task b = Create(kTokenB, "b-" + std::to_string(i));
    EXPECT_EQ(b.tenant(), "tenant-b");
    EXPECT_FALSE(b.task_id().empty());
  }
  EXPECT_THAT(stub_->CreateMusic(As(kTokenA).get(), req, &resp),
              GrpcCodeIs(grpc::StatusCode::RESOURCE_EXHAUSTED));
}

}  // namespace
}  // namespace music::e2e

namespace grpc {
// gtest prints a failed grpc::Status as its code and message, not its bytes.
inline void PrintTo(const Status& s, std::ostream* os) {
  *os << "status " << s.error_code() << " " << s.error_message();
}
}  // namespace grpc
