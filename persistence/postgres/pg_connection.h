// libpq, wrapped for the PostgreSQL store: one connection, its results, text parameters and the
// mapping of PostgreSQL's errors (SQLSTATE) onto absl status codes. Internal to
// persistence/postgres.
#ifndef MUSIC_PERSISTENCE_POSTGRES_PG_CONNECTION_H_
#define MUSIC_PERSISTENCE_POSTGRES_PG_CONNECTION_H_

#include <libpq-fe.h>

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "absl/functional/function_ref.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"

namespace music::persistence::pg_internal {

/// SQLSTATEs the store tells apart (PostgreSQL manual, appendix A).
inline constexpr char kUniqueViolation[] = "23505";
inline constexpr char kRaiseException[] = "P0001";

/// The status for a failed command: `what` and PostgreSQL's message (never the connection URL).
/// Codes: UNAVAILABLE for what a retry after a while can cure (the connection lost or refused,
/// class 08; shutting down or in recovery, 57P0x; disk full, out of memory or too many
/// connections, class 53; an I/O error, class 58; a lock or statement timeout, 55P03 / 57014; a
/// read-only standby, 25006); ABORTED for a serialization failure or deadlock (class 40);
/// ALREADY_EXISTS for a unique violation (23505); FAILED_PRECONDITION for a trigger's refusal
/// (P0001, the append-only ledger) and other integrity violations (class 23); INTERNAL otherwise.
absl::Status PgError(const PGconn* conn, const PGresult* result, absl::string_view what);

/// A result's SQLSTATE, "" when it has none.
std::string SqlState(const PGresult* result);

/// Owns a PGresult.
class Result {
 public:
  explicit Result(PGresult* result) : result_(result) {}
  Result(Result&&) = default;
  Result& operator=(Result&&) = default;

  int rows() const { return PQntuples(result_.get()); }
  /// Rows an INSERT / UPDATE / DELETE touched.
  int64_t affected() const;
  bool IsNull(int row, int col) const { return PQgetisnull(result_.get(), row, col) != 0; }
  /// The value as text (a NULL is "").
  absl::string_view Text(int row, int col) const;
  std::string String(int row, int col) const { return std::string(Text(row, col)); }
  /// A bigint / integer column; DATA_LOSS when it is not one.
  absl::StatusOr<int64_t> Int64(int row, int col) const;
  /// A bytea column (text output, hex format), unescaped; DATA_LOSS when it is malformed.
  absl::StatusOr<std::string> Bytes(int row, int col) const;
  const PGresult* get() const { return result_.get(); }

 private:
  struct Clear {
    void operator()(PGresult* r) const { PQclear(r); }
  };
  std::unique_ptr<PGresult, Clear> result_;
};

/// Parameters $1, $2, ... of one command: text, except bytea values sent in binary.
class Params {
 public:
  Params& Add(absl::string_view text);
  Params& Add(int64_t value);
  /// A bytea value, sent as binary (no escaping).
  Params& AddBytes(absl::string_view bytes);

  int size() const { return static_cast<int>(values_.size()); }
  std::vector<const char*> Values() const;
  std::vector<int> Lengths() const;
  std::vector<int> Formats() const;

 private:
  std::vector<std::string> values_;
  std::vector<int> formats_;
};

/// How a connection is opened.
struct ConnectOptions {
  /// A libpq connection URI or key=value string; its own settings override the ones below.
  std::string url;
  absl::Duration connect_timeout = absl::Seconds(5);
  /// statement_timeout and lock_timeout of the session: a statement stuck behind a lock or a
  /// hung server fails (UNAVAILABLE) instead of holding a worker thread for good.
  absl::Duration statement_timeout = absl::Seconds(30);
  /// pg_stat_activity.application_name.
  std::string application_name = "music-server";
};

/// One libpq connection. Not thread-safe: one user at a time (the pool hands it out).
class Connection {
 public:
  /// Connects (blocking, up to connect_timeout; TCP keepalives on so a dead peer is noticed).
  /// UNAVAILABLE when the server cannot be reached or refuses; INVALID_ARGUMENT for a malformed
  /// URL. The message never repeats the URL (it may hold a password).
  static absl::StatusOr<std::unique_ptr<Connection>> Open(const ConnectOptions& options);
  ~Connection();
  Connection(const Connection&) = delete;
  Connection& operator=(const Connection&) = delete;

  /// Runs one command with parameters. Errors: PgError of `what`.
  absl::StatusOr<Result> Exec(absl::string_view sql, const Params& params, absl::string_view what);
  /// Runs commands without parameters (several, separated by ';', allowed).
  absl::Status ExecScript(absl::string_view sql, absl::string_view what);
  /// Runs `body` in a transaction opened with `begin` ("BEGIN", "BEGIN ISOLATION LEVEL ..."):
  /// COMMIT when it returns OK, ROLLBACK otherwise. A failed COMMIT is returned as its error.
  absl::Status InTransaction(absl::FunctionRef<absl::Status(Connection&)> body,
                             absl::string_view begin = "BEGIN");

  /// True when the connection is gone (the server closed it, the network failed): the pool
  /// drops it instead of handing it out again.
  bool broken() const { return conn_ == nullptr || PQstatus(conn_) != CONNECTION_OK; }
  PGconn* raw() { return conn_; }

 private:
  explicit Connection(PGconn* conn) : conn_(conn) {}
  PGconn* conn_;
};

}  // namespace music::persistence::pg_internal

#endif  // MUSIC_PERSISTENCE_POSTGRES_PG_CONNECTION_H_
