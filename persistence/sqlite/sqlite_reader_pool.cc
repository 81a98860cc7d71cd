#include "persistence/sqlite/sqlite_reader_pool.h"

#include <utility>

namespace music::persistence::sqlite_internal {

ReaderPool::ReaderPool(std::vector<Connection> connections) {
  all_.reserve(connections.size());
  for (Connection& c : connections) all_.push_back(std::make_unique<SqliteDb>(std::move(c)));
  absl::MutexLock lock(&mu_);
  for (const std::unique_ptr<SqliteDb>& db : all_) free_.push_back(db.get());
}

ReaderPool::Lease ReaderPool::Acquire() {
  absl::MutexLock lock(&mu_);
  mu_.Await(absl::Condition(
      +[](std::vector<SqliteDb*>* free) { return !free->empty(); }, &free_));
  SqliteDb* db = free_.back();
  free_.pop_back();
  return Lease(this, db);
}

void ReaderPool::Release(SqliteDb* db) {
  absl::MutexLock lock(&mu_);
  free_.push_back(db);
}

}  // namespace music::persistence::sqlite_internal
