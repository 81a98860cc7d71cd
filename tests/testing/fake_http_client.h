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
/// Past the queue it answers INTERNAL ("fake: no canned answer"). SendAsync takes its answer at
/// once and, by default, calls `done` at once (HttpClient's default); after DeferAsync() it holds
/// the completion until RunPending(), the way a transport thread runs it later. Thread-safe.
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

  void SendAsync(Request request, ResponseCallback done) override {
    absl::StatusOr<Response> answer = Send(request);
    {
      absl::MutexLock lock(&mu_);
      if (defer_) {
        pending_.emplace_back(std::move(answer), std::move(done));
        return;
      }
    }
    std::move(done)(std::move(answer));
  }

  /// From now on SendAsync holds its completions until RunPending().
  void DeferAsync() {
    absl::MutexLock lock(&mu_);
    defer_ = true;
  }
  /// Runs the held completions in the order they were sent, on the calling thread, including
  /// those queued while running; returns how many ran.
  size_t RunPending() {
    size_t ran = 0;
    while (true) {
      std::pair<absl::StatusOr<Response>, ResponseCallback> next;
      {
        absl::MutexLock lock(&mu_);
        if (pending_.empty()) return ran;
        next = std::move(pending_.front());
        pending_.pop_front();
      }
      std::move(next.second)(std::move(next.first));
      ++ran;
    }
  }
  /// How many completions are held.
  size_t pending() const {
    absl::MutexLock lock(&mu_);
    return pending_.size();
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
  bool defer_ ABSL_GUARDED_BY(mu_) = false;
  std::deque<std::pair<absl::StatusOr<Response>, ResponseCallback>> pending_ ABSL_GUARDED_BY(mu_);
};

}  // namespace music::http

#endif  // MUSIC_TESTS_TESTING_FAKE_HTTP_CLIENT_H_
