// A provider added through the registry alone: a toy module registered next to the built-in ones,
// configured only by `providers.toy.*` in the config JSON, runs a task end to end through the
// real server (BuildServer, gRPC, the engine, SQLite). Nothing outside this file names it.
#include <gtest/gtest.h>
#include <stdlib.h>

#include <atomic>
#include <map>
#include <memory>
#include <string>

#include "absl/strings/str_cat.h"
#include "adapters/builtin_providers.h"
#include "adapters/provider_module.h"
#include "server/build_server.h"
#include "server/config.h"
#include "tests/server/server_client.h"
#include "tests/testing/temp_dir.h"

namespace music::server {
namespace {

// What the toy factory was given, for the test to check.
struct ToySeen {
  std::string base_url;
  std::string api_key;
  std::string token;
  absl::Duration request_timeout;
  int64_t price_micros = 0;
};

// An in-process provider: a create is accepted at once, the first poll reports success with one
// clip. Thread-safe (atomics only).
class ToyAdapter : public adapters::ProviderAdapter {
 public:
  explicit ToyAdapter(std::string base_url) : base_url_(std::move(base_url)) {}

  std::string provider() const override { return "toy"; }
  adapters::ResubmitPolicy resubmit_policy() const override {
    return adapters::ResubmitPolicy::kIdempotencyKey;
  }
  std::vector<music::v1::Model> Models() const override {
    music::v1::Model m;
    m.set_name("toy-tune");
    m.set_provider("toy");
    m.set_provider_model("tune-1");
    auto* c = m.mutable_capabilities();
    c->set_music(true);
    c->set_max_prompt_chars(500);
    c->set_clips_per_task(1);
    return {m};
  }
  absl::StatusOr<adapters::SubmitResult> Submit(const adapters::SubmitRequest& request) override {
    submits_.fetch_add(1);
    adapters::SubmitResult r;
    r.provider_task_id = absl::StrCat("toy-", request.task_id);
    r.endpoint = "/toy/create";
    return r;
  }
  absl::StatusOr<adapters::ProviderUpdate> Poll(const adapters::PollTarget& target) override {
    polls_.fetch_add(1);
    adapters::ProviderUpdate u;
    u.provider_task_id = target.provider_task_id;
    u.state = adapters::ProviderState::kSucceeded;
    u.provider_status = "DONE";
    music::v1::Clip clip;
    clip.set_clip_id(absl::StrCat(target.provider_task_id, "-clip"));
    clip.set_audio_url(absl::StrCat(base_url_, "/", target.provider_task_id, ".wav"));
    clip.set_duration_seconds(3);
    u.clips.push_back(clip);
    return u;
  }
  absl::StatusOr<adapters::ProviderUpdate> ParseCallback(music::v1::TaskKind,
                                                         const http::Request&) override {
    return absl::UnimplementedError("toy has no callbacks");
  }
  absl::Status Cancel(absl::string_view) override {
    return absl::UnimplementedError("toy has no cancel");
  }

  static std::atomic<int> submits_;
  static std::atomic<int> polls_;

 private:
  std::string base_url_;
};

std::atomic<int> ToyAdapter::submits_{0};
std::atomic<int> ToyAdapter::polls_{0};

adapters::ProviderModule ToyModule(ToySeen* seen) {
  adapters::ProviderModule m;
  m.name = "toy";
  m.defaults.base_url = "toy://nowhere";
  m.defaults.api_key_env = "TOY_API_KEY";
  m.secrets = {{"token_env", "TOY_TOKEN"}};
  m.make_adapter = [seen](const adapters::ProviderSettings& s)
      -> absl::StatusOr<std::shared_ptr<adapters::ProviderAdapter>> {
    if (s.base_url.rfind("toy://", 0) != 0) {
      return absl::InvalidArgumentError("config key \"providers.toy.base_url\": must be toy://");
    }
    seen->base_url = s.base_url;
    seen->api_key = s.api_key;
    seen->token = s.secrets.count("token_env") ? s.secrets.at("token_env") : "(none)";
    seen->request_timeout = s.request_timeout;
    seen->price_micros = s.price_micros;
    return std::make_shared<ToyAdapter>(s.base_url);
  };
  m.models = [] { return ToyAdapter("toy://").Models(); };
  m.aliases = {{"toy-any", "toy-tune", 1}};
  return m;
}

class ToyProviderTest : public ::testing::Test {
 protected:
  void SetUp() override {
    for (const adapters::ProviderModule& m : adapters::BuiltinProviders().modules()) {
      ASSERT_TRUE(registry_.Add(m).ok());
    }
    ASSERT_TRUE(registry_.Add(ToyModule(&seen_)).ok());
    ASSERT_FALSE(temp_dir_.path().empty());
    dir_ = temp_dir_.path();
  }
  void TearDown() override {
    if (server_) server_->Shutdown();
  }

