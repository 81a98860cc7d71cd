// beatra answers -> ProviderUpdate: the status table, the task envelope of CONTRACT-NOTES
// "beatra" (seed 002 itself shows no JSON, so the payloads below are built from the documented
// field lists, in the shapes adapters/beatra/WIRE.md fixes), broken variants, and exact credits.

#include "adapters/beatra/beatra_json.h"

#include <string>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_replace.h"
#include "adapters/beatra/beatra_errors.h"
#include "adapters/beatra/beatra_status.h"
#include "gtest/gtest.h"

namespace music::adapters::beatra {
namespace {

using absl::StatusCode;

// --- Status table ------------------------------------------------------------------------------

TEST(BeatraStatusTest, EveryDocumentedStatusMaps) {
  EXPECT_EQ(MapBeatraStatus("queued").state, ProviderState::kPending);
  EXPECT_EQ(MapBeatraStatus("running").state, ProviderState::kRunning);
  EXPECT_EQ(MapBeatraStatus("succeeded").state, ProviderState::kSucceeded);
  EXPECT_EQ(MapBeatraStatus("failed").state, ProviderState::kFailed);
  EXPECT_EQ(MapBeatraStatus("canceled").state, ProviderState::kCanceled);
  for (const char* s : {"queued", "running", "succeeded", "failed", "canceled"}) {
    EXPECT_TRUE(MapBeatraStatus(s).known) << s;
  }
}

TEST(BeatraStatusTest, UnknownStatusIsRunningAndNeverTerminal) {
  for (const char* s : {"paused", "SUCCEEDED", "", "cancelled"}) {
    const BeatraStatusInfo info = MapBeatraStatus(s);
    EXPECT_EQ(info.state, ProviderState::kRunning) << s;
    EXPECT_FALSE(info.known) << s;
  }
}

// --- Example payloads (CONTRACT-NOTES "Task envelope") ------------------------------------------

constexpr char kQueued[] = R"({
  "task_id": "task_7f3a", "object": "task", "type": "music.text_to_music", "model": "suno-5.5",
  "status": "queued",
  "progress": {"percent": 0, "stage": "queued", "message": "Waiting for a worker"},
  "output": null, "error": null,
  "usage": {"lines": [{"description": "suno-5.5 music task", "quantity": 1, "unit": "task",
                       "credits": "80.0000"}]},
  "billing": {"charged_credits": "80.0000", "charged_credits_usd_reference": "0.0800",
              "currency": "credits"},
  "created_at": "2026-11-23T10:00:00.000Z", "started_at": null, "completed_at": null,
  "cancel_requested_at": null
})";

constexpr char kRunning[] = R"({
  "task_id": "task_7f3a", "model": "suno-5.5", "status": "running",
  "progress": {"percent": 42, "stage": "composing", "message": "Composing the arrangement"},
  "output": null, "error": null,
  "billing": {"charged_credits": "80.0000", "charged_credits_usd_reference": "0.0800",
              "currency": "credits"},
  "started_at": "2026-11-23T10:00:01.000Z", "completed_at": null, "cancel_requested_at": null
})";

constexpr char kSucceededSuno[] = R"({
  "task_id": "task_7f3a", "model": "suno-5.5", "status": "succeeded",
  "progress": {"percent": 100, "stage": "completed", "message": "Done"},
  "output": {"clips": [
    {"id": "clip-a", "artifact_id": "art_a", "audio_url": "https://cdn.beatra.ai/a.wav",
     "stream_audio_url": "https://cdn.beatra.ai/a.m3u8", "image_url": "https://cdn.beatra.ai/a.png",
     "title": "Night Drive", "tags": "synthwave", "lyrics": "[Verse] la", "model": "suno-5.5",
     "duration_seconds": 121.5},
    {"id": "clip-b", "artifact_id": "art_b", "audio_url": "https://cdn.beatra.ai/b.wav",
     "title": "Night Drive", "duration_seconds": 118}
  ]},
  "error": null,
  "usage": {"lines": [{"description": "suno-5.5 music task", "quantity": 1, "credits": "80.0000"}]},
  "billing": {"charged_credits": "80.0000", "charged_credits_usd_reference": "0.0800",
              "currency": "credits"},
  "started_at": "2026-11-23T10:00:01.000Z", "completed_at": "2026-11-23T10:01:00.000Z",
  "cancel_requested_at": null
})";

