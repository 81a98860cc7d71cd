#include "service/billing/reconciler.h"

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <limits>
#include <tuple>
#include <utility>

#include "absl/container/flat_hash_map.h"
#include "absl/container/flat_hash_set.h"
#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "domain/ledger.h"
#include "domain/money.h"

namespace music::billing {
namespace {

constexpr uint32_t kNil = std::numeric_limits<uint32_t>::max();
constexpr uint32_t kAmbiguous = kNil - 1;

using Key2 = std::pair<absl::string_view, absl::string_view>;

// Keeps the smallest non-empty value: an attribute chosen this way does not depend on input order.
void KeepMin(absl::string_view& slot, absl::string_view v) {
  if (!v.empty() && (slot.empty() || v < slot)) slot = v;
}

void KeepCurrency(Currency c, bool& set, bool& mixed, Currency& slot) {
  if (!set) {
    set = true;
    slot = c;
  } else if (slot != c) {
    mixed = true;
    if (c < slot) slot = c;  // order-independent choice for the report
  }
}

// The sums of a task's usage records. Records are chained through `next_usage_row`.
struct UsageSums {
  int64_t charged = 0;
  int64_t refunded = 0;
  int32_t charges = 0;
  int32_t refunds = 0;
  uint32_t head = kNil;
  Currency currency = Currency::kCredits;
  bool currency_set = false;
  bool currency_mixed = false;

  bool empty() const { return head == kNil; }
  int64_t net() const { return charged - refunded; }
  void Add(const UsageRecord& r, uint32_t i, std::vector<uint32_t>& next) {
    next[i] = head;
    head = i;
    KeepCurrency(r.currency, currency_set, currency_mixed, currency);
    if (r.kind == UsageKind::kCharge) {
      charged += r.amount_micros;
      ++charges;
    } else {
      refunded += r.amount_micros;
      ++refunds;
    }
  }
  // Moves `o`'s records here (o is one of the few records left for the fallback).
  void Merge(const UsageSums& o, std::vector<uint32_t>& next) {
    charged += o.charged;
    refunded += o.refunded;
    charges += o.charges;
    refunds += o.refunds;
    if (o.currency_mixed) currency_mixed = true;
    if (o.currency_set) KeepCurrency(o.currency, currency_set, currency_mixed, currency);
    for (uint32_t i = o.head; i != kNil;) {
      const uint32_t after = next[i];
      next[i] = head;
      head = i;
      i = after;
    }
  }
};

// The ledger rows of one task and the usage records paired with them. Rows are chained through
// `next_row`, so a task costs no allocation of its own. A task that failed over to another
// provider has its RESERVE under the provider first tried and its SETTLE/REFUND under the one
// that ran it: the group is the task's, and its provider and model are those of its SETTLE/REFUND
// rows (the RESERVE's only while the task is in flight).
struct ServiceGroup {
  absl::string_view provider;
  absl::string_view reserve_provider;  // from RESERVE rows
  absl::string_view reserve_model;
  absl::string_view reserve_provider_model;
  absl::string_view task_id;
  absl::string_view provider_task_id;
  absl::string_view billing_transaction_id;  // the provider's
  absl::string_view request_id;
  absl::string_view model;
  absl::string_view provider_model;
  uint32_t head = kNil;
  int32_t settles = 0;
  int32_t refunds = 0;
  int64_t reserved = 0;
  int64_t settled = 0;
  int64_t refunded = 0;
  absl::Time time = absl::InfiniteFuture();
  Currency currency = Currency::kCredits;
  bool currency_set = false;
  bool currency_mixed = false;
  MatchKey matched_by = MatchKey::kNone;
  UsageSums usage;

