#ifndef MUSIC_TESTS_TESTING_FAKE_HTTP_CLIENT_H_
#define MUSIC_TESTS_TESTING_FAKE_HTTP_CLIENT_H_

#include <deque>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "adapters/http/http_client.h"

namespace music::http {

/// An HttpClient answering from a queue of canned answers, in order, and recording every request.
/// Past the queue it answers INTERNAL ("fake: no canned answer"). Thread-safe.
class FakeHttpClient final : public HttpClient {
 public:
  absl::StatusOr<Response> Send(const Request& request) override {
    absl::MutexLock lock(&mu_);
    requests_.push_back(request);
    if (answers_.empty()) return absl::InternalError("fake: no canned answer");
    absl::StatusOr<Response> answer = std::move(answers_.front());
    answers_.pop_front();
    return answer;
  }

  /// Queues an HTTP answer.
  void Answer(int status, std::string body, Headers headers = {}) {
    absl::MutexLock lock(&mu_);
    answers_.push_back(Response{status, std::move(headers), std::move(body)});
  }
  /// Queues a transport failure (no HTTP answer at all).
  void Fail(absl::Status status) {
    absl::MutexLock lock(&mu_);
    answers_.push_back(std::move(status));
  }
  /// Every request sent so far, in order.
  std::vector<Request> requests() const {
    absl::MutexLock lock(&mu_);
    return requests_;
  }
  /// The last request sent (there must be one).
  Request last() const {
    absl::MutexLock lock(&mu_);
    return requests_.back();
  }
  /// How many requests were sent.
  size_t count() const {
    absl::MutexLock lock(&mu_);
    return requests_.size();
  }

 private:
  mutable absl::Mutex mu_;
  std::deque<absl::StatusOr<Response>> answers_ ABSL_GUARDED_BY(mu_);
  std::vector<Request> requests_ ABSL_GUARDED_BY(mu_);
};

}  // namespace music::http

#endif  // MUSIC_TESTS_TESTING_FAKE_HTTP_CLIENT_H_
