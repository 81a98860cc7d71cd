// "Never a secret in the log", through the usual paths with every secret set: every provider is
// pointed at a hostile server that answers every request 401 with a body echoing the request's
// headers and body (so our API keys and webhook secrets come back in the error messages the
// adapters quote), a task is created on each provider, a forged callback is sent for each, the
// catalog fetch fails; then every line the event log wrote is grepped for every secret value.
#include <gtest/gtest.h>
#include <httplib.h>

#include <map>
#include <memory>
#include <set>
#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "adapters/builtin_providers.h"
#include "rapidjson/document.h"
#include "server/build_server.h"
#include "server/config.h"
#include "service/core/event_log.h"
#include "tests/server/server_client.h"
#include "tests/testing/temp_dir.h"

namespace music::server {
namespace {

// Answers everything 401 with the request echoed into every field a provider's error envelope
// might quote.
class EchoingProvider {
 public:
  EchoingProvider() {
    auto echo = [this](const httplib::Request& req, httplib::Response& res) {
      std::string seen = absl::StrCat("ECHO: ", req.method, " ", req.path, " ");
      for (const auto& [k, v] : req.headers) absl::StrAppend(&seen, k, "=", v, "; ");
      absl::StrAppend(&seen, req.body);
      {
        absl::MutexLock lock(&mu_);
        requests_.push_back(seen);
      }
      std::string quoted;
      for (char c : seen) {
        if (c == '"' || c == '\\') {
          quoted += '\\';
        } else if (c == '\n' || c == '\r') {
          c = ' ';
        }
        quoted += c;
      }
      res.status = 401;
      res.set_content(absl::StrCat(R"({"code": 401, "msg": ")", quoted, R"(", "message": ")",
                                   quoted, R"(", "error": {"code": "unauthorized", "message": ")",
                                   quoted, R"("}, "detail": ")", quoted, R"("})"),
                      "application/json");
    };
    for (const char* pattern : {".*"}) {
      server_.Get(pattern, echo);
      server_.Post(pattern, echo);
      server_.Put(pattern, echo);
      server_.Delete(pattern, echo);
    }
    port_ = server_.bind_to_any_port("127.0.0.1");
    thread_ = std::thread([this] { server_.listen_after_bind(); });
  }
  ~EchoingProvider() {
    server_.stop();
    thread_.join();
  }
  int port() const { return port_; }
  std::vector<std::string> requests() {
    absl::MutexLock lock(&mu_);
    return requests_;
  }

 private:
  httplib::Server server_;
  int port_ = 0;
  std::thread thread_;
  absl::Mutex mu_;
  std::vector<std::string> requests_ ABSL_GUARDED_BY(mu_);
};

class LogSecretsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    service::SetEventLogLevel(service::LogLevel::kDebug);  // every line, debug ones too
    service::SetEventLogSink([this](absl::string_view line) {
      absl::MutexLock lock(&mu_);
      lines_.emplace_back(line);
    });
  }
  void TearDown() override {
    if (server_) server_->Shutdown();
    server_.reset();
    service::SetEventLogSink(nullptr);
    service::SetEventLogLevel(service::LogLevel::kInfo);
  }

  std::vector<std::string> lines() {
    absl::MutexLock lock(&mu_);
    return lines_;
  }

  TempDir temp_dir_{"log_secrets"};
  EchoingProvider provider_;
  std::unique_ptr<service::MusicServer> server_;
  absl::Mutex mu_;
  std::vector<std::string> lines_ ABSL_GUARDED_BY(mu_);
};

TEST_F(LogSecretsTest, NoSecretReachesTheLogWhateverTheProviderEchoes) {
  const adapters::ProviderModuleRegistry& registry = adapters::BuiltinProviders();
  ServerConfig config = DefaultServerConfig(registry);
  config.listen = "127.0.0.1:0";
  config.callbacks_listen = "127.0.0.1:0";
  config.database_path = temp_dir_.File("music.db");
  config.poll_interval = absl::Milliseconds(400);
  config.backoff_initial = absl::Milliseconds(50);
  config.backoff_max = absl::Milliseconds(200);
  config.submit_max_attempts = 2;
  config.shutdown_grace = absl::Seconds(2);
  config.circuit_breaker_failures = 0;
  for (auto& [name, p] : config.providers) {
    p.base_url = absl::StrCat("http://127.0.0.1:", provider_.port());
    p.request_timeout = absl::Seconds(2);
  }
  // Every secret variable any module reads has a distinctive value.
  std::set<std::string> secrets;
  SecretLookup lookup = [&secrets](const std::string& env) {
    std::string value = absl::StrCat("s3cr3t-", env, "-9f2c41d7");
    secrets.insert(value);
    return value;
  };
  auto built = BuildServer(config, registry, lookup, RealClock::Get());
  ASSERT_TRUE(built.ok()) << built.status();
  server_ = *std::move(built);
  ASSERT_GE(secrets.size(), 2 * registry.modules().size() - 2) << "every key set";

  ServerClient client(server_->port());
  std::map<std::string, std::string> task_by_provider;  // one task per provider
  const music::v1::ListModelsResponse models = client.ListModels();
  for (const music::v1::Model& m : models.models()) {
    if (!m.available() || task_by_provider.count(m.provider())) continue;
    task_by_provider[m.provider()] = client.CreateMusic("a secret-free song", m.name()).task_id();
  }
  EXPECT_EQ(task_by_provider.size(), registry.modules().size());
  httplib::Client callbacks("127.0.0.1", server_->callback_port());
  for (const auto& [provider, task_id] : task_by_provider) {
    ASSERT_FALSE(task_id.empty()) << provider;
    // A forged delivery (no or a wrong signature) is refused and logged.
    auto res = callbacks.Post(absl::StrCat("/callbacks/", provider, "/", task_id),
                              R"({"code": 200, "data": {"task_id": "x", "status": "SUCCESS"}})",
                              "application/json");
    ASSERT_TRUE(res) << provider;
    const music::v1::Task done = client.WaitDone(task_id);
    EXPECT_EQ(done.state(), music::v1::TASK_STATE_FAILED) << provider << " " << done.DebugString();
  }
  server_->Shutdown();

  // The secrets did go out (so they could have come back), and the echoes reached the log.
  bool sent = false;
  for (const std::string& r : provider_.requests()) {
    for (const std::string& s : secrets) sent |= absl::StrContains(r, s);
  }
  EXPECT_TRUE(sent) << "no request carried a secret: the test would prove nothing";
  const std::vector<std::string> logged = lines();
  ASSERT_FALSE(logged.empty());
  bool echoed = false;
  std::set<std::string> events;
  for (const std::string& line : logged) {
    rapidjson::Document doc;
    doc.Parse(line.c_str());
    ASSERT_TRUE(doc.IsObject()) << line;
    events.insert(doc["event"].GetString());
    echoed |= absl::StrContains(line, "ECHO:");
    for (const std::string& s : secrets) EXPECT_FALSE(absl::StrContains(line, s)) << line;
    // Their distinctive part alone (a cut or re-encoded copy).
    EXPECT_FALSE(absl::StrContains(line, "9f2c41d7")) << line;
  }
  EXPECT_TRUE(echoed) << "no provider answer reached the log";
  for (const char* event : {"task.created", "task.ended", "callback.rejected"}) {
    EXPECT_TRUE(events.count(event)) << event;
  }
}

}  // namespace
}  // namespace music::server
