#ifndef MUSIC_SERVICE_SERVER_MUSIC_SERVER_H_
#define MUSIC_SERVICE_SERVER_MUSIC_SERVER_H_

#include <grpcpp/generic/async_generic_service.h>
#include <grpcpp/server.h>

#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "adapters/http/reference_audio_fetcher.h"
#include "persistence/stores.h"
#include "service/auth/authenticator.h"
#include "service/callbacks/callback_server.h"
#include "service/core/archiver.h"
#include "service/core/billing_api.h"
#include "service/core/clip_audio.h"
#include "service/core/catalog.h"
#include "domain/clock.h"
#include "service/core/metrics.h"
#include "service/core/music_api.h"
#include "service/core/change_relay.h"
#include "service/core/task_engine.h"
#include "service/core/thread_pool.h"
#include "service/core/watch_hub.h"
#include "service/grpc/billing_service_impl.h"
#include "service/grpc/music_service_impl.h"
#include "service/server/store_health.h"

namespace music::service {

/// How a MusicServer listens and runs.
struct ServerOptions {
  /// gRPC address, "host:port"; port 0 picks one (see MusicServer::port()).
  std::string listen = "127.0.0.1:50051";
  /// Callback listener, "host:port"; port 0 picks one.
  std::string callbacks_listen = "127.0.0.1:8081";
  /// Base URL providers call back; "" means http(s)://<callbacks host>:<bound port>.
  std::string callbacks_public_url;
  /// The callback listener's caps, timeouts and TLS files.
  CallbackServerOptions callbacks;
  /// The tenant of every call when `authenticator` is null (auth.mode "none").
  std::string tenant = "default";
  /// Who each call is (service/auth/authenticator.h); every RPC of MusicService, BillingService
  /// and ReconciliationService is checked against auth::MethodPolicies first. nullptr: one open
  /// caller of `tenant` with every role (tests and auth.mode "none").
  std::shared_ptr<const auth::Authenticator> authenticator;
  /// TLS on the gRPC port (`grpc.tls.*`): PEM files, watched and reloaded when they change.
  struct Tls {
    std::string cert_file;  // "" = plaintext
    std::string key_file;
    /// CA bundle client certificates are verified against; "" = no client certificates.
    std::string client_ca_file;
    /// Refuse a handshake without a verified client certificate (needs client_ca_file).
    bool require_client_cert = false;
    /// How often the files are checked for changes, seconds (gRPC's FileWatcher).
    unsigned int refresh_seconds = 60;
  };
  Tls tls;
  absl::Duration heartbeat_interval = absl::Seconds(30);
  /// How long Shutdown() lets in-flight RPCs finish.
  absl::Duration shutdown_grace = absl::Seconds(10);
  /// Threads running RPC work (database reads and writes). A create waits for its group commit
  /// on one of them, so this bounds how many creates one commit acknowledges together.
  int rpc_workers = 32;
  /// engine.callback_base_url is filled in from the callback listener. engine.
  /// callback_token_secrets must hold at least one non-empty secret: Start refuses without (the
  /// callbacks fail closed; README "Callbacks"). engine.reference_fetcher
  /// (not owned) downloads reference_audio_uri at submit; nullptr turns such URLs off.
  EngineOptions engine;
  /// When set, the server owns the fetcher engine.reference_fetcher points to and destroys it
  /// after the engine (BuildServer hands the server everything it built).
  std::shared_ptr<http::ReferenceAudioFetcher> owned_reference_fetcher;
  /// UploadReferenceAudio: off makes it FAILED_PRECONDITION; the cap is at most 100 MB.
  bool reference_audio_uploads = true;
  size_t max_reference_audio_bytes = kMaxReferenceAudioBytes;
  /// How clip media is copied into stores.archive. archive_fetcher (not owned) downloads it;
  /// nullptr (or no stores.archive) turns archiving off.
  ArchiverOptions archiver;
  http::ReferenceAudioFetcher* archive_fetcher = nullptr;
  /// When set, the server owns the fetcher archive_fetcher points to.
  std::shared_ptr<http::ReferenceAudioFetcher> owned_archive_fetcher;
  /// Largest gRPC message accepted (UploadReferenceAudio chunks of 1 MiB and more).
  int max_receive_message_bytes = 8 << 20;
  /// HTTP/2 keepalive pings and connection age (gRPC channel arguments GRPC_ARG_KEEPALIVE_TIME_MS,
  /// GRPC_ARG_KEEPALIVE_TIMEOUT_MS, GRPC_ARG_MAX_CONNECTION_AGE_MS,
  /// GRPC_ARG_MAX_CONNECTION_AGE_GRACE_MS). Infinite leaves gRPC's default (2 h pings, 20 s
  /// timeout, no age limit); values are cut at INT_MAX milliseconds.
  absl::Duration keepalive_time = absl::InfiniteDuration();
  absl::Duration keepalive_timeout = absl::InfiniteDuration();
  absl::Duration max_connection_age = absl::InfiniteDuration();
  absl::Duration max_connection_age_grace = absl::InfiniteDuration();
  /// Credits per USD in reconciliation reports' USD totals (beatra's rate, seed 002).
  int64_t credits_per_usd = 1000;
  /// The providers' usage-record formats, for ImportUsageRecords and Reconcile (built from the
  /// provider modules: service/core/usage_formats.h). Empty: those RPCs know no provider.
  billing::UsageFormats usage_formats;
  /// Optional catch-all service for methods no service implements (benchmarks register a no-op
  /// here to measure the server's own per-call cost next to MusicService). Not owned.
  grpc::CallbackGenericService* generic_service = nullptr;
  /// How often the store's health (TaskStore::CheckHealth) is checked: while it fails, every
  /// service's health is NOT_SERVING.
  absl::Duration store_health_interval = absl::Seconds(1);
  /// Where the server counts RPCs, tasks, callbacks, the store and billing (service/core/
  /// metrics.h); the wiring exposes the same object on its endpoint. nullptr: a private one.
  std::shared_ptr<Metrics> metrics;
  /// The wiring's metrics endpoint (an HTTP listener reading `metrics`), kept as long as the
  /// server and destroyed after everything it reads; nullptr: none.
  std::shared_ptr<void> owned_metrics_endpoint;
  /// The endpoint's bound port (0: none), for metrics_port().
  int metrics_port = 0;
};

/// One running service: gRPC (MusicService, health, reflection; BillingService and
/// ReconciliationService when stores.billing is set), the callback listener and the task engine,
/// over the stores and provider adapters given by the caller (the wiring or a test).
class MusicServer {
 public:
  /// Starts everything and resumes unfinished tasks. UNAVAILABLE when an address cannot be bound.
  static absl::StatusOr<std::unique_ptr<MusicServer>> Start(
      ServerOptions options, persistence::Stores stores,
      std::unique_ptr<ProviderRegistry> providers, std::unique_ptr<Catalog> catalog,
      const Clock* clock);
  ~MusicServer();

