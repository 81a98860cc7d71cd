// kie.ai clip operations end to end (issue 12 B): a real server (SQLite file, libcurl, the kie
// adapter) and the provider emulator over HTTP. Each operation runs from CreateClipOperation to
// SUCCEEDED with its own ledger rows; a failure is refunded; a restart after the submission
// resumes the task without submitting it again; the calls that answer at once go to the provider.
#include <httplib.h>

#include <map>
#include <string>
#include <vector>

#include "adapters/kie/kie_models.h"
#include "tests/e2e/e2e_fixture.h"

namespace music::e2e {
namespace {

using music::v1::BillingTransactionKind;
using music::v1::ClipOperation;

class ClipOperationsE2eTest : public E2eTest {
 protected:
  // A succeeded music task's first clip: the source of every operation.
  music::v1::Task SourceTask(const std::string& prompt = "a song about the sea") {
    const music::v1::Task done = WaitDone(CreateMusic(prompt).task_id());
    EXPECT_EQ(done.state(), music::v1::TASK_STATE_SUCCEEDED) << done.DebugString();
    EXPECT_GE(done.clips_size(), 1);
    return done;
  }

  grpc::Status Create(const std::string& clip_id, ClipOperation op, music::v1::Task* task,
                      const std::string& request_id = "", const std::string& author = "",
                      const std::string& domain = "") {
    music::v1::CreateClipOperationRequest req;
    req.set_request_id(request_id);
    req.set_clip_id(clip_id);
    req.set_operation(op);
    req.set_video_author(author);
    req.set_video_domain_name(domain);
    music::v1::CreateClipOperationResponse resp;
    grpc::ClientContext ctx;
    grpc::Status s = stub_->CreateClipOperation(&ctx, req, &resp);
    *task = resp.task();
    return s;
  }

  // The ledger rows of `task_id`: amount by kind.
  std::map<BillingTransactionKind, int64_t> Rows(const std::string& task_id) {
    std::map<BillingTransactionKind, int64_t> rows;
    for (const auto& t : AllTransactions()) {
      if (t.task_id() == task_id) rows[t.kind()] += t.amount_micros();
    }
    return rows;
  }

  // Downloads `url` from the emulator; its body.
  std::string Download(const std::string& url) {
    const std::string prefix = emulator_->base_url();
    EXPECT_EQ(url.rfind(prefix, 0), 0u) << url;
    httplib::Client client("127.0.0.1", emulator_->port());
    auto res = client.Get(url.substr(prefix.size()));
    EXPECT_TRUE(res) << url;
    if (!res) return "";
    EXPECT_EQ(res->status, 200) << url;
    return res->body;
  }

  void ExpectWav(const std::string& url) {
    const std::string body = Download(url);
    ASSERT_GT(body.size(), 44u) << url;
    EXPECT_EQ(body.substr(0, 4), "RIFF") << url;
    EXPECT_EQ(body.substr(8, 4), "WAVE") << url;
  }