  std::string Json(const std::string& toy) {
    return absl::StrCat(R"({"listen": "127.0.0.1:0", "callbacks": {"listen": "127.0.0.1:0"},
      "database": {"path": ")",
                        dir_, R"(/music.db"}, "default_model": "toy-any",
      "tasks": {"poll_interval_seconds": 0.4}, "shutdown_grace_seconds": 2,
      "providers": {"toy": )",
                        toy, "}}");
  }

  adapters::ProviderModuleRegistry registry_;
  ToySeen seen_;
  TempDir temp_dir_{"toy_provider"};
  std::string dir_;
  std::unique_ptr<service::MusicServer> server_;
};

TEST_F(ToyProviderTest, ConfiguredThroughItsSectionAndRunsATaskEndToEnd) {
  auto config = ParseConfig(Json(R"({"base_url": "toy://studio", "api_key_env": "MY_TOY_KEY",
                                     "token_env": "MY_TOY_TOKEN", "request_timeout_seconds": 3,
                                     "price_micros": 2000000, "price_currency": "CREDITS"})"),
                            registry_);
  ASSERT_TRUE(config.ok()) << config.status();
  const std::map<std::string, std::string> env = {
      {"MY_TOY_KEY", "toy-key"},
      {"MY_TOY_TOKEN", "toy-token"},
      {"MUSIC_CALLBACK_SECRET", "toy-test-callback-secret"}};
  SecretLookup secrets = [&env](const std::string& name) {
    auto it = env.find(name);
    return it == env.end() ? std::string() : it->second;
  };
  std::string summary;
  auto server = BuildServer(*config, registry_, secrets, RealClock::Get(), &summary);
  ASSERT_TRUE(server.ok()) << server.status();
  server_ = *std::move(server);
  EXPECT_NE(summary.find("toy available"), std::string::npos) << summary;
  EXPECT_EQ(seen_.base_url, "toy://studio");
  EXPECT_EQ(seen_.api_key, "toy-key");
  EXPECT_EQ(seen_.token, "toy-token");
  EXPECT_EQ(seen_.request_timeout, absl::Seconds(3));
  EXPECT_EQ(seen_.price_micros, 2'000'000);

  ServerClient client(server_->port());
  const music::v1::ListModelsResponse models = client.ListModels();
  const music::v1::Model* toy = FindModel(models, "toy-tune");
  ASSERT_NE(toy, nullptr);
  EXPECT_EQ(toy->provider(), "toy");
  EXPECT_TRUE(toy->available());
  EXPECT_EQ(toy->price().amount_micros(), 2'000'000);  // providers.toy.price_micros
  EXPECT_EQ(models.default_model(), "toy-any");
  bool has_alias = false;
  for (const auto& a : models.aliases()) has_alias |= a.name() == "toy-any";
  EXPECT_TRUE(has_alias);

