// A fixed-size pool of PostgreSQL connections, opened on demand. Internal to persistence/postgres.
#ifndef MUSIC_PERSISTENCE_POSTGRES_PG_POOL_H_
#define MUSIC_PERSISTENCE_POSTGRES_PG_POOL_H_

#include <memory>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "persistence/postgres/pg_connection.h"

namespace music::persistence::pg_internal {

/// At most `size` connections; a caller waits for a free one. A connection found broken after
/// use (the server restarted, the network failed) is closed together with every idle one (they
/// are as likely dead), and the next caller opens a new one, so the store recovers by itself when
/// PostgreSQL is back. Thread-safe.
class Pool {
 public:
  class Lease;

  Pool(ConnectOptions options, int size);

  /// A connection for the caller alone until the Lease goes. Waits up to `wait` for a free one
  /// (UNAVAILABLE after that: every connection busy); opening a new one is UNAVAILABLE while the
  /// server cannot be reached.
  absl::StatusOr<Lease> Acquire(absl::Duration wait = absl::Seconds(30));

  /// Runs `body` on a pooled connection: Acquire, body, release.
  absl::Status Run(absl::FunctionRef<absl::Status(Connection&)> body);
  /// Run of a body that only reads: when it fails because the connection was lost (an idle
  /// connection to a server that restarted since), it runs once more on a fresh connection.
  absl::Status Read(absl::FunctionRef<absl::Status(Connection&)> body);
  /// Runs `body` in a transaction opened with `begin` (Connection::InTransaction). A BEGIN that
  /// fails on a lost connection (nothing was written) is tried once more on a fresh connection.
  absl::Status Transact(absl::FunctionRef<absl::Status(Connection&)> body,
                        absl::string_view begin = "BEGIN");

  class Lease {
   public:
    Lease(Lease&& other) noexcept : pool_(other.pool_), conn_(std::move(other.conn_)) {
      other.pool_ = nullptr;
    }
    Lease& operator=(Lease&&) = delete;
    ~Lease();
    Connection& operator*() { return *conn_; }
    Connection* operator->() { return conn_.get(); }

   private:
    friend class Pool;
    Lease(Pool* pool, std::unique_ptr<Connection> conn) : pool_(pool), conn_(std::move(conn)) {}
    Pool* pool_;
    std::unique_ptr<Connection> conn_;
  };

 private:
  void Release(std::unique_ptr<Connection> conn);

  const ConnectOptions options_;
  const int size_;
  absl::Mutex mu_;
  std::vector<std::unique_ptr<Connection>> idle_ ABSL_GUARDED_BY(mu_);
  int open_ ABSL_GUARDED_BY(mu_) = 0;  // idle + leased + being opened
};

}  // namespace music::persistence::pg_internal

#endif  // MUSIC_PERSISTENCE_POSTGRES_PG_POOL_H_
