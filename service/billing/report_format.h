// Renderings of a ReconcileReport: JSON (for machines and archives), CSV (one row per total and
// one per discrepancy, for spreadsheets) and a fixed-width summary table (for people). All three
// are pure functions of the report, so a deterministic report gives byte-identical files.
#ifndef MUSIC_SERVICE_BILLING_REPORT_FORMAT_H_
#define MUSIC_SERVICE_BILLING_REPORT_FORMAT_H_

#include <string>

#include "service/billing/reconciler.h"

namespace music::billing {

/// The whole report as one pretty-printed JSON document. Amounts are integers in micros
/// (`*_micros`) of the `currency` next to them; times RFC 3339 UTC; an open range end is null.
/// Every discrepancy lists both sides' records in full.
std::string ReportToJson(const ReconcileReport& report);

/// CSV (RFC 4180) with a header row. `row_type` is "total" (one per provider/model/day/currency,
/// with task counts per outcome) or "discrepancy" (one per task not MATCHED, record ids joined
/// by ';'). Amounts are decimals in units of `currency` ("0.05"), exact.
std::string ReportToCsv(const ReconcileReport& report);

/// A fixed-width text summary: the totals table, per-currency and USD-equivalent sums, and the
/// first `max_discrepancy_lines` discrepancies (all when negative).
std::string ReportSummary(const ReconcileReport& report, int max_discrepancy_lines = 20);

}  // namespace music::billing

#endif  // MUSIC_SERVICE_BILLING_REPORT_FORMAT_H_
