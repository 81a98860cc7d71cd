#include "service/billing/usage_format.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "adapters/builtin_providers.h"
#include "domain/money.h"
#include "service/core/usage_formats.h"
#include "tests/service/billing/billing_dataset.h"

namespace music::billing {
namespace {

using ::testing::HasSubstr;

// The built-in providers' formats, as the server and the tools get them (the parsers and writers
// live in adapters/<p>/<p>_usage_format.cc).
const UsageFormats& Formats() {
  static const UsageFormats* const formats =
      new UsageFormats(service::UsageFormatsFromRegistry(adapters::BuiltinProviders()));
  return *formats;
}

constexpr absl::string_view kProviderTokenLab = "tokenlab";
constexpr absl::string_view kProviderBeatra = "beatra";
constexpr absl::string_view kProviderPiapi = "piapi";
constexpr absl::string_view kProviderKie = "kie";

absl::StatusOr<std::vector<UsageRecord>> ParseUsage(absl::string_view provider, FileFormat format,
                                                    absl::string_view content,
                                                    absl::string_view source) {
  return Formats().Parse(provider, format, content, source);
}

absl::StatusOr<std::string> WriteUsage(absl::string_view provider, FileFormat format,
                                       absl::Span<const UsageRecord> records) {
  return Formats().Write(provider, format, records);
}

using testing::T;

void ExpectSame(const std::vector<UsageRecord>& a, const std::vector<UsageRecord>& b) {
  ASSERT_EQ(a.size(), b.size());
  for (size_t i = 0; i < a.size(); ++i) {
    EXPECT_TRUE(SameRecord(a[i], b[i]))
        << "record " << i << ": " << a[i].usage_record_id << " vs " << b[i].usage_record_id;
  }
}

// Expects INVALID_ARGUMENT whose message has every one of `parts`.
void ExpectError(const absl::Status& st, std::vector<std::string> parts) {
  EXPECT_EQ(st.code(), absl::StatusCode::kInvalidArgument) << st;
  for (const std::string& p : parts) EXPECT_THAT(std::string(st.message()), HasSubstr(p));
}

constexpr char kTokenLabJsonl[] =
    R"({"id":"ur_1","billing_transaction_id":"tlbtx_1","request_id":"req-1","task_id":"ldtask_1","model":"suno_music","endpoint":"/v1/music/generations","type":"charge","amount":"0.10","currency":"USD","created_at":"2026-11-01T00:00:05Z"}
{"id":"ur_2","billing_transaction_id":"tlbtx_1","task_id":"ldtask_1","model":"suno_music","type":"refund","amount":"0.02","currency":"USD","created_at":"2026-11-01T00:01:00.5Z"}
)";

TEST(UsageFormatTest, TokenLabJsonl) {
  absl::StatusOr<std::vector<UsageRecord>> rs =
      ParseUsage(kProviderTokenLab, FileFormat::kJsonl, kTokenLabJsonl, "tl.jsonl");
  ASSERT_TRUE(rs.ok()) << rs.status();
  ASSERT_EQ(rs->size(), 2u);
  const UsageRecord& c = (*rs)[0];
  EXPECT_EQ(c.provider, "tokenlab");
  EXPECT_EQ(c.usage_record_id, "ur_1");
  EXPECT_EQ(c.provider_billing_transaction_id, "tlbtx_1");
  EXPECT_EQ(c.request_id, "req-1");
  EXPECT_EQ(c.provider_task_id, "ldtask_1");
  EXPECT_EQ(c.model, "suno_music");
  EXPECT_EQ(c.endpoint, "/v1/music/generations");
  EXPECT_EQ(c.kind, UsageKind::kCharge);
  EXPECT_EQ(c.amount_micros, 100000);
  EXPECT_EQ(c.currency, Currency::kUsd);
  EXPECT_EQ(c.time, T("2026-11-01T00:00:05Z"));
  EXPECT_EQ((*rs)[1].kind, UsageKind::kRefund);
  EXPECT_EQ((*rs)[1].amount_micros, 20000);
  EXPECT_EQ((*rs)[1].time, T("2026-11-01T00:01:00.5Z"));
}

TEST(UsageFormatTest, TokenLabCsvQuotingAndColumnOrder) {
  // Columns in another order, an unknown column, a quoted comma, a doubled quote and a line break
  // inside quotes (RFC 4180); CRLF line ends.
  const std::string csv =
      "created_at,amount,type,id,task_id,model,currency,note,endpoint,request_id,"
      "billing_transaction_id\r\n"
      "2026-11-01T00:00:05Z,0.05,charge,\"ur,1\",ldtask_1,\"suno \"\"music\"\"\",USD,\"two\r\n"
      "lines\",/v1/music/generations,,\r\n"
      "2026-11-01T00:00:06Z,1,refund,ur_2,ldtask_1,suno_music,usd,,,,\r\n";
  absl::StatusOr<std::vector<UsageRecord>> rs =
      ParseUsage(kProviderTokenLab, FileFormat::kCsv, csv, "tl.csv");
  ASSERT_TRUE(rs.ok()) << rs.status();
  ASSERT_EQ(rs->size(), 2u);
  EXPECT_EQ((*rs)[0].usage_record_id, "ur,1");
  EXPECT_EQ((*rs)[0].model, "suno \"music\"");
  EXPECT_EQ((*rs)[0].amount_micros, 50000);
  EXPECT_EQ((*rs)[1].usage_record_id, "ur_2");
  EXPECT_EQ((*rs)[1].amount_micros, 1000000);
}

TEST(UsageFormatTest, BeatraLineYieldsChargeAndRefund) {
  const std::string line =
      R"({"task_id":"bt_1","model":"suno-5.5","status":"failed","billing":{"charged_credits":80.0000,"charged_credits_usd_reference":0.08,"refunded_credits":80,"refunded_credits_usd_reference":0.08,"currency":"credits"},"completed_at":"2026-11-01T00:01:00Z"}
{"task_id":"bt_2","model":"minimax-music-2.6","billing":{"charged_credits":"50","currency":"credits"},"completed_at":"2026-11-01T00:02:00Z"})";
  absl::StatusOr<std::vector<UsageRecord>> rs =
      ParseUsage(kProviderBeatra, FileFormat::kJsonl, line, "bt.jsonl");
  ASSERT_TRUE(rs.ok()) << rs.status();
  ASSERT_EQ(rs->size(), 3u);
  EXPECT_EQ((*rs)[0].usage_record_id, "bt_1:CHARGE");
  EXPECT_EQ((*rs)[0].kind, UsageKind::kCharge);
  EXPECT_EQ((*rs)[0].amount_micros, 80000000);
  EXPECT_EQ((*rs)[0].currency, Currency::kCredits);
  EXPECT_EQ((*rs)[1].usage_record_id, "bt_1:REFUND");
  EXPECT_EQ((*rs)[1].kind, UsageKind::kRefund);
  EXPECT_EQ((*rs)[1].amount_micros, 80000000);
  EXPECT_EQ((*rs)[2].provider_task_id, "bt_2");
  EXPECT_EQ((*rs)[2].amount_micros, 50000000);
}

