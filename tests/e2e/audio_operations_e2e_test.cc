// kie.ai's operations on the caller's own audio through the real server, the provider emulator
// over HTTP and a SQLite file: the audio uploaded with UploadReferenceAudio (kie.ai's file upload
// API), each operation run to SUCCEEDED with its ledger rows, a failure refunded, a restart in the
// middle resumed with one submission, and the refusals.

#include <gmock/gmock.h>
#include <grpcpp/grpcpp.h>
#include <gtest/gtest.h>

#include <memory>
#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "music/v1/billing_service.grpc.pb.h"
#include "tests/e2e/e2e_fixture.h"
#include "tests/e2e/https_audio_server.h"

namespace music::e2e {
namespace {

using music::v1::AudioOperation;
using ::testing::UnorderedElementsAre;

class AudioOperationsE2eTest : public E2eTest {
 protected:
  // Streams `bytes` to UploadReferenceAudio for `model`; returns the reference_audio_id.
  std::string Upload(const std::string& model, const std::string& bytes) {
    grpc::ClientContext ctx;
    music::v1::UploadReferenceAudioResponse resp;
    auto writer = stub_->UploadReferenceAudio(&ctx, &resp);
    music::v1::UploadReferenceAudioRequest first;
    first.mutable_metadata()->set_model(model);
    first.mutable_metadata()->set_filename("my song.mp3");
    first.mutable_metadata()->set_content_type("audio/mpeg");
    EXPECT_TRUE(writer->Write(first));
    music::v1::UploadReferenceAudioRequest chunk;
    chunk.set_chunk(bytes);
    EXPECT_TRUE(writer->Write(chunk));
    EXPECT_TRUE(writer->WritesDone());
    const grpc::Status s = writer->Finish();
    EXPECT_TRUE(s.ok()) << s.error_message();
    EXPECT_EQ(resp.provider(), "kie");
    EXPECT_EQ(resp.size_bytes(), static_cast<int64_t>(bytes.size()));
    return resp.reference_audio_id();
  }

  static std::string Mp3() {
    std::string bytes("ID3\x04", 4);
    bytes.resize(16 << 10, 'a');
    return bytes;
  }

  // A request with the fields `op` needs (CONTRACT-NOTES.md "From uploaded audio"); `text` goes
  // into the prompt (or the title for add-instrumental, which takes no prompt).
  static music::v1::CreateAudioOperationRequest Request(AudioOperation op, const std::string& id,
                                                        const std::string& text) {
    music::v1::CreateAudioOperationRequest r;
    r.set_operation(op);
    r.set_model(op == music::v1::AUDIO_OPERATION_ADD_INSTRUMENTAL ||
                        op == music::v1::AUDIO_OPERATION_ADD_VOCALS
                    ? "suno-v5"
                    : "suno-v4.5");
    r.set_reference_audio_id(id);
    r.set_style("jazz");
    r.set_title(op == music::v1::AUDIO_OPERATION_ADD_INSTRUMENTAL ? text : "My Take");
    if (op != music::v1::AUDIO_OPERATION_ADD_INSTRUMENTAL) r.set_prompt(text);
    if (op == music::v1::AUDIO_OPERATION_EXTEND) r.set_continue_at_seconds(2);
    return r;
  }

  grpc::Status Create(const music::v1::CreateAudioOperationRequest& r, music::v1::Task* task) {
    grpc::ClientContext ctx;
    music::v1::CreateAudioOperationResponse resp;
    grpc::Status s = stub_->CreateAudioOperation(&ctx, r, &resp);
    *task = resp.task();
    return s;
  }

