#include "service/callbacks/callback_server.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <microhttpd.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cstdint>
#include <fstream>
#include <sstream>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "service/core/thread_pool.h"

namespace music::service {
namespace {

int HttpStatusFor(const absl::Status& s) {
  switch (s.code()) {
    case absl::StatusCode::kOk:
      return 200;
    case absl::StatusCode::kInvalidArgument:
      return 400;
    case absl::StatusCode::kUnauthenticated:
    case absl::StatusCode::kPermissionDenied:
      return 401;
    case absl::StatusCode::kNotFound:
      return 404;
    case absl::StatusCode::kFailedPrecondition:
    case absl::StatusCode::kAlreadyExists:
      return 409;
    default:
      return 503;
  }
}

std::string JsonEscape(absl::string_view s) {
  std::string out;
  for (char c : s) {
    if (c == '"' || c == '\\') out += '\\';
    if (static_cast<unsigned char>(c) < 0x20) continue;
    out += c;
  }
  return out;
}

CallbackResponse Error(int status, absl::string_view message) {
  return {status, absl::StrCat("{\"error\":\"", JsonEscape(message), "\"}")};
}

bool IsSegment(absl::string_view s) {
  if (s.empty() || s.size() > 128) return false;
  return std::all_of(s.begin(), s.end(), [](char c) {
    return absl::ascii_isalnum(static_cast<unsigned char>(c)) || c == '_' || c == '.' || c == '-';
  });
}

// What a request line asks for, decided from the method and path alone, before any body byte
// is read.
struct Route {
  enum Kind { kHealth, kCallback, kRefuse } kind = kRefuse;
  CallbackResponse refusal;
  std::string provider, task_id, token;
};

Route RouteFor(absl::string_view method, absl::string_view path) {
  Route r;
  if (path == "/healthz") {
    if (method == "GET") {
      r.kind = Route::kHealth;
    } else {
      r.refusal = Error(405, "only GET /healthz");
    }
    return r;
  }
  constexpr absl::string_view kPrefix = "/callbacks/";
  if (absl::StartsWith(path, kPrefix)) {
    std::vector<absl::string_view> parts = absl::StrSplit(path.substr(kPrefix.size()), '/');
    // <provider>/<task_id>/<token>; a URL without its token reaches the handler, which refuses it
    // (401) and logs the attempt like any other forged delivery.
    if ((parts.size() == 2 || parts.size() == 3) && IsSegment(parts[0]) && IsSegment(parts[1]) &&
        (parts.size() == 2 || IsSegment(parts[2]))) {
      if (method != "POST") {
        r.refusal = Error(405, "callbacks are POSTed");
        return r;
      }
      r.kind = Route::kCallback;
      r.provider = std::string(parts[0]);
      r.task_id = std::string(parts[1]);
      if (parts.size() == 3) r.token = std::string(parts[2]);
      return r;
    }
  }
  r.refusal = Error(404, "not found");
  return r;
}

CallbackResponse Healthy() { return {200, "{\"status\":\"ok\"}"}; }

CallbackResponse RunHandler(const CallbackServer::Handler& handler, const Route& route,
                            const http::Request& request, absl::string_view peer) {
  const absl::Status s = handler(route.provider, route.task_id, route.token, request, peer);
  // A refusal is logged by the handler (TaskEngine::HandleCallback), which knows the task.
  if (s.ok()) return {200, "{\"status\":\"received\"}"};
  return Error(HttpStatusFor(s), s.message());
}

absl::StatusOr<std::string> ReadFile(const std::string& path, absl::string_view key) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return absl::NotFoundError(absl::StrCat(key, ": cannot read ", path));
  std::stringstream buffer;
  buffer << in.rdbuf();
  return buffer.str();
}

std::string PeerOf(MHD_Connection* connection) {
  const MHD_ConnectionInfo* info =
      MHD_get_connection_info(connection, MHD_CONNECTION_INFO_CLIENT_ADDRESS);
  if (info == nullptr || info->client_addr == nullptr) return "";
  char text[INET6_ADDRSTRLEN] = {0};
  const sockaddr* addr = info->client_addr;
  if (addr->sa_family == AF_INET) {
    inet_ntop(AF_INET, &reinterpret_cast<const sockaddr_in*>(addr)->sin_addr, text, sizeof(text));
  } else if (addr->sa_family == AF_INET6) {
    inet_ntop(AF_INET6, &reinterpret_cast<const sockaddr_in6*>(addr)->sin6_addr, text,
              sizeof(text));
  }
  return text;
}

MHD_Result Answer(MHD_Connection* connection, const CallbackResponse& response) {
  MHD_Response* r = MHD_create_response_from_buffer(
      response.body.size(), const_cast<char*>(response.body.data()), MHD_RESPMEM_MUST_COPY);
  if (r == nullptr) return MHD_NO;
  MHD_add_response_header(r, "Content-Type", "application/json");
  const MHD_Result queued =
      MHD_queue_response(connection, static_cast<unsigned int>(response.status), r);
  MHD_destroy_response(r);
  return queued;
}

}  // namespace

