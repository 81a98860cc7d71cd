#ifndef MUSIC_TOOLS_PROVIDER_EMULATOR_CALLBACK_SENDER_H_
#define MUSIC_TOOLS_PROVIDER_EMULATOR_CALLBACK_SENDER_H_

#include <deque>
#include <functional>
#include <string>
#include <thread>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_map.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "tools/provider-emulator/scheduler.h"
#include "tools/provider-emulator/stats.h"

namespace music::emulator {

/// One webhook POST to deliver.
struct CallbackDelivery {
  /// Deliveries sharing a key (a provider task id) go out one at a time, in the order sent,
  /// retries included; different keys go out in parallel.
  std::string key;
  /// Absolute http(s) URL.
  std::string url;
  /// JSON body.
  std::string body;
  /// Extra headers, computed again for every attempt (fresh signature timestamps). May be empty.
  std::function<std::vector<std::pair<std::string, std::string>>()> headers;
};

/// Retry policy of the sender.
struct CallbackPolicy {
  absl::Duration timeout = absl::Seconds(15);  ///< Connect, read and write timeout per attempt.
  int max_retries = 3;                         ///< Attempts after the first one.
  absl::Duration backoff = absl::Milliseconds(200);  ///< Retry n waits n * backoff.
};

/// Splits `http(s)://host[:port]/path?query` into the origin and the path (default "/").
struct SplitUrl {
  std::string origin;  ///< scheme://host[:port]
  std::string path;    ///< /path?query
};
absl::StatusOr<SplitUrl> SplitHttpUrl(const std::string& url);

/// Delivers callbacks from worker threads (never from a request handler). A delivery is retried on
/// a connection failure or a non-2xx answer, after `n * backoff`, up to `max_retries` times.
class CallbackSender {
 public:
  CallbackSender(CallbackPolicy policy, Scheduler* scheduler, StatsRecorder* stats,
                 int workers = 4);
  ~CallbackSender();  ///< Stops.

  CallbackSender(const CallbackSender&) = delete;
  CallbackSender& operator=(const CallbackSender&) = delete;

  /// Starts the workers. Call once.
  void Start();
  /// Drops undelivered callbacks and joins the workers (after their attempts end). Idempotent.
  void Stop();

  /// Queues a delivery behind the earlier ones with the same key.
  void Send(CallbackDelivery delivery);

 private:
  struct Entry {
    CallbackDelivery delivery;
    int attempts = 0;
  };

  void Work();
  void MakeReady(const std::string& key);
  // Makes one attempt; true on a 2xx answer.
  bool Attempt(const CallbackDelivery& delivery) const;

  const CallbackPolicy policy_;
  Scheduler* const scheduler_;
  StatsRecorder* const stats_;
  const int worker_count_;

  absl::Mutex mu_;
  absl::CondVar cv_;
  // Per key, the deliveries not yet finished; the front one is in flight or waiting for a retry.
  absl::flat_hash_map<std::string, std::deque<Entry>> queues_ ABSL_GUARDED_BY(mu_);
  // Keys whose front delivery may be attempted now.
  std::deque<std::string> ready_ ABSL_GUARDED_BY(mu_);
  bool stopping_ ABSL_GUARDED_BY(mu_) = false;
  std::vector<std::thread> workers_;
};

}  // namespace music::emulator

#endif  // MUSIC_TOOLS_PROVIDER_EMULATOR_CALLBACK_SENDER_H_