  // The kinds of the ledger rows of `task_id` (the list is newest first).
  std::vector<music::v1::BillingTransactionKind> LedgerKinds(const std::string& task_id) {
    auto billing = music::v1::BillingService::NewStub(channel_);
    std::vector<music::v1::BillingTransactionKind> kinds;
    music::v1::ListBillingTransactionsRequest req;
    req.set_page_size(1000);
    music::v1::ListBillingTransactionsResponse resp;
    grpc::ClientContext ctx;
    const grpc::Status s = billing->ListBillingTransactions(&ctx, req, &resp);
    EXPECT_TRUE(s.ok()) << s.error_message();
    for (const auto& t : resp.transactions()) {
      if (t.task_id() == task_id) kinds.push_back(t.kind());
    }
    return kinds;
  }
};

class EachOperationE2eTest : public AudioOperationsE2eTest,
                             public ::testing::WithParamInterface<AudioOperation> {};

TEST_P(EachOperationE2eTest, RunsEndToEndFromAnUploadedFileWithItsBillingRows) {
  const AudioOperation op = GetParam();
  const std::string id = Upload("suno-v5", Mp3());
  ASSERT_TRUE(absl::StartsWith(id, "kie/")) << id;

  music::v1::Task created;
  const grpc::Status s = Create(Request(op, id, "words to sing"), &created);
  ASSERT_TRUE(s.ok()) << s.error_message();
  EXPECT_EQ(created.kind(), music::v1::TASK_KIND_AUDIO_OPERATION);
  EXPECT_EQ(created.input().audio_operation(), op);

  const music::v1::Task done = WaitDone(created.task_id());
  ASSERT_EQ(done.state(), music::v1::TASK_STATE_SUCCEEDED) << done.DebugString();
  ASSERT_GE(done.clips_size(), 1);
  for (const auto& clip : done.clips()) EXPECT_FALSE(clip.audio_url().empty());
  EXPECT_EQ(emulator_->stats().audio_operation_creates, 1);
  EXPECT_EQ(emulator_->TaskCount(), 1);
  // Reserved at create, settled at the price (12 credits), nothing left to refund.
  EXPECT_EQ(done.billing().reserved_micros(), 12'000'000);
  EXPECT_EQ(done.billing().charged_micros(), 12'000'000);
  EXPECT_THAT(LedgerKinds(done.task_id()),
              UnorderedElementsAre(music::v1::BILLING_TRANSACTION_KIND_RESERVE,
                                   music::v1::BILLING_TRANSACTION_KIND_SETTLE));
}

INSTANTIATE_TEST_SUITE_P(Operations, EachOperationE2eTest,
                         ::testing::Values(music::v1::AUDIO_OPERATION_COVER,
                                           music::v1::AUDIO_OPERATION_EXTEND,
                                           music::v1::AUDIO_OPERATION_ADD_INSTRUMENTAL,
                                           music::v1::AUDIO_OPERATION_ADD_VOCALS),
                         [](const auto& info) { return AudioOperation_Name(info.param); });

TEST_F(AudioOperationsE2eTest, AFailedCoverIsRefunded) {
  const std::string id = Upload("suno-v4.5", Mp3());
  music::v1::Task created;
  ASSERT_TRUE(Create(Request(music::v1::AUDIO_OPERATION_COVER, id,
                             "x [emu:fail=GENERATE_AUDIO_FAILED]"),
                     &created)
                  .ok());
  const music::v1::Task done = WaitDone(created.task_id());
  ASSERT_EQ(done.state(), music::v1::TASK_STATE_FAILED) << done.DebugString();
  EXPECT_EQ(done.billing().charged_micros(), 0);
  EXPECT_EQ(done.billing().refunded_micros(), done.billing().reserved_micros());
  EXPECT_THAT(LedgerKinds(done.task_id()),
              UnorderedElementsAre(music::v1::BILLING_TRANSACTION_KIND_RESERVE,
                                   music::v1::BILLING_TRANSACTION_KIND_REFUND));
}

TEST_F(AudioOperationsE2eTest, ARestartInTheMiddleIsResumedWithOneSubmission) {
  const std::string id = Upload("suno-v5", Mp3());
  music::v1::Task created;
  ASSERT_TRUE(Create(Request(music::v1::AUDIO_OPERATION_ADD_VOCALS, id,
                             "la la [emu:duration_ms=2500]"),
                     &created)
                  .ok());
  ASSERT_TRUE(WaitFor([&] { return emulator_->TaskCount() >= 1; }, absl::Seconds(5),
                      "the provider to have the task"));
  StopServer();
  StartServer();  // same database file; the provider goes on generating meanwhile
  const music::v1::Task done = WaitDone(created.task_id());
  EXPECT_EQ(done.state(), music::v1::TASK_STATE_SUCCEEDED) << done.DebugString();
  EXPECT_EQ(emulator_->TaskCount(), 1);
  EXPECT_EQ(emulator_->stats().audio_operation_creates, 1);
}

TEST_F(AudioOperationsE2eTest, CanceledLocallyAndRefunded) {
  const std::string id = Upload("suno-v4.5", Mp3());
  music::v1::Task created;
  ASSERT_TRUE(Create(Request(music::v1::AUDIO_OPERATION_EXTEND, id,
                             "long one [emu:duration_ms=5000]"),
                     &created)
                  .ok());
  music::v1::CancelTaskRequest req;
  req.set_task_id(created.task_id());
  music::v1::CancelTaskResponse resp;
  grpc::ClientContext ctx;
  const grpc::Status s = stub_->CancelTask(&ctx, req, &resp);
  ASSERT_TRUE(s.ok()) << s.error_message();
  EXPECT_EQ(resp.task().state(), music::v1::TASK_STATE_CANCELED);
  const music::v1::Task done = WaitDone(created.task_id());
  EXPECT_EQ(done.state(), music::v1::TASK_STATE_CANCELED);
  EXPECT_EQ(done.billing().refunded_micros(), done.billing().reserved_micros());
  EXPECT_THAT(LedgerKinds(done.task_id()),
              UnorderedElementsAre(music::v1::BILLING_TRANSACTION_KIND_RESERVE,
                                   music::v1::BILLING_TRANSACTION_KIND_REFUND));
}

TEST_F(AudioOperationsE2eTest, SameRequestIdTwiceIsOneTask) {
  const std::string id = Upload("suno-v4.5", Mp3());
  music::v1::CreateAudioOperationRequest r =
      Request(music::v1::AUDIO_OPERATION_COVER, id, "once only");
  r.set_request_id("cover-once");
  music::v1::Task first, second;
  ASSERT_TRUE(Create(r, &first).ok());
  ASSERT_TRUE(Create(r, &second).ok());
  EXPECT_EQ(first.task_id(), second.task_id());
  EXPECT_EQ(WaitDone(first.task_id()).state(), music::v1::TASK_STATE_SUCCEEDED);
  EXPECT_EQ(emulator_->TaskCount(), 1);
}

TEST_F(AudioOperationsE2eTest, RefusalsNameTheFieldOrTheMissingOperation) {
  const std::string id = Upload("suno-v4.5", Mp3());
  music::v1::Task task;
  // add-vocals runs on V4_5PLUS and V5 only (CONTRACT-NOTES.md).
  music::v1::CreateAudioOperationRequest vocals =
      Request(music::v1::AUDIO_OPERATION_ADD_VOCALS, id, "la");
  vocals.set_model("suno-v4.5");
  grpc::Status s = Create(vocals, &task);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::FAILED_PRECONDITION) << s.error_message();
  EXPECT_TRUE(absl::StrContains(s.error_message(), "AUDIO_OPERATION_ADD_VOCALS"))
      << s.error_message();

