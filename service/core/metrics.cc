#include "service/core/metrics.h"

#include <prometheus/text_serializer.h>

#include <cmath>
#include <limits>
#include <utility>

#include "absl/strings/ascii.h"
#include "absl/strings/strip.h"
#include "absl/strings/str_cat.h"

namespace music::service {
namespace {

using prometheus::BuildCounter;
using prometheus::BuildGauge;
using prometheus::BuildHistogram;
using prometheus::Histogram;

// Seconds: RPCs and provider calls take from well under a millisecond to tens of seconds.
const Histogram::BucketBoundaries& LatencyBuckets() {
  static const auto* b = new Histogram::BucketBoundaries{
      0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60};
  return *b;
}

// Seconds from create to end: a song takes one to a few minutes; the default deadline is 30 min.
const Histogram::BucketBoundaries& TaskBuckets() {
  static const auto* b = new Histogram::BucketBoundaries{1,   5,   10,   20,   30,   60,  90,
                                                         120, 180, 300,  600,  900, 1800, 3600};
  return *b;
}

// Seconds in the transport's per-host queue: 0 when there is room, up to the request timeout.
const Histogram::BucketBoundaries& QueueBuckets() {
  static const auto* b = new Histogram::BucketBoundaries{
      0.0001, 0.001, 0.005, 0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30};
  return *b;
}

// Seconds a request waited for a provider account's rate limit: 0 for most, up to one window
// (kie.ai: 10 s) or a few under a burst.
const Histogram::BucketBoundaries& RateLimitBuckets() {
  static const auto* b = new Histogram::BucketBoundaries{0.001, 0.01, 0.1, 0.25, 0.5, 1,
                                                         2.5,   5,    10,  20,   30,  60};
  return *b;
}

template <typename T>
prometheus::Family<T>& Family(prometheus::detail::Builder<T> builder, prometheus::Registry& r,
                              std::vector<std::string>& names, const char* name,
                              const char* help) {
  names.emplace_back(name);
  return builder.Name(name).Help(help).Register(r);
}

std::string Lower(absl::string_view s) { return absl::AsciiStrToLower(s); }

}  // namespace

std::string StateLabel(music::v1::TaskState state) {
  const std::string name = music::v1::TaskState_Name(state);
  absl::string_view view = name;
  absl::ConsumePrefix(&view, "TASK_STATE_");
  return Lower(view);
}

std::string KindLabel(music::v1::TaskKind kind) {
  const std::string name = music::v1::TaskKind_Name(kind);
  absl::string_view view = name;
  absl::ConsumePrefix(&view, "TASK_KIND_");
  return Lower(view);
}

// The scrape-time collectors, exposed next to the registry. Collection holds mu_, so
// UnregisterCollector waits for a scrape in progress: a collector never runs after its owner
// removed it (MusicServer removes its own before it tears down what they read).
class Metrics::CollectorSet : public prometheus::Collectable {
 public:
  std::vector<prometheus::MetricFamily> Collect() const override {
    absl::MutexLock lock(&mu_);
    std::vector<prometheus::MetricFamily> out;
    for (const auto& [id, collector] : collectors_) {
      std::vector<prometheus::MetricFamily> families = collector();
      for (prometheus::MetricFamily& f : families) out.push_back(std::move(f));
    }
    return out;
  }
  int64_t Add(MetricsCollector collector) {
    absl::MutexLock lock(&mu_);
    collectors_.emplace(++next_id_, std::move(collector));
    return next_id_;
  }
  void Remove(int64_t id) {
    absl::MutexLock lock(&mu_);
    collectors_.erase(id);
  }

