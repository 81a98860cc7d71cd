#ifndef MUSIC_SERVICE_CORE_CHANGE_RELAY_H_
#define MUSIC_SERVICE_CORE_CHANGE_RELAY_H_

#include <string>

#include "persistence/change_feed.h"
#include "persistence/task_store.h"
#include "service/core/task_engine.h"
#include "service/core/watch_hub.h"

namespace music::service {

/// Applies the task changes other replicas commit (persistence::TaskChangeFeed) to this one: the
/// WatchTask streams of a changed task get the stored task (the streams drop versions they have
/// sent, so each version reaches a client once and in order), and the engine drops a cached copy
/// older than the change, so its next step reads the newer one. Runs on the feed's thread (store
/// reads are fine there; never on a gRPC reaction). Pointers are not owned and outlive it.
class ChangeRelay {
 public:
  /// `self`: this replica's id; its own changes are skipped (published when written).
  ChangeRelay(persistence::TaskStore* store, WatchHub* hub, TaskEngine* engine, std::string self)
      : store_(store), hub_(hub), engine_(engine), self_(std::move(self)) {}

  /// One committed change: nothing is read unless a stream here watches the task.
  void OnChange(const persistence::TaskChange& change);
  /// The feed (re)connected: every watched task is read again and published, for the changes
  /// committed while no notification could arrive.
  void OnResync();

 private:
  void PublishStored(const std::string& task_id);

  persistence::TaskStore* const store_;
  WatchHub* const hub_;
  TaskEngine* const engine_;
  const std::string self_;
};

}  // namespace music::service

#endif  // MUSIC_SERVICE_CORE_CHANGE_RELAY_H_