constexpr char kSucceededMinimax[] = R"({
  "task_id": "task_m1", "model": "minimax-music-2.6", "status": "succeeded",
  "progress": {"percent": 100, "stage": "completed", "message": "Done"},
  "output": {"clips": [{"id": "clip-m", "artifact_id": "art_m",
                        "audio_url": "https://cdn.beatra.ai/m.wav", "duration_seconds": 60}]},
  "billing": {"charged_credits": 50, "charged_credits_usd_reference": 0.05, "currency": "credits"}
})";

constexpr char kFailed[] = R"({
  "task_id": "task_f", "model": "suno-5.5", "status": "failed",
  "progress": {"percent": 50, "stage": "failed", "message": "Generation failed"},
  "output": null,
  "error": {"code": "content_policy_violation", "message": "The prompt was refused",
            "retryable": false},
  "billing": {"charged_credits": "80.0000", "charged_credits_usd_reference": "0.0800",
              "refunded_credits": "80.0000", "refunded_credits_usd_reference": "0.0800",
              "currency": "credits"},
  "completed_at": "2026-11-23T10:00:30.000Z"
})";

constexpr char kCanceled[] = R"({
  "task_id": "task_c", "model": "minimax-music-2.6", "status": "canceled",
  "progress": {"percent": 30, "stage": "canceled", "message": "Canceled on request"},
  "output": null, "error": null,
  "billing": {"charged_credits": "50.0000", "refunded_credits": "50.0000", "currency": "credits"},
  "cancel_requested_at": "2026-11-23T10:00:10.000Z", "completed_at": "2026-11-23T10:00:10.000Z"
})";

TEST(BeatraTaskTest, Queued) {
  auto u = ParseBeatraTask(kQueued);
  ASSERT_TRUE(u.ok()) << u.status();
  EXPECT_EQ(u->provider_task_id, "task_7f3a");
  EXPECT_EQ(u->state, ProviderState::kPending);
  EXPECT_EQ(u->provider_status, "queued");
  EXPECT_EQ(u->progress_percent, 0);
  EXPECT_EQ(u->progress_stage, "queued");
  EXPECT_EQ(u->progress_message, "Waiting for a worker");
  EXPECT_TRUE(u->clips.empty());
  EXPECT_TRUE(u->has_billing);
  EXPECT_EQ(u->charged_micros, 80'000'000);
  EXPECT_EQ(u->refunded_micros, 0);
  EXPECT_EQ(u->billing_currency, "CREDITS");
}

TEST(BeatraTaskTest, RunningWithProgress) {
  auto u = ParseBeatraTask(kRunning);
  ASSERT_TRUE(u.ok()) << u.status();
  EXPECT_EQ(u->state, ProviderState::kRunning);
  EXPECT_EQ(u->progress_percent, 42);
  EXPECT_EQ(u->progress_stage, "composing");
  EXPECT_EQ(u->progress_message, "Composing the arrangement");
  EXPECT_EQ(u->error_code, StatusCode::kOk);
}

