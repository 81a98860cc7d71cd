// CurlHttpClient::SendAsync against a real cpp-httplib server on 127.0.0.1 (port 0): one loop
// thread, connection reuse, the per-host limit, the error mapping and shutdown with requests in
// flight. The server counts what it sees (connections by client port, requests in its handlers).

#include <arpa/inet.h>
#include <httplib.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <memory>
#include <set>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "adapters/http/curl_http_client.h"
#include "adapters/provider_errors.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/testing/status_matchers.h"
#include "tests/testing/wait_for.h"

namespace music::http {
namespace {

using adapters::IsOutcomeUnknown;

// What the server saw. Thread-safe.
class ServerLog {
 public:
  void Enter(int remote_port) {
    absl::MutexLock lock(&mu_);
    ports_.insert(remote_port);
    ++requests_;
    ++in_handler_;
    max_in_handler_ = std::max(max_in_handler_, in_handler_);
  }
  void Leave() {
    absl::MutexLock lock(&mu_);
    --in_handler_;
  }
  void Reset() {
    absl::MutexLock lock(&mu_);
    ports_.clear();
    requests_ = 0;
    max_in_handler_ = in_handler_;
  }
  size_t connections() const {
    absl::MutexLock lock(&mu_);
    return ports_.size();
  }
  int requests() const {
    absl::MutexLock lock(&mu_);
    return requests_;
  }
  int in_handler() const {
    absl::MutexLock lock(&mu_);
    return in_handler_;
  }
  int max_in_handler() const {
    absl::MutexLock lock(&mu_);
    return max_in_handler_;
  }

 private:
  mutable absl::Mutex mu_;
  std::set<int> ports_ ABSL_GUARDED_BY(mu_);  // one client port per accepted connection
  int requests_ ABSL_GUARDED_BY(mu_) = 0;
  int in_handler_ ABSL_GUARDED_BY(mu_) = 0;
  int max_in_handler_ ABSL_GUARDED_BY(mu_) = 0;
};

// What the callbacks saw. Thread-safe.
class Outcomes {
 public:
  explicit Outcomes(size_t expected) : expected_(expected) {}

  ResponseCallback Callback() {
    return [this](absl::StatusOr<Response> result) {
      absl::MutexLock lock(&mu_);
      threads_.insert(std::this_thread::get_id());
      results_.push_back(std::move(result));
      if (results_.size() > expected_) ADD_FAILURE() << "more callbacks than requests";
    };
  }
  // Blocks until the expected number of callbacks ran (real I/O, so with a deadline).
  bool Wait() {
    absl::MutexLock lock(&mu_);
    const auto all_done = [this]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
      return results_.size() >= expected_;
    };
    if (mu_.AwaitWithTimeout(absl::Condition(&all_done), absl::Seconds(30))) return true;
    ADD_FAILURE() << results_.size() << " of " << expected_ << " callbacks ran";
    return false;
  }

  std::vector<absl::StatusOr<Response>> results() const {
    absl::MutexLock lock(&mu_);
    return results_;
  }
  std::set<std::thread::id> threads() const {
    absl::MutexLock lock(&mu_);
    return threads_;
  }

