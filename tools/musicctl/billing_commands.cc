#include "tools/musicctl/billing_commands.h"

#include <fstream>
#include <iostream>
#include <iterator>
#include <optional>
#include <sstream>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "domain/clock.h"
#include "grpcpp/client_context.h"
#include "domain/money.h"
#include "tools/musicctl/format.h"
#include "tools/musicctl/rpc_error.h"

namespace music::musicctl {
namespace {

using music::v1::BillingService;
using music::v1::ReconciliationService;

void SetRange(const Options& options, google::protobuf::Timestamp* start,
              google::protobuf::Timestamp* end) {
  auto set = [](absl::Time t, google::protobuf::Timestamp* ts) {
    const int64_t ns = absl::ToUnixNanos(t);
    ts->set_seconds(ns / 1'000'000'000);
    ts->set_nanos(static_cast<int32_t>(ns % 1'000'000'000));
  };
  if (options.start != absl::InfinitePast()) set(options.start, start);
  if (options.end != absl::InfiniteFuture()) set(options.end, end);
}

std::optional<std::string> ReadInput(const std::string& path) {
  if (path == "-") {
    return std::string(std::istreambuf_iterator<char>(std::cin), std::istreambuf_iterator<char>());
  }
  std::ifstream in(path, std::ios::binary);
  if (!in) return std::nullopt;
  std::ostringstream contents;
  contents << in.rdbuf();
  if (in.bad()) return std::nullopt;
  return contents.str();
}

std::string TransactionKindName(music::v1::BillingTransactionKind k) {
  const std::string& name = music::v1::BillingTransactionKind_Name(k);
  return std::string(absl::StripPrefix(name, "BILLING_TRANSACTION_KIND_"));
}

int List(const Options& options, BillingService::StubInterface& stub, const Console& console) {
  music::v1::ListBillingTransactionsRequest request;
  SetRange(options, request.mutable_start_time(), request.mutable_end_time());
  request.set_page_size(options.page_size);
  request.set_page_token(options.page_token);
  music::v1::ListBillingTransactionsResponse all;
  while (true) {
    grpc::ClientContext context;
    SetRpcDeadline(context, options.timeout);
    music::v1::ListBillingTransactionsResponse page;
    grpc::Status status = stub.ListBillingTransactions(&context, request, &page);
    if (!status.ok()) return ReportRpcError(status, console);
    for (auto& t : *page.mutable_transactions()) *all.add_transactions() = std::move(t);
    all.set_next_page_token(page.next_page_token());
    if (!options.all || page.next_page_token().empty() ||
        page.next_page_token() == request.page_token()) {
      break;
    }
    request.set_page_token(page.next_page_token());
  }
  if (console.json) {
    *console.out << ToJsonLine(all) << std::flush;
    return kExitOk;
  }
  if (all.transactions().empty()) {
    *console.out << "No billing transactions.\n";
  } else {
    *console.out << absl::StrFormat("%-20s  %-7s  %14s  %-7s  %-30s  %-8s  %s\n", "TIME", "KIND",
                                    "AMOUNT", "UNIT", "TASK", "PROVIDER", "MODEL");
    for (const auto& t : all.transactions()) {
      const absl::Time time =
          absl::FromUnixSeconds(t.time().seconds()) + absl::Nanoseconds(t.time().nanos());
      *console.out << absl::StrFormat("%-20s  %-7s  %14s  %-7s  %-30s  %-8s  %s\n",
                                      absl::FormatTime("%Y-%m-%d %H:%M:%S", time, console.tz),
                                      TransactionKindName(t.kind()),
                                      billing::FormatMicros(t.amount_micros()), t.currency(),
                                      t.task_id(), t.provider(), t.model());
    }
  }
  if (!all.next_page_token().empty()) {
    *console.out << "\nMore: add --page_token " << all.next_page_token() << " (or use --all)\n";
  }
  *console.out << std::flush;
  return kExitOk;
}

int Export(const Options& options, BillingService::StubInterface& stub, const Console& console) {
  music::v1::ExportBillingTransactionsRequest request;
  SetRange(options, request.mutable_start_time(), request.mutable_end_time());
  request.set_format(options.format == "csv" ? music::v1::BILLING_FILE_FORMAT_CSV
                                             : music::v1::BILLING_FILE_FORMAT_JSONL);
  grpc::ClientContext context;
  SetRpcDeadline(context, options.timeout);
  music::v1::ExportBillingTransactionsResponse response;
  grpc::Status status = stub.ExportBillingTransactions(&context, request, &response);
  if (!status.ok()) return ReportRpcError(status, console);
  // The file itself, byte for byte, whatever --json says: it is meant for a redirect.
  *console.out << response.content() << std::flush;
  return kExitOk;
}

int ImportUsage(const Options& options, BillingService::StubInterface& stub,
                const Console& console) {
  std::optional<std::string> content = ReadInput(options.file);
  if (!content) {
    *console.err << "error: cannot read " << options.file << "\n";
    return kExitUsage;
  }
  music::v1::ImportUsageRecordsRequest request;
  request.set_provider(options.provider);
  request.set_format(options.format == "csv" ? music::v1::BILLING_FILE_FORMAT_CSV
                                             : music::v1::BILLING_FILE_FORMAT_JSONL);
  request.set_content(*content);
  request.set_source(options.file == "-" ? "stdin" : options.file);
  grpc::ClientContext context;
  SetRpcDeadline(context, options.timeout);
  music::v1::ImportUsageRecordsResponse response;
  grpc::Status status = stub.ImportUsageRecords(&context, request, &response);
  if (!status.ok()) return ReportRpcError(status, console);
  if (console.json) {
    *console.out << ToJsonLine(response) << std::flush;
  } else {
    *console.out << "Imported " << response.records() << " records from " << options.file << ": "
                 << response.inserted() << " new, " << response.duplicates()
                 << " already imported\n"
                 << std::flush;
  }
  return kExitOk;
}

int CheckLedger(const Options& options, BillingService::StubInterface& stub,
                const Console& console) {
  grpc::ClientContext context;
  SetRpcDeadline(context, options.timeout);
  music::v1::CheckLedgerResponse response;
  grpc::Status status = stub.CheckLedger(&context, music::v1::CheckLedgerRequest(), &response);
  if (!status.ok()) return ReportRpcError(status, console);
  if (console.json) {
    *console.out << ToJsonLine(response);
  } else if (response.violations().empty()) {
    *console.out << "Ledger OK: no violations.\n";
  } else {
    *console.out << response.violations_size() << " ledger violation(s):\n";
    for (const auto& v : response.violations()) {
      *console.out << "  " << v.task_id() << "  " << v.kind() << "  " << v.detail() << "\n";
    }
  }
  *console.out << std::flush;
  return response.violations().empty() ? kExitOk : kExitFindings;
}

int Reconcile(const Options& options, ReconciliationService::StubInterface& stub,
              const Console& console) {
  music::v1::ReconcileRequest request;
  SetRange(options, request.mutable_start_time(), request.mutable_end_time());
  for (absl::string_view p : absl::StrSplit(options.providers, ',', absl::SkipWhitespace())) {
    request.add_providers(std::string(absl::StripAsciiWhitespace(p)));
  }
  request.set_tolerance_micros(options.tolerance_micros);
  request.set_dry_run(options.dry_run);
  if (options.in_flight_grace.has_value()) {
    const int64_t ns = absl::ToInt64Nanoseconds(*options.in_flight_grace);
    request.mutable_in_flight_grace()->set_seconds(ns / 1'000'000'000);
    request.mutable_in_flight_grace()->set_nanos(static_cast<int32_t>(ns % 1'000'000'000));
  }
  grpc::ClientContext context;
  SetRpcDeadline(context, options.timeout);
  music::v1::ReconcileResponse response;
  grpc::Status status = stub.Reconcile(&context, request, &response);
  if (!status.ok()) return ReportRpcError(status, console);
  if (console.json) {
    *console.out << ToJsonLine(response);
  } else {
    *console.out << response.run().summary();
    if (!response.run().summary().empty() && response.run().summary().back() != '\n') {
      *console.out << "\n";
    }
    *console.out << (options.dry_run ? "Dry run: not stored."
                                     : absl::StrCat("Stored as run ", response.run().run_id()))
                 << " " << response.run().discrepancies() << " of " << response.run().tasks()
                 << " tasks did not reconcile.\n";
  }
  *console.out << std::flush;
  return response.run().discrepancies() > options.max_discrepancies ? kExitFindings : kExitOk;
}

}  // namespace

int RunBillingCommand(const Options& options, BillingService::StubInterface& billing,
                      ReconciliationService::StubInterface& reconciliation,
                      const Console& console) {
  switch (options.command) {
    case Command::kBillingList:
      return List(options, billing, console);
    case Command::kBillingExport:
      return Export(options, billing, console);
    case Command::kBillingImportUsage:
      return ImportUsage(options, billing, console);
    case Command::kBillingCheckLedger:
      return CheckLedger(options, billing, console);
    case Command::kReconcile:
      return Reconcile(options, reconciliation, console);
    default:
      break;
  }
  *console.err << "error: not a billing command\n";
  return kExitUsage;
}

}  // namespace music::musicctl
