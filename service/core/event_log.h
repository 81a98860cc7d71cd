#ifndef MUSIC_SERVICE_CORE_EVENT_LOG_H_
#define MUSIC_SERVICE_CORE_EVENT_LOG_H_

#include <initializer_list>
#include <utility>

#include "absl/strings/string_view.h"

namespace music::service {

/// Writes one line to stderr: `<RFC 3339 time> <event> key=value ...`, values quoted when they
/// hold spaces. For operators: task transitions and provider trouble. Callers pass no secrets
/// (API keys and webhook keys never reach the engine) and no request bodies. Thread-safe;
/// silenced by SetEventLogEnabled(false) (tests, benchmarks).
void LogEvent(absl::string_view event,
              std::initializer_list<std::pair<absl::string_view, absl::string_view>> fields);

/// Turns the event log on or off (on by default).
void SetEventLogEnabled(bool enabled);

}  // namespace music::service

#endif  // MUSIC_SERVICE_CORE_EVENT_LOG_H_
