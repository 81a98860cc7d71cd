// The callback listener under abuse, over real sockets on loopback: routing and caps decided
// before a body is read, slow peers (1,000 tricklers) that cannot delay a real callback, the
// per-peer and total connection caps, the header and body read deadlines, and TLS.
#include "service/callbacks/callback_server.h"

#include <arpa/inet.h>
#include <curl/curl.h>
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/synchronization/notification.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/clock.h"
#include "tests/testing/self_signed_cert.h"
#include "tests/testing/temp_dir.h"

namespace music::service {
namespace {

// A socket connected to 127.0.0.1:`port` from the loopback address `from` (the listener's
// per-peer cap counts it against `from`). -1 when it cannot connect.
int ConnectFrom(const std::string& from, int port) {
  const int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return -1;
  sockaddr_in local{};
  local.sin_family = AF_INET;
  inet_pton(AF_INET, from.c_str(), &local.sin_addr);
  sockaddr_in remote{};
  remote.sin_family = AF_INET;
  remote.sin_port = htons(static_cast<uint16_t>(port));
  inet_pton(AF_INET, "127.0.0.1", &remote.sin_addr);
  if (bind(fd, reinterpret_cast<sockaddr*>(&local), sizeof(local)) != 0 ||
      connect(fd, reinterpret_cast<sockaddr*>(&remote), sizeof(remote)) != 0) {
    close(fd);
    return -1;
  }
  return fd;
}

bool SendAll(int fd, const std::string& data) {
  size_t sent = 0;
  while (sent < data.size()) {
    const ssize_t n = send(fd, data.data() + sent, data.size() - sent, MSG_NOSIGNAL);
    if (n <= 0) return false;
    sent += static_cast<size_t>(n);
  }
  return true;
}

// True when the peer closed `fd` (end of stream or reset) within `within`; data is discarded.
bool ClosedWithin(int fd, absl::Duration within) {
  const absl::Time end = absl::Now() + within;
  char buffer[4096];
  while (absl::Now() < end) {
    pollfd p{fd, POLLIN, 0};
    const int left = static_cast<int>(absl::ToInt64Milliseconds(end - absl::Now()));
    if (poll(&p, 1, std::max(left, 1)) <= 0) continue;
    const ssize_t n = recv(fd, buffer, sizeof(buffer), MSG_DONTWAIT);
    if (n == 0 || (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK)) return true;
  }
  return false;
}

struct RawResponse {
  int status = 0;  // 0: no answer (closed or timed out)
  std::string body;
};

// Reads one HTTP/1.1 answer (with Content-Length) from `fd` within `timeout`.
RawResponse ReadResponse(int fd, absl::Duration timeout) {
  RawResponse r;
  std::string data;
  const absl::Time end = absl::Now() + timeout;
  char buffer[4096];
  while (absl::Now() < end) {
    pollfd p{fd, POLLIN, 0};
    const int left = static_cast<int>(absl::ToInt64Milliseconds(end - absl::Now()));
    if (poll(&p, 1, std::max(left, 1)) <= 0) continue;
    const ssize_t n = recv(fd, buffer, sizeof(buffer), 0);
    if (n <= 0) break;
    data.append(buffer, static_cast<size_t>(n));
    const size_t head_end = data.find("\r\n\r\n");
    if (head_end == std::string::npos) continue;
    const std::string head = absl::AsciiStrToLower(data.substr(0, head_end));
    size_t length = 0;
    if (const size_t at = head.find("content-length:"); at != std::string::npos) {
      const size_t eol = head.find("\r\n", at);
      (void)absl::SimpleAtoi(head.substr(at + 15, eol == std::string::npos ? eol : eol - at - 15),
                             &length);
    }
    if (data.size() < head_end + 4 + length) continue;
    if (data.rfind("HTTP/1.", 0) == 0 && data.size() > 12) {
      (void)absl::SimpleAtoi(data.substr(9, 3), &r.status);
    }
    r.body = data.substr(head_end + 4, length);
    return r;
  }
  return r;
}

// One request on a new connection from `from`; the answer within `timeout`.
RawResponse Exchange(int port, const std::string& request, const std::string& from = "127.0.0.1",
                     absl::Duration timeout = absl::Seconds(5)) {
  const int fd = ConnectFrom(from, port);
  if (fd < 0) return {};
  RawResponse r = SendAll(fd, request) ? ReadResponse(fd, timeout) : RawResponse{};
  close(fd);
  return r;
}

std::string Post(const std::string& path, const std::string& body,
                 const std::string& extra_headers = "") {
  return absl::StrCat("POST ", path, " HTTP/1.1\r\nHost: cb\r\nContent-Type: application/json\r\n",
                      extra_headers, "Content-Length: ", body.size(), "\r\n\r\n", body);
}

constexpr char kHealthz[] = "GET /healthz HTTP/1.1\r\nHost: cb\r\n\r\n";

// The handler under the listener: records each delivery and answers `answer`.
class Recorder {
 public:
  struct Call {
    std::string provider, task_id, token, body, peer;
  };

