#include "persistence/sqlite/sqlite_db.h"

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"

namespace music::persistence::sqlite_internal {

absl::Status SqliteError(sqlite3* db, int rc, absl::string_view what) {
  std::string message = absl::StrCat("sqlite: ", what, ": ", sqlite3_errstr(rc));
  if (db != nullptr && sqlite3_errcode(db) == rc) {
    absl::StrAppend(&message, " (", sqlite3_errmsg(db), ")");
  }
  switch (rc & 0xff) {
    case SQLITE_BUSY:
    case SQLITE_LOCKED:
    case SQLITE_CANTOPEN:
    // Disk full and I/O errors are the store's trouble, not a bug: retryable (AIP-194), and the
    // engine retries its writes until they go through.
    case SQLITE_FULL:
    case SQLITE_IOERR:
    case SQLITE_READONLY:
    case SQLITE_PROTOCOL:
      return absl::UnavailableError(message);
    case SQLITE_CORRUPT:
    case SQLITE_NOTADB:
      return absl::DataLossError(message);
    default:
      return absl::InternalError(message);
  }
}

int BindText(sqlite3_stmt* stmt, int index, absl::string_view s) {
  return sqlite3_bind_text(stmt, index, s.empty() ? "" : s.data(), static_cast<int>(s.size()),
                           SQLITE_TRANSIENT);
}

std::string ColumnText(sqlite3_stmt* stmt, int col) {
  const unsigned char* p = sqlite3_column_text(stmt, col);
  if (p == nullptr) return std::string();
  return std::string(reinterpret_cast<const char*>(p),
                     static_cast<size_t>(sqlite3_column_bytes(stmt, col)));
}

absl::StatusOr<Connection> OpenConnection(const std::string& path, int busy_timeout_ms,
                                          const std::string& vfs) {
  sqlite3* raw = nullptr;
  const int rc = sqlite3_open_v2(path.c_str(), &raw,
                                 SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX,
                                 vfs.empty() ? nullptr : vfs.c_str());
  Connection db(raw);
  if (rc != SQLITE_OK) return SqliteError(db.get(), rc, absl::StrCat("open ", path));
  sqlite3_extended_result_codes(db.get(), 1);
  sqlite3_busy_timeout(db.get(), busy_timeout_ms);
  return db;
}

absl::Status ConfigureConnection(sqlite3* db, const std::string& path,
                                 const std::string& synchronous) {
  std::string journal_mode;
  if (absl::Status s = ExecOnce(db, "PRAGMA journal_mode = WAL", nullptr, &journal_mode); !s.ok()) {
    return s;
  }
  if (absl::AsciiStrToLower(journal_mode) != "wal") {
    return absl::InternalError(
        absl::StrCat("sqlite: cannot enable WAL mode on ", path, " (", journal_mode, ")"));
  }
  if (absl::Status s = ExecOnce(db, absl::StrCat("PRAGMA synchronous = ", synchronous)); !s.ok()) {
    return s;
  }
  // 16 MiB of page cache per connection instead of SQLite's 2 MB: with thousands of tasks in
  // flight their rows and index pages stay cached instead of being read again with read(2) (the
  // end-to-end profile showed filemap_read and _copy_to_iter under the writer's statements).
  if (absl::Status s = ExecOnce(db, "PRAGMA cache_size = -16384"); !s.ok()) return s;
  int64_t foreign_keys = 0;
  if (absl::Status s = ExecOnce(db, "PRAGMA foreign_keys = ON"); !s.ok()) return s;
  if (absl::Status s = ExecOnce(db, "PRAGMA foreign_keys", &foreign_keys); !s.ok()) return s;
  if (foreign_keys != 1) return absl::InternalError("sqlite: foreign keys are not supported");
  return absl::OkStatus();
}

absl::Status ExecOnce(sqlite3* db, const std::string& sql, int64_t* int_out,
                      std::string* text_out) {
  sqlite3_stmt* stmt = nullptr;
  int rc = sqlite3_prepare_v2(db, sql.c_str(), static_cast<int>(sql.size()) + 1, &stmt, nullptr);
  if (rc != SQLITE_OK) {
    sqlite3_finalize(stmt);
    return SqliteError(db, rc, sql);
  }
  bool first = true;
  while ((rc = sqlite3_step(stmt)) == SQLITE_ROW) {
    if (first && int_out != nullptr) *int_out = sqlite3_column_int64(stmt, 0);
    if (first && text_out != nullptr) *text_out = ColumnText(stmt, 0);
    first = false;
  }
  absl::Status status = rc == SQLITE_DONE ? absl::OkStatus() : SqliteError(db, rc, sql);
  sqlite3_finalize(stmt);
  return status;
}

SqliteDb::~SqliteDb() {
  for (auto& [sql, stmt] : stmts_) sqlite3_finalize(stmt);
  stmts_.clear();
  // db_ closes the connection (sqlite3_close_v2).
}

absl::StatusOr<sqlite3_stmt*> SqliteDb::Prepare(const std::string& sql) {
  auto it = stmts_.find(sql);
  if (it != stmts_.end()) return it->second;
  sqlite3_stmt* stmt = nullptr;
  const int rc = sqlite3_prepare_v3(db_.get(), sql.c_str(), static_cast<int>(sql.size()) + 1,
                                    SQLITE_PREPARE_PERSISTENT, &stmt, nullptr);
  if (rc != SQLITE_OK) {
    sqlite3_finalize(stmt);
    return Error(rc, "prepare");
  }
  stmts_.emplace(sql, stmt);
  return stmt;
}

absl::Status SqliteDb::Exec(const std::string& sql, absl::string_view what) {
  absl::StatusOr<sqlite3_stmt*> stmt = Prepare(sql);
  if (!stmt.ok()) return stmt.status();
  ScopedStmt scoped(*stmt);
  const int rc = sqlite3_step(*stmt);
  if (rc != SQLITE_DONE) return Error(rc, what);
  return absl::OkStatus();
}

absl::Status SqliteDb::NotFound(absl::string_view what) {
  return absl::NotFoundError(absl::StrCat(what, " not found"));
}

}  // namespace music::persistence::sqlite_internal
