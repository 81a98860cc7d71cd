// Leases for several replicas on one store: each non-terminal task is driven (submitted, polled,
// recovered) by exactly one replica at a time. A replica holds one lease for all its tasks and
// renews it with one write, whatever the number of tasks; a task is the replica's that created or
// last claimed it (TaskRecord::lease), and when a replica stops renewing, the others claim its
// tasks in batches. Every write of the driving replica carries its fencing token (the store
// refuses it, LeaseLostError, once another replica has claimed the task), so a replica that was
// presumed dead never overwrites the new owner. Writes of a replica that does not drive the task
// (a provider callback or a cancel that reached it) are checked by version only.
#ifndef MUSIC_PERSISTENCE_LEASE_STORE_H_
#define MUSIC_PERSISTENCE_LEASE_STORE_H_

#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/cord.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "domain/task_record.h"

namespace music::persistence {

/// The payload that marks a lost lease on a FAILED_PRECONDITION status.
inline constexpr char kLeaseLostPayload[] = "type.music.v1/persistence.LeaseLost";

/// FAILED_PRECONDITION: the write's fencing token is not the task's any more (another replica
/// claimed it). Nothing was written.
inline absl::Status LeaseLostError(absl::string_view message) {
  absl::Status status = absl::FailedPreconditionError(message);
  status.SetPayload(kLeaseLostPayload, absl::Cord("1"));
  return status;
}

/// Whether `status` is a LeaseLostError.
inline bool IsLeaseLost(const absl::Status& status) {
  return absl::IsFailedPrecondition(status) && status.GetPayload(kLeaseLostPayload).has_value();
}

/// Thread-safe; every method is one transaction and blocks on I/O (call from worker threads).
class LeaseStore {
 public:
  virtual ~LeaseStore() = default;

  /// This replica's id, unique per process (TaskRecord::lease.owner of the tasks it drives).
  virtual const std::string& replica_id() const = 0;
  /// How long the lease lasts after a renewal (the store's clock).
  virtual absl::Duration lease_ttl() const = 0;

  /// Registers or renews this replica's lease until now + lease_ttl(): one write. Call every
  /// lease_ttl() / 3 or so. UNAVAILABLE while the store cannot be reached.
  virtual absl::Status RenewLeases() = 0;

  /// Claims up to `limit` (>= 1) non-terminal tasks whose replica's lease has expired (or that
  /// no registered replica holds), oldest first, each with a new fencing token; returns them as
  /// stored. Replicas claiming at once take different tasks (FOR UPDATE SKIP LOCKED).
  virtual absl::StatusOr<std::vector<domain::TaskRecord>> ClaimTasks(int limit) = 0;

  /// Ends this replica's lease (shutdown): the others may claim its tasks at once.
  virtual absl::Status ReleaseLeases() = 0;
};

}  // namespace music::persistence

#endif  // MUSIC_PERSISTENCE_LEASE_STORE_H_
