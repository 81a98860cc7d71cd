// PiAPI answer and webhook parsing: the seed's example payloads (seed 003, copied as JSON) and
// broken variants of them.
#include "adapters/piapi/piapi_json.h"

#include <limits>
#include <string>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_replace.h"
#include "gtest/gtest.h"

namespace music::adapters::piapi {
namespace {

using absl::StatusCode;

// Seed 003 "Get Task" 200 example (YAML in the seed, here as JSON, unchanged).
constexpr char kSeedGetTask[] = R"json({
  "code": 200,
  "data": {
    "task_id": "7088bf9d-6edb-4fab-b1fd-83afc64dde91",
    "model": "suno",
    "task_type": "generate_music",
    "status": "completed",
    "config": {"service_mode": "public", "webhook_config": {"endpoint": "", "secret": ""}},
    "input": {},
    "output": {
      "clips": {
        "7d7231fa-5015-4f71-8d0b-fd446f1dd446": {},
        "a43c955a-3474-47f3-a550-57bf7c395c48": {
          "id": "",
          "video_url": "https://xxx.mp4",
          "audio_url": "https://xxx.mp3",
          "image_url": "https://xxx.jpeg",
          "image_large_url": "https://xxx.jpeg",
          "is_video_pending": false,
          "major_model_version": "v3",
          "model_name": "chirp-v3",
          "metadata": {
            "tags": "",
            "prompt": "",
            "gpt_description_prompt": "",
            "audio_prompt_id": "",
            "history": null,
            "concat_history": null,
            "type": "gen",
            "duration": 102,
            "refund_credits": false,
            "stream": true,
            "error_type": "",
            "error_message": ""
          },
          "is_liked": false,
          "user_id": "",
          "display_name": "",
          "handle": "",
          "is_handle_updated": false,
          "is_trashed": false,
          "reaction": null,
          "created_at": "",
          "status": "complete",
          "title": "",
          "play_count": 0,
          "upvote_count": 0,
          "is_public": false
        }
      }
    },
    "meta": {},
    "detail": null,
    "logs": [],
    "error": {"code": 0, "raw_message": "", "message": "", "detail": null}
  },
  "message": "success"
})json";

// Seed 003 "Unified-Task-Response" x-examples "Example 1" (pending, output null).
constexpr char kSeedPending[] = R"json({
  "code": 200,
  "data": {
    "task_id": "49638cd2-4689-4f33-9336-164a8f6b1111",
    "model": "Qubico/flux1-dev",
    "task_type": "txt2img",
    "status": "pending",
    "input": {"prompt": "a bear"},
    "output": null,
    "meta": {
      "account_id": 0,
      "account_name": "Qubico_test_user",
      "created_at": "2024-08-16T16:13:21.194049Z",
      "started_at": "",
      "completed_at": ""
    },
    "detail": null,
    "logs": [],
    "error": {"code": 0, "message": ""}
  },
  "message": "success"
})json";

// A completed music-u task with billing (seed 003 meta.usage {type, frozen, consume}; $0.05 per
// generation, CONTRACT-NOTES).
constexpr char kCompletedWithUsage[] = R"json({
  "code": 200,
  "data": {
    "task_id": "t-1", "model": "music-u", "task_type": "generate_music", "status": "Completed",
    "output": {"clips": {
      "c1": {"id": "c1", "audio_url": "https://a/c1.mp3", "image_url": "https://a/c1.jpg",
             "title": "Night", "model_name": "udio-32",
             "metadata": {"tags": "piano, calm", "prompt": "[Verse] hi", "duration": 32.5}},
      "c2": {"id": "", "audio_url": "https://a/c2.mp3", "title": "Night",
             "metadata": {"duration": 33}}
    }},
    "meta": {"usage": {"type": "usd", "frozen": 0, "consume": 0.05},
             "is_using_private_pool": false},
    "detail": null, "logs": [], "error": {"code": 0, "message": ""}
  },
  "message": "success"
})json";

