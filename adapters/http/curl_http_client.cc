// http::HttpClient over libcurl's multi interface, driven by one epoll loop (the shape of curl's
// docs/examples/ephiperfifo.c).
//
// Why: a blocking Send holds a worker thread for a whole round trip, and a per-thread easy handle
// keeps a per-thread connection cache. Here one thread runs every transfer of the client:
// SendAsync queues the request under a mutex and writes an eventfd; the loop adds an easy handle
// to the one multi handle, and libcurl tells it which sockets to watch (CURLMOPT_SOCKETFUNCTION)
// and when its next timeout is due (CURLMOPT_TIMERFUNCTION). curl_multi_socket_action then only
// touches the transfers of the sockets that are ready, so the cost per request does not grow with
// the number in flight. The multi handle owns the connection cache, so every request of every
// provider reuses kept-alive connections; CURLMOPT_MAX_HOST_CONNECTIONS caps the connections per
// host and libcurl queues the excess. Easy handles are recycled (curl_easy_reset) to save their
// allocation; they hold no connection of their own.
//
// Everything named "loop-thread only" below is touched by the loop thread alone after the
// constructor, so it needs no lock.

#include "adapters/http/curl_http_client.h"

#include <curl/curl.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstdint>
#include <deque>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_map.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/ascii.h"
#include "absl/strings/escaping.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"
#include "absl/synchronization/mutex.h"
#include "absl/synchronization/notification.h"
#include "adapters/provider_errors.h"

