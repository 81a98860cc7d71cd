// TokenLab answer parsing: the documented shapes (seed 000 + CONTRACT-NOTES "TokenLab"; WIRE.md
// "Task object") and every broken variant, which must give a status and never crash.

#include "adapters/tokenlab/tokenlab_json.h"

#include <string>

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace music::adapters::tokenlab {
namespace {

using ::testing::HasSubstr;

// A create answer with every field CONTRACT-NOTES names (`id` / `task_id` of the form ldtask_...,
// `status`, `poll_url`, `model`) plus the billing reconciliation fields of seed 000.
constexpr char kCreateAnswer[] = R"({
  "id": "ldtask_8f14e45fceea167a",
  "task_id": "ldtask_8f14e45fceea167a",
  "status": "pending",
  "poll_url": "https://api.tokenlab.sh/v1/tasks/ldtask_8f14e45fceea167a",
  "model": "suno_music",
  "request_id": "tsk_1.tokenlab",
  "billing_transaction_id": "btx_42"
})";

// A completed music task (seed 000: "audio_url, video_url, title, lyrics, and normalized
// metadata").
constexpr char kCompletedMusic[] = R"({
  "id": "ldtask_8f14e45fceea167a",
  "task_id": "ldtask_8f14e45fceea167a",
  "status": "completed",
  "model": "suno_music",
  "request_id": "tsk_1.tokenlab",
  "billing_transaction_id": "btx_42",
  "progress": 100,
  "clip_id": "clip_1",
  "audio_url": "https://cdn.tokenlab.sh/a/clip_1.mp3",
  "stream_audio_url": "https://cdn.tokenlab.sh/s/clip_1",
  "image_url": "https://cdn.tokenlab.sh/i/clip_1.png",
  "video_url": "https://cdn.tokenlab.sh/v/clip_1.mp4",
  "title": "Morning Static",
  "tags": "synth-pop, upbeat",
  "lyrics": "[Verse]\nMorning static on the radio",
  "duration": 182.5,
  "billing": {"currency": "USD", "charged": "0.10", "refunded": "0"}
})";

TEST(TokenlabJsonTest, CreateAnswer) {
  absl::StatusOr<TokenlabTaskRef> ref = ParseTokenlabCreateAnswer(kCreateAnswer);
  ASSERT_TRUE(ref.ok()) << ref.status();
  EXPECT_EQ(ref->task_id, "ldtask_8f14e45fceea167a");
  EXPECT_EQ(ref->status, "pending");
  EXPECT_EQ(ref->poll_url, "https://api.tokenlab.sh/v1/tasks/ldtask_8f14e45fceea167a");
  EXPECT_EQ(ref->model, "suno_music");
  EXPECT_EQ(ref->request_id, "tsk_1.tokenlab");
  EXPECT_EQ(ref->billing_transaction_id, "btx_42");
}

TEST(TokenlabJsonTest, CreateAnswerWithOnlyIdOrOnlyTaskId) {
  auto only_id = ParseTokenlabCreateAnswer(R"({"id":"ldtask_1","status":"pending"})");
  ASSERT_TRUE(only_id.ok());
  EXPECT_EQ(only_id->task_id, "ldtask_1");
  auto only_task_id = ParseTokenlabCreateAnswer(R"({"task_id":"ldtask_2"})");
  ASSERT_TRUE(only_task_id.ok());
  EXPECT_EQ(only_task_id->task_id, "ldtask_2");
}

TEST(TokenlabJsonTest, BrokenCreateAnswersAreInternal) {
  for (const char* body : {
           "",                                           // empty
           R"({"id":"ldtask_1","sta)",                   // truncated
           "[]",                                         // not an object
           R"({"status":"pending"})",                    // no id
           R"({"id":42})",                               // wrong type
           R"({"id":"ldtask_1","task_id":"ldtask_2"})",  // disagreeing ids
           R"({"id":"ldtask_1","poll_url":7})",
       }) {
    absl::StatusOr<TokenlabTaskRef> ref = ParseTokenlabCreateAnswer(body);
    EXPECT_EQ(ref.status().code(), absl::StatusCode::kInternal) << body;
  }
}