TEST(BeatraTaskTest, SucceededSunoHasTwoClipsWithArtifacts) {
  auto u = ParseBeatraTask(kSucceededSuno);
  ASSERT_TRUE(u.ok()) << u.status();
  EXPECT_EQ(u->state, ProviderState::kSucceeded);
  EXPECT_TRUE(u->first_clip_ready);
  ASSERT_EQ(u->clips.size(), 2u);
  const music::v1::Clip& a = u->clips[0];
  EXPECT_EQ(a.clip_id(), "clip-a");
  EXPECT_EQ(a.artifact_id(), "art_a");
  EXPECT_EQ(a.audio_url(), "https://cdn.beatra.ai/a.wav");
  EXPECT_EQ(a.stream_audio_url(), "https://cdn.beatra.ai/a.m3u8");
  EXPECT_EQ(a.image_url(), "https://cdn.beatra.ai/a.png");
  EXPECT_EQ(a.title(), "Night Drive");
  EXPECT_EQ(a.tags(), "synthwave");
  EXPECT_EQ(a.lyrics(), "[Verse] la");
  EXPECT_EQ(a.model_name(), "suno-5.5");
  EXPECT_DOUBLE_EQ(a.duration_seconds(), 121.5);
  EXPECT_EQ(u->clips[1].artifact_id(), "art_b");
  EXPECT_DOUBLE_EQ(u->clips[1].duration_seconds(), 118);
  EXPECT_EQ(u->progress_percent, 100);
  EXPECT_EQ(u->charged_micros, 80'000'000);
}

TEST(BeatraTaskTest, SucceededMinimaxOneClipNumericCredits) {
  auto u = ParseBeatraTask(kSucceededMinimax);
  ASSERT_TRUE(u.ok()) << u.status();
  ASSERT_EQ(u->clips.size(), 1u);
  EXPECT_EQ(u->clips[0].artifact_id(), "art_m");
  EXPECT_TRUE(u->has_billing);
  EXPECT_EQ(u->charged_micros, 50'000'000);
  EXPECT_EQ(u->billing_currency, "CREDITS");
}

TEST(BeatraTaskTest, FailedCarriesErrorAndRefund) {
  auto u = ParseBeatraTask(kFailed);
  ASSERT_TRUE(u.ok()) << u.status();
  EXPECT_EQ(u->state, ProviderState::kFailed);
  EXPECT_EQ(u->error_code, StatusCode::kInvalidArgument);
  EXPECT_EQ(u->provider_error_code, "content_policy_violation");
  EXPECT_NE(u->error_message.find("The prompt was refused"), std::string::npos);
  EXPECT_EQ(u->charged_micros, 80'000'000);
  EXPECT_EQ(u->refunded_micros, 80'000'000);
  EXPECT_FALSE(u->retryable);
}

TEST(BeatraTaskTest, CanceledIsRefunded) {
  auto u = ParseBeatraTask(kCanceled);
  ASSERT_TRUE(u.ok()) << u.status();
  EXPECT_EQ(u->state, ProviderState::kCanceled);
  EXPECT_EQ(u->refunded_micros, 50'000'000);
  EXPECT_EQ(u->progress_stage, "canceled");
}

TEST(BeatraTaskTest, TaskErrorCodes) {
  struct Case {
    const char* code;
    bool retryable;
    StatusCode want;
  } cases[] = {
      {"generation_failed", false, StatusCode::kInternal},
      {"generation_timeout", false, StatusCode::kDeadlineExceeded},
      {"insufficient_balance", false, StatusCode::kFailedPrecondition},
      {"billing_failed", true, StatusCode::kUnavailable},
      {"something_new", true, StatusCode::kUnavailable},
      {"something_new", false, StatusCode::kInternal},
  };
  for (const Case& c : cases) {
    const std::string body =
        absl::StrCat(R"({"task_id":"t","status":"failed","error":{"code":")", c.code,
                     R"(","message":"m","retryable":)", c.retryable ? "true" : "false", "}}");
    auto u = ParseBeatraTask(body);
    ASSERT_TRUE(u.ok()) << u.status();
    EXPECT_EQ(u->error_code, c.want) << c.code;
    EXPECT_EQ(u->provider_error_code, c.code);
    // The flag itself reaches the engine, which resubmits a retryable failure.
    EXPECT_EQ(u->retryable, c.retryable) << c.code;
  }
}

