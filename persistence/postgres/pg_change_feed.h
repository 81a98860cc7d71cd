// The PostgreSQL change feed: LISTEN on its own connection, notifications turned into
// TaskChanges, reconnection with backoff and a resync after each connection. Internal to
// persistence/postgres.
#ifndef MUSIC_PERSISTENCE_POSTGRES_PG_CHANGE_FEED_H_
#define MUSIC_PERSISTENCE_POSTGRES_PG_CHANGE_FEED_H_

#include <atomic>
#include <functional>
#include <optional>
#include <string>
#include <thread>

#include "absl/strings/string_view.h"
#include "absl/synchronization/mutex.h"
#include "persistence/change_feed.h"
#include "persistence/postgres/pg_connection.h"

namespace music::persistence::pg_internal {

/// The channel the tasks trigger notifies (migration 3).
inline constexpr char kTaskChangesChannel[] = "music_task_changes";

/// A notification payload "<task_id> <version> <writer>" as a TaskChange; nullopt when malformed.
std::optional<TaskChange> ParseTaskChange(absl::string_view payload);

class PgChangeFeed : public TaskChangeFeed {
 public:
  explicit PgChangeFeed(ConnectOptions options) : options_(std::move(options)) {}
  ~PgChangeFeed() override { Stop(); }

  absl::Status Start(std::function<void(const TaskChange&)> on_change,
                     std::function<void()> on_resync) override;
  void Stop() override;

 private:
  void Run();
  // Listens on `conn` until it breaks or Stop; false when it broke.
  bool Listen(Connection& conn);

  const ConnectOptions options_;
  std::function<void(const TaskChange&)> on_change_;
  std::function<void()> on_resync_;
  std::atomic<bool> stopping_{false};
  absl::Mutex mu_;
  bool started_ ABSL_GUARDED_BY(mu_) = false;
  std::thread thread_;
};

}  // namespace music::persistence::pg_internal

#endif  // MUSIC_PERSISTENCE_POSTGRES_PG_CHANGE_FEED_H_
