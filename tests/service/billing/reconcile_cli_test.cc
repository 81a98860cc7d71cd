// Runs tools/reconcile as a subprocess on files written with the library's writers: exit codes,
// the summary on stdout and the JSON/CSV files.
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <sys/wait.h>

#include <cstdlib>
#include <fstream>
#include <map>
#include <sstream>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "adapters/builtin_providers.h"
#include "rapidjson/document.h"
#include "service/billing/usage_format.h"
#include "service/core/usage_formats.h"
#include "tests/service/billing/billing_dataset.h"
#include "tests/testing/temp_dir.h"

namespace music::billing {
namespace {

// The providers' usage formats, from their modules (as the reconcile binary gets them).
const UsageFormats& Formats() {
  static const UsageFormats* const formats =
      new UsageFormats(service::UsageFormatsFromRegistry(adapters::BuiltinProviders()));
  return *formats;
}

using ::testing::HasSubstr;

std::string ReadAll(const std::string& path) {
  std::ifstream in(path);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

void WriteAll(const std::string& path, const std::string& content) {
  std::ofstream out(path, std::ios::trunc);
  out << content;
}

class ReconcileCliTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_FALSE(temp_dir_.path().empty());
    dir_ = temp_dir_.path();
    testing::DatasetOptions o;
    o.min_transactions = 2000;
    o.min_usage_records = 2000;
    o.discrepancy_rate = 0;  // clean: exit 0 unless a test breaks something
    data_ = testing::GenerateDataset(o);
  }

  // Writes the ledger (JSONL) and one usage file per provider (CSV for kie and beatra, JSONL for
  // the others); returns the flags naming them.
  std::string WriteInputs(const std::vector<UsageRecord>& usage) {
    WriteAll(dir_ + "/ledger.jsonl", WriteLedger(FileFormat::kJsonl, data_.ledger));
    std::map<std::string, std::vector<UsageRecord>> by_provider;
    for (const UsageRecord& r : usage) by_provider[r.provider].push_back(r);
    std::string flags = absl::StrCat("--ledger '", dir_, "/ledger.jsonl'");
    for (const auto& [provider, records] : by_provider) {
      const bool csv = provider == "kie" || provider == "beatra";
      const std::string path = absl::StrCat(dir_, "/", provider, csv ? ".csv" : ".jsonl");
      absl::StatusOr<std::string> text =
          Formats().Write(provider, csv ? FileFormat::kCsv : FileFormat::kJsonl, records);
      EXPECT_TRUE(text.ok()) << text.status();
      WriteAll(path, *text);
      absl::StrAppend(&flags, " --usage ", provider, "='", path, "'");
    }
    return flags;
  }

  int Run(const std::string& flags) {
    const std::string cmd = absl::StrCat(RECONCILE_BINARY, " ", flags, " > '", dir_,
                                         "/stdout.txt' 2> '", dir_, "/stderr.txt'");
    const int status = std::system(cmd.c_str());
    stdout_ = ReadAll(dir_ + "/stdout.txt");
    stderr_ = ReadAll(dir_ + "/stderr.txt");
    return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  }