TEST(PiapiJsonTest, SeedGetTaskExample) {
  absl::StatusOr<ProviderUpdate> update = ParsePiapiTaskAnswer(kSeedGetTask);
  ASSERT_TRUE(update.ok()) << update.status();
  EXPECT_EQ(update->provider_task_id, "7088bf9d-6edb-4fab-b1fd-83afc64dde91");
  EXPECT_EQ(update->state, ProviderState::kSucceeded);
  EXPECT_EQ(update->provider_status, "Completed");  // canonical spelling
  // The empty `{}` clip is skipped; the other's empty id is replaced by its key.
  ASSERT_EQ(update->clips.size(), 1u);
  const music::v1::Clip& clip = update->clips[0];
  EXPECT_EQ(clip.clip_id(), "a43c955a-3474-47f3-a550-57bf7c395c48");
  EXPECT_EQ(clip.audio_url(), "https://xxx.mp3");
  EXPECT_EQ(clip.video_url(), "https://xxx.mp4");
  EXPECT_EQ(clip.image_url(), "https://xxx.jpeg");
  EXPECT_EQ(clip.model_name(), "chirp-v3");
  EXPECT_DOUBLE_EQ(clip.duration_seconds(), 102);
  EXPECT_EQ(update->error_code, StatusCode::kOk);
  EXPECT_FALSE(update->has_billing);  // meta {} carries no usage
}

TEST(PiapiJsonTest, SeedPendingExample) {
  absl::StatusOr<ProviderUpdate> update = ParsePiapiTaskAnswer(kSeedPending);
  ASSERT_TRUE(update.ok()) << update.status();
  EXPECT_EQ(update->state, ProviderState::kPending);
  EXPECT_EQ(update->provider_task_id, "49638cd2-4689-4f33-9336-164a8f6b1111");
  EXPECT_TRUE(update->clips.empty());
  EXPECT_FALSE(update->has_billing);
}

TEST(PiapiJsonTest, CompletedWithUsageAndMetadata) {
  absl::StatusOr<ProviderUpdate> update = ParsePiapiTaskAnswer(kCompletedWithUsage);
  ASSERT_TRUE(update.ok()) << update.status();
  EXPECT_EQ(update->state, ProviderState::kSucceeded);
  ASSERT_EQ(update->clips.size(), 2u);
  EXPECT_EQ(update->clips[0].clip_id(), "c1");
  EXPECT_EQ(update->clips[0].tags(), "piano, calm");
  EXPECT_EQ(update->clips[0].lyrics(), "[Verse] hi");
  EXPECT_EQ(update->clips[0].title(), "Night");
  EXPECT_EQ(update->clips[0].model_name(), "udio-32");
  EXPECT_DOUBLE_EQ(update->clips[0].duration_seconds(), 32.5);
  EXPECT_EQ(update->clips[1].clip_id(), "c2");
  // CONTRACT-NOTES "PiAPI": "The unit of `meta.usage.consume` is not documented: do not book it
  // as money without a configured conversion".
  EXPECT_FALSE(update->has_billing);
  EXPECT_EQ(update->charged_micros, 0);
  // With a conversion configured (here 1 USD per unit), consume is the provider's charge.
  update = ParsePiapiTaskAnswer(kCompletedWithUsage, 1.0);
  ASSERT_TRUE(update.ok()) << update.status();
  EXPECT_TRUE(update->has_billing);
  EXPECT_EQ(update->charged_micros, 50000);
  EXPECT_EQ(update->refunded_micros, 0);
  EXPECT_EQ(update->billing_currency, "USD");
}