TEST(UsageFormatTest, PiapiDataObjectAndWholeAnswer) {
  const std::string jsonl =
      R"({"task_id":"pi-1","model":"music-u","task_type":"generate_music","status":"Completed","meta":{"created_at":"2026-11-01T00:00:00Z","ended_at":"2026-11-01T00:01:00Z","usage":{"type":"point","frozen":0.05,"consume":0.05},"is_using_private_pool":false}}
{"code":200,"data":{"task_id":"pi-2","model":"music-u","meta":{"ended_at":"2026-11-01T00:02:00Z","usage":{"type":"point","frozen":0.05,"consume":0}}},"message":"success"})";
  absl::StatusOr<std::vector<UsageRecord>> rs =
      ParseUsage(kProviderPiapi, FileFormat::kJsonl, jsonl, "pi.jsonl");
  ASSERT_TRUE(rs.ok()) << rs.status();
  ASSERT_EQ(rs->size(), 2u);
  EXPECT_EQ((*rs)[0].usage_record_id, "pi-1:CHARGE");
  EXPECT_EQ((*rs)[0].amount_micros, 50000);
  EXPECT_EQ((*rs)[0].currency, Currency::kUsd);
  EXPECT_EQ((*rs)[1].provider_task_id, "pi-2");
  EXPECT_EQ((*rs)[1].amount_micros, 0);  // failed: consume 0
}