  // The model the providers' records name: the provider's model id, else the catalog name.
  absl::string_view match_model() const { return provider_model.empty() ? model : provider_model; }
};

// Usage records that no exact key paired, grouped per provider task (or the best key they have).
struct UsageGroup {
  absl::string_view provider;
  int key_kind = 0;  // 0 task id, 1 billing transaction id, 2 request id, 3 usage record id
  absl::string_view key;
  absl::string_view provider_task_id;
  absl::string_view model;
  absl::Time time = absl::InfiniteFuture();
  UsageSums usage;
  bool paired = false;
};

int64_t FloorDiv(int64_t a, int64_t b) {
  int64_t q = a / b;
  if ((a % b != 0) && ((a < 0) != (b < 0))) --q;
  return q;
}

int64_t DayNumber(absl::Time t) { return FloorDiv(absl::ToUnixSeconds(t), 86400); }

struct TotalsKey {
  absl::string_view provider;
  absl::string_view model;
  int64_t day;
  int currency;
  template <typename H>
  friend H AbslHashValue(H h, const TotalsKey& k) {
    return H::combine(std::move(h), k.provider, k.model, k.day, k.currency);
  }
  friend bool operator==(const TotalsKey& a, const TotalsKey& b) {
    return a.provider == b.provider && a.model == b.model && a.day == b.day &&
           a.currency == b.currency;
  }
};

// Inserts key -> group, marking a key that two groups claim as ambiguous.
void IndexKey(absl::flat_hash_map<Key2, uint32_t>& index, absl::string_view provider,
              absl::string_view key, uint32_t group) {
  if (key.empty()) return;
  auto [it, inserted] = index.emplace(Key2(provider, key), group);
  if (!inserted && it->second != group) it->second = kAmbiguous;
}

uint32_t Lookup(const absl::flat_hash_map<Key2, uint32_t>& index, absl::string_view provider,
                absl::string_view key) {
  if (key.empty()) return kNil;
  auto it = index.find(Key2(provider, key));
  if (it == index.end() || it->second == kAmbiguous) return kNil;
  return it->second;
}

// The outcome of one task from its two sides' sums; `g` is null when only the provider knows
// the task.
std::pair<Outcome, std::string> Classify(const ServiceGroup* g, const UsageSums& s,
                                         const ReconcileOptions& o, bool detail) {
  const int64_t billed = g != nullptr ? g->settled : 0;
  const int64_t net = s.net();
  auto text = [&](auto&&... parts) { return detail ? absl::StrCat(parts...) : std::string(); };
  // Currencies first: amounts in different units cannot be compared.
  if ((g != nullptr && g->currency_mixed) || s.currency_mixed) {
    return {Outcome::kCurrencyMismatch, text("one side mixes currencies")};
  }
  if (g != nullptr && !s.empty() && g->currency_set && g->currency != s.currency) {
    return {Outcome::kCurrencyMismatch, text("service bills ", CurrencyName(g->currency),
                                             ", provider reports ", CurrencyName(s.currency))};
  }
  if (s.empty()) {
    if (!WithinTolerance(billed, 0, o)) {
      return {Outcome::kMissingUsageRecord,
              text("service billed ", FormatMicros(billed), ", provider reported nothing")};
    }
    if (g->settles > 1 || g->refunds > 1) {
      return {Outcome::kDuplicate, text("ledger has ", g->settles, " SETTLE and ", g->refunds,
                                        " REFUND rows for the task")};
    }
    return {Outcome::kMatched, ""};
  }
  const bool unbilled = g == nullptr || (g->settles == 0 && g->refunds == 0);
  if (unbilled && !WithinTolerance(net, 0, o)) {
    return {Outcome::kMissingBillingTransaction,
            text("provider charged ", FormatMicros(net),
                 g == nullptr ? ", the service has no ledger row for the task"
                              : ", the service only reserved (never settled)")};
  }
  if ((g != nullptr && (g->settles > 1 || g->refunds > 1)) || s.charges > 1 || s.refunds > 1) {
    return {Outcome::kDuplicate, text("ledger: ", g != nullptr ? g->settles : 0, " SETTLE, ",
                                      g != nullptr ? g->refunds : 0, " REFUND; provider: ",
                                      s.charges, " charges, ", s.refunds, " refunds")};
  }
  if (WithinTolerance(billed, net, o)) return {Outcome::kMatched, ""};
  const bool service_refunded = g != nullptr && billed == 0 && g->refunded > 0;
  const bool provider_refunded = s.refunded > 0 && net <= 0;
  if (service_refunded || provider_refunded) {
    return {Outcome::kRefundMismatch,
            text(service_refunded ? "service refunded the task" : "service billed it",
                 provider_refunded ? ", provider refunded it" : ", provider kept ",
                 provider_refunded ? "" : FormatMicros(net))};
  }
  return {Outcome::kAmountMismatch,
          text("billed ", FormatMicros(billed), ", provider net ", FormatMicros(net),
               " (difference ", FormatMicros(net - billed), ")")};
}

struct TotalsAcc {
  TotalsKey key;
  Totals totals;
};

}  // namespace

absl::string_view OutcomeName(Outcome o) {
  switch (o) {
    case Outcome::kMatched:
      return "MATCHED";
    case Outcome::kAmountMismatch:
      return "AMOUNT_MISMATCH";
    case Outcome::kMissingUsageRecord:
      return "MISSING_USAGE_RECORD";
    case Outcome::kMissingBillingTransaction:
      return "MISSING_BILLING_TRANSACTION";
    case Outcome::kDuplicate:
      return "DUPLICATE";
    case Outcome::kRefundMismatch:
      return "REFUND_MISMATCH";
    case Outcome::kCurrencyMismatch:
      return "CURRENCY_MISMATCH";
  }
  return "UNKNOWN";
}

absl::string_view MatchKeyName(MatchKey k) {
  switch (k) {
    case MatchKey::kNone:
      return "NONE";
    case MatchKey::kProviderTaskId:
      return "PROVIDER_TASK_ID";
    case MatchKey::kBillingTransactionId:
      return "BILLING_TRANSACTION_ID";
    case MatchKey::kRequestId:
      return "REQUEST_ID";
    case MatchKey::kFallback:
      return "FALLBACK";
  }
  return "UNKNOWN";
}

bool WithinTolerance(int64_t a, int64_t b, const ReconcileOptions& o) {
  // |a - b| in unsigned: never overflows for int64 inputs.
  const uint64_t diff = a >= b ? static_cast<uint64_t>(a) - static_cast<uint64_t>(b)
                               : static_cast<uint64_t>(b) - static_cast<uint64_t>(a);
  if (diff <= static_cast<uint64_t>(std::max<int64_t>(o.tolerance_micros, 0))) return true;
  if (o.tolerance_percent <= 0) return false;
  const long double ref =
      std::max(std::fabs(static_cast<long double>(a)), std::fabs(static_cast<long double>(b)));
  return static_cast<long double>(diff) <= ref * o.tolerance_percent / 100.0L;
}

namespace {

// The options Reconcile refuses; checked before any work.
absl::Status ValidateOptions(const ReconcileOptions& o, size_t transactions, size_t usage) {
  if (o.end <= o.start) return absl::InvalidArgumentError("the range end must be after its start");
  if (o.tolerance_micros < 0 || o.tolerance_percent < 0 || std::isnan(o.tolerance_percent)) {
    return absl::InvalidArgumentError("tolerances must be >= 0");
  }
  if (o.in_flight_grace < absl::ZeroDuration() || o.fallback_window < absl::ZeroDuration()) {
    return absl::InvalidArgumentError("in_flight_grace and fallback_window must be >= 0");
  }
  if (o.credits_per_usd <= 0) return absl::InvalidArgumentError("credits_per_usd must be > 0");
  // Rows are numbered in uint32 with the two top values reserved (kNil, kAmbiguous).
  if (transactions >= kAmbiguous || usage >= kAmbiguous) {
    return absl::InvalidArgumentError("too many records for one run");
  }
  return absl::OkStatus();
}

// One run of Reconcile, phase by phase (Run() calls them in order). The phases share the groups
// they build, so they are members over one state rather than functions passing it along; each
// phase documents what it needs from the ones before. The inputs are never copied: groups and
// indexes hold string_views and row numbers into them.
class Reconciliation {
 public:
  Reconciliation(absl::Span<const BillingTransaction> txs, absl::Span<const UsageRecord> usage,
                 const ReconcileOptions& o)
      : txs_(txs),
        usage_(usage),
        o_(o),
        next_row_(txs.size(), kNil),
        next_usage_row_(usage.size(), kNil) {
    report_.options = o;
    report_.transactions_in = static_cast<int64_t>(txs.size());
    report_.usage_records_in = static_cast<int64_t>(usage.size());
  }

