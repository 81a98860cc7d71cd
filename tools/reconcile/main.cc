// reconcile: matches a ledger export against provider usage exports and reports the differences.
// See tools/reconcile/README.md. Exit codes: 0 within thresholds, 3 discrepancies beyond them,
// 2 bad input (unreadable file, a bad record), 64 bad command line.

#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <iostream>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "adapters/builtin_providers.h"
#include "domain/money.h"
#include "service/billing/reconciler.h"
#include "service/billing/report_format.h"
#include "service/billing/usage_format.h"
#include "service/core/usage_formats.h"

namespace {

namespace billing = music::billing;

constexpr int kExitOk = 0;
constexpr int kExitBadInput = 2;
constexpr int kExitThreshold = 3;
constexpr int kExitUsage = 64;  // EX_USAGE

constexpr char kUsage[] =
    R"(usage: reconcile --ledger FILE[.jsonl|.csv] --usage PROVIDER=FILE [--usage ...] [options]

Matches the service ledger against provider usage exports (formats: service/billing/
USAGE-FORMATS.md; providers: tokenlab, beatra, piapi, kie), prints a summary table and exits
0 when within thresholds, 3 when discrepancies pass them, 2 on bad input, 64 on a bad command line.

  --ledger FILE                 the ledger export (repeatable; rows deduplicated by id)
  --usage PROVIDER=FILE         a provider usage export (repeatable; records deduplicated)
  --start RFC3339, --end RFC3339  the task-time range [start, end) (default: everything)
  --providers a,b               only these providers
  --tolerance_micros N          amounts within N micros agree (default 0)
  --tolerance_percent P         amounts within P% agree (default 0)
  --fallback_window DURATION    fallback match window, e.g. 10m; 0 disables (default 10m)
  --in_flight_grace DURATION    reservation-only tasks this close to --as_of are in flight (1h)
  --as_of RFC3339               when the exports were taken (default: their newest record)
  --credits_per_usd N           rate for the USD-equivalent totals (default 1000)
  --json OUT, --csv OUT         write the report as JSON / CSV
  --max_discrepancies N         allowed discrepancies before exit 3 (default 0)
  --max_difference_micros N     allowed |provider - billed| per currency before exit 3
                                (default: no limit)
  --summary_lines N             discrepancies listed in the summary (default 20; -1 all)
)";

// The providers' usage formats, from their modules.
const billing::UsageFormats& UsageFormats() {
  static const billing::UsageFormats* const formats = new billing::UsageFormats(
      music::service::UsageFormatsFromRegistry(music::adapters::BuiltinProviders()));
  return *formats;
}

// "tokenlab, beatra, piapi, kie": the providers --usage and --providers accept.
std::string KnownProviders() { return absl::StrJoin(UsageFormats().providers(), ", "); }

struct Args {
  std::vector<std::string> ledgers;
  std::vector<std::pair<std::string, std::string>> usage;  // provider, file
  billing::ReconcileOptions options;
  std::string json_out;
  std::string csv_out;
  int64_t max_discrepancies = 0;
  int64_t max_difference_micros = -1;  // no limit
  int summary_lines = 20;
  bool help = false;
};

absl::Status UsageError(absl::string_view msg) { return absl::InvalidArgumentError(msg); }