  music::v1::CreateAudioOperationRequest no_audio =
      Request(music::v1::AUDIO_OPERATION_COVER, "", "words");
  s = Create(no_audio, &task);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_TRUE(absl::StrContains(s.error_message(), "reference_audio_id")) << s.error_message();

  music::v1::CreateAudioOperationRequest extend =
      Request(music::v1::AUDIO_OPERATION_EXTEND, id, "words");
  extend.set_continue_at_seconds(0);
  s = Create(extend, &task);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_TRUE(absl::StrContains(s.error_message(), "continue_at_seconds")) << s.error_message();
  EXPECT_EQ(emulator_->TaskCount(), 0);  // nothing reached the provider
}

// An https reference_audio_uri: the service fetches it (SSRF-safe) and stores it with kie.ai's file
// upload; the emulator accepts only its own downloadUrl as uploadUrl, so the caller's URL cannot
// have reached it.
class AudioOperationFromUrlE2eTest : public AudioOperationsE2eTest {
 protected:
  void SetUp() override {
    ASSERT_TRUE(https_.Start());
    AudioOperationsE2eTest::SetUp();
  }
  void ConfigureServer(service::ServerOptions& options) override {
    options.engine.reference_fetcher = https_.fetcher();
  }
  HttpsAudioServer https_;
};

TEST_F(AudioOperationFromUrlE2eTest, AnHttpsUrlIsFetchedUploadedAndCovered) {
  music::v1::CreateAudioOperationRequest r =
      Request(music::v1::AUDIO_OPERATION_COVER, "", "words to sing");
  r.set_reference_audio_uri(https_.url());
  music::v1::Task created;
  const grpc::Status s = Create(r, &created);
  ASSERT_TRUE(s.ok()) << s.error_message();
  const music::v1::Task done = WaitDone(created.task_id());
  ASSERT_EQ(done.state(), music::v1::TASK_STATE_SUCCEEDED) << done.DebugString();
  EXPECT_EQ(https_.hits(), 1);  // fetched once, before the create
  EXPECT_EQ(emulator_->stats().audio_operation_creates, 1);
}

// ListModels says which model offers which operation.
TEST_F(AudioOperationsE2eTest, ListModelsNamesEachModelsAudioOperations) {
  grpc::ClientContext ctx;
  music::v1::ListModelsResponse resp;
  ASSERT_TRUE(stub_->ListModels(&ctx, music::v1::ListModelsRequest(), &resp).ok());
  int checked = 0;
  for (const auto& m : resp.models()) {
    if (m.name() == "suno-v5") {
      EXPECT_EQ(m.capabilities().audio_operations_size(), 4);
      ++checked;
    } else if (m.name() == "suno-v4.5") {
      EXPECT_EQ(m.capabilities().audio_operations_size(), 2);
      ++checked;
    }
  }
  EXPECT_EQ(checked, 2);
}

}  // namespace
}  // namespace music::e2e