  ReconcileReport Run() {
    GroupLedgerByTask();
    PairByProviderTaskId();
    PairBySecondKeys();
    OrderUnpaired();
    if (o_.fallback && o_.fallback_window > absl::ZeroDuration() && !unpaired_.empty()) {
      PairByFallback();
    }
    ClassifyServiceTasks();
    ClassifyProviderOnlyTasks();
    FinishTotals();
    SortDiscrepancies();
    FinishCurrencyTotals();
    return std::move(report_);
  }

 private:
  // Phase 1. The service side, one group per task_id, with the task's keys (the smallest when
  // its rows disagree, so the choice does not depend on input order), its sums and its time. A
  // task is the unit of comparison, and a task that failed over has rows under two providers:
  // grouping by task_id alone keeps it whole. A task still in flight names its provider only on
  // its RESERVE, so that one stands in until a SETTLE/REFUND names the provider that ran it.
  // A failover released the task's reservation and reserved again at the next provider
  // (domain/ledger.h): only the last reservation is what the task cost; the released ones net to
  // zero and may be in another currency, so they are left out.
  void GroupLedgerByTask() {
    absl::flat_hash_map<absl::string_view, int32_t> last_reservation;  // failed-over tasks only
    for (const BillingTransaction& t : txs_) {
      const int32_t n = ReservationIndexOf(t.billing_transaction_id, t.task_id);
      if (n > 0) {
        int32_t& last = last_reservation[t.task_id];
        last = std::max(last, n);
      }
    }
    absl::flat_hash_map<Key2, uint32_t> by_task;
    by_task.reserve(txs_.size() / 2 + 1);
    sgroups_.reserve(txs_.size() / 2 + 1);
    for (uint32_t i = 0; i < txs_.size(); ++i) {
      const BillingTransaction& t = txs_[i];
      if (!last_reservation.empty()) {
        auto last = last_reservation.find(t.task_id);
        if (last != last_reservation.end() &&
            ReservationIndexOf(t.billing_transaction_id, t.task_id) < last->second) {
          continue;
        }
      }
      auto [it, inserted] = by_task.emplace(Key2(absl::string_view(), t.task_id),
                                            static_cast<uint32_t>(sgroups_.size()));
      if (inserted) {
        sgroups_.emplace_back();
        sgroups_.back().task_id = t.task_id;
      }
      ServiceGroup& g = sgroups_[it->second];
      next_row_[i] = g.head;
      g.head = i;
      KeepMin(g.provider_task_id, t.provider_task_id);
      KeepMin(g.billing_transaction_id, t.provider_billing_transaction_id);
      KeepMin(g.request_id, t.request_id);
      if (t.kind == TransactionKind::kReserve) {
        KeepMin(g.reserve_provider, t.provider);
        KeepMin(g.reserve_model, t.model);
        KeepMin(g.reserve_provider_model, t.provider_model);
      } else {
        KeepMin(g.provider, t.provider);
        KeepMin(g.model, t.model);
        KeepMin(g.provider_model, t.provider_model);
      }
      KeepCurrency(t.currency, g.currency_set, g.currency_mixed, g.currency);
      g.time = std::min(g.time, t.time);
      newest_ = std::max(newest_, t.time);
      switch (t.kind) {
        case TransactionKind::kReserve:
          g.reserved += t.amount_micros;
          break;
        case TransactionKind::kSettle:
          g.settled += t.amount_micros;
          ++g.settles;
          break;
        case TransactionKind::kRefund:
          g.refunded += t.amount_micros;
          ++g.refunds;
          break;
      }
    }
    for (ServiceGroup& g : sgroups_) {
      if (g.provider.empty()) {  // in flight: only the RESERVE names a provider yet
        g.provider = g.reserve_provider;
        g.model = g.reserve_model;
        g.provider_model = g.reserve_provider_model;
      }
    }
  }

