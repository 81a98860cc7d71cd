#include "server/config.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "adapters/builtin_providers.h"

namespace music::server {
namespace {

// The config of the built-in providers, as music-server reads it.
absl::StatusOr<ServerConfig> ParseConfig(absl::string_view json) {
  return server::ParseConfig(json, adapters::BuiltinProviders());
}

// providers.<name>: present for every built-in provider.
const ProviderConfig& P(const ServerConfig& c, absl::string_view name) {
  const ProviderConfig* p = FindProviderConfig(c, name);
  EXPECT_NE(p, nullptr) << name;
  static const ProviderConfig kNone;
  return p == nullptr ? kNone : *p;
}

TEST(ConfigTest, EmptyObjectGivesDefaults) {
  auto c = ParseConfig("{}");
  ASSERT_TRUE(c.ok()) << c.status();
  EXPECT_EQ(c->listen, "127.0.0.1:50051");
  EXPECT_EQ(c->database_path, "music.db");
  EXPECT_EQ(P(*c, "kie").base_url, "https://api.kie.ai");
  EXPECT_EQ(P(*c, "kie").api_key_env, "KIE_API_KEY");
  EXPECT_EQ(c->poll_interval, absl::Seconds(7));
  EXPECT_EQ(c->credits_per_usd, 1000);
  EXPECT_EQ(c->metrics_listen, "");  // no metrics endpoint unless configured
}

TEST(ConfigTest, ReadsTheMetricsEndpoint) {
  auto c = ParseConfig(R"({"metrics": {"listen": "0.0.0.0:9464"}})");
  ASSERT_TRUE(c.ok()) << c.status();
  EXPECT_EQ(c->metrics_listen, "0.0.0.0:9464");
}

TEST(ConfigTest, ReadsEveryDocumentedKey) {
  auto c = ParseConfig(R"({
    "listen": "0.0.0.0:9000", "tenant": "acme", "default_model": "suno-v5",
    "rpc_workers": 2, "shutdown_grace_seconds": 3,
    "database": {"path": "/tmp/x.db", "synchronous": "NORMAL"},
    "callbacks": {"listen": "0.0.0.0:9001", "public_url": "https://cb.example.com"},
    "tasks": {"poll_interval_seconds": 0.5, "deadline_seconds": 60, "submit_max_attempts": 3,
              "backoff_initial_ms": 100, "backoff_max_seconds": 2,
              "unknown_submission_grace_seconds": 30, "workers": 3,
              "callback_poll_interval_seconds": 45},
    "watch": {"heartbeat_seconds": 15}, "billing": {"credits_per_usd": 1250},
    "providers": {"kie": {"base_url": "http://127.0.0.1:1", "api_key_env": "K",
                          "api_key_file": "/run/k", "webhook_hmac_key_env": "H",
                          "connect_timeout_seconds": 1, "request_timeout_seconds": 2,
                          "upload_base_url": "http://127.0.0.1:2/up"}}})");
  ASSERT_TRUE(c.ok()) << c.status();
  EXPECT_EQ(c->listen, "0.0.0.0:9000");
  EXPECT_EQ(c->tenant, "acme");
  EXPECT_EQ(c->database_synchronous, "NORMAL");
  EXPECT_EQ(c->callbacks_public_url, "https://cb.example.com");
  EXPECT_EQ(c->credits_per_usd, 1250);
  EXPECT_EQ(c->poll_interval, absl::Milliseconds(500));
  EXPECT_EQ(c->callback_poll_interval, absl::Seconds(45));
  EXPECT_EQ(c->backoff_initial, absl::Milliseconds(100));
  EXPECT_EQ(c->heartbeat_interval, absl::Seconds(15));
  EXPECT_EQ(P(*c, "kie").base_url, "http://127.0.0.1:1");
  EXPECT_EQ(P(*c, "kie").api_key_file, "/run/k");
  EXPECT_EQ(P(*c, "kie").request_timeout, absl::Seconds(2));
  EXPECT_EQ(P(*c, "kie").connect_timeout, absl::Seconds(1));
  EXPECT_EQ(P(*c, "kie").secret_envs.at("webhook_hmac_key_env"), "H");
  EXPECT_EQ(P(*c, "kie").settings.at("upload_base_url"), "http://127.0.0.1:2/up");
  EXPECT_EQ(c->workers, 3);
}

// The account limits: each module's (kie.ai's from CONTRACT-NOTES.md, none for the others) until
// config changes them; 0 turns one off.
TEST(ConfigTest, RateLimitsAreTheModulesUnlessConfigured) {
  auto defaults = ParseConfig("{}");
  ASSERT_TRUE(defaults.ok()) << defaults.status();
  EXPECT_EQ(P(*defaults, "kie").rate_limits.creates_per_window, 20);
  EXPECT_EQ(P(*defaults, "kie").rate_limits.create_window, absl::Seconds(10));
  EXPECT_EQ(P(*defaults, "kie").rate_limits.polls_per_second, 3);
  for (const char* other : {"piapi", "tokenlab", "beatra"}) {
    EXPECT_EQ(P(*defaults, other).rate_limits.creates_per_window, 0) << other;
    EXPECT_EQ(P(*defaults, other).rate_limits.polls_per_second, 0) << other;
  }
  auto set = ParseConfig(R"({"providers": {
      "kie": {"rate_limit_creates": 15, "rate_limit_window_seconds": 12,
              "rate_limit_polls_per_second": 0},
      "beatra": {"rate_limit_creates": 60, "rate_limit_window_seconds": 60,
                 "rate_limit_polls_per_second": 2}}})");
  ASSERT_TRUE(set.ok()) << set.status();
  EXPECT_EQ(P(*set, "kie").rate_limits.creates_per_window, 15);
  EXPECT_EQ(P(*set, "kie").rate_limits.create_window, absl::Seconds(12));
  EXPECT_EQ(P(*set, "kie").rate_limits.polls_per_second, 0);
  EXPECT_EQ(P(*set, "beatra").rate_limits.creates_per_window, 60);
  EXPECT_EQ(P(*set, "beatra").rate_limits.create_window, absl::Seconds(60));
  EXPECT_EQ(P(*set, "beatra").rate_limits.polls_per_second, 2);
}

