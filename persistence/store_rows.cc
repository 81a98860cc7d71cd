#include "persistence/store_rows.h"

#include <limits>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"

namespace music::persistence::store_rows {
namespace {

absl::Status ValidateRecord(const domain::TaskRecord& record) {
  if (record.task.task_id().empty()) {
    return absl::InvalidArgumentError("task.task_id is empty");
  }
  if (!ValidSubmission(static_cast<int64_t>(record.submission))) {
    return absl::InvalidArgumentError(
        absl::StrCat("bad submission state ", static_cast<int>(record.submission)));
  }
  return absl::OkStatus();
}

absl::StatusOr<std::string> Serialize(const music::v1::Task& task) {
  std::string blob;
  if (!task.SerializeToString(&blob)) return absl::InternalError("cannot serialize the task");
  return blob;
}

}  // namespace

int64_t ToMicros(absl::Time t) {
  if (t == absl::InfinitePast()) return std::numeric_limits<int64_t>::min();
  if (t == absl::InfiniteFuture()) return std::numeric_limits<int64_t>::max();
  const int64_t us = absl::ToUnixMicros(t);  // rounds down, saturates
  if (us == std::numeric_limits<int64_t>::min()) return us + 1;
  if (us == std::numeric_limits<int64_t>::max()) return us - 1;
  return us;
}

absl::Time FromMicros(int64_t us) {
  if (us == std::numeric_limits<int64_t>::min()) return absl::InfinitePast();
  if (us == std::numeric_limits<int64_t>::max()) return absl::InfiniteFuture();
  return absl::FromUnixMicros(us);
}

int64_t TimestampMicros(const google::protobuf::Timestamp& ts) {
  return ToMicros(absl::FromUnixSeconds(ts.seconds()) + absl::Nanoseconds(ts.nanos()));
}

bool ValidSubmission(int64_t submission) {
  return submission >= static_cast<int>(domain::SubmissionState::kNotSubmitted) &&
         submission <= static_cast<int>(domain::SubmissionState::kUnknown);
}

absl::StatusOr<std::string> NewTaskBlob(const domain::TaskRecord& record) {
  if (absl::Status s = ValidateRecord(record); !s.ok()) return s;
  if (record.task.version() != 1) {
    return absl::InvalidArgumentError(
        absl::StrCat("a new task has version 1, not ", record.task.version()));
  }
  return Serialize(record.task);
}

absl::StatusOr<std::string> UpdatedTaskBlob(const domain::TaskRecord& record) {
  if (absl::Status s = ValidateRecord(record); !s.ok()) return s;
  if (record.task.version() < 2) {
    return absl::InvalidArgumentError(
        absl::StrCat("an updated task has version >= 2, not ", record.task.version()));
  }
  return Serialize(record.task);
}

absl::Status CheckLedgerRow(const billing::BillingTransaction& t) {
  if (t.billing_transaction_id.empty() || t.task_id.empty() || t.amount_micros < 0) {
    return absl::InvalidArgumentError(absl::StrCat(
        "billing transaction \"", t.billing_transaction_id,
        "\": billing_transaction_id and task_id are required and amount_micros >= 0"));
  }
  return absl::OkStatus();
}

absl::Status CheckUsageRecords(absl::Span<const billing::UsageRecord> records) {
  for (const billing::UsageRecord& r : records) {
    if (r.provider.empty() || r.usage_record_id.empty()) {
      return absl::InvalidArgumentError(
          absl::StrCat("usage record of provider \"", r.provider, "\" for task \"",
                       r.provider_task_id, "\": provider and usage_record_id are required"));
    }
  }
  return absl::OkStatus();
}

std::string JoinList(const std::vector<std::string>& items) { return absl::StrJoin(items, ","); }

std::vector<std::string> SplitList(absl::string_view s) {
  if (s.empty()) return {};
  return absl::StrSplit(s, ',');
}

std::string JoinCounts(const std::vector<std::pair<std::string, int64_t>>& counts) {
  std::vector<std::string> parts;
  parts.reserve(counts.size());
  for (const auto& [name, n] : counts) parts.push_back(absl::StrCat(name, "=", n));
  return absl::StrJoin(parts, ";");
}

std::vector<std::pair<std::string, int64_t>> SplitCounts(absl::string_view s) {
  std::vector<std::pair<std::string, int64_t>> counts;
  if (s.empty()) return counts;
  for (absl::string_view part : absl::StrSplit(s, ';')) {
    std::pair<absl::string_view, absl::string_view> kv = absl::StrSplit(part, '=');
    int64_t n = 0;
    if (!absl::SimpleAtoi(kv.second, &n)) continue;
    counts.emplace_back(std::string(kv.first), n);
  }
  return counts;
}

billing::TransactionKind LedgerEntryKind(absl::string_view kind) {
  if (kind == "RESERVE") return billing::TransactionKind::kReserve;
  if (kind == "SETTLE") return billing::TransactionKind::kSettle;
  return billing::TransactionKind::kRefund;
}

}  // namespace music::persistence::store_rows