CallbackResponse HandleCallbackRequest(const CallbackServer::Handler& handler,
                                       absl::string_view method, absl::string_view path,
                                       const http::Request& request, absl::string_view peer) {
  const Route route = RouteFor(method, path);
  switch (route.kind) {
    case Route::kHealth:
      return Healthy();
    case Route::kCallback:
      if (request.body.size() > CallbackServerOptions().max_body_bytes) {
        return Error(413, "the body is over the cap");
      }
      return RunHandler(handler, route, request, peer);
    case Route::kRefuse:
      break;
  }
  return route.refusal;
}

// One open connection: its socket and the time by which its current request must be read.
struct CallbackServer::Connection {
  int fd = -1;
  absl::Time deadline = absl::InfiniteFuture();
};

// One request on a connection, from its headers to its answer.
struct CallbackServer::Exchange {
  Route route;
  http::Request request;
  std::string peer;
  bool dispatched = false;  // handed to a worker; the connection is suspended until it answers
  // Written by the worker before it resumes the connection; read by the event loop after.
  CallbackResponse response;
  bool answered = false;
};

// The libmicrohttpd callbacks; they run on its event-loop thread and never block.
struct CallbackServerHooks {
  static MHD_Result OnRequest(void* cls, MHD_Connection* connection, const char* url,
                              const char* method, const char* /*version*/,
                              const char* upload_data, size_t* upload_data_size,
                              void** request_context) {
    auto* self = static_cast<CallbackServer*>(cls);
    auto* exchange = static_cast<CallbackServer::Exchange*>(*request_context);
    if (exchange == nullptr) {
      // Headers are in: route before reading any body byte.
      Route route = RouteFor(method, url);
      if (route.kind == Route::kRefuse) {
        // Answered before the body: libmicrohttpd then closes the connection rather than read
        // a body nobody wants.
        return Answer(connection, route.refusal);
      }
      if (route.kind == Route::kHealth) {
        // Answered once the request is complete (the next call), which keeps the connection
        // alive; an answer queued now would close it.
        auto health = std::make_unique<CallbackServer::Exchange>();
        health->response = Healthy();
        health->answered = true;
        *request_context = health.release();
        return MHD_YES;
      }
      const char* length =
          MHD_lookup_connection_value(connection, MHD_HEADER_KIND, MHD_HTTP_HEADER_CONTENT_LENGTH);
      uint64_t declared = 0;
      if (length != nullptr && absl::SimpleAtoi(length, &declared) &&
          declared > self->options_.max_body_bytes) {
        return Answer(connection, Error(413, "the body is over the cap"));
      }
      auto owned = std::make_unique<CallbackServer::Exchange>();
      owned->route = std::move(route);
      owned->request.method = method;
      owned->request.url = url;
      owned->peer = PeerOf(connection);
      MHD_get_connection_values(
          connection, MHD_HEADER_KIND,
          +[](void* out, MHD_ValueKind, const char* key, const char* value) -> MHD_Result {
            static_cast<http::Headers*>(out)->emplace_back(key, value == nullptr ? "" : value);
            return MHD_YES;
          },
          &owned->request.headers);
      self->SetDeadline(connection, absl::Now() + self->options_.body_timeout);
      *request_context = owned.release();
      return MHD_YES;
    }
    if (*upload_data_size > 0) {
      if (exchange->request.body.size() + *upload_data_size > self->options_.max_body_bytes) {
        return MHD_NO;  // a chunked body over the cap: the connection is closed
      }
      exchange->request.body.append(upload_data, *upload_data_size);
      *upload_data_size = 0;
      return MHD_YES;
    }
    if (exchange->answered) return Answer(connection, exchange->response);
    if (exchange->dispatched) return MHD_YES;  // a spurious call while the worker runs
    // The whole body is in: the handler reads and writes the store, so it runs on a worker while
    // the connection waits, suspended, and the event loop serves everyone else.
    self->SetDeadline(connection, absl::InfiniteFuture());
    exchange->dispatched = true;
    MHD_suspend_connection(connection);
    const bool scheduled = self->workers_->Schedule([self, connection, exchange] {
      exchange->response =
          RunHandler(self->handler_, exchange->route, exchange->request, exchange->peer);
      exchange->answered = true;
      MHD_resume_connection(connection);
    });
    if (!scheduled) {
      exchange->response = Error(503, "shutting down");
      exchange->answered = true;
      MHD_resume_connection(connection);
    }
    return MHD_YES;
  }

