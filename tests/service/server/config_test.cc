#include "service/server/config.h"

#include <gtest/gtest.h>

namespace music::service {
namespace {

TEST(ConfigTest, EmptyObjectGivesDefaults) {
  auto c = ParseConfig("{}");
  ASSERT_TRUE(c.ok()) << c.status();
  EXPECT_EQ(c->listen, "127.0.0.1:50051");
  EXPECT_EQ(c->database_path, "music.db");
  EXPECT_EQ(c->kie.base_url, "https://api.kie.ai");
  EXPECT_EQ(c->kie.api_key_env, "KIE_API_KEY");
  EXPECT_EQ(c->poll_interval, absl::Seconds(7));
}

TEST(ConfigTest, ReadsEveryDocumentedKey) {
  auto c = ParseConfig(R"({
    "listen": "0.0.0.0:9000", "tenant": "acme", "default_model": "suno-v5",
    "rpc_workers": 2, "shutdown_grace_seconds": 3,
    "database": {"path": "/tmp/x.db", "synchronous": "NORMAL"},
    "callbacks": {"listen": "0.0.0.0:9001", "public_url": "https://cb.example.com"},
    "tasks": {"poll_interval_seconds": 0.5, "deadline_seconds": 60, "submit_max_attempts": 3,
              "backoff_initial_ms": 100, "backoff_max_seconds": 2,
              "unknown_submission_grace_seconds": 30, "workers": 3},
    "watch": {"heartbeat_seconds": 15},
    "providers": {"kie": {"base_url": "http://127.0.0.1:1", "api_key_env": "K",
                          "api_key_file": "/run/k", "webhook_hmac_key_env": "H",
                          "connect_timeout_seconds": 1, "request_timeout_seconds": 2}}})");
  ASSERT_TRUE(c.ok()) << c.status();
  EXPECT_EQ(c->listen, "0.0.0.0:9000");
  EXPECT_EQ(c->tenant, "acme");
  EXPECT_EQ(c->database_synchronous, "NORMAL");
  EXPECT_EQ(c->callbacks_public_url, "https://cb.example.com");
  EXPECT_EQ(c->poll_interval, absl::Milliseconds(500));
  EXPECT_EQ(c->backoff_initial, absl::Milliseconds(100));
  EXPECT_EQ(c->heartbeat_interval, absl::Seconds(15));
  EXPECT_EQ(c->kie.base_url, "http://127.0.0.1:1");
  EXPECT_EQ(c->kie.api_key_file, "/run/k");
  EXPECT_EQ(c->kie.request_timeout, absl::Seconds(2));
  EXPECT_EQ(c->workers, 3);
}

struct BadCase {
  const char* json;
  const char* key;
};

TEST(ConfigTest, BadConfigNamesTheKey) {
  const BadCase cases[] = {
      {R"({"listen": 5})", "listen"},
      {R"({"listen": "nocolon"})", "listen"},
      {R"({"database": {"synchronous": "OFF"}})", "database.synchronous"},
      {R"({"tasks": {"poll_interval_seconds": 0.1}})", "tasks.poll_interval_seconds"},
      {R"({"tasks": {"poll_interval_seconds": -3}})", "tasks.poll_interval_seconds"},
      {R"({"tasks": {"workers": 0}})", "tasks.workers"},
      {R"({"providers": {"kie": {"base_url": ""}}})", "providers.kie.base_url"},
      {R"({"providers": {"kie": {"api_key": "secret"}}})", "providers.kie.api_key"},
      {R"({"callbacks": {"listen": "h:99999"}})", "callbacks.listen"},
      {R"({"typo_key": 1})", "typo_key"},
  };
  for (const auto& c : cases) {
    auto parsed = ParseConfig(c.json);
    ASSERT_FALSE(parsed.ok()) << c.json;
    EXPECT_EQ(parsed.status().code(), absl::StatusCode::kInvalidArgument);
    EXPECT_NE(parsed.status().message().find(std::string("\"") + c.key + "\""),
              absl::string_view::npos)
        << parsed.status();
  }
}

TEST(ConfigTest, MalformedJsonIsAnError) {
  auto parsed = ParseConfig("{\"listen\": ");
  ASSERT_FALSE(parsed.ok());
  EXPECT_EQ(parsed.status().code(), absl::StatusCode::kInvalidArgument);
}

TEST(ConfigTest, MissingFileIsNotFound) {
  EXPECT_TRUE(absl::IsNotFound(LoadConfigFile("/nonexistent/config.json").status()));
}

TEST(ConfigTest, SplitHostPortHandlesIpv6) {
  std::string host;
  int port = -1;
  ASSERT_TRUE(SplitHostPort("[::1]:8080", "k", &host, &port).ok());
  EXPECT_EQ(host, "::1");
  EXPECT_EQ(port, 8080);
}

}  // namespace
}  // namespace music::service
