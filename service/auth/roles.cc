#include "service/auth/roles.h"

#include <utility>

namespace music::service::auth {

const std::vector<Role>& AllRoles() {
  static const auto* roles = new std::vector<Role>{
      Role::kTasksCreate,       Role::kTasksRead,          Role::kTasksCancel,
      Role::kBillingRead,       Role::kBillingImport,      Role::kLedgerCheck,
      Role::kReconciliationRun, Role::kReconciliationRead, Role::kProviderBalance};
  return *roles;
}

RoleSet AllRoleSet() {
  RoleSet set = 0;
  for (Role r : AllRoles()) set |= static_cast<RoleSet>(r);
  return set;
}

const char* RoleName(Role role) {
  switch (role) {
    case Role::kTasksCreate:
      return "tasks.create";
    case Role::kTasksRead:
      return "tasks.read";
    case Role::kTasksCancel:
      return "tasks.cancel";
    case Role::kBillingRead:
      return "billing.read";
    case Role::kBillingImport:
      return "billing.import";
    case Role::kLedgerCheck:
      return "ledger.check";
    case Role::kReconciliationRun:
      return "reconciliation.run";
    case Role::kReconciliationRead:
      return "reconciliation.read";
    case Role::kProviderBalance:
      return "provider.balance";
  }
  return "";
}

std::optional<Role> ParseRole(absl::string_view name) {
  for (Role r : AllRoles()) {
    if (name == RoleName(r)) return r;
  }
  return std::nullopt;
}

const std::map<std::string, MethodPolicy>& MethodPolicies() {
  // Creating anything (a task, an upload the provider stores, a style boost the provider
  // computes) is tasks.create; reading a task or what it made is tasks.read; the ledger of the
  // caller's own tenant is billing.read; whatever spans the provider account or every tenant
  // (usage records, the ledger check, reconciliation, the balance) is an operator's role.
  static const auto* policies = [] {
    const std::string music = "/music.v1.MusicService/";
    const std::string billing = "/music.v1.BillingService/";
    const std::string recon = "/music.v1.ReconciliationService/";
    auto* m = new std::map<std::string, MethodPolicy>{
        {music + "CreateMusic", {Role::kTasksCreate}},
        {music + "CreateLyrics", {Role::kTasksCreate}},
        {music + "ContinueClip", {Role::kTasksCreate}},
        {music + "CreateClipOperation", {Role::kTasksCreate}},
        {music + "CreateAudioOperation", {Role::kTasksCreate}},
        {music + "UploadReferenceAudio", {Role::kTasksCreate}},
        {music + "BoostStyle", {Role::kTasksCreate}},
        {music + "GetTimestampedLyrics", {Role::kTasksRead}},
        {music + "GetTask", {Role::kTasksRead}},
        {music + "ListTasks", {Role::kTasksRead}},
        {music + "WatchTask", {Role::kTasksRead}},
        {music + "GetClipAudio", {Role::kTasksRead}},
        {music + "ListModels", {Role::kTasksRead}},
        {music + "CancelTask", {Role::kTasksCancel}},
        {billing + "ListBillingTransactions", {Role::kBillingRead}},
        {billing + "ExportBillingTransactions", {Role::kBillingRead}},
        {billing + "ImportUsageRecords", {Role::kBillingImport}},
        {billing + "CheckLedger", {Role::kLedgerCheck}},
        {billing + "GetProviderBalance", {Role::kProviderBalance}},
        {recon + "Reconcile", {Role::kReconciliationRun}},
        {recon + "ListReconciliationRuns", {Role::kReconciliationRead}},
        {recon + "GetReconciliationRun", {Role::kReconciliationRead}},
    };
    return m;
  }();
  return *policies;
}

}  // namespace music::service::auth
