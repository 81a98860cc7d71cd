#include "service/billing/report_format.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_split.h"
#include "rapidjson/document.h"
#include "tests/service/billing/billing_dataset.h"

namespace music::billing {
namespace {

using ::testing::HasSubstr;

ReconcileReport Report(const testing::Dataset& d) {
  ReconcileOptions o;
  o.end = d.end;
  absl::StatusOr<ReconcileReport> r = Reconcile(d.ledger, d.usage, o);
  EXPECT_TRUE(r.ok()) << r.status();
  return *std::move(r);
}

TEST(ReportFormatTest, JsonHasTotalsAndEveryDiscrepancyWithBothSides) {
  testing::DatasetOptions o;
  o.min_transactions = 3000;
  o.min_usage_records = 3000;
  o.discrepancy_rate = 0.05;
  const testing::Dataset d = testing::GenerateDataset(o);
  const ReconcileReport r = Report(d);
  const std::string json = ReportToJson(r);
  rapidjson::Document doc;
  doc.Parse(json.c_str());
  ASSERT_FALSE(doc.HasParseError());
  EXPECT_EQ(doc["tasks"].GetInt64(), r.tasks);
  EXPECT_EQ(doc["discrepancy_count"].GetInt64(), static_cast<int64_t>(r.discrepancies.size()));
  ASSERT_EQ(doc["discrepancies"].Size(), r.discrepancies.size());
  EXPECT_EQ(doc["totals"].Size(), r.totals.size());
  EXPECT_TRUE(doc["range"]["start"].IsNull());
  EXPECT_TRUE(doc["range"]["end"].IsString());
  for (const auto& disc : doc["discrepancies"].GetArray()) {
    const std::string outcome = disc["outcome"].GetString();
    if (outcome != "MISSING_BILLING_TRANSACTION") {
      EXPECT_GT(disc["billing_transactions"].Size(), 0u) << outcome;
    }
    if (outcome != "MISSING_USAGE_RECORD") {
      EXPECT_GT(disc["usage_records"].Size(), 0u) << outcome;
    }
  }
}

TEST(ReportFormatTest, CsvHasOneRowPerTotalAndPerDiscrepancy) {
  testing::DatasetOptions o;
  o.min_transactions = 3000;
  o.min_usage_records = 3000;
  o.discrepancy_rate = 0.05;
  // The report points into the data set: keep it alive.
  const testing::Dataset d = testing::GenerateDataset(o);
  const ReconcileReport r = Report(d);
  const std::string csv = ReportToCsv(r);
  std::vector<std::string> lines = absl::StrSplit(csv, '\n', absl::SkipEmpty());
  ASSERT_EQ(lines.size(), 1 + r.totals.size() + r.discrepancies.size());
  EXPECT_THAT(lines[0], HasSubstr("row_type,provider,model,day,currency,outcome"));
  size_t totals = 0, discrepancies = 0;
  for (size_t i = 1; i < lines.size(); ++i) {
    if (absl::StartsWith(lines[i], "total,")) ++totals;
    if (absl::StartsWith(lines[i], "discrepancy,")) ++discrepancies;
  }
  EXPECT_EQ(totals, r.totals.size());
  EXPECT_EQ(discrepancies, r.discrepancies.size());
}

TEST(ReportFormatTest, SummaryIsATable) {
  testing::DatasetOptions o;
  o.min_transactions = 2000;
  o.min_usage_records = 2000;
  o.discrepancy_rate = 0.05;
  // The report points into the data set: keep it alive.
  const testing::Dataset d = testing::GenerateDataset(o);
  const ReconcileReport r = Report(d);
  const std::string s = ReportSummary(r, 5);
  EXPECT_THAT(s, HasSubstr("PROVIDER"));
  EXPECT_THAT(s, HasSubstr("beatra"));
  EXPECT_THAT(s, HasSubstr("Total CREDITS"));
  EXPECT_THAT(s, HasSubstr("In USD (1000 credits/USD)"));
  EXPECT_THAT(s, HasSubstr("(first 5 shown)"));
}

}  // namespace
}  // namespace music::billing