TEST(UsageFormatTest, KieCreditsRefundsAndTimes) {
  const std::string jsonl =
      R"({"taskId":"k1","model":"V4_5","credits":12,"operationType":"generate","createTime":1793491205000}
{"taskId":"k1","model":"V4_5","credits":-12,"operationType":"generate","createTime":1793491260000}
{"taskId":"k2","model":"V4_5","credits":"6.5","type":"refund","operationType":"extend","createTime":"2026-11-01 00:02:00"}
{"id":"rec-9","taskId":"k3","credits":1.25,"createTime":"2026-11-01T00:03:00Z"})";
  absl::StatusOr<std::vector<UsageRecord>> rs =
      ParseUsage(kProviderKie, FileFormat::kJsonl, jsonl, "kie.jsonl");
  ASSERT_TRUE(rs.ok()) << rs.status();
  ASSERT_EQ(rs->size(), 4u);
  EXPECT_EQ((*rs)[0].kind, UsageKind::kCharge);
  EXPECT_EQ((*rs)[0].amount_micros, 12000000);
  EXPECT_EQ((*rs)[0].time, T("2026-11-01T00:00:05Z"));
  EXPECT_EQ((*rs)[0].usage_record_id, "k1:generate:CHARGE:1793491205000");
  EXPECT_EQ((*rs)[1].kind, UsageKind::kRefund);
  EXPECT_EQ((*rs)[1].amount_micros, 12000000);
  EXPECT_EQ((*rs)[2].kind, UsageKind::kRefund);
  EXPECT_EQ((*rs)[2].amount_micros, 6500000);
  EXPECT_EQ((*rs)[2].endpoint, "extend");
  EXPECT_EQ((*rs)[2].time, T("2026-11-01T00:02:00Z"));
  EXPECT_EQ((*rs)[3].usage_record_id, "rec-9");
}

TEST(UsageFormatTest, BrokenLinesNameLineAndField) {
  const std::string good =
      R"({"id":"a","type":"charge","amount":"0.1","created_at":"2026-11-01T00:00:00Z"})";
  struct Case {
    std::string second_line;
    std::vector<std::string> parts;
  };
  const std::vector<Case> cases = {
      {R"({"id":"b","type":"charge","amount":"0.1234567","created_at":"2026-11-01T00:00:00Z"})",
       {"tl.jsonl:3:", "`amount`", "more than 6 decimals"}},
      {R"({"id":"b","type":"charge","amount":"ten","created_at":"2026-11-01T00:00:00Z"})",
       {"tl.jsonl:3:", "`amount`"}},
      {R"({"id":"b","type":"charge","amount":1e-2,"created_at":"2026-11-01T00:00:00Z"})",
       {"tl.jsonl:3:", "`amount`"}},
      {R"({"id":"b","type":"charge","amount":"-1","created_at":"2026-11-01T00:00:00Z"})",
       {"tl.jsonl:3:", "`amount`", "negative"}},
      {R"({"id":"b","type":"charge","created_at":"2026-11-01T00:00:00Z"})",
       {"tl.jsonl:3:", "`amount`", "missing"}},
      {R"({"type":"charge","amount":"1","created_at":"2026-11-01T00:00:00Z"})",
       {"tl.jsonl:3:", "`id`", "missing"}},
      {R"({"id":"b","type":"charge","amount":"1","created_at":"yesterday"})",
       {"tl.jsonl:3:", "`created_at`", "RFC 3339"}},
      {R"({"id":"b","type":"credit","amount":"1","created_at":"2026-11-01T00:00:00Z"})",
       {"tl.jsonl:3:", "`type`"}},
      {R"({"id":"b","type":"charge","amount":"1","currency":"EUR","created_at":"2026-11-01T00:00:00Z"})",
       {"tl.jsonl:3:", "`currency`"}},
      {R"({"id":"b",)", {"tl.jsonl:3:", "not JSON"}},
      {R"(["id"])", {"tl.jsonl:3:", "not a JSON object"}},
  };
  for (const Case& c : cases) {
    // Line 2 is blank, so the bad record is on line 3.
    absl::StatusOr<std::vector<UsageRecord>> rs = ParseUsage(
        kProviderTokenLab, FileFormat::kJsonl, good + "\n\n" + c.second_line + "\n", "tl.jsonl");
    ExpectError(rs.status(), c.parts);
  }
}