TEST(TokenlabJsonTest, CompletedMusicTask) {
  absl::StatusOr<ProviderUpdate> update = ParseTokenlabTask(kCompletedMusic, false);
  ASSERT_TRUE(update.ok()) << update.status();
  EXPECT_EQ(update->state, ProviderState::kSucceeded);
  EXPECT_EQ(update->provider_status, "completed");
  EXPECT_EQ(update->provider_task_id, "ldtask_8f14e45fceea167a");
  EXPECT_EQ(update->provider_billing_transaction_id, "btx_42");
  EXPECT_EQ(update->progress_percent, 100);
  ASSERT_EQ(update->clips.size(), 1u);
  const music::v1::Clip& clip = update->clips[0];
  EXPECT_EQ(clip.clip_id(), "clip_1");
  EXPECT_EQ(clip.audio_url(), "https://cdn.tokenlab.sh/a/clip_1.mp3");
  EXPECT_EQ(clip.stream_audio_url(), "https://cdn.tokenlab.sh/s/clip_1");
  EXPECT_EQ(clip.image_url(), "https://cdn.tokenlab.sh/i/clip_1.png");
  EXPECT_EQ(clip.video_url(), "https://cdn.tokenlab.sh/v/clip_1.mp4");
  EXPECT_EQ(clip.title(), "Morning Static");
  EXPECT_EQ(clip.tags(), "synth-pop, upbeat");
  EXPECT_EQ(clip.lyrics(), "[Verse]\nMorning static on the radio");
  EXPECT_EQ(clip.model_name(), "suno_music");
  EXPECT_DOUBLE_EQ(clip.duration_seconds(), 182.5);
  EXPECT_TRUE(update->has_billing);
  EXPECT_EQ(update->billing_currency, "USD");
  EXPECT_EQ(update->charged_micros, 100000);
  EXPECT_EQ(update->refunded_micros, 0);
  EXPECT_EQ(update->error_code, absl::StatusCode::kOk);
}

TEST(TokenlabJsonTest, ClipIdDefaultsToTheTaskId) {
  auto update = ParseTokenlabTask(
      R"({"id":"ldtask_9","status":"completed","audio_url":"https://a/x.mp3"})", false);
  ASSERT_TRUE(update.ok()) << update.status();
  ASSERT_EQ(update->clips.size(), 1u);
  EXPECT_EQ(update->clips[0].clip_id(), "ldtask_9");
}

TEST(TokenlabJsonTest, ClipsList) {
  auto update = ParseTokenlabTask(R"({"id":"ldtask_9","status":"completed","audio_url":"ignored",
      "clips":[{"id":"c1","audio_url":"https://a/1.mp3","duration":30,"model":"suno_v5"},
               {"clip_id":"c2","audio_url":"https://a/2.mp3","artifact_id":"art_2"}]})",
                                  false);
  ASSERT_TRUE(update.ok()) << update.status();
  ASSERT_EQ(update->clips.size(), 2u);
  EXPECT_EQ(update->clips[0].clip_id(), "c1");
  EXPECT_EQ(update->clips[0].model_name(), "suno_v5");
  EXPECT_DOUBLE_EQ(update->clips[0].duration_seconds(), 30);
  EXPECT_EQ(update->clips[1].clip_id(), "c2");
  EXPECT_EQ(update->clips[1].artifact_id(), "art_2");
  for (const char* body : {R"({"id":"t","status":"completed","clips":{}})",
                           R"({"id":"t","status":"completed","clips":[1]})",
                           R"({"id":"t","status":"completed","clips":[{"audio_url":"x"}]})"}) {
    EXPECT_EQ(ParseTokenlabTask(body, false).status().code(), absl::StatusCode::kInternal) << body;
  }
}

