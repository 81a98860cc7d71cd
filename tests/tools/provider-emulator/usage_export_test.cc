// The usage export's injected differences: each kind takes its own charge, the same seed gives
// the same file, and every record round-trips through the billing library's writer and parser.
#include "tools/provider-emulator/usage_export.h"

#include <map>
#include <set>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "adapters/kie/kie_usage_format.h"
#include "domain/billing_records.h"
#include "gtest/gtest.h"

namespace music::emulator {
namespace {

std::vector<billing::UsageRecord> Charges(int n) {
  std::vector<billing::UsageRecord> records;
  for (int i = 0; i < n; ++i) {
    billing::UsageRecord r;
    r.provider = "kie";
    r.provider_task_id = absl::StrCat("kie-task-", i);
    r.model = "V4_5";
    r.endpoint = "generate";
    r.amount_micros = 12'000'000;
    r.time = absl::FromUnixMillis(1'700'000'000'000 + i * 1000);
    r.usage_record_id = billing::DeriveUsageRecordId(r, r.endpoint);
    records.push_back(r);
  }
  return records;
}

TEST(UsageExportTest, EachDifferenceTakesItsOwnCharge) {
  UsageDifferences d;
  d.missing = 1;
  d.extra = 2;
  d.amount = 1;
  d.duplicate = 1;
  d.refund = 1;
  d.seed = 42;
  const auto out = ApplyUsageDifferences(Charges(8), d);
  // 8 - 1 missing + 2 extra + 1 duplicate + 1 refund.
  ASSERT_EQ(out.size(), 11u);
  std::map<std::string, int> charges, refunds;
  std::set<int64_t> amounts;
  for (const auto& r : out) {
    (r.kind == billing::UsageKind::kCharge ? charges : refunds)[r.provider_task_id]++;
    amounts.insert(r.amount_micros);
  }
  int missing = 0, doubled = 0;
  for (int i = 0; i < 8; ++i) {
    const std::string id = absl::StrCat("kie-task-", i);
    missing += charges[id] == 0;
    doubled += charges[id] == 2;
  }
  EXPECT_EQ(missing, 1);
  EXPECT_EQ(doubled, 1);
  EXPECT_EQ(refunds.size(), 1u);
  EXPECT_EQ(charges.count("emu_extra_42_0") + charges.count("emu_extra_42_1"), 2u);
  EXPECT_EQ(amounts, (std::set<int64_t>{12'000'000, 13'000'000}));
  // Every record id is unique, so an import keeps them all.
  std::set<std::string> ids;
  for (const auto& r : out) ids.insert(r.usage_record_id);
  EXPECT_EQ(ids.size(), out.size());
}

TEST(UsageExportTest, SameSeedSameFileAndTheFileParsesBack) {
  UsageDifferences d;
  d.missing = 2;
  d.refund = 1;
  d.seed = 7;
  const auto a =
      adapters::kie::WriteUsage(billing::FileFormat::kCsv, ApplyUsageDifferences(Charges(6), d));
  const auto b =
      adapters::kie::WriteUsage(billing::FileFormat::kCsv, ApplyUsageDifferences(Charges(6), d));
  ASSERT_TRUE(a.ok()) << a.status();
  EXPECT_EQ(*a, *b);
  auto parsed = adapters::kie::ParseUsage(billing::FileFormat::kCsv, *a, "usage.csv");
  ASSERT_TRUE(parsed.ok()) << parsed.status();
  EXPECT_EQ(parsed->size(), 5u);  // 6 - 2 + 1
  d.seed = 8;
  EXPECT_NE(
      *adapters::kie::WriteUsage(billing::FileFormat::kCsv, ApplyUsageDifferences(Charges(6), d)),
      *a);
}

TEST(UsageExportTest, MoreDifferencesThanChargesUseWhatThereIs) {
  UsageDifferences d;
  d.missing = 5;
  d.amount = 5;
  const auto out = ApplyUsageDifferences(Charges(3), d);
  EXPECT_TRUE(out.empty());  // all three went missing; none left to change
  EXPECT_TRUE(ApplyUsageDifferences({}, d).empty());
}

TEST(UsageExportTest, ParametersAreChecked) {
  auto ok = ParseUsageDifferences({{"missing", "2"}, {"seed", "9"}, {"other", "x"}});
  ASSERT_TRUE(ok.ok()) << ok.status();
  EXPECT_EQ(ok->missing, 2);
  EXPECT_EQ(ok->seed, 9u);
  auto bad = ParseUsageDifferences({{"extra", "-1"}});
  EXPECT_EQ(bad.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(bad.status().message().find("extra"), std::string::npos);
}

}  // namespace
}  // namespace music::emulator