 private:
  const size_t expected_;
  mutable absl::Mutex mu_;
  std::vector<absl::StatusOr<Response>> results_ ABSL_GUARDED_BY(mu_);
  std::set<std::thread::id> threads_ ABSL_GUARDED_BY(mu_);
};

class CurlAsyncTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    log_ = new ServerLog();
    server_ = new httplib::Server();
    server_->set_tcp_nodelay(true);
    // httplib closes a kept-alive connection after 5 requests by default; a provider does not.
    server_->set_keep_alive_max_count(100000);
    server_->set_keep_alive_timeout(1);
    // More handler threads than any test opens connections, so none waits for a thread.
    server_->new_task_queue = [] { return new httplib::ThreadPool(24); };
    server_->Get("/port", [](const httplib::Request& req, httplib::Response& res) {
      log_->Enter(req.remote_port);
      res.set_content(std::to_string(req.remote_port), "text/plain");
      log_->Leave();
    });
    server_->Get("/busy", [](const httplib::Request& req, httplib::Response& res) {
      log_->Enter(req.remote_port);
      ServerDelay(absl::Milliseconds(20), stopping_);
      res.set_content("done", "text/plain");
      log_->Leave();
    });
    server_->Get("/hold", [](const httplib::Request& req, httplib::Response& res) {
      log_->Enter(req.remote_port);
      ServerDelay(absl::Seconds(5), release_);
      res.set_content("released", "text/plain");
      log_->Leave();
    });
    port_ = server_->bind_to_any_port("127.0.0.1");
    if (port_ <= 0) return;  // SetUp fails every test
    thread_ = new std::thread([] { server_->listen_after_bind(); });
    WaitFor([] { return server_->is_running(); }, absl::Seconds(5), "the test server");
  }

  static void TearDownTestSuite() {
    stopping_ = true;
    release_ = true;
    server_->stop();
    if (thread_ != nullptr) thread_->join();
    delete thread_;
    delete server_;
    delete log_;
  }

  void SetUp() override {
    ASSERT_GT(port_, 0);
    release_ = false;
    log_->Reset();
  }

  // A held handler must not outlive its test: it would count in the next test's figures.
  void TearDown() override {
    release_ = true;
    WaitFor([] { return log_->in_handler() == 0; }, absl::Seconds(10), "the server's handlers");
  }

  static Request Get(absl::string_view path) {
    Request request;
    request.method = "GET";
    request.url = absl::StrCat("http://127.0.0.1:", port_, path);
    return request;
  }

  static inline httplib::Server* server_ = nullptr;
  static inline ServerLog* log_ = nullptr;
  static inline int port_ = 0;
  static inline std::thread* thread_ = nullptr;
  static inline std::atomic<bool> stopping_{false};
  static inline std::atomic<bool> release_{false};
};

TEST_F(CurlAsyncTest, ManyRequestsCompleteOnOneLoopThreadOverFewConnections) {
  CurlOptions options;
  options.max_host_connections = 4;
  auto client = NewCurlHttpClient(options);
  constexpr int kRequests = 500;
  Outcomes outcomes(kRequests);
  for (int i = 0; i < kRequests; ++i) client->SendAsync(Get("/port"), outcomes.Callback());
  ASSERT_TRUE(outcomes.Wait());

  for (const absl::StatusOr<Response>& result : outcomes.results()) {
    ASSERT_THAT(result, IsOk());
    EXPECT_EQ(result->status, 200);
  }
  const std::set<std::thread::id> threads = outcomes.threads();
  ASSERT_EQ(threads.size(), 1u);
  EXPECT_NE(*threads.begin(), std::this_thread::get_id());
  EXPECT_EQ(log_->requests(), kRequests);
  EXPECT_GE(log_->connections(), 1u);
  EXPECT_LE(log_->connections(), 4u);
}

TEST_F(CurlAsyncTest, SequentialRequestsReuseOneConnection) {
  auto client = NewCurlHttpClient({});
  for (int i = 0; i < 50; ++i) ASSERT_THAT(client->Send(Get("/port")), IsOk());
  EXPECT_EQ(log_->requests(), 50);
  EXPECT_EQ(log_->connections(), 1u);
}

TEST_F(CurlAsyncTest, PerHostLimitBoundsConcurrentRequests) {
  CurlOptions options;
  options.max_host_connections = 3;
  auto client = NewCurlHttpClient(options);
  constexpr int kRequests = 30;
  Outcomes outcomes(kRequests);
  for (int i = 0; i < kRequests; ++i) client->SendAsync(Get("/busy"), outcomes.Callback());
  ASSERT_TRUE(outcomes.Wait());

  for (const absl::StatusOr<Response>& result : outcomes.results()) ASSERT_THAT(result, IsOk());
  EXPECT_LE(log_->max_in_handler(), 3);
  // The limit is a bound, not a serialisation: the queued requests did run side by side.
  EXPECT_GE(log_->max_in_handler(), 2);
  EXPECT_LE(log_->connections(), 3u);
}

