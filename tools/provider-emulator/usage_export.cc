#include "tools/provider-emulator/usage_export.h"

#include <algorithm>
#include <random>
#include <utility>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "tools/provider-emulator/usage_record.h"

namespace music::emulator {

absl::StatusOr<UsageDifferences> ParseUsageDifferences(
    const std::vector<std::pair<std::string, std::string>>& params) {
  UsageDifferences d;
  for (const auto& [name, value] : params) {
    int* count = name == "missing"     ? &d.missing
                 : name == "extra"     ? &d.extra
                 : name == "amount"    ? &d.amount
                 : name == "duplicate" ? &d.duplicate
                 : name == "refund"    ? &d.refund
                                       : nullptr;
    if (count != nullptr) {
      if (!absl::SimpleAtoi(value, count) || *count < 0 || *count > 1000) {
        return absl::InvalidArgumentError(
            absl::StrCat("parameter ", name, ": expected 0..1000, got \"", value, "\""));
      }
    } else if (name == "seed") {
      if (!absl::SimpleAtoi(value, &d.seed)) {
        return absl::InvalidArgumentError(
            absl::StrCat("parameter seed: expected an unsigned integer, got \"", value, "\""));
      }
    }
  }
  return d;
}

std::vector<UsageRecord> ApplyUsageDifferences(std::vector<UsageRecord> records,
                                                        const UsageDifferences& d) {
  std::sort(records.begin(), records.end(), [](const auto& a, const auto& b) {
    return std::tie(a.time, a.usage_record_id) < std::tie(b.time, b.usage_record_id);
  });
  // Which charges each difference takes: a seeded shuffle, so the same tasks every time.
  std::vector<size_t> charges;
  for (size_t i = 0; i < records.size(); ++i) {
    if (records[i].kind == UsageKind::kCharge) charges.push_back(i);
  }
  std::mt19937_64 rng(d.seed);
  std::shuffle(charges.begin(), charges.end(), rng);
  size_t next = 0;
  auto take = [&](int n) {
    std::vector<size_t> picked;
    for (; n > 0 && next < charges.size(); --n) picked.push_back(charges[next++]);
    return picked;
  };
  std::vector<bool> drop(records.size(), false);
  std::vector<UsageRecord> added;
  const std::vector<size_t> missing = take(d.missing);
  const std::vector<size_t> amount = take(d.amount);
  const std::vector<size_t> duplicate = take(d.duplicate);
  const std::vector<size_t> refund = take(d.refund);
  for (size_t i : missing) drop[i] = true;
  for (size_t i : amount) {
    records[i].amount_micros += 1'000'000;
    records[i].usage_record_id = UsageRecordIdOf(records[i]);
  }
  for (size_t i : duplicate) {
    UsageRecord again = records[i];
    again.time += absl::Seconds(1);
    again.usage_record_id = UsageRecordIdOf(again);
    added.push_back(std::move(again));
  }
  for (size_t i : refund) {
    UsageRecord back = records[i];
    back.kind = UsageKind::kRefund;
    back.time += absl::Seconds(2);
    back.usage_record_id = UsageRecordIdOf(back);
    added.push_back(std::move(back));
  }
  if (!records.empty()) {
    for (int n = 0; n < d.extra; ++n) {
      UsageRecord extra = records.back();
      extra.kind = UsageKind::kCharge;
      extra.provider_task_id = absl::StrCat("emu_extra_", d.seed, "_", n);
      extra.request_id.clear();
      extra.provider_billing_transaction_id.clear();
      extra.time += absl::Seconds(3 + n);
      extra.usage_record_id = UsageRecordIdOf(extra);
      added.push_back(std::move(extra));
    }
  }
  std::vector<UsageRecord> out;
  for (size_t i = 0; i < records.size(); ++i) {
    if (!drop[i]) out.push_back(std::move(records[i]));
  }
  for (auto& r : added) out.push_back(std::move(r));
  std::stable_sort(out.begin(), out.end(),
                   [](const auto& a, const auto& b) { return a.time < b.time; });
  return out;
}

}  // namespace music::emulator