  CallbackServer::Handler handler() {
    return [this](absl::string_view provider, absl::string_view task_id, absl::string_view token,
                  const http::Request& request, absl::string_view peer) {
      absl::MutexLock lock(&mu_);
      calls_.push_back({std::string(provider), std::string(task_id), std::string(token),
                        request.body, std::string(peer)});
      return answer_;
    };
  }
  void set_answer(absl::Status s) {
    absl::MutexLock lock(&mu_);
    answer_ = std::move(s);
  }
  std::vector<Call> calls() {
    absl::MutexLock lock(&mu_);
    return calls_;
  }

 private:
  absl::Mutex mu_;
  std::vector<Call> calls_ ABSL_GUARDED_BY(mu_);
  absl::Status answer_ ABSL_GUARDED_BY(mu_);
};

class CallbackServerTest : public ::testing::Test {
 protected:
  void Start(CallbackServerOptions options = {}) {
    server_ = std::make_unique<CallbackServer>(recorder_.handler(), std::move(options));
    ASSERT_TRUE(server_->Bind("127.0.0.1", 0).ok());
    ASSERT_TRUE(server_->Serve().ok());
    port_ = server_->port();
  }
  void TearDown() override {
    for (int fd : open_) close(fd);
    if (server_) server_->Stop();
  }
  // A connection from `from` that has sent a request line and stays in its headers.
  int Hold(const std::string& from) {
    const int fd = ConnectFrom(from, port_);
    if (fd >= 0) {
      SendAll(fd, "POST /callbacks/kie/tsk_1/tok HTTP/1.1\r\n");
      open_.push_back(fd);
    }
    return fd;
  }