TEST(UsageFormatTest, BrokenProviderSpecificFields) {
  ExpectError(
      ParseUsage(
          kProviderBeatra, FileFormat::kJsonl,
          R"({"task_id":"b","billing":{"charged_credits":"x"},"completed_at":"2026-11-01T00:00:00Z"})",
          "bt.jsonl")
          .status(),
      {"bt.jsonl:1:", "`billing.charged_credits`"});
  ExpectError(ParseUsage(kProviderBeatra, FileFormat::kJsonl,
                         R"({"task_id":"b","billing":{"charged_credits":1}})", "bt.jsonl")
                  .status(),
              {"bt.jsonl:1:", "`completed_at`", "missing"});
  ExpectError(ParseUsage(kProviderPiapi, FileFormat::kJsonl,
                         R"({"task_id":"p","meta":{"ended_at":"2026-11-01T00:00:00Z","usage":{}}})",
                         "pi.jsonl")
                  .status(),
              {"pi.jsonl:1:", "`meta.usage.consume`", "missing"});
  ExpectError(ParseUsage(kProviderKie, FileFormat::kJsonl,
                         "\n"
                         R"({"taskId":"k","credits":1,"createTime":"soon"})",
                         "kie.jsonl")
                  .status(),
              {"kie.jsonl:2:", "`createTime`"});
  ExpectError(
      ParseUsage(kProviderKie, FileFormat::kJsonl,
                 R"({"taskId":"k","credits":-1,"type":"charge","createTime":1})", "kie.jsonl")
          .status(),
      {"kie.jsonl:1:", "`credits`"});
  ExpectError(ParseUsage("acme", FileFormat::kJsonl, "", "x.jsonl").status(), {"acme"});
}

TEST(UsageFormatTest, BrokenCsv) {
  ExpectError(
      ParseUsage(kProviderKie, FileFormat::kCsv, "taskId,credits\nk,1\n", "kie.csv").status(),
      {"kie.csv:1:", "createTime"});
  ExpectError(ParseUsage(kProviderKie, FileFormat::kCsv, "taskId,credits,createTime\nk,1,1\nk,2\n",
                         "kie.csv")
                  .status(),
              {"kie.csv:3:", "2 fields"});
  ExpectError(ParseUsage(kProviderKie, FileFormat::kCsv,
                         "taskId,credits,createTime\nk,1,1\n\"k,2,1\n", "kie.csv")
                  .status(),
              {"kie.csv:3:", "unterminated"});
  ExpectError(ParseUsage(kProviderKie, FileFormat::kCsv,
                         "taskId,credits,createTime\nk,1,1\nk,1.5.1,1\n", "kie.csv")
                  .status(),
              {"kie.csv:3:", "`credits`"});
  // A quoted line break moves the line count on: the bad record after it is on line 4.
  ExpectError(ParseUsage(kProviderKie, FileFormat::kCsv,
                         "taskId,credits,createTime\n\"k\n1\",1,1\nk,x,1\n", "kie.csv")
                  .status(),
              {"kie.csv:4:", "`credits`"});
}

UsageRecord Record(absl::string_view provider, absl::string_view ptid, UsageKind kind,
                   int64_t micros, Currency currency, const char* time) {
  UsageRecord r;
  r.provider = std::string(provider);
  r.provider_task_id = std::string(ptid);
  r.model = "m-1";
  r.kind = kind;
  r.amount_micros = micros;
  r.currency = currency;
  r.time = T(time);
  return r;
}

