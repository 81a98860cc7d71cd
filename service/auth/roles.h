#ifndef MUSIC_SERVICE_AUTH_ROLES_H_
#define MUSIC_SERVICE_AUTH_ROLES_H_

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "absl/strings/string_view.h"

namespace music::service::auth {

/// A right a caller may hold (`auth.callers.<name>.roles`). Deny by default: a caller holds only
/// the roles its config lists. The config spelling is RoleName().
enum class Role : uint32_t {
  kTasksCreate = 1u << 0,         // "tasks.create": CreateMusic, ContinueClip, uploads, ...
  kTasksRead = 1u << 1,           // "tasks.read": GetTask, ListTasks, WatchTask, GetClipAudio
  kTasksCancel = 1u << 2,         // "tasks.cancel": CancelTask
  kBillingRead = 1u << 3,         // "billing.read": the tenant's own ledger rows
  kBillingImport = 1u << 4,       // "billing.import": ImportUsageRecords (operators)
  kLedgerCheck = 1u << 5,         // "ledger.check": CheckLedger over every tenant (operators)
  kReconciliationRun = 1u << 6,   // "reconciliation.run": Reconcile (operators)
  kReconciliationRead = 1u << 7,  // "reconciliation.read": the runs' reports (operators)
  kProviderBalance = 1u << 8,     // "provider.balance": the provider account (operators)
};

/// A set of roles, one bit per Role.
using RoleSet = uint32_t;

/// Every role, in declaration order.
const std::vector<Role>& AllRoles();
/// Every role as a set (auth.mode "none": the one implicit caller holds them all).
RoleSet AllRoleSet();
/// The config spelling, e.g. "tasks.create".
const char* RoleName(Role role);
/// The role spelled `name`, or nullopt.
std::optional<Role> ParseRole(absl::string_view name);

/// What a method needs: nothing (open) or one role.
struct MethodPolicy {
  /// nullopt: any caller, authenticated or not.
  std::optional<Role> role;
};

/// The one table of required roles, by full gRPC method name ("/music.v1.MusicService/GetTask"),
/// covering every method of MusicService, BillingService and ReconciliationService
/// (tests/service/auth/roles_test.cc fails on a method without an entry). Health and reflection
/// are not in it: they are served by gRPC itself and stay open.
const std::map<std::string, MethodPolicy>& MethodPolicies();

}  // namespace music::service::auth

#endif  // MUSIC_SERVICE_AUTH_ROLES_H_
