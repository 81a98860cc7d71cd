#ifndef MUSIC_TESTS_TESTING_FAKE_REFERENCE_AUDIO_FETCHER_H_
#define MUSIC_TESTS_TESTING_FAKE_REFERENCE_AUDIO_FETCHER_H_

#include <deque>
#include <string>
#include <vector>

#include "absl/synchronization/mutex.h"
#include "adapters/http/reference_audio_fetcher.h"

namespace music::http {

/// A scripted ReferenceAudioFetcher: answers from a queue (the last answer repeats; INTERNAL when
/// nothing was queued) and records the URLs asked for. Thread-safe.
class FakeReferenceAudioFetcher final : public ReferenceAudioFetcher {
 public:
  absl::StatusOr<FetchedAudio> Fetch(absl::string_view url) override {
    absl::MutexLock lock(&mu_);
    urls_.emplace_back(url);
    if (answers_.empty()) return absl::InternalError("no answer queued");
    auto answer = answers_.front();
    if (answers_.size() > 1) answers_.pop_front();
    return answer;
  }
  void Queue(absl::StatusOr<FetchedAudio> answer) {
    absl::MutexLock lock(&mu_);
    answers_.push_back(std::move(answer));
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
};

}  // namespace music::http

#endif  // MUSIC_TESTS_TESTING_FAKE_REFERENCE_AUDIO_FETCHER_H_
