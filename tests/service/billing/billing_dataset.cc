#include "tests/service/billing/billing_dataset.h"

#include <random>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"

namespace music::billing::testing {
namespace {

struct ProviderShape {
  const char* provider;
  const char* model;
  const char* ptid_prefix;
  Currency currency;
  int64_t reserve;  // micros
  int64_t settle;   // micros charged on success
};

// Prices: TokenLab reserves an estimate and settles lower (seeds 000/001); beatra 80 credits for
// suno-5.5 (seed 002); PiAPI $0.05 (CONTRACT-NOTES); kie.ai 12 credits.
constexpr ProviderShape kShapes[] = {
    {"tokenlab", "suno_music", "ldtask_", Currency::kUsd, 100'000, 80'000},
    {"beatra", "suno-5.5", "bt_", Currency::kCredits, 80'000'000, 80'000'000},
    {"piapi", "music-u", "pi-", Currency::kUsd, 50'000, 50'000},
    {"kie", "V4_5", "kie", Currency::kCredits, 12'000'000, 12'000'000},
};

enum class Inject { kNone, kAmount, kMissingUsage, kMissingBtx, kDuplicate, kRefund, kCurrency };

Currency Other(Currency c) { return c == Currency::kUsd ? Currency::kCredits : Currency::kUsd; }

}  // namespace

std::string ExpectedKey(const TaskResult& r) {
  if (!r.task_id.empty()) return absl::StrCat(r.provider, "/", r.task_id);
  return absl::StrCat(r.provider, "/ptid:", r.provider_task_id);
}

Dataset GenerateDataset(const DatasetOptions& o) {
  Dataset d;
  std::mt19937_64 rng(o.seed);
  std::uniform_real_distribution<double> unit(0.0, 1.0);
  const int64_t reserve_hint = std::max(o.min_transactions, o.min_usage_records) * 11 / 10;
  d.ledger.reserve(reserve_hint * 2);
  d.usage.reserve(reserve_hint);
  absl::Time last = o.start;
  int64_t i = 0;
  Currency row_currency = Currency::kCredits;  // the current task's ledger currency
  auto add_row = [&](const ProviderShape& s, int64_t n, TransactionKind kind, int64_t amount,
                     absl::Time time, absl::string_view id_suffix, bool with_ptid) {
    BillingTransaction t;
    t.task_id = absl::StrFormat("task-%08d", n);
    t.billing_transaction_id =
        absl::StrCat("btx_", t.task_id, "_", TransactionKindName(kind), id_suffix);
    t.tenant = absl::StrCat("tenant-", n % 7);
    t.request_id = absl::StrFormat("req-%08d", n);
    t.provider = s.provider;
    // A reservation is written before the provider accepts the task: no provider task id yet.
    if (with_ptid) t.provider_task_id = absl::StrFormat("%s%08d", s.ptid_prefix, n);
    if (std::string(s.provider) == "tokenlab") {
      t.provider_billing_transaction_id = absl::StrFormat("tlbtx_%08d", n);
    }
    t.model = s.model;
    t.provider_model = s.model;
    t.endpoint = "/v1/music/generations";
    t.kind = kind;
    t.amount_micros = amount;
    t.currency = row_currency;
    t.time = time;
    d.ledger.push_back(std::move(t));
  };
  auto add_usage = [&](const ProviderShape& s, int64_t n, UsageKind kind, int64_t amount,
                       absl::Time time, Currency currency, int key_variant,
                       absl::string_view id_suffix) {
    UsageRecord r;
    r.provider = s.provider;
    r.model = s.model;
    r.kind = kind;
    r.amount_micros = amount;
    r.currency = currency;
    r.time = time;
    const std::string ptid = absl::StrFormat("%s%08d", s.ptid_prefix, n);
    if (std::string(s.provider) == "tokenlab") {
      // Exercise every exact key: task id, then billing transaction id, then request id only.
      if (key_variant == 0) r.provider_task_id = ptid;
      if (key_variant <= 1) r.provider_billing_transaction_id = absl::StrFormat("tlbtx_%08d", n);
      r.request_id = absl::StrFormat("req-%08d", n);
      r.endpoint = "/v1/music/generations";
      r.usage_record_id =
          absl::StrFormat("ur_%08d_%s%s", n, kind == UsageKind::kCharge ? "c" : "r", id_suffix);
    } else {
      r.provider_task_id = ptid;
      if (std::string(s.provider) == "kie") r.endpoint = "generate";
      r.usage_record_id = absl::StrCat(ptid, ":", UsageKindName(kind), id_suffix);
    }
    d.usage.push_back(std::move(r));
  };

  while (static_cast<int64_t>(d.ledger.size()) < o.min_transactions ||
         static_cast<int64_t>(d.usage.size()) < o.min_usage_records) {
    const int64_t n = i++;
    const ProviderShape& s = kShapes[n % 4];
    const absl::Time t0 = o.start + o.spacing * n;
    last = t0 + absl::Minutes(2);
    Inject inject = Inject::kNone;
    if (unit(rng) < o.discrepancy_rate) inject = static_cast<Inject>(1 + rng() % 6);
    bool failed = unit(rng) < o.failure_rate;
    if (inject == Inject::kRefund) failed = true;
    if (inject == Inject::kAmount || inject == Inject::kMissingUsage ||
        inject == Inject::kMissingBtx || inject == Inject::kDuplicate) {
      failed = false;
    }
    const std::string task_id = absl::StrFormat("task-%08d", n);
    const std::string ptid = absl::StrFormat("%s%08d", s.ptid_prefix, n);
    const bool tokenlab = std::string(s.provider) == "tokenlab";
    const bool piapi = std::string(s.provider) == "piapi";
    const bool per_task_format = std::string(s.provider) == "beatra" || piapi;
    const int key_variant = inject == Inject::kMissingBtx ? 0 : static_cast<int>((n / 4) % 3);
    const absl::Time t_end = t0 + absl::Minutes(1);
    // A refund-mismatch variant where the service billed a task the provider refunded.
    const bool service_kept = inject == Inject::kRefund && !piapi && (n / 4) % 2 == 1;

    // A currency mismatch goes on the side whose export can say it: PiAPI only bills USD and
    // kie.ai only credits, so for them the ledger is in the other currency.
    const bool fixed_currency = piapi || std::string(s.provider) == "kie";
    row_currency = inject == Inject::kCurrency && fixed_currency ? Other(s.currency) : s.currency;

    // The service's ledger.
    if (inject != Inject::kMissingBtx) {
      add_row(s, n, TransactionKind::kReserve, s.reserve, t0, "", false);
      if (failed && !service_kept) {
        add_row(s, n, TransactionKind::kRefund, s.reserve, t_end, "", true);
      } else {
        const int64_t settle = service_kept ? s.reserve : s.settle;
        add_row(s, n, TransactionKind::kSettle, settle, t_end, "", true);
        if (s.reserve > settle) {
          add_row(s, n, TransactionKind::kRefund, s.reserve - settle, t_end, "", true);
        }
        if (inject == Inject::kDuplicate && (per_task_format || n % 2 == 1)) {
          add_row(s, n, TransactionKind::kSettle, settle, t_end, "_dup", true);
        }
      }
    }

    // The provider's usage records.
    const Currency cur =
        inject == Inject::kCurrency && !fixed_currency ? Other(s.currency) : s.currency;
    const absl::Time tu = t0 + absl::Seconds(5);
    if (inject == Inject::kMissingUsage) {
      // nothing reported
    } else if (inject == Inject::kMissingBtx) {
      // A leaked charge, at an amount no settled task has, so no fallback can claim it.
      add_usage(s, n, UsageKind::kCharge, 2 * s.reserve, tu, cur, key_variant, "");
    } else if (piapi) {
      // PiAPI reports consume only: 0 for a failed task (CONTRACT-NOTES, error 10000).
      const bool charged = !failed || inject == Inject::kRefund;
      int64_t consume = charged ? s.settle : 0;
      if (inject == Inject::kAmount) consume += s.settle / 2;
      add_usage(s, n, UsageKind::kCharge, consume, tu, cur, key_variant, "");
    } else {
      int64_t charge = tokenlab ? s.reserve : s.settle;
      if (inject == Inject::kAmount) charge += s.settle / 2;
      add_usage(s, n, UsageKind::kCharge, charge, tu, cur, key_variant, "");
      if (inject == Inject::kDuplicate && !per_task_format && n % 2 == 0) {
        add_usage(s, n, UsageKind::kCharge, charge, tu + absl::Seconds(1), cur, key_variant, ":2");
      }
      const bool provider_refunds = failed && !(inject == Inject::kRefund && !service_kept);
      if (provider_refunds) {
        add_usage(s, n, UsageKind::kRefund, charge, t_end, cur, key_variant, "");
      } else if (tokenlab && !failed) {
        add_usage(s, n, UsageKind::kRefund, s.reserve - s.settle, t_end, cur, key_variant, "");
      }
    }

    Outcome expected = Outcome::kMatched;
    switch (inject) {
      case Inject::kNone:
        break;
      case Inject::kAmount:
        expected = Outcome::kAmountMismatch;
        break;
      case Inject::kMissingUsage:
        expected = Outcome::kMissingUsageRecord;
        break;
      case Inject::kMissingBtx:
        expected = Outcome::kMissingBillingTransaction;
        break;
      case Inject::kDuplicate:
        expected = Outcome::kDuplicate;
        break;
      case Inject::kRefund:
        expected = Outcome::kRefundMismatch;
        break;
      case Inject::kCurrency:
        expected = Outcome::kCurrencyMismatch;
        break;
    }
    if (expected != Outcome::kMatched) {
      d.expected[inject == Inject::kMissingBtx ? absl::StrCat(s.provider, "/ptid:", ptid)
                                               : absl::StrCat(s.provider, "/", task_id)] = expected;
    }
  }
  d.tasks = i;
  // In flight: reserved shortly before the end, possibly already charged by the provider.
  // They come two hours after the last finished task, so no finished task is within the grace.
  d.end = last + absl::Hours(3);
  for (int k = 0; k < o.in_flight_tasks; ++k) {
    const int64_t n = i + k;
    const ProviderShape& s = kShapes[n % 4];
    row_currency = s.currency;
    add_row(s, n, TransactionKind::kReserve, s.reserve, d.end - absl::Minutes(10), "", false);
    add_usage(s, n, UsageKind::kCharge, s.settle, d.end - absl::Minutes(9), s.currency, 0, "");
  }
  return d;
}

}  // namespace music::billing::testing
