// tools/chaos: music-server replicas under kill -9, with the provider emulator and a create and
// watch load, then the checks of issue 10 "Proof under faults". The run is bounded in time and
// everything listens on loopback only.
#ifndef MUSIC_TOOLS_CHAOS_CHAOS_H_
#define MUSIC_TOOLS_CHAOS_CHAOS_H_

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"

namespace music::chaos {

/// What to run and how hard to attack it.
struct ChaosOptions {
  /// "sqlite" (one replica on a database file) or "postgres" (one server from tools/pg-scratch,
  /// shared by every replica).
  std::string store = "sqlite";
  int replicas = 1;
  /// How long the load and the kills last; then the run settles and checks.
  absl::Duration load_time = absl::Seconds(30);
  /// A random replica is killed (SIGKILL) this often and restarted `restart_delay` later on the
  /// same ports and database.
  absl::Duration kill_every = absl::Seconds(5);
  absl::Duration restart_delay = absl::Seconds(1);
  /// postgres: `database.lease_seconds` of every replica (how long a dead replica's tasks wait
  /// for another to claim them); 0: the server's default.
  int lease_seconds = 0;
  /// Creates per second over all replicas.
  double creates_per_second = 20;
  /// WatchTask clients per replica.
  int watchers_per_replica = 3;
  /// At most this long after the load for every acknowledged task to reach a terminal state.
  absl::Duration settle_time = absl::Seconds(60);
  /// How long the emulator takes from a create to SUCCESS.
  absl::Duration task_duration = absl::Milliseconds(500);
  /// Programs.
  std::string music_server;
  std::string emulator;
  std::string pg_scratch;
  /// When > 0, a task that took longer than this from its acknowledgement to its end fails the
  /// run: a dead replica's tasks must be taken over (by another replica or its restart) in time.
  absl::Duration max_task_time = absl::ZeroDuration();
  /// Where configs, databases and logs go; empty: a fresh temporary directory, removed after a
  /// passing run unless `keep_work_dir`.
  std::string work_dir;
  bool keep_work_dir = false;
};

/// The figures of one run.
struct ChaosReport {
  int64_t kills = 0;
  int64_t restarts = 0;
  int64_t restart_failures = 0;        ///< Restarted replicas that exited again at once.
  int64_t creates_acknowledged = 0;    ///< Request ids answered OK.
  int64_t create_retries = 0;          ///< Attempts after a retryable error (same request_id).
  int64_t creates_unanswered = 0;      ///< Request ids given up at the end of the retry window.
  int64_t create_errors = 0;           ///< Request ids answered with a non-retryable error.
  int64_t idempotency_violations = 0;  ///< A request_id answered with two different tasks.
  int64_t distinct_tasks = 0;
  int64_t tasks_terminal_once = 0;  ///< Terminal at the end, with one terminal state ever seen.
  int64_t tasks_succeeded = 0;
  int64_t tasks_failed = 0;        ///< FAILED or CANCELED at the end.
  int64_t tasks_lost = 0;          ///< Acknowledged but NOT_FOUND or not terminal at the end.
  int64_t terminal_conflicts = 0;  ///< Tasks seen in two different terminal states.
  int64_t tasks_submitted = 0;     ///< Tasks the emulator got a create for.
  int64_t duplicates = 0;          ///< Tasks the emulator got more than one create for.
  int64_t tasks_watched = 0;
  int64_t watch_events = 0;        ///< Task messages received (not heartbeats).
  int64_t watch_reconnects = 0;    ///< Streams reopened after an error (not a deadline), each try.
  int64_t watch_violations = 0;    ///< A version received twice or out of order by one client.
  int64_t ledger_violations = -1;  ///< -1: CheckLedger could not be asked.
  int64_t tasks_too_slow = 0;      ///< Tasks slower than ChaosOptions::max_task_time.
  /// From a create's first OK answer until a reader (a watcher or the GetTask poller, twice a
  /// second) saw the task terminal: the slowest bounds how long a killed replica's tasks waited.
  double median_task_seconds = 0;
  double slowest_task_seconds = 0;
  /// How long the run waited after the load for every task to end.
  absl::Duration settle_wait;
  /// Up to a few examples of what failed, for the operator.
  std::vector<std::string> problems;

  /// Whether nothing was lost or duplicated, every watch was in order and the ledger balances.
  bool Passed() const {
    return tasks_lost == 0 && duplicates == 0 && watch_violations == 0 && ledger_violations == 0 &&
           idempotency_violations == 0 && terminal_conflicts == 0 && tasks_too_slow == 0 &&
           creates_acknowledged > 0;
  }
  /// `name: value` lines, one figure per line, in a fixed order.
  std::vector<std::pair<std::string, std::string>> Figures() const;
};

/// Ends a running RunChaos early (an operator's Ctrl-C): the first call stops the load and the
/// kills (the run still settles and checks), a second one the settling too; either way every
/// process the run started is stopped. Lock-free.
void InterruptChaos();

/// Runs the attack and the checks. An error when the run could not be set up (a program missing,
/// a replica that never started); a run that found losses is a report with Passed() false.
absl::StatusOr<ChaosReport> RunChaos(const ChaosOptions& options);

}  // namespace music::chaos

#endif  // MUSIC_TOOLS_CHAOS_CHAOS_H_
