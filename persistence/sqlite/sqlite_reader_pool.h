// Read-only connections for the store's queries, so reads never wait behind the writer (WAL lets
// readers run during a write transaction). Internal to persistence/sqlite.
#ifndef MUSIC_PERSISTENCE_SQLITE_SQLITE_READER_POOL_H_
#define MUSIC_PERSISTENCE_SQLITE_SQLITE_READER_POOL_H_

#include <memory>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"
#include "persistence/sqlite/sqlite_db.h"

namespace music::persistence::sqlite_internal {

/// Thread-safe. A query takes a connection for its duration; each statement that starts outside
/// a transaction sees every transaction committed before it started, so a read issued after a
/// write returned sees that write.
class ReaderPool {
 public:
  /// A connection lent to one caller; returned when the lease goes.
  class Lease {
   public:
    Lease(const Lease&) = delete;
    Lease& operator=(const Lease&) = delete;
    ~Lease() { pool_->Release(db_); }
    SqliteDb& db() const { return *db_; }

   private:
    friend class ReaderPool;
    Lease(ReaderPool* pool, SqliteDb* db) : pool_(pool), db_(db) {}
    ReaderPool* pool_;
    SqliteDb* db_;
  };

  /// Takes ownership of open, configured connections (at least one).
  explicit ReaderPool(std::vector<Connection> connections);
  ReaderPool(const ReaderPool&) = delete;
  ReaderPool& operator=(const ReaderPool&) = delete;

  /// A free connection; waits while every one is lent (as many readers run at once as there are
  /// connections).
  Lease Acquire() ABSL_LOCKS_EXCLUDED(mu_);

 private:
  void Release(SqliteDb* db) ABSL_LOCKS_EXCLUDED(mu_);

  // Owned here; lent through free_. Each SqliteDb is used by one lease holder at a time.
  std::vector<std::unique_ptr<SqliteDb>> all_;
  absl::Mutex mu_;
  std::vector<SqliteDb*> free_ ABSL_GUARDED_BY(mu_);
};

}  // namespace music::persistence::sqlite_internal

#endif  // MUSIC_PERSISTENCE_SQLITE_SQLITE_READER_POOL_H_