TEST(ConfigTest, NewProviderRoutingAndReferenceAudioDefaults) {
  auto c = ParseConfig("{}");
  ASSERT_TRUE(c.ok()) << c.status();
  EXPECT_EQ(c->callback_poll_interval, absl::Seconds(30));
  EXPECT_EQ(P(*c, "piapi").api_key_env, "PIAPI_API_KEY");
  EXPECT_EQ(P(*c, "kie").secret_envs.at("webhook_hmac_key_env"), "KIE_WEBHOOK_HMAC_KEY");
  // kie.ai's file upload API has its own host (CONTRACT-NOTES.md "File upload").
  EXPECT_EQ(P(*c, "kie").settings.at("upload_base_url"), "https://kieai.redpandaai.co");
  // Exactly the registered providers, each with its module's defaults.
  EXPECT_EQ(c->providers.size(), adapters::BuiltinProviders().modules().size());
  EXPECT_EQ(c->providers.size(),
            DefaultServerConfig(adapters::BuiltinProviders()).providers.size());
  EXPECT_EQ(P(*c, "piapi").secret_envs.at("webhook_secret_env"), "PIAPI_WEBHOOK_SECRET");
  EXPECT_EQ(P(*c, "tokenlab").api_key_env, "TOKENLAB_API_KEY");
  EXPECT_EQ(P(*c, "beatra").api_key_env, "BEATRA_API_KEY");
  EXPECT_EQ(P(*c, "piapi").base_url, "https://api.piapi.ai");
  EXPECT_EQ(P(*c, "kie").price_micros, 12'000'000);
  EXPECT_EQ(P(*c, "kie").price_currency, "CREDITS");
  EXPECT_EQ(P(*c, "tokenlab").price_micros, 100'000);
  EXPECT_EQ(P(*c, "tokenlab").price_currency, "USD");
  EXPECT_EQ(P(*c, "beatra").price_micros, 0);
  EXPECT_EQ(c->circuit_breaker_failures, 5);
  EXPECT_EQ(c->circuit_breaker_cooldown, absl::Seconds(30));
  EXPECT_TRUE(c->reference_audio_enabled);
  EXPECT_EQ(c->reference_audio_max_bytes, 100 << 20);
  EXPECT_FALSE(c->reference_audio_allow_loopback);
  EXPECT_FALSE(c->reference_audio_allow_http);
  EXPECT_TRUE(c->aliases.empty());
  EXPECT_TRUE(c->model_overrides.empty());
}

TEST(ConfigTest, ReadsProvidersCatalogRoutingAndReferenceAudio) {
  auto c = ParseConfig(R"({
    "providers": {
      "kie": {"price_micros": 8000000, "price_currency": "CREDITS",
              "price_convert_to_wav_micros": 3000000, "price_create_music_video_micros": 7},
      "piapi": {"base_url": "http://127.0.0.1:2", "api_key_env": "P", "api_key_file": "/run/p",
                "webhook_secret_env": "PW", "connect_timeout_seconds": 2,
                "request_timeout_seconds": 9},
      "tokenlab": {"price_micros": 50000, "price_currency": "USD"},
      "beatra": {"api_key_env": "B"}},
    "catalog": {
      "aliases": {"suno": ["suno-v4.5", "beatra-suno-5.5"], "fast": ["suno-v3.5"]},
      "models": {"suno-v5": {"enabled": false, "price_micros": 20000000,
                             "price_currency": "CREDITS", "max_style_chars": 500},
                 "suno-v5.5": {"provider": "kie", "provider_model": "V5_5",
                               "copy_from": "suno-v5"}}},
    "routing": {"circuit_breaker_failures": 3, "circuit_breaker_cooldown_seconds": 12},
    "reference_audio": {"enabled": false, "max_bytes": 1048576, "timeout_seconds": 20,
                        "allow_loopback": true, "allow_http": true}})");
  ASSERT_TRUE(c.ok()) << c.status();
  EXPECT_EQ(P(*c, "kie").operation_price_micros.at(music::v1::CLIP_OPERATION_CONVERT_TO_WAV),
            3'000'000);
  EXPECT_EQ(P(*c, "kie").operation_price_micros.at(music::v1::CLIP_OPERATION_CREATE_MUSIC_VIDEO),
            7);
  EXPECT_EQ(P(*c, "kie").price_micros, 8'000'000);
  EXPECT_EQ(P(*c, "kie").base_url, "https://api.kie.ai");  // untouched keys keep their defaults
  EXPECT_EQ(P(*c, "piapi").base_url, "http://127.0.0.1:2");
  EXPECT_EQ(P(*c, "piapi").api_key_file, "/run/p");
  EXPECT_EQ(P(*c, "piapi").secret_envs.at("webhook_secret_env"), "PW");
  EXPECT_EQ(P(*c, "piapi").request_timeout, absl::Seconds(9));
  EXPECT_EQ(P(*c, "tokenlab").price_micros, 50'000);
  EXPECT_EQ(P(*c, "beatra").api_key_env, "B");
  ASSERT_EQ(c->aliases.size(), 2u);
  EXPECT_EQ(c->aliases[0].first, "suno");
  EXPECT_EQ(c->aliases[0].second, (std::vector<std::string>{"suno-v4.5", "beatra-suno-5.5"}));
  ASSERT_EQ(c->model_overrides.count("suno-v5"), 1u);
  const ModelOverride& v5 = c->model_overrides.at("suno-v5");
  EXPECT_EQ(v5.enabled, false);
  EXPECT_EQ(v5.price_micros, 20'000'000);
  EXPECT_EQ(v5.limits.at("max_style_chars"), 500);
  EXPECT_EQ(c->model_overrides.at("suno-v5.5").copy_from, "suno-v5");
  EXPECT_EQ(c->circuit_breaker_failures, 3);
  EXPECT_EQ(c->circuit_breaker_cooldown, absl::Seconds(12));
  EXPECT_FALSE(c->reference_audio_enabled);
  EXPECT_EQ(c->reference_audio_max_bytes, 1 << 20);
  EXPECT_EQ(c->reference_audio_timeout, absl::Seconds(20));
  EXPECT_TRUE(c->reference_audio_allow_loopback);
  EXPECT_TRUE(c->reference_audio_allow_http);
}

struct BadCase {
  const char* json;
  const char* key;
};

// CONTRACT-NOTES "PiAPI": the unit of `meta.usage.consume` is undocumented, so it is booked only
// with a configured conversion; unset by default.
TEST(ConfigTest, PiapiConsumeConversionIsUnsetUnlessConfigured) {
  auto plain = ParseConfig("{}");
  ASSERT_TRUE(plain.ok()) << plain.status();
  EXPECT_TRUE(P(*plain, "piapi").numbers.empty());
  auto set = ParseConfig(R"({"providers": {"piapi": {"consume_usd_per_unit": 0.00000125}}})");
  ASSERT_TRUE(set.ok()) << set.status();
  ASSERT_EQ(P(*set, "piapi").numbers.count("consume_usd_per_unit"), 1u);
  EXPECT_DOUBLE_EQ(P(*set, "piapi").numbers.at("consume_usd_per_unit"), 0.00000125);
}

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
      {R"({"providers": {"beatra": {"api_key": "secret"}}})", "providers.beatra.api_key"},
      {R"({"providers": {"tokenlab": {"price_currency": "EUR"}}})",
       "providers.tokenlab.price_currency"},
      {R"({"providers": {"piapi": {"request_timeout_seconds": 0}}})",
       "providers.piapi.request_timeout_seconds"},
      {R"({"providers": {"nope": {"base_url": "x"}}})", "providers.nope.base_url"},
      {R"({"providers": {"kie": {"rate_limit_creates": -1}}})",
       "providers.kie.rate_limit_creates"},
      {R"({"providers": {"kie": {"rate_limit_creates": 2.5}}})",
       "providers.kie.rate_limit_creates"},
      {R"({"providers": {"kie": {"rate_limit_window_seconds": 0}}})",
       "providers.kie.rate_limit_window_seconds"},
      {R"({"providers": {"piapi": {"rate_limit_polls_per_second": "3"}}})",
       "providers.piapi.rate_limit_polls_per_second"},
      // A secret key is a key of its own provider only.
      {R"({"providers": {"piapi": {"webhook_hmac_key_env": "X"}}})",
       "providers.piapi.webhook_hmac_key_env"},
      {R"({"providers": {"kie": {"webhook_hmac_key_env": 1}}})",
       "providers.kie.webhook_hmac_key_env"},
      // A number setting: a number >= 0, of its own provider only.
      {R"({"providers": {"piapi": {"consume_usd_per_unit": -1}}})",
       "providers.piapi.consume_usd_per_unit"},
      {R"({"providers": {"piapi": {"consume_usd_per_unit": "0.1"}}})",
       "providers.piapi.consume_usd_per_unit"},
      {R"({"providers": {"kie": {"consume_usd_per_unit": 1}}})",
       "providers.kie.consume_usd_per_unit"},
      {R"({"catalog": {"aliases": {"suno": []}}})", "catalog.aliases.suno"},
      {R"({"catalog": {"aliases": {"suno": "suno-v4.5"}}})", "catalog.aliases.suno"},
      {R"({"catalog": {"aliases": {"suno": [1]}}})", "catalog.aliases.suno"},
      {R"({"catalog": {"models": {"suno-v5": {"colour": 1}}}})", "catalog.models.suno-v5.colour"},
      {R"({"catalog": {"models": {"suno-v5": {"enabled": "no"}}}})",
       "catalog.models.suno-v5.enabled"},
      {R"({"catalog": {"models": {"suno-v5": {"price_micros": -1}}}})",
       "catalog.models.suno-v5.price_micros"},
      {R"({"catalog": {"models": {"suno-v5": {"price_currency": "EUR"}}}})",
       "catalog.models.suno-v5.price_currency"},
      {R"({"catalog": {"typo": 1}})", "catalog.typo"},
      {R"({"routing": {"circuit_breaker_failures": -1}})", "routing.circuit_breaker_failures"},
      {R"({"billing": {"credits_per_usd": 0}})", "billing.credits_per_usd"},
      {R"({"routing": {"circuit_breaker_cooldown_seconds": 0}})",
       "routing.circuit_breaker_cooldown_seconds"},
      {R"({"reference_audio": {"max_bytes": 104857601}})", "reference_audio.max_bytes"},
      {R"({"reference_audio": {"enabled": 1}})", "reference_audio.enabled"},
      {R"({"reference_audio": {"allow_loopback": "yes"}})", "reference_audio.allow_loopback"},
      {R"({"metrics": {"listen": 9464}})", "metrics.listen"},
      {R"({"metrics": {"listen": "0.0.0.0"}})", "metrics.listen"},
      {R"({"metrics": {"listen": "h:70000"}})", "metrics.listen"},
      {R"({"metrics": {"path": "/m"}})", "metrics.path"},
      {R"({"archive": {"backend": "ftp"}})", "archive.backend"},
      {R"({"archive": {"backend": "s3", "s3": {"endpoint": "http://h:1"}}})",
       "archive.s3.bucket"},
      {R"({"archive": {"backend": "s3", "s3": {"bucket": "b", "endpoint": "h:1"}}})",
       "archive.s3.endpoint"},
      {R"({"archive": {"workers": 0}})", "archive.workers"},
      {R"({"archive": {"max_bytes": 0}})", "archive.max_bytes"},
      {R"({"archive": {"backoff_initial_ms": 5000, "backoff_max_seconds": 1}})",
       "archive.backoff_max_seconds"},
      {R"({"archive": {"s3": {"access_key_id_env": ""}}})", "archive.s3.access_key_id_env"},
      {R"({"archive": {"sweep_interval_seconds": 0.01}})", "archive.sweep_interval_seconds"},
      {R"({"archive": {"typo": 1}})", "archive.typo"},
      {R"({"log": {"level": "verbose"}})", "log.level"},
      {R"({"log": {"level": "INFO"}})", "log.level"},
      {R"({"log": {"level": 1}})", "log.level"},
      {R"({"log": {"format": "text"}})", "log.format"},
      {R"({"grpc": {"keepalive_time_seconds": 0.5}})", "grpc.keepalive_time_seconds"},
      {R"({"grpc": {"keepalive_timeout_seconds": "20"}})", "grpc.keepalive_timeout_seconds"},
      {R"({"grpc": {"max_connection_age_seconds": 0}})", "grpc.max_connection_age_seconds"},
      {R"({"grpc": {"max_connection_age_grace_seconds": -1}})",
       "grpc.max_connection_age_grace_seconds"},
      {R"({"grpc": {"max_receive_message_bytes": 1024}})", "grpc.max_receive_message_bytes"},
      {R"({"grpc": {"max_receive_message_bytes": "4MiB"}})", "grpc.max_receive_message_bytes"},
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

// tenants.*: the per-tenant quotas; unlisted tenants get tenants.default_*, a listed tenant
// starts from the defaults whatever the key order; 0 (the default) is unlimited.
TEST(ConfigTest, ReadsTenantQuotasAndTheirDefaults) {
  auto none = ParseConfig("{}");
  ASSERT_TRUE(none.ok()) << none.status();
  EXPECT_EQ(none->quotas.For("anyone").requests_per_second, 0);
  EXPECT_EQ(none->quotas.For("anyone").max_tasks_in_flight, 0);
  EXPECT_EQ(none->max_submissions_in_flight, 64);

  auto c = ParseConfig(R"({"tenants": {
      "acme": {"requests_per_second": 2.5, "burst": 10},
      "default_requests_per_second": 1,
      "default_max_tasks_in_flight": 100,
      "big": {"max_tasks_in_flight": 0}},
    "tasks": {"max_submissions_in_flight": 16}})");
  ASSERT_TRUE(c.ok()) << c.status();
  EXPECT_EQ(c->quotas.For("acme").requests_per_second, 2.5);
  EXPECT_EQ(c->quotas.For("acme").burst, 10);
  EXPECT_EQ(c->quotas.For("acme").max_tasks_in_flight, 100);  // from the defaults
  EXPECT_EQ(c->quotas.For("big").requests_per_second, 1);
  EXPECT_EQ(c->quotas.For("big").max_tasks_in_flight, 0);
  EXPECT_EQ(c->quotas.For("other").requests_per_second, 1);
  EXPECT_EQ(c->quotas.For("other").max_tasks_in_flight, 100);
  EXPECT_EQ(c->max_submissions_in_flight, 16);

  const BadCase bad[] = {
      {R"({"tenants": {"acme": {"requests_per_second": -1}}})",
       "tenants.acme.requests_per_second"},
      {R"({"tenants": {"acme": {"max_tasks_in_flight": 1.5}}})",
       "tenants.acme.max_tasks_in_flight"},
      {R"({"tenants": {"acme": {"rps": 1}}})", "tenants.acme.rps"},
      {R"({"tenants": {"acme": 5}})", "tenants.acme"},
      {R"({"tenants": {"default_burst": "x"}})", "tenants.default_burst"},
      {R"({"tenants": {"default_typo": 1}})", "tenants.default_typo"},
      {R"({"tasks": {"max_submissions_in_flight": 0}})", "tasks.max_submissions_in_flight"},
  };
  for (const auto& b : bad) {
    auto parsed = ParseConfig(b.json);
    ASSERT_FALSE(parsed.ok()) << b.json;
    EXPECT_EQ(parsed.status().code(), absl::StatusCode::kInvalidArgument);
    EXPECT_NE(parsed.status().message().find(std::string("\"") + b.key + "\""),
              absl::string_view::npos)
        << parsed.status();
  }
}