absl::StatusOr<Args> ParseArgs(int argc, char** argv) {
  Args a;
  for (int i = 1; i < argc; ++i) {
    absl::string_view arg = argv[i];
    if (arg == "--help" || arg == "-h") {
      a.help = true;
      continue;
    }
    if (!absl::ConsumePrefix(&arg, "--")) {
      return UsageError(absl::StrCat("unexpected argument \"", arg, "\""));
    }
    std::string name;
    std::string value;
    if (size_t eq = arg.find('='); eq != absl::string_view::npos) {
      name = std::string(arg.substr(0, eq));
      value = std::string(arg.substr(eq + 1));
    } else {
      name = std::string(arg);
      if (i + 1 >= argc) return UsageError(absl::StrCat("--", name, " needs a value"));
      value = argv[++i];
    }
    auto int_value = [&](int64_t& out) -> absl::Status {
      if (!absl::SimpleAtoi(value, &out)) {
        return UsageError(absl::StrCat("--", name, ": not an integer: \"", value, "\""));
      }
      return absl::OkStatus();
    };
    auto time_value = [&](absl::Time& out) -> absl::Status {
      absl::StatusOr<absl::Time> t = billing::ParseRfc3339(value);
      if (!t.ok()) return UsageError(absl::StrCat("--", name, ": ", t.status().message()));
      out = *t;
      return absl::OkStatus();
    };
    auto duration_value = [&](absl::Duration& out) -> absl::Status {
      if (value == "0") {
        out = absl::ZeroDuration();
      } else if (!absl::ParseDuration(value, &out) || out < absl::ZeroDuration()) {
        return UsageError(absl::StrCat("--", name, ": not a duration (e.g. 10m): \"", value, "\""));
      }
      return absl::OkStatus();
    };
    absl::Status st;
    if (name == "ledger") {
      a.ledgers.push_back(value);
    } else if (name == "usage") {
      std::pair<std::string, std::string> pv = absl::StrSplit(value, absl::MaxSplits('=', 1));
      if (pv.first.empty() || pv.second.empty()) {
        return UsageError(absl::StrCat("--usage wants PROVIDER=FILE, got \"", value, "\""));
      }
      if (!UsageFormats().Contains(pv.first)) {
        return UsageError(absl::StrCat("--usage: unknown provider \"", pv.first, "\" (",
                                       KnownProviders(), ")"));
      }
      a.usage.push_back(std::move(pv));
    } else if (name == "start") {
      st = time_value(a.options.start);
    } else if (name == "end") {
      st = time_value(a.options.end);
    } else if (name == "providers") {
      a.options.providers = absl::StrSplit(value, ',', absl::SkipEmpty());
      for (const std::string& p : a.options.providers) {
        if (!UsageFormats().Contains(p)) {
          return UsageError(
              absl::StrCat("--providers: unknown provider \"", p, "\" (", KnownProviders(), ")"));
        }
      }
    } else if (name == "tolerance_micros") {
      st = int_value(a.options.tolerance_micros);
    } else if (name == "tolerance_percent") {
      if (!absl::SimpleAtod(value, &a.options.tolerance_percent) ||
          !(a.options.tolerance_percent >= 0)) {
        st = UsageError(absl::StrCat("--tolerance_percent: not a percentage: \"", value, "\""));
      }
    } else if (name == "fallback_window") {
      st = duration_value(a.options.fallback_window);
      a.options.fallback = a.options.fallback_window > absl::ZeroDuration();
    } else if (name == "as_of") {
      st = time_value(a.options.as_of);
    } else if (name == "in_flight_grace") {
      st = duration_value(a.options.in_flight_grace);
    } else if (name == "credits_per_usd") {
      st = int_value(a.options.credits_per_usd);
    } else if (name == "json") {
      a.json_out = value;
    } else if (name == "csv") {
      a.csv_out = value;
    } else if (name == "max_discrepancies") {
      st = int_value(a.max_discrepancies);
    } else if (name == "max_difference_micros") {
      st = int_value(a.max_difference_micros);
    } else if (name == "summary_lines") {
      int64_t n = 0;
      st = int_value(n);
      a.summary_lines = static_cast<int>(n);
    } else {
      return UsageError(absl::StrCat("unknown flag --", name));
    }
    if (!st.ok()) return st;
  }
  if (a.help) return a;
  if (a.ledgers.empty()) return UsageError("--ledger is required");
  if (a.usage.empty()) return UsageError("at least one --usage PROVIDER=FILE is required");
  if (a.options.end <= a.options.start) return UsageError("--end must be after --start");
  if (a.options.tolerance_micros < 0 || a.options.credits_per_usd <= 0) {
    return UsageError("--tolerance_micros must be >= 0 and --credits_per_usd > 0");
  }
  return a;
}

// Reads the whole file into one string (one copy: exports can be hundreds of MB).
absl::StatusOr<std::string> ReadFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary | std::ios::ate);
  if (!in) return absl::NotFoundError(absl::StrCat("cannot read ", path));
  const std::streamsize size = in.tellg();
  std::string content(size > 0 ? static_cast<size_t>(size) : 0, '\0');
  in.seekg(0);
  if (size > 0 && !in.read(content.data(), size)) {
    return absl::DataLossError(absl::StrCat("cannot read ", path));
  }
  return content;
}