  // Adds usage record `i` to task `s`'s sums; the task keeps the best (smallest) key it was
  // paired by.
  void PairRecord(uint32_t i, uint32_t s, MatchKey how) {
    ServiceGroup& g = sgroups_[s];
    g.usage.Add(usage_[i], i, next_usage_row_);
    if (g.matched_by == MatchKey::kNone || how < g.matched_by) g.matched_by = how;
  }

  // Phase 2. Pairs usage records by (provider, provider task id), the key every provider gives
  // and most records pair by, straight into their task's sums. A key two tasks share is
  // ambiguous and pairs nothing. What is left goes to `retry_`; the providers whose leftovers
  // carry a second key (TokenLab's billing transaction id or request id) are noted so phase 3
  // builds its indexes for them only. Also finds the newest record time (the default as_of).
  void PairByProviderTaskId() {
    absl::flat_hash_map<Key2, uint32_t> by_ptid;
    by_ptid.reserve(sgroups_.size());
    for (uint32_t s = 0; s < sgroups_.size(); ++s) {
      IndexKey(by_ptid, sgroups_[s].provider, sgroups_[s].provider_task_id, s);
    }
    for (uint32_t i = 0; i < usage_.size(); ++i) {
      const UsageRecord& r = usage_[i];
      newest_ = std::max(newest_, r.time);
      const uint32_t s = Lookup(by_ptid, r.provider, r.provider_task_id);
      if (s != kNil) {
        PairRecord(i, s, MatchKey::kProviderTaskId);
      } else {
        retry_.push_back(i);
        if (!r.provider_billing_transaction_id.empty() || !r.request_id.empty()) {
          retry_providers_.insert(r.provider);
        }
      }
    }
  }

