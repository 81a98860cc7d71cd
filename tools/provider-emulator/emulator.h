// provider-emulator: a real HTTP server that speaks music providers' documented contracts with
// deterministic fault injection. Integration tests and local runs point the service's adapters at
// it instead of the real providers. Routes: kie.ai at the root (/api/v1/generate, ...), PiAPI at
// the root (/api/v1/task), TokenLab under /tokenlab (/tokenlab/v1/music/generations, ...), beatra
// under /beatra (/beatra/v1/music/text-to-music, ...): an adapter's base URL is the emulator's
// base_url() plus that prefix (TokenLab and beatra both have GET /v1/tasks/{id}).
//
// Structure: a small core (HTTP server, task clock, due-time scheduler, callback sender, fault
// injector, synthesised audio) plus one file per provider contract (kie_contract.cc). See README.md
// in this directory for the wire behaviour, the fault directives and the control endpoints.
#ifndef MUSIC_TOOLS_PROVIDER_EMULATOR_EMULATOR_H_
#define MUSIC_TOOLS_PROVIDER_EMULATOR_EMULATOR_H_

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/status/status.h"
#include "absl/time/time.h"
#include "tools/provider-emulator/usage_record.h"
#include "domain/clock.h"

namespace music::emulator {

/// Where kie.ai's file upload API (real host https://kieai.redpandaai.co) lives on the emulator:
/// the kie adapter's upload_base_url is base_url() + this prefix.
inline constexpr char kKieUploadPrefix[] = "/kie-upload";

/// Fault injection settings. Every rate is a probability in [0,1]; random draws come from a
/// generator seeded with `seed`, so a given sequence of requests sees the same faults every run.
struct FaultConfig {
  /// Create requests (generate, extend, lyrics) answered 429 + `Retry-After: 1` (no task). On
  /// `POST /api/v1/lyrics` the documented rate-limit code is 405, so lyrics creates answer 405.
  double create_429_rate = 0;
  /// Create requests answered 500 (no task).
  double create_500_rate = 0;
  /// Create requests that wait `slow_delay` and then answer normally.
  double create_slow_rate = 0;
  /// Create requests whose task IS created but whose answer is a truncated JSON body (HTTP 200).
  double create_malformed_rate = 0;
  /// Additionally answer the next N creates with 429 (then the next N with 500); deterministic.
  int create_429_count = 0;
  int create_500_count = 0;
  /// How long a "slow" create or poll waits before answering.
  absl::Duration slow_delay = absl::Seconds(3);
  /// Polls answered 500 / with a truncated JSON body (HTTP 200) / after `slow_delay`.
  double poll_500_rate = 0;
  double poll_malformed_rate = 0;
  double poll_slow_rate = 0;
  /// Tasks that reach SUCCESS with every audioUrl "" (poll and callbacks); their audio 404s.
  double success_without_audio_rate = 0;
  /// Tasks whose callbacks are never sent / each sent twice / sent complete-first (reversed).
  double lose_callback_rate = 0;
  double duplicate_callback_rate = 0;
  double reorder_callbacks_rate = 0;
  /// Tasks that end GENERATE_AUDIO_FAILED (lyrics: GENERATE_LYRICS_FAILED) / SENSITIVE_WORD_ERROR.
  double generate_audio_failed_rate = 0;
  double sensitive_word_rate = 0;
  /// Every media download (/audio, /stream, /images) answers 403 "link expired", as a provider's
  /// signed download link does after its lifetime (kie.ai: 20 minutes): what the archive is for.
  bool media_expired = false;
  /// Every /audio download sends its first 4 KiB, then nothing until the fault is cleared (or
  /// the emulator stops): a CDN that stalls mid-body.
  bool media_stall = false;
  /// The next N kie.ai creates answer 402 "Insufficient Credits" (on /api/v1/lyrics 429, which
  /// means insufficient credits there: CONTRACT-NOTES kie.ai "Create error codes"); no task.
  int kie_402_count = 0;
  /// Every kie.ai API request answers 401, as when the account's key was revoked (the key the
  /// caller sends is refused whatever it is), until cleared.
  bool kie_key_refused = false;
  /// Seed of the fault generator; SetFaults re-seeds.
  uint64_t seed = 1;
};

/// How the emulator listens, authenticates, times tasks and delivers callbacks.
struct EmulatorOptions {
  /// Address to bind. `port` 0 picks a free port (see ProviderEmulator::port()).
  std::string host = "127.0.0.1";
  int port = 0;
  /// Required `Authorization: Bearer <key>` on the kie API; empty disables the check.
  std::string kie_api_key = "emulator-kie-key";
  /// Non-empty: sign kie callbacks (X-Webhook-Timestamp, X-Webhook-Signature).
  std::string kie_webhook_hmac_key;
  /// Required `x-api-key` on the PiAPI routes (/api/v1/task); empty disables the check.
  std::string piapi_api_key = "emulator-piapi-key";
  /// Required `Authorization: Bearer <key>` on the TokenLab routes (under /tokenlab).
  std::string tokenlab_api_key = "emulator-tokenlab-key";
  /// Required `Authorization: Bearer <key>` on the beatra routes (under /beatra).
  std::string beatra_api_key = "emulator-beatra-key";
  /// A music task walks PENDING -> TEXT_SUCCESS (1/4) -> FIRST_SUCCESS (1/2) -> SUCCESS (1/1)
  /// over this duration, measured from its creation; a lyrics task PENDING -> SUCCESS.
  absl::Duration task_duration = absl::Seconds(2);
  /// Base of the audio/stream/image URLs handed out; default base_url() (a wildcard host such as
  /// 0.0.0.0 is replaced by 127.0.0.1).
  std::string public_base_url;
  /// Length of every synthesised WAV clip, and the `duration` reported for it.
  double clip_seconds = 8;
  /// Callback delivery: per-attempt timeout, retries after the first attempt (on a non-2xx answer
  /// or a connection failure) and the backoff unit (retry n waits n * backoff).
  absl::Duration callback_timeout = absl::Seconds(15);
  int callback_max_retries = 3;
  absl::Duration callback_retry_backoff = absl::Milliseconds(200);
  /// Threads answering HTTP requests (each keep-alive connection holds one while open) and
  /// threads delivering callbacks. Load tests raise them: a poll delayed by slow_delay holds its
  /// thread, so N threads answer at most N / slow_delay polls per second.
  int server_threads = 32;
  int callback_workers = 4;
  /// Initial fault settings; see SetFaults.
  FaultConfig faults;
  /// kie.ai credits charged per successful task, in micro-credits (the usage export): 12 credits,
  /// the service's kie catalog price.
  int64_t kie_price_micros = 12'000'000;
  /// kie.ai's account limits (CONTRACT-NOTES kie.ai "Limits": "20 new generation requests per 10 s
  /// per account (excess answered 429, not queued)"; record-info "limited to 3 requests/s per
  /// task"). On: a create (generate, extend, lyrics) past kie_creates_per_window in any sliding
  /// kie_create_window answers 429 "rate limited" (405 on /api/v1/lyrics), and a record-info
  /// request past kie_polls_per_second for one taskId in any second answers 429; refused requests
  /// do not count. Measured on `clock`. Off by default: a test turns them on.
  bool kie_rate_limits = false;
  int kie_creates_per_window = 20;
  absl::Duration kie_create_window = absl::Seconds(10);
  int kie_polls_per_second = 3;
  /// The time of task phases, audio readiness, timestamps and callback retries. Not owned; must
  /// outlive the emulator. A FakeClock makes tasks move only when the test advances it (requests
  /// are still served by the emulator's threads).
  const Clock* clock = RealClock::Get();
};

/// Counters since Start(). "Creates" cover generate, extend and lyrics requests.
struct EmulatorStats {
  int64_t creates_accepted = 0;      ///< Tasks created (including malformed-answer creates).
  int64_t creates_rejected = 0;      ///< Creates answered without a task (401/404/422/429/500).
  int64_t creates_invalid = 0;       ///< ... of which validation failures (422, unknown audioId).
  int64_t creates_rate_limited = 0;  ///< ... of which injected 429 (405 on lyrics).
  int64_t creates_server_error = 0;  ///< ... of which injected 500.
  int64_t creates_account_limited = 0;  ///< ... of which over kie.ai's account limit (429/405).
  int64_t creates_out_of_credits = 0;   ///< ... of which injected kie.ai 402 (429 on lyrics).
  int64_t creates_malformed = 0;     ///< Accepted creates answered with a truncated body.
  int64_t creates_slow = 0;          ///< Creates delayed by slow_delay.
  int64_t generate_creates = 0;      ///< Accepted creates per endpoint.
  int64_t extend_creates = 0;
  int64_t lyrics_creates = 0;
  int64_t clip_operation_creates = 0;  ///< Accepted kie.ai WAV / vocal-removal / mp4 creates.
  int64_t audio_operation_creates = 0;  ///< upload-cover, upload-extend, add-instrumental, add-vocals
  int64_t polls = 0;               ///< record-info requests (authorised).
  int64_t polls_not_found = 0;     ///< ... answered 404 (unknown task).
  int64_t polls_server_error = 0;  ///< ... answered with an injected 500.
  int64_t polls_malformed = 0;     ///< ... answered with a truncated body.
  int64_t polls_slow = 0;          ///< ... delayed by slow_delay.
  int64_t polls_rate_limited = 0;  ///< record-info requests over 3/s per task (429).
  int64_t unauthorized = 0;        ///< Provider API requests answered 401.
  int64_t undocumented_routes = 0;  ///< Requests to routes the documents do not name (404).
  int64_t callbacks_sent = 0;      ///< Deliveries the receiver answered 2xx (duplicates count).
  int64_t callbacks_failed = 0;    ///< Deliveries given up after all retries.
  int64_t callback_attempts = 0;   ///< HTTP POSTs made to callback URLs.
  int64_t callbacks_retried = 0;   ///< Attempts that were followed by a retry.
  int64_t callbacks_dropped = 0;   ///< Callbacks not sent on purpose (lost-callback faults).
  int64_t audio_served = 0;        ///< WAV answers (/audio and /stream).
  int64_t audio_not_found = 0;     ///< Audio requests answered 404.
  int64_t audio_stalled = 0;       ///< /audio downloads stalled by media_stall.
  int64_t idempotency_keys = 0;    ///< Distinct Idempotency-Keys that made a task (beatra).
};

/// The emulator: an HTTP server on its own threads. Thread-safe.
class ProviderEmulator {
 public:
  explicit ProviderEmulator(EmulatorOptions options);
  ~ProviderEmulator();  ///< Stops.