  Recorder recorder_;
  std::unique_ptr<CallbackServer> server_;
  int port_ = 0;
  std::vector<int> open_;
};

TEST_F(CallbackServerTest, ServesOnlyCallbackPostsAndHealth) {
  Start();
  EXPECT_EQ(Exchange(port_, kHealthz).status, 200);
  EXPECT_EQ(Exchange(port_, Post("/healthz", "{}")).status, 405);
  EXPECT_EQ(Exchange(port_, "GET /callbacks/kie/tsk_1/tok HTTP/1.1\r\nHost: cb\r\n\r\n").status,
            405);
  EXPECT_EQ(Exchange(port_, Post("/metrics", "{}")).status, 404);
  EXPECT_EQ(Exchange(port_, Post("/callbacks/kie", "{}")).status, 404);
  EXPECT_EQ(Exchange(port_, Post("/callbacks/kie/a/b/c/d", "{}")).status, 404);
  EXPECT_EQ(Exchange(port_, Post("/callbacks/kie/tsk%201/tok", "{}")).status, 404);
  EXPECT_TRUE(recorder_.calls().empty());

  const RawResponse ok = Exchange(port_, Post("/callbacks/kie/tsk_1/tok-en_1", R"({"a":1})"));
  EXPECT_EQ(ok.status, 200);
  EXPECT_EQ(ok.body, R"({"status":"received"})");
  // Without its token the delivery still reaches the handler, which refuses and logs it.
  recorder_.set_answer(absl::UnauthenticatedError("the callback URL's token is not this task's"));
  const RawResponse refused = Exchange(port_, Post("/callbacks/piapi/tsk_2", "{}"));
  EXPECT_EQ(refused.status, 401);
  EXPECT_THAT(refused.body, ::testing::HasSubstr("token"));
  const auto calls = recorder_.calls();
  ASSERT_EQ(calls.size(), 2u);
  EXPECT_EQ(calls[0].provider, "kie");
  EXPECT_EQ(calls[0].task_id, "tsk_1");
  EXPECT_EQ(calls[0].token, "tok-en_1");
  EXPECT_EQ(calls[0].body, R"({"a":1})");
  EXPECT_EQ(calls[0].peer, "127.0.0.1");
  EXPECT_EQ(calls[1].provider, "piapi");
  EXPECT_EQ(calls[1].token, "");

  // One kept-alive connection carries request after request (a provider's burst of deliveries).
  const int fd = ConnectFrom("127.0.0.1", port_);
  ASSERT_GE(fd, 0);
  open_.push_back(fd);
  recorder_.set_answer(absl::OkStatus());
  for (int i = 0; i < 3; ++i) {
    ASSERT_TRUE(SendAll(fd, kHealthz));
    EXPECT_EQ(ReadResponse(fd, absl::Seconds(2)).status, 200);
    ASSERT_TRUE(SendAll(fd, Post("/callbacks/kie/tsk_1/tok", "{}")));
    EXPECT_EQ(ReadResponse(fd, absl::Seconds(2)).status, 200);
  }
  EXPECT_EQ(recorder_.calls().size(), 5u);
}

TEST_F(CallbackServerTest, OversizedBodiesAndHeadersAreRefusedBeforeTheHandler) {
  Start();
  // Refused on its Content-Length: not one body byte is sent.
  const int fd = ConnectFrom("127.0.0.1", port_);
  ASSERT_GE(fd, 0);
  open_.push_back(fd);
  ASSERT_TRUE(SendAll(fd,
                      "POST /callbacks/kie/tsk_1/tok HTTP/1.1\r\nHost: cb\r\n"
                      "Content-Length: 1048577\r\n\r\n"));
  EXPECT_EQ(ReadResponse(fd, absl::Seconds(5)).status, 413);
  // Exactly the cap is accepted.
  EXPECT_EQ(Exchange(port_, Post("/callbacks/kie/tsk_1/tok", std::string(1 << 20, 'x'))).status,
            200);
  // A chunked body over the cap is cut off.
  std::string chunked =
      "POST /callbacks/kie/tsk_1/tok HTTP/1.1\r\nHost: cb\r\nTransfer-Encoding: chunked\r\n\r\n";
  for (int i = 0; i < 20; ++i) absl::StrAppend(&chunked, "10000\r\n", std::string(65536, 'y'), "\r\n");
  absl::StrAppend(&chunked, "0\r\n\r\n");
  EXPECT_NE(Exchange(port_, chunked).status, 200);
  // Headers past the per-connection memory.
  const std::string big_header = absl::StrCat("X-Big: ", std::string(64 << 10, 'h'), "\r\n");
  const int status = Exchange(port_, Post("/callbacks/kie/tsk_1/tok", "{}", big_header)).status;
  EXPECT_TRUE(status == 0 || status == 431 || status == 413) << status;
  EXPECT_EQ(recorder_.calls().size(), 1u);  // only the delivery at the cap
}

// The issue: eight trickling connections (a header line a second) blocked the listener. Here
// 1,000 of them from one peer (127.0.0.2) are more than the whole connection cap, yet a real
// callback from another peer (127.0.0.1) is answered within a second, every time.
TEST_F(CallbackServerTest, AThousandTricklersDoNotDelayARealCallback) {
  rlimit files{};
  getrlimit(RLIMIT_NOFILE, &files);
  if (files.rlim_cur < 4096) {
    files.rlim_cur = std::max<rlim_t>(4096, std::min<rlim_t>(files.rlim_max, 4096));
    if (files.rlim_max < files.rlim_cur) files.rlim_max = files.rlim_cur;
    ASSERT_EQ(setrlimit(RLIMIT_NOFILE, &files), 0) << "need 4096 descriptors";
  }
  CallbackServerOptions options;  // the defaults, as deployed...
  options.max_connections = 512;  // ...with the total cap under the tricklers' 1,000
  Start(options);
  constexpr int kTricklers = 1000;
  for (int i = 0; i < kTricklers; ++i) {
    ASSERT_GE(Hold("127.0.0.2"), 0) << "connection " << i;
  }
  std::atomic<bool> done{false};
  // The attacker's pace is the attack (a header line a second); the deliveries start once every
  // trickler has sent two lines, not after a guessed delay.
  absl::Notification two_rounds;
  std::thread trickler([&] {
    for (int round = 1; !done.load(); ++round) {
      for (int fd : open_) send(fd, "X-Trickle: 1\r\n", 14, MSG_NOSIGNAL | MSG_DONTWAIT);
      if (round == 2) two_rounds.Notify();
      for (int i = 0; i < 10 && !done.load(); ++i) absl::SleepFor(absl::Milliseconds(100));
    }
  });
  two_rounds.WaitForNotification();
  for (int i = 0; i < 5; ++i) {
    const absl::Time start = absl::Now();
    const RawResponse r = Exchange(port_, Post(absl::StrCat("/callbacks/kie/tsk_real", i, "/tok"),
                                               R"({"code":200})"),
                                   "127.0.0.1", absl::Seconds(3));
    const absl::Duration took = absl::Now() - start;
    EXPECT_EQ(r.status, 200) << "delivery " << i;
    EXPECT_LT(took, absl::Seconds(1)) << "delivery " << i;
    EXPECT_EQ(Exchange(port_, kHealthz, "127.0.0.1", absl::Seconds(3)).status, 200);
  }
  done = true;
  trickler.join();
  EXPECT_EQ(recorder_.calls().size(), 5u);
  // The per-peer cap held: all but 32 of the tricklers were closed at accept.
  int still_open = 0;
  for (int fd : open_) still_open += ClosedWithin(fd, absl::Milliseconds(1)) ? 0 : 1;
  EXPECT_LE(still_open, CallbackServerOptions().max_connections_per_peer);
}

TEST_F(CallbackServerTest, PerPeerAndTotalCapsRefuseTheExcess) {
  CallbackServerOptions options;
  options.max_connections = 6;
  options.max_connections_per_peer = 3;
  Start(options);
  for (int i = 0; i < 3; ++i) ASSERT_GE(Hold("127.0.0.2"), 0);
  // A fourth from the same peer is closed at once.
  const int fourth = Hold("127.0.0.2");
  ASSERT_GE(fourth, 0);
  EXPECT_TRUE(ClosedWithin(fourth, absl::Seconds(2)));
  // Another peer fills the rest of the total.
  for (int i = 0; i < 3; ++i) ASSERT_GE(Hold("127.0.0.3"), 0);
  for (size_t i = 0; i < 3; ++i) EXPECT_FALSE(ClosedWithin(open_[i], absl::Milliseconds(100)));
  EXPECT_FALSE(ClosedWithin(open_.back(), absl::Milliseconds(100)));
  // With 6 open, a seventh peer gets no answer.
  EXPECT_EQ(Exchange(port_, kHealthz, "127.0.0.4", absl::Milliseconds(700)).status, 0);
  // A freed slot serves again.
  close(open_.back());
  open_.pop_back();
  EXPECT_EQ(Exchange(port_, kHealthz, "127.0.0.4", absl::Seconds(3)).status, 200);
}

TEST_F(CallbackServerTest, HeadersDribbledPastTheHeaderTimeoutAreCutOff) {
  CallbackServerOptions options;
  options.header_timeout = absl::Milliseconds(500);
  options.idle_timeout = absl::Seconds(30);  // a line every 100 ms never goes idle
  Start(options);
  const int fd = Hold("127.0.0.1");
  ASSERT_GE(fd, 0);
  const absl::Time start = absl::Now();
  bool closed = false;
  while (!closed && absl::Now() - start < absl::Seconds(3)) {
    closed = !SendAll(fd, "X-Trickle: 1\r\n") || ClosedWithin(fd, absl::Milliseconds(100));
  }
  const absl::Duration lived = absl::Now() - start;
  EXPECT_TRUE(closed);
  EXPECT_GE(lived, absl::Milliseconds(400));
  EXPECT_LT(lived, absl::Milliseconds(1500));
  EXPECT_TRUE(recorder_.calls().empty());
  // A request that completes in time on a kept-alive connection, then a next one dribbled.
  const int kept = ConnectFrom("127.0.0.1", port_);
  ASSERT_GE(kept, 0);
  open_.push_back(kept);
  ASSERT_TRUE(SendAll(kept, kHealthz));
  EXPECT_EQ(ReadResponse(kept, absl::Seconds(2)).status, 200);
  const absl::Time answered = absl::Now();
  ASSERT_TRUE(SendAll(kept, "GET /healthz HTTP/1.1\r\n"));
  EXPECT_TRUE(ClosedWithin(kept, absl::Seconds(2)));
  // The next request had a header timeout of its own, from the end of the first.
  EXPECT_GE(absl::Now() - answered, absl::Milliseconds(400));
}

TEST_F(CallbackServerTest, ABodyDribbledPastTheBodyTimeoutIsCutOff) {
  CallbackServerOptions options;
  options.body_timeout = absl::Milliseconds(500);
  Start(options);
  const int fd = ConnectFrom("127.0.0.1", port_);
  ASSERT_GE(fd, 0);
  open_.push_back(fd);
  ASSERT_TRUE(SendAll(fd, "POST /callbacks/kie/tsk_1/tok HTTP/1.1\r\nHost: cb\r\n"
                          "Content-Length: 100\r\n\r\n"));
  const absl::Time start = absl::Now();
  bool closed = false;
  while (!closed && absl::Now() - start < absl::Seconds(3)) {
    closed = !SendAll(fd, "x") || ClosedWithin(fd, absl::Milliseconds(100));
  }
  EXPECT_TRUE(closed);
  EXPECT_LT(absl::Now() - start, absl::Milliseconds(1500));
  EXPECT_TRUE(recorder_.calls().empty());
}

TEST_F(CallbackServerTest, ServesCallbacksOverTls) {
  TempDir dir("callback-tls");
  CallbackServerOptions options;
  options.tls_cert_file = dir.File("cert.pem");
  options.tls_key_file = dir.File("key.pem");
  ASSERT_TRUE(testing::WriteSelfSignedCert(options.tls_cert_file, options.tls_key_file));
  Start(options);
  EXPECT_TRUE(server_->tls());

  CURL* curl = curl_easy_init();
  ASSERT_NE(curl, nullptr);
  const std::string url = absl::StrCat("https://127.0.0.1:", port_, "/callbacks/kie/tsk_1/tok");
  const std::string body = R"({"code":200})";
  std::string answer;
  curl_easy_setopt(curl, CURLOPT_URL, url.c_str());
  curl_easy_setopt(curl, CURLOPT_POSTFIELDS, body.c_str());
  curl_easy_setopt(curl, CURLOPT_CAINFO, options.tls_cert_file.c_str());
  curl_easy_setopt(curl, CURLOPT_TIMEOUT_MS, 5000L);
  curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION,
                   +[](char* data, size_t size, size_t n, void* out) -> size_t {
                     static_cast<std::string*>(out)->append(data, size * n);
                     return size * n;
                   });
  curl_easy_setopt(curl, CURLOPT_WRITEDATA, &answer);
  const CURLcode sent = curl_easy_perform(curl);
  long status = 0;
  curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &status);
  curl_easy_cleanup(curl);
  EXPECT_EQ(sent, CURLE_OK) << curl_easy_strerror(sent);
  EXPECT_EQ(status, 200);
  EXPECT_EQ(answer, R"({"status":"received"})");
  ASSERT_EQ(recorder_.calls().size(), 1u);
  EXPECT_EQ(recorder_.calls()[0].body, body);
  // Plain HTTP to the TLS port gets no HTTP answer.
  EXPECT_EQ(Exchange(port_, kHealthz, "127.0.0.1", absl::Seconds(2)).status, 0);
}

