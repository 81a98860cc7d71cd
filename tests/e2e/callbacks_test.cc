// Callbacks fail closed. Every callback URL the server hands a provider ends in the task's token
// (service/core/callback_token.h); a delivery without it is refused before its body is read,
// whether or not the provider signs anything. Where kie.ai signs (X-Webhook-Signature, a key
// configured), the signature is checked in addition.
#include <optional>

#include "absl/strings/str_cat.h"
#include "tests/e2e/e2e_fixture.h"

namespace music::e2e {
namespace {

// A forged kie.ai "complete" delivery for `provider_task_id`: an attacker's audio.
std::string ForgedComplete(const std::string& provider_task_id) {
  return absl::StrCat(
      R"({"code":200,"msg":"All generated successfully.","data":{"callbackType":"complete",)",
      R"("task_id":")", provider_task_id,
      R"(","data":[{"id":"forged-clip","audio_url":"https://evil.example/x.mp3",)",
      R"("title":"Forged","duration":10}]}})");
}

class CallbackTest : public E2eTest {
 protected:
  /// POSTs to kie.ai task `task_id`'s callback URL, with its token unless `token` says otherwise
  /// ("" for a URL without one).
  http::Response PostCallback(const std::string& task_id, const std::string& body,
                              const http::Headers& headers,
                              std::optional<std::string> token = std::nullopt) {
    http::Request req;
    req.method = "POST";
    const std::string t = token.value_or(CallbackTokenOf("kie", task_id));
    req.url = absl::StrCat("http://127.0.0.1:", server_->callback_port(), "/callbacks/kie/",
                           task_id, t.empty() ? "" : "/", t);
    req.body = body;
    req.headers = headers;
    req.headers.emplace_back("Content-Type", "application/json");
    auto resp = http::NewCurlHttpClient({})->Send(req);
    EXPECT_TRUE(resp.ok()) << resp.status();
    return resp.ok() ? *resp : http::Response{};
  }

  std::string WaitProviderTaskId(const std::string& task_id) {
    std::string provider_task_id;
    WaitFor(
        [&] {
          provider_task_id = GetTask(task_id).provider_task_id();
          return !provider_task_id.empty();
        },
        absl::Seconds(2), "the provider task");
    return provider_task_id;
  }

  /// The ledger rows of `task_id` other than its reservation (a settlement is a bill).
  std::vector<music::v1::BillingTransaction> RowsBeyondReserve(const std::string& task_id) {
    std::vector<music::v1::BillingTransaction> rows;
    for (const auto& t : AllTransactions()) {
      if (t.task_id() == task_id && t.kind() != music::v1::BILLING_TRANSACTION_KIND_RESERVE) {
        rows.push_back(t);
      }
    }
    return rows;
  }