  // Phase 3. The second keys, in order: the provider's billing transaction id, then the request
  // id (TokenLab, seeds 000/001). What no exact key pairs is grouped per provider task for the
  // fallback and the report, by the first key the record has (its kind keeps a task id apart
  // from an equal request id), so a task's charge and refund stay together.
  void PairBySecondKeys() {
    absl::flat_hash_map<Key2, uint32_t> by_btx, by_request;
    if (!retry_providers_.empty()) {
      for (uint32_t s = 0; s < sgroups_.size(); ++s) {
        const ServiceGroup& g = sgroups_[s];
        if (!retry_providers_.contains(g.provider)) continue;
        IndexKey(by_btx, g.provider, g.billing_transaction_id, s);
        IndexKey(by_request, g.provider, g.request_id, s);
      }
    }
    using UKey = std::tuple<absl::string_view, int, absl::string_view>;
    absl::flat_hash_map<UKey, uint32_t> by_key;
    for (uint32_t i : retry_) {
      const UsageRecord& r = usage_[i];
      uint32_t s = Lookup(by_btx, r.provider, r.provider_billing_transaction_id);
      if (s != kNil) {
        PairRecord(i, s, MatchKey::kBillingTransactionId);
        continue;
      }
      s = Lookup(by_request, r.provider, r.request_id);
      if (s != kNil) {
        PairRecord(i, s, MatchKey::kRequestId);
        continue;
      }
      const absl::string_view keys[] = {r.provider_task_id, r.provider_billing_transaction_id,
                                        r.request_id, r.usage_record_id};
      int kind = 0;
      while (kind < 3 && keys[kind].empty()) ++kind;
      const absl::string_view key = keys[kind];
      auto [it, inserted] =
          by_key.emplace(UKey(r.provider, kind, key), static_cast<uint32_t>(ugroups_.size()));
      if (inserted) {
        ugroups_.emplace_back();
        ugroups_.back().provider = r.provider;
        ugroups_.back().key_kind = kind;
        ugroups_.back().key = key;
      }
      UsageGroup& ug = ugroups_[it->second];
      KeepMin(ug.provider_task_id, r.provider_task_id);
      KeepMin(ug.model, r.model);
      ug.time = std::min(ug.time, r.time);
      ug.usage.Add(r, i, next_usage_row_);
    }
    std::vector<uint32_t>().swap(retry_);
  }

  // Phase 4a. The unpaired provider groups in a stable order (provider, model, time, key): the
  // fallback is greedy, so this order is what makes its choices, and the report, independent of
  // the input order.
  void OrderUnpaired() {
    unpaired_.resize(ugroups_.size());
    for (uint32_t u = 0; u < ugroups_.size(); ++u) unpaired_[u] = u;
    std::sort(unpaired_.begin(), unpaired_.end(), [&](uint32_t a, uint32_t b) {
      const UsageGroup& x = ugroups_[a];
      const UsageGroup& y = ugroups_[b];
      return std::tie(x.provider, x.model, x.time, x.key, x.key_kind) <
             std::tie(y.provider, y.model, y.time, y.key, y.key_kind);
    });
  }

