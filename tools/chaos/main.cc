// chaos: kill -9 music-server replicas under load and check that nothing was lost (README
// "Chaos"). Prints one figure per line, `name: value`; exits 0 when the run passed, 1 when it
// found a loss, a duplicate, a watch out of order or an unbalanced ledger, 2 when it could not run.
#include <pthread.h>

#include <csignal>
#include <cstdio>
#include <string>
#include <thread>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/flags/usage.h"
#include "absl/time/time.h"
#include "tools/chaos/chaos.h"

ABSL_FLAG(std::string, store, "sqlite", "sqlite (one replica) or postgres (tools/pg-scratch)");
ABSL_FLAG(int, replicas, 1, "music-server replicas (postgres: any number; sqlite: 1)");
ABSL_FLAG(double, seconds, 30, "How long the load and the kills last");
ABSL_FLAG(double, kill_every_seconds, 5, "A random replica gets SIGKILL this often");
ABSL_FLAG(double, restart_after_seconds, 1, "A killed replica restarts this long after");
ABSL_FLAG(int, lease_seconds, 0, "postgres: database.lease_seconds (0: the server's default)");
ABSL_FLAG(double, creates_per_second, 20, "CreateMusic calls per second over all replicas");
ABSL_FLAG(int, watchers_per_replica, 3, "WatchTask clients per replica");
ABSL_FLAG(double, settle_seconds, 60, "At most this long after the load for tasks to end");
ABSL_FLAG(double, max_task_seconds, 0,
          "Fail when a task takes longer from its acknowledgement to its end (0: no limit); with "
          "--restart_after_seconds above it, a dead replica's tasks must be taken over");
ABSL_FLAG(int, task_ms, 500, "The emulator's time from a create to SUCCESS");
ABSL_FLAG(std::string, music_server, CHAOS_MUSIC_SERVER, "The music-server binary");
ABSL_FLAG(std::string, emulator, CHAOS_EMULATOR, "The provider-emulator binary");
ABSL_FLAG(std::string, pg_scratch, CHAOS_PG_SCRATCH, "tools/pg-scratch (--store=postgres)");
ABSL_FLAG(std::string, work_dir, "",
          "Configs, databases and logs; default a temporary directory, removed after a pass");
ABSL_FLAG(bool, keep_work_dir, false, "Keep the temporary directory after a passing run");

int main(int argc, char** argv) {
  absl::SetProgramUsageMessage(
      "chaos --store=sqlite|postgres --replicas=N --seconds=S [--kill_every_seconds=K]");
  absl::ParseCommandLine(argc, argv);
  music::chaos::ChaosOptions options;
  options.store = absl::GetFlag(FLAGS_store);
  options.replicas = absl::GetFlag(FLAGS_replicas);
  options.load_time = absl::Seconds(absl::GetFlag(FLAGS_seconds));
  options.kill_every = absl::Seconds(absl::GetFlag(FLAGS_kill_every_seconds));
  options.restart_delay = absl::Seconds(absl::GetFlag(FLAGS_restart_after_seconds));
  options.lease_seconds = absl::GetFlag(FLAGS_lease_seconds);
  options.creates_per_second = absl::GetFlag(FLAGS_creates_per_second);
  options.watchers_per_replica = absl::GetFlag(FLAGS_watchers_per_replica);
  options.settle_time = absl::Seconds(absl::GetFlag(FLAGS_settle_seconds));
  options.max_task_time = absl::Seconds(absl::GetFlag(FLAGS_max_task_seconds));
  options.task_duration = absl::Milliseconds(absl::GetFlag(FLAGS_task_ms));
  options.music_server = absl::GetFlag(FLAGS_music_server);
  options.emulator = absl::GetFlag(FLAGS_emulator);
  options.pg_scratch = absl::GetFlag(FLAGS_pg_scratch);
  options.work_dir = absl::GetFlag(FLAGS_work_dir);
  options.keep_work_dir = absl::GetFlag(FLAGS_keep_work_dir);

  // Ctrl-C or SIGTERM ends the run early but cleanly: every thread blocks both and one thread
  // waits for them, so the replicas, the emulator and PostgreSQL are stopped, not orphaned.
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGINT);
  sigaddset(&signals, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);
  std::thread([signals] {
    for (int n = 1;; ++n) {
      int signal = 0;
      sigwait(&signals, &signal);
      std::fprintf(stderr,
                   n == 1 ? "chaos: signal %d: load and kills stop; again to stop waiting\n"
                          : "chaos: signal %d: the run ends now\n",
                   signal);
      music::chaos::InterruptChaos();
    }
  }).detach();

  absl::StatusOr<music::chaos::ChaosReport> report = music::chaos::RunChaos(options);
  if (!report.ok()) {
    std::fprintf(stderr, "chaos: %s\n", report.status().ToString().c_str());
    return 2;
  }
  std::printf("store: %s\nreplicas: %d\n", options.store.c_str(), options.replicas);
  for (const auto& [name, value] : report->Figures()) {
    std::printf("%s: %s\n", name.c_str(), value.c_str());
  }
  for (const std::string& problem : report->problems) {
    std::fprintf(stderr, "chaos: problem: %s\n", problem.c_str());
  }
  return report->Passed() ? 0 : 1;
}