// tasks.overload_submission_wait_seconds: 5 s by default, 0 turns load shedding off, a negative
// or non-number value names the key.
TEST(ConfigTest, OverloadSubmissionWaitDefaultsTo5sAndZeroIsOff) {
  auto none = ParseConfig("{}");
  ASSERT_TRUE(none.ok()) << none.status();
  EXPECT_EQ(none->overload_submission_wait, absl::Seconds(5));
  auto off = ParseConfig(R"({"tasks": {"overload_submission_wait_seconds": 0}})");
  ASSERT_TRUE(off.ok()) << off.status();
  EXPECT_EQ(off->overload_submission_wait, absl::ZeroDuration());
  auto half = ParseConfig(R"({"tasks": {"overload_submission_wait_seconds": 0.5}})");
  ASSERT_TRUE(half.ok()) << half.status();
  EXPECT_EQ(half->overload_submission_wait, absl::Milliseconds(500));
  for (const char* json : {R"({"tasks": {"overload_submission_wait_seconds": -1}})",
                           R"({"tasks": {"overload_submission_wait_seconds": "5"}})"}) {
    auto parsed = ParseConfig(json);
    ASSERT_FALSE(parsed.ok()) << json;
    EXPECT_EQ(parsed.status().code(), absl::StatusCode::kInvalidArgument);
    EXPECT_NE(parsed.status().message().find("\"tasks.overload_submission_wait_seconds\""),
              absl::string_view::npos)
        << parsed.status();
  }
}

