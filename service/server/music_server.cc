#include "service/server/music_server.h"

#include <grpc/grpc.h>
#include <unistd.h>
#include <grpcpp/ext/proto_server_reflection_plugin.h>
#include <grpcpp/health_check_service_interface.h>
#include <grpcpp/security/server_credentials.h>
#include <grpcpp/security/tls_certificate_provider.h>
#include <grpcpp/security/tls_credentials_options.h>
#include <grpcpp/server_builder.h>

#include <algorithm>
#include <chrono>
#include <climits>
#include <cstdint>
#include <string>
#include <thread>
#include <utility>

#include "absl/strings/str_cat.h"
#include "grpc/health/v1/health.pb.h"
#include "service/grpc/decode_error_interceptor.h"
#include "service/grpc/metrics_interceptor.h"
#include "service/server/host_port.h"

namespace music::service {
namespace {

// The gRPC port's credentials: plaintext, or TLS from files gRPC's FileWatcher re-reads every
// refresh_seconds (a rotated certificate is served without a restart), with client certificates
// verified against client_ca_file when one is given. INVALID_ARGUMENT naming the grpc.tls key
// for a missing file.
absl::StatusOr<std::shared_ptr<grpc::ServerCredentials>> ServerCredentials(
    const ServerOptions::Tls& tls) {
  if (tls.cert_file.empty() && tls.key_file.empty()) {
    if (!tls.client_ca_file.empty() || tls.require_client_cert) {
      return absl::InvalidArgumentError(
          "config key \"grpc.tls.cert_file\": client certificates need TLS (cert_file, key_file)");
    }
    return grpc::InsecureServerCredentials();
  }
  for (const auto& [key, path] : {std::pair("grpc.tls.cert_file", tls.cert_file),
                                  std::pair("grpc.tls.key_file", tls.key_file),
                                  std::pair("grpc.tls.client_ca_file", tls.client_ca_file)}) {
    if (path.empty() && std::string(key) == "grpc.tls.client_ca_file") continue;
    if (path.empty() || ::access(path.c_str(), R_OK) != 0) {
      return absl::InvalidArgumentError(
          absl::StrCat("config key \"", key, "\": cannot read \"", path, "\""));
    }
  }
  if (tls.require_client_cert && tls.client_ca_file.empty()) {
    return absl::InvalidArgumentError(
        "config key \"grpc.tls.require_client_cert\": needs grpc.tls.client_ca_file");
  }
  auto provider = std::make_shared<grpc::experimental::FileWatcherCertificateProvider>(
      tls.key_file, tls.cert_file, tls.client_ca_file, tls.refresh_seconds);
  grpc::experimental::TlsServerCredentialsOptions options(provider);
  options.watch_identity_key_cert_pairs();
  if (!tls.client_ca_file.empty()) {
    options.watch_root_certs();
    options.set_cert_request_type(
        tls.require_client_cert ? GRPC_SSL_REQUEST_AND_REQUIRE_CLIENT_CERTIFICATE_AND_VERIFY
                                : GRPC_SSL_REQUEST_CLIENT_CERTIFICATE_AND_VERIFY);
  } else {
    options.set_cert_request_type(GRPC_SSL_DONT_REQUEST_CLIENT_CERTIFICATE);
  }
  return grpc::experimental::TlsServerCredentials(options);
}

}  // namespace

absl::StatusOr<std::unique_ptr<MusicServer>> MusicServer::Start(
    ServerOptions options, persistence::Stores stores,
    std::unique_ptr<ProviderRegistry> providers, std::unique_ptr<Catalog> catalog,
    const Clock* clock) {
  std::unique_ptr<MusicServer> s(new MusicServer());
  s->options_ = std::move(options);
  if (s->options_.metrics == nullptr) s->options_.metrics = std::make_shared<Metrics>();
  Metrics* metrics = s->options_.metrics.get();
  if (stores.tasks == nullptr) return absl::InvalidArgumentError("MusicServer needs a task store");
  s->stores_ = std::move(stores);
  s->providers_ = std::move(providers);
  s->catalog_ = std::move(catalog);
  s->hub_ = std::make_unique<WatchHub>(s->options_.heartbeat_interval, clock);

  // Callbacks fail closed: without a secret no callback URL could carry a token, and kie.ai
  // requires a callback URL on every create.
  const auto& secrets = s->options_.engine.callback_token_secrets;
  if (secrets.empty() ||
      std::any_of(secrets.begin(), secrets.end(), [](const std::string& k) { return k.empty(); })) {
    return absl::FailedPreconditionError(
        "the callback token secret is not set (callbacks.token_secret_env, default "
        "$MUSIC_CALLBACK_SECRET, or callbacks.token_secret_file): callbacks are refused without "
        "it");
  }
  // Bind the callback listener first: with port 0 its port is part of the callback URL the
  // engine gives providers. It serves only once the engine exists.
  std::string cb_host;
  int cb_port = 0;
  if (auto st = SplitHostPort(s->options_.callbacks_listen, "callbacks.listen", &cb_host, &cb_port);
      !st.ok()) {
    return st;
  }
  MusicServer* self = s.get();
  s->callbacks_ = std::make_unique<CallbackServer>(
      [self](absl::string_view provider, absl::string_view task_id, absl::string_view token,
             const http::Request& req, absl::string_view peer) {
        return self->engine_->HandleCallback(provider, task_id, token, req, peer);
      },
      s->options_.callbacks);
  if (auto st = s->callbacks_->Bind(cb_host, cb_port); !st.ok()) return st;

  s->provider_health_ = std::make_unique<ProviderHealth>(clock);
  EngineOptions engine_options = s->options_.engine;
  engine_options.provider_health = s->provider_health_.get();
  engine_options.callback_base_url = s->options_.callbacks_public_url;
  engine_options.metrics = metrics;
  // Several replicas on one store: the engine drives only the tasks it holds a lease on.
  engine_options.leases = s->stores_.leases.get();
  if (engine_options.callback_base_url.empty()) {
    std::string host = (cb_host == "0.0.0.0" || cb_host == "::") ? "127.0.0.1" : cb_host;
    if (host.find(':') != std::string::npos) host = absl::StrCat("[", host, "]");
    engine_options.callback_base_url = absl::StrCat(s->callbacks_->tls() ? "https://" : "http://",
                                                    host, ":", s->callbacks_->port());
  }
  // The archiver copies each succeeded task's media; the engine only tells it a task ended.
  if (s->stores_.archive != nullptr && s->options_.archive_fetcher != nullptr) {
    s->options_.archiver.metrics = metrics;
    s->archiver_ = std::make_unique<Archiver>(s->options_.archiver, s->stores_.tasks.get(),
                                              s->stores_.archive.get(),
                                              s->options_.archive_fetcher, clock, s->hub_.get());
    Archiver* archiver = s->archiver_.get();
    engine_options.on_task_ended = [archiver](const domain::TaskRecord& record) {
      archiver->OnTaskEnded(record);
    };
  }
  s->clip_audio_ =
      std::make_unique<ClipAudioReader>(s->stores_.tasks.get(), s->stores_.archive.get());
  s->engine_ = std::make_unique<TaskEngine>(engine_options, s->stores_.tasks.get(), s->providers_.get(),
                                            s->catalog_.get(), clock, s->hub_.get());
  if (auto st = s->callbacks_->Serve(); !st.ok()) return st;

  s->rpc_workers_ = std::make_unique<ThreadPool>(s->options_.rpc_workers, "rpc");
  s->api_ = std::make_unique<MusicApi>(
      s->stores_.tasks.get(), s->catalog_.get(), s->engine_.get(),
      s->options_.reference_audio_uploads ? s->providers_.get() : nullptr,
      s->provider_health_.get(), s->providers_.get());
  s->authenticator_ = s->options_.authenticator;
  if (s->authenticator_ == nullptr) {
    auth::AuthConfig open;
    open.open_tenant = s->options_.tenant;
    s->authenticator_ = auth::NewAuthenticator(std::move(open));
  }
  s->service_ = std::make_unique<MusicServiceImpl>(
      s->api_.get(), s->rpc_workers_.get(), s->hub_.get(), s->authenticator_.get(),
      std::min(s->options_.max_reference_audio_bytes, kMaxReferenceAudioBytes),
      s->clip_audio_.get());
  // The billing services need the ledger's store.
  if (persistence::BillingStore* billing_store = s->stores_.billing.get()) {
    BillingApiOptions billing_options;
    billing_options.credits_per_usd = s->options_.credits_per_usd;
    billing_options.usage_formats = s->options_.usage_formats;
    billing_options.metrics = metrics;
    billing_options.providers = s->providers_.get();
    s->billing_api_ = std::make_unique<BillingApi>(billing_store, clock, billing_options);
    s->billing_service_ = std::make_unique<BillingServiceImpl>(
        s->billing_api_.get(), s->rpc_workers_.get(), s->authenticator_.get());
    s->reconciliation_service_ = std::make_unique<ReconciliationServiceImpl>(
        s->billing_api_.get(), s->rpc_workers_.get(), s->authenticator_.get());
  }

  // Reflection lists the default health service; referencing its descriptor links it in so
  // reflection can describe it too (grpcurl / buf curl users call grpc.health.v1.Health/Check).
  (void)grpc::health::v1::HealthCheckRequest::descriptor();
  grpc::EnableDefaultHealthCheckService(true);
  grpc::reflection::InitProtoReflectionServerBuilderPlugin();
  grpc::ServerBuilder builder;
  auto credentials = ServerCredentials(s->options_.tls);
  if (!credentials.ok()) return credentials.status();
  builder.AddListeningPort(s->options_.listen, *credentials, &s->port_);
  builder.RegisterService(s->service_.get());
  builder.SetMaxReceiveMessageSize(s->options_.max_receive_message_bytes);
  for (const auto& [arg, d] :
       {std::pair(GRPC_ARG_KEEPALIVE_TIME_MS, s->options_.keepalive_time),
        std::pair(GRPC_ARG_KEEPALIVE_TIMEOUT_MS, s->options_.keepalive_timeout),
        std::pair(GRPC_ARG_MAX_CONNECTION_AGE_MS, s->options_.max_connection_age),
        std::pair(GRPC_ARG_MAX_CONNECTION_AGE_GRACE_MS, s->options_.max_connection_age_grace)}) {
    if (d == absl::InfiniteDuration()) continue;
    builder.AddChannelArgument(
        arg, static_cast<int>(std::min<int64_t>(absl::ToInt64Milliseconds(d), INT_MAX)));
  }
  if (s->billing_service_) {
    builder.RegisterService(s->billing_service_.get());
    builder.RegisterService(s->reconciliation_service_.get());
  }
  std::vector<std::unique_ptr<grpc::experimental::ServerInterceptorFactoryInterface>> interceptors;
  // First: the metrics interceptor then counts an undecodable request as INVALID_ARGUMENT.
  interceptors.push_back(NewDecodeErrorInterceptor());
  interceptors.push_back(NewRpcMetricsInterceptor(metrics));
  builder.experimental().SetInterceptorCreators(std::move(interceptors));
  if (s->options_.generic_service != nullptr) {
    builder.RegisterCallbackGenericService(s->options_.generic_service);
  }
  s->server_ = builder.BuildAndStart();
  if (!s->server_ || s->port_ == 0) {
    return absl::UnavailableError(absl::StrCat("cannot listen on ", s->options_.listen));
  }
  // Serving while the store can take writes (checked now and then every interval).
  s->store_health_ = std::make_unique<StoreHealthMonitor>(
      s->stores_.tasks.get(), s->options_.store_health_interval,
      [self](const absl::Status& store) { self->SetServing(store.ok()); });
  s->store_health_->Start();
  // One health service per provider, "music.v1.provider/<name>": NOT_SERVING while the provider
  // refuses our key (ProviderHealth), so a probe or an alert sees it; the server's own status
  // stays as the store says (the replica can still serve the other providers).
  if (auto* health = s->server_->GetHealthCheckService()) {
    for (const music::v1::Model& m : s->catalog_->models()) {
      health->SetServingStatus(ProviderHealthServiceName(m.provider()), true);
    }
    s->provider_health_->SetOnChange([health](const std::string& provider, bool available) {
      health->SetServingStatus(ProviderHealthServiceName(provider), available);
    });
  }
  s->RegisterCollectors();
  if (auto st = s->engine_->Start(); !st.ok()) {
    s->Shutdown();
    return st;
  }
  if (s->stores_.changes != nullptr && s->stores_.leases != nullptr) {
    s->change_relay_ = std::make_unique<ChangeRelay>(s->stores_.tasks.get(), s->hub_.get(),
                                                     s->engine_.get(),
                                                     s->stores_.leases->replica_id());
    ChangeRelay* relay = s->change_relay_.get();
    if (auto st = s->stores_.changes->Start(
            [relay](const persistence::TaskChange& c) { relay->OnChange(c); },
            [relay] { relay->OnResync(); });
        !st.ok()) {
      s->Shutdown();
      return st;
    }
  }
  if (s->archiver_) s->archiver_->Start();
  return s;
}

void MusicServer::RegisterCollectors() {
  Metrics* metrics = options_.metrics.get();
  // Each reads a counter the component keeps anyway: O(1) per scrape, whatever the task count.
  collector_ids_.push_back(metrics->RegisterCollector([hub = hub_.get()] {
    return std::vector<prometheus::MetricFamily>{WatchStreamsFamily(hub->size())};
  }));
  collector_ids_.push_back(metrics->RegisterCollector([engine = engine_.get()] {
    return std::vector<prometheus::MetricFamily>{OldestDueAgeFamily(engine->OldestDueAge())};
  }));
  collector_ids_.push_back(metrics->RegisterCollector([store = stores_.tasks.get()] {
    std::optional<persistence::CommitStats> stats = store->GetCommitStats();
    return stats ? CommitStatsFamilies(*stats) : std::vector<prometheus::MetricFamily>();
  }));
}

MusicServer::~MusicServer() { Shutdown(); }

void MusicServer::SetServing(bool serving) {
  grpc::HealthCheckServiceInterface* health =
      server_ ? server_->GetHealthCheckService() : nullptr;
  if (health == nullptr) return;
  health->SetServingStatus(serving);
  health->SetServingStatus("music.v1.MusicService", serving);
  if (billing_service_) {
    health->SetServingStatus("music.v1.BillingService", serving);
    health->SetServingStatus("music.v1.ReconciliationService", serving);
  }
}

void MusicServer::Shutdown() {
  if (shut_down_) return;
  shut_down_ = true;
  // No more flips back to SERVING once the drain started.
  if (store_health_) store_health_->Stop();
  // A scrape from here on sees no hub, engine or store figures: they are about to go.
  for (int64_t id : collector_ids_) options_.metrics->UnregisterCollector(id);
  collector_ids_.clear();
  if (server_) {
    if (auto* health = server_->GetHealthCheckService()) health->SetServingStatus(false);
  }
  // One grace for everything: the process exits within shutdown_grace (Kubernetes kills it at
  // terminationGracePeriodSeconds). Streams end UNAVAILABLE first (clients reconnect elsewhere
  // with since_version); then no new RPCs, and in-flight ones get what is left of the grace.
  const absl::Time deadline = absl::Now() + options_.shutdown_grace;
  // Other replicas' changes stop arriving before the streams and the engine they feed go.
  if (stores_.changes) stores_.changes->Stop();
  if (hub_) hub_->Shutdown();
  if (server_) {
    server_->Shutdown(std::chrono::system_clock::now() +
                      std::chrono::milliseconds(
                          std::max<int64_t>(0, absl::ToInt64Milliseconds(deadline - absl::Now()))));
  }
  if (callbacks_) callbacks_->Stop();
  if (rpc_workers_) rpc_workers_->Shutdown();
  // No queued submission or poll starts (they stay in the store for the next start or another
  // replica); provider requests in flight get the rest of the grace but its last quarter (at
  // most 1 s), kept for the aborted requests' follow-up writes, then are aborted.
  // Archive downloads (up to archive.timeout_seconds each) get the same bound: the engine and the
  // archiver wait side by side, so the copies are aborted at the same point, not after the
  // engine is done.
  const absl::Time abort_at = deadline - std::min(absl::Seconds(1), options_.shutdown_grace / 4);
  std::thread archiver_stop;
  if (archiver_) archiver_stop = std::thread([this, abort_at] { archiver_->Shutdown(abort_at); });
  if (engine_) engine_->Shutdown(abort_at);
  if (archiver_stop.joinable()) archiver_stop.join();
}

void MusicServer::Wait() {
  if (server_) server_->Wait();
}

}  // namespace music::service
