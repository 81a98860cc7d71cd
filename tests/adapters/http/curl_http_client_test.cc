// NewCurlHttpClient against a real cpp-httplib server on 127.0.0.1 (port 0).

#include "adapters/http/curl_http_client.h"

#include <arpa/inet.h>
#include <httplib.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <memory>
#include <string>
#include <thread>

#include "absl/strings/str_cat.h"
#include "absl/time/time.h"
#include "adapters/provider_errors.h"
#include "gtest/gtest.h"
#include "tests/testing/status_matchers.h"
#include "tests/testing/wait_for.h"

namespace music::http {
namespace {

using adapters::IsOutcomeUnknown;

constexpr char kSecret[] = "sk-test-secret-value";

// One server for the suite: httplib holds a kept-alive connection open until its keep-alive
// timeout before stop() returns, and the client keeps its connections on purpose.
class CurlHttpClientTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    server_ = new httplib::Server();
    server_->set_keep_alive_timeout(1);
    server_->Get("/echo", [](const httplib::Request& req, httplib::Response& res) {
      res.set_header("X-Echo", req.get_header_value("X-Test"));
      res.set_content(absl::StrCat("GET ", req.get_param_value("q")), "text/plain");
    });
    server_->Post("/echo", [](const httplib::Request& req, httplib::Response& res) {
      res.set_header("X-Echo", req.get_header_value("X-Test"));
      res.set_content(absl::StrCat(req.get_header_value("Content-Type"), "|", req.body),
                      "text/plain");
    });
    server_->Put("/echo", [](const httplib::Request& req, httplib::Response& res) {
      res.set_content(absl::StrCat(req.method, "|", req.body), "text/plain");
    });
    server_->Get(R"(/status/(\d+))", [](const httplib::Request& req, httplib::Response& res) {
      res.status = std::stoi(req.matches[1]);
      res.set_content("{\"code\":" + std::string(req.matches[1]) + "}", "application/json");
    });
    server_->Get("/redirect", [](const httplib::Request&, httplib::Response& res) {
      res.set_redirect("/echo");
    });
    server_->Get("/slow", [](const httplib::Request&, httplib::Response& res) {
      // Long enough to outlast any client timeout below, short enough for TearDown.
      ServerDelay(absl::Seconds(2), stopping_);
      res.set_content("late", "text/plain");
    });
    server_->Get(R"(/bytes/(\d+))", [](const httplib::Request& req, httplib::Response& res) {
      res.set_content(std::string(std::stoul(req.matches[1]), 'x'), "text/plain");
    });
    server_->Get(R"(/chunked/(\d+))", [](const httplib::Request& req, httplib::Response& res) {
      const size_t total = std::stoul(req.matches[1]);
      res.set_chunked_content_provider(
          "text/plain", [total](size_t offset, httplib::DataSink& sink) {
            if (offset >= total) {
              sink.done();
              return true;
            }
            const std::string chunk(std::min<size_t>(512, total - offset), 'y');
            return sink.write(chunk.data(), chunk.size());
          });
    });
    server_->Get("/port", [](const httplib::Request& req, httplib::Response& res) {
      res.set_content(std::to_string(req.remote_port), "text/plain");
    });

    port_ = server_->bind_to_any_port("127.0.0.1");
    if (port_ <= 0) return;  // SetUp fails every test
    thread_ = new std::thread([] { server_->listen_after_bind(); });
    // stop() is a no-op until the accept loop runs, so TearDownTestSuite could otherwise hang.
    WaitFor([] { return server_->is_running(); }, absl::Seconds(5), "the test server");
  }

  static void TearDownTestSuite() {
    stopping_ = true;
    server_->stop();
    if (thread_ != nullptr) thread_->join();
    delete thread_;
    delete server_;
  }

  void SetUp() override { ASSERT_GT(port_, 0); }

  static std::string Url(absl::string_view path) {
    return absl::StrCat("http://127.0.0.1:", port_, path);
  }

  static Request Get(std::string url) {
    Request request;
    request.method = "GET";
    request.url = std::move(url);
    return request;
  }

  static inline httplib::Server* server_ = nullptr;
  static inline int port_ = 0;
  static inline std::thread* thread_ = nullptr;
  static inline std::atomic<bool> stopping_{false};
};

