// The usage export's injected differences (each kind takes its own charge, the same seed gives the
// same file), and the emulator's own export writer (usage_writer.cc, written from
// USAGE-FORMATS.md) read back through the service's parsers: two independent readings of the
// documents that must agree.
#include "tools/provider-emulator/usage_export.h"

#include <map>
#include <set>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "adapters/beatra/beatra_usage_format.h"
#include "adapters/kie/kie_usage_format.h"
#include "adapters/piapi/piapi_usage_format.h"
#include "adapters/tokenlab/tokenlab_usage_format.h"
#include "gtest/gtest.h"
#include "tools/provider-emulator/usage_writer.h"

namespace music::emulator {
namespace {

std::vector<UsageRecord> Charges(int n) {
  std::vector<UsageRecord> records;
  for (int i = 0; i < n; ++i) {
    UsageRecord r;
    r.provider = "kie";
    r.provider_task_id = absl::StrCat("kie-task-", i);
    r.model = "V4_5";
    r.endpoint = "generate";
    r.amount_micros = 12'000'000;
    r.time = absl::FromUnixMillis(1'700'000'000'000 + i * 1000);
    r.usage_record_id = UsageRecordIdOf(r);
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
    (r.kind == UsageKind::kCharge ? charges : refunds)[r.provider_task_id]++;
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

TEST(UsageExportTest, SameSeedSameFileAndTheServiceParsesIt) {
  UsageDifferences d;
  d.missing = 2;
  d.refund = 1;
  d.seed = 7;
  const auto a = WriteUsageExport("kie", UsageLayout::kCsv, ApplyUsageDifferences(Charges(6), d));
  const auto b = WriteUsageExport("kie", UsageLayout::kCsv, ApplyUsageDifferences(Charges(6), d));
  ASSERT_TRUE(a.ok()) << a.status();
  EXPECT_EQ(*a, *b);
  auto parsed = adapters::kie::ParseUsage(billing::FileFormat::kCsv, *a, "usage.csv");
  ASSERT_TRUE(parsed.ok()) << parsed.status();
  EXPECT_EQ(parsed->size(), 5u);  // 6 - 2 + 1
  d.seed = 8;
  EXPECT_NE(*WriteUsageExport("kie", UsageLayout::kCsv, ApplyUsageDifferences(Charges(6), d)), *a);
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

// ---------------------------------------------------------------------------------------------
// The emulator's writer against the service's parsers, both layouts, every provider.

UsageRecord Record(const std::string& provider, const std::string& task, UsageKind kind,
                   int64_t micros, UsageCurrency currency, int64_t unix_ms) {
  UsageRecord r;
  r.provider = provider;
  r.provider_task_id = task;
  r.kind = kind;
  r.amount_micros = micros;
  r.currency = currency;
  r.time = absl::FromUnixMillis(unix_ms);
  return r;
}

// "<task> <CHARGE|REFUND> <micros> <CREDITS|USD> <unix ms> <model>" of each record, in order.
std::vector<std::string> Describe(const std::vector<UsageRecord>& rs) {
  std::vector<std::string> out;
  for (const UsageRecord& r : rs) {
    out.push_back(absl::StrCat(r.provider_task_id, " ", UsageKindName(r.kind), " ",
                               r.amount_micros, " ",
                               r.currency == UsageCurrency::kUsd ? "USD" : "CREDITS", " ",
                               absl::ToUnixMillis(r.time), " ", r.model));
  }
  return out;
}
std::vector<std::string> Describe(const std::vector<billing::UsageRecord>& rs) {
  std::vector<std::string> out;
  for (const billing::UsageRecord& r : rs) {
    out.push_back(absl::StrCat(r.provider_task_id, " ", billing::UsageKindName(r.kind), " ",
                               r.amount_micros, " ", billing::CurrencyName(r.currency), " ",
                               absl::ToUnixMillis(r.time), " ", r.model));
  }
  return out;
}

using Parser = absl::StatusOr<std::vector<billing::UsageRecord>> (*)(billing::FileFormat,
                                                                     absl::string_view,
                                                                     absl::string_view);

void ExpectServiceReadsBack(const std::string& provider, Parser parse,
                            const std::vector<UsageRecord>& records) {
  for (UsageLayout layout : {UsageLayout::kJsonl, UsageLayout::kCsv}) {
    const bool csv = layout == UsageLayout::kCsv;
    auto text = WriteUsageExport(provider, layout, records);
    ASSERT_TRUE(text.ok()) << provider << ": " << text.status();
    auto parsed = parse(csv ? billing::FileFormat::kCsv : billing::FileFormat::kJsonl, *text,
                        csv ? "usage.csv" : "usage.jsonl");
    ASSERT_TRUE(parsed.ok()) << provider << ": " << parsed.status() << "\n" << *text;
    EXPECT_EQ(Describe(*parsed), Describe(records)) << *text;
    for (size_t i = 0; i < parsed->size() && i < records.size(); ++i) {
      EXPECT_EQ((*parsed)[i].usage_record_id, records[i].usage_record_id) << *text;
    }
  }
}

TEST(UsageWriterTest, KieCreditRecordsReadBack) {
  UsageRecord charge = Record("kie", "kie-1", UsageKind::kCharge, 12'000'000,
                              UsageCurrency::kCredits, 1'793'491'211'000);
  charge.model = "V4_5";
  charge.endpoint = "generate";
  charge.usage_record_id = UsageRecordIdOf(charge);
  UsageRecord refund = charge;
  refund.kind = UsageKind::kRefund;
  refund.time += absl::Seconds(55);
  refund.usage_record_id = "kie-own-id";  // not the derived one: written as `id`
  ExpectServiceReadsBack("kie", &adapters::kie::ParseUsage, {charge, refund});
}

TEST(UsageWriterTest, TokenlabUsageRecordsReadBack) {
  UsageRecord charge = Record("tokenlab", "ldtask_1", UsageKind::kCharge, 100'000,
                              UsageCurrency::kUsd, 1'793'491'211'500);
  charge.model = "suno_music";
  charge.endpoint = "/v1/music/generations";
  charge.request_id = "req,with \"quotes\"";  // CSV quoting
  charge.provider_billing_transaction_id = "tlbtx_1";
  charge.usage_record_id = "ur_1_c";
  UsageRecord refund = charge;
  refund.kind = UsageKind::kRefund;
  refund.amount_micros = 20'000;
  refund.usage_record_id = "ur_1_r";
  ExpectServiceReadsBack("tokenlab", &adapters::tokenlab::ParseUsage, {charge, refund});
}

TEST(UsageWriterTest, PiapiChargesReadBackAndRefundsCannotBeWritten) {
  UsageRecord charge = Record("piapi", "pi-1", UsageKind::kCharge, 50'000, UsageCurrency::kUsd,
                              1'793'491'260'000);
  charge.model = "music-u";
  charge.usage_record_id = UsageRecordIdOf(charge);
  UsageRecord failed = Record("piapi", "pi-2", UsageKind::kCharge, 0, UsageCurrency::kUsd,
                              1'793'491'261'000);
  failed.usage_record_id = UsageRecordIdOf(failed);
  ExpectServiceReadsBack("piapi", &adapters::piapi::ParseUsage, {charge, failed});
  UsageRecord refund = charge;
  refund.kind = UsageKind::kRefund;
  EXPECT_EQ(WriteUsageExport("piapi", UsageLayout::kJsonl, {refund}).status().code(),
            absl::StatusCode::kInvalidArgument);
}

TEST(UsageWriterTest, BeatraEnvelopesReadBack) {
  UsageRecord charge = Record("beatra", "bt-1", UsageKind::kCharge, 80'000'000,
                              UsageCurrency::kCredits, 1'793'491'260'000);
  charge.model = "suno-5.5";
  charge.usage_record_id = UsageRecordIdOf(charge);
  UsageRecord refund = charge;
  refund.kind = UsageKind::kRefund;
  refund.usage_record_id = UsageRecordIdOf(refund);
  UsageRecord other = Record("beatra", "bt-2", UsageKind::kCharge, 50'000'000,
                             UsageCurrency::kCredits, 1'793'491'270'000);
  other.model = "minimax-music-2.6";
  other.usage_record_id = UsageRecordIdOf(other);
  ExpectServiceReadsBack("beatra", &adapters::beatra::ParseUsage, {charge, refund, other});
  // A task envelope holds one charge.
  EXPECT_EQ(WriteUsageExport("beatra", UsageLayout::kCsv, {charge, charge}).status().code(),
            absl::StatusCode::kInvalidArgument);
}

TEST(UsageWriterTest, UnknownProviderHasNoExport) {
  EXPECT_FALSE(HasUsageExport("acme"));
  EXPECT_EQ(WriteUsageExport("acme", UsageLayout::kCsv, {}).status().code(),
            absl::StatusCode::kNotFound);
}

}  // namespace
}  // namespace music::emulator