std::vector<UsageRecord> Sample(absl::string_view provider) {
  std::vector<UsageRecord> rs;
  if (provider == kProviderTokenLab) {
    UsageRecord a = Record(provider, "ldtask_1", UsageKind::kCharge, 100000, Currency::kUsd,
                           "2026-11-01T00:00:05.123Z");
    a.usage_record_id = "ur_1";
    a.provider_billing_transaction_id = "tlbtx_1";
    a.request_id = "req,\"1\"";
    a.endpoint = "/v1/music/generations";
    UsageRecord b = a;
    b.usage_record_id = "ur_2";
    b.kind = UsageKind::kRefund;
    b.amount_micros = 1;
    UsageRecord c =
        Record(provider, "", UsageKind::kCharge, 0, Currency::kCredits, "2026-11-01T00:00:06Z");
    c.usage_record_id = "ur_3";
    c.model = "";
    rs = {a, b, c};
  } else if (provider == kProviderBeatra) {
    rs = {Record(provider, "bt_1", UsageKind::kCharge, 80000000, Currency::kCredits,
                 "2026-11-01T00:01:00Z"),
          Record(provider, "bt_1", UsageKind::kRefund, 80000000, Currency::kCredits,
                 "2026-11-01T00:01:00Z"),
          Record(provider, "bt_2", UsageKind::kCharge, 50000001, Currency::kCredits,
                 "2026-11-01T00:02:00Z")};
  } else if (provider == kProviderPiapi) {
    rs = {
        Record(provider, "pi-1", UsageKind::kCharge, 50000, Currency::kUsd, "2026-11-01T00:01:00Z"),
        Record(provider, "pi-2", UsageKind::kCharge, 0, Currency::kUsd, "2026-11-01T00:02:00Z")};
  } else {
    UsageRecord a = Record(provider, "k1", UsageKind::kCharge, 12000000, Currency::kCredits,
                           "2026-11-01T00:00:05Z");
    a.endpoint = "generate";
    UsageRecord b = a;
    b.kind = UsageKind::kRefund;
    b.time = T("2026-11-01T00:01:00.001Z");
    UsageRecord c =
        Record(provider, "k2", UsageKind::kCharge, 1, Currency::kCredits, "2026-11-01T00:02:00Z");
    c.usage_record_id = "explicit-id";
    rs = {a, b, c};
  }
  for (UsageRecord& r : rs) {
    if (r.usage_record_id.empty()) r.usage_record_id = DeriveUsageRecordId(r, r.endpoint);
  }
  return rs;
}

class RoundTripTest : public ::testing::TestWithParam<std::tuple<absl::string_view, FileFormat>> {};

TEST_P(RoundTripTest, ParseOfWriteIsIdentity) {
  const auto [provider, format] = GetParam();
  const std::vector<UsageRecord> in = Sample(provider);
  absl::StatusOr<std::string> text = WriteUsage(provider, format, in);
  ASSERT_TRUE(text.ok()) << text.status();
  absl::StatusOr<std::vector<UsageRecord>> out = ParseUsage(provider, format, *text, "rt");
  ASSERT_TRUE(out.ok()) << out.status() << "\n" << *text;
  ExpectSame(in, *out);
  // And writing again gives the same bytes.
  EXPECT_EQ(*WriteUsage(provider, format, *out), *text);
}

INSTANTIATE_TEST_SUITE_P(AllProviders, RoundTripTest,
                         ::testing::Combine(::testing::Values(kProviderTokenLab, kProviderBeatra,
                                                              kProviderPiapi, kProviderKie),
                                            ::testing::Values(FileFormat::kJsonl,
                                                              FileFormat::kCsv)));