TEST(PiapiJsonTest, ListFormsSongsAndClips) {
  const std::string songs = R"json({"code": 200, "data": {"task_id": "t", "status": "Completed",
    "output": {"songs": [
      {"id": "s1", "title": "One", "song_path": "https://a/s1.mp3", "image_path": "https://a/1.jpg",
       "lyrics": "la la", "tags": ["folk", "acoustic"], "duration": 131.2},
      {}]}}})json";
  absl::StatusOr<ProviderUpdate> update = ParsePiapiTaskAnswer(songs);
  ASSERT_TRUE(update.ok()) << update.status();
  ASSERT_EQ(update->clips.size(), 1u);
  EXPECT_EQ(update->clips[0].clip_id(), "s1");
  EXPECT_EQ(update->clips[0].audio_url(), "https://a/s1.mp3");
  EXPECT_EQ(update->clips[0].image_url(), "https://a/1.jpg");
  EXPECT_EQ(update->clips[0].lyrics(), "la la");
  EXPECT_EQ(update->clips[0].tags(), "folk, acoustic");
  EXPECT_DOUBLE_EQ(update->clips[0].duration_seconds(), 131.2);

  const std::string clips = R"json({"code": 200, "data": {"task_id": "t", "status": "completed",
    "output": {"clips": [{"id": "k1", "audio_url": "https://a/k1.mp3"},
                         {"id": "k2", "audio_url": "https://a/k2.mp3"}]}}})json";
  update = ParsePiapiTaskAnswer(clips);
  ASSERT_TRUE(update.ok()) << update.status();
  ASSERT_EQ(update->clips.size(), 2u);
  EXPECT_EQ(update->clips[1].clip_id(), "k2");
  EXPECT_EQ(update->clips[1].audio_url(), "https://a/k2.mp3");
}

TEST(PiapiJsonTest, FailedTaskWithErrorAndZeroConsume) {
  const std::string body = R"json({"code": 200, "data": {"task_id": "t", "status": "Failed",
    "output": null, "meta": {"usage": {"type": "usd", "frozen": 0, "consume": 0}},
    "error": {"code": 10000, "raw_message": "raw", "message": "failed to freeze point"}},
    "message": "success"})json";
  absl::StatusOr<ProviderUpdate> update = ParsePiapiTaskAnswer(body);
  ASSERT_TRUE(update.ok()) << update.status();
  EXPECT_EQ(update->state, ProviderState::kFailed);
  EXPECT_EQ(update->error_code, StatusCode::kFailedPrecondition);
  EXPECT_EQ(update->provider_error_code, "10000");
  EXPECT_EQ(update->error_message, "failed to freeze point");
  EXPECT_FALSE(update->has_billing);  // no conversion configured
  update = ParsePiapiTaskAnswer(body, 0.00000125);
  ASSERT_TRUE(update.ok()) << update.status();
  EXPECT_TRUE(update->has_billing);
  EXPECT_EQ(update->charged_micros, 0);

  const std::string generic = R"json({"code": 200, "data": {"task_id": "t", "status": "failed",
    "error": {"code": 500, "raw_message": "upstream broke", "message": ""}}})json";
  update = ParsePiapiTaskAnswer(generic);
  ASSERT_TRUE(update.ok()) << update.status();
  EXPECT_EQ(update->error_code, StatusCode::kInternal);
  EXPECT_EQ(update->provider_error_code, "500");
  EXPECT_EQ(update->error_message, "upstream broke");

  const std::string bare = R"json({"code": 200, "data": {"task_id": "t", "status": "Failed"}})json";
  update = ParsePiapiTaskAnswer(bare);
  ASSERT_TRUE(update.ok()) << update.status();
  EXPECT_EQ(update->state, ProviderState::kFailed);
  EXPECT_EQ(update->error_code, StatusCode::kInternal);
  EXPECT_FALSE(update->error_message.empty());
}

TEST(PiapiJsonTest, CompletedWithoutAudioStaysSucceededWithoutAudioUrl) {
  const std::string body = R"json({"code": 200, "data": {"task_id": "t", "status": "Completed",
    "output": {"clips": {"c1": {"id": "c1", "audio_url": ""}, "c2": {}}}}})json";
  absl::StatusOr<ProviderUpdate> update = ParsePiapiTaskAnswer(body);
  ASSERT_TRUE(update.ok()) << update.status();
  EXPECT_EQ(update->state, ProviderState::kSucceeded);
  for (const auto& clip : update->clips) EXPECT_TRUE(clip.audio_url().empty());

  update = ParsePiapiTaskAnswer(
      R"json({"code": 200, "data": {"task_id": "t", "status": "Completed", "output": null}})json");
  ASSERT_TRUE(update.ok()) << update.status();
  EXPECT_EQ(update->state, ProviderState::kSucceeded);
  EXPECT_TRUE(update->clips.empty());
}