TEST(TokenlabJsonTest, PendingAndProcessing) {
  auto pending = ParseTokenlabTask(R"({"id":"t","status":"pending","audio_url":null})", false);
  ASSERT_TRUE(pending.ok()) << pending.status();
  EXPECT_EQ(pending->state, ProviderState::kPending);
  EXPECT_TRUE(pending->clips.empty());
  EXPECT_EQ(pending->progress_percent, -1);

  auto processing = ParseTokenlabTask(
      R"({"id":"t","status":"processing","clip_id":"c","stream_audio_url":"https://s/c",
          "progress":{"percent":42.7,"stage":"mastering","message":"almost"}})",
      false);
  ASSERT_TRUE(processing.ok()) << processing.status();
  EXPECT_EQ(processing->state, ProviderState::kRunning);
  EXPECT_EQ(processing->progress_percent, 42);
  EXPECT_EQ(processing->progress_stage, "mastering");
  EXPECT_EQ(processing->progress_message, "almost");
  ASSERT_EQ(processing->clips.size(), 1u);
  EXPECT_EQ(processing->clips[0].stream_audio_url(), "https://s/c");
  EXPECT_TRUE(processing->clips[0].audio_url().empty());
  EXPECT_FALSE(processing->first_clip_ready);
}

TEST(TokenlabJsonTest, CompletedWithoutAudioStaysSucceededWithoutAudio) {
  // Seed 000 "Common Errors": completed without audio_url; the service turns it into a failure.
  auto update =
      ParseTokenlabTask(R"({"id":"t","status":"completed","audio_url":null,"title":"x"})", false);
  ASSERT_TRUE(update.ok()) << update.status();
  EXPECT_EQ(update->state, ProviderState::kSucceeded);
  for (const auto& clip : update->clips) EXPECT_TRUE(clip.audio_url().empty());
}

TEST(TokenlabJsonTest, LyricsTask) {
  auto update = ParseTokenlabTask(
      R"({"id":"t","status":"completed","title":"Sea","lyrics":"[Verse]\nwaves"})", true);
  ASSERT_TRUE(update.ok()) << update.status();
  EXPECT_EQ(update->state, ProviderState::kSucceeded);
  EXPECT_TRUE(update->clips.empty());
  ASSERT_EQ(update->lyric_variants.size(), 1u);
  EXPECT_EQ(update->lyric_variants[0].title(), "Sea");
  EXPECT_EQ(update->lyric_variants[0].text(), "[Verse]\nwaves");

  auto text = ParseTokenlabTask(R"({"id":"t","status":"completed","text":"words"})", true);
  ASSERT_TRUE(text.ok());
  ASSERT_EQ(text->lyric_variants.size(), 1u);
  EXPECT_EQ(text->lyric_variants[0].text(), "words");

  auto empty = ParseTokenlabTask(R"({"id":"t","status":"completed"})", true);
  ASSERT_TRUE(empty.ok());
  EXPECT_EQ(empty->state, ProviderState::kSucceeded);
  EXPECT_TRUE(empty->lyric_variants.empty());
}

