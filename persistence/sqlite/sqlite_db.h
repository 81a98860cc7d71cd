// The SQLite connection the store runs on: opening it (WAL, synchronous, foreign keys), errors as
// absl::Status, a cache of prepared statements and transactions. Internal to persistence/sqlite.
#ifndef MUSIC_PERSISTENCE_SQLITE_SQLITE_DB_H_
#define MUSIC_PERSISTENCE_SQLITE_SQLITE_DB_H_

#include <sqlite3.h>

#include <cstdint>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace music::persistence::sqlite_internal {

/// A status for SQLite result code `rc` of `what`: UNAVAILABLE for BUSY, LOCKED, CANTOPEN, FULL,
/// IOERR, READONLY and PROTOCOL (the file or the disk is in trouble: retryable),
/// DATA_LOSS for CORRUPT and NOTADB, INTERNAL otherwise. The message carries sqlite3_errmsg(db)
/// when `db` (may be null) holds this error.
absl::Status SqliteError(sqlite3* db, int rc, absl::string_view what);

/// Binds text; an empty view (even one with a null data()) binds '' rather than NULL.
int BindText(sqlite3_stmt* stmt, int index, absl::string_view s);

/// Column `col` of the current row as text; "" for NULL.
std::string ColumnText(sqlite3_stmt* stmt, int col);

/// Resets a cached statement (and drops its bindings) when it goes out of scope.
class ScopedStmt {
 public:
  explicit ScopedStmt(sqlite3_stmt* stmt) : stmt_(stmt) {}
  ScopedStmt(const ScopedStmt&) = delete;
  ScopedStmt& operator=(const ScopedStmt&) = delete;
  ~ScopedStmt() {
    sqlite3_reset(stmt_);
    sqlite3_clear_bindings(stmt_);
  }
  sqlite3_stmt* get() const { return stmt_; }

 private:
  sqlite3_stmt* stmt_;
};

/// Closes a connection that never made it into a SqliteDb.
struct ConnectionCloser {
  void operator()(sqlite3* db) const { sqlite3_close_v2(db); }
};
using Connection = std::unique_ptr<sqlite3, ConnectionCloser>;

/// Opens `path` read-write (creating it) through VFS `vfs` (empty: the default) with extended
/// result codes and `busy_timeout_ms`, and changes nothing in the file yet. Errors as SqliteError
/// (UNAVAILABLE when it cannot be opened).
absl::StatusOr<Connection> OpenConnection(const std::string& path, int busy_timeout_ms,
                                          const std::string& vfs = "");

/// Sets WAL journal mode, PRAGMA synchronous = `synchronous` (already validated: FULL, NORMAL or
/// EXTRA) and foreign keys on. INTERNAL when WAL or foreign keys cannot be enabled; `path` names
/// the file in errors.
absl::Status ConfigureConnection(sqlite3* db, const std::string& path,
                                 const std::string& synchronous);

/// Runs one statement on a connection outside any SqliteDb (open and migration time); the first
/// column of the first row, as int64 or text, goes to the optional outputs.
absl::Status ExecOnce(sqlite3* db, const std::string& sql, int64_t* int_out = nullptr,
                      std::string* text_out = nullptr);

/// "BEGIN IMMEDIATE": a write transaction takes the file's write lock at once, so two writers
/// never both read and then fail to upgrade.
inline constexpr char kBeginSql[] = "BEGIN IMMEDIATE";
inline constexpr char kCommitSql[] = "COMMIT";
inline constexpr char kRollbackSql[] = "ROLLBACK";

/// One open connection and its prepared statements. Not thread-safe: one thread at a time (the
/// writer is used by the group commit's leader only, a reader by the caller it is lent to).
class SqliteDb {
 public:
  /// Takes ownership of an open connection.
  explicit SqliteDb(Connection db) : db_(std::move(db)) {}
  SqliteDb(const SqliteDb&) = delete;
  SqliteDb& operator=(const SqliteDb&) = delete;
  /// Finalizes the statements, then closes the connection.
  ~SqliteDb();

  /// The cached statement for `sql`, prepared on first use. Wrap it in a ScopedStmt.
  absl::StatusOr<sqlite3_stmt*> Prepare(const std::string& sql);

  /// Runs a statement that returns no rows; `what` names it in the error.
  absl::Status Exec(const std::string& sql, absl::string_view what);

  /// Starts a write transaction (kBeginSql).
  absl::Status Begin() { return Exec(kBeginSql, "begin"); }

  /// Starts a read transaction: the reads up to EndRead see one consistent snapshot.
  absl::Status BeginRead() { return Exec("BEGIN", "begin"); }
  /// Ends a read transaction (rolls back: it wrote nothing).
  void EndRead() { Exec(kRollbackSql, "end read").IgnoreError(); }

  /// SqliteError on this connection.
  absl::Status Error(int rc, absl::string_view what) const {
    return SqliteError(db_.get(), rc, what);
  }
  /// True inside a transaction (BEGIN ran and no COMMIT or ROLLBACK ended it, nor SQLite itself
  /// after an error).
  bool InTransaction() const { return sqlite3_get_autocommit(db_.get()) == 0; }
  /// Rows changed by the last INSERT / UPDATE / DELETE.
  int Changes() const { return sqlite3_changes(db_.get()); }

  /// Steps `stmt` to the end, decoding every row with `decode` (sqlite3_stmt* ->
  /// absl::StatusOr<T>); the first decode error is returned.
  template <typename T, typename Decode>
  absl::StatusOr<std::vector<T>> QueryRows(sqlite3_stmt* stmt, Decode decode) {
    std::vector<T> rows;
    while (true) {
      const int rc = sqlite3_step(stmt);
      if (rc == SQLITE_DONE) return rows;
      if (rc != SQLITE_ROW) return Error(rc, "select");
      absl::StatusOr<T> row = decode(stmt);
      if (!row.ok()) return row.status();
      rows.push_back(*std::move(row));
    }
  }

  /// Steps a query that yields at most one row and decodes it; NOT_FOUND "<what> not found" when
  /// there is none.
  template <typename T, typename Decode>
  absl::StatusOr<T> QueryOne(sqlite3_stmt* stmt, Decode decode, absl::string_view what) {
    const int rc = sqlite3_step(stmt);
    if (rc == SQLITE_DONE) return NotFound(what);
    if (rc != SQLITE_ROW) return Error(rc, "select");
    return decode(stmt);
  }

 private:
  static absl::Status NotFound(absl::string_view what);

  Connection db_;
  absl::flat_hash_map<std::string, sqlite3_stmt*> stmts_;
};

}  // namespace music::persistence::sqlite_internal

#endif  // MUSIC_PERSISTENCE_SQLITE_SQLITE_DB_H_