  // Phase 4b. The fallback for providers whose records lost every key the ledger has: a task no
  // record was paired with, of the same provider and model, in the same currency, billed within
  // the tolerance of the group's net and timed within the window. The closest in time wins (ties:
  // the earlier task, then the smaller task id, by the candidates' sort).
  void PairByFallback() {
    absl::flat_hash_map<Key2, std::vector<uint32_t>> candidates;
    for (uint32_t s = 0; s < sgroups_.size(); ++s) {
      const ServiceGroup& g = sgroups_[s];
      if (g.usage.empty() && (g.settles > 0 || g.refunds > 0)) {
        candidates[Key2(g.provider, g.match_model())].push_back(s);
      }
    }
    for (auto& [key, list] : candidates) {
      std::sort(list.begin(), list.end(), [&](uint32_t a, uint32_t b) {
        return std::tie(sgroups_[a].time, sgroups_[a].task_id) <
               std::tie(sgroups_[b].time, sgroups_[b].task_id);
      });
    }
    for (uint32_t u : unpaired_) {
      UsageGroup& ug = ugroups_[u];
      auto it = candidates.find(Key2(ug.provider, ug.model));
      if (it == candidates.end() || ug.model.empty()) continue;
      const std::vector<uint32_t>& list = it->second;
      auto lo = std::lower_bound(list.begin(), list.end(), ug.time - o_.fallback_window,
                                 [&](uint32_t s, absl::Time t) { return sgroups_[s].time < t; });
      uint32_t best = kNil;
      absl::Duration best_dt = absl::InfiniteDuration();
      for (auto p = lo; p != list.end() && sgroups_[*p].time <= ug.time + o_.fallback_window; ++p) {
        const ServiceGroup& g = sgroups_[*p];
        if (!g.usage.empty() || g.currency != ug.usage.currency) continue;
        if (!WithinTolerance(g.settled, ug.usage.net(), o_)) continue;
        const absl::Duration dt = absl::AbsDuration(g.time - ug.time);
        if (dt < best_dt) {
          best_dt = dt;
          best = *p;
        }
      }
      if (best != kNil) {
        sgroups_[best].usage.Merge(ug.usage, next_usage_row_);
        sgroups_[best].matched_by = MatchKey::kFallback;
        ug.paired = true;
      }
    }
  }

  // In flight is judged against as_of (default: just after the newest input time), not the range
  // end, so a run made after the day still reconciles the day's last tasks.
  absl::Time InFlightCutoff() const {
    return (o_.as_of == absl::InfiniteFuture() ? newest_ + absl::Nanoseconds(1) : o_.as_of) -
           o_.in_flight_grace;
  }

  bool ProviderSelected(absl::string_view p) const {
    return o_.providers.empty() ||
           std::find(o_.providers.begin(), o_.providers.end(), p) != o_.providers.end();
  }

  // Phase 5a. Every service task in range and of a selected provider. A reservation-only task
  // younger than the cutoff has not finished (left for a later run); an older one is a stale
  // reservation, reconciled with billed = 0 so a provider charge for it shows as leakage.
  void ClassifyServiceTasks() {
    const absl::Time cutoff = InFlightCutoff();
    for (const ServiceGroup& g : sgroups_) {
      if (!ProviderSelected(g.provider) || g.time < o_.start || g.time >= o_.end) continue;
      if (g.settles == 0 && g.refunds == 0) {
        if (g.time >= cutoff) {
          ++report_.in_flight_excluded;
          continue;
        }
        ++report_.stale_reservations;
      }
      absl::string_view model = g.match_model();
      if (model.empty() && !g.usage.empty()) model = usage_[g.usage.head].model;
      Account(&g, g.usage, g.time, g.provider, model, g.provider_task_id, g.matched_by);
    }
  }

  // Phase 5b. Provider tasks that nothing paired, in the stable order of phase 4a. One younger
  // than the cutoff is likely the charge of a task the service still only holds (its RESERVE
  // predates the provider task id): judged in a later run.
  void ClassifyProviderOnlyTasks() {
    const absl::Time cutoff = InFlightCutoff();
    for (uint32_t u : unpaired_) {
      const UsageGroup& ug = ugroups_[u];
      if (ug.paired) continue;
      if (!ProviderSelected(ug.provider) || ug.time < o_.start || ug.time >= o_.end) continue;
      if (ug.time >= cutoff) {
        ++report_.in_flight_usage_excluded;
        continue;
      }
      Account(nullptr, ug.usage, ug.time, ug.provider, ug.model, ug.provider_task_id,
              MatchKey::kNone);
    }
  }

  const std::string& DayName(int64_t day) {
    auto [it, inserted] = day_names_.emplace(day, "");
    if (inserted) it->second = UtcDay(absl::FromUnixSeconds(day * 86400));
    return it->second;
  }

  // The totals row of (provider, model, day, currency), created on first use.
  Totals& TotalsRow(absl::string_view provider, absl::string_view model, int64_t day, int c) {
    TotalsKey key{provider, model, day, c};
    auto [it, inserted] = totals_index_.emplace(key, static_cast<uint32_t>(totals_.size()));
    if (inserted) totals_.push_back(TotalsAcc{key, Totals{}});
    return totals_[it->second].totals;
  }