TEST(UsageFormatTest, WritersRejectWhatTheProviderCannotSay) {
  std::vector<UsageRecord> pi = Sample(kProviderPiapi);
  pi[0].kind = UsageKind::kRefund;
  EXPECT_FALSE(WriteUsage(kProviderPiapi, FileFormat::kJsonl, pi).ok());
  std::vector<UsageRecord> bt = Sample(kProviderBeatra);
  bt.push_back(bt[0]);
  EXPECT_FALSE(WriteUsage(kProviderBeatra, FileFormat::kCsv, bt).ok());
  std::vector<UsageRecord> tl = Sample(kProviderTokenLab);
  tl[0].usage_record_id.clear();
  EXPECT_FALSE(WriteUsage(kProviderTokenLab, FileFormat::kJsonl, tl).ok());
  EXPECT_FALSE(WriteUsage(kProviderKie, FileFormat::kJsonl, Sample(kProviderBeatra)).ok());
}

std::vector<BillingTransaction> SampleLedger() {
  BillingTransaction a;
  a.billing_transaction_id = "btx_task-1_RESERVE";
  a.tenant = "tenant \"a\", inc";
  a.task_id = "task-1";
  a.request_id = "req-1";
  a.provider = "tokenlab";
  a.provider_billing_transaction_id = "tlbtx_1";
  a.model = "suno";
  a.provider_model = "suno_music";
  a.endpoint = "/v1/music/generations";
  a.kind = TransactionKind::kReserve;
  a.amount_micros = 100000;
  a.currency = Currency::kUsd;
  a.time = T("2026-11-01T00:00:00Z");
  BillingTransaction b = a;
  b.billing_transaction_id = "btx_task-1_SETTLE";
  b.kind = TransactionKind::kSettle;
  b.provider_task_id = "ldtask_1";
  b.amount_micros = 80000;
  b.time = T("2026-11-01T00:01:00.75Z");
  BillingTransaction c;
  c.billing_transaction_id = "btx_task-2_REFUND";
  c.task_id = "task-2";
  c.provider = "beatra";
  c.kind = TransactionKind::kRefund;
  c.amount_micros = 80000000;
  c.currency = Currency::kCredits;
  c.time = T("2026-11-01T00:02:00Z");
  return {a, b, c};
}

TEST(LedgerFormatTest, RoundTripsInBothFormats) {
  const std::vector<BillingTransaction> in = SampleLedger();
  for (FileFormat f : {FileFormat::kJsonl, FileFormat::kCsv}) {
    const std::string text = WriteLedger(f, in);
    absl::StatusOr<std::vector<BillingTransaction>> out = ParseLedger(f, text, "ledger");
    ASSERT_TRUE(out.ok()) << out.status() << "\n" << text;
    ASSERT_EQ(out->size(), in.size());
    for (size_t i = 0; i < in.size(); ++i) EXPECT_TRUE(SameRow(in[i], (*out)[i])) << i;
  }
}

TEST(LedgerFormatTest, BadRowsNameLineAndField) {
  const std::string text = WriteLedger(FileFormat::kJsonl, SampleLedger());
  std::string bad = text;
  bad.replace(bad.find("\"SETTLE\""), 8, "\"SETTLED\"");
  ExpectError(ParseLedger(FileFormat::kJsonl, bad, "ledger.jsonl").status(),
              {"ledger.jsonl:2:", "`kind`"});
  bad = text;
  bad.replace(bad.find("\"0.08\""), 6, "\"0,08\"");
  ExpectError(ParseLedger(FileFormat::kJsonl, bad, "ledger.jsonl").status(),
              {"ledger.jsonl:2:", "`amount`"});
  std::string csv = WriteLedger(FileFormat::kCsv, SampleLedger());
  csv.replace(csv.find("2026-11-01T00:02:00Z"), 20, "2026-11-01 00:02");
  ExpectError(ParseLedger(FileFormat::kCsv, csv, "ledger.csv").status(),
              {"ledger.csv:4:", "`time`"});
}

