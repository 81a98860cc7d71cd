#include "persistence/postgres/pg_pool.h"

#include <utility>

namespace music::persistence::pg_internal {

Pool::Pool(ConnectOptions options, int size) : options_(std::move(options)), size_(size) {}

absl::StatusOr<Pool::Lease> Pool::Acquire(absl::Duration wait) {
  {
    absl::MutexLock lock(&mu_);
    auto can_go = [this]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
      return !idle_.empty() || open_ < size_;
    };
    if (!mu_.AwaitWithTimeout(absl::Condition(&can_go), wait)) {
      return absl::UnavailableError("PostgreSQL: every pooled connection is busy");
    }
    if (!idle_.empty()) {
      std::unique_ptr<Connection> conn = std::move(idle_.back());
      idle_.pop_back();
      return Lease(this, std::move(conn));
    }
    ++open_;  // reserved: the connection is opened outside the lock
  }
  absl::StatusOr<std::unique_ptr<Connection>> conn = Connection::Open(options_);
  if (!conn.ok()) {
    absl::MutexLock lock(&mu_);
    --open_;
    return conn.status();
  }
  return Lease(this, *std::move(conn));
}

absl::Status Pool::Run(absl::FunctionRef<absl::Status(Connection&)> body) {
  absl::StatusOr<Lease> lease = Acquire();
  if (!lease.ok()) return lease.status();
  return body(**lease);
}

absl::Status Pool::Read(absl::FunctionRef<absl::Status(Connection&)> body) {
  for (int attempt = 0;; ++attempt) {
    absl::StatusOr<Lease> lease = Acquire();
    if (!lease.ok()) return lease.status();
    absl::Status status = body(**lease);
    if (status.ok() || !(*lease)->broken() || attempt > 0) return status;
  }
}

absl::Status Pool::Transact(absl::FunctionRef<absl::Status(Connection&)> body,
                            absl::string_view begin) {
  for (int attempt = 0;; ++attempt) {
    absl::StatusOr<Lease> lease = Acquire();
    if (!lease.ok()) return lease.status();
    absl::Status began = (*lease)->ExecScript(begin, "begin");
    if (!began.ok()) {
      if ((*lease)->broken() && attempt == 0) continue;
      return began;
    }
    absl::Status status = body(**lease);
    if (status.ok()) return (*lease)->ExecScript("COMMIT", "commit");
    // The transaction is void already when a statement failed; ROLLBACK ends it. On a lost
    // connection it fails too, and Release drops the connection.
    (*lease)->ExecScript("ROLLBACK", "rollback").IgnoreError();
    return status;
  }
}

void Pool::Release(std::unique_ptr<Connection> conn) {
  // Broken, or left inside a transaction (a body that failed to end it): never reused, and
  // closed outside the lock (PQfinish may write to the socket).
  const bool lost = conn->broken();
  const bool reusable = !lost && PQtransactionStatus(conn->raw()) == PQTRANS_IDLE;
  if (!reusable) conn.reset();
  std::vector<std::unique_ptr<Connection>> closing;
  {
    absl::MutexLock lock(&mu_);
    if (reusable) {
      idle_.push_back(std::move(conn));
      return;
    }
    --open_;
    if (lost) {
      closing.swap(idle_);
      open_ -= static_cast<int>(closing.size());
    }
  }
}

Pool::Lease::~Lease() {
  if (pool_ != nullptr && conn_ != nullptr) pool_->Release(std::move(conn_));
}

}  // namespace music::persistence::pg_internal
