// reconcile_bench: generates N ledger rows and N usage records (at least; whole tasks) with 1%
// injected differences of every kind, then times Reconcile and the JSON report apart from the
// generation. Prints wall times, records/s and peak RSS (getrusage ru_maxrss), so running it at
// several N shows time and memory growing linearly.
//
//   reconcile_bench [N=1000000] [discrepancy_rate=0.01] [DIR]
//
// With DIR, also writes the data set there as files for tools/reconcile (ledger.jsonl,
// tokenlab.jsonl, piapi.jsonl, beatra.csv, kie.csv), with the library's writers.
#include <sys/resource.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <map>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "adapters/builtin_providers.h"
#include "service/billing/reconciler.h"
#include "service/billing/report_format.h"
#include "service/billing/usage_format.h"
#include "service/core/usage_formats.h"
#include "tests/service/billing/billing_dataset.h"

namespace {

double Seconds(std::chrono::steady_clock::time_point since) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - since).count();
}

// User + system CPU seconds of this process: on a shared machine the wall time includes waiting
// for a core, the CPU time does not.
double CpuSeconds() {
  rusage u{};
  getrusage(RUSAGE_SELF, &u);
  return u.ru_utime.tv_sec + u.ru_stime.tv_sec + (u.ru_utime.tv_usec + u.ru_stime.tv_usec) / 1e6;
}

long PeakRssMib() {
  rusage u{};
  getrusage(RUSAGE_SELF, &u);
  return u.ru_maxrss / 1024;  // KiB on Linux
}

}  // namespace

int main(int argc, char** argv) {
  namespace billing = music::billing;
  const long long n = argc > 1 ? std::atoll(argv[1]) : 1000000;
  const double rate = argc > 2 ? std::atof(argv[2]) : 0.01;
  if (n <= 0 || rate < 0 || rate > 1) {
    std::fprintf(stderr, "usage: reconcile_bench [N>0] [discrepancy_rate 0..1]\n");
    return 64;
  }
  billing::testing::DatasetOptions o;
  o.min_transactions = n;
  o.min_usage_records = n;
  o.discrepancy_rate = rate;
  o.spacing = absl::Milliseconds(500);
  auto t0 = std::chrono::steady_clock::now();
  const billing::testing::Dataset d = billing::testing::GenerateDataset(o);
  const double gen_s = Seconds(t0);
  const long rss_inputs = PeakRssMib();

  billing::ReconcileOptions ro;
  ro.end = d.end;
  t0 = std::chrono::steady_clock::now();
  const double cpu0 = CpuSeconds();
  absl::StatusOr<billing::ReconcileReport> r = billing::Reconcile(d.ledger, d.usage, ro);
  const double rec_s = Seconds(t0);
  const double rec_cpu = CpuSeconds() - cpu0;
  if (!r.ok()) {
    std::fprintf(stderr, "reconcile failed: %s\n", std::string(r.status().message()).c_str());
    return 1;
  }
  const long rss_reconcile = PeakRssMib();
  t0 = std::chrono::steady_clock::now();
  const std::string json = billing::ReportToJson(*r);
  const double json_s = Seconds(t0);

  // Every injected difference found, nothing else.
  size_t found_expected = 0;
  for (const billing::TaskResult& t : r->discrepancies) {
    auto it = d.expected.find(billing::testing::ExpectedKey(t));
    if (it != d.expected.end() && it->second == t.outcome) ++found_expected;
  }
  const size_t records = d.ledger.size() + d.usage.size();
  std::printf("N=%lld ledger_rows=%zu usage_records=%zu tasks=%lld injected=%zu\n", n,
              d.ledger.size(), d.usage.size(), static_cast<long long>(d.tasks), d.expected.size());
  std::printf("generate: %.3f s (not timed below)\n", gen_s);
  std::printf(
      "reconcile: %.3f s wall (%.3f s CPU), %.0f records/s, %zu discrepancies (%zu "
      "expected, %zu found with the right outcome)\n",
      rec_s, rec_cpu, records / rec_s, r->discrepancies.size(), d.expected.size(), found_expected);
  std::printf("report json: %.3f s, %zu bytes\n", json_s, json.size());
  std::printf("peak RSS: %ld MiB after generation, %ld MiB after reconcile (+%ld MiB)\n",
              rss_inputs, rss_reconcile, rss_reconcile - rss_inputs);
  if (argc > 3) {
    const std::string dir = argv[3];
    std::ofstream(dir + "/ledger.jsonl")
        << billing::WriteLedger(billing::FileFormat::kJsonl, d.ledger);
    std::map<std::string, std::vector<billing::UsageRecord>> by_provider;
    for (const billing::UsageRecord& u : d.usage) by_provider[u.provider].push_back(u);
    const billing::UsageFormats formats =
        music::service::UsageFormatsFromRegistry(music::adapters::BuiltinProviders());
    for (const auto& [provider, records] : by_provider) {
      const bool csv = provider == "beatra" || provider == "kie";
      absl::StatusOr<std::string> text = formats.Write(
          provider, csv ? billing::FileFormat::kCsv : billing::FileFormat::kJsonl, records);
      if (!text.ok()) {
        std::fprintf(stderr, "%s: %s\n", provider.c_str(),
                     std::string(text.status().message()).c_str());
        return 1;
      }
      std::ofstream(absl::StrCat(dir, "/", provider, csv ? ".csv" : ".jsonl")) << *text;
    }
    std::printf("wrote %s/{ledger.jsonl,tokenlab.jsonl,piapi.jsonl,beatra.csv,kie.csv}\n",
                dir.c_str());
  }
  return found_expected == d.expected.size() && r->discrepancies.size() == d.expected.size() ? 0
                                                                                             : 1;
}
