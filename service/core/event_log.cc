#include "service/core/event_log.h"

#include <atomic>
#include <cstdio>
#include <string>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "domain/clock.h"

namespace music::service {
namespace {
std::atomic<bool> enabled{true};
absl::Mutex mu(absl::kConstInit);
}  // namespace

void SetEventLogEnabled(bool on) { enabled = on; }

void LogEvent(absl::string_view event,
              std::initializer_list<std::pair<absl::string_view, absl::string_view>> fields) {
  if (!enabled) return;
  std::string line = absl::StrCat(
      absl::FormatTime("%Y-%m-%dT%H:%M:%E3SZ", music::RealClock::Get()->Now(), absl::UTCTimeZone()), " ", event);
  for (const auto& [key, value] : fields) {
    std::string v(value.substr(0, 300));
    for (char& c : v) {
      if (c == '\n' || c == '\r' || c == '"') c = ' ';
    }
    const bool quote = v.empty() || absl::StrContains(v, ' ');
    absl::StrAppend(&line, " ", key, "=", quote ? "\"" : "", v, quote ? "\"" : "");
  }
  line += '\n';
  absl::MutexLock lock(&mu);
  std::fputs(line.c_str(), stderr);
}

}  // namespace music::service