  const int submits_before = ToyAdapter::submits_.load();
  const music::v1::Task created = client.CreateMusic("a toy tune");  // the default: the alias
  ASSERT_FALSE(created.task_id().empty());
  EXPECT_EQ(created.provider(), "toy");
  EXPECT_EQ(created.model(), "toy-any");
  const music::v1::Task done = client.WaitDone(created.task_id());
  ASSERT_EQ(done.state(), music::v1::TASK_STATE_SUCCEEDED) << done.DebugString();
  EXPECT_EQ(done.provider(), "toy");
  EXPECT_EQ(done.provider_model(), "tune-1");
  EXPECT_EQ(done.provider_task_id(), "toy-" + created.task_id());
  ASSERT_EQ(done.clips_size(), 1);
  EXPECT_EQ(done.clips(0).audio_url(), "toy://studio/toy-" + created.task_id() + ".wav");
  EXPECT_EQ(ToyAdapter::submits_.load(), submits_before + 1);
  EXPECT_GE(ToyAdapter::polls_.load(), 1);
}

TEST_F(ToyProviderTest, DefaultsAndErrorsOfItsSection) {
  // Defaults from the module, including its secret's variable.
  auto config = ParseConfig("{}", registry_);
  ASSERT_TRUE(config.ok()) << config.status();
  const ProviderConfig* toy = FindProviderConfig(*config, "toy");
  ASSERT_NE(toy, nullptr);
  EXPECT_EQ(toy->base_url, "toy://nowhere");
  EXPECT_EQ(toy->api_key_env, "TOY_API_KEY");
  EXPECT_EQ(toy->secret_envs.at("token_env"), "TOY_TOKEN");
  // The same key rules as every provider; its secret key is its own.
  for (const auto& [json, key] : std::map<std::string, std::string>{
           {R"({"providers": {"toy": {"base_url": ""}}})", "providers.toy.base_url"},
           {R"({"providers": {"toy": {"token_env": 5}}})", "providers.toy.token_env"},
           {R"({"providers": {"kie": {"token_env": "X"}}})", "providers.kie.token_env"},
           {R"({"providers": {"toy": {"price_micros": 1, "price_currency": "EUR"}}})",
            "providers.toy.price_currency"},
           {R"({"providers": {"toy": {"typo": 1}}})", "providers.toy.typo"}}) {
    auto bad = ParseConfig(json, registry_);
    ASSERT_FALSE(bad.ok()) << json;
    EXPECT_NE(bad.status().message().find("\"" + key + "\""), std::string::npos) << bad.status();
  }
  // Without the toy in the registry its section is an unknown key.
  auto unknown = ParseConfig(R"({"providers": {"toy": {"base_url": "toy://x"}}})",
                             adapters::BuiltinProviders());
  ASSERT_FALSE(unknown.ok());
  EXPECT_NE(unknown.status().message().find("\"providers.toy.base_url\""), std::string::npos);
}

// No provider secrets at all; only the callback token secret the server needs to start.
std::string OnlyCallbackSecret(const std::string& name) {
  return name == "MUSIC_CALLBACK_SECRET" ? "toy-test-callback-secret" : "";
}

TEST_F(ToyProviderTest, WithoutAKeyItIsListedUnavailable) {
  auto config = ParseConfig(Json("{}"), registry_);
  ASSERT_TRUE(config.ok()) << config.status();
  config->default_model = "suno-v4.5";  // the toy alias has no available member now
  auto server = BuildServer(
      *config, registry_, OnlyCallbackSecret, RealClock::Get());
  ASSERT_TRUE(server.ok()) << server.status();
  server_ = *std::move(server);
  ServerClient client(server_->port());
  const music::v1::ListModelsResponse models = client.ListModels();
  const music::v1::Model* toy = FindModel(models, "toy-tune");
  ASSERT_NE(toy, nullptr);
  EXPECT_FALSE(toy->available());
  EXPECT_EQ(toy->unavailable_reason(), "no API key: set $TOY_API_KEY");
}

TEST_F(ToyProviderTest, AFactoryErrorStopsStartUp) {
  auto config = ParseConfig(Json(R"({"base_url": "https://toy.example"})"), registry_);
  ASSERT_TRUE(config.ok()) << config.status();
  auto server = BuildServer(
      *config, registry_, OnlyCallbackSecret, RealClock::Get());
  ASSERT_FALSE(server.ok());
  EXPECT_EQ(server.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(server.status().message().find("\"providers.toy.base_url\""), std::string::npos);
}

}  // namespace
}  // namespace music::server
