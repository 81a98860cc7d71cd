#ifndef MUSIC_SERVICE_CALLBACKS_CALLBACK_SERVER_H_
#define MUSIC_SERVICE_CALLBACKS_CALLBACK_SERVER_H_

#include <atomic>
#include <cstddef>
#include <functional>
#include <memory>
#include <string>
#include <thread>

#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_set.h"
#include "absl/status/status.h"
#include "absl/strings/string_view.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "adapters/http/http_types.h"

struct MHD_Daemon;
struct MHD_Connection;

namespace music::service {

class ThreadPool;

/// How the callback listener bounds what a peer can hold (README "Callbacks").
struct CallbackServerOptions {
  /// Connections open at once, over all peers; the excess is closed at accept.
  int max_connections = 512;
  /// Connections open at once from one peer address; the excess is closed at accept. A provider
  /// delivers one callback per connection, a few at a time: 32 is far above what one sends.
  int max_connections_per_peer = 32;
  /// From a connection's accept (or the end of its previous request) to the end of the request's
  /// headers. A peer trickling a header line a second is cut off here, whatever the idle timeout.
  absl::Duration header_timeout = absl::Seconds(10);
  /// From the end of the headers to the end of the body.
  absl::Duration body_timeout = absl::Seconds(30);
  /// A connection with no traffic this long is closed (whole seconds, at least 1).
  absl::Duration idle_timeout = absl::Seconds(30);
  /// Bodies over this are refused with 413 (by Content-Length before any byte is read;
  /// a chunked body is cut off when it passes the cap).
  size_t max_body_bytes = 1 << 20;
  /// Per-connection memory for the request line and headers; larger headers are refused (431).
  size_t max_header_bytes = 32 << 10;
  /// Threads that run the handler (it writes the store, so it may block): the event loop only
  /// reads, routes and writes answers.
  int workers = 8;
  /// PEM files of the listener's TLS certificate (chain) and key; both empty: plain HTTP. Read
  /// once, at Bind: a renewed certificate takes effect at the next restart.
  std::string tls_cert_file;
  std::string tls_key_file;
};

/// What the listener answers one request: an HTTP status and a JSON body.
struct CallbackResponse {
  int status = 200;
  std::string body;
};

/// The HTTP listener for provider callbacks (webhooks): POST
/// /callbacks/<provider>/<task_id>/<token>, handed to a handler (TaskEngine::HandleCallback in
/// the server). Answers 200 {"status":"received"} when accepted (including duplicates and late
/// deliveries), 400 malformed, 401 a token that is not the task's or a bad signature, 404 unknown
/// task or path, 405 another method, 409 a delivery for another provider task, 413 over
/// max_body_bytes, 431 headers over max_header_bytes, 503 when the store is unavailable (so the
/// provider retries). Also GET /healthz. Event-driven (libmicrohttpd, one epoll thread), with
/// the caps and timeouts of CallbackServerOptions, so slow or many peers cannot starve a real
/// delivery. Bodies, headers and tokens are never logged.
class CallbackServer {
 public:
  /// `token` is the URL's last segment ("" when absent), `peer` the client's address.
  using Handler = std::function<absl::Status(absl::string_view provider, absl::string_view task_id,
                                             absl::string_view token, const http::Request&,
                                             absl::string_view peer)>;
  explicit CallbackServer(Handler handler, CallbackServerOptions options = {});
  ~CallbackServer();
  CallbackServer(const CallbackServer&) = delete;
  CallbackServer& operator=(const CallbackServer&) = delete;

  /// Binds and listens on `host:port` (port 0 picks one). UNAVAILABLE when the address cannot be
  /// bound; INVALID_ARGUMENT when only one TLS file is set; NOT_FOUND when one cannot be read.
  absl::Status Bind(const std::string& host, int port);
  /// Serves on its own threads (after Bind). INTERNAL when the event loop cannot start (e.g. a
  /// TLS certificate and key that do not parse).
  absl::Status Serve();
  /// The bound port.
  int port() const { return port_; }
  /// True when the listener speaks TLS.
  bool tls() const { return !tls_cert_.empty(); }
  /// Stops accepting, lets the handlers running finish, closes every connection and joins.
  /// Idempotent.
  void Stop();

 private:
  struct Connection;
  struct Exchange;

  // The libmicrohttpd callbacks (callback_server.cc), which reach the members below.
  friend struct CallbackServerHooks;

  // Closes (shuts down) connections past their deadline, every tick until Stop.
  void SweepLoop();
  void SetDeadline(MHD_Connection* connection, absl::Time deadline);

  Handler handler_;
  CallbackServerOptions options_;
  std::string tls_cert_;
  std::string tls_key_;
  int port_ = 0;
  int listen_socket_ = -1;
  MHD_Daemon* daemon_ = nullptr;
  std::unique_ptr<ThreadPool> workers_;
  std::thread sweeper_;

  absl::Mutex mu_;
  // Every open connection (its socket and deadline), so the sweeper can cut off the late ones.
  absl::flat_hash_set<Connection*> connections_ ABSL_GUARDED_BY(mu_);
  bool stopping_ ABSL_GUARDED_BY(mu_) = false;
};

/// Routes one request the way the listener does, without a network: `method` and `path` (no
/// query string) pick the endpoint, `request` carries the headers and body, `handler` receives
/// callbacks. The listener's request handling, callable alone (for fuzzing and unit tests).
CallbackResponse HandleCallbackRequest(const CallbackServer::Handler& handler,
                                       absl::string_view method, absl::string_view path,
                                       const http::Request& request, absl::string_view peer);

}  // namespace music::service

#endif  // MUSIC_SERVICE_CALLBACKS_CALLBACK_SERVER_H_
