#include "persistence/postgres/pg_connection.h"

#include <algorithm>
#include <cstring>
#include <utility>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/strip.h"

namespace music::persistence::pg_internal {
namespace {

// libpq's messages end with a newline; a status message should not.
std::string Trimmed(const char* message) {
  if (message == nullptr) return "";
  return std::string(absl::StripTrailingAsciiWhitespace(message));
}

absl::StatusCode CodeFor(absl::string_view sqlstate) {
  if (sqlstate == kUniqueViolation) return absl::StatusCode::kAlreadyExists;
  if (sqlstate == kRaiseException) return absl::StatusCode::kFailedPrecondition;
  // Retryable after a while: the connection, the server's state, its resources, timeouts.
  if (absl::StartsWith(sqlstate, "08") || absl::StartsWith(sqlstate, "53") ||
      absl::StartsWith(sqlstate, "58") || absl::StartsWith(sqlstate, "57P") ||
      sqlstate == "55P03" || sqlstate == "57014" || sqlstate == "25006") {
    return absl::StatusCode::kUnavailable;
  }
  if (absl::StartsWith(sqlstate, "40")) return absl::StatusCode::kAborted;
  if (absl::StartsWith(sqlstate, "23")) return absl::StatusCode::kFailedPrecondition;
  return absl::StatusCode::kInternal;
}

}  // namespace

std::string SqlState(const PGresult* result) {
  if (result == nullptr) return "";
  const char* state = PQresultErrorField(result, PG_DIAG_SQLSTATE);
  return state == nullptr ? "" : state;
}

absl::Status PgError(const PGconn* conn, const PGresult* result, absl::string_view what) {
  const std::string sqlstate = SqlState(result);
  std::string message = result != nullptr ? Trimmed(PQresultErrorMessage(result)) : "";
  if (message.empty() && conn != nullptr) message = Trimmed(PQerrorMessage(conn));
  // No SQLSTATE: libpq itself failed (the connection is gone, or the server never answered).
  const bool lost = conn == nullptr || PQstatus(conn) != CONNECTION_OK;
  absl::StatusCode code = sqlstate.empty() ? (lost ? absl::StatusCode::kUnavailable
                                                    : absl::StatusCode::kInternal)
                                           : CodeFor(sqlstate);
  if (lost) code = absl::StatusCode::kUnavailable;
  return absl::Status(code, absl::StrCat("PostgreSQL: ", what, ": ",
                                         sqlstate.empty() ? "" : absl::StrCat("[", sqlstate, "] "),
                                         message.empty() ? "no answer" : message));
}

int64_t Result::affected() const {
  int64_t n = 0;
  return absl::SimpleAtoi(PQcmdTuples(result_.get()), &n) ? n : 0;
}

absl::string_view Result::Text(int row, int col) const {
  if (IsNull(row, col)) return "";
  return absl::string_view(PQgetvalue(result_.get(), row, col),
                           static_cast<size_t>(PQgetlength(result_.get(), row, col)));
}

absl::StatusOr<int64_t> Result::Int64(int row, int col) const {
  int64_t value = 0;
  if (IsNull(row, col) || !absl::SimpleAtoi(Text(row, col), &value)) {
    return absl::DataLossError(absl::StrCat("column ", PQfname(result_.get(), col),
                                            " is not an integer: '", Text(row, col), "'"));
  }
  return value;
}

absl::StatusOr<std::string> Result::Bytes(int row, int col) const {
  if (IsNull(row, col)) {
    return absl::DataLossError(absl::StrCat("column ", PQfname(result_.get(), col), " is NULL"));
  }
  size_t length = 0;
  unsigned char* bytes = PQunescapeBytea(
      reinterpret_cast<const unsigned char*>(PQgetvalue(result_.get(), row, col)), &length);
  if (bytes == nullptr) {
    return absl::DataLossError(
        absl::StrCat("column ", PQfname(result_.get(), col), " is not a bytea"));
  }
  std::string out(reinterpret_cast<const char*>(bytes), length);
  PQfreemem(bytes);
  return out;
}

Params& Params::Add(absl::string_view text) {
  values_.emplace_back(text);
  formats_.push_back(0);
  return *this;
}

Params& Params::Add(int64_t value) { return Add(absl::StrCat(value)); }

Params& Params::AddBytes(absl::string_view bytes) {
  values_.emplace_back(bytes);
  formats_.push_back(1);
  return *this;
}

std::vector<const char*> Params::Values() const {
  std::vector<const char*> out;
  out.reserve(values_.size());
  for (const std::string& v : values_) out.push_back(v.data());
  return out;
}

std::vector<int> Params::Lengths() const {
  std::vector<int> out;
  out.reserve(values_.size());
  for (const std::string& v : values_) out.push_back(static_cast<int>(v.size()));
  return out;
}

std::vector<int> Params::Formats() const { return formats_; }

absl::StatusOr<std::unique_ptr<Connection>> Connection::Open(const ConnectOptions& options) {
  if (options.url.empty()) return absl::InvalidArgumentError("database.url is empty");
  // Ours first, the URL last: with expand_dbname its own settings override these.
  const std::string connect_timeout =
      absl::StrCat(std::max<int64_t>(1, absl::ToInt64Seconds(options.connect_timeout)));
  const int64_t statement_ms = std::max<int64_t>(1, absl::ToInt64Milliseconds(options.statement_timeout));
  const std::string session = absl::StrCat("-c statement_timeout=", statement_ms,
                                           " -c lock_timeout=", statement_ms,
                                           " -c idle_in_transaction_session_timeout=",
                                           2 * statement_ms);
  // A peer that vanished without a FIN (a partitioned network, a frozen host) is noticed within
  // about tcp_user_timeout rather than the kernel's two hours.
  const std::string user_timeout = absl::StrCat(2 * statement_ms);
  const char* keys[] = {"connect_timeout", "application_name", "keepalives", "keepalives_idle",
                        "keepalives_interval", "keepalives_count", "tcp_user_timeout", "options",
                        "dbname", nullptr};
  const char* values[] = {connect_timeout.c_str(), options.application_name.c_str(), "1", "5", "2",
                          "3", user_timeout.c_str(), session.c_str(), options.url.c_str(),
                          nullptr};
  PGconn* conn = PQconnectdbParams(keys, values, /*expand_dbname=*/1);
  if (conn == nullptr) return absl::ResourceExhaustedError("PostgreSQL: out of memory");
  if (PQstatus(conn) != CONNECTION_OK) {
    std::string message = Trimmed(PQerrorMessage(conn));
    PQfinish(conn);
    // libpq says "invalid URI" / "invalid connection option" for a malformed URL before it
    // connects anywhere.
    if (absl::StrContains(message, "invalid") && !absl::StrContains(message, "failed:")) {
      return absl::InvalidArgumentError(absl::StrCat("database.url: ", message));
    }
    return absl::UnavailableError(absl::StrCat("PostgreSQL: cannot connect: ", message));
  }
  return std::unique_ptr<Connection>(new Connection(conn));
}

Connection::~Connection() {
  if (conn_ != nullptr) PQfinish(conn_);
}

absl::StatusOr<Result> Connection::Exec(absl::string_view sql, const Params& params,
                                        absl::string_view what) {
  const std::string text(sql);
  const std::vector<const char*> values = params.Values();
  const std::vector<int> lengths = params.Lengths();
  const std::vector<int> formats = params.Formats();
  Result result(PQexecParams(conn_, text.c_str(), params.size(), /*paramTypes=*/nullptr,
                             values.data(), lengths.data(), formats.data(), /*resultFormat=*/0));
  const ExecStatusType status = PQresultStatus(result.get());
  if (result.get() == nullptr || (status != PGRES_COMMAND_OK && status != PGRES_TUPLES_OK)) {
    return PgError(conn_, result.get(), what);
  }
  return result;
}

absl::Status Connection::ExecScript(absl::string_view sql, absl::string_view what) {
  const std::string text(sql);
  Result result(PQexec(conn_, text.c_str()));
  const ExecStatusType status = PQresultStatus(result.get());
  if (result.get() == nullptr || (status != PGRES_COMMAND_OK && status != PGRES_TUPLES_OK)) {
    return PgError(conn_, result.get(), what);
  }
  return absl::OkStatus();
}

absl::Status Connection::InTransaction(absl::FunctionRef<absl::Status(Connection&)> body,
                                       absl::string_view begin) {
  if (absl::Status s = ExecScript(begin, "begin"); !s.ok()) return s;
  absl::Status status = body(*this);
  if (status.ok()) return ExecScript("COMMIT", "commit");
  // The transaction is void already when a statement failed; ROLLBACK ends it. On a lost
  // connection it fails too, and the pool drops the connection.
  ExecScript("ROLLBACK", "rollback").IgnoreError();
  return status;
}

}  // namespace music::persistence::pg_internal
