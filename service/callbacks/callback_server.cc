#include "service/callbacks/callback_server.h"

#include <httplib.h>
#include <sys/socket.h>

#include <chrono>
#include <thread>

#include "absl/strings/str_cat.h"

namespace music::service {
namespace {

constexpr size_t kMaxCallbackBytes = 1 << 20;

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

}  // namespace

CallbackServer::CallbackServer(Handler handler)
    : handler_(std::move(handler)), server_(std::make_unique<httplib::Server>()) {}

CallbackServer::~CallbackServer() { Stop(); }

absl::Status CallbackServer::Bind(const std::string& host, int port) {
  server_->set_payload_max_length(kMaxCallbackBytes);
  // Without it, a keep-alive delivery waits for the delayed ACK of the previous answer (~40 ms on
  // Linux): 149 requests/s on one connection. Accepted sockets inherit it from the listener.
  server_->set_tcp_nodelay(true);
  server_->Get("/healthz", [](const httplib::Request&, httplib::Response& res) {
    res.set_content("{\"status\":\"ok\"}", "application/json");
  });
  server_->Post(R"(/callbacks/([A-Za-z0-9_.-]+)/([A-Za-z0-9_.-]+))",
                [this](const httplib::Request& req, httplib::Response& res) {
                  http::Request request;
                  request.method = req.method;
                  request.url = req.path;
                  request.body = req.body;
                  for (const auto& [k, v] : req.headers) request.headers.emplace_back(k, v);
                  absl::Status s = handler_(req.matches[1].str(), req.matches[2].str(), request);
                  res.status = HttpStatusFor(s);
                  // A refusal is logged by the handler (TaskEngine::HandleCallback), which
                  // knows the task's fields.
                  res.set_content(
                      s.ok() ? std::string("{\"status\":\"received\"}")
                             : absl::StrCat("{\"error\":\"", JsonEscape(s.message()), "\"}"),
                      "application/json");
                });
  // httplib's default socket options include SO_REUSEPORT, which would let a second server bind
  // the same callback port silently and take half the deliveries.
  server_->set_socket_options([this](socket_t sock) {
    int yes = 1;
    setsockopt(sock, SOL_SOCKET, SO_REUSEADDR, &yes, sizeof(yes));
    listen_socket_ = sock;
  });
  if (port == 0) {
    port_ = server_->bind_to_any_port(host.c_str());
    if (port_ < 0) return absl::UnavailableError(absl::StrCat("cannot bind ", host));
  } else {
    if (!server_->bind_to_port(host.c_str(), port)) {
      return absl::UnavailableError(absl::StrCat("cannot bind ", host, ":", port));
    }
    port_ = port;
  }
  // httplib listens with a backlog of 5; a burst of deliveries would see dropped SYNs and 1 s
  // connect retries. Listening again raises it (Linux).
  if (listen_socket_ >= 0) ::listen(listen_socket_, SOMAXCONN);
  return absl::OkStatus();
}

void CallbackServer::Serve() {
  thread_ = std::thread([this] { server_->listen_after_bind(); });
  // The socket is already listening (Bind): connections wait in the backlog until accepted.
  // httplib's stop() does nothing until the accept loop runs, so a Stop() right after Serve()
  // would join a thread that never ends: wait (bounded, in case listening failed) for the loop.
  for (int i = 0; i < 5000 && !server_->is_running(); ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
}

void CallbackServer::Stop() {
  if (server_) server_->stop();
  if (thread_.joinable()) thread_.join();
}

}  // namespace music::service
