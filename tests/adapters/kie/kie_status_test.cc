// The WIRE.md state table, row by row, for music and lyrics tasks, and the callback types.

#include "adapters/kie/kie_status.h"

#include <ostream>
#include <string>
#include <tuple>

#include "gtest/gtest.h"

namespace music::adapters::kie {
namespace {

using absl::StatusCode;

struct Row {
  std::string status;
  bool lyrics;
  ProviderState state;
  StatusCode error_code;
  bool lyrics_ready;
  bool first_clip_ready;
  bool known;
};

void PrintTo(const Row& row, std::ostream* os) {
  *os << row.status << (row.lyrics ? " (lyrics)" : " (music)");
}

class StateTableTest : public ::testing::TestWithParam<Row> {};

TEST_P(StateTableTest, MapsRow) {
  const Row& row = GetParam();
  const KieStatusInfo info = MapKieStatus(row.status, row.lyrics);
  EXPECT_EQ(info.state, row.state);
  EXPECT_EQ(info.error_code, row.error_code);
  EXPECT_EQ(info.lyrics_ready, row.lyrics_ready);
  EXPECT_EQ(info.first_clip_ready, row.first_clip_ready);
  EXPECT_EQ(info.known, row.known);
}

constexpr ProviderState kPending = ProviderState::kPending;
constexpr ProviderState kRunning = ProviderState::kRunning;
constexpr ProviderState kSucceeded = ProviderState::kSucceeded;
constexpr ProviderState kFailed = ProviderState::kFailed;

INSTANTIATE_TEST_SUITE_P(
    Music, StateTableTest,
    ::testing::Values(
        Row{"PENDING", false, kPending, StatusCode::kOk, false, false, true},
        Row{"TEXT_SUCCESS", false, kRunning, StatusCode::kOk, true, false, true},
        Row{"FIRST_SUCCESS", false, kRunning, StatusCode::kOk, false, true, true},
        Row{"SUCCESS", false, kSucceeded, StatusCode::kOk, false, false, true},
        Row{"CREATE_TASK_FAILED", false, kFailed, StatusCode::kFailedPrecondition, false, false,
            true},
        Row{"GENERATE_AUDIO_FAILED", false, kFailed, StatusCode::kInternal, false, false, true},
        Row{"GENERATE_LYRICS_FAILED", false, kFailed, StatusCode::kInternal, false, false, true},
        Row{"CALLBACK_EXCEPTION", false, kFailed, StatusCode::kInternal, false, false, true},
        Row{"SENSITIVE_WORD_ERROR", false, kFailed, StatusCode::kInvalidArgument, false, false,
            true},
        // Anything else: kept raw, never terminal.
        Row{"SOMETHING_NEW", false, kRunning, StatusCode::kOk, false, false, false},
        Row{"", false, kRunning, StatusCode::kOk, false, false, false},
        // Case matters: kie.ai statuses are upper case.
        Row{"success", false, kRunning, StatusCode::kOk, false, false, false}),
    [](const auto& info) { return "Row" + std::to_string(info.index); });

INSTANTIATE_TEST_SUITE_P(
    Lyrics, StateTableTest,
    ::testing::Values(
        Row{"PENDING", true, kPending, StatusCode::kOk, false, false, true},
        Row{"SUCCESS", true, kSucceeded, StatusCode::kOk, false, false, true},
        Row{"CREATE_TASK_FAILED", true, kFailed, StatusCode::kFailedPrecondition, false, false,
            true},
        Row{"GENERATE_LYRICS_FAILED", true, kFailed, StatusCode::kInternal, false, false, true},
        Row{"CALLBACK_EXCEPTION", true, kFailed, StatusCode::kInternal, false, false, true},
        Row{"SENSITIVE_WORD_ERROR", true, kFailed, StatusCode::kInvalidArgument, false, false,
            true},
        // The music stages are not lyrics statuses: unknown, still running, no flags.
        Row{"TEXT_SUCCESS", true, kRunning, StatusCode::kOk, false, false, false},
        Row{"FIRST_SUCCESS", true, kRunning, StatusCode::kOk, false, false, false},
        Row{"SOMETHING_NEW", true, kRunning, StatusCode::kOk, false, false, false}),
    [](const auto& info) { return "Row" + std::to_string(info.index); });

TEST(MapKieCallbackTest, Stages) {
  KieStatusInfo text = MapKieCallback("text", 200);
  EXPECT_EQ(text.state, kRunning);
  EXPECT_TRUE(text.lyrics_ready);
  EXPECT_FALSE(text.first_clip_ready);

  KieStatusInfo first = MapKieCallback("first", 200);
  EXPECT_EQ(first.state, kRunning);
  EXPECT_FALSE(first.lyrics_ready);
  EXPECT_TRUE(first.first_clip_ready);

  KieStatusInfo complete = MapKieCallback("complete", 200);
  EXPECT_EQ(complete.state, kSucceeded);
  EXPECT_EQ(complete.error_code, StatusCode::kOk);
}

TEST(MapKieCallbackTest, ErrorTypeFailsEvenWithCode200) {
  KieStatusInfo info = MapKieCallback("error", 200);
  EXPECT_EQ(info.state, kFailed);
  EXPECT_EQ(info.error_code, StatusCode::kInternal);
}

TEST(MapKieCallbackTest, NonOkCodeFailsWhateverTheType) {
  const std::tuple<int, StatusCode> cases[] = {
      {400, StatusCode::kInvalidArgument}, {408, StatusCode::kDeadlineExceeded},
      {413, StatusCode::kInvalidArgument}, {500, StatusCode::kInternal},
      {501, StatusCode::kInternal},        {531, StatusCode::kInternal},
  };
  for (const auto& [code, expected] : cases) {
    for (const char* type : {"error", "complete", "first", "text"}) {
      KieStatusInfo info = MapKieCallback(type, code);
      EXPECT_EQ(info.state, kFailed) << type << " " << code;
      EXPECT_EQ(info.error_code, expected) << type << " " << code;
    }
  }
}

TEST(MapKieCallbackTest, UnknownTypeKeepsRunning) {
  KieStatusInfo info = MapKieCallback("progress", 200);
  EXPECT_EQ(info.state, kRunning);
  EXPECT_FALSE(info.known);
}

TEST(KieFailureCodeTest, Table) {
  EXPECT_EQ(KieFailureCode(400), StatusCode::kInvalidArgument);
  EXPECT_EQ(KieFailureCode(408), StatusCode::kDeadlineExceeded);
  EXPECT_EQ(KieFailureCode(413), StatusCode::kInvalidArgument);
  EXPECT_EQ(KieFailureCode(500), StatusCode::kInternal);
  EXPECT_EQ(KieFailureCode(501), StatusCode::kInternal);
  EXPECT_EQ(KieFailureCode(531), StatusCode::kInternal);
}

}  // namespace
}  // namespace music::adapters::kie