absl::Status WriteFile(const std::string& path, const std::string& content) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out << content;
  out.close();
  if (!out) return absl::UnavailableError(absl::StrCat("cannot write ", path));
  return absl::OkStatus();
}

void NoteImport(absl::string_view what, const billing::ImportStats& s) {
  if (s.duplicates == 0) return;
  std::cerr << "reconcile: " << what << ": " << s.duplicates
            << " records already imported were skipped";
  if (s.conflicts > 0) std::cerr << " (" << s.conflicts << " differ from the first; first kept)";
  std::cerr << "\n";
}

int Run(int argc, char** argv) {
  absl::StatusOr<Args> args = ParseArgs(argc, argv);
  if (!args.ok()) {
    std::cerr << "reconcile: " << args.status().message() << "\n\n" << kUsage;
    return kExitUsage;
  }
  if (args->help) {
    std::cout << kUsage;
    return kExitOk;
  }
  billing::LedgerSet ledger;
  for (const std::string& path : args->ledgers) {
    absl::StatusOr<billing::FileFormat> format = billing::FileFormatFromPath(path);
    absl::StatusOr<std::string> content = ReadFile(path);
    if (!format.ok() || !content.ok()) {
      std::cerr << "reconcile: " << (!format.ok() ? format.status() : content.status()).message()
                << "\n";
      return kExitBadInput;
    }
    absl::StatusOr<billing::ImportStats> stats = ledger.Import(*format, *content, path);
    if (!stats.ok()) {
      std::cerr << "reconcile: " << stats.status().message() << "\n";
      return kExitBadInput;
    }
    NoteImport(path, *stats);
  }
  billing::UsageSet usage;
  for (const auto& [provider, path] : args->usage) {
    absl::StatusOr<billing::FileFormat> format = billing::FileFormatFromPath(path);
    absl::StatusOr<std::string> content = ReadFile(path);
    if (!format.ok() || !content.ok()) {
      std::cerr << "reconcile: " << (!format.ok() ? format.status() : content.status()).message()
                << "\n";
      return kExitBadInput;
    }
    absl::StatusOr<billing::ImportStats> stats =
        usage.Import(UsageFormats(), provider, *format, *content, path);
    if (!stats.ok()) {
      std::cerr << "reconcile: " << stats.status().message() << "\n";
      return kExitBadInput;
    }
    NoteImport(path, *stats);
  }
  absl::StatusOr<billing::ReconcileReport> report =
      billing::Reconcile(ledger.rows(), usage.records(), args->options);
  if (!report.ok()) {
    std::cerr << "reconcile: " << report.status().message() << "\n";
    return kExitUsage;
  }
  std::cout << billing::ReportSummary(*report, args->summary_lines);
  if (!args->json_out.empty()) {
    if (absl::Status st = WriteFile(args->json_out, billing::ReportToJson(*report)); !st.ok()) {
      std::cerr << "reconcile: " << st.message() << "\n";
      return kExitBadInput;
    }
  }
  if (!args->csv_out.empty()) {
    if (absl::Status st = WriteFile(args->csv_out, billing::ReportToCsv(*report)); !st.ok()) {
      std::cerr << "reconcile: " << st.message() << "\n";
      return kExitBadInput;
    }
  }
  bool over = static_cast<int64_t>(report->discrepancies.size()) > args->max_discrepancies;
  if (args->max_difference_micros >= 0) {
    for (const billing::CurrencyTotals& c : report->currency) {
      const int64_t diff = c.difference_micros < 0 ? -c.difference_micros : c.difference_micros;
      if (diff > args->max_difference_micros) over = true;
    }
  }
  if (over) {
    std::cout << "\nresult: discrepancies beyond the thresholds (exit 3)\n";
    return kExitThreshold;
  }
  std::cout << "\nresult: within thresholds\n";
  return kExitOk;
}

}  // namespace

int main(int argc, char** argv) { return Run(argc, argv); }