  int64_t OperationSubmissions() { return emulator_->stats().clip_operation_creates; }
};

TEST_F(ClipOperationsE2eTest, WavRunsToSucceededWithItsOwnReserveAndSettle) {
  const music::v1::Task source = SourceTask();
  const std::string clip = source.clips(0).clip_id();
  music::v1::Task task;
  ASSERT_TRUE(Create(clip, music::v1::CLIP_OPERATION_CONVERT_TO_WAV, &task, "wav-1").ok());
  EXPECT_EQ(task.kind(), music::v1::TASK_KIND_CLIP_OPERATION);
  EXPECT_EQ(task.input().source_task_id(), source.task_id());
  EXPECT_EQ(task.input().source_provider_task_id(), source.provider_task_id());

  const auto watched = Watch(task.task_id());
  ASSERT_TRUE(watched.status.ok()) << watched.status.error_message();
  ASSERT_GE(watched.tasks.size(), 2u);  // PENDING first, then at least the end
  const music::v1::Task done = watched.tasks.back();
  ASSERT_EQ(done.state(), music::v1::TASK_STATE_SUCCEEDED) << done.DebugString();
  EXPECT_EQ(done.operation_result().source_clip_id(), clip);
  ExpectWav(done.operation_result().wav_url());

  auto rows = Rows(task.task_id());
  EXPECT_EQ(rows[music::v1::BILLING_TRANSACTION_KIND_RESERVE], adapters::kie::kKieWavPriceMicros);
  EXPECT_EQ(rows[music::v1::BILLING_TRANSACTION_KIND_SETTLE], adapters::kie::kKieWavPriceMicros);
  EXPECT_EQ(rows[music::v1::BILLING_TRANSACTION_KIND_REFUND], 0);

  // The same request_id is the same task, not a second submission.
  music::v1::Task again;
  ASSERT_TRUE(Create(clip, music::v1::CLIP_OPERATION_CONVERT_TO_WAV, &again, "wav-1").ok());
  EXPECT_EQ(again.task_id(), task.task_id());
  EXPECT_EQ(OperationSubmissions(), 1);

  // A second WAV of the clip under another request_id: kie.ai answers 409 naming the earlier
  // task, which the adapter adopts, so it ends with the same WAV.
  music::v1::Task second;
  ASSERT_TRUE(Create(clip, music::v1::CLIP_OPERATION_CONVERT_TO_WAV, &second, "wav-2").ok());
  const music::v1::Task second_done = WaitDone(second.task_id());
  ASSERT_EQ(second_done.state(), music::v1::TASK_STATE_SUCCEEDED) << second_done.DebugString();
  EXPECT_EQ(second_done.provider_task_id(), done.provider_task_id());
  EXPECT_EQ(second_done.operation_result().wav_url(), done.operation_result().wav_url());
  EXPECT_EQ(OperationSubmissions(), 1);
}

TEST_F(ClipOperationsE2eTest, VocalSeparationAndStemsAreRealWavFilesBilled10And50Credits) {
  const std::string clip = SourceTask().clips(0).clip_id();
  music::v1::Task separate, split;
  ASSERT_TRUE(Create(clip, music::v1::CLIP_OPERATION_SEPARATE_VOCALS, &separate).ok());
  ASSERT_TRUE(Create(clip, music::v1::CLIP_OPERATION_SPLIT_STEMS, &split).ok());

  const music::v1::Task vocals = WaitDone(separate.task_id());
  ASSERT_EQ(vocals.state(), music::v1::TASK_STATE_SUCCEEDED) << vocals.DebugString();
  const auto& two = vocals.operation_result().stem_urls();
  ASSERT_TRUE(two.contains("vocals") && two.contains("instrumental")) << vocals.DebugString();
  ExpectWav(two.at("vocals"));
  ExpectWav(two.at("instrumental"));

  const music::v1::Task stems = WaitDone(split.task_id());
  ASSERT_EQ(stems.state(), music::v1::TASK_STATE_SUCCEEDED) << stems.DebugString();
  const auto& many = stems.operation_result().stem_urls();
  EXPECT_FALSE(many.contains("instrumental"));  // null for split_stem (CONTRACT-NOTES)
  int real_stems = 0;
  for (const auto& [name, url] : many) {
    ExpectWav(url);
    if (name != "origin") ++real_stems;
  }
  EXPECT_EQ(real_stems, 12);

  EXPECT_EQ(Rows(separate.task_id())[music::v1::BILLING_TRANSACTION_KIND_RESERVE], 10'000'000);
  EXPECT_EQ(Rows(separate.task_id())[music::v1::BILLING_TRANSACTION_KIND_SETTLE], 10'000'000);
  EXPECT_EQ(Rows(split.task_id())[music::v1::BILLING_TRANSACTION_KIND_RESERVE], 50'000'000);
  EXPECT_EQ(Rows(split.task_id())[music::v1::BILLING_TRANSACTION_KIND_SETTLE], 50'000'000);
}

TEST_F(ClipOperationsE2eTest, MusicVideoCarriesAuthorAndDomainAndEndsWithAVideoUrl) {
  const std::string clip = SourceTask().clips(0).clip_id();
  music::v1::Task task;
  ASSERT_TRUE(Create(clip, music::v1::CLIP_OPERATION_CREATE_MUSIC_VIDEO, &task, "", "The Band",
                     "music.example")
                  .ok());
  const music::v1::Task done = WaitDone(task.task_id());
  ASSERT_EQ(done.state(), music::v1::TASK_STATE_SUCCEEDED) << done.DebugString();
  EXPECT_EQ(Download(done.operation_result().video_url()).substr(4, 4), "ftyp");
  EXPECT_EQ(Rows(task.task_id())[music::v1::BILLING_TRANSACTION_KIND_SETTLE],
            adapters::kie::kKieVideoPriceMicros);

  // An author over kie.ai's 50 characters is refused before anything is stored.
  music::v1::Task refused;
  grpc::Status s = Create(clip, music::v1::CLIP_OPERATION_CREATE_MUSIC_VIDEO, &refused, "",
                          std::string(51, 'a'));
  EXPECT_EQ(s.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_NE(s.error_message().find("video_author"), std::string::npos) << s.error_message();
}

TEST_F(ClipOperationsE2eTest, AFailedOperationIsRefundedInFull) {
  const std::string clip = SourceTask().clips(0).clip_id();
  emulator::FaultConfig faults;
  faults.generate_audio_failed_rate = 1;  // GENERATE_AUDIO_FAILED, callback code 500
  emulator_->SetFaults(faults);
  music::v1::Task task;
  ASSERT_TRUE(Create(clip, music::v1::CLIP_OPERATION_SEPARATE_VOCALS, &task).ok());
  const music::v1::Task done = WaitDone(task.task_id());
  ASSERT_EQ(done.state(), music::v1::TASK_STATE_FAILED) << done.DebugString();
  auto rows = Rows(task.task_id());
  EXPECT_EQ(rows[music::v1::BILLING_TRANSACTION_KIND_RESERVE], 10'000'000);
  EXPECT_EQ(rows[music::v1::BILLING_TRANSACTION_KIND_REFUND], 10'000'000);
  EXPECT_EQ(rows[music::v1::BILLING_TRANSACTION_KIND_SETTLE], 0);
}

TEST_F(ClipOperationsE2eTest, ACanceledOperationIsRefundedAndStaysCanceled) {
  const std::string clip = SourceTask().clips(0).clip_id();
  music::v1::Task task;
  ASSERT_TRUE(Create(clip, music::v1::CLIP_OPERATION_SPLIT_STEMS, &task).ok());
  music::v1::CancelTaskRequest req;
  req.set_task_id(task.task_id());
  music::v1::CancelTaskResponse resp;
  {
    grpc::ClientContext ctx;
    ASSERT_TRUE(stub_->CancelTask(&ctx, req, &resp).ok());
  }
  EXPECT_EQ(resp.task().state(), music::v1::TASK_STATE_CANCELED);
  EXPECT_EQ(WaitDone(task.task_id()).state(), music::v1::TASK_STATE_CANCELED);
  auto rows = Rows(task.task_id());
  EXPECT_EQ(rows[music::v1::BILLING_TRANSACTION_KIND_RESERVE], 50'000'000);
  EXPECT_EQ(rows[music::v1::BILLING_TRANSACTION_KIND_REFUND], 50'000'000);
  EXPECT_EQ(rows[music::v1::BILLING_TRANSACTION_KIND_SETTLE], 0);
}

TEST_F(ClipOperationsE2eTest, ARestartAfterTheSubmissionResumesWithoutSubmittingAgain) {
  const std::string clip = SourceTask().clips(0).clip_id();
  music::v1::Task task;
  ASSERT_TRUE(Create(clip, music::v1::CLIP_OPERATION_CONVERT_TO_WAV, &task).ok());
  WaitFor([&] { return OperationSubmissions() >= 1; }, absl::Seconds(5),
          "the provider to have the operation");
  StopServer();
  StartServer();  // same database file
  const music::v1::Task done = WaitDone(task.task_id());
  ASSERT_EQ(done.state(), music::v1::TASK_STATE_SUCCEEDED) << done.DebugString();
  ExpectWav(done.operation_result().wav_url());
  EXPECT_EQ(OperationSubmissions(), 1);
  EXPECT_EQ(Rows(task.task_id())[music::v1::BILLING_TRANSACTION_KIND_SETTLE],
            adapters::kie::kKieWavPriceMicros);
}

TEST_F(ClipOperationsE2eTest, AnUnknownClipIsFailedPrecondition) {
  music::v1::Task task;
  grpc::Status s = Create("no-such-clip", music::v1::CLIP_OPERATION_CONVERT_TO_WAV, &task);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::FAILED_PRECONDITION) << s.error_message();
}

TEST_F(ClipOperationsE2eTest, TimestampedLyricsAndStyleBoostAnswerAtOnce) {
  const music::v1::Task source = SourceTask("hello bright morning");
  music::v1::GetTimestampedLyricsRequest lr;
  lr.set_clip_id(source.clips(0).clip_id());
  music::v1::GetTimestampedLyricsResponse lyrics;
  {
    grpc::ClientContext ctx;
    grpc::Status s = stub_->GetTimestampedLyrics(&ctx, lr, &lyrics);
    ASSERT_TRUE(s.ok()) << s.error_message();
  }
  EXPECT_EQ(lyrics.clip_id(), source.clips(0).clip_id());
  ASSERT_EQ(lyrics.aligned_words_size(), 3);
  EXPECT_EQ(lyrics.aligned_words(0).word(), "hello");
  EXPECT_LT(lyrics.aligned_words(0).start_seconds(), lyrics.aligned_words(0).end_seconds());
  EXPECT_LE(lyrics.aligned_words(0).end_seconds(), lyrics.aligned_words(1).start_seconds());
  EXPECT_FALSE(lyrics.waveform().empty());

  music::v1::BoostStyleRequest br;
  br.set_content("dreamy synthwave");
  music::v1::BoostStyleResponse boost;
  {
    grpc::ClientContext ctx;
    grpc::Status s = stub_->BoostStyle(&ctx, br, &boost);
    ASSERT_TRUE(s.ok()) << s.error_message();
  }
  EXPECT_NE(boost.style().find("dreamy synthwave"), std::string::npos) << boost.style();
  EXPECT_GT(boost.style().size(), br.content().size());
  EXPECT_EQ(boost.credits_consumed_micros(), 1'000'000);
  EXPECT_FALSE(boost.provider_task_id().empty());
}

TEST_F(ClipOperationsE2eTest, ProviderBalanceIsKiesCreditEndpoint) {
  music::v1::GetProviderBalanceRequest req;
  req.set_provider("kie");
  music::v1::GetProviderBalanceResponse resp;
  {
    grpc::ClientContext ctx;
    grpc::Status s = Billing()->GetProviderBalance(&ctx, req, &resp);
    ASSERT_TRUE(s.ok()) << s.error_message();
  }
  EXPECT_EQ(resp.provider(), "kie");
  EXPECT_EQ(resp.currency(), "CREDITS");
  EXPECT_EQ(resp.balance_micros(), 5000'000'000);  // the emulator's account: 5000 credits
  EXPECT_GT(resp.read_time().seconds(), 0);

  req.set_provider("nobody");
  grpc::ClientContext ctx;
  EXPECT_EQ(Billing()->GetProviderBalance(&ctx, req, &resp).error_code(),
            grpc::StatusCode::NOT_FOUND);
}

}  // namespace
}  // namespace music::e2e
