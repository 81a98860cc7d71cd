// A TaskStore decorator whose writes (and, if asked, reads) fail while it is "down": the store
// faults of issue 10 (a locked database, a full disk, an unreachable PostgreSQL) for the engine's
// unit tests, over a real store underneath.
#ifndef MUSIC_TESTS_TESTING_FLAKY_TASK_STORE_H_
#define MUSIC_TESTS_TESTING_FLAKY_TASK_STORE_H_

#include <atomic>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "persistence/task_store.h"

namespace music {

/// Thread-safe. While `down` is set, Create and Update fail with `error` (UNAVAILABLE "database
/// or disk is full" by default) and change nothing; with `reads_fail` also set, so do Get, List,
/// ListActive and the Find* lookups. `failed_writes` counts the refused writes.
class FlakyTaskStore : public persistence::TaskStore {
 public:
  explicit FlakyTaskStore(persistence::TaskStore* inner) : inner_(inner) {}

  absl::StatusOr<persistence::CreateResult> Create(const domain::TaskRecord& record) override {
    if (down) return Refuse();
    return inner_->Create(record);
  }
  absl::StatusOr<persistence::CreateResult> Create(
      const domain::TaskRecord& record,
      absl::Span<const billing::BillingTransaction> ledger) override {
    if (down) return Refuse();
    return inner_->Create(record, ledger);
  }
  absl::StatusOr<domain::TaskRecord> Get(absl::string_view task_id) override {
    if (down && reads_fail) return error;
    return inner_->Get(task_id);
  }
  absl::Status Update(const domain::TaskRecord& record) override {
    if (down) return Refuse();
    return inner_->Update(record);
  }
  absl::Status Update(const domain::TaskRecord& record,
                      absl::Span<const billing::BillingTransaction> ledger) override {
    if (down) return Refuse();
    return inner_->Update(record, ledger);
  }
  absl::StatusOr<persistence::ListPage> List(const persistence::ListQuery& query) override {
    if (down && reads_fail) return error;
    return inner_->List(query);
  }
  absl::StatusOr<std::vector<domain::TaskRecord>> ListActive(int limit) override {
    if (down && reads_fail) return error;
    return inner_->ListActive(limit);
  }
  absl::StatusOr<domain::TaskRecord> FindByClipId(absl::string_view tenant,
                                                  absl::string_view clip_id) override {
    if (down && reads_fail) return error;
    return inner_->FindByClipId(tenant, clip_id);
  }
  absl::StatusOr<domain::TaskRecord> FindByRequestId(absl::string_view tenant,
                                                     absl::string_view request_id) override {
    if (down && reads_fail) return error;
    return inner_->FindByRequestId(tenant, request_id);
  }
  absl::StatusOr<domain::TaskRecord> FindByProviderTaskId(
      absl::string_view provider, absl::string_view provider_task_id) override {
    if (down && reads_fail) return error;
    return inner_->FindByProviderTaskId(provider, provider_task_id);
  }
  absl::Status CheckHealth() override {
    if (down) return error;
    return inner_->CheckHealth();
  }

  std::atomic<bool> down{false};
  std::atomic<bool> reads_fail{false};
  std::atomic<int> failed_writes{0};
  /// Set before the store goes down (not while the engine runs).
  absl::Status error = absl::UnavailableError("sqlite: commit: database or disk is full");

 private:
  absl::Status Refuse() {
    ++failed_writes;
    return error;
  }

  persistence::TaskStore* const inner_;
};

}  // namespace music

#endif  // MUSIC_TESTS_TESTING_FLAKY_TASK_STORE_H_