TEST_F(CurlAsyncTest, TotalLimitBoundsConcurrentRequests) {
  CurlOptions options;
  options.max_host_connections = 0;
  options.max_total_connections = 2;
  auto client = NewCurlHttpClient(options);
  constexpr int kRequests = 12;
  Outcomes outcomes(kRequests);
  for (int i = 0; i < kRequests; ++i) client->SendAsync(Get("/busy"), outcomes.Callback());
  ASSERT_TRUE(outcomes.Wait());
  for (const absl::StatusOr<Response>& result : outcomes.results()) ASSERT_THAT(result, IsOk());
  EXPECT_LE(log_->max_in_handler(), 2);
}

TEST_F(CurlAsyncTest, TimeoutAfterConnectingIsOutcomeUnknown) {
  auto client = NewCurlHttpClient({});
  Request request = Get("/hold");
  request.timeout = absl::Milliseconds(200);
  Outcomes outcomes(1);
  client->SendAsync(std::move(request), outcomes.Callback());
  ASSERT_TRUE(outcomes.Wait());
  const absl::StatusOr<Response> result = outcomes.results().front();
  EXPECT_THAT(result, StatusIs(absl::StatusCode::kDeadlineExceeded));
  EXPECT_TRUE(IsOutcomeUnknown(result.status()));
}

TEST_F(CurlAsyncTest, TimeSpentWaitingForAConnectionCountsAndIsNotOutcomeUnknown) {
  CurlOptions options;
  options.max_host_connections = 1;
  auto client = NewCurlHttpClient(options);
  Outcomes held(1);
  client->SendAsync(Get("/hold"), held.Callback());
  ASSERT_TRUE(WaitFor([] { return log_->in_handler() == 1; }, absl::Seconds(10), "1 in flight"));
  Request queued = Get("/port");
  queued.timeout = absl::Milliseconds(100);
  Outcomes outcomes(1);
  client->SendAsync(std::move(queued), outcomes.Callback());
  ASSERT_TRUE(outcomes.Wait());
  const absl::StatusOr<Response> result = outcomes.results().front();
  EXPECT_THAT(result, StatusIs(absl::StatusCode::kDeadlineExceeded));
  EXPECT_FALSE(IsOutcomeUnknown(result.status()));
  EXPECT_EQ(log_->requests(), 1);  // the queued one never went out
  release_ = true;
  ASSERT_TRUE(held.Wait());
  EXPECT_THAT(held.results().front(), IsOk());
}

TEST_F(CurlAsyncTest, TheQueueWaitObserverHearsEachRequestsTimeInTheHostQueue) {
  absl::Mutex mu;
  std::vector<absl::Duration> waits;
  CurlOptions options;
  options.max_host_connections = 1;
  options.queue_wait_observer = [&](absl::Duration waited) {
    absl::MutexLock lock(&mu);
    waits.push_back(waited);
  };
  auto client = NewCurlHttpClient(options);
  Outcomes held(1);
  client->SendAsync(Get("/hold"), held.Callback());  // room at once
  ASSERT_TRUE(WaitFor([] { return log_->in_handler() == 1; }, absl::Seconds(10), "1 in flight"));
  Outcomes queued(2);
  Request expires = Get("/port");
  expires.timeout = absl::Milliseconds(100);  // times out in the queue
  client->SendAsync(std::move(expires), queued.Callback());
  client->SendAsync(Get("/port"), queued.Callback());  // waits until /hold is released
  ASSERT_TRUE(WaitFor(
      [&] {
        absl::MutexLock lock(&mu);
        return waits.size() == 2;  // /hold's, and the expired one's
      },
      absl::Seconds(10), "the expired request's wait"));
  release_ = true;
  ASSERT_TRUE(held.Wait());
  ASSERT_TRUE(queued.Wait());
  absl::MutexLock lock(&mu);
  ASSERT_EQ(waits.size(), 3u);
  EXPECT_LT(waits[0], absl::Milliseconds(50));   // sent at once
  EXPECT_GE(waits[1], absl::Milliseconds(100));  // its whole timeout, in the queue
  // Queued before the other expired and sent only after /hold's release: the longer wait.
  EXPECT_GE(waits[2], waits[1]);
}

