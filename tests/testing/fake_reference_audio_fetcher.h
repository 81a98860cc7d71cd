#ifndef MUSIC_TESTS_TESTING_FAKE_REFERENCE_AUDIO_FETCHER_H_
#define MUSIC_TESTS_TESTING_FAKE_REFERENCE_AUDIO_FETCHER_H_

#include <deque>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/synchronization/mutex.h"
#include "adapters/http/reference_audio_fetcher.h"

namespace music::http {

/// A scripted ReferenceAudioFetcher: answers from a queue (the last answer repeats; INTERNAL when
/// nothing was queued) and records the URLs asked for. With Stall(true) a fetch blocks instead,
/// like a download whose server went silent, until AbortInFlight ends it with UNAVAILABLE
/// "aborted: shutting down" (what the real fetcher answers). Thread-safe.
class FakeReferenceAudioFetcher final : public ReferenceAudioFetcher {
 public:
  absl::StatusOr<FetchedAudio> Fetch(absl::string_view url) override {
    absl::MutexLock lock(&mu_);
    urls_.emplace_back(url);
    if (stall_) {
      // Only an abort after this fetch began ends it, as with the real fetcher.
      struct Waiter {
        FakeReferenceAudioFetcher* fake;
        int aborts_at_start;
      };
      Waiter waiter{this, aborts_};
      ++stalled_;
      mu_.Await(absl::Condition(
          +[](Waiter* w) ABSL_EXCLUSIVE_LOCKS_REQUIRED(w->fake->mu_) {
            return w->fake->aborts_ != w->aborts_at_start;
          },
          &waiter));
      --stalled_;
      return absl::UnavailableError("aborted: shutting down");
    }
    if (answers_.empty()) return absl::InternalError("no answer queued");
    auto answer = answers_.front();
    if (answers_.size() > 1) answers_.pop_front();
    return answer;
  }
  /// Ends every stalled fetch; counted.
  void AbortInFlight() override {
    absl::MutexLock lock(&mu_);
    ++aborts_;
  }
  void Queue(absl::StatusOr<FetchedAudio> answer) {
    absl::MutexLock lock(&mu_);
    answers_.push_back(std::move(answer));
  }
  /// True: fetches from now on block until aborted. False: they answer from the queue again.
  void Stall(bool stall) {
    absl::MutexLock lock(&mu_);
    stall_ = stall;
  }
  /// Blocks until `n` fetches are stalled (no timeout: a test that never gets there hangs and
  /// ctest's timeout names it).
  void AwaitStalled(int n) const {
    struct Waiter {
      const FakeReferenceAudioFetcher* fake;
      int n;
    };
    Waiter waiter{this, n};
    absl::MutexLock lock(&mu_);
    mu_.Await(absl::Condition(
        +[](Waiter* w) ABSL_EXCLUSIVE_LOCKS_REQUIRED(w->fake->mu_) {
          return w->fake->stalled_ >= w->n;
        },
        &waiter));
  }
  /// How many times AbortInFlight was called.
  int aborts() const {
    absl::MutexLock lock(&mu_);
    return aborts_;
  }
  /// How many fetches were asked for.
  int fetches() const {
    absl::MutexLock lock(&mu_);
    return static_cast<int>(urls_.size());
  }
  /// The URLs asked for, in order.
  std::vector<std::string> urls() const {
    absl::MutexLock lock(&mu_);
    return urls_;
  }

 private:
  mutable absl::Mutex mu_;
  std::deque<absl::StatusOr<FetchedAudio>> answers_ ABSL_GUARDED_BY(mu_);
  std::vector<std::string> urls_ ABSL_GUARDED_BY(mu_);
  bool stall_ ABSL_GUARDED_BY(mu_) = false;
  int stalled_ ABSL_GUARDED_BY(mu_) = 0;
  int aborts_ ABSL_GUARDED_BY(mu_) = 0;
};

}  // namespace music::http

#endif  // MUSIC_TESTS_TESTING_FAKE_REFERENCE_AUDIO_FETCHER_H_