  /// The bound gRPC port.
  int port() const { return port_; }
  /// The bound callback port.
  int callback_port() const { return callbacks_->port(); }
  /// The bound metrics port, 0 without an endpoint.
  int metrics_port() const { return options_.metrics_port; }
  /// The server's metrics (never null).
  Metrics* metrics() { return options_.metrics.get(); }
  TaskEngine* engine() { return engine_.get(); }
  WatchHub* hub() { return hub_.get(); }
  /// The archiver; null when archiving is off.
  Archiver* archiver() { return archiver_.get(); }

  /// Graceful stop: health NOT_SERVING, WatchTask streams end UNAVAILABLE, no new RPCs, in-flight
  /// RPCs get shutdown_grace to finish, then the engine finishes in-flight writes. Idempotent.
  void Shutdown();
  /// Blocks until the gRPC server has stopped.
  void Wait();

 private:
  MusicServer() = default;
  // Every service's health status (the overall "" one included).
  void SetServing(bool serving);
  void RegisterCollectors();

  ServerOptions options_;
  persistence::Stores stores_;
  std::unique_ptr<ProviderRegistry> providers_;
  std::unique_ptr<Catalog> catalog_;
  std::unique_ptr<WatchHub> hub_;
  std::unique_ptr<Archiver> archiver_;
  std::unique_ptr<ClipAudioReader> clip_audio_;
  std::unique_ptr<ProviderHealth> provider_health_;
  std::unique_ptr<TaskEngine> engine_;
  // Other replicas' changes to this one's watchers and engine (stores_.changes); null: none.
  std::unique_ptr<ChangeRelay> change_relay_;
  std::unique_ptr<ThreadPool> rpc_workers_;
  std::unique_ptr<MusicApi> api_;
  std::shared_ptr<const auth::Authenticator> authenticator_;
  std::unique_ptr<MusicServiceImpl> service_;
  std::unique_ptr<BillingApi> billing_api_;
  std::unique_ptr<BillingServiceImpl> billing_service_;
  std::unique_ptr<ReconciliationServiceImpl> reconciliation_service_;
  std::unique_ptr<CallbackServer> callbacks_;
  std::unique_ptr<grpc::Server> server_;
  std::unique_ptr<StoreHealthMonitor> store_health_;
  int port_ = 0;
  bool shut_down_ = false;
  // Scrape-time collectors reading the hub, the engine and the store; removed by Shutdown.
  std::vector<int64_t> collector_ids_;
};

}  // namespace music::service

#endif  // MUSIC_SERVICE_SERVER_MUSIC_SERVER_H_