TEST(BeatraTaskTest, FailedWithoutErrorObjectIsInternal) {
  auto u = ParseBeatraTask(R"({"task_id":"t","status":"failed"})");
  ASSERT_TRUE(u.ok()) << u.status();
  EXPECT_EQ(u->state, ProviderState::kFailed);
  EXPECT_EQ(u->error_code, StatusCode::kInternal);
  EXPECT_FALSE(u->error_message.empty());
}

TEST(BeatraTaskTest, SucceededWithoutAudioStaysSucceededWithoutUrls) {
  // The service turns this into FAILED/INTERNAL; the adapter reports what it saw.
  auto u = ParseBeatraTask(
      R"({"task_id":"t","status":"succeeded","output":{"clips":[{"id":"c","artifact_id":"a","audio_url":""}]}})");
  ASSERT_TRUE(u.ok()) << u.status();
  EXPECT_EQ(u->state, ProviderState::kSucceeded);
  ASSERT_EQ(u->clips.size(), 1u);
  EXPECT_TRUE(u->clips[0].audio_url().empty());
  EXPECT_FALSE(u->first_clip_ready);

  auto none = ParseBeatraTask(R"({"task_id":"t","status":"succeeded","output":null})");
  ASSERT_TRUE(none.ok()) << none.status();
  EXPECT_EQ(none->state, ProviderState::kSucceeded);
  EXPECT_TRUE(none->clips.empty());
}

TEST(BeatraTaskTest, UnknownStatusIsKeptRawAndRunning) {
  auto u = ParseBeatraTask(R"({"task_id":"t","status":"warming_up"})");
  ASSERT_TRUE(u.ok()) << u.status();
  EXPECT_EQ(u->state, ProviderState::kRunning);
  EXPECT_EQ(u->provider_status, "warming_up");
  EXPECT_EQ(u->progress_percent, -1);
  EXPECT_FALSE(u->has_billing);
}

TEST(BeatraTaskTest, ClipWithoutIdUsesArtifactIdOrPosition) {
  auto u = ParseBeatraTask(
      R"({"task_id":"t","status":"succeeded","output":{"clips":[{"artifact_id":"art_1","audio_url":"u"},{"audio_url":"v"}]}})");
  ASSERT_TRUE(u.ok()) << u.status();
  ASSERT_EQ(u->clips.size(), 2u);
  EXPECT_EQ(u->clips[0].clip_id(), "art_1");
  EXPECT_EQ(u->clips[1].clip_id(), "t-1");
}

TEST(BeatraTaskTest, PercentIsClamped) {
  auto u = ParseBeatraTask(R"({"status":"running","progress":{"percent":140.2}})");
  ASSERT_TRUE(u.ok()) << u.status();
  EXPECT_EQ(u->progress_percent, 100);
  u = ParseBeatraTask(R"({"status":"running","progress":{"percent":-3}})");
  ASSERT_TRUE(u.ok()) << u.status();
  EXPECT_EQ(u->progress_percent, 0);
}

TEST(BeatraTaskTest, UnknownCurrencyReportsNoBilling) {
  auto u = ParseBeatraTask(
      R"({"status":"running","billing":{"charged_credits":"1.5","currency":"gems"}})");
  ASSERT_TRUE(u.ok()) << u.status();
  EXPECT_FALSE(u->has_billing);
}

