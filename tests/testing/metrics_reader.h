#ifndef MUSIC_TESTS_TESTING_METRICS_READER_H_
#define MUSIC_TESTS_TESTING_METRICS_READER_H_

#include <prometheus/metric_family.h>

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "service/core/metrics.h"

namespace music::service {

/// One histogram series as Prometheus would read it.
struct Histogram {
  uint64_t count = 0;
  double sum = 0;
  /// Cumulative counts by upper bound (the last is +Inf).
  std::vector<std::pair<double, uint64_t>> buckets;
};

/// The series of `family` whose labels are exactly `labels`, or nullptr.
inline const prometheus::ClientMetric* FindSeries(
    const std::vector<prometheus::MetricFamily>& families, const std::string& family,
    const std::map<std::string, std::string>& labels) {
  for (const prometheus::MetricFamily& f : families) {
    if (f.name != family) continue;
    for (const prometheus::ClientMetric& m : f.metric) {
      std::map<std::string, std::string> have;
      for (const auto& l : m.label) have[l.name] = l.value;
      if (have == labels) return &m;
    }
  }
  return nullptr;
}

/// A counter's or gauge's value in `metrics` now; -1 when the series does not exist.
inline double Value(const Metrics& metrics, const std::string& family,
                    const std::map<std::string, std::string>& labels) {
  const std::vector<prometheus::MetricFamily> families = metrics.Collect();
  for (const prometheus::MetricFamily& f : families) {
    if (f.name != family) continue;
    const prometheus::ClientMetric* m = FindSeries(families, family, labels);
    if (m == nullptr) return -1;
    return f.type == prometheus::MetricType::Gauge ? m->gauge.value : m->counter.value;
  }
  return -1;
}

/// A histogram series in `metrics` now (count 0 when it does not exist).
inline Histogram HistogramOf(const Metrics& metrics, const std::string& family,
                             const std::map<std::string, std::string>& labels) {
  Histogram h;
  const std::vector<prometheus::MetricFamily> families = metrics.Collect();
  if (const prometheus::ClientMetric* m = FindSeries(families, family, labels)) {
    h.count = m->histogram.sample_count;
    h.sum = m->histogram.sample_sum;
    for (const auto& b : m->histogram.bucket) h.buckets.emplace_back(b.upper_bound, b.cumulative_count);
  }
  return h;
}

}  // namespace music::service

#endif  // MUSIC_TESTS_TESTING_METRICS_READER_H_
