#include "service/auth/roles.h"

#include <google/protobuf/descriptor.h>
#include <gtest/gtest.h>

#include <set>
#include <string>

#include "music/v1/billing_service.pb.h"
#include "music/v1/music_service.pb.h"
#include "music/v1/reconciliation_service.pb.h"

namespace music::service::auth {
namespace {

// Every method of every service of ours has exactly one entry: a new RPC without a role fails
// here (and is PERMISSION_DENIED at run time, deny by default).
TEST(MethodPoliciesTest, CoversEveryMethodOfEveryService) {
  const google::protobuf::FileDescriptor* files[] = {
      music::v1::CreateMusicRequest::descriptor()->file(),
      music::v1::ListBillingTransactionsRequest::descriptor()->file(),
      music::v1::ReconcileRequest::descriptor()->file()};
  std::set<std::string> methods;
  for (const auto* file : files) {
    for (int s = 0; s < file->service_count(); ++s) {
      const auto* service = file->service(s);
      for (int m = 0; m < service->method_count(); ++m) {
        methods.insert("/" + service->full_name() + "/" + service->method(m)->name());
      }
    }
  }
  ASSERT_GE(methods.size(), 20u);  // the three services are linked in
  for (const std::string& method : methods) {
    auto it = MethodPolicies().find(method);
    ASSERT_NE(it, MethodPolicies().end()) << method << " has no entry in MethodPolicies()";
    EXPECT_TRUE(it->second.role.has_value()) << method << " is open: ours never are";
  }
  // And no stale entry for a method that no longer exists.
  for (const auto& [method, policy] : MethodPolicies()) {
    EXPECT_EQ(methods.count(method), 1u) << method << " is no method of ours";
  }
}

TEST(MethodPoliciesTest, OperatorMethodsNeedOperatorRoles) {
  const auto& p = MethodPolicies();
  EXPECT_EQ(p.at("/music.v1.BillingService/ImportUsageRecords").role, Role::kBillingImport);
  EXPECT_EQ(p.at("/music.v1.BillingService/CheckLedger").role, Role::kLedgerCheck);
  EXPECT_EQ(p.at("/music.v1.ReconciliationService/Reconcile").role, Role::kReconciliationRun);
  EXPECT_EQ(p.at("/music.v1.MusicService/CancelTask").role, Role::kTasksCancel);
  EXPECT_EQ(p.at("/music.v1.MusicService/GetTask").role, Role::kTasksRead);
}

TEST(RolesTest, NamesRoundTrip) {
  for (Role r : AllRoles()) {
    EXPECT_EQ(ParseRole(RoleName(r)), r) << RoleName(r);
  }
  EXPECT_EQ(ParseRole("admin"), std::nullopt);
  EXPECT_EQ(ParseRole(""), std::nullopt);
}

}  // namespace
}  // namespace music::service::auth