TEST(PiapiJsonTest, UnknownStatusIsRunning) {
  absl::StatusOr<ProviderUpdate> update = ParsePiapiTaskAnswer(
      R"json({"code": 200, "data": {"task_id": "t", "status": "Retrying"}})json");
  ASSERT_TRUE(update.ok()) << update.status();
  EXPECT_EQ(update->state, ProviderState::kRunning);
  EXPECT_EQ(update->provider_status, "Retrying");
}

TEST(PiapiJsonTest, BrokenAnswersAreInternal) {
  const std::string seed = kSeedGetTask;
  const std::string broken[] = {
      "",
      "null",
      "[]",
      "{",
      seed.substr(0, seed.size() / 2),                                      // truncated
      R"({"data": {"task_id": "t", "status": "Completed"}})",               // no code
      R"({"code": "x", "data": {"task_id": "t", "status": "Completed"}})",  // code not int
      R"({"code": 500, "data": {"task_id": "t", "status": "Completed"}})",  // code not 200
      R"({"code": 200})",                                                   // no data
      R"({"code": 200, "data": []})",                                       // data not object
      R"({"code": 200, "data": {"task_id": "t"}})",                         // no status
      R"({"code": 200, "data": {"task_id": "t", "status": 3}})",            // status not string
      R"({"code": 200, "data": {"task_id": 7, "status": "Pending"}})",      // id not string
      R"({"code": 200, "data": {"status": "Completed", "output": []}})",    // output not object
      R"({"code": 200, "data": {"status": "Completed", "output": {"clips": 5}}})",
      R"({"code": 200, "data": {"status": "Completed", "output": {"clips": {"a": 5}}}})",
      R"({"code": 200, "data": {"status": "Completed", "output": {"songs": {}}}})",
      R"({"code": 200, "data": {"status": "Completed",
          "output": {"clips": {"a": {"audio_url": 5}}}}})",
      R"({"code": 200, "data": {"status": "Completed",
          "output": {"clips": {"a": {"metadata": {"duration": "long"}}}}}})",
      R"({"code": 200, "data": {"status": "Completed",
          "output": {"clips": {"a": {"metadata": []}}}}})",
      R"({"code": 200, "data": {"status": "Completed", "meta": {"usage": []}}})",
      R"({"code": 200, "data": {"status": "Completed", "meta": {"usage": {"consume": "0.05"}}}})",
      R"({"code": 200, "data": {"status": "Completed", "meta": {"usage": {"consume": -1}}}})",
      R"({"code": 200, "data": {"status": "Completed", "meta": {"usage": {"consume": 1e300}}}})",
      R"({"code": 200, "data": {"status": "Failed", "error": {"code": [1]}}})",
      R"({"code": 200, "data": {"status": "Failed", "error": "boom"}})",
  };
  for (const std::string& body : broken) {
    absl::StatusOr<ProviderUpdate> update = ParsePiapiTaskAnswer(body, 1.0);
    EXPECT_EQ(update.status().code(), StatusCode::kInternal) << body;
  }
}

TEST(PiapiJsonTest, CreateAnswer) {
  absl::StatusOr<std::string> id = ParsePiapiCreateAnswer(
      R"({"code": 200, "data": {"task_id": "abc", "status": "pending"}, "message": "success"})");
  ASSERT_TRUE(id.ok()) << id.status();
  EXPECT_EQ(*id, "abc");
  for (const char* body :
       {"", "{", R"({"code": 200})", R"({"code": 200, "data": {}})",
        R"({"code": 200, "data": {"task_id": ""}})", R"({"code": 200, "data": {"task_id": 5}})",
        R"({"code": 400, "data": {"task_id": "abc"}})"}) {
    EXPECT_EQ(ParsePiapiCreateAnswer(body).status().code(), StatusCode::kInternal) << body;
  }
}