  static void OnCompleted(void* cls, MHD_Connection* connection, void** request_context,
                          MHD_RequestTerminationCode /*reason*/) {
    auto* self = static_cast<CallbackServer*>(cls);
    delete static_cast<CallbackServer::Exchange*>(*request_context);
    *request_context = nullptr;
    // A kept-alive connection has header_timeout for its next request, like a new one.
    self->SetDeadline(connection, absl::Now() + self->options_.header_timeout);
  }

  static void OnConnection(void* cls, MHD_Connection* connection, void** socket_context,
                           MHD_ConnectionNotificationCode event) {
    auto* self = static_cast<CallbackServer*>(cls);
    if (event == MHD_CONNECTION_NOTIFY_STARTED) {
      auto* c = new CallbackServer::Connection();
      const MHD_ConnectionInfo* info =
          MHD_get_connection_info(connection, MHD_CONNECTION_INFO_CONNECTION_FD);
      if (info != nullptr) c->fd = info->connect_fd;
      // Without it, a keep-alive delivery waits for the delayed ACK of the previous answer
      // (~40 ms on Linux).
      int yes = 1;
      if (c->fd >= 0) setsockopt(c->fd, IPPROTO_TCP, TCP_NODELAY, &yes, sizeof(yes));
      c->deadline = absl::Now() + self->options_.header_timeout;
      *socket_context = c;
      absl::MutexLock lock(&self->mu_);
      self->connections_.insert(c);
      return;
    }
    // libmicrohttpd reports the close before it closes the socket; once the connection is out of
    // the set the sweeper can no longer touch its (soon reused) descriptor.
    auto* c = static_cast<CallbackServer::Connection*>(*socket_context);
    if (c == nullptr) return;
    {
      absl::MutexLock lock(&self->mu_);
      self->connections_.erase(c);
    }
    delete c;
    *socket_context = nullptr;
  }
};

CallbackServer::CallbackServer(Handler handler, CallbackServerOptions options)
    : handler_(std::move(handler)), options_(std::move(options)) {}

CallbackServer::~CallbackServer() { Stop(); }

void CallbackServer::SetDeadline(MHD_Connection* connection, absl::Time deadline) {
  const MHD_ConnectionInfo* info =
      MHD_get_connection_info(connection, MHD_CONNECTION_INFO_SOCKET_CONTEXT);
  if (info == nullptr || info->socket_context == nullptr) return;
  auto* c = static_cast<Connection*>(info->socket_context);
  absl::MutexLock lock(&mu_);
  c->deadline = deadline;
}

absl::Status CallbackServer::Bind(const std::string& host, int port) {
  if (options_.tls_cert_file.empty() != options_.tls_key_file.empty()) {
    return absl::InvalidArgumentError(
        "callbacks.tls.cert_file and callbacks.tls.key_file go together: set both or neither");
  }
  if (!options_.tls_cert_file.empty()) {
    auto cert = ReadFile(options_.tls_cert_file, "callbacks.tls.cert_file");
    if (!cert.ok()) return cert.status();
    auto key = ReadFile(options_.tls_key_file, "callbacks.tls.key_file");
    if (!key.ok()) return key.status();
    tls_cert_ = *std::move(cert);
    tls_key_ = *std::move(key);
  }
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  hints.ai_flags = AI_PASSIVE | AI_NUMERICSERV;
  addrinfo* found = nullptr;
  const std::string service = std::to_string(port);
  if (getaddrinfo(host.empty() ? nullptr : host.c_str(), service.c_str(), &hints, &found) != 0 ||
      found == nullptr) {
    return absl::UnavailableError(absl::StrCat("cannot resolve ", host));
  }
  int fd = -1;
  for (addrinfo* a = found; a != nullptr && fd < 0; a = a->ai_next) {
    fd = socket(a->ai_family, a->ai_socktype | SOCK_CLOEXEC | SOCK_NONBLOCK, a->ai_protocol);
    if (fd < 0) continue;
    // SO_REUSEADDR (restart over TIME_WAIT) but never SO_REUSEPORT: a second server must not
    // bind the same callback port silently and take half the deliveries.
    int yes = 1;
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &yes, sizeof(yes));
    // Accepted sockets inherit it (OnConnection sets it again in any case).
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &yes, sizeof(yes));
    if (bind(fd, a->ai_addr, a->ai_addrlen) != 0 || listen(fd, SOMAXCONN) != 0) {
      close(fd);
      fd = -1;
    }
  }
  freeaddrinfo(found);
  if (fd < 0) return absl::UnavailableError(absl::StrCat("cannot bind ", host, ":", port));
  sockaddr_storage bound{};
  socklen_t length = sizeof(bound);
  getsockname(fd, reinterpret_cast<sockaddr*>(&bound), &length);
  port_ = ntohs(bound.ss_family == AF_INET6 ? reinterpret_cast<sockaddr_in6*>(&bound)->sin6_port
                                            : reinterpret_cast<sockaddr_in*>(&bound)->sin_port);
  listen_socket_ = fd;
  return absl::OkStatus();
}