namespace music::http {
namespace {

void GlobalInitOnce() {
  static std::once_flag once;
  // Never paired with curl_global_cleanup(): clients may be destroyed during static destruction.
  std::call_once(once, [] { curl_global_init(CURL_GLOBAL_DEFAULT); });
}

struct SlistDeleter {
  void operator()(curl_slist* list) const { curl_slist_free_all(list); }
};
using Slist = std::unique_ptr<curl_slist, SlistDeleter>;

bool AppendHeader(Slist& list, const std::string& line) {
  curl_slist* head = curl_slist_append(list.get(), line.c_str());
  if (head == nullptr) return false;
  // The head only changes on the first append; keep ownership in one place either way.
  static_cast<void>(list.release());
  list.reset(head);
  return true;
}

// libcurl bounds each header line but not their number; this bounds the whole header block.
constexpr size_t kMaxHeaderBytes = 64 << 10;

// Collects one response, failing the transfer once the body or the headers pass their caps.
struct ResponseSink {
  Response* response;
  size_t max_body_bytes;
  size_t header_bytes = 0;
  bool too_large = false;
};

size_t OnBody(char* data, size_t size, size_t count, void* user) {
  auto* sink = static_cast<ResponseSink*>(user);
  const size_t n = size * count;
  // Returning less than `n` makes libcurl abort the transfer with CURLE_WRITE_ERROR.
  if (n > sink->max_body_bytes - sink->response->body.size()) {
    sink->too_large = true;
    return 0;
  }
  sink->response->body.append(data, n);
  return n;
}

size_t OnHeader(char* data, size_t size, size_t count, void* user) {
  auto* sink = static_cast<ResponseSink*>(user);
  const size_t n = size * count;
  sink->header_bytes += n;
  if (sink->header_bytes > kMaxHeaderBytes) {
    sink->too_large = true;
    return 0;
  }
  absl::string_view line(data, n);
  // A status line starts a new header block (after "100 Continue"): keep only the final one.
  if (absl::StartsWith(line, "HTTP/")) {
    sink->response->headers.clear();
    return n;
  }
  const size_t colon = line.find(':');
  if (colon == absl::string_view::npos) return n;  // the blank line ending the block
  sink->response->headers.emplace_back(
      std::string(absl::StripAsciiWhitespace(line.substr(0, colon))),
      std::string(absl::StripAsciiWhitespace(line.substr(colon + 1))));
  return n;
}

// True when the request may have reached the server: a connection was made (or reused) or
// request bytes went out. A connect that never completed leaves all three at zero.
bool MayHaveReachedServer(CURL* curl) {
  curl_off_t connect_us = 0;
  curl_off_t pretransfer_us = 0;
  long request_bytes = 0;
  curl_easy_getinfo(curl, CURLINFO_CONNECT_TIME_T, &connect_us);
  curl_easy_getinfo(curl, CURLINFO_PRETRANSFER_TIME_T, &pretransfer_us);
  curl_easy_getinfo(curl, CURLINFO_REQUEST_SIZE, &request_bytes);
  return connect_us > 0 || pretransfer_us > 0 || request_bytes > 0;
}

// Maps a failed transfer onto the codes of http_client.h. Messages hold libcurl's text only,
// never request headers (they carry API keys).
absl::Status TransportError(CURL* curl, CURLcode code, const char* detail, const ResponseSink& sink,
                            absl::string_view method) {
  const std::string what =
      absl::StrCat(method, " failed: ", curl_easy_strerror(code),
                   detail[0] != '\0' ? absl::StrCat(" (", detail, ")") : std::string());
  const bool reached = MayHaveReachedServer(curl);
  absl::Status status;
  switch (code) {
    case CURLE_COULDNT_RESOLVE_HOST:
    case CURLE_COULDNT_RESOLVE_PROXY:
    case CURLE_COULDNT_CONNECT:
      return absl::UnavailableError(what);
    case CURLE_OPERATION_TIMEDOUT:
      status = absl::DeadlineExceededError(what);
      break;
    case CURLE_WRITE_ERROR:
    case CURLE_FILESIZE_EXCEEDED:
      // A write error is ours only when a cap was hit; the size cap is checked up front too.
      status = sink.too_large || code == CURLE_FILESIZE_EXCEEDED
                   ? absl::InternalError(
                         absl::StrCat(method, " failed: response body over ", sink.max_body_bytes,
                                      " bytes or headers over ", kMaxHeaderBytes, " bytes"))
                   : absl::InternalError(what);
      break;
    default:
      status = absl::InternalError(what);
      break;
  }
  if (reached) adapters::MarkOutcomeUnknown(status);
  return status;
}

using SteadyClock = std::chrono::steady_clock;

// One request from SendAsync to its callback. Owns everything libcurl points into while the
// transfer runs (the body is not copied by CURLOPT_POSTFIELDS).
struct Transfer {
  Request request;
  ResponseCallback done;
  std::string host;                  // HostKey(request.url): the queue it waits in
  SteadyClock::time_point deadline;  // from SendAsync: time spent queued counts
  SteadyClock::time_point queued;    // when SendAsync took it (queue_wait_observer)
  CURL* easy = nullptr;
  Slist headers;
  std::string method;  // upper case
  Response response;
  ResponseSink sink{&response, 0};
  char error_buffer[CURL_ERROR_SIZE] = {};
};

// The request's total time: its own timeout, or the client's default.
absl::Duration TimeoutOf(const CurlOptions& options, const Request& request) {
  return request.timeout > absl::ZeroDuration() ? request.timeout : options.request_timeout;
}

// "scheme://authority" of `url`, lower case: requests with the same key share the per-host
// limit (libcurl's own CURLMOPT_MAX_HOST_CONNECTIONS stays set behind it, keyed by host:port).
std::string HostKey(absl::string_view url) {
  const size_t scheme_end = url.find("://");
  const size_t start = scheme_end == absl::string_view::npos ? 0 : scheme_end + 3;
  return absl::AsciiStrToLower(url.substr(0, url.find_first_of("/?#", start)));
}

// Sets `t->easy`'s options for `t->request`, with `timeout` as the total time left.
// INVALID_ARGUMENT for a header with a line break.
absl::Status Prepare(const CurlOptions& options, absl::Duration timeout, Transfer& t) {
  const Request& request = t.request;
  CURL* curl = t.easy;
  for (const auto& [name, value] : request.headers) {
    // A line break would let a value smuggle in another header; the value stays out of the
    // message because it may be a secret.
    if (absl::StrContains(name, '\r') || absl::StrContains(name, '\n') ||
        absl::StrContains(value, '\r') || absl::StrContains(value, '\n')) {
      return absl::InvalidArgumentError(
          absl::StrCat("header \"", absl::CEscape(name), "\" contains a line break"));
    }
    // "Name;" is libcurl's spelling of an empty header ("Name:" would remove it).
    if (!AppendHeader(t.headers,
                      value.empty() ? absl::StrCat(name, ";") : absl::StrCat(name, ": ", value))) {
      return absl::InternalError("curl_slist_append failed");
    }
  }
  // An empty "Expect:" stops libcurl from waiting for "100 Continue" before large bodies.
  if (!AppendHeader(t.headers, "Expect:")) return absl::InternalError("curl_slist_append failed");

  t.sink.max_body_bytes = options.max_response_bytes;

  curl_easy_setopt(curl, CURLOPT_PRIVATE, &t);
  curl_easy_setopt(curl, CURLOPT_URL, request.url.c_str());
  curl_easy_setopt(curl, CURLOPT_PROTOCOLS_STR, "http,https");
  curl_easy_setopt(curl, CURLOPT_HTTPHEADER, t.headers.get());
  curl_easy_setopt(curl, CURLOPT_NOSIGNAL, 1L);
  // libcurl's default, stated because the latency of kept-alive requests depends on it.
  curl_easy_setopt(curl, CURLOPT_TCP_NODELAY, 1L);
  curl_easy_setopt(curl, CURLOPT_FOLLOWLOCATION, 0L);
  curl_easy_setopt(curl, CURLOPT_CONNECTTIMEOUT_MS,
                   static_cast<long>(absl::ToInt64Milliseconds(options.connect_timeout)));
  // At least 1 ms: 0 would mean no timeout at all.
  curl_easy_setopt(curl, CURLOPT_TIMEOUT_MS,
                   std::max<long>(1, static_cast<long>(absl::ToInt64Milliseconds(timeout))));
  // Rejects a too-large answer up front when it announces its Content-Length.
  curl_easy_setopt(curl, CURLOPT_MAXFILESIZE_LARGE,
                   static_cast<curl_off_t>(options.max_response_bytes));
  curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, &OnBody);
  curl_easy_setopt(curl, CURLOPT_WRITEDATA, &t.sink);
  curl_easy_setopt(curl, CURLOPT_HEADERFUNCTION, &OnHeader);
  curl_easy_setopt(curl, CURLOPT_HEADERDATA, &t.sink);
  curl_easy_setopt(curl, CURLOPT_ERRORBUFFER, t.error_buffer);