TEST_F(CallbackServerTest, TlsNeedsBothFilesAndReadableOnes) {
  CallbackServerOptions half;
  half.tls_cert_file = "/nonexistent/cert.pem";
  CallbackServer a(recorder_.handler(), half);
  EXPECT_EQ(a.Bind("127.0.0.1", 0).code(), absl::StatusCode::kInvalidArgument);
  CallbackServerOptions missing = half;
  missing.tls_key_file = "/nonexistent/key.pem";
  CallbackServer b(recorder_.handler(), missing);
  EXPECT_EQ(b.Bind("127.0.0.1", 0).code(), absl::StatusCode::kNotFound);
}

// The request handling alone (what the fuzzer drives): no network.
TEST(HandleCallbackRequestTest, RoutesWithoutANetwork) {
  Recorder recorder;
  http::Request request;
  request.body = "{}";
  EXPECT_EQ(HandleCallbackRequest(recorder.handler(), "GET", "/healthz", request, "").status, 200);
  EXPECT_EQ(HandleCallbackRequest(recorder.handler(), "PUT", "/healthz", request, "").status, 405);
  EXPECT_EQ(HandleCallbackRequest(recorder.handler(), "POST", "/", request, "").status, 404);
  EXPECT_EQ(
      HandleCallbackRequest(recorder.handler(), "POST", "/callbacks/kie/t/x", request, "p").status,
      200);
  recorder.set_answer(absl::FailedPreconditionError("another provider task"));
  EXPECT_EQ(
      HandleCallbackRequest(recorder.handler(), "POST", "/callbacks/kie/t/x", request, "p").status,
      409);
  request.body.assign((1 << 20) + 1, 'x');
  EXPECT_EQ(
      HandleCallbackRequest(recorder.handler(), "POST", "/callbacks/kie/t/x", request, "p").status,
      413);
  EXPECT_EQ(recorder.calls().size(), 2u);
}

}  // namespace
}  // namespace music::service