  /// Tokens that are not `task_id`'s: none, another task's, another provider's, another
  /// secret's, and one character off.
  std::vector<std::string> WrongTokens(const std::string& task_id, const std::string& other) {
    std::string off = CallbackTokenOf("kie", task_id);
    off[5] = off[5] == 'A' ? 'B' : 'A';
    return {"", CallbackTokenOf("kie", other), CallbackTokenOf("piapi", task_id),
            service::CallbackToken("not-the-server-secret", "kie", task_id), off};
  }
};

// kie.ai with no signing key configured (the deployment default before this change): only the
// URL token stands between a forged "complete" and a billed SUCCEEDED task.
using UnsignedCallbackTest = CallbackTest;

TEST_F(UnsignedCallbackTest, ForgedCompleteWithoutTheTasksTokenIsRefusedAndNotBilled) {
  const auto task = CreateMusic("forge target [emu:duration_ms=3000]");
  const auto other = CreateMusic("another task [emu:duration_ms=3000]");
  const std::string provider_task_id = WaitProviderTaskId(task.task_id());
  ASSERT_FALSE(provider_task_id.empty());
  const auto before = GetTask(task.task_id());
  for (const std::string& token : WrongTokens(task.task_id(), other.task_id())) {
    EXPECT_EQ(PostCallback(task.task_id(), ForgedComplete(provider_task_id), {}, token).status,
              401)
        << "token \"" << token << "\"";
  }
  // Refused before the body is read: garbage is 401 too, not 400.
  EXPECT_EQ(PostCallback(task.task_id(), "{not json", {}, "").status, 401);
  EXPECT_EQ(PostCallback("tsk_unknown", ForgedComplete(provider_task_id), {}, "").status, 401);
  const auto after = GetTask(task.task_id());
  EXPECT_EQ(after.version(), before.version());
  EXPECT_NE(after.state(), music::v1::TASK_STATE_SUCCEEDED);
  EXPECT_TRUE(RowsBeyondReserve(task.task_id()).empty());
  // The real task still finishes, with the provider's clips, not the forged one, and is billed
  // once for them.
  const auto done = WaitDone(task.task_id());
  ASSERT_EQ(done.state(), music::v1::TASK_STATE_SUCCEEDED);
  ASSERT_GT(done.clips_size(), 0);
  for (const auto& clip : done.clips()) EXPECT_NE(clip.clip_id(), "forged-clip");
  EXPECT_EQ(RowsBeyondReserve(task.task_id()).size(), 1u);
}

TEST_F(UnsignedCallbackTest, TheTasksOwnTokenIsAccepted) {
  const auto task = CreateMusic("token holder [emu:duration_ms=3000]");
  const std::string provider_task_id = WaitProviderTaskId(task.task_id());
  ASSERT_FALSE(provider_task_id.empty());
  // A delivery with the token reaches the parser: what it says is believed (the token is the
  // provider's proof), here an early "text" stage.
  const std::string text = absl::StrCat(
      R"({"code":200,"msg":"Text generated.","data":{"callbackType":"text","task_id":")",
      provider_task_id, R"(","data":[]}})");
  EXPECT_EQ(PostCallback(task.task_id(), text, {}).status, 200);
  EXPECT_EQ(PostCallback(task.task_id(), "{not json", {}).status, 400);
  EXPECT_EQ(WaitDone(task.task_id()).state(), music::v1::TASK_STATE_SUCCEEDED);
}

TEST_F(UnsignedCallbackTest, ALostCreateIsNotAdoptedFromAForgedCallback) {
  // The create answer is lost: the task's provider task is unknown until a callback names it.
  const auto task = CreateMusic("lost create [emu:slow_create] [emu:duration_ms=2500]");
  const auto other = CreateMusic("another task [emu:duration_ms=3000]");
  WaitFor([&] { return emulator_->TaskCount() >= 2; }, absl::Seconds(3), "both creates sent");
  for (const std::string& token : WrongTokens(task.task_id(), other.task_id())) {
    EXPECT_EQ(PostCallback(task.task_id(), ForgedComplete("attacker-task"), {}, token).status, 401)
        << "token \"" << token << "\"";
  }
  const auto after = GetTask(task.task_id());
  EXPECT_EQ(after.provider_task_id(), "");
  EXPECT_NE(after.state(), music::v1::TASK_STATE_SUCCEEDED);
  // The provider's own callback (to the URL with the token) is adopted.
  const auto done = WaitDone(task.task_id());
  EXPECT_EQ(done.state(), music::v1::TASK_STATE_SUCCEEDED) << done.DebugString();
  EXPECT_NE(done.provider_task_id(), "attacker-task");
  EXPECT_FALSE(done.provider_task_id().empty());
  for (const auto& clip : done.clips()) EXPECT_NE(clip.clip_id(), "forged-clip");
}

// kie.ai with a signing key: the emulator signs (X-Webhook-Signature) and the adapter checks it
// on top of the token.
class SignedCallbackTest : public CallbackTest {
 protected:
  void ConfigureEmulator(emulator::EmulatorOptions& options) override {
    webhook_hmac_key_ = "e2e-webhook-key";
    options.kie_webhook_hmac_key = webhook_hmac_key_;
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
  const std::string provider_task_id = WaitProviderTaskId(task.task_id());
  ASSERT_FALSE(provider_task_id.empty());
  const auto before = GetTask(task.task_id());
  const std::string body = ForgedComplete(provider_task_id);
  const std::string now = absl::StrCat(absl::ToUnixSeconds(RealClock::Get()->Now()));
  // The URL token is right; the kie.ai signature is not (or missing).
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