TEST(ImportTest, IdempotentByProviderAndId) {
  UsageSet set;
  absl::StatusOr<ImportStats> first =
      set.Import(Formats(), kProviderTokenLab, FileFormat::kJsonl, kTokenLabJsonl, "a");
  ASSERT_TRUE(first.ok());
  EXPECT_EQ(first->added, 2);
  absl::StatusOr<ImportStats> again =
      set.Import(Formats(), kProviderTokenLab, FileFormat::kJsonl, kTokenLabJsonl, "a");
  ASSERT_TRUE(again.ok());
  EXPECT_EQ(again->added, 0);
  EXPECT_EQ(again->duplicates, 2);
  EXPECT_EQ(again->conflicts, 0);
  EXPECT_EQ(set.records().size(), 2u);

  // Same id, different content: kept once, counted as a conflict.
  std::string changed = kTokenLabJsonl;
  changed.replace(changed.find("\"0.10\""), 6, "\"0.11\"");
  absl::StatusOr<ImportStats> conflict =
      set.Import(Formats(), kProviderTokenLab, FileFormat::kJsonl, changed, "b");
  ASSERT_TRUE(conflict.ok());
  EXPECT_EQ(conflict->conflicts, 1);
  EXPECT_EQ(set.records()[0].amount_micros, 100000);

  // The same id from another provider is another record.
  std::vector<UsageRecord> kie = Sample(kProviderKie);
  kie[0].usage_record_id = "ur_1";
  EXPECT_TRUE(set.Add(kie[0]));

  // A bad file adds nothing, not even its good lines.
  const size_t before = set.records().size();
  const std::string bad = absl::StrCat(
      R"({"id":"new","type":"charge","amount":"1","created_at":"2026-11-01T00:00:00Z"})", "\n",
      R"({"id":"bad","type":"charge","amount":"x","created_at":"2026-11-01T00:00:00Z"})");
  EXPECT_FALSE(set.Import(Formats(), kProviderTokenLab, FileFormat::kJsonl, bad, "c").ok());
  EXPECT_EQ(set.records().size(), before);
}

TEST(ImportTest, DuplicatesWithinOneFile) {
  const std::string line =
      R"({"id":"a","type":"charge","amount":"1","created_at":"2026-11-01T00:00:00Z"})";
  const std::string other =
      R"({"id":"b","type":"charge","amount":"2","created_at":"2026-11-01T00:00:00Z"})";
  UsageSet set;
  absl::StatusOr<ImportStats> s = set.Import(Formats(), kProviderTokenLab, FileFormat::kJsonl,
                                             absl::StrCat(line, "\n", line, "\n", other), "f");
  ASSERT_TRUE(s.ok());
  EXPECT_EQ(s->records, 3);
  EXPECT_EQ(s->added, 2);
  EXPECT_EQ(s->duplicates, 1);
  ASSERT_EQ(set.records().size(), 2u);
  EXPECT_EQ(set.records()[0].usage_record_id, "a");
  EXPECT_EQ(set.records()[1].usage_record_id, "b");
  // The index still points at the right rows after the compaction.
  bool conflict = true;
  UsageRecord b = set.records()[1];
  EXPECT_FALSE(set.Add(b, &conflict));
  EXPECT_FALSE(conflict);
}

TEST(ImportTest, DerivedIdsMakeReexportsIdempotent) {
  // A beatra task exported while running (charge only), then after failing (charge + refund):
  // the second import adds only the refund.
  UsageSet set;
  const std::string running =
      R"({"task_id":"bt_1","billing":{"charged_credits":80,"refunded_credits":0,"currency":"credits"},"completed_at":"2026-11-01T00:01:00Z"})";
  const std::string failed =
      R"({"task_id":"bt_1","billing":{"charged_credits":80,"refunded_credits":80,"currency":"credits"},"completed_at":"2026-11-01T00:01:00Z"})";
  EXPECT_EQ(set.Import(Formats(), kProviderBeatra, FileFormat::kJsonl, running, "1")->added, 1);
  absl::StatusOr<ImportStats> s = set.Import(Formats(), kProviderBeatra, FileFormat::kJsonl, failed, "2");
  EXPECT_EQ(s->added, 1);
  EXPECT_EQ(s->duplicates, 1);
  EXPECT_EQ(set.records().size(), 2u);
}