 private:
  mutable absl::Mutex mu_;
  std::map<int64_t, MetricsCollector> collectors_ ABSL_GUARDED_BY(mu_);
  int64_t next_id_ ABSL_GUARDED_BY(mu_) = 0;
};

Metrics::Metrics(std::shared_ptr<prometheus::Registry> registry)
    : registry_(registry != nullptr ? std::move(registry)
                                    : std::make_shared<prometheus::Registry>()),
      collectors_(std::make_shared<CollectorSet>()),
      rpc_total_(&Family(BuildCounter(), *registry_, names_, "music_rpc_requests_total",
                         "gRPC calls finished, by method and gRPC status code."),
                 {"method", "code"}),
      rpc_seconds_(&Family(BuildHistogram(), *registry_, names_, "music_rpc_duration_seconds",
                           "gRPC call time from its start to its status (WatchTask: the stream's "
                           "life), seconds."),
                   {"method"}),
      tasks_(&Family(BuildGauge(), *registry_, names_, "music_tasks",
                     "Non-terminal tasks this process drives, by state, kind and provider."),
             {"state", "kind", "provider"}),
      tasks_created_(&Family(BuildCounter(), *registry_, names_, "music_tasks_created_total",
                             "Tasks created (stored with their reservation)."),
                     {"kind", "provider"}),
      tasks_ended_(&Family(BuildCounter(), *registry_, names_, "music_tasks_ended_total",
                           "Tasks that reached a terminal state, by state and error code."),
                   {"kind", "provider", "state", "code"}),
      task_seconds_(&Family(BuildHistogram(), *registry_, names_, "music_task_duration_seconds",
                            "Time from a task's creation to its terminal state, seconds."),
                    {"kind", "provider", "state"}),
      provider_total_(&Family(BuildCounter(), *registry_, names_, "music_provider_requests_total",
                              "Provider calls, by provider, endpoint and outcome (status code)."),
                      {"provider", "endpoint", "outcome"}),
      provider_seconds_(&Family(BuildHistogram(), *registry_, names_,
                                "music_provider_request_duration_seconds",
                                "Provider call time, queueing in the transport included, seconds."),
                        {"provider", "endpoint"}),
      polls_(&Family(BuildCounter(), *registry_, names_, "music_polls_total",
                     "Status polls sent to providers (rate() is polls per second)."),
             {"provider"}),
      queue_wait_(&Family(BuildHistogram(), *registry_, names_, "music_http_queue_wait_seconds",
                          "Time a provider request waited for room under the per-host "
                          "concurrency limit before it was sent, seconds."),
                  {"provider"}),
      rate_limit_wait_(&Family(BuildHistogram(), *registry_, names_,
                               "music_provider_rate_limit_wait_seconds",
                               "Time a provider request (create or poll) waited for the provider "
                               "account's rate limit before it was sent, seconds (0: none)."),
                       {"provider"}),
      callbacks_received_(&Family(BuildCounter(), *registry_, names_, "music_callbacks_received_total",
                                  "Provider callback deliveries received."),
                          {"provider"}),
      callbacks_refused_(&Family(BuildCounter(), *registry_, names_, "music_callbacks_refused_total",
                                 "Provider callback deliveries refused, by reason."),
                         {"provider", "reason"}),
      quota_refusals_(&Family(BuildCounter(), *registry_, names_, "music_quota_refusals_total",
                              "Creates refused RESOURCE_EXHAUSTED by a tenant quota, by quota."),
                      {"tenant", "quota"}),
      creates_shed_(&Family(BuildCounter(), *registry_, names_, "music_creates_shed_total",
                            "Creates refused UNAVAILABLE (OVERLOADED) while the engine's oldest "
                            "queued submission waited longer than tasks.overload_submission_wait."),
                    {"tenant"}),
      callbacks_duplicate_(&Family(BuildCounter(), *registry_, names_,
                                   "music_callbacks_duplicate_total",
                                   "Accepted callback deliveries that changed nothing (repeats, "
                                   "late or out-of-order deliveries)."),
                           {"provider"}),
      ledger_reserved_(&Family(BuildCounter(), *registry_, names_,
                               "music_ledger_reserved_micros_total",
                               "RESERVE amounts written to the ledger, micro-units of currency."),
                       {"currency"}),
      ledger_settled_(&Family(BuildCounter(), *registry_, names_, "music_ledger_settled_micros_total",
                              "SETTLE amounts written to the ledger, micro-units of currency."),
                      {"currency"}),
      ledger_refunded_(&Family(BuildCounter(), *registry_, names_,
                               "music_ledger_refunded_micros_total",
                               "REFUND amounts written to the ledger, micro-units of currency."),
                       {"currency"}),
      ledger_violations_(&Family(BuildGauge(), *registry_, names_, "music_ledger_violations",
                                 "Broken ledger rules found by the last CheckLedger run.")
                              .Add({})),
      ledger_checks_(&Family(BuildCounter(), *registry_, names_, "music_ledger_checks_total",
                             "CheckLedger runs.")
                          .Add({})),
      reconciliation_findings_(&Family(BuildCounter(), *registry_, names_,
                                       "music_reconciliation_findings_total",
                                       "Tasks reconciliation runs reported as not matching, by "
                                       "outcome."),
                               {"kind"}),
      archive_bytes_(&Family(BuildCounter(), *registry_, names_, "music_archive_bytes_total",
                             "Bytes copied into the output archive, by media kind."),
                     {"kind"}),
      archive_failures_(&Family(BuildCounter(), *registry_, names_, "music_archive_failures_total",
                                "Copies into the output archive that failed, by reason."),
                        {"reason"}) {}

Metrics::~Metrics() = default;

std::vector<std::string> Metrics::FamilyNames() const {
  std::vector<std::string> names = names_;
  for (const prometheus::MetricFamily& f : CommitStatsFamilies(persistence::CommitStats())) {
    names.push_back(f.name);
  }
  names.push_back(WatchStreamsFamily(0).name);
  names.push_back(OldestDueAgeFamily(absl::ZeroDuration()).name);
  return names;
}

std::vector<std::weak_ptr<prometheus::Collectable>> Metrics::Collectables() const {
  return {registry_, collectors_};
}

std::vector<prometheus::MetricFamily> Metrics::Collect() const {
  std::vector<prometheus::MetricFamily> out = registry_->Collect();
  std::vector<prometheus::MetricFamily> more = collectors_->Collect();
  for (prometheus::MetricFamily& f : more) out.push_back(std::move(f));
  return out;
}

std::string Metrics::SerializeText() const {
  return prometheus::TextSerializer().Serialize(Collect());
}

int64_t Metrics::RegisterCollector(MetricsCollector collector) {
  return collectors_->Add(std::move(collector));
}

void Metrics::UnregisterCollector(int64_t id) { collectors_->Remove(id); }

void Metrics::RecordRpc(absl::string_view method, int grpc_code, absl::Duration latency) {
  const std::string code = absl::StatusCodeToString(static_cast<absl::StatusCode>(grpc_code));
  rpc_total_.Get({method, code}).Increment();
  rpc_seconds_.Get({method}, LatencyBuckets()).Observe(absl::ToDoubleSeconds(latency));
}

prometheus::Gauge& Metrics::ActiveTasks(music::v1::TaskState state, music::v1::TaskKind kind,
                                        absl::string_view provider) {
  return tasks_.Get({StateLabel(state), KindLabel(kind), provider});
}

void Metrics::TaskCreated(music::v1::TaskKind kind, absl::string_view provider) {
  tasks_created_.Get({KindLabel(kind), provider}).Increment();
}

void Metrics::TaskEnded(music::v1::TaskKind kind, absl::string_view provider,
                        music::v1::TaskState state, int code, absl::Duration age) {
  const std::string kind_label = KindLabel(kind);
  const std::string state_label = StateLabel(state);
  tasks_ended_
      .Get({kind_label, provider, state_label,
            absl::StatusCodeToString(static_cast<absl::StatusCode>(code))})
      .Increment();
  task_seconds_.Get({kind_label, provider, state_label}, TaskBuckets())
      .Observe(absl::ToDoubleSeconds(age));
}

void Metrics::ProviderCall(absl::string_view provider, absl::string_view endpoint,
                           const absl::Status& status, absl::Duration latency) {
  provider_total_.Get({provider, endpoint, absl::StatusCodeToString(status.code())}).Increment();
  provider_seconds_.Get({provider, endpoint}, LatencyBuckets())
      .Observe(absl::ToDoubleSeconds(latency));
  if (endpoint == "poll") polls_.Get({provider}).Increment();
}

prometheus::Histogram& Metrics::HttpQueueWait(absl::string_view provider) {
  return queue_wait_.Get({provider}, QueueBuckets());
}

void Metrics::RateLimitWait(absl::string_view provider, absl::Duration waited) {
  rate_limit_wait_.Get({provider}, RateLimitBuckets()).Observe(absl::ToDoubleSeconds(waited));
}

void Metrics::CallbackReceived(absl::string_view provider) {
  callbacks_received_.Get({provider}).Increment();
}

void Metrics::CallbackRefused(absl::string_view provider, absl::string_view reason) {
  callbacks_refused_.Get({provider, reason}).Increment();
}

void Metrics::QuotaRefused(absl::string_view tenant, absl::string_view quota) {
  quota_refusals_.Get({tenant, quota}).Increment();
}

void Metrics::CreateShed(absl::string_view tenant) { creates_shed_.Get({tenant}).Increment(); }

void Metrics::CallbackDuplicate(absl::string_view provider) {
  callbacks_duplicate_.Get({provider}).Increment();
}

void Metrics::LedgerRows(absl::Span<const billing::BillingTransaction> rows) {
  for (const billing::BillingTransaction& row : rows) {
    const absl::string_view currency = billing::CurrencyName(row.currency);
    SeriesCache<prometheus::Counter>* family = &ledger_reserved_;
    if (row.kind == billing::TransactionKind::kSettle) family = &ledger_settled_;
    if (row.kind == billing::TransactionKind::kRefund) family = &ledger_refunded_;
    family->Get({currency}).Increment(static_cast<double>(row.amount_micros));
  }
}

void Metrics::LedgerChecked(int64_t violations) {
  ledger_checks_->Increment();
  ledger_violations_->Set(static_cast<double>(violations));
}

void Metrics::ReconciliationFindings(absl::string_view kind, int64_t count) {
  reconciliation_findings_.Get({kind}).Increment(static_cast<double>(count));
}

void Metrics::ArchiveBytes(absl::string_view kind, int64_t bytes) {
  archive_bytes_.Get({kind}).Increment(static_cast<double>(bytes));
}

void Metrics::ArchiveFailure(absl::string_view reason) {
  archive_failures_.Get({reason}).Increment();
}

prometheus::MetricFamily GaugeFamily(std::string name, std::string help, double value) {
  prometheus::MetricFamily family;
  family.name = std::move(name);
  family.help = std::move(help);
  family.type = prometheus::MetricType::Gauge;
  family.metric.emplace_back();
  family.metric.back().gauge.value = value;
  return family;
}

prometheus::MetricFamily WatchStreamsFamily(int streams) {
  return GaugeFamily("music_watch_streams", "Open WatchTask streams.", streams);
}

prometheus::MetricFamily OldestDueAgeFamily(absl::Duration age) {
  return GaugeFamily("music_engine_oldest_due_age_seconds",
                     "How long the earliest due task step (a submit, poll or deadline check) has "
                     "waited to run, seconds; zero when the scheduler keeps up.",
                     absl::ToDoubleSeconds(age));
}

namespace {

prometheus::MetricFamily CounterFamily(std::string name, std::string help) {
  prometheus::MetricFamily family;
  family.name = std::move(name);
  family.help = std::move(help);
  family.type = prometheus::MetricType::Counter;
  return family;
}

void AddCounter(prometheus::MetricFamily& family, double value, const char* label = nullptr,
                const char* label_value = nullptr) {
  family.metric.emplace_back();
  family.metric.back().counter.value = value;
  if (label != nullptr) family.metric.back().label.push_back({label, label_value});
}

// A histogram from CommitStats' log2 buckets; `bound(i)` is bucket i's upper bound. The last
// bucket also counts larger values, so it is left to +Inf.
prometheus::MetricFamily Log2Histogram(std::string name, std::string help,
                                       const persistence::CommitStats::Histogram& buckets,
                                       double sum, const std::function<double(int)>& bound) {
  prometheus::MetricFamily family;
  family.name = std::move(name);
  family.help = std::move(help);
  family.type = prometheus::MetricType::Histogram;
  family.metric.emplace_back();
  prometheus::ClientMetric::Histogram& h = family.metric.back().histogram;
  uint64_t cumulative = 0;
  for (int i = 0; i < persistence::CommitStats::kBuckets; ++i) {
    cumulative += static_cast<uint64_t>(buckets[static_cast<size_t>(i)]);
    const bool last = i == persistence::CommitStats::kBuckets - 1;
    h.bucket.push_back({cumulative, last ? std::numeric_limits<double>::infinity() : bound(i)});
  }
  h.sample_count = cumulative;
  h.sample_sum = sum;
  return family;
}

}  // namespace

std::vector<prometheus::MetricFamily> CommitStatsFamilies(const persistence::CommitStats& stats) {
  std::vector<prometheus::MetricFamily> out;
  out.push_back(CounterFamily("music_store_commits_total", "Store transactions committed."));
  AddCounter(out.back(), static_cast<double>(stats.commits));
  out.push_back(CounterFamily("music_store_commit_failures_total",
                              "Store transactions that failed as a whole."));
  AddCounter(out.back(), static_cast<double>(stats.failed_commits));
  out.push_back(CounterFamily("music_store_writes_total",
                              "Store writes by result: committed, rejected alone (version "
                              "check), or failed with their transaction."));
  AddCounter(out.back(), static_cast<double>(stats.writes_committed), "result", "committed");
  AddCounter(out.back(), static_cast<double>(stats.writes_rejected), "result", "rejected");
  AddCounter(out.back(), static_cast<double>(stats.writes_failed), "result", "failed");
  // Bucket i holds [2^i, 2^(i+1)) microseconds ([0]: under 2 us).
  out.push_back(Log2Histogram(
      "music_store_commit_duration_seconds",
      "Store transaction time from BEGIN to the end of COMMIT (the fsync included), seconds.",
      stats.commit_micros, absl::ToDoubleSeconds(stats.commit_time_total),
      [](int i) { return std::ldexp(1.0, i + 1) * 1e-6; }));
  // Bucket i holds [2^i, 2^(i+1)) writes: at most 2^(i+1) - 1.
  double writes = static_cast<double>(stats.writes_committed + stats.writes_rejected +
                                      stats.writes_failed);
  out.push_back(Log2Histogram("music_store_commit_batch_size",
                              "Writes per store transaction (group commit batch size).",
                              stats.batch_sizes, writes,
                              [](int i) { return std::ldexp(1.0, i + 1) - 1; }));
  return out;
}

}  // namespace music::service
