// The pieces of the emulator every provider contract shares. Internal to the emulator.
#ifndef MUSIC_TOOLS_PROVIDER_EMULATOR_CORE_H_
#define MUSIC_TOOLS_PROVIDER_EMULATOR_CORE_H_

#include <httplib.h>
#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_map.h"
#include "absl/strings/string_view.h"
#include "absl/synchronization/mutex.h"
#include "absl/synchronization/notification.h"
#include "absl/time/time.h"
#include "tools/provider-emulator/usage_record.h"
#include "tools/provider-emulator/callback_sender.h"
#include "tools/provider-emulator/emulator.h"
#include "tools/provider-emulator/faults.h"
#include "tools/provider-emulator/scheduler.h"
#include "tools/provider-emulator/stats.h"

namespace music::emulator {

/// Audio of one clip handed out by a contract, served at /audio/<id>.wav and /stream/<id>.
struct ClipAudio {
  absl::Time audio_ready_at = absl::InfiniteFuture();   ///< /audio answers 404 before this.
  absl::Time stream_ready_at = absl::InfiniteFuture();  ///< /stream answers 404 before this.
  double seconds = 0;
};

/// The clips every contract created, by clip id. Thread-safe.
class ClipRegistry {
 public:
  /// Adds or replaces a clip.
  void Put(const std::string& clip_id, ClipAudio audio);
  /// The clip, if any contract created it.
  std::optional<ClipAudio> Find(const std::string& clip_id) const;

 private:
  mutable absl::Mutex mu_;
  absl::flat_hash_map<std::string, ClipAudio> clips_ ABSL_GUARDED_BY(mu_);
};

/// Accepted create requests per task of the caller, named by the callback URL each request carries
/// (`.../callbacks/<provider>/<task_id>/...`): what proves a caller submitted a task once, even
/// across its own crashes. Not a provider feature; read through GET /_emulator/submissions.
/// Thread-safe.
class SubmissionCounter {
 public:
  /// Counts one accepted create whose callback URL is `callback_url`; a URL that names no task
  /// (empty, or without a `/callbacks/<provider>/<task_id>` path) is not counted.
  void Record(absl::string_view callback_url);
  /// Accepted creates by task id.
  absl::flat_hash_map<std::string, int64_t> Snapshot() const;

 private:
  mutable absl::Mutex mu_;
  absl::flat_hash_map<std::string, int64_t> by_task_ ABSL_GUARDED_BY(mu_);
};

/// The task id a callback URL names: the path segment after `/callbacks/<provider>/`, or "" when
/// there is none.
std::string CallbackTaskId(absl::string_view callback_url);

/// What a contract gets from the emulator. Everything outlives the contract; the scheduler and the
/// callback sender stop before the contract is destroyed.
struct EmulatorCore {
  EmulatorOptions options;
  std::string public_base_url;  ///< No trailing slash.
  Scheduler* scheduler = nullptr;
  CallbackSender* callbacks = nullptr;
  FaultInjector* faults = nullptr;
  ClipRegistry* clips = nullptr;
  StatsRecorder* stats = nullptr;
  absl::Notification* stopping = nullptr;
  /// May be null (a contract tested on its own): then nothing is counted.
  SubmissionCounter* submissions = nullptr;

  /// Counts an accepted create for the task its callback URL names (see SubmissionCounter).
  void RecordSubmission(absl::string_view callback_url) const {
    if (submissions != nullptr) submissions->Record(callback_url);
  }

  /// The emulator's clock (options.clock).
  absl::Time Now() const { return options.clock->Now(); }
  /// Sleeps `delay` of real time (an injected slow answer), returning early when the emulator
  /// stops.
  void Sleep(absl::Duration delay) const { stopping->WaitForNotificationWithTimeout(delay); }
};

/// One provider's wire contract: its routes and its tasks.
class ProviderContract {
 public:
  virtual ~ProviderContract() = default;
  /// Adds the provider's routes; called once, before the server listens.
  virtual void RegisterRoutes(httplib::Server* server) = 0;
  /// Tasks created so far.
  virtual int64_t TaskCount() const = 0;
  /// The provider's name as in the service's catalog: "kie", "piapi", "tokenlab", "beatra".
  virtual std::string provider() const = 0;
  /// What this provider would report as usage records for every task it served so far (charges
  /// and refunds, in the provider's currency), for the usage export (/_emulator/usage).
  virtual std::vector<UsageRecord> UsageRecords() const { return {}; }
};

/// 16 random bytes as 32 lowercase hex digits (OpenSSL RAND_bytes; not seeded, so ids never repeat
/// across emulator runs).
std::string RandomHexId();
/// A random version-4 UUID, e.g. "e2315a1c-0b3e-4c0a-9d1e-54a88cadc7dc".
std::string RandomUuid();
/// `t` as "YYYY-MM-DD HH:MM:SS" in UTC.
std::string FormatDateTime(absl::Time t);
/// Number of Unicode code points in UTF-8 `s` (the unit of the providers' length limits).
size_t Utf8Length(absl::string_view s);
/// Sets a JSON body with an HTTP status.
void SetJson(httplib::Response* res, int http_status, const std::string& body);
/// The JSON writer every contract answers with.
using JsonWriter = rapidjson::Writer<rapidjson::StringBuffer>;
/// Writes `"key": "value"`.
void PutString(JsonWriter& w, absl::string_view key, absl::string_view value);
/// Writes `"key": "value"`, or `"key": null` when `value` is empty.
void PutNullableString(JsonWriter& w, absl::string_view key, absl::string_view value);
/// The buffer's JSON text.
std::string Finish(const rapidjson::StringBuffer& buffer);
/// `body` cut in the middle (at least one byte removed): what a "malformed" answer sends.
std::string Truncate(const std::string& body);

}  // namespace music::emulator

#endif  // MUSIC_TOOLS_PROVIDER_EMULATOR_CORE_H_