  t.method = absl::AsciiStrToUpper(request.method);
  if (t.method == "GET") {
    curl_easy_setopt(curl, CURLOPT_HTTPGET, 1L);
  } else if (t.method == "HEAD") {
    curl_easy_setopt(curl, CURLOPT_NOBODY, 1L);
  } else {
    if (t.method != "POST") curl_easy_setopt(curl, CURLOPT_CUSTOMREQUEST, t.method.c_str());
    curl_easy_setopt(curl, CURLOPT_POSTFIELDS, request.body.data());
    curl_easy_setopt(curl, CURLOPT_POSTFIELDSIZE_LARGE,
                     static_cast<curl_off_t>(request.body.size()));
  }
  return absl::OkStatus();
}

// The outcome of a finished transfer.
absl::StatusOr<Response> Finish(Transfer& t, CURLcode code) {
  if (code != CURLE_OK) return TransportError(t.easy, code, t.error_buffer, t.sink, t.method);
  long http_status = 0;
  curl_easy_getinfo(t.easy, CURLINFO_RESPONSE_CODE, &http_status);
  t.response.status = static_cast<int>(http_status);
  return std::move(t.response);
}

class CurlHttpClient final : public HttpClient {
 public:
  explicit CurlHttpClient(CurlOptions options) : options_(std::move(options)) {
    GlobalInitOnce();
    multi_ = curl_multi_init();
    epoll_fd_ = epoll_create1(EPOLL_CLOEXEC);
    wake_fd_ = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    if (multi_ != nullptr && epoll_fd_ >= 0 && wake_fd_ >= 0) {
      epoll_event event{};
      event.events = EPOLLIN;
      event.data.fd = wake_fd_;
      if (epoll_ctl(epoll_fd_, EPOLL_CTL_ADD, wake_fd_, &event) == 0) {
        curl_multi_setopt(multi_, CURLMOPT_SOCKETFUNCTION, &OnSocket);
        curl_multi_setopt(multi_, CURLMOPT_SOCKETDATA, this);
        curl_multi_setopt(multi_, CURLMOPT_TIMERFUNCTION, &OnTimer);
        curl_multi_setopt(multi_, CURLMOPT_TIMERDATA, this);
        curl_multi_setopt(multi_, CURLMOPT_MAX_HOST_CONNECTIONS, options_.max_host_connections);
        curl_multi_setopt(multi_, CURLMOPT_MAX_TOTAL_CONNECTIONS, options_.max_total_connections);
        // Keep every open connection cached for reuse rather than closing the oldest idle ones.
        if (options_.max_total_connections > 0) {
          curl_multi_setopt(multi_, CURLMOPT_MAXCONNECTS, options_.max_total_connections);
        }
        thread_ = std::thread([this] { Run(); });
        loop_id_ = thread_.get_id();
        return;
      }
    }
    // Without a loop every request fails at once (SendAsync checks loop_exited_).
    absl::MutexLock lock(&mu_);
    loop_exited_ = true;
  }

