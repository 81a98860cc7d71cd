// "Never a secret in the log", through the usual paths with every secret set: every provider is
// pointed at a hostile server that answers every request 401 with a body echoing the request's
// headers and body (so our API keys and webhook secrets come back in the error messages the
// adapters quote), a task is created on each provider, a forged callback is sent for each, the
// catalog fetch fails; then every line the event log wrote is grepped for every secret value.
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <httplib.h>

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <atomic>
#include <filesystem>
#include <fstream>
#include <map>
#include <sstream>
#include <memory>
#include <set>
#include <string>
#include <vector>

#include "absl/strings/escaping.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "adapters/builtin_providers.h"
#include "rapidjson/document.h"
#include "server/build_server.h"
#include "domain/sha256.h"
#include "domain/task_record.h"
#include "music/v1/billing_service.grpc.pb.h"
#include "server/config.h"
#include "service/auth/authenticator.h"
#include "service/auth/roles.h"
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
      const int mode = mode_.load();
      const int status = mode == kUnauthorized ? 401 : mode == kServerError ? 500 : 200;
      res.status = status;
      std::string body = absl::StrCat(R"({"code": )", status, R"(, "msg": ")", quoted,
                                      R"(", "message": ")", quoted,
                                      R"(", "error": {"code": "unauthorized", "message": ")",
                                      quoted, R"("}, "detail": ")", quoted, R"("})");
      // Malformed: a 200 cut in the middle of the echo (outcome unknown for a create).
      if (mode == kMalformed) body.resize(body.size() / 2);
      res.set_content(body, "application/json");
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
  static constexpr int kUnauthorized = 0, kServerError = 1, kMalformed = 2;
  /// How every later request is answered: 401, 500 or a truncated 200, each echoing it.
  void set_mode(int mode) { mode_.store(mode); }
  int port() const { return port_; }
  std::vector<std::string> requests() {
    absl::MutexLock lock(&mu_);
    return requests_;
  }

 private:
  httplib::Server server_;
  std::atomic<int> mode_{kUnauthorized};
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

// Sends the process's stdout and stderr (fds 1 and 2: gRPC, protobuf and libcurl write there,
// beside the event log) to files for the life of the object.
class CapturedOutput {
 public:
  explicit CapturedOutput(const std::string& dir) {
    for (int fd : {1, 2}) {
      fflush(fd == 1 ? stdout : stderr);
      const std::string path = absl::StrCat(dir, "/fd", fd, ".txt");
      paths_.push_back(path);
      saved_.push_back(dup(fd));
      const int file = open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600);
      dup2(file, fd);
      close(file);
    }
  }
  ~CapturedOutput() { Restore(); }
  void Restore() {
    fflush(stdout);
    fflush(stderr);
    for (size_t i = 0; i < saved_.size(); ++i) {
      dup2(saved_[i], static_cast<int>(i + 1));
      close(saved_[i]);
    }
    saved_.clear();
  }
  const std::vector<std::string>& paths() const { return paths_; }

 private:
  std::vector<std::string> paths_;
  std::vector<int> saved_;
};

std::string ReadFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream out;
  out << in.rdbuf();
  return out.str();
}

