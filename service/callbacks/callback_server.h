#ifndef MUSIC_SERVICE_CALLBACKS_CALLBACK_SERVER_H_
#define MUSIC_SERVICE_CALLBACKS_CALLBACK_SERVER_H_

#include <functional>
#include <memory>
#include <string>
#include <thread>

#include "absl/status/status.h"
#include "absl/strings/string_view.h"
#include "adapters/http/http_types.h"

namespace httplib {
class Server;
}

namespace music::service {

/// The HTTP listener for provider callbacks (webhooks): POST /callbacks/<provider>/<task_id>,
/// handed to a handler (TaskEngine::HandleCallback in the server). Answers 200
/// {"status":"received"} when accepted (including duplicates and late deliveries), 400 malformed,
/// 401 bad signature, 404 unknown task, 409 a delivery for another provider task, 413 over 1 MiB,
/// 503 when the store is unavailable (so the provider retries). Also GET /healthz. Bodies and
/// headers are never logged.
class CallbackServer {
 public:
  using Handler = std::function<absl::Status(absl::string_view provider, absl::string_view task_id,
                                             const http::Request&)>;
  explicit CallbackServer(Handler handler);
  ~CallbackServer();

  /// Binds `host:port` (port 0 picks one). UNAVAILABLE when the address cannot be bound.
  absl::Status Bind(const std::string& host, int port);
  /// Serves on its own threads (after Bind).
  void Serve();
  /// The bound port.
  int port() const { return port_; }
  /// Stops accepting and joins. Idempotent.
  void Stop();

 private:
  Handler handler_;
  std::unique_ptr<httplib::Server> server_;
  std::thread thread_;
  int port_ = 0;
  int listen_socket_ = -1;
};

}  // namespace music::service

#endif  // MUSIC_SERVICE_CALLBACKS_CALLBACK_SERVER_H_
