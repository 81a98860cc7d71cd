#include "service/core/change_relay.h"

#include <vector>

#include "service/core/event_log.h"

namespace music::service {

void ChangeRelay::OnChange(const persistence::TaskChange& change) {
  if (change.writer == self_) return;
  engine_->NoteStoredChange(change.task_id, change.version);
  if (hub_->HasWatchers(change.task_id)) PublishStored(change.task_id);
}

void ChangeRelay::OnResync() {
  for (const std::string& id : hub_->WatchedTaskIds()) PublishStored(id);
}

void ChangeRelay::PublishStored(const std::string& task_id) {
  absl::StatusOr<domain::TaskRecord> stored = store_->Get(task_id);
  if (!stored.ok()) {
    // The next change or resync brings it; a stream still has its heartbeats and reconnects.
    LogEvent(LogLevel::kWarn, "watch.relay_read_failed",
             {{"task_id", task_id}, {"error", stored.status().ToString()}});
    return;
  }
  hub_->Publish(stored->task);
}

}  // namespace music::service
