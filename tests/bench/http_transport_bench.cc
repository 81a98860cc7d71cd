// http_transport_bench: requests/s and client CPU per request of provider HTTP against a local
// keep-alive server, three ways:
//   easy   - the former transport: W worker threads, each with its own easy handle and
//            curl_easy_perform (one request in flight per thread);
//   send   - the same W threads calling the new client's blocking Send (SendAsync + wait);
//   async  - one caller keeping F requests in flight with SendAsync (completions start the next).
// The server (cpp-httplib, TCP_NODELAY, keep-alive without a request cap) runs in a forked child
// process, so getrusage(RUSAGE_SELF) of this process is the client's CPU alone.
//
//   http_transport_bench [N=10000] [in_flight=1000] [max_host_connections=64] [workers=8]
//                        [server_delay_ms=0] [modes=easy,send,async]
//
// Prints one line per mode: requests, wall seconds, requests/s, client CPU ms, CPU us/request,
// errors. The machine's load at the time decides the figures: read them with `uptime`.
#include <curl/curl.h>
#include <httplib.h>
#include <signal.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "absl/synchronization/notification.h"
#include "adapters/http/curl_http_client.h"

namespace {

using music::http::CurlOptions;
using music::http::HttpClient;
using music::http::Request;
using music::http::Response;

constexpr char kAnswer[] =
    R"({"code":200,"msg":"success","data":{"taskId":"t","status":"PENDING"}})";

double CpuMs() {
  rusage usage{};
  getrusage(RUSAGE_SELF, &usage);
  const auto ms = [](const timeval& tv) { return tv.tv_sec * 1e3 + tv.tv_usec / 1e3; };
  return ms(usage.ru_utime) + ms(usage.ru_stime);
}

struct Figures {
  int requests = 0;
  int errors = 0;
  double wall_s = 0;
  double cpu_ms = 0;
};

void Print(const char* mode, const Figures& f) {
  std::printf(
      "%-6s requests=%d wall=%.3fs rate=%.0f/s client_cpu=%.0fms cpu_per_request=%.1fus "
      "errors=%d\n",
      mode, f.requests, f.wall_s, f.requests / f.wall_s, f.cpu_ms, f.cpu_ms * 1e3 / f.requests,
      f.errors);
  std::fflush(stdout);
}

template <typename Body>
Figures Measure(int requests, Body body) {
  const double cpu0 = CpuMs();
  const auto t0 = std::chrono::steady_clock::now();
  Figures f;
  f.requests = requests;
  f.errors = body();
  f.wall_s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  f.cpu_ms = CpuMs() - cpu0;
  return f;
}

size_t Discard(char*, size_t size, size_t count, void*) { return size * count; }

// The former transport: one easy handle per thread, reset between requests.
int RunEasy(const std::string& url, int n, int workers) {
  std::atomic<int> next{0};
  std::atomic<int> errors{0};
  std::vector<std::thread> threads;
  for (int w = 0; w < workers; ++w) {
    threads.emplace_back([&] {
      CURL* curl = curl_easy_init();
      // The headers an adapter sends, built per request as the former client did.
      while (next.fetch_add(1) < n) {
        curl_slist* headers = curl_slist_append(nullptr, "Authorization: Bearer bench-key");
        headers = curl_slist_append(headers, "Accept: application/json");
        headers = curl_slist_append(headers, "Expect:");
        curl_easy_reset(curl);
        curl_easy_setopt(curl, CURLOPT_HTTPHEADER, headers);
        curl_easy_setopt(curl, CURLOPT_URL, url.c_str());
        curl_easy_setopt(curl, CURLOPT_NOSIGNAL, 1L);
        curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, &Discard);
        curl_easy_setopt(curl, CURLOPT_TIMEOUT_MS, 30000L);
        long status = 0;
        if (curl_easy_perform(curl) != CURLE_OK ||
            curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &status) != CURLE_OK || status != 200) {
          errors.fetch_add(1);
        }
        curl_slist_free_all(headers);
      }
      curl_easy_cleanup(curl);
    });
  }
  for (std::thread& t : threads) t.join();
  return errors.load();
}

int RunSend(HttpClient& client, const Request& request, int n, int workers) {
  std::atomic<int> next{0};
  std::atomic<int> errors{0};
  std::vector<std::thread> threads;
  for (int w = 0; w < workers; ++w) {
    threads.emplace_back([&] {
      while (next.fetch_add(1) < n) {
        absl::StatusOr<Response> r = client.Send(request);
        if (!r.ok() || r->status != 200) errors.fetch_add(1);
      }
    });
  }
  for (std::thread& t : threads) t.join();
  return errors.load();
}

