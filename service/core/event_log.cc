#include "service/core/event_log.h"

#include <algorithm>
#include <atomic>
#include <cstdio>
#include <string>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_replace.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "domain/clock.h"
#include "rapidjson/stringbuffer.h"
#include "rapidjson/writer.h"

namespace music::service {
namespace {

std::atomic<bool> enabled{true};
std::atomic<int> min_level{static_cast<int>(LogLevel::kInfo)};
absl::Mutex mu(absl::kConstInit);
// A pointer, so the global needs no destructor at exit (lines logged by late threads).
EventLogSink* sink ABSL_GUARDED_BY(mu) = nullptr;

absl::Mutex secrets_mu(absl::kConstInit);
std::vector<std::string>* secrets ABSL_GUARDED_BY(secrets_mu) = nullptr;

constexpr size_t kMaxValueBytes = 300;
constexpr size_t kMinSecretBytes = 8;

// `value` with every registered secret replaced.
std::string Scrub(absl::string_view value) {
  std::string out(value);
  absl::ReaderMutexLock lock(&secrets_mu);
  if (secrets == nullptr) return out;
  for (const std::string& secret : *secrets) {
    if (absl::StrContains(out, secret)) out = absl::StrReplaceAll(out, {{secret, "[redacted]"}});
  }
  return out;
}

// `value` cut to kMaxValueBytes on a character boundary, with every byte that is not part of a
// well-formed UTF-8 sequence replaced by '?': the line stays valid JSON whatever a provider's
// error message holds.
std::string CleanValue(absl::string_view value) {
  std::string out;
  out.reserve(std::min(value.size(), kMaxValueBytes));
  size_t i = 0;
  while (i < value.size()) {
    const unsigned char c = static_cast<unsigned char>(value[i]);
    size_t n = c < 0x80 ? 1 : (c >> 5) == 0x6 ? 2 : (c >> 4) == 0xE ? 3 : (c >> 3) == 0x1E ? 4 : 0;
    bool ok = n > 0 && i + n <= value.size();
    for (size_t k = 1; ok && k < n; ++k) {
      ok = (static_cast<unsigned char>(value[i + k]) & 0xC0) == 0x80;
    }
    if (!ok) n = 1;
    if (out.size() + n > kMaxValueBytes) break;
    if (ok) {
      out.append(value.data() + i, n);
    } else {
      out.push_back('?');
    }
    i += n;
  }
  return out;
}

using Writer = rapidjson::Writer<rapidjson::StringBuffer>;

void Field(Writer& w, absl::string_view key, absl::string_view value) {
  w.Key(key.data(), static_cast<rapidjson::SizeType>(key.size()));
  if (IsSecretFieldName(key)) {
    w.String("[redacted]");
    return;
  }
  const std::string v = CleanValue(Scrub(value));
  w.String(v.data(), static_cast<rapidjson::SizeType>(v.size()));
}

void Begin(Writer& w, LogLevel level, absl::string_view event) {
  w.StartObject();
  const std::string time =
      absl::FormatTime("%Y-%m-%dT%H:%M:%E3SZ", music::RealClock::Get()->Now(), absl::UTCTimeZone());
  w.Key("time");
  w.String(time.data(), static_cast<rapidjson::SizeType>(time.size()));
  w.Key("level");
  const absl::string_view name = LogLevelName(level);
  w.String(name.data(), static_cast<rapidjson::SizeType>(name.size()));
  Field(w, "event", event);
}

void End(Writer& w, LogFields fields, rapidjson::StringBuffer& buffer) {
  for (const auto& [key, value] : fields) Field(w, key, value);
  w.EndObject();
  std::string line(buffer.GetString(), buffer.GetSize());
  line += '\n';
  absl::MutexLock lock(&mu);
  if (sink != nullptr) {
    (*sink)(line);
  } else {
    std::fputs(line.c_str(), stderr);
  }
}

}  // namespace

absl::string_view LogLevelName(LogLevel level) {
  switch (level) {
    case LogLevel::kDebug:
      return "debug";
    case LogLevel::kInfo:
      return "info";
    case LogLevel::kWarn:
      return "warn";
    case LogLevel::kError:
      return "error";
  }
  return "info";
}

std::optional<LogLevel> ParseLogLevel(absl::string_view name) {
  for (LogLevel l : {LogLevel::kDebug, LogLevel::kInfo, LogLevel::kWarn, LogLevel::kError}) {
    if (name == LogLevelName(l)) return l;
  }
  return std::nullopt;
}

bool IsEventLogged(LogLevel level) {
  return enabled.load(std::memory_order_relaxed) &&
         static_cast<int>(level) >= min_level.load(std::memory_order_relaxed);
}

bool IsSecretFieldName(absl::string_view key) {
  const std::string k = absl::AsciiStrToLower(key);
  for (absl::string_view word :
       {"key", "secret", "token", "password", "authorization", "signature"}) {
    if (absl::StrContains(k, word)) return true;
  }
  return false;
}

void AddEventLogSecret(absl::string_view secret) {
  if (secret.size() < kMinSecretBytes) return;
  absl::MutexLock lock(&secrets_mu);
  if (secrets == nullptr) secrets = new std::vector<std::string>();
  for (const std::string& s : *secrets) {
    if (s == secret) return;
  }
  secrets->emplace_back(secret);
}

void SetEventLogEnabled(bool on) { enabled = on; }

void SetEventLogLevel(LogLevel level) { min_level = static_cast<int>(level); }

void SetEventLogSink(EventLogSink new_sink) {
  absl::MutexLock lock(&mu);
  delete sink;
  sink = new_sink ? new EventLogSink(std::move(new_sink)) : nullptr;
}

void LogEvent(LogLevel level, absl::string_view event, LogFields fields) {
  if (!IsEventLogged(level)) return;
  rapidjson::StringBuffer buffer;
  Writer w(buffer);
  Begin(w, level, event);
  End(w, fields, buffer);
}

void LogTaskEvent(LogLevel level, absl::string_view event, const domain::TaskRecord& record,
                  LogFields fields) {
  if (!IsEventLogged(level)) return;
  rapidjson::StringBuffer buffer;
  Writer w(buffer);
  Begin(w, level, event);
  const music::v1::Task& t = record.task;
  Field(w, "task_id", t.task_id());
  Field(w, "request_id", t.request_id());
  Field(w, "tenant", t.tenant());
  Field(w, "provider", t.provider());
  Field(w, "provider_task_id", t.provider_task_id());
  if (!record.traceparent.empty()) {
    // "00-<trace id>-<parent id>-<flags>": trace_id is what log and trace back ends join on.
    Field(w, "traceparent", record.traceparent);
    Field(w, "trace_id", absl::string_view(record.traceparent).substr(3, 32));
  }
  End(w, fields, buffer);
}

}  // namespace music::service
