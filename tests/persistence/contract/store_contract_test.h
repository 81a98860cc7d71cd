// The store contract: the behaviour every implementation of persistence::TaskStore and
// persistence::BillingStore has, as one test suite parameterised over implementations. An
// implementation passes the contract when its test binary links store_contract_test.cc and
// instantiates the suites with its StoreImplementation:
//
//   namespace music::persistence::store_test {
//   MUSIC_INSTANTIATE_STORE_CONTRACT(Sqlite, SqliteImplementation());
//   }
//
// (tests/persistence/sqlite/sqlite_store_contract_test.cc). Behaviour only one implementation has
// (file formats, migrations, locks) is tested beside that implementation instead.
#ifndef MUSIC_TESTS_PERSISTENCE_CONTRACT_STORE_CONTRACT_TEST_H_
#define MUSIC_TESTS_PERSISTENCE_CONTRACT_STORE_CONTRACT_TEST_H_

#include <functional>
#include <memory>
#include <ostream>
#include <string>
#include <tuple>
#include <vector>

#include "absl/status/statusor.h"
#include "gtest/gtest.h"
#include "persistence/billing_store.h"
#include "persistence/stores.h"
#include "persistence/task_store.h"

namespace music::persistence::store_test {

/// One fresh, empty database of an implementation, for one test.
class StoreBackend {
 public:
  /// Drops the database (after every handle Open returned is gone).
  virtual ~StoreBackend() = default;
  /// Opens a handle on this database: each call a new connection to the same data, as another
  /// process of the service would have. Both Stores fields must be set.
  virtual absl::StatusOr<Stores> Open() = 0;
};

/// An implementation under the contract.
struct StoreImplementation {
  /// Names the instantiation in test names: letters, digits and '_' only.
  std::string name;
  /// A fresh, empty database.
  std::function<absl::StatusOr<std::unique_ptr<StoreBackend>>()> create;
};

inline void PrintTo(const StoreImplementation& implementation, std::ostream* os) {
  *os << implementation.name;
}

/// Opens a fresh database of the implementation before each test.
class StoreContractBase : public ::testing::Test {
 protected:
  void Start(const StoreImplementation& implementation);
  void TearDown() override;

  TaskStore* tasks() { return stores_.tasks.get(); }
  BillingStore* billing() { return stores_.billing.get(); }
  /// `n` more handles on the same database.
  std::vector<Stores> OpenMore(int n);
  domain::TaskRecord MustCreate(const domain::TaskRecord& record);

  std::unique_ptr<StoreBackend> backend_;
  Stores stores_;
};

/// TaskStore behaviour.
class TaskStoreContractTest : public StoreContractBase,
                              public ::testing::WithParamInterface<StoreImplementation> {
 protected:
  void SetUp() override { Start(GetParam()); }
};

/// Concurrent writers through one handle (false) or a handle each (true).
class TaskStoreConcurrencyContractTest
    : public StoreContractBase,
      public ::testing::WithParamInterface<std::tuple<StoreImplementation, bool>> {
 protected:
  void SetUp() override { Start(std::get<0>(GetParam())); }
  // The handles thread i uses: the shared one, or (param true) one of its own.
  std::vector<Stores> OwnStores(int n);
  TaskStore* StoreFor(std::vector<Stores>& own, int i);
};

/// BillingStore behaviour, and the ledger rows TaskStore writes with their task changes.
class BillingStoreContractTest : public StoreContractBase,
                                 public ::testing::WithParamInterface<StoreImplementation> {
 protected:
  void SetUp() override { Start(GetParam()); }
};

/// Test-name suffixes.
std::string ImplementationName(const ::testing::TestParamInfo<StoreImplementation>& info);
std::string ConcurrencyName(
    const ::testing::TestParamInfo<std::tuple<StoreImplementation, bool>>& info);

}  // namespace music::persistence::store_test

/// Runs the whole contract against `implementation` (a StoreImplementation); `prefix` names it.
/// Use inside namespace music::persistence::store_test (gtest wants the suites' unqualified names).
#define MUSIC_INSTANTIATE_STORE_CONTRACT(prefix, implementation)                                  \
  INSTANTIATE_TEST_SUITE_P(prefix, TaskStoreContractTest, ::testing::Values(implementation),      \
                           ImplementationName);                                                   \
  INSTANTIATE_TEST_SUITE_P(                                                                       \
      prefix, TaskStoreConcurrencyContractTest,                                                   \
      ::testing::Combine(::testing::Values(implementation), ::testing::Bool()), ConcurrencyName); \
  INSTANTIATE_TEST_SUITE_P(prefix, BillingStoreContractTest, ::testing::Values(implementation),   \
                           ImplementationName)

#endif  // MUSIC_TESTS_PERSISTENCE_CONTRACT_STORE_CONTRACT_TEST_H_