  // Classifies one task (`g` null when only the provider knows it), adds it to the counts and
  // totals, and keeps it with both sides' records when it is a discrepancy.
  void Account(const ServiceGroup* g, const UsageSums& s, absl::Time time,
               absl::string_view provider, absl::string_view model,
               absl::string_view provider_task_id, MatchKey how) {
    const Currency currency = g != nullptr && g->currency_set ? g->currency : s.currency;
    const int64_t billed = g != nullptr ? g->settled : 0;
    const int64_t net = s.net();
    // Only discrepancies pay for the explanation text.
    std::pair<Outcome, std::string> verdict = Classify(g, s, o_, /*detail=*/false);
    if (verdict.first != Outcome::kMatched) verdict = Classify(g, s, o_, /*detail=*/true);
    const Outcome outcome = verdict.first;
    const int64_t day = DayNumber(time);
    ++report_.tasks;
    ++report_.outcome_tasks[static_cast<int>(outcome)];
    ++report_.matched_by[static_cast<int>(how)];
    // Each side's amount goes to the totals of its own currency, so every row stays in one unit;
    // a currency mismatch thus puts the provider's amount on a row of the provider's currency.
    const int ci = static_cast<int>(currency);
    const int pi = static_cast<int>(s.currency_set ? s.currency : currency);
    ++tasks_by_currency_[ci];
    billed_by_currency_[ci] += billed;
    provider_by_currency_[pi] += net;
    Totals& t = TotalsRow(provider, model, day, ci);
    ++t.tasks;
    ++t.by_outcome[static_cast<int>(outcome)].tasks;
    t.by_outcome[static_cast<int>(outcome)].billed_micros += billed;
    t.billed_micros += billed;
    Totals& pt = TotalsRow(provider, model, day, pi);
    pt.by_outcome[static_cast<int>(outcome)].provider_micros += net;
    pt.provider_micros += net;
    if (outcome == Outcome::kMatched) return;

    TaskResult r;
    r.outcome = outcome;
    r.matched_by = how;
    r.provider = std::string(provider);
    r.model = std::string(model);
    r.day = DayName(day);
    r.currency = currency;
    r.billed_micros = billed;
    r.provider_charge_micros = s.charged;
    r.provider_refund_micros = s.refunded;
    r.difference_micros = net - billed;
    r.detail = std::move(verdict.second);
    r.provider_task_id = std::string(provider_task_id);
    if (g != nullptr) {
      r.task_id = std::string(g->task_id);
      r.reserved_micros = g->reserved;
      r.service_refund_micros = g->refunded;
      for (uint32_t i = g->head; i != kNil; i = next_row_[i]) r.transactions.push_back(&txs_[i]);
    }
    absl::string_view usage_ptid;
    for (uint32_t i = s.head; i != kNil; i = next_usage_row_[i]) {
      r.usage.push_back(&usage_[i]);
      KeepMin(usage_ptid, usage_[i].provider_task_id);
    }
    if (r.provider_task_id.empty()) r.provider_task_id = std::string(usage_ptid);
    std::sort(r.transactions.begin(), r.transactions.end(),
              [](const BillingTransaction* a, const BillingTransaction* b) {
                return std::tie(a->kind, a->billing_transaction_id, a->time) <
                       std::tie(b->kind, b->billing_transaction_id, b->time);
              });
    std::sort(r.usage.begin(), r.usage.end(), [](const UsageRecord* a, const UsageRecord* b) {
      return std::tie(a->kind, a->usage_record_id, a->time) <
             std::tie(b->kind, b->usage_record_id, b->time);
    });
    report_.discrepancies.push_back(std::move(r));
  }

  // Phase 6a. The totals rows in a stable order (provider, model, day, currency), with their
  // names filled in: rows were keyed by views and day numbers while counting.
  void FinishTotals() {
    std::sort(totals_.begin(), totals_.end(), [](const TotalsAcc& a, const TotalsAcc& b) {
      return std::tie(a.key.provider, a.key.model, a.key.day, a.key.currency) <
             std::tie(b.key.provider, b.key.model, b.key.day, b.key.currency);
    });
    report_.totals.reserve(totals_.size());
    for (TotalsAcc& acc : totals_) {
      Totals& t = acc.totals;
      t.provider = std::string(acc.key.provider);
      t.model = std::string(acc.key.model);
      t.day = DayName(acc.key.day);
      t.currency = static_cast<Currency>(acc.key.currency);
      t.difference_micros = t.provider_micros - t.billed_micros;
      report_.totals.push_back(std::move(t));
    }
  }

