// The service's Prometheus metrics: every family in one place (names, help, labels, buckets), and
// small recording calls for the code that counts. The wiring (server/build_server.cc) creates the
// registry and the HTTP endpoint (prometheus::Exposer) and hands a Metrics down; a component given
// none makes a private one, so tests and tools build the engine and server without an endpoint.
//
// Label values are bounded: providers, endpoints, methods, kinds, states and codes come from small
// fixed sets, never task ids. Each family caches the series it has handed out per label set
// (prometheus-cpp's Family::Add takes a lock and hashes the labels), and a family that would grow
// past kMaxSeriesPerFamily folds new label sets into one "other" series instead.
#ifndef MUSIC_SERVICE_CORE_METRICS_H_
#define MUSIC_SERVICE_CORE_METRICS_H_

#include <prometheus/collectable.h>
#include <prometheus/counter.h>
#include <prometheus/family.h>
#include <prometheus/gauge.h>
#include <prometheus/histogram.h>
#include <prometheus/metric_family.h>
#include <prometheus/registry.h>

#include <cstdint>
#include <functional>
#include <initializer_list>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_map.h"
#include "absl/status/status.h"
#include "absl/strings/str_join.h"
#include "absl/strings/string_view.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "absl/types/span.h"
#include "domain/billing_types.h"
#include "music/v1/task.pb.h"
#include "persistence/commit_stats.h"

namespace music::service {

/// A scrape-time source of metric families (e.g. a store's counters read when Prometheus
/// scrapes). Runs on the HTTP endpoint's thread: it must be cheap and must not block on anything
/// that grows with tasks.
using MetricsCollector = std::function<std::vector<prometheus::MetricFamily>()>;

/// Series per family past which new label sets are folded into one "other" series.
inline constexpr size_t kMaxSeriesPerFamily = 512;

/// The series one family hands out, by label values; bounded (see the file comment).
template <typename T>
class SeriesCache {
 public:
  SeriesCache(prometheus::Family<T>* family, std::vector<std::string> label_names)
      : family_(family), label_names_(std::move(label_names)) {}

  /// The series of `values` (one per label name, in order), created on first use. Extra
  /// arguments (a histogram's buckets) are used when it is created.
  template <typename... Args>
  T& Get(std::initializer_list<absl::string_view> values, const Args&... args);

 private:
  prometheus::Family<T>* const family_;
  const std::vector<std::string> label_names_;
  absl::Mutex mu_;
  absl::flat_hash_map<std::string, T*> series_ ABSL_GUARDED_BY(mu_);
};

/// Every metric of the service. Thread-safe; recording calls take no lock but a reader lock over a
/// small per-family map (one per label set in use).
class Metrics {
 public:
  /// Registers every family in `registry`; nullptr: in a registry of its own (a component
  /// without an endpoint, a test).
  explicit Metrics(std::shared_ptr<prometheus::Registry> registry = nullptr);
  ~Metrics();
  Metrics(const Metrics&) = delete;
  Metrics& operator=(const Metrics&) = delete;

  /// What an endpoint exposes: the registry and the scrape-time collectors (RegisterCollector).
  std::vector<std::weak_ptr<prometheus::Collectable>> Collectables() const;
  /// Everything, collected now (the registry first, then each collector): for tests.
  std::vector<prometheus::MetricFamily> Collect() const;
  /// Collect() in Prometheus' text format.
  std::string SerializeText() const;

  /// The name of every family the service exposes: the ones registered here, and the
  /// scrape-time families the server's own collectors build (CommitStatsFamilies,
  /// WatchStreamsFamily, OldestDueAgeFamily). Histograms are named without _bucket/_sum/_count.
  std::vector<std::string> FamilyNames() const;

  /// Adds a scrape-time source; the id is for UnregisterCollector. After Unregister returns,
  /// `collector` is never called again (a scrape in progress finishes first).
  int64_t RegisterCollector(MetricsCollector collector);
  void UnregisterCollector(int64_t id);

  // --- gRPC (service/grpc/metrics_interceptor.cc) ---
  /// One finished RPC: `method` as "/package.Service/Method", its gRPC code (0-16) and the time
  /// from the call's start to its status.
  void RecordRpc(absl::string_view method, int grpc_code, absl::Duration latency);

  // --- Tasks (the engine) ---
  /// The gauge of non-terminal tasks this process drives in `state`, of `kind`, on `provider`.
  prometheus::Gauge& ActiveTasks(music::v1::TaskState state, music::v1::TaskKind kind,
                                 absl::string_view provider);
  void TaskCreated(music::v1::TaskKind kind, absl::string_view provider);
  /// A task reached terminal `state` with `code` (its error code; 0 for SUCCEEDED), `age` after
  /// it was created.
  void TaskEnded(music::v1::TaskKind kind, absl::string_view provider, music::v1::TaskState state,
                 int code, absl::Duration age);
  /// One provider call the engine made: `endpoint` is submit, poll, cancel, upload_reference or
  /// lookup; the outcome is the status code's name.
  void ProviderCall(absl::string_view provider, absl::string_view endpoint,
                    const absl::Status& status, absl::Duration latency);
  /// The histogram of the time requests to `provider` waited in the transport's per-host queue
  /// (its concurrency limit) before being sent. Stable for the Metrics' life.
  prometheus::Histogram& HttpQueueWait(absl::string_view provider);
  /// A request to `provider` (a create or a poll) the engine's client-side rate limiter let
  /// through after it `waited` for the provider account's limit (zero: it went at once). Only
  /// providers with a limit (adapters::RateLimits) are recorded.
  void RateLimitWait(absl::string_view provider, absl::Duration waited);

