// Signed callbacks: the emulator signs (X-Webhook-Signature), the server requires it; a forged
// delivery is refused and changes nothing.
#include "absl/strings/str_cat.h"
#include "tests/e2e/e2e_fixture.h"

namespace music::e2e {
namespace {

class SignedCallbackTest : public E2eTest {
 protected:
  void ConfigureEmulator(emulator::EmulatorOptions& options) override {
    webhook_hmac_key_ = "e2e-webhook-key";
    options.kie_webhook_hmac_key = webhook_hmac_key_;
  }

  http::Response PostCallback(const std::string& task_id, const std::string& body,
                              const http::Headers& headers) {
    http::Request req;
    req.method = "POST";
    req.url =
        absl::StrCat("http://127.0.0.1:", server_->callback_port(), "/callbacks/kie/", task_id);
    req.body = body;
    req.headers = headers;
    req.headers.emplace_back("Content-Type", "application/json");
    auto resp = http::NewCurlHttpClient({})->Send(req);
    EXPECT_TRUE(resp.ok()) << resp.status();
    return resp.ok() ? *resp : http::Response{};
  }
};

TEST_F(SignedCallbackTest, SignedCallbacksAreAcceptedAndAdoptALostSubmission) {
  // The create answer is lost; only the (signed) callback can reveal the provider task.
  const auto done = WaitDone(CreateMusic("signed [emu:slow_create]").task_id());
  EXPECT_EQ(done.state(), music::v1::TASK_STATE_SUCCEEDED) << done.DebugString();
  EXPECT_EQ(emulator_->TaskCount(), 1);
}

TEST_F(SignedCallbackTest, ForgedCallbackIsRefusedAndChangesNothing) {
  const auto task = CreateMusic("forge target [emu:duration_ms=3000]");
  std::string provider_task_id;
  WaitFor(
      [&] {
        provider_task_id = GetTask(task.task_id()).provider_task_id();
        return !provider_task_id.empty();
      },
      absl::Seconds(2), "the provider task");
  ASSERT_FALSE(provider_task_id.empty());
  const auto before = GetTask(task.task_id());
  const std::string body = absl::StrCat(
      R"({"code":200,"msg":"All generated successfully.","data":{"callbackType":"complete",)",
      R"("task_id":")", provider_task_id,
      R"(","data":[{"id":"forged-clip","audio_url":"https://evil.example/x.mp3",)",
      R"("title":"Forged","duration":10}]}})");
  const std::string now = absl::StrCat(absl::ToUnixSeconds(RealClock::Get()->Now()));
  EXPECT_EQ(PostCallback(task.task_id(), body,
                         {{"X-Webhook-Timestamp", now}, {"X-Webhook-Signature", "Zm9yZ2Vk"}})
                .status,
            401);
  EXPECT_EQ(PostCallback(task.task_id(), body, {}).status, 401);  // unsigned
  EXPECT_EQ(PostCallback("tsk_unknown", body, {}).status, 404);
  // Unsigned garbage is refused before its body is even read.
  EXPECT_EQ(PostCallback(task.task_id(), "{not json", {}).status, 401);
  const auto after = GetTask(task.task_id());
  EXPECT_EQ(after.version(), before.version());
  EXPECT_NE(after.state(), music::v1::TASK_STATE_SUCCEEDED);
  // The real task still finishes, with the provider's clips, not the forged one.
  const auto done = WaitDone(task.task_id());
  ASSERT_EQ(done.state(), music::v1::TASK_STATE_SUCCEEDED);
  for (const auto& clip : done.clips()) EXPECT_NE(clip.clip_id(), "forged-clip");
}

}  // namespace
}  // namespace music::e2e