TEST_F(CurlHttpClientTest, GetRoundTripsHeadersAndStatus) {
  auto client = NewCurlHttpClient({});
  Request request = Get(Url("/echo?q=a%20b"));
  request.headers.emplace_back("X-Test", "hello");
  absl::StatusOr<Response> response = client->Send(request);
  ASSERT_THAT(response, IsOk());
  EXPECT_EQ(response->status, 200);
  EXPECT_EQ(response->body, "GET a b");
  EXPECT_EQ(FindHeader(response->headers, "x-echo"), "hello");
  EXPECT_EQ(FindHeader(response->headers, "Content-Type"), "text/plain");
}

TEST_F(CurlHttpClientTest, PostSendsBodyAndContentType) {
  auto client = NewCurlHttpClient({});
  Request request;
  request.method = "POST";
  request.url = Url("/echo");
  request.headers = {{"Content-Type", "application/json"}, {"X-Test", "posted"}};
  request.body = R"({"prompt":"piano"})";
  absl::StatusOr<Response> response = client->Send(request);
  ASSERT_THAT(response, IsOk());
  EXPECT_EQ(response->status, 200);
  EXPECT_EQ(response->body, R"(application/json|{"prompt":"piano"})");
  EXPECT_EQ(FindHeader(response->headers, "X-Echo"), "posted");
}

TEST_F(CurlHttpClientTest, PostWithLargeBodyDoesNotWaitForContinue) {
  auto client = NewCurlHttpClient({});
  Request request;
  request.method = "POST";
  request.url = Url("/echo");
  request.headers = {{"Content-Type", "text/plain"}};
  request.body = std::string(200000, 'b');
  absl::StatusOr<Response> response = client->Send(request);
  ASSERT_THAT(response, IsOk());
  EXPECT_EQ(response->body, "text/plain|" + request.body);
}

TEST_F(CurlHttpClientTest, OtherMethodsKeepTheirName) {
  auto client = NewCurlHttpClient({});
  Request request;
  request.method = "PUT";
  request.url = Url("/echo");
  request.body = "payload";
  absl::StatusOr<Response> response = client->Send(request);
  ASSERT_THAT(response, IsOk());
  EXPECT_EQ(response->body, "PUT|payload");
}

TEST_F(CurlHttpClientTest, HttpErrorStatusesAreSuccessfulSends) {
  auto client = NewCurlHttpClient({});
  for (int code : {400, 401, 404, 429, 455, 500, 503}) {
    absl::StatusOr<Response> response = client->Send(Get(Url(absl::StrCat("/status/", code))));
    ASSERT_THAT(response, IsOk()) << code << ": " << response.status();
    EXPECT_EQ(response->status, code);
    EXPECT_EQ(response->body, absl::StrCat("{\"code\":", code, "}"));
  }
}

TEST_F(CurlHttpClientTest, RedirectsAreNotFollowed) {
  auto client = NewCurlHttpClient({});
  absl::StatusOr<Response> response = client->Send(Get(Url("/redirect")));
  ASSERT_THAT(response, IsOk());
  EXPECT_EQ(response->status, 302);
  EXPECT_EQ(FindHeader(response->headers, "Location"), "/echo");
}

TEST_F(CurlHttpClientTest, TimeoutAfterConnectingIsOutcomeUnknown) {
  auto client = NewCurlHttpClient({});
  Request request = Get(Url("/slow"));
  request.headers.emplace_back("Authorization", absl::StrCat("Bearer ", kSecret));
  request.timeout = absl::Milliseconds(200);
  const absl::Time start = RealClock::Get()->Now();
  absl::StatusOr<Response> response = client->Send(request);
  EXPECT_LT(RealClock::Get()->Now() - start, absl::Seconds(1.5));
  ASSERT_FALSE(response.ok());
  EXPECT_THAT(response, StatusIs(absl::StatusCode::kDeadlineExceeded)) << response.status();
  EXPECT_TRUE(IsOutcomeUnknown(response.status()));
  EXPECT_EQ(response.status().message().find(kSecret), absl::string_view::npos);
}

TEST_F(CurlHttpClientTest, DefaultTimeoutAppliesWhenRequestHasNone) {
  CurlOptions options;
  options.request_timeout = absl::Milliseconds(200);
  auto client = NewCurlHttpClient(options);
  absl::StatusOr<Response> response = client->Send(Get(Url("/slow")));
  ASSERT_FALSE(response.ok());
  EXPECT_THAT(response, StatusIs(absl::StatusCode::kDeadlineExceeded));
}

