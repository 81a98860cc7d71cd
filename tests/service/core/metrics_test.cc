// The Metrics object on its own: the store's log2 commit counters as Prometheus histograms,
// scrape-time collectors, the bound on series per family, and the text an endpoint serves.
#include "service/core/metrics.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <limits>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "tests/testing/metrics_reader.h"

namespace music::service {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;

TEST(MetricsTest, CommitStatsBecomeCumulativeHistogramsInSeconds) {
  persistence::CommitStats stats;
  stats.commits = 7;
  stats.writes_committed = 12;
  stats.writes_rejected = 1;
  stats.batch_sizes[0] = 4;  // four transactions of 1 write
  stats.batch_sizes[2] = 3;  // three of 4-7 writes
  stats.commit_micros[10] = 5;  // 1-2 ms
  stats.commit_micros[11] = 2;  // 2-4 ms
  stats.commit_time_total = absl::Milliseconds(11);
  Metrics metrics;
  const int64_t id = metrics.RegisterCollector([stats] { return CommitStatsFamilies(stats); });

  EXPECT_EQ(Value(metrics, "music_store_commits_total", {}), 7);
  EXPECT_EQ(Value(metrics, "music_store_writes_total", {{"result", "committed"}}), 12);
  EXPECT_EQ(Value(metrics, "music_store_writes_total", {{"result", "rejected"}}), 1);
  const Histogram commit = HistogramOf(metrics, "music_store_commit_duration_seconds", {});
  EXPECT_EQ(commit.count, 7u);
  EXPECT_DOUBLE_EQ(commit.sum, 0.011);
  ASSERT_EQ(commit.buckets.size(), static_cast<size_t>(persistence::CommitStats::kBuckets));
  EXPECT_DOUBLE_EQ(commit.buckets[10].first, 2048e-6);  // bucket 10 ends at 2^11 us
  EXPECT_EQ(commit.buckets[9].second, 0u);
  EXPECT_EQ(commit.buckets[10].second, 5u);
  EXPECT_EQ(commit.buckets[11].second, 7u);
  EXPECT_EQ(commit.buckets.back().first, std::numeric_limits<double>::infinity());
  const Histogram batch = HistogramOf(metrics, "music_store_commit_batch_size", {});
  EXPECT_EQ(batch.count, 7u);
  EXPECT_EQ(batch.buckets[0], std::make_pair(1.0, uint64_t{4}));
  EXPECT_EQ(batch.buckets[2], std::make_pair(7.0, uint64_t{7}));

  metrics.UnregisterCollector(id);
  EXPECT_EQ(Value(metrics, "music_store_commits_total", {}), -1);  // never called again
}

TEST(MetricsTest, RpcsAreCountedByMethodAndCodeWithLatency) {
  Metrics metrics;
  metrics.RecordRpc("/music.v1.MusicService/CreateMusic", 0, absl::Milliseconds(3));
  metrics.RecordRpc("/music.v1.MusicService/CreateMusic", 0, absl::Milliseconds(30));
  metrics.RecordRpc("/music.v1.MusicService/CreateMusic", 3, absl::Milliseconds(1));
  const std::string method = "/music.v1.MusicService/CreateMusic";
  EXPECT_EQ(Value(metrics, "music_rpc_requests_total", {{"method", method}, {"code", "OK"}}), 2);
  EXPECT_EQ(Value(metrics, "music_rpc_requests_total",
                  {{"method", method}, {"code", "INVALID_ARGUMENT"}}),
            1);
  const Histogram h = HistogramOf(metrics, "music_rpc_duration_seconds", {{"method", method}});
  EXPECT_EQ(h.count, 3u);
  EXPECT_NEAR(h.sum, 0.034, 1e-9);
}

TEST(MetricsTest, UnexpectedLabelValuesAreFoldedIntoOneSeries) {
  Metrics metrics;
  const size_t n = kMaxSeriesPerFamily + 100;
  for (size_t i = 0; i < n; ++i) {
    metrics.RecordRpc(absl::StrCat("/generic/Method", i), 0, absl::Milliseconds(1));
  }
  size_t series = 0;
  for (const auto& f : metrics.Collect()) {
    if (f.name == "music_rpc_requests_total") series = f.metric.size();
  }
  EXPECT_EQ(series, kMaxSeriesPerFamily + 1);
  EXPECT_EQ(Value(metrics, "music_rpc_requests_total", {{"method", "other"}, {"code", "other"}}),
            100);
}

TEST(MetricsTest, TheTextFormatNamesUnitsAndTotals) {
  Metrics metrics;
  metrics.ArchiveBytes("audio", 1000);
  metrics.ArchiveFailure("UNAVAILABLE");
  metrics.LedgerChecked(2);
  metrics.ReconciliationFindings("AMOUNT_MISMATCH", 3);
  metrics.HttpQueueWait("kie").Observe(0.002);
  metrics.RegisterCollector([] {
    return std::vector<prometheus::MetricFamily>{GaugeFamily("music_watch_streams", "h", 4)};
  });
  const std::string text = metrics.SerializeText();
  EXPECT_THAT(text, HasSubstr("music_archive_bytes_total{kind=\"audio\"} 1000"));
  EXPECT_THAT(text, HasSubstr("music_archive_failures_total{reason=\"UNAVAILABLE\"} 1"));
  EXPECT_THAT(text, HasSubstr("music_ledger_violations 2"));
  EXPECT_THAT(text, HasSubstr("music_ledger_checks_total 1"));
  EXPECT_THAT(text, HasSubstr("music_reconciliation_findings_total{kind=\"AMOUNT_MISMATCH\"} 3"));
  EXPECT_THAT(text, HasSubstr("music_http_queue_wait_seconds_count{provider=\"kie\"} 1"));
  EXPECT_THAT(text, HasSubstr("music_watch_streams 4"));
  EXPECT_THAT(text, Not(HasSubstr("_total_total")));
}

TEST(MetricsTest, LabelsOfStatesAndKindsAreShortLowerCaseNames) {
  EXPECT_EQ(StateLabel(music::v1::TASK_STATE_RUNNING), "running");
  EXPECT_EQ(KindLabel(music::v1::TASK_KIND_CONTINUATION), "continuation");
}

}  // namespace
}  // namespace music::service