TEST(BeatraTaskTest, BrokenBodiesAreInternal) {
  const std::string truncated(kSucceededSuno, sizeof(kSucceededSuno) / 2);
  const char* bodies[] = {
      "",
      "null",
      "[1,2]",
      "{",
      R"({"task_id":"t"})",                                  // no status
      R"({"status":7})",                                     // status not a string
      R"({"status":"running","task_id":5})",                 // task_id not a string
      R"({"status":"running","progress":"half"})",           // progress not an object
      R"({"status":"running","progress":{"percent":"4"}})",  // percent not a number
      R"({"status":"running","progress":{"stage":4}})",
      R"({"status":"succeeded","output":[]})",             // output not an object
      R"({"status":"succeeded","output":{"clips":{}}})",   // clips not an array
      R"({"status":"succeeded","output":{"clips":[5]}})",  // clip not an object
      R"({"status":"succeeded","output":{"clips":[{"audio_url":5}]}})",
      R"({"status":"succeeded","output":{"clips":[{"duration_seconds":"x"}]}})",
      R"({"status":"failed","error":"boom"})",  // error not an object
      R"({"status":"failed","error":{"code":1}})",
      R"({"status":"failed","error":{"code":"x","retryable":"yes"}})",
      R"({"status":"running","billing":[]})",
      R"({"status":"running","billing":{"charged_credits":true}})",
      R"({"status":"running","billing":{"charged_credits":"-1.0"}})",
      R"({"status":"running","billing":{"charged_credits":-1}})",
      R"({"status":"running","billing":{"charged_credits":"1e3"}})",
      R"({"status":"running","billing":{"charged_credits":1e300}})",
      R"({"status":"running","billing":{"charged_credits":"80","currency":3}})",
      R"({"status":"running","billing":{"charged_credits":"80","charged_credits_usd_reference":[]}})",
      R"({"status":"running","usage":{"lines":{}}})",
      R"({"status":"running","usage":3})",
      R"({"status":"running","started_at":12})",
  };
  for (const char* body : bodies) {
    auto u = ParseBeatraTask(body);
    EXPECT_EQ(u.status().code(), StatusCode::kInternal) << body;
  }
  EXPECT_EQ(ParseBeatraTask(truncated).status().code(), StatusCode::kInternal);
}

TEST(BeatraTaskTest, DeepNestingDoesNotCrash) {
  std::string deep(100000, '[');
  auto u = ParseBeatraTask(absl::StrCat(R"({"status":"running","x":)", deep));
  EXPECT_EQ(u.status().code(), StatusCode::kInternal);
}

// --- Create and upload answers -----------------------------------------------------------------

TEST(BeatraCreateAnswerTest, ReadsTaskId) {
  auto id = ParseBeatraCreateAnswer(kQueued);
  ASSERT_TRUE(id.ok()) << id.status();
  EXPECT_EQ(*id, "task_7f3a");
}

TEST(BeatraCreateAnswerTest, BrokenAnswersAreInternal) {
  for (const char* body : {"", "{", "[]", R"({"status":"queued"})", R"({"task_id":""})",
                           R"({"task_id":42})", R"({"task_id":"task_1")"}) {
    EXPECT_EQ(ParseBeatraCreateAnswer(body).status().code(), StatusCode::kInternal) << body;
  }
}

TEST(BeatraUploadAnswerTest, ReadsArtifactId) {
  auto id = ParseBeatraUploadAnswer(
      R"({"artifact_id":"art_9","filename":"ref.wav","content_type":"audio/wav","size_bytes":1024})");
  ASSERT_TRUE(id.ok()) << id.status();
  EXPECT_EQ(*id, "art_9");
  for (const char* body : {"", "{}", R"({"artifact_id":1})", R"({"artifact_id":""})", "{\"a"}) {
    EXPECT_EQ(ParseBeatraUploadAnswer(body).status().code(), StatusCode::kInternal) << body;
  }
}

// --- Error envelope and table ------------------------------------------------------------------

TEST(BeatraErrorEnvelopeTest, ReadsAllFields) {
  auto e = ParseBeatraErrorEnvelope(
      R"({"error":{"code":"rate_limited","message":"slow down","retryable":true,"request_id":"req_1"}})");
  ASSERT_TRUE(e.has_value());
  EXPECT_EQ(e->code, "rate_limited");
  EXPECT_EQ(e->message, "slow down");
  EXPECT_TRUE(e->retryable);
  EXPECT_EQ(e->request_id, "req_1");
}