  void AbortInFlight() override {
    {
      absl::MutexLock lock(&mu_);
      abort_requested_ = true;
    }
    Wake();
  }

  ~CurlHttpClient() override {
    {
      absl::MutexLock lock(&mu_);
      stopping_ = true;
    }
    Wake();
    if (thread_.joinable()) thread_.join();
    for (CURL* easy : idle_easy_) curl_easy_cleanup(easy);
    if (multi_ != nullptr) curl_multi_cleanup(multi_);
    if (wake_fd_ >= 0) close(wake_fd_);
    if (epoll_fd_ >= 0) close(epoll_fd_);
  }

  absl::StatusOr<Response> Send(const Request& request) override {
    // A callback waiting for its own loop would wait forever: run that one transfer here.
    if (std::this_thread::get_id() == loop_id_) return SendBlocking(request);
    absl::Notification finished;
    absl::StatusOr<Response> result;
    SendAsync(request, [&finished, &result](absl::StatusOr<Response> r) {
      result = std::move(r);
      finished.Notify();
    });
    finished.WaitForNotification();
    return result;
  }

  void SendAsync(Request request, ResponseCallback done) override {
    auto transfer = std::make_unique<Transfer>();
    transfer->host = HostKey(request.url);
    transfer->queued = SteadyClock::now();
    transfer->deadline =
        transfer->queued + absl::ToChronoMilliseconds(TimeoutOf(options_, request));
    transfer->request = std::move(request);
    transfer->done = std::move(done);
    bool wake = false;
    ResponseCallback refused;
    {
      absl::MutexLock lock(&mu_);
      if (loop_exited_) {
        // Only a caller racing the destructor (or a client whose loop never started) gets here.
        refused = std::move(transfer->done);
      } else {
        // One wake-up per batch: the loop takes the whole queue at once, so only the request
        // that finds it empty needs to wake it.
        wake = incoming_.empty();
        incoming_.push_back(std::move(transfer));
      }
    }
    if (refused != nullptr) {
      std::move(refused)(absl::UnavailableError("HTTP client is shut down"));
      return;
    }
    if (wake) Wake();
  }

 private:
  // Requests to one "scheme://authority": how many are with libcurl, and those waiting for room.
  struct Host {
    long active = 0;
    std::deque<std::unique_ptr<Transfer>> waiting;
    // The first `urgent` of `waiting` are Request::urgent ones (creates ahead of polls).
    size_t urgent = 0;
    void PopFront() {
      waiting.pop_front();
      if (urgent > 0) --urgent;
    }
  };

  static int OnSocket(CURL* /*easy*/, curl_socket_t fd, int what, void* user, void* /*socketp*/) {
    auto* self = static_cast<CurlHttpClient*>(user);
    if (what == CURL_POLL_REMOVE) {
      // The fd may already be closed, which removed it from the set: errors are expected.
      epoll_ctl(self->epoll_fd_, EPOLL_CTL_DEL, fd, nullptr);
      return 0;
    }
    epoll_event event{};
    event.events = ((what & CURL_POLL_IN) != 0 ? static_cast<uint32_t>(EPOLLIN) : 0u) |
                   ((what & CURL_POLL_OUT) != 0 ? static_cast<uint32_t>(EPOLLOUT) : 0u);
    event.data.fd = fd;
    if (epoll_ctl(self->epoll_fd_, EPOLL_CTL_MOD, fd, &event) != 0 && errno == ENOENT) {
      epoll_ctl(self->epoll_fd_, EPOLL_CTL_ADD, fd, &event);
    }
    return 0;
  }