// A port nobody listens on: bound, then closed again.
int ClosedPort() {
  const int fd = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = 0;
  if (fd < 0 || bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0) return -1;
  socklen_t len = sizeof(addr);
  getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len);
  close(fd);
  return ntohs(addr.sin_port);
}

TEST_F(CurlHttpClientTest, ConnectionRefusedIsUnavailableAndNotOutcomeUnknown) {
  const int port = ClosedPort();
  ASSERT_GT(port, 0);
  auto client = NewCurlHttpClient({});
  Request request = Get(absl::StrCat("http://127.0.0.1:", port, "/echo"));
  request.headers.emplace_back("Authorization", absl::StrCat("Bearer ", kSecret));
  absl::StatusOr<Response> response = client->Send(request);
  ASSERT_FALSE(response.ok());
  EXPECT_THAT(response, StatusIs(absl::StatusCode::kUnavailable)) << response.status();
  EXPECT_FALSE(IsOutcomeUnknown(response.status()));
  EXPECT_EQ(response.status().message().find(kSecret), absl::string_view::npos);
}

TEST_F(CurlHttpClientTest, BodyAtTheCapIsAccepted) {
  CurlOptions options;
  options.max_response_bytes = 1000;
  auto client = NewCurlHttpClient(options);
  absl::StatusOr<Response> response = client->Send(Get(Url("/bytes/1000")));
  ASSERT_THAT(response, IsOk());
  EXPECT_EQ(response->body.size(), 1000u);
  response = client->Send(Get(Url("/chunked/1000")));
  ASSERT_THAT(response, IsOk());
  EXPECT_EQ(response->body, std::string(1000, 'y'));
}

TEST_F(CurlHttpClientTest, OversizedResponseWithContentLengthIsRejected) {
  CurlOptions options;
  options.max_response_bytes = 1000;
  auto client = NewCurlHttpClient(options);
  absl::StatusOr<Response> response = client->Send(Get(Url("/bytes/1001")));
  ASSERT_FALSE(response.ok());
  EXPECT_THAT(response, StatusIs(absl::StatusCode::kInternal)) << response.status();
  EXPECT_TRUE(IsOutcomeUnknown(response.status()));
}

TEST_F(CurlHttpClientTest, OversizedChunkedResponseIsRejectedWhileStreaming) {
  CurlOptions options;
  options.max_response_bytes = 1000;
  auto client = NewCurlHttpClient(options);
  absl::StatusOr<Response> response = client->Send(Get(Url("/chunked/50000")));
  ASSERT_FALSE(response.ok());
  EXPECT_THAT(response, StatusIs(absl::StatusCode::kInternal)) << response.status();
  EXPECT_NE(response.status().message().find("1000 bytes"), absl::string_view::npos);
  // The handle is usable again afterwards.
  EXPECT_THAT(client->Send(Get(Url("/bytes/10"))), IsOk());
}

TEST_F(CurlHttpClientTest, HeaderWithLineBreakIsRejectedWithoutEchoingTheValue) {
  auto client = NewCurlHttpClient({});
  Request request = Get(Url("/echo"));
  request.headers.emplace_back("Authorization", absl::StrCat(kSecret, "\r\nX-Injected: 1"));
  absl::StatusOr<Response> response = client->Send(request);
  ASSERT_FALSE(response.ok());
  EXPECT_THAT(response, StatusIs(absl::StatusCode::kInvalidArgument));
  EXPECT_EQ(response.status().message().find(kSecret), absl::string_view::npos);
}

TEST_F(CurlHttpClientTest, SameThreadReusesTheConnection) {
  auto client = NewCurlHttpClient({});
  absl::StatusOr<Response> first = client->Send(Get(Url("/port")));
  absl::StatusOr<Response> second = client->Send(Get(Url("/port")));
  ASSERT_THAT(first, IsOk());
  ASSERT_THAT(second, IsOk());
  EXPECT_EQ(first->body, second->body);
}

// The connection cache belongs to the client's one multi handle, not to the calling thread.
TEST_F(CurlHttpClientTest, ThreadsShareTheConnectionCache) {
  auto client = NewCurlHttpClient({});
  absl::StatusOr<Response> here = client->Send(Get(Url("/port")));
  absl::StatusOr<Response> there;
  std::thread other([&] { there = client->Send(Get(Url("/port"))); });
  other.join();
  ASSERT_THAT(here, IsOk());
  ASSERT_THAT(there, IsOk());
  EXPECT_EQ(here->body, there->body);
}

}  // namespace
}  // namespace music::http