TEST(PiapiJsonTest, Envelope) {
  std::optional<PiapiEnvelope> env = ParsePiapiEnvelope(
      R"({"code": 500, "data": {"error": {"code": 10000, "raw_message": "r",
          "message": "failed to freeze point"}}, "message": "failed"})");
  ASSERT_TRUE(env.has_value());
  EXPECT_EQ(env->code, 500);
  EXPECT_EQ(env->message, "failed");
  EXPECT_EQ(env->error_code, 10000);
  EXPECT_EQ(env->error_message, "failed to freeze point");
  env = ParsePiapiEnvelope(R"({"code": "x", "message": 5, "data": 3})");
  ASSERT_TRUE(env.has_value());
  EXPECT_FALSE(env->code.has_value());
  EXPECT_FALSE(env->error_code.has_value());
  EXPECT_FALSE(ParsePiapiEnvelope("<html>502</html>").has_value());
}

TEST(PiapiJsonTest, Webhook) {
  // CONTRACT-NOTES "PiAPI": {"timestamp": ..., "data": <the Get Task data object>}.
  const std::string seed = kSeedGetTask;
  const size_t data_at = seed.find("\"data\":");
  const size_t data_end = seed.rfind(",\n  \"message\"");
  const std::string data = seed.substr(data_at + 7, data_end - data_at - 7);
  absl::StatusOr<PiapiCallback> callback =
      ParsePiapiCallback(absl::StrCat(R"({"timestamp": 1723018391, "data": )", data, "}"));
  ASSERT_TRUE(callback.ok()) << callback.status();
  EXPECT_EQ(callback->timestamp, "1723018391");
  EXPECT_EQ(callback->update.state, ProviderState::kSucceeded);
  EXPECT_EQ(callback->update.provider_task_id, "7088bf9d-6edb-4fab-b1fd-83afc64dde91");
  ASSERT_EQ(callback->update.clips.size(), 1u);
  EXPECT_EQ(callback->update.clips[0].audio_url(), "https://xxx.mp3");

  callback = ParsePiapiCallback(
      R"({"timestamp": 1723018391.25, "data": {"task_id": "t", "status": "processing"}})");
  ASSERT_TRUE(callback.ok()) << callback.status();
  EXPECT_EQ(callback->timestamp, "1723018391.25");
  EXPECT_EQ(callback->update.state, ProviderState::kRunning);

  for (const char* body : {"", "{", "[]", R"({"data": {"task_id": "t", "status": "pending"}})",
                           R"({"timestamp": "1", "data": {"task_id": "t", "status": "pending"}})",
                           R"({"timestamp": 1})", R"({"timestamp": 1, "data": []})",
                           R"({"timestamp": 1, "data": {"status": "pending"}})",
                           R"({"timestamp": 1, "data": {"task_id": "t"}})",
                           R"({"timestamp": 1, "data": {"task_id": "t", "status": "completed",
            "output": {"clips": 1}}})"}) {
    EXPECT_EQ(ParsePiapiCallback(body).status().code(), StatusCode::kInvalidArgument) << body;
  }
}

TEST(PiapiJsonTest, UsdToMicros) {
  EXPECT_EQ(UsdToMicros(0.05), 50000);
  EXPECT_EQ(UsdToMicros(0), 0);
  EXPECT_EQ(UsdToMicros(0.1 + 0.2), 300000);
  EXPECT_EQ(UsdToMicros(1.000001), 1000001);
  EXPECT_EQ(UsdToMicros(12.345678), 12345678);
  EXPECT_FALSE(UsdToMicros(-0.01).has_value());
  EXPECT_FALSE(UsdToMicros(std::numeric_limits<double>::infinity()).has_value());
  EXPECT_FALSE(UsdToMicros(std::numeric_limits<double>::quiet_NaN()).has_value());
  EXPECT_FALSE(UsdToMicros(2e9).has_value());
}