  // --- Callbacks (TaskEngine::HandleCallback) ---
  /// `provider` is a configured provider or "unknown".
  void CallbackReceived(absl::string_view provider);
  /// Refused deliveries; `reason` is unknown_task, unauthenticated, malformed, wrong_task or
  /// unavailable.
  void CallbackRefused(absl::string_view provider, absl::string_view reason);
  /// Accepted deliveries that changed nothing (repeats, late and out-of-order deliveries).
  void CallbackDuplicate(absl::string_view provider);

  // --- Quotas (TaskEngine::Create) ---
  /// A create of `tenant` refused RESOURCE_EXHAUSTED by `quota` (quota.h: requests_per_second or
  /// max_tasks_in_flight).
  void QuotaRefused(absl::string_view tenant, absl::string_view quota);
  /// A create of `tenant` refused UNAVAILABLE (OVERLOADED) by load shedding
  /// (EngineOptions::overload_submission_wait).
  void CreateShed(absl::string_view tenant);

  // --- Billing ---
  /// Ledger rows stored (after their transaction committed): amounts by kind and currency.
  void LedgerRows(absl::Span<const billing::BillingTransaction> rows);
  /// A CheckLedger run found `violations` broken rules.
  void LedgerChecked(int64_t violations);
  /// A reconciliation run reported `count` tasks with outcome `kind` (e.g. AMOUNT_MISMATCH).
  void ReconciliationFindings(absl::string_view kind, int64_t count);

  // --- Archive (the output archive hooks these in) ---
  /// Bytes copied into the archive (`kind`: audio, image, ...).
  void ArchiveBytes(absl::string_view kind, int64_t bytes);
  /// A copy into the archive that failed (`reason`: a status code name).
  void ArchiveFailure(absl::string_view reason);

 private:
  class CollectorSet;

  std::shared_ptr<prometheus::Registry> registry_;
  std::shared_ptr<CollectorSet> collectors_;
  // The registered families' names, in registration order (FamilyNames).
  std::vector<std::string> names_;

  SeriesCache<prometheus::Counter> rpc_total_;
  SeriesCache<prometheus::Histogram> rpc_seconds_;
  SeriesCache<prometheus::Gauge> tasks_;
  SeriesCache<prometheus::Counter> tasks_created_;
  SeriesCache<prometheus::Counter> tasks_ended_;
  SeriesCache<prometheus::Histogram> task_seconds_;
  SeriesCache<prometheus::Counter> provider_total_;
  SeriesCache<prometheus::Histogram> provider_seconds_;
  SeriesCache<prometheus::Counter> polls_;
  SeriesCache<prometheus::Histogram> queue_wait_;
  SeriesCache<prometheus::Histogram> rate_limit_wait_;
  SeriesCache<prometheus::Counter> callbacks_received_;
  SeriesCache<prometheus::Counter> callbacks_refused_;
  SeriesCache<prometheus::Counter> quota_refusals_;
  SeriesCache<prometheus::Counter> creates_shed_;
  SeriesCache<prometheus::Counter> callbacks_duplicate_;
  SeriesCache<prometheus::Counter> ledger_reserved_;
  SeriesCache<prometheus::Counter> ledger_settled_;
  SeriesCache<prometheus::Counter> ledger_refunded_;
  prometheus::Gauge* ledger_violations_;
  prometheus::Counter* ledger_checks_;
  SeriesCache<prometheus::Counter> reconciliation_findings_;
  SeriesCache<prometheus::Counter> archive_bytes_;
  SeriesCache<prometheus::Counter> archive_failures_;
};

template <typename T>
template <typename... Args>
T& SeriesCache<T>::Get(std::initializer_list<absl::string_view> values, const Args&... args) {
  std::string key = absl::StrJoin(values, "\x1f");
  {
    absl::ReaderMutexLock lock(&mu_);
    auto it = series_.find(key);
    if (it != series_.end()) return *it->second;
  }
  absl::MutexLock lock(&mu_);
  auto it = series_.find(key);
  if (it != series_.end()) return *it->second;
  prometheus::Labels labels;
  if (series_.size() >= kMaxSeriesPerFamily) {
    // A label value from an unexpected source must not grow the scrape without bound.
    key = "\x1eother";
    it = series_.find(key);
    if (it != series_.end()) return *it->second;
    for (const std::string& name : label_names_) labels[name] = "other";
  } else {
    size_t i = 0;
    for (absl::string_view v : values) labels[label_names_[i++]] = std::string(v);
  }
  T& series = family_->Add(labels, args...);
  series_.emplace(std::move(key), &series);
  return series;
}

/// A family of one unlabelled gauge, for scrape-time collectors.
prometheus::MetricFamily GaugeFamily(std::string name, std::string help, double value);

/// music_watch_streams: open WatchTask streams (WatchHub::size()).
prometheus::MetricFamily WatchStreamsFamily(int streams);

/// music_engine_oldest_due_age_seconds (TaskEngine::OldestDueAge()).
prometheus::MetricFamily OldestDueAgeFamily(absl::Duration age);

/// A store's write-path counters (persistence::CommitStats) as music_store_* families: commits
/// and failed commits, writes by result, the commit time histogram (seconds) and the histogram
/// of writes per transaction, from the store's log2 buckets.
std::vector<prometheus::MetricFamily> CommitStatsFamilies(const persistence::CommitStats& stats);

/// The lower-case name of a state or kind without its prefix ("running", "music"), as labels.
std::string StateLabel(music::v1::TaskState state);
std::string KindLabel(music::v1::TaskKind kind);

}  // namespace music::service

#endif  // MUSIC_SERVICE_CORE_METRICS_H_