TEST(ConfigTest, PostgresKeysAndTheirChecks) {
  auto sqlite = ParseConfig("{}");
  ASSERT_TRUE(sqlite.ok()) << sqlite.status();
  EXPECT_EQ(sqlite->database_url, "");  // SQLite by default
  EXPECT_EQ(sqlite->database_connections, 8);
  EXPECT_EQ(sqlite->database_lease, absl::Seconds(15));
  auto c = ParseConfig(R"({"database": {"url": "postgresql://music@db.internal:5432/music",
    "connections": 4, "lease_seconds": 6}})");
  ASSERT_TRUE(c.ok()) << c.status();
  EXPECT_EQ(c->database_url, "postgresql://music@db.internal:5432/music");
  EXPECT_EQ(c->database_connections, 4);
  EXPECT_EQ(c->database_lease, absl::Seconds(6));
  auto env = ParseConfig(R"({"database": {"url_env": "MUSIC_DATABASE_URL"}})");
  ASSERT_TRUE(env.ok()) << env.status();
  const std::string d = DescribeConfig(*env);
  // The URL variable is a secret the server needs.
  EXPECT_NE(d.find(R"("required_secret_envs":["MUSIC_CALLBACK_SECRET","MUSIC_DATABASE_URL"])"),
            std::string::npos)
      << d;
  for (const char* bad : {
           R"({"database": {"url": "postgresql://music:hunter2@db/music"}})",
           R"({"database": {"url": "postgresql://db/music?user=music&password=hunter2"}})",
           R"({"database": {"url": "mysql://db/music"}})",
           R"({"database": {"url": "postgresql://db/music", "url_env": "X"}})",
           R"({"database": {"connections": 0}})",
           R"({"database": {"lease_seconds": 1}})",
       }) {
    auto parsed = ParseConfig(bad);
    ASSERT_FALSE(parsed.ok()) << bad;
    EXPECT_THAT(std::string(parsed.status().message()), ::testing::HasSubstr("database."))
        << bad;
    // The refusal never repeats the password.
    EXPECT_THAT(std::string(parsed.status().message()),
                ::testing::Not(::testing::HasSubstr("hunter2")));
  }
}