absl::Status CallbackServer::Serve() {
  if (listen_socket_ < 0) return absl::FailedPreconditionError("Serve before Bind");
  workers_ = std::make_unique<ThreadPool>(std::max(1, options_.workers), "callback");
  unsigned int flags = MHD_USE_EPOLL_INTERNAL_THREAD | MHD_ALLOW_SUSPEND_RESUME;
  if (tls()) flags |= MHD_USE_TLS;
  const auto idle_seconds = static_cast<unsigned int>(
      std::max<int64_t>(1, absl::ToInt64Seconds(absl::Ceil(options_.idle_timeout, absl::Seconds(1)))));
  std::vector<MHD_OptionItem> items = {
      {MHD_OPTION_LISTEN_SOCKET, listen_socket_, nullptr},
      {MHD_OPTION_CONNECTION_LIMIT, std::max(1, options_.max_connections), nullptr},
      {MHD_OPTION_PER_IP_CONNECTION_LIMIT, std::max(1, options_.max_connections_per_peer),
       nullptr},
      {MHD_OPTION_CONNECTION_TIMEOUT, static_cast<intptr_t>(idle_seconds), nullptr},
      {MHD_OPTION_CONNECTION_MEMORY_LIMIT, static_cast<intptr_t>(options_.max_header_bytes),
       nullptr},
      {MHD_OPTION_NOTIFY_COMPLETED,
       reinterpret_cast<intptr_t>(&CallbackServerHooks::OnCompleted), this},
      {MHD_OPTION_NOTIFY_CONNECTION,
       reinterpret_cast<intptr_t>(&CallbackServerHooks::OnConnection), this},
  };
  if (tls()) {
    items.push_back({MHD_OPTION_HTTPS_MEM_CERT, 0, const_cast<char*>(tls_cert_.c_str())});
    items.push_back({MHD_OPTION_HTTPS_MEM_KEY, 0, const_cast<char*>(tls_key_.c_str())});
  }
  items.push_back({MHD_OPTION_END, 0, nullptr});
  daemon_ = MHD_start_daemon(flags, 0, nullptr, nullptr, &CallbackServerHooks::OnRequest, this,
                             MHD_OPTION_ARRAY, items.data(), MHD_OPTION_END);
  if (daemon_ == nullptr) {
    workers_->Shutdown();
    return absl::InternalError(tls() ? "cannot start the callback listener (check the TLS "
                                       "certificate and key)"
                                     : "cannot start the callback listener");
  }
  sweeper_ = std::thread([this] { SweepLoop(); });
  return absl::OkStatus();
}

void CallbackServer::SweepLoop() {
  // A tenth of the shortest timeout, at most 100 ms: a connection is cut within that of its
  // deadline.
  const absl::Duration tick = std::min(
      absl::Milliseconds(100), std::min(options_.header_timeout, options_.body_timeout) / 10);
  absl::MutexLock lock(&mu_);
  while (!stopping_) {
    mu_.AwaitWithTimeout(absl::Condition(&stopping_), tick);
    const absl::Time now = absl::Now();
    for (Connection* c : connections_) {
      if (c->deadline > now || c->fd < 0) continue;
      // libmicrohttpd owns the socket: shutting it down makes its next read see the end and
      // close the connection on its own thread. The descriptor is still this connection's (it
      // leaves connections_ before it is closed, under mu_).
      shutdown(c->fd, SHUT_RDWR);
      c->deadline = absl::InfiniteFuture();
    }
  }
}

void CallbackServer::Stop() {
  if (daemon_ != nullptr) {
    // No new connections; the handlers already running finish and resume their connections
    // (MHD_stop_daemon needs none left suspended), then every connection is closed.
    MHD_quiesce_daemon(daemon_);
    workers_->Shutdown();
    MHD_stop_daemon(daemon_);
    daemon_ = nullptr;
  }
  {
    absl::MutexLock lock(&mu_);
    stopping_ = true;
  }
  if (sweeper_.joinable()) sweeper_.join();
  if (listen_socket_ >= 0) {
    close(listen_socket_);
    listen_socket_ = -1;
  }
}

}  // namespace music::service