  static int OnTimer(CURLM* /*multi*/, long timeout_ms, void* user) {
    auto* self = static_cast<CurlHttpClient*>(user);
    if (timeout_ms < 0) {
      self->timer_due_.reset();
    } else {
      self->timer_due_ = SteadyClock::now() + std::chrono::milliseconds(timeout_ms);
    }
    return 0;
  }

  void Wake() const {
    const uint64_t one = 1;
    // EAGAIN means the counter is already non-zero: the loop will wake anyway.
    static_cast<void>(write(wake_fd_, &one, sizeof(one)));
  }

  // epoll_wait's timeout: until libcurl's next timer or the first deadline of a queued request,
  // rounded up; -1 without either.
  int EpollTimeoutMs() const {
    std::optional<SteadyClock::time_point> due = timer_due_;
    if (waiting_ > 0) {
      for (const auto& [key, host] : hosts_) {
        if (host.waiting.empty()) continue;
        const SteadyClock::time_point front = host.waiting.front()->deadline;
        if (!due.has_value() || front < *due) due = front;
      }
    }
    if (!due.has_value()) return -1;
    const auto left = *due - SteadyClock::now();
    if (left <= SteadyClock::duration::zero()) return 0;
    const auto ms = std::chrono::ceil<std::chrono::milliseconds>(left).count();
    return static_cast<int>(std::min<int64_t>(ms, 60000));
  }

  void Run() {
    std::vector<epoll_event> events(256);
    int running = 0;
    bool stopping = false;
    while (!stopping) {
      const int n =
          epoll_wait(epoll_fd_, events.data(), static_cast<int>(events.size()), EpollTimeoutMs());
      bool woken = false;
      for (int i = 0; i < n; ++i) {
        const int fd = events[i].data.fd;
        if (fd == wake_fd_) {
          uint64_t count = 0;
          static_cast<void>(read(wake_fd_, &count, sizeof(count)));
          woken = true;
          continue;
        }
        const uint32_t ev = events[i].events;
        const int mask = ((ev & EPOLLIN) != 0 ? CURL_CSELECT_IN : 0) |
                         ((ev & EPOLLOUT) != 0 ? CURL_CSELECT_OUT : 0) |
                         ((ev & (EPOLLERR | EPOLLHUP)) != 0 ? CURL_CSELECT_ERR : 0);
        curl_multi_socket_action(multi_, fd, mask, &running);
      }
      if (timer_due_.has_value() && *timer_due_ <= SteadyClock::now()) {
        timer_due_.reset();
        curl_multi_socket_action(multi_, CURL_SOCKET_TIMEOUT, 0, &running);
      }
      CompleteFinished();
      if (waiting_ > 0) ExpireWaiting();
      if (woken) stopping = StartIncoming();
      if (woken && !stopping) {
        bool abort = false;
        {
          absl::MutexLock lock(&mu_);
          abort = abort_requested_;
          abort_requested_ = false;
        }
        if (abort) FailInFlight("aborted: the server is shutting down");
      }
    }
    Drain();
  }

  // Takes the requests SendAsync queued: each starts now or waits for room in its host's queue.
  // True once the destructor has begun.
  bool StartIncoming() {
    std::vector<std::unique_ptr<Transfer>> batch;
    bool stopping = false;
    {
      absl::MutexLock lock(&mu_);
      batch.swap(incoming_);
      stopping = stopping_;
    }
    for (std::unique_ptr<Transfer>& t : batch) {
      if (stopping) {
        std::move(t->done)(absl::UnavailableError("HTTP client is shutting down"));
        continue;
      }
      Host& host = hosts_[t->host];
      if (host.waiting.empty() && HasRoom(host)) {
        Launch(std::move(t), host);
      } else {
        if (t->request.urgent) {
          host.waiting.insert(host.waiting.begin() + static_cast<std::ptrdiff_t>(host.urgent),
                              std::move(t));
          ++host.urgent;
        } else {
          host.waiting.push_back(std::move(t));
        }
        ++waiting_;
      }
    }
    return stopping;
  }