// The whole trail: with every key and secret set, the providers answer 401, then 500, then a
// truncated 200 (each echoing our request), callers send bad requests; then the process's
// stdout/stderr, the event log, every file the server wrote (the SQLite database and its WAL,
// the archive directory) and every RPC answer (messages, details, tasks) hold no secret.
TEST_F(LogSecretsTest, NoSecretInOutputFilesOrAnswersWhateverTheProvidersAnswer) {
  const adapters::ProviderModuleRegistry& registry = adapters::BuiltinProviders();
  ServerConfig config = DefaultServerConfig(registry);
  config.listen = "127.0.0.1:0";
  config.callbacks_listen = "127.0.0.1:0";
  const std::string data_dir = temp_dir_.File("data");
  std::filesystem::create_directories(data_dir);
  config.database_path = data_dir + "/music.db";
  config.archive_directory = data_dir + "/archive";
  config.poll_interval = absl::Milliseconds(400);
  config.backoff_initial = absl::Milliseconds(50);
  config.backoff_max = absl::Milliseconds(200);
  config.submit_max_attempts = 2;
  config.unknown_submission_grace = absl::Seconds(1);
  config.shutdown_grace = absl::Seconds(2);
  config.circuit_breaker_failures = 0;
  for (auto& [name, p] : config.providers) {
    p.base_url = absl::StrCat("http://127.0.0.1:", provider_.port());
    p.request_timeout = absl::Seconds(2);
  }
  std::set<std::string> secrets;
  SecretLookup lookup = [&secrets](const std::string& env) {
    std::string value = absl::StrCat("sk-SECRET-", env, "-7c1e99b3");
    secrets.insert(value);
    return value;
  };
  // Callers authenticate (README "Callers"): the one caller's token, and a wrong one sent once,
  // are secrets too. The config holds only the token's hash.
  const std::string token = "sk-SECRET-caller-token-7c1e99b3";
  const std::string wrong_token = "sk-SECRET-wrong-token-7c1e99b3";
  secrets.insert(token);
  secrets.insert(wrong_token);
  {
    service::auth::CallerConfig caller;
    caller.name = "svc";
    caller.tenant = "default";
    caller.roles = service::auth::AllRoleSet();
    const std::string digest = absl::HexStringToBytes(domain::Sha256Hex(token));
    std::array<uint8_t, 32> hash{};
    std::copy(digest.begin(), digest.end(), hash.begin());
    caller.token_sha256.push_back(hash);
    config.auth_callers.push_back(caller);
  }
  const auto authorize = [](grpc::ClientContext* ctx, const std::string& t) {
    ctx->AddMetadata("authorization", "Bearer " + t);
  };
  CapturedOutput output(temp_dir_.path());
  std::vector<std::string> answers;  // every RPC answer, as text
  auto record = [&answers](const grpc::Status& s, const google::protobuf::Message& m) {
    answers.push_back(absl::StrCat(s.error_code(), " ", s.error_message(), " ",
                                   s.error_details(), " ", m.DebugString()));
  };
  {
    auto built = BuildServer(config, registry, lookup, RealClock::Get());
    ASSERT_TRUE(built.ok()) << built.status();
    server_ = *std::move(built);
    ASSERT_GE(secrets.size(), 2 * registry.modules().size() - 2) << "every key set";
    auto channel = grpc::CreateChannel(absl::StrCat("127.0.0.1:", server_->port()),
                                       grpc::InsecureChannelCredentials());
    auto stub = music::v1::MusicService::NewStub(channel);
    auto billing = music::v1::BillingService::NewStub(channel);
    ServerClient client(server_->port(), token);
    const music::v1::ListModelsResponse models = client.ListModels();
    record(grpc::Status::OK, models);
    {
      // A wrong token is refused, and its answer must not echo it.
      music::v1::ListTasksResponse refused;
      grpc::ClientContext ctx;
      authorize(&ctx, wrong_token);
      const grpc::Status s = stub->ListTasks(&ctx, music::v1::ListTasksRequest(), &refused);
      EXPECT_EQ(s.error_code(), grpc::StatusCode::UNAUTHENTICATED);
      record(s, refused);
    }
    std::vector<std::string> tasks;
    for (int mode : {EchoingProvider::kUnauthorized, EchoingProvider::kServerError,
                     EchoingProvider::kMalformed}) {
      provider_.set_mode(mode);
      std::set<std::string> providers;
      for (const music::v1::Model& m : models.models()) {
        if (!m.available() || !providers.insert(m.provider()).second) continue;
        tasks.push_back(client.CreateMusic("a secret-free song", m.name()).task_id());
      }
      for (const std::string& id : tasks) client.WaitDone(id);
    }
    // Bad requests.
    music::v1::CreateMusicRequest bad;
    bad.set_prompt(" ");
    bad.set_model("no-such-model");
    music::v1::CreateMusicResponse created;
    grpc::ClientContext c1;
    authorize(&c1, token);
    record(stub->CreateMusic(&c1, bad, &created), created);
    music::v1::GetTaskRequest get;
    get.set_task_id("tsk_nope");
    music::v1::GetTaskResponse got;
    grpc::ClientContext c2;
    authorize(&c2, token);
    record(stub->GetTask(&c2, get, &got), got);
    // Every task as stored, through the API, and the ledger.
    for (const std::string& id : tasks) {
      get.set_task_id(id);
      grpc::ClientContext ctx;
      authorize(&ctx, token);
      record(stub->GetTask(&ctx, get, &got), got);
      EXPECT_TRUE(domain::IsTerminal(got.task().state())) << got.DebugString();
    }
    music::v1::ListTasksResponse list;
    grpc::ClientContext c3;
    authorize(&c3, token);
    record(stub->ListTasks(&c3, music::v1::ListTasksRequest(), &list), list);
    music::v1::ListBillingTransactionsResponse ledger;
    grpc::ClientContext c4;
    authorize(&c4, token);
    record(billing->ListBillingTransactions(&c4, music::v1::ListBillingTransactionsRequest(),
                                            &ledger),
           ledger);
    server_->Shutdown();
    server_.reset();
  }
  output.Restore();

  bool sent = false;
  for (const std::string& r : provider_.requests()) {
    for (const std::string& s : secrets) sent |= absl::StrContains(r, s);
  }
  ASSERT_TRUE(sent) << "no request carried a secret: the test would prove nothing";
  std::map<std::string, std::string> trail;  // what -> its text
  for (const std::string& path : output.paths()) trail[path] = ReadFile(path);
  std::string log;
  for (const std::string& line : lines()) absl::StrAppend(&log, line, "\n");
  trail["event log"] = log;
  int files = 0;
  for (const auto& entry : std::filesystem::recursive_directory_iterator(data_dir)) {
    if (!entry.is_regular_file()) continue;
    trail[entry.path().string()] = ReadFile(entry.path().string());
    ++files;
  }
  EXPECT_GE(files, 2) << "the database and its WAL or marker";
  EXPECT_TRUE(trail.count(config.database_path));
  for (size_t i = 0; i < answers.size(); ++i) trail[absl::StrCat("answer ", i)] = answers[i];
  EXPECT_THAT(log, ::testing::HasSubstr("ECHO:")) << "no provider answer reached the log";
  for (const auto& [what, text] : trail) {
    for (const std::string& s : secrets) {
      EXPECT_FALSE(absl::StrContains(text, s)) << s << " in " << what;
    }
    EXPECT_FALSE(absl::StrContains(text, "7c1e99b3")) << "a secret's tail in " << what;
  }
}

}  // namespace
}  // namespace music::server