TEST(ConfigTest, ArchiveDefaultsAndKeys) {
  auto c = ParseConfig(R"({"database": {"path": "/var/lib/music/music.db"}})");
  ASSERT_TRUE(c.ok()) << c.status();
  EXPECT_TRUE(c->archive_enabled);
  EXPECT_EQ(c->archive_backend, "directory");
  EXPECT_EQ(ArchiveDirectory(*c), "/var/lib/music/archive");  // beside the database
  EXPECT_EQ(c->archive_s3_access_key_id_env, "AWS_ACCESS_KEY_ID");
  EXPECT_EQ(c->archive_s3_secret_access_key_env, "AWS_SECRET_ACCESS_KEY");
  EXPECT_EQ(c->archive_max_attempts, 8);
  EXPECT_EQ(c->archive_max_age, absl::Hours(336));
  EXPECT_FALSE(c->archive_allow_loopback);
  EXPECT_EQ(ArchiveDirectory(*ParseConfig("{}")), "archive");

  c = ParseConfig(R"({"archive": {"enabled": true, "backend": "s3", "directory": "/a",
    "s3": {"endpoint": "https://s3.example.com", "bucket": "songs", "region": "eu-west-3",
           "key_prefix": "music/", "access_key_id_env": "K", "secret_access_key_env": "S"},
    "max_bytes": 1000, "timeout_seconds": 9, "workers": 3, "max_attempts": 4,
    "backoff_initial_ms": 250, "backoff_max_seconds": 2, "sweep_interval_seconds": 30,
    "max_age_hours": 48, "allow_loopback": true, "allow_http": true}})");
  ASSERT_TRUE(c.ok()) << c.status();
  EXPECT_EQ(c->archive_backend, "s3");
  EXPECT_EQ(ArchiveDirectory(*c), "/a");
  EXPECT_EQ(c->archive_s3_endpoint, "https://s3.example.com");
  EXPECT_EQ(c->archive_s3_bucket, "songs");
  EXPECT_EQ(c->archive_s3_region, "eu-west-3");
  EXPECT_EQ(c->archive_s3_key_prefix, "music/");
  EXPECT_EQ(c->archive_s3_access_key_id_env, "K");
  EXPECT_EQ(c->archive_s3_secret_access_key_env, "S");
  EXPECT_EQ(c->archive_max_bytes, 1000);
  EXPECT_EQ(c->archive_timeout, absl::Seconds(9));
  EXPECT_EQ(c->archive_workers, 3);
  EXPECT_EQ(c->archive_max_attempts, 4);
  EXPECT_EQ(c->archive_backoff_initial, absl::Milliseconds(250));
  EXPECT_EQ(c->archive_backoff_max, absl::Seconds(2));
  EXPECT_EQ(c->archive_sweep_interval, absl::Seconds(30));
  EXPECT_EQ(c->archive_max_age, absl::Hours(48));
  EXPECT_TRUE(c->archive_allow_loopback);
  EXPECT_TRUE(c->archive_allow_http);
}