  TempDir temp_dir_{"reconcile_cli"};
  std::string dir_;
  testing::Dataset data_;
  std::string stdout_;
  std::string stderr_;
};

TEST_F(ReconcileCliTest, CleanDataExitsZeroAndWritesFiles) {
  const std::string flags = WriteInputs(data_.usage);
  EXPECT_EQ(Run(absl::StrCat(flags, " --json '", dir_, "/r.json' --csv '", dir_, "/r.csv'")), 0)
      << stdout_ << stderr_;
  EXPECT_THAT(stdout_, HasSubstr("within thresholds"));
  EXPECT_THAT(stdout_, HasSubstr("Discrepancies: 0"));
  rapidjson::Document doc;
  const std::string json = ReadAll(dir_ + "/r.json");
  doc.Parse(json.c_str());
  ASSERT_FALSE(doc.HasParseError()) << json.substr(0, 200);
  EXPECT_EQ(doc["discrepancy_count"].GetInt64(), 0);
  EXPECT_EQ(doc["tasks"].GetInt64(), data_.tasks);
  EXPECT_THAT(ReadAll(dir_ + "/r.csv"), HasSubstr("row_type,provider"));
}

TEST_F(ReconcileCliTest, DiscrepanciesExitThreeUnlessAllowed) {
  // Drop the provider's records of three settled beatra tasks: MISSING_USAGE_RECORD x3.
  std::vector<UsageRecord> usage;
  int dropped = 0;
  std::map<std::string, bool> failed_tasks;
  for (const UsageRecord& r : data_.usage) {
    if (r.kind == UsageKind::kRefund) failed_tasks[r.provider_task_id] = true;
  }
  std::map<std::string, bool> drop;
  for (const UsageRecord& r : data_.usage) {
    if (r.provider == "beatra" && !failed_tasks.count(r.provider_task_id) && drop.size() < 3) {
      drop[r.provider_task_id] = true;
    }
  }
  for (const UsageRecord& r : data_.usage) {
    if (drop.count(r.provider_task_id)) {
      ++dropped;
      continue;
    }
    usage.push_back(r);
  }
  ASSERT_EQ(dropped, 3);
  const std::string flags = WriteInputs(usage);
  const std::string out = absl::StrCat(" --json '", dir_, "/r.json' --csv '", dir_, "/r.csv'");
  EXPECT_EQ(Run(flags + out), 3) << stdout_ << stderr_;
  EXPECT_THAT(stdout_, HasSubstr("MISSING_USAGE_RECORD"));
  rapidjson::Document doc;
  const std::string json = ReadAll(dir_ + "/r.json");
  doc.Parse(json.c_str());
  ASSERT_FALSE(doc.HasParseError());
  EXPECT_EQ(doc["discrepancy_count"].GetInt64(), 3);
  EXPECT_EQ(doc["outcomes"]["MISSING_USAGE_RECORD"].GetInt64(), 3);
  // Three rows of type discrepancy in the CSV.
  const std::string csv = ReadAll(dir_ + "/r.csv");
  size_t rows = 0;
  for (size_t p = csv.find("\ndiscrepancy,"); p != std::string::npos;
       p = csv.find("\ndiscrepancy,", p + 1)) {
    ++rows;
  }
  EXPECT_EQ(rows, 3u);

  // Allowed by the thresholds: exit 0. 3 x 80 credits missing = 240,000,000 micros.
  EXPECT_EQ(Run(flags + " --max_discrepancies 3"), 0) << stdout_ << stderr_;
  EXPECT_EQ(Run(flags + " --max_discrepancies 3 --max_difference_micros 239999999"), 3);
  EXPECT_EQ(Run(flags + " --max_discrepancies=3 --max_difference_micros=240000000"), 0);
  // The other providers alone are clean.
  EXPECT_EQ(Run(flags + " --providers kie,tokenlab,piapi"), 0) << stdout_ << stderr_;
}

TEST_F(ReconcileCliTest, BadInputExitsTwoNamingTheLine) {
  std::string flags = WriteInputs(data_.usage);
  std::string kie = ReadAll(dir_ + "/kie.csv");
  // Break the amount on the kie file's third line.
  const size_t line3 = kie.find('\n', kie.find('\n') + 1) + 1;
  const size_t credits = kie.find(",V4_5,", line3) + 6;
  kie.insert(credits, "x");
  WriteAll(dir_ + "/kie.csv", kie);
  EXPECT_EQ(Run(flags), 2);
  EXPECT_THAT(stderr_, HasSubstr("kie.csv:3:"));
  EXPECT_EQ(
      Run(absl::StrCat("--ledger '", dir_, "/missing.jsonl' --usage kie='", dir_, "/kie.csv'")), 2);
}

TEST_F(ReconcileCliTest, BadCommandLineExits64) {
  EXPECT_EQ(Run(""), 64);
  EXPECT_EQ(Run("--ledger x.jsonl"), 64);
  EXPECT_EQ(Run("--ledger x.jsonl --usage acme=x.jsonl"), 64);
  EXPECT_EQ(Run("--ledger x.jsonl --usage kie=x.csv --start yesterday"), 64);
  EXPECT_EQ(Run("--ledger x.jsonl --usage kie=x.csv --providers kie,acme"), 64);
  EXPECT_EQ(Run("--ledger x.jsonl --usage kie=x.csv --start 2026-11-02T00:00:00Z "
                "--end 2026-11-01T00:00:00Z"),
            64);
  EXPECT_EQ(Run("--ledger x.jsonl --usage kie=x.csv --bogus 1"), 64);
  EXPECT_THAT(stderr_, HasSubstr("unknown flag --bogus"));
  EXPECT_EQ(Run("--help"), 0);
  EXPECT_THAT(stdout_, HasSubstr("usage: reconcile"));
}

}  // namespace
}  // namespace music::billing