// Keeps `in_flight` requests outstanding: each completion sends the next until n were sent.
class AsyncRun {
 public:
  AsyncRun(HttpClient& client, Request request, int n)
      : client_(client), request_(std::move(request)), n_(n) {}

  int Run(int in_flight) {
    for (int i = 0; i < in_flight && i < n_; ++i) Next();
    done_.WaitForNotification();
    return errors_.load();
  }

 private:
  void Next() {
    if (sent_.fetch_add(1) >= n_) return;
    client_.SendAsync(request_, [this](absl::StatusOr<Response> r) {
      if (!r.ok() || r->status != 200) errors_.fetch_add(1);
      if (finished_.fetch_add(1) + 1 == n_) {
        done_.Notify();
        return;
      }
      Next();
    });
  }

  HttpClient& client_;
  const Request request_;
  const int n_;
  std::atomic<int> sent_{0};
  std::atomic<int> finished_{0};
  std::atomic<int> errors_{0};
  absl::Notification done_;
};

int Arg(int argc, char** argv, int i, int fallback) {
  return argc > i ? std::atoi(argv[i]) : fallback;
}

}  // namespace

int main(int argc, char** argv) {
  const int n = Arg(argc, argv, 1, 10000);
  const int in_flight = Arg(argc, argv, 2, 1000);
  const int max_host = Arg(argc, argv, 3, 64);
  const int workers = Arg(argc, argv, 4, 8);
  const int delay_ms = Arg(argc, argv, 5, 0);
  const std::string modes = argc > 6 ? argv[6] : "easy,send,async";
  const auto wanted = [&modes](const char* mode) {
    return absl::StrContains(absl::StrCat(",", modes, ","), absl::StrCat(",", mode, ","));
  };

  // The server first, in a child, before this process starts any thread.
  int pipe_fds[2];
  if (pipe(pipe_fds) != 0) return 1;
  const pid_t child = fork();
  if (child == 0) {
    close(pipe_fds[0]);
    httplib::Server server;
    server.set_tcp_nodelay(true);
    server.set_keep_alive_max_count(1000000);
    server.set_keep_alive_timeout(30);
    // A thread per open connection (httplib's model): more than any mode opens.
    const size_t threads = static_cast<size_t>(std::max(max_host, workers)) + 16;
    server.new_task_queue = [threads] { return new httplib::ThreadPool(threads); };
    server.Get("/api/v1/generate/record-info",
               [delay_ms](const httplib::Request&, httplib::Response& res) {
                 if (delay_ms > 0) std::this_thread::sleep_for(std::chrono::milliseconds(delay_ms));
                 res.set_content(kAnswer, "application/json");
               });
    const int port = server.bind_to_any_port("127.0.0.1");
    if (write(pipe_fds[1], &port, sizeof(port)) != sizeof(port)) _exit(1);
    close(pipe_fds[1]);
    server.listen_after_bind();
    _exit(0);
  }
  close(pipe_fds[1]);
  int port = 0;
  if (read(pipe_fds[0], &port, sizeof(port)) != sizeof(port) || port <= 0) {
    std::fprintf(stderr, "server did not start\n");
    return 1;
  }
  close(pipe_fds[0]);

  const std::string url =
      absl::StrCat("http://127.0.0.1:", port, "/api/v1/generate/record-info?taskId=t");
  Request request;
  request.url = url;
  request.headers = {{"Authorization", "Bearer bench-key"}, {"Accept", "application/json"}};

  std::printf(
      "http_transport_bench: N=%d in_flight=%d max_host_connections=%d workers=%d "
      "server_delay=%dms, server in child pid %d\n",
      n, in_flight, max_host, workers, delay_ms, static_cast<int>(child));
  curl_global_init(CURL_GLOBAL_DEFAULT);

  if (wanted("easy")) Print("easy", Measure(n, [&] { return RunEasy(url, n, workers); }));
  if (wanted("send")) {
    CurlOptions options;
    options.max_host_connections = max_host;
    std::unique_ptr<HttpClient> client = music::http::NewCurlHttpClient(options);
    Print("send", Measure(n, [&] { return RunSend(*client, request, n, workers); }));
  }
  if (wanted("async")) {
    CurlOptions options;
    options.max_host_connections = max_host;
    std::unique_ptr<HttpClient> client = music::http::NewCurlHttpClient(options);
    // Warm the connections so the figure is the steady state, as for the other modes' later
    // requests.
    AsyncRun(*client, request, max_host).Run(max_host);
    AsyncRun run(*client, request, n);
    Print("async", Measure(n, [&] { return run.Run(in_flight); }));
  }

  kill(child, SIGTERM);
  waitpid(child, nullptr, 0);
  return 0;
}