  ProviderEmulator(const ProviderEmulator&) = delete;
  ProviderEmulator& operator=(const ProviderEmulator&) = delete;

  /// Binds and serves on background threads; returns once the server is listening. Fails when the
  /// address cannot be bound or when called twice.
  absl::Status Start();
  /// Stops serving and delivering callbacks (pending callbacks are dropped). Idempotent.
  void Stop();

  /// The bound port (after Start), else the configured one.
  int port() const;
  /// `http://host:port`.
  std::string base_url() const;

  /// Replaces the fault settings (counts included) and re-seeds the fault generator.
  void SetFaults(const FaultConfig& faults);
  /// The current fault settings; counts are the remaining ones.
  FaultConfig faults() const;
  /// A snapshot of the counters.
  EmulatorStats stats() const;
  /// Provider tasks created so far, over all contracts (tests prove "one submission" with it).
  int64_t TaskCount() const;
  /// Accepted create requests per task of the caller, keyed by the task id the request's callback
  /// URL names (`.../callbacks/<provider>/<task_id>/...`); GET /_emulator/submissions serves it.
  /// TokenLab and beatra creates carry no callback URL and are not counted.
  absl::flat_hash_map<std::string, int64_t> SubmissionsByTask() const;
  /// The usage records `provider` ("kie", ...) reports so far, without injected differences
  /// (GET /_emulator/usage adds those). Empty for an unknown provider.
  std::vector<UsageRecord> UsageRecords(const std::string& provider) const;

 private:
  class Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace music::emulator

#endif  // MUSIC_TOOLS_PROVIDER_EMULATOR_EMULATOR_H_
