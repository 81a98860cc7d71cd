#include "persistence/postgres/pg_change_feed.h"

#include <poll.h>

#include <algorithm>
#include <utility>
#include <vector>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"

namespace music::persistence::pg_internal {
namespace {

// How long a poll waits before looking at stopping_: bounds Stop's latency.
constexpr int kPollMillis = 200;

}  // namespace

std::optional<TaskChange> ParseTaskChange(absl::string_view payload) {
  // From the right: a task id could hold a space, a version and a replica id do not.
  const size_t last = payload.rfind(' ');
  if (last == absl::string_view::npos) return std::nullopt;
  const size_t middle = payload.rfind(' ', last == 0 ? 0 : last - 1);
  if (middle == absl::string_view::npos || middle == 0) return std::nullopt;
  TaskChange change;
  if (!absl::SimpleAtoi(payload.substr(middle + 1, last - middle - 1), &change.version)) {
    return std::nullopt;
  }
  change.task_id = std::string(payload.substr(0, middle));
  change.writer = std::string(payload.substr(last + 1));
  return change;
}

absl::Status PgChangeFeed::Start(std::function<void(const TaskChange&)> on_change,
                                 std::function<void()> on_resync) {
  absl::MutexLock lock(&mu_);
  if (started_) return absl::FailedPreconditionError("the change feed is running");
  started_ = true;
  on_change_ = std::move(on_change);
  on_resync_ = std::move(on_resync);
  thread_ = std::thread([this] { Run(); });
  return absl::OkStatus();
}

void PgChangeFeed::Stop() {
  stopping_ = true;
  absl::MutexLock lock(&mu_);
  if (thread_.joinable()) thread_.join();
}

void PgChangeFeed::Run() {
  absl::Duration backoff = absl::Milliseconds(100);
  while (!stopping_) {
    absl::StatusOr<std::unique_ptr<Connection>> conn = Connection::Open(options_);
    if (conn.ok()) {
      absl::Status listening =
          (*conn)->ExecScript(absl::StrCat("LISTEN ", kTaskChangesChannel), "listen");
      if (listening.ok()) {
        backoff = absl::Milliseconds(100);
        // Whatever was committed while no one listened is read again by the caller.
        on_resync_();
        if (!Listen(**conn)) continue;  // broke: reconnect at once, then back off
        return;                         // stopping
      }
    }
    // Unreachable: try again later, a little later each time (up to 5 s), until Stop.
    const absl::Time until = absl::Now() + backoff;
    while (!stopping_ && absl::Now() < until) absl::SleepFor(absl::Milliseconds(kPollMillis) / 4);
    backoff = std::min(backoff * 2, absl::Seconds(5));
  }
}

bool PgChangeFeed::Listen(Connection& conn) {
  PGconn* raw = conn.raw();
  while (!stopping_) {
    pollfd fd{PQsocket(raw), POLLIN, 0};
    if (fd.fd < 0) return false;
    const int ready = ::poll(&fd, 1, kPollMillis);
    if (ready < 0) continue;  // EINTR
    if (ready == 0) continue;
    if (PQconsumeInput(raw) == 0 || PQstatus(raw) != CONNECTION_OK) return false;
    while (PGnotify* note = PQnotifies(raw)) {
      std::optional<TaskChange> change = ParseTaskChange(note->extra);
      PQfreemem(note);
      if (change.has_value()) on_change_(*change);
    }
  }
  return true;
}

}  // namespace music::persistence::pg_internal
