// The stores a server runs on, each as its interface. One database may implement several of them
// (SQLite does both, so a task change and its ledger rows commit in one transaction); the server
// never finds that out by casting: the wiring hands over each interface explicitly.
#ifndef MUSIC_PERSISTENCE_STORES_H_
#define MUSIC_PERSISTENCE_STORES_H_

#include <memory>

#include "persistence/archive_store.h"
#include "persistence/billing_store.h"
#include "persistence/change_feed.h"
#include "persistence/lease_store.h"
#include "persistence/task_store.h"

namespace music::persistence {

/// Shared ownership: `tasks` and `billing` may point into the same object.
struct Stores {
  std::shared_ptr<TaskStore> tasks;
  /// The ledger, usage records and reconciliation runs; null: the server offers no
  /// BillingService or ReconciliationService.
  std::shared_ptr<BillingStore> billing;
  /// The output archive (clip media copies); null: nothing is archived and GetClipAudio is
  /// FAILED_PRECONDITION.
  std::shared_ptr<ArchiveStore> archive;
  /// Leases for several replicas on this store (PostgreSQL); null: one server drives every task
  /// (SQLite, which one server holds with an exclusive lock).
  std::shared_ptr<LeaseStore> leases;
  /// Every replica's committed task changes (PostgreSQL); null: this server writes them all.
  std::shared_ptr<TaskChangeFeed> changes;
};

}  // namespace music::persistence

#endif  // MUSIC_PERSISTENCE_STORES_H_