TEST(TokenlabJsonTest, FailedTask) {
  auto update = ParseTokenlabTask(
      R"({"id":"t","status":"failed","error":{"code":"content_policy_violation",
          "message":"rejected"},"billing":{"currency":"usd","charged":0.1,"refunded":"0.10"}})",
      false);
  ASSERT_TRUE(update.ok()) << update.status();
  EXPECT_EQ(update->state, ProviderState::kFailed);
  EXPECT_EQ(update->error_code, absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(update->provider_error_code, "content_policy_violation");
  EXPECT_EQ(update->error_message, "rejected");
  EXPECT_EQ(update->billing_currency, "USD");
  EXPECT_EQ(update->charged_micros, 100000);
  EXPECT_EQ(update->refunded_micros, 100000);

  auto bare = ParseTokenlabTask(R"({"id":"t","status":"failed"})", false);
  ASSERT_TRUE(bare.ok());
  EXPECT_EQ(bare->state, ProviderState::kFailed);
  EXPECT_EQ(bare->error_code, absl::StatusCode::kInternal);
  EXPECT_FALSE(bare->error_message.empty());

  auto string_error = ParseTokenlabTask(R"({"id":"t","status":"failed","error":"boom"})", false);
  ASSERT_TRUE(string_error.ok());
  EXPECT_EQ(string_error->error_message, "boom");

  auto int_code = ParseTokenlabTask(R"({"id":"t","status":"failed","error":{"code":504}})", false);
  ASSERT_TRUE(int_code.ok());
  EXPECT_EQ(int_code->provider_error_code, "504");
}

TEST(TokenlabJsonTest, CancelledTask) {
  // CONTRACT-NOTES: failed + cancelled: true + cancellation_status: "cancelled".
  auto update = ParseTokenlabTask(
      R"({"id":"t","status":"failed","cancelled":true,"cancellation_status":"cancelled"})", false);
  ASSERT_TRUE(update.ok()) << update.status();
  EXPECT_EQ(update->state, ProviderState::kCanceled);
  EXPECT_EQ(update->error_code, absl::StatusCode::kCancelled);
  // Either marker is enough.
  auto flag_only = ParseTokenlabTask(R"({"id":"t","status":"failed","cancelled":true})", false);
  ASSERT_TRUE(flag_only.ok());
  EXPECT_EQ(flag_only->state, ProviderState::kCanceled);
  auto status_only =
      ParseTokenlabTask(R"({"id":"t","status":"failed","cancellation_status":"cancelled"})", false);
  ASSERT_TRUE(status_only.ok());
  EXPECT_EQ(status_only->state, ProviderState::kCanceled);
}

TEST(TokenlabJsonTest, UnknownStatusKeepsRunning) {
  auto update = ParseTokenlabTask(R"({"id":"t","status":"mastering"})", false);
  ASSERT_TRUE(update.ok()) << update.status();
  EXPECT_EQ(update->state, ProviderState::kRunning);
  EXPECT_EQ(update->provider_status, "mastering");
}

TEST(TokenlabJsonTest, BrokenTasksAreInternal) {
  for (const char* body : {
           "",
           "null",
           R"({"id":"t","status":"compl)",
           R"({"id":"t"})",             // no status
           R"({"id":"t","status":1})",  // wrong type
           R"({"id":"t","status":"completed","audio_url":5})",
           R"({"id":"t","status":"completed","duration":"long"})",
           R"({"id":"t","status":"completed","duration":-1})",
           R"({"id":"t","status":"failed","cancelled":"yes"})",
           R"({"id":"t","status":"failed","error":7})",
           R"({"id":"t","status":"processing","progress":"half"})",
           R"({"id":"t","status":"completed","billing":[]})",
           R"({"id":"t","status":"completed","billing":{"currency":"USD","charged":"-1"}})",
           R"({"id":"t","status":"completed","billing":{"currency":"USD","charged":1e300}})",
           R"({"id":"t","status":"completed","billing":{"currency":"USD","charged":true}})",
           R"({"id":"a","task_id":"b","status":"completed"})",
       }) {
    absl::StatusOr<ProviderUpdate> update = ParseTokenlabTask(body, false);
    EXPECT_EQ(update.status().code(), absl::StatusCode::kInternal) << body;
  }
}

TEST(TokenlabJsonTest, UnknownBillingCurrencyIsIgnored) {
  auto update = ParseTokenlabTask(
      R"({"id":"t","status":"completed","billing":{"currency":"EUR","charged":"1"}})", false);
  ASSERT_TRUE(update.ok()) << update.status();
  EXPECT_FALSE(update->has_billing);
}