TEST(ConfigTest, LogAndGrpcConnectionKeys) {
  auto defaults = ParseConfig("{}");
  ASSERT_TRUE(defaults.ok()) << defaults.status();
  EXPECT_EQ(defaults->log_level, service::LogLevel::kInfo);
  EXPECT_EQ(defaults->grpc_keepalive_time, absl::Seconds(60));
  EXPECT_EQ(defaults->grpc_keepalive_timeout, absl::Seconds(20));
  EXPECT_EQ(defaults->grpc_max_connection_age, absl::InfiniteDuration());
  EXPECT_EQ(defaults->grpc_max_connection_age_grace, absl::InfiniteDuration());
  EXPECT_EQ(defaults->grpc_max_receive_message_bytes, 8 << 20);
  auto c = ParseConfig(R"({"log": {"level": "debug"},
    "grpc": {"keepalive_time_seconds": 30, "keepalive_timeout_seconds": 10,
             "max_connection_age_seconds": 300, "max_connection_age_grace_seconds": 0.25,
             "max_receive_message_bytes": 2097152}})");
  ASSERT_TRUE(c.ok()) << c.status();
  EXPECT_EQ(c->log_level, service::LogLevel::kDebug);
  EXPECT_EQ(c->grpc_keepalive_time, absl::Seconds(30));
  EXPECT_EQ(c->grpc_keepalive_timeout, absl::Seconds(10));
  EXPECT_EQ(c->grpc_max_connection_age, absl::Seconds(300));
  EXPECT_EQ(c->grpc_max_connection_age_grace, absl::Milliseconds(250));
  EXPECT_EQ(c->grpc_max_receive_message_bytes, 2 << 20);
}