  // Phase 6b. Discrepancies in a stable order (provider, day, model, outcome, task ids), so the
  // report does not depend on the input order.
  void SortDiscrepancies() {
    std::sort(report_.discrepancies.begin(), report_.discrepancies.end(),
              [](const TaskResult& a, const TaskResult& b) {
                // The first record ids break ties between tasks with no task id of either kind.
                auto first_ids = [](const TaskResult& r) {
                  return std::make_pair(
                      r.transactions.empty()
                          ? absl::string_view()
                          : absl::string_view(r.transactions[0]->billing_transaction_id),
                      r.usage.empty() ? absl::string_view()
                                      : absl::string_view(r.usage[0]->usage_record_id));
                };
                const auto ka = first_ids(a);
                const auto kb = first_ids(b);
                return std::tie(a.provider, a.day, a.model, a.outcome, a.task_id,
                                a.provider_task_id,
                                ka) < std::tie(b.provider, b.day, b.model, b.outcome, b.task_id,
                                               b.provider_task_id, kb);
              });
  }

  // Phase 6c. The per-currency sums and the common-unit (USD) totals at credits_per_usd.
  void FinishCurrencyTotals() {
    for (int ci = 0; ci < 2; ++ci) {
      if (tasks_by_currency_[ci] == 0 && provider_by_currency_[ci] == 0) continue;
      CurrencyTotals c;
      c.currency = static_cast<Currency>(ci);
      c.tasks = tasks_by_currency_[ci];
      c.billed_micros = billed_by_currency_[ci];
      c.provider_micros = provider_by_currency_[ci];
      c.difference_micros = c.provider_micros - c.billed_micros;
      report_.currency.push_back(c);
    }
    const int credits = static_cast<int>(Currency::kCredits);
    const int usd = static_cast<int>(Currency::kUsd);
    report_.billed_usd_micros =
        billed_by_currency_[usd] + billed_by_currency_[credits] / o_.credits_per_usd;
    report_.provider_usd_micros =
        provider_by_currency_[usd] + provider_by_currency_[credits] / o_.credits_per_usd;
    report_.difference_usd_micros = report_.provider_usd_micros - report_.billed_usd_micros;
  }

  const absl::Span<const BillingTransaction> txs_;
  const absl::Span<const UsageRecord> usage_;
  const ReconcileOptions& o_;
  ReconcileReport report_;
  // The newest time in the inputs (phases 1 and 2): the default as_of.
  absl::Time newest_ = absl::InfinitePast();

  // Phase 1: the service tasks; a task's ledger rows are chained through next_row_.
  std::vector<ServiceGroup> sgroups_;
  std::vector<uint32_t> next_row_;
  // Phases 2-4: a task's (or provider group's) usage records are chained through
  // next_usage_row_.
  std::vector<uint32_t> next_usage_row_;
  // Phase 2 -> 3: records no provider task id paired, and the providers among them with a
  // second key.
  std::vector<uint32_t> retry_;
  absl::flat_hash_set<absl::string_view> retry_providers_;
  // Phase 3 -> 5: the provider groups no exact key paired, and their stable order (phase 4a).
  std::vector<UsageGroup> ugroups_;
  std::vector<uint32_t> unpaired_;

  // Phases 5-6: the totals rows, day names, and per-currency sums (index: Currency).
  absl::flat_hash_map<TotalsKey, uint32_t> totals_index_;
  std::vector<TotalsAcc> totals_;
  absl::flat_hash_map<int64_t, std::string> day_names_;
  std::array<int64_t, 2> billed_by_currency_{}, provider_by_currency_{}, tasks_by_currency_{};
};

}  // namespace

absl::StatusOr<ReconcileReport> Reconcile(absl::Span<const BillingTransaction> txs,
                                          absl::Span<const UsageRecord> usage,
                                          const ReconcileOptions& o) {
  if (absl::Status st = ValidateOptions(o, txs.size(), usage.size()); !st.ok()) return st;
  return Reconciliation(txs, usage, o).Run();
}

}  // namespace music::billing