TEST(TokenlabJsonTest, DecimalMicrosAreExact) {
  EXPECT_EQ(*ParseDecimalMicros("0.10"), 100000);
  EXPECT_EQ(*ParseDecimalMicros("0.05"), 50000);
  EXPECT_EQ(*ParseDecimalMicros("12"), 12000000);
  EXPECT_EQ(*ParseDecimalMicros("0.000001"), 1);
  EXPECT_EQ(*ParseDecimalMicros("0.0000005"), 1);  // half-up on the 7th decimal
  EXPECT_EQ(*ParseDecimalMicros("0.0000004"), 0);
  EXPECT_EQ(*ParseDecimalMicros("999999999999.999999"), 999999999999999999);
  for (const char* bad :
       {"", "-1", "+1", "1e3", ".5", "5.", "1.2.3", "abc", "1 ", "1000000000000"}) {
    EXPECT_FALSE(ParseDecimalMicros(bad).ok()) << bad;
  }
}

TEST(TokenlabJsonTest, ErrorEnvelope) {
  auto e = ParseTokenlabError(
      R"({"error":{"code":"insufficient_balance","message":"Top up","type":"billing_error"}})");
  ASSERT_TRUE(e.has_value());
  EXPECT_EQ(e->code, "insufficient_balance");
  EXPECT_EQ(e->message, "Top up");
  auto s = ParseTokenlabError(R"({"error":"Unsupported parameter: foo"})");
  ASSERT_TRUE(s.has_value());
  EXPECT_EQ(s->message, "Unsupported parameter: foo");
  auto top = ParseTokenlabError(R"({"message":"busy","code":503})");
  ASSERT_TRUE(top.has_value());
  EXPECT_EQ(top->code, "503");
  EXPECT_FALSE(ParseTokenlabError("<html>bad gateway</html>").has_value());
  EXPECT_FALSE(ParseTokenlabError(R"({"error":{"code":[],"message":{}}})").has_value());
}

// CONTRACT-NOTES "TokenLab": `data: [{id, object: "model", created, owned_by, lemondata:
// {category, pricing_unit, capability_flags, supported_operations, ...}}]`.
TEST(TokenlabJsonTest, Models) {
  auto models = ParseTokenlabModels(R"({"object":"list","data":[
      {"id":"suno_music","object":"model","created":1700000000,"owned_by":"tokenlab",
       "lemondata":{"category":"music","pricing_unit":"per_task",
                    "supported_operations":["music","continuation"],
                    "capability_flags":{"instrumental":true,"lyrics":false}}},
      {"id":"lyricist","lemondata":{"supported_operations":["LYRICS"]}},
      {"id":"other"}]})");
  ASSERT_TRUE(models.ok()) << models.status();
  ASSERT_EQ(models->size(), 3u);
  EXPECT_EQ((*models)[0].id, "suno_music");
  EXPECT_EQ((*models)[0].music, true);
  EXPECT_EQ((*models)[0].continuation, true);
  EXPECT_EQ((*models)[0].instrumental, true);
  // Operations listed, none for lyrics: not lyrics-capable (seed 000 "a model whose public
  // contract documents lyric generation").
  EXPECT_EQ((*models)[0].lyrics, false);
  EXPECT_EQ((*models)[1].lyrics, true);
  EXPECT_FALSE((*models)[1].music.has_value());
  EXPECT_FALSE((*models)[2].lyrics.has_value());
  for (const char* body :
       {R"({"data":[{"id":""}]})", R"({"data":[{"id":"x","lemondata":1}]})",
        R"({"data":[{"id":"x","lemondata":{"supported_operations":"lyrics"}}]})",
        R"({"data":[{"id":"x","lemondata":{"capability_flags":{"lyrics":"yes"}}}]})", "{}"}) {
    EXPECT_EQ(ParseTokenlabModels(body).status().code(), absl::StatusCode::kInternal) << body;
  }
}

}  // namespace
}  // namespace music::adapters::tokenlab
