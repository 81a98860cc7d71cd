#include "service/core/thread_pool.h"

#include <pthread.h>

#include <string>
#include <utility>

#include "absl/strings/str_cat.h"

namespace music::service {

ThreadPool::ThreadPool(int threads, const std::string& name) {
  if (threads < 1) threads = 1;
  threads_.reserve(threads);
  for (int i = 0; i < threads; ++i) {
    threads_.emplace_back([this] { Work(); });
    if (!name.empty()) {
      // Linux keeps 15 bytes of a thread's name; a longer one makes the call fail (ERANGE).
      const std::string thread_name = absl::StrCat(name, "-", i).substr(0, 15);
      pthread_setname_np(threads_.back().native_handle(), thread_name.c_str());
    }
  }
}

ThreadPool::~ThreadPool() { Shutdown(); }

bool ThreadPool::Schedule(std::function<void()> fn) {
  absl::MutexLock lock(&mu_);
  if (stopping_) return false;
  queue_.push_back(std::move(fn));
  return true;
}

bool ThreadPool::ScheduleUrgent(std::function<void()> fn) {
  absl::MutexLock lock(&mu_);
  if (stopping_) return false;
  urgent_.push_back(std::move(fn));
  return true;
}

void ThreadPool::Shutdown() {
  {
    absl::MutexLock lock(&mu_);
    if (stopping_ && threads_.empty()) return;
    stopping_ = true;
  }
  for (auto& t : threads_) {
    if (t.joinable()) t.join();
  }
  threads_.clear();
}

void ThreadPool::Work() {
  while (true) {
    std::function<void()> fn;
    {
      absl::MutexLock lock(&mu_);
      mu_.Await(absl::Condition(
          +[](ThreadPool* p)
               ABSL_EXCLUSIVE_LOCKS_REQUIRED(p->mu_) {
                 return p->stopping_ || !p->queue_.empty() || !p->urgent_.empty();
               },
          this));
      std::deque<std::function<void()>>& from = urgent_.empty() ? queue_ : urgent_;
      if (from.empty()) return;  // stopping and drained
      fn = std::move(from.front());
      from.pop_front();
    }
    fn();
  }
}

}  // namespace music::service
