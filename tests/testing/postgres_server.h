#ifndef MUSIC_TESTS_TESTING_POSTGRES_SERVER_H_
#define MUSIC_TESTS_TESTING_POSTGRES_SERVER_H_

#include <libpq-fe.h>
#include <stdlib.h>

#include <atomic>
#include <cstdio>
#include <fstream>
#include <sstream>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/strip.h"
#include "gtest/gtest.h"
#include "tests/testing/temp_dir.h"

namespace music {

/// A real PostgreSQL server for tests (Debian's `postgresql`, started by tools/pg-scratch as an
/// unprivileged user on a loopback port, trust authentication).
///
/// Shared(): under ctest, the one server the `postgres` fixture started for the whole run
/// (tests/CMakeLists.txt: `postgres_start` / `postgres_stop`; its URL file is named by
/// MUSIC_TEST_POSTGRES_URL_FILE); a binary run by hand starts its own, stopped at exit.
/// A test that stops, kills or restarts PostgreSQL starts its own with Start(dir) instead.
class PostgresServer {
 public:
  /// The server shared by this process's tests. Fails the test (and returns an empty URL) when
  /// none can be had.
  static PostgresServer& Shared() {
    static PostgresServer* shared = [] {
      auto* server = new PostgresServer();
      const char* url_file = getenv("MUSIC_TEST_POSTGRES_URL_FILE");
      if (url_file != nullptr && *url_file != '\0') {
        std::ifstream in(url_file);
        std::stringstream text;
        text << in.rdbuf();
        server->url_ = std::string(absl::StripAsciiWhitespace(text.str()));
        if (server->url_.empty()) ADD_FAILURE() << "no PostgreSQL URL in " << url_file;
      } else {
        server->own_dir_ = std::make_unique<TempDir>("postgres");
        if (!server->Start(server->own_dir_->File("pg")).ok()) ADD_FAILURE() << "no PostgreSQL";
        atexit([] { Shared().Stop().IgnoreError(); });
      }
      return server;
    }();
    return *shared;
  }

  PostgresServer() = default;
  PostgresServer(const PostgresServer&) = delete;
  PostgresServer& operator=(const PostgresServer&) = delete;
  ~PostgresServer() {
    if (!dir_.empty()) Stop().IgnoreError();
  }

  /// Starts (or restarts, on the same port and data) a server of this object's own in `dir`.
  absl::Status Start(const std::string& dir) {
    dir_ = dir;
    if (absl::Status s = Run("start"); !s.ok()) return s;
    std::ifstream in(dir_ + "/url");
    std::stringstream text;
    text << in.rdbuf();
    url_ = std::string(absl::StripAsciiWhitespace(text.str()));
    return url_.empty() ? absl::InternalError("pg-scratch wrote no URL") : absl::OkStatus();
  }
  /// A fast shutdown of the server Start() started.
  absl::Status Stop() { return Run("stop"); }
  /// SIGKILL of the server Start() started and its backends (a crash).
  absl::Status Kill() { return Run("kill"); }
  /// Starts it again after Stop() or Kill(): same port, same data.
  absl::Status Restart() { return Run("start"); }

  /// postgresql://music@127.0.0.1:PORT/music
  const std::string& url() const { return url_; }

  /// A new empty database on the server (owned by `music`); returns its URL.
  absl::StatusOr<std::string> CreateDatabase(const std::string& prefix) {
    static std::atomic<int> counter{0};
    const std::string name = absl::StrCat(prefix, "_", getpid(), "_", counter.fetch_add(1));
    if (absl::Status s = Admin(absl::StrCat("DROP DATABASE IF EXISTS ", name)); !s.ok()) return s;
    if (absl::Status s = Admin(absl::StrCat("CREATE DATABASE ", name)); !s.ok()) return s;
    return UrlOf(name);
  }
  /// Drops a database CreateDatabase made (its connections are closed first).
  absl::Status DropDatabase(const std::string& url) {
    const std::string name = url.substr(url.rfind('/') + 1);
    return Admin(absl::StrCat("DROP DATABASE IF EXISTS ", name, " WITH (FORCE)"));
  }
  /// Runs one command on the database at `url` (as `music`).
  static absl::Status Exec(const std::string& url, const std::string& sql) {
    PGconn* conn = PQconnectdb(url.c_str());
    absl::Status status;
    if (PQstatus(conn) != CONNECTION_OK) {
      status = absl::UnavailableError(PQerrorMessage(conn));
    } else {
      PGresult* result = PQexec(conn, sql.c_str());
      const ExecStatusType rc = PQresultStatus(result);
      if (rc != PGRES_COMMAND_OK && rc != PGRES_TUPLES_OK) {
        status = absl::InternalError(absl::StrCat(sql, ": ", PQresultErrorMessage(result)));
      }
      PQclear(result);
    }
    PQfinish(conn);
    return status;
  }

 private:
  std::string UrlOf(const std::string& database) const {
    return absl::StrCat(url_.substr(0, url_.rfind('/') + 1), database);
  }
  absl::Status Admin(const std::string& sql) { return Exec(UrlOf("postgres"), sql); }
  absl::Status Run(const std::string& command) {
    if (dir_.empty()) return absl::FailedPreconditionError("not a server of this process");
    const std::string cmd =
        absl::StrCat(MUSIC_PG_SCRATCH, " ", command, " '", dir_, "' >/dev/null");
    if (std::system(cmd.c_str()) != 0) {
      return absl::InternalError(absl::StrCat("tools/pg-scratch ", command, " failed"));
    }
    return absl::OkStatus();
  }

  std::unique_ptr<TempDir> own_dir_;
  std::string dir_;
  std::string url_;
};

}  // namespace music

#endif  // MUSIC_TESTS_TESTING_POSTGRES_SERVER_H_