// Where the Suno-style and the Udio forms both name a field, which one wins (the precedence the
// reader had when a later member overwrote an earlier one, kept under JsonReader's contract): an
// empty or absent preferred member gives way to the next.
TEST(PiapiJsonTest, ClipFieldPrecedence) {
  const std::string both = R"json({"code": 200, "data": {"task_id": "t", "status": "Completed",
    "output": {"clips": [
      {"id": "id1", "song_id": "song1", "audio_url": "https://a/u.mp3", "song_path": "https://a/p.mp3",
       "image_url": "https://a/u.jpg", "image_path": "https://a/p.jpg",
       "image_large_url": "https://a/l.jpg", "tags": ["top"], "lyrics": "top lyrics",
       "duration": 0, "metadata": {"tags": "meta", "prompt": "meta lyrics", "duration": 9}},
      {"id": "", "song_id": "song2", "audio_url": "", "song_path": "https://a/p2.mp3",
       "image_url": "", "image_path": "", "image_large_url": "https://a/l2.jpg", "tags": "",
       "metadata": {"tags": "meta", "prompt": "meta lyrics", "duration": 9}},
      {"song_id": "song3", "image_path": "https://a/p3.jpg", "image_large_url": "https://a/l3.jpg",
       "tags": [], "lyrics": null}]}}})json";
  absl::StatusOr<ProviderUpdate> update = ParsePiapiTaskAnswer(both);
  ASSERT_TRUE(update.ok()) << update.status();
  ASSERT_EQ(update->clips.size(), 3u);
  const music::v1::Clip& first = update->clips[0];
  EXPECT_EQ(first.clip_id(), "id1");
  EXPECT_EQ(first.audio_url(), "https://a/u.mp3");
  EXPECT_EQ(first.image_url(), "https://a/u.jpg");
  EXPECT_EQ(first.tags(), "top");
  EXPECT_EQ(first.lyrics(), "top lyrics");
  EXPECT_EQ(first.duration_seconds(), 0);  // a top-level duration wins even when 0
  const music::v1::Clip& second = update->clips[1];
  EXPECT_EQ(second.clip_id(), "song2");
  EXPECT_EQ(second.audio_url(), "https://a/p2.mp3");
  EXPECT_EQ(second.image_url(), "https://a/l2.jpg");
  EXPECT_EQ(second.tags(), "meta");
  EXPECT_EQ(second.lyrics(), "meta lyrics");
  EXPECT_EQ(second.duration_seconds(), 9);
  const music::v1::Clip& third = update->clips[2];
  EXPECT_EQ(third.clip_id(), "song3");
  EXPECT_EQ(third.image_url(), "https://a/p3.jpg");
  EXPECT_EQ(third.tags(), "");
  EXPECT_EQ(third.lyrics(), "");

  // Every present member is type-checked, the one that would lose too.
  const std::string wrong = R"json({"code": 200, "data": {"task_id": "t", "status": "Completed",
    "output": {"clips": [{"id": "id1", "song_id": 7}]}}})json";
  EXPECT_EQ(ParsePiapiTaskAnswer(wrong).status().code(), StatusCode::kInternal);
}

// `error.message` wins over `error.raw_message` unless it is empty.
TEST(PiapiJsonTest, ErrorMessagePrecedence) {
  const std::string message = R"json({"code": 200, "data": {"task_id": "t", "status": "Failed",
    "error": {"code": 10000, "raw_message": "raw", "message": "cooked"}}})json";
  absl::StatusOr<ProviderUpdate> update = ParsePiapiTaskAnswer(message);
  ASSERT_TRUE(update.ok()) << update.status();
  EXPECT_EQ(update->error_message, "cooked");
  const std::string raw = R"json({"code": 200, "data": {"task_id": "t", "status": "Failed",
    "error": {"code": 10000, "raw_message": "raw", "message": ""}}})json";
  update = ParsePiapiTaskAnswer(raw);
  ASSERT_TRUE(update.ok()) << update.status();
  EXPECT_EQ(update->error_message, "raw");
}

}  // namespace
}  // namespace music::adapters::piapi