TEST(ConfigTest, DescribeConfigNamesListenPortsAndSecretVariablesOnly) {
  auto c = ParseConfig(R"({"listen": "0.0.0.0:50051", "callbacks": {"listen": "0.0.0.0:8081"},
    "shutdown_grace_seconds": 10,
    "providers": {"kie": {"api_key_env": "MY_KIE_KEY", "webhook_hmac_key_env": ""}}})");
  ASSERT_TRUE(c.ok()) << c.status();
  const std::string d = DescribeConfig(*c);
  EXPECT_NE(d.find(R"({"key":"listen","address":"0.0.0.0:50051","port":50051})"), std::string::npos)
      << d;
  EXPECT_NE(d.find(R"({"key":"callbacks.listen","address":"0.0.0.0:8081","port":8081})"),
            std::string::npos)
      << d;
  EXPECT_NE(d.find("\"MY_KIE_KEY\""), std::string::npos) << d;
  EXPECT_EQ(d.find("\"KIE_API_KEY\""), std::string::npos) << d;           // replaced
  EXPECT_EQ(d.find("KIE_WEBHOOK_HMAC_KEY"), std::string::npos) << d;  // unset: not listed
  EXPECT_NE(d.find("\"PIAPI_WEBHOOK_SECRET\""), std::string::npos) << d;  // a module default
  EXPECT_NE(d.find(R"("shutdown_grace_seconds":10)"), std::string::npos) << d;
  // The S3 archive's key variables are read from the environment as well.
  EXPECT_EQ(d.find("AWS_SECRET_ACCESS_KEY"), std::string::npos) << d;  // directory archive
  auto s3 = ParseConfig(R"({"archive": {"backend": "s3",
    "s3": {"endpoint": "https://s3.example.com", "bucket": "b", "access_key_id_env": "ID_VAR",
           "secret_access_key_env": "SECRET_VAR"}}})");
  ASSERT_TRUE(s3.ok()) << s3.status();
  const std::string d3 = DescribeConfig(*s3);
  EXPECT_NE(d3.find("\"ID_VAR\""), std::string::npos) << d3;
  EXPECT_NE(d3.find("\"SECRET_VAR\""), std::string::npos) << d3;
}