TEST(BeatraErrorEnvelopeTest, NotAnEnvelope) {
  for (const char* body : {"", "<html>502</html>", "{}", R"({"error":"x"})",
                           R"({"error":{"message":"no code"}})", R"({"error":{"code":5}})"}) {
    EXPECT_FALSE(ParseBeatraErrorEnvelope(body).has_value()) << body;
  }
  // Wrong-typed optional members are dropped, the code is kept.
  auto e = ParseBeatraErrorEnvelope(R"({"error":{"code":"x","message":5,"retryable":"yes"}})");
  ASSERT_TRUE(e.has_value());
  EXPECT_EQ(e->code, "x");
  EXPECT_TRUE(e->message.empty());
  EXPECT_FALSE(e->retryable);
}

TEST(BeatraErrorTableTest, CodesAndStatuses) {
  EXPECT_EQ(BeatraHttpErrorCode("insufficient_balance", false, 402),
            StatusCode::kFailedPrecondition);
  EXPECT_EQ(BeatraHttpErrorCode("billing_failed", true, 500), StatusCode::kUnavailable);
  EXPECT_EQ(BeatraHttpErrorCode("invalid_request", false, 422), StatusCode::kInvalidArgument);
  EXPECT_EQ(BeatraHttpErrorCode("unsupported_option", false, 422), StatusCode::kInvalidArgument);
  EXPECT_EQ(BeatraHttpErrorCode("unsupported_model", false, 400), StatusCode::kFailedPrecondition);
  EXPECT_EQ(BeatraHttpErrorCode("rate_limited", true, 429), StatusCode::kResourceExhausted);
  EXPECT_EQ(BeatraHttpErrorCode("brand_new", true, 418), StatusCode::kUnavailable);
  EXPECT_EQ(BeatraHttpErrorCode("brand_new", false, 418), StatusCode::kFailedPrecondition);
  EXPECT_EQ(BeatraHttpErrorCode("", false, 401), StatusCode::kUnauthenticated);
  EXPECT_EQ(BeatraHttpErrorCode("", false, 403), StatusCode::kPermissionDenied);
  EXPECT_EQ(BeatraHttpErrorCode("", false, 409), StatusCode::kFailedPrecondition);
  EXPECT_EQ(BeatraHttpErrorCode("", false, 413), StatusCode::kInvalidArgument);
  EXPECT_EQ(BeatraHttpErrorCode("", false, 503), StatusCode::kUnavailable);
  EXPECT_EQ(BeatraHttpErrorCode("", false, 302), StatusCode::kInternal);
}

// --- Exact credits -----------------------------------------------------------------------------

TEST(DecimalToMicrosTest, ExactValues) {
  EXPECT_EQ(DecimalToMicros("80.0000"), 80'000'000);
  EXPECT_EQ(DecimalToMicros("50"), 50'000'000);
  EXPECT_EQ(DecimalToMicros("0.0800"), 80'000);
  EXPECT_EQ(DecimalToMicros("0.05"), 50'000);
  EXPECT_EQ(DecimalToMicros("0.000001"), 1);
  EXPECT_EQ(DecimalToMicros("0.0000005"), 1);  // rounded half up
  EXPECT_EQ(DecimalToMicros("0.0000004"), 0);
  EXPECT_EQ(DecimalToMicros("1234567.891011"), 1'234'567'891'011);
}

TEST(DecimalToMicrosTest, RejectsNonDecimals) {
  for (const char* s : {"", "-1", "+1", "1e3", ".5", "5.", "1,5", "abc", " 1", "1 ",
                        "9000000000000", "99999999999999999999"}) {
    EXPECT_FALSE(DecimalToMicros(s).has_value()) << s;
  }
}

}  // namespace
}  // namespace music::adapters::beatra