TEST(ImportTest, LedgerIdempotentById) {
  LedgerSet set;
  const std::string text = WriteLedger(FileFormat::kCsv, SampleLedger());
  EXPECT_EQ(set.Import(FileFormat::kCsv, text, "l")->added, 3);
  absl::StatusOr<ImportStats> again = set.Import(FileFormat::kCsv, text, "l");
  EXPECT_EQ(again->added, 0);
  EXPECT_EQ(again->duplicates, 3);
  EXPECT_EQ(set.rows().size(), 3u);
}

TEST(UsageFormatsTest, LookupByProviderName) {
  EXPECT_EQ(Formats().providers(),
            (std::vector<std::string>{"kie", "piapi", "tokenlab", "beatra"}));
  EXPECT_TRUE(Formats().Contains("kie"));
  EXPECT_FALSE(Formats().Contains("acme"));
  ExpectError(Formats().Parse("acme", FileFormat::kJsonl, "", "x.jsonl").status(),
              {"unknown provider \"acme\" (expected kie, piapi, tokenlab or beatra)"});
  ExpectError(Formats().Write("acme", FileFormat::kJsonl, {}).status(), {"acme"});
}

TEST(UsageFormatsTest, AddChecksItsInput) {
  UsageFormats formats;
  const UsageParser parse = [](FileFormat, absl::string_view, absl::string_view) {
    return absl::StatusOr<std::vector<UsageRecord>>(std::vector<UsageRecord>(1));
  };
  EXPECT_EQ(formats.Add("", parse).code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(formats.Add("toy", nullptr).code(), absl::StatusCode::kInvalidArgument);
  ASSERT_TRUE(formats.Add("toy", parse).ok());
  EXPECT_EQ(formats.Add("toy", parse).code(), absl::StatusCode::kAlreadyExists);
  absl::StatusOr<std::vector<UsageRecord>> parsed = formats.Parse("toy", FileFormat::kCsv, "", "t");
  ASSERT_TRUE(parsed.ok()) << parsed.status();
  EXPECT_EQ(parsed->size(), 1u);
  // No writer: the provider's export is read-only.
  ExpectError(formats.Write("toy", FileFormat::kCsv, {}).status(), {"toy", "no usage export"});
  ExpectError(formats.Parse("acme", FileFormat::kCsv, "", "t").status(), {"(expected toy)"});
}

TEST(UsageFormatsTest, FromRegistryTakesModulesWithAParser) {
  adapters::ProviderModuleRegistry registry;
  auto no_adapter = [](const adapters::ProviderSettings&)
      -> absl::StatusOr<std::shared_ptr<adapters::ProviderAdapter>> {
    return absl::UnimplementedError("not in this test");
  };
  for (const adapters::ProviderModule& builtin : adapters::BuiltinProviders().modules()) {
    adapters::ProviderModule m;
    m.name = builtin.name;
    m.make_adapter = no_adapter;
    m.usage = builtin.usage;
    ASSERT_TRUE(registry.Add(std::move(m)).ok());
  }
  adapters::ProviderModule toy;  // a provider without a usage export
  toy.name = "toy";
  toy.make_adapter = no_adapter;
  ASSERT_TRUE(registry.Add(std::move(toy)).ok());
  const UsageFormats formats = service::UsageFormatsFromRegistry(registry);
  EXPECT_EQ(formats.providers(), Formats().providers());
  EXPECT_FALSE(formats.Contains("toy"));
  absl::StatusOr<std::vector<UsageRecord>> rs =
      formats.Parse("tokenlab", FileFormat::kJsonl, kTokenLabJsonl, "tl.jsonl");
  ASSERT_TRUE(rs.ok()) << rs.status();
  EXPECT_EQ(rs->size(), 2u);
}

TEST(FileFormatTest, FromPath) {
  EXPECT_EQ(*FileFormatFromPath("a/b.jsonl"), FileFormat::kJsonl);
  EXPECT_EQ(*FileFormatFromPath("B.CSV"), FileFormat::kCsv);
  EXPECT_FALSE(FileFormatFromPath("b.txt").ok());
}

}  // namespace
}  // namespace music::billing