  // Why the limits are kept here and not only by libcurl: a transfer libcurl cannot give a
  // connection sits in its pending list, and that list costs time per finished transfer that
  // grows with its length (measured: 36 us per request at 128 in flight over 64 connections,
  // 130 us at 1,000). Here a waiting request costs nothing until its turn.
  bool HasRoom(const Host& host) const {
    return (options_.max_host_connections <= 0 || host.active < options_.max_host_connections) &&
           (options_.max_total_connections <= 0 || active_count_ < options_.max_total_connections);
  }

  // Hands `t` to libcurl, or fails it (its deadline passed while it waited, or a bad request).
  void Launch(std::unique_ptr<Transfer> t, Host& host) {
    const SteadyClock::time_point now = SteadyClock::now();
    if (options_.queue_wait_observer) {
      options_.queue_wait_observer(absl::FromChrono(now - t->queued));
    }
    const absl::Duration left = absl::FromChrono(t->deadline - now);
    if (left <= absl::ZeroDuration()) {
      std::move(t->done)(QueuedTimeout(*t));
      return;
    }
    t->easy = TakeEasy();
    absl::Status ready = t->easy == nullptr ? absl::InternalError("curl_easy_init failed")
                                            : Prepare(options_, left, *t);
    if (ready.ok() && curl_multi_add_handle(multi_, t->easy) != CURLM_OK) {
      ready = absl::InternalError("curl_multi_add_handle failed");
    }
    if (!ready.ok()) {
      ReturnEasy(t->easy);
      std::move(t->done)(std::move(ready));
      return;
    }
    ++host.active;
    ++active_count_;
    CURL* easy = t->easy;
    active_.emplace(easy, std::move(t));
  }

  // A request whose time ran out before it got a connection: it was never sent.
  static absl::Status QueuedTimeout(const Transfer& t) {
    return absl::DeadlineExceededError(absl::StrCat(absl::AsciiStrToUpper(t.request.method),
                                                    " timed out waiting for a connection to ",
                                                    t.host));
  }

  // Starts waiting requests while their hosts (and the total) have room.
  void AdmitWaiting() {
    for (auto& [key, host] : hosts_) {
      while (!host.waiting.empty() && HasRoom(host)) {
        std::unique_ptr<Transfer> t = std::move(host.waiting.front());
        host.PopFront();
        --waiting_;
        Launch(std::move(t), host);
      }
    }
  }

  // Fails waiting requests whose deadline passed. Queues are FIFO and an adapter's requests
  // share one timeout, so looking at each queue's front is enough in practice.
  void ExpireWaiting() {
    const SteadyClock::time_point now = SteadyClock::now();
    for (auto& [key, host] : hosts_) {
      while (!host.waiting.empty() && host.waiting.front()->deadline <= now) {
        std::unique_ptr<Transfer> t = std::move(host.waiting.front());
        host.PopFront();
        --waiting_;
        if (options_.queue_wait_observer) {
          options_.queue_wait_observer(absl::FromChrono(now - t->queued));
        }
        std::move(t->done)(QueuedTimeout(*t));
      }
    }
  }

  // Runs the callbacks of the transfers libcurl reports done.
  void CompleteFinished() {
    int left = 0;
    while (CURLMsg* msg = curl_multi_info_read(multi_, &left)) {
      if (msg->msg != CURLMSG_DONE) continue;
      CURL* easy = msg->easy_handle;
      const CURLcode code = msg->data.result;  // msg is invalid after remove_handle
      auto it = active_.find(easy);
      if (it == active_.end()) continue;
      std::unique_ptr<Transfer> t = std::move(it->second);
      active_.erase(it);
      absl::StatusOr<Response> result = Finish(*t, code);
      curl_multi_remove_handle(multi_, easy);
      ReturnEasy(easy);
      --hosts_[t->host].active;
      --active_count_;
      std::move(t->done)(std::move(result));
    }
    if (waiting_ > 0) AdmitWaiting();
  }