TEST_F(CurlAsyncTest, UrgentRequestsWaitAheadOfQueuedOnes) {
  CurlOptions options;
  options.max_host_connections = 1;
  auto client = NewCurlHttpClient(options);
  Outcomes held(1);
  client->SendAsync(Get("/hold"), held.Callback());
  ASSERT_TRUE(WaitFor([] { return log_->in_handler() == 1; }, absl::Seconds(10), "1 in flight"));
  // Three polls queue for the one connection, then a create (urgent), then one more poll.
  absl::Mutex mu;
  std::vector<std::string> order;
  Outcomes outcomes(5);
  auto send = [&](const std::string& name, bool urgent) {
    Request request = Get("/port");
    request.urgent = urgent;
    client->SendAsync(std::move(request),
                      [&, name, done = outcomes.Callback()](absl::StatusOr<Response> r) mutable {
                        {
                          absl::MutexLock lock(&mu);
                          order.push_back(name);
                        }
                        std::move(done)(std::move(r));
                      });
  };
  send("poll-1", false);
  send("poll-2", false);
  send("poll-3", false);
  send("create", true);
  send("poll-4", false);
  // A probe to another host key (its own per-host queue, with room) is answered only after the
  // loop took it from the incoming FIFO, so after it placed the five sent before it: all five
  // are queued behind /hold when the probe answers.
  Outcomes probe(1);
  Request other;
  other.method = "GET";
  other.url = absl::StrCat("http://localhost:", port_, "/port");
  client->SendAsync(std::move(other), probe.Callback());
  ASSERT_TRUE(probe.Wait());
  ASSERT_THAT(probe.results().front(), IsOk());
  release_ = true;
  ASSERT_TRUE(held.Wait());
  ASSERT_TRUE(outcomes.Wait());
  absl::MutexLock lock(&mu);
  EXPECT_THAT(order, ::testing::ElementsAre("create", "poll-1", "poll-2", "poll-3", "poll-4"));
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

TEST_F(CurlAsyncTest, ConnectionRefusedIsUnavailableAndNotOutcomeUnknown) {
  const int port = ClosedPort();
  ASSERT_GT(port, 0);
  auto client = NewCurlHttpClient({});
  Request request;
  request.url = absl::StrCat("http://127.0.0.1:", port, "/port");
  Outcomes outcomes(1);
  client->SendAsync(std::move(request), outcomes.Callback());
  ASSERT_TRUE(outcomes.Wait());
  const absl::StatusOr<Response> result = outcomes.results().front();
  EXPECT_THAT(result, StatusIs(absl::StatusCode::kUnavailable));
  EXPECT_FALSE(IsOutcomeUnknown(result.status()));
}

TEST_F(CurlAsyncTest, RefusedRequestsAnswerOnTheLoopThreadNotInsideSendAsync) {
  auto client = NewCurlHttpClient({});
  Request request = Get("/port");
  request.headers.emplace_back("X-Bad", "a\r\nX-Injected: 1");
  Outcomes outcomes(1);
  client->SendAsync(std::move(request), outcomes.Callback());
  ASSERT_TRUE(outcomes.Wait());
  EXPECT_THAT(outcomes.results().front(), StatusIs(absl::StatusCode::kInvalidArgument));
  EXPECT_NE(*outcomes.threads().begin(), std::this_thread::get_id());
  EXPECT_EQ(log_->requests(), 0);
}

TEST_F(CurlAsyncTest, CallbacksMaySendAgainAndEvenBlock) {
  auto client = NewCurlHttpClient({});
  Outcomes outcomes(2);
  absl::StatusOr<Response> nested;
  client->SendAsync(Get("/port"), [&](absl::StatusOr<Response> first) {
    // Send() on the loop thread runs that one transfer in place instead of deadlocking.
    nested = client->Send(Get("/port"));
    client->SendAsync(Get("/port"), outcomes.Callback());
    outcomes.Callback()(std::move(first));
  });
  ASSERT_TRUE(outcomes.Wait());
  EXPECT_THAT(nested, IsOk());
  for (const absl::StatusOr<Response>& result : outcomes.results()) EXPECT_THAT(result, IsOk());
  EXPECT_EQ(log_->requests(), 3);
}

TEST_F(CurlAsyncTest, DestructionFailsEveryPendingRequestOnce) {
  CurlOptions options;
  options.max_host_connections = 4;
  std::unique_ptr<HttpClient> client = NewCurlHttpClient(options);
  HttpClient* const raw = client.get();  // reset() clears `client` before destroying it
  constexpr int kRequests = 10;
  Outcomes outcomes(kRequests + 1);
  std::atomic<bool> retried{false};
  for (int i = 0; i < kRequests; ++i) {
    client->SendAsync(Get("/hold"), [&, raw](absl::StatusOr<Response> result) {
      // A retry queued during shutdown is failed too, once, and not run.
      if (absl::IsUnavailable(result.status()) && !retried.exchange(true)) {
        raw->SendAsync(Get("/port"), outcomes.Callback());
      }
      outcomes.Callback()(std::move(result));
    });
  }
  // Four requests reach the server; six wait in libcurl's queue for a connection.
  ASSERT_TRUE(WaitFor([] { return log_->in_handler() == 4; }, absl::Seconds(10), "4 in flight"));
  client.reset();
  ASSERT_TRUE(outcomes.Wait());

  int cancelled = 0;
  int unavailable = 0;
  for (const absl::StatusOr<Response>& result : outcomes.results()) {
    if (absl::IsCancelled(result.status())) {
      ++cancelled;
      EXPECT_TRUE(IsOutcomeUnknown(result.status()));
    } else {
      EXPECT_THAT(result, StatusIs(absl::StatusCode::kUnavailable));
      EXPECT_FALSE(IsOutcomeUnknown(result.status()));
      ++unavailable;
    }
  }
  EXPECT_EQ(cancelled, 4);
  EXPECT_EQ(unavailable, kRequests - 4 + 1);
  EXPECT_EQ(log_->requests(), 4);
}

TEST_F(CurlAsyncTest, AbortInFlightFailsPendingRequestsAtOnceAndLaterOnesStillGo) {
  CurlOptions options;
  options.max_host_connections = 4;
  options.request_timeout = absl::Seconds(60);
  std::unique_ptr<HttpClient> client = NewCurlHttpClient(options);
  constexpr int kRequests = 10;
  Outcomes outcomes(kRequests);
  for (int i = 0; i < kRequests; ++i) client->SendAsync(Get("/hold"), outcomes.Callback());
  ASSERT_TRUE(WaitFor([] { return log_->in_handler() == 4; }, absl::Seconds(10), "4 in flight"));
  const absl::Time start = absl::Now();
  client->AbortInFlight();
  ASSERT_TRUE(outcomes.Wait());
  EXPECT_LT(absl::Now() - start, absl::Seconds(3)) << "not their 60 s timeout, nor the 5 s hold";
  int cancelled = 0;
  for (const absl::StatusOr<Response>& result : outcomes.results()) {
    if (absl::IsCancelled(result.status())) {
      ++cancelled;
      EXPECT_TRUE(IsOutcomeUnknown(result.status()));  // it reached the server
    } else {
      EXPECT_THAT(result, StatusIs(absl::StatusCode::kUnavailable));  // never sent
      EXPECT_FALSE(IsOutcomeUnknown(result.status()));
    }
  }
  EXPECT_EQ(cancelled, 4);
  // The client still works.
  Outcomes later(1);
  client->SendAsync(Get("/port"), later.Callback());
  ASSERT_TRUE(later.Wait());
  EXPECT_TRUE(later.results().front().ok()) << later.results().front().status();
}

}  // namespace
}  // namespace music::http
