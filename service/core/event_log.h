#ifndef MUSIC_SERVICE_CORE_EVENT_LOG_H_
#define MUSIC_SERVICE_CORE_EVENT_LOG_H_

#include <functional>
#include <initializer_list>
#include <optional>
#include <utility>

#include "absl/strings/string_view.h"
#include "domain/task_record.h"

namespace music::service {

/// Severity of an event-log line; lines below the configured level (SetEventLogLevel, config
/// `log.level`) are dropped before they are formatted.
enum class LogLevel : int { kDebug = 0, kInfo = 1, kWarn = 2, kError = 3 };

/// "debug", "info", "warn", "error".
absl::string_view LogLevelName(LogLevel level);
/// The inverse of LogLevelName; nullopt for any other spelling.
std::optional<LogLevel> ParseLogLevel(absl::string_view name);

/// An event's own fields, in order: key, value (both copied while the line is written).
using LogFields = std::initializer_list<std::pair<absl::string_view, absl::string_view>>;

/// Writes one JSON object per line to stderr (or the sink of SetEventLogSink):
/// `{"time":"<RFC 3339 UTC, ms>","level":"info","event":"<event>", <fields>...}`. Values are
/// strings (AddEventLogSecret values replaced), cut at 300 bytes (on a UTF-8 boundary; invalid
/// UTF-8 becomes '?'). A field whose key names a secret (IsSecretFieldName) is written as
/// "[redacted]": callers pass no secrets (API keys and webhook keys never reach the engine) and no
/// request bodies; the guard is the second line of defence. Thread-safe; silenced by
/// SetEventLogEnabled(false) (tests, benchmarks).
void LogEvent(LogLevel level, absl::string_view event, LogFields fields = {});

/// LogEvent for a line about a task: the task's task_id, request_id, tenant, provider and
/// provider_task_id (and traceparent and trace_id when the caller sent one) come first, taken
/// from `record`, then `fields`. Every line about a task goes through here so none forgets them.
void LogTaskEvent(LogLevel level, absl::string_view event, const domain::TaskRecord& record,
                  LogFields fields = {});

/// Whether a line of `level` would be written now (to skip building costly fields).
bool IsEventLogged(LogLevel level);

/// True for keys that name a secret: containing "key", "secret", "token", "password",
/// "authorization" or "signature" (any case).
bool IsSecretFieldName(absl::string_view key);

/// Adds a secret value (an API key, a webhook key) that must never appear in a line: every
/// occurrence in a field value is written as "[redacted]" (before values are cut), whatever path
/// brought it there (e.g. a provider's error message echoing our request). Values shorter than 8
/// bytes are ignored (they would blank out ordinary words). BuildServer adds every secret it reads.
void AddEventLogSecret(absl::string_view secret);

/// Turns the event log on or off (on by default).
void SetEventLogEnabled(bool enabled);

/// Drops lines below `level` (kInfo by default).
void SetEventLogLevel(LogLevel level);

/// Receives each line (a JSON object and its '\n'); nullptr (the default) writes to stderr.
/// Called under the log's lock, so lines never interleave; must not log itself. For tests.
using EventLogSink = std::function<void(absl::string_view line)>;
void SetEventLogSink(EventLogSink sink);

}  // namespace music::service

#endif  // MUSIC_SERVICE_CORE_EVENT_LOG_H_
