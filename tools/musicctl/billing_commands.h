#ifndef MUSIC_TOOLS_MUSICCTL_BILLING_COMMANDS_H_
#define MUSIC_TOOLS_MUSICCTL_BILLING_COMMANDS_H_

#include "music/v1/billing_service.grpc.pb.h"
#include "music/v1/reconciliation_service.grpc.pb.h"
#include "tools/musicctl/console.h"
#include "tools/musicctl/options.h"

namespace music::musicctl {

/// Runs a billing or reconcile command (IsBillingCommand) and returns the exit code: kExitOk,
/// kExitRpcError, kExitFindings (ledger violations; more discrepancies than --max_discrepancies)
/// or kExitUsage (an unreadable FILE).
int RunBillingCommand(const Options& options, music::v1::BillingService::StubInterface& billing,
                      music::v1::ReconciliationService::StubInterface& reconciliation,
                      const Console& console);

}  // namespace music::musicctl

#endif  // MUSIC_TOOLS_MUSICCTL_BILLING_COMMANDS_H_