TEST(ConfigTest, CallbackSecretTlsAndListenerLimits) {
  auto d = ParseConfig("{}");
  ASSERT_TRUE(d.ok()) << d.status();
  EXPECT_EQ(d->callbacks_token_secret_env, "MUSIC_CALLBACK_SECRET");
  EXPECT_EQ(d->callbacks_token_secret_previous_env, "MUSIC_CALLBACK_SECRET_PREVIOUS");
  EXPECT_EQ(d->callbacks_max_connections_per_peer, 32);
  // The callback token secret is required: --check_config says so to the deployment.
  const std::string described = DescribeConfig(*d);
  EXPECT_NE(described.find(R"("required_secret_envs":["MUSIC_CALLBACK_SECRET"])"),
            std::string::npos)
      << described;
  EXPECT_NE(described.find("\"MUSIC_CALLBACK_SECRET_PREVIOUS\""), std::string::npos) << described;

  auto c = ParseConfig(R"({"callbacks": {"token_secret_env": "CB", "token_secret_file": "/s/cb",
    "token_secret_previous_env": "", "tls": {"cert_file": "/t/c.pem", "key_file": "/t/k.pem"},
    "max_connections": 100, "max_connections_per_peer": 4, "header_timeout_seconds": 2.5,
    "body_timeout_seconds": 5}})");
  ASSERT_TRUE(c.ok()) << c.status();
  EXPECT_EQ(c->callbacks_token_secret_env, "CB");
  EXPECT_EQ(c->callbacks_token_secret_file, "/s/cb");
  EXPECT_EQ(c->callbacks_tls_cert_file, "/t/c.pem");
  EXPECT_EQ(c->callbacks_tls_key_file, "/t/k.pem");
  EXPECT_EQ(c->callbacks_max_connections, 100);
  EXPECT_EQ(c->callbacks_max_connections_per_peer, 4);
  EXPECT_EQ(c->callbacks_header_timeout, absl::Milliseconds(2500));
  EXPECT_EQ(c->callbacks_body_timeout, absl::Seconds(5));
  // From a file, the variable is not required.
  EXPECT_NE(DescribeConfig(*c).find(R"("required_secret_envs":[])"), std::string::npos);

  for (const char* bad :
       {R"({"callbacks": {"tls": {"cert_file": "/t/c.pem"}}})",
        R"({"callbacks": {"tls": {"key_file": "/t/k.pem"}}})",
        R"({"callbacks": {"token_secret_env": ""}})",
        R"({"callbacks": {"max_connections_per_peer": 0}})",
        R"({"callbacks": {"header_timeout_seconds": 0}})"}) {
    auto parsed = ParseConfig(bad);
    EXPECT_EQ(parsed.status().code(), absl::StatusCode::kInvalidArgument) << bad;
  }
}

TEST(ConfigTest, MalformedJsonIsAnError) {
  auto parsed = ParseConfig("{\"listen\": ");
  ASSERT_FALSE(parsed.ok());
  EXPECT_EQ(parsed.status().code(), absl::StatusCode::kInvalidArgument);
}

TEST(ConfigTest, MissingFileIsNotFound) {
  EXPECT_TRUE(absl::IsNotFound(
      LoadConfigFile("/nonexistent/config.json", adapters::BuiltinProviders()).status()));
}

TEST(ConfigTest, SplitHostPortHandlesIpv6) {
  std::string host;
  int port = -1;
  ASSERT_TRUE(SplitHostPort("[::1]:8080", "k", &host, &port).ok());
  EXPECT_EQ(host, "::1");
  EXPECT_EQ(port, 8080);
}

}  // namespace
}  // namespace music::server