  // On the loop thread: fails every transfer in flight and every one waiting for room, `why`
  // in their messages. The callbacks run after the tables are emptied, so one that sends again
  // only queues into incoming_.
  void FailInFlight(absl::string_view why) {
    std::vector<std::pair<std::unique_ptr<Transfer>, absl::Status>> failed;
    for (auto& [easy, t] : active_) {
      absl::Status status;
      if (MayHaveReachedServer(easy)) {
        status = absl::CancelledError(absl::StrCat(t->method, " cancelled: ", why));
        adapters::MarkOutcomeUnknown(status);
      } else {
        status = absl::UnavailableError(absl::StrCat(t->method, " not sent: ", why));
      }
      curl_multi_remove_handle(multi_, easy);
      ReturnEasy(easy);
      failed.emplace_back(std::move(t), std::move(status));
    }
    active_.clear();
    active_count_ = 0;  // the client goes on after AbortInFlight: every host has room again
    for (auto& [key, host] : hosts_) {
      for (std::unique_ptr<Transfer>& t : host.waiting) {
        absl::Status status = absl::UnavailableError(
            absl::StrCat(absl::AsciiStrToUpper(t->request.method), " not sent: ", why));
        failed.emplace_back(std::move(t), std::move(status));
      }
      host.waiting.clear();
      host.urgent = 0;
      host.active = 0;
    }
    waiting_ = 0;
    for (auto& [t, status] : failed) std::move(t->done)(std::move(status));
  }

  // Shutdown, on the loop thread: fails what is in flight, then what callbacks queue meanwhile.
  void Drain() {
    FailInFlight("the HTTP client is shutting down");
    while (true) {
      std::vector<std::unique_ptr<Transfer>> batch;
      {
        absl::MutexLock lock(&mu_);
        batch.swap(incoming_);
        if (batch.empty()) {
          loop_exited_ = true;
          return;
        }
      }
      for (std::unique_ptr<Transfer>& t : batch) {
        std::move(t->done)(absl::UnavailableError("HTTP client is shutting down"));
      }
    }
  }

  CURL* TakeEasy() {
    if (idle_easy_.empty()) return curl_easy_init();
    CURL* easy = idle_easy_.back();
    idle_easy_.pop_back();
    return easy;
  }

  void ReturnEasy(CURL* easy) {
    if (easy == nullptr) return;
    // Drops the pointers into the finished Transfer; a reset handle keeps no connection.
    curl_easy_reset(easy);
    if (idle_easy_.size() < kMaxIdleEasy) {
      idle_easy_.push_back(easy);
    } else {
      curl_easy_cleanup(easy);
    }
  }

  // Send() called on the loop thread (from a callback): one blocking transfer on its own handle,
  // which stalls the other transfers for its duration but cannot deadlock.
  absl::StatusOr<Response> SendBlocking(const Request& request) {
    Transfer t;
    t.request = request;
    t.easy = curl_easy_init();
    if (t.easy == nullptr) return absl::InternalError("curl_easy_init failed");
    absl::StatusOr<Response> result;
    if (absl::Status ready = Prepare(options_, TimeoutOf(options_, request), t); !ready.ok()) {
      result = std::move(ready);
    } else {
      result = Finish(t, curl_easy_perform(t.easy));
    }
    curl_easy_cleanup(t.easy);
    return result;
  }

  // Enough idle handles for a burst; past it they are freed.
  static constexpr size_t kMaxIdleEasy = 1024;

  const CurlOptions options_;
  CURLM* multi_ = nullptr;
  int epoll_fd_ = -1;
  int wake_fd_ = -1;

  absl::Mutex mu_;
  std::vector<std::unique_ptr<Transfer>> incoming_ ABSL_GUARDED_BY(mu_);
  bool stopping_ ABSL_GUARDED_BY(mu_) = false;
  bool abort_requested_ ABSL_GUARDED_BY(mu_) = false;  // AbortInFlight, for the loop to act on
  // Set by the loop as its last act (or when it could not start): SendAsync then fails at once.
  bool loop_exited_ ABSL_GUARDED_BY(mu_) = false;

  // Loop-thread only.
  absl::flat_hash_map<CURL*, std::unique_ptr<Transfer>> active_;
  long active_count_ = 0;  // active_.size(), in the type of the limits
  absl::flat_hash_map<std::string, Host> hosts_;
  size_t waiting_ = 0;  // over all hosts
  std::vector<CURL*> idle_easy_;
  std::optional<SteadyClock::time_point> timer_due_;

  std::thread thread_;
  std::thread::id loop_id_;  // set once in the constructor
};

}  // namespace

std::unique_ptr<HttpClient> NewCurlHttpClient(CurlOptions options) {
  return std::make_unique<CurlHttpClient>(std::move(options));
}

}  // namespace music::http
