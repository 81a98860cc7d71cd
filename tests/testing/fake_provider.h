#ifndef MUSIC_TESTS_TESTING_FAKE_PROVIDER_H_
#define MUSIC_TESTS_TESTING_FAKE_PROVIDER_H_

#include <deque>
#include <functional>
#include <map>
#include <string>
#include <utility>
#include <vector>

#include "absl/functional/any_invocable.h"
#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "adapters/provider_adapter.h"

namespace music::service {

/// A scripted provider for engine tests: Submit and Poll answer from queues (the last answer
/// repeats), callbacks carry a ProviderUpdate encoded by the test. Thread-safe.
/// With set_hold_async(true), SubmitAsync/PollAsync keep their completions (an asynchronous
/// transport with requests in flight) until the test calls ReleaseHeld(), which runs them on the
/// test's thread as a transport thread would.
class FakeProvider : public adapters::ProviderAdapter {
 public:
  /// `name`: the provider's name; its one model is "<name>-model" (provider model "F1").
  explicit FakeProvider(adapters::ResubmitPolicy policy = adapters::ResubmitPolicy::kAtMostOnce,
                        std::string name = "fake")
      : policy_(policy), name_(std::move(name)) {}

  std::string provider() const override { return name_; }
  adapters::ResubmitPolicy resubmit_policy() const override { return policy_; }
  /// Makes Models() say the model takes reference audio, seeds and negative tags.
  void set_reference_audio(bool on) {
    absl::MutexLock lock(&mu_);
    reference_audio_ = on;
  }
  std::vector<music::v1::Model> Models() const override {
    music::v1::Model m;
    m.set_name(name_ + "-model");
    m.set_provider(name_);
    m.set_provider_model("F1");
    {
      absl::MutexLock lock(&mu_);
      m.mutable_capabilities()->set_reference_audio(reference_audio_);
      m.mutable_capabilities()->set_seed(reference_audio_);
      m.mutable_capabilities()->set_negative_tags(reference_audio_);
    }
    m.set_available(true);
    auto* c = m.mutable_capabilities();
    c->set_music(true);
    c->set_lyrics(true);
    c->set_continuation(true);
    c->set_instrumental(true);
    c->set_max_prompt_chars(500);
    c->set_max_custom_prompt_chars(3000);
    c->set_max_style_chars(200);
    c->set_max_title_chars(80);
    c->set_max_lyrics_prompt_chars(200);
    return {m};
  }

  absl::StatusOr<adapters::SubmitResult> Submit(const adapters::SubmitRequest& request) override {
    absl::MutexLock lock(&mu_);
    submits_.push_back(request);
    absl::StatusOr<std::string> id =
        Next(submit_answers_, absl::StatusOr<std::string>(absl::StrCat("prov-", submits_.size())));
    if (!id.ok()) return id.status();
    adapters::SubmitResult result;
    result.provider_task_id = *id;
    result.endpoint = "/fake/create";
    return result;
  }
  absl::StatusOr<adapters::ProviderUpdate> Poll(const adapters::PollTarget&) override {
    absl::MutexLock lock(&mu_);
    ++polls_;
    adapters::ProviderUpdate pending;
    pending.state = adapters::ProviderState::kPending;
    pending.provider_status = "PENDING";
    return Next(poll_answers_, absl::StatusOr<adapters::ProviderUpdate>(pending));
  }
  absl::StatusOr<adapters::ProviderUpdate> ParseCallback(music::v1::TaskKind,
                                                         const http::Request& request) override {
    absl::MutexLock lock(&mu_);
    if (request.body == "forged") return absl::UnauthenticatedError("bad signature");
    auto it = callbacks_.find(request.body);
    if (it == callbacks_.end()) return absl::InvalidArgumentError("malformed");
    return it->second;
  }
  absl::StatusOr<std::string> UploadReferenceAudio(
      const adapters::ReferenceAudioUpload& upload) override {
    absl::MutexLock lock(&mu_);
    uploads_.push_back(upload);
    return Next(upload_answers_,
                absl::StatusOr<std::string>(absl::StrCat("art-", uploads_.size())));
  }
  absl::StatusOr<adapters::SubmitResult> FindByRequestId(
      const adapters::SubmitRequest& request) override {
    absl::MutexLock lock(&mu_);
    ++lookups_;
    absl::StatusOr<std::string> id =
        Next(lookup_answers_, absl::StatusOr<std::string>(absl::NotFoundError("no such task")));
    if (!id.ok()) return id.status();
    adapters::SubmitResult result;
    result.provider_task_id = *id;
    return result;
  }
  absl::Status Cancel(absl::string_view) override {
    absl::MutexLock lock(&mu_);
    ++cancels_;
    return absl::OkStatus();
  }

  void SubmitAsync(const adapters::SubmitRequest& request,
                   adapters::SubmitCallback done) override {
    auto answer = Submit(request);
    Hold([answer = std::move(answer), done = std::move(done)]() mutable {
      std::move(done)(std::move(answer));
    });
  }
  void PollAsync(const adapters::PollTarget& target, adapters::PollCallback done) override {
    auto answer = Poll(target);
    Hold([answer = std::move(answer), done = std::move(done)]() mutable {
      std::move(done)(std::move(answer));
    });
  }
  /// Holds async completions until ReleaseHeld() (false: they run at once, as the defaults do).
  void set_hold_async(bool on) {
    absl::MutexLock lock(&mu_);
    hold_async_ = on;
  }
  /// Async requests whose completion is held.
  int held() const {
    absl::MutexLock lock(&mu_);
    return static_cast<int>(held_.size());
  }
  /// Runs the held completions, oldest first. Returns how many ran.
  int ReleaseHeld() {
    std::deque<absl::AnyInvocable<void() &&>> run;
    {
      absl::MutexLock lock(&mu_);
      run.swap(held_);
    }
    for (auto& fn : run) std::move(fn)();
    return static_cast<int>(run.size());
  }

  void QueueSubmit(absl::StatusOr<std::string> answer) {
    absl::MutexLock lock(&mu_);
    submit_answers_.push_back(std::move(answer));
  }
  void QueueUpload(absl::StatusOr<std::string> answer) {
    absl::MutexLock lock(&mu_);
    upload_answers_.push_back(std::move(answer));
  }
  void QueueLookup(absl::StatusOr<std::string> answer) {
    absl::MutexLock lock(&mu_);
    lookup_answers_.push_back(std::move(answer));
  }
  std::vector<adapters::ReferenceAudioUpload> uploads() const {
    absl::MutexLock lock(&mu_);
    return uploads_;
  }
  int lookups() const {
    absl::MutexLock lock(&mu_);
    return lookups_;
  }
  void QueuePoll(absl::StatusOr<adapters::ProviderUpdate> answer) {
    absl::MutexLock lock(&mu_);
    poll_answers_.push_back(std::move(answer));
  }
  /// A callback body `name` will parse into `update`.
  void DefineCallback(const std::string& name, adapters::ProviderUpdate update) {
    absl::MutexLock lock(&mu_);
    callbacks_[name] = std::move(update);
  }
  int submits() const {
    absl::MutexLock lock(&mu_);
    return static_cast<int>(submits_.size());
  }
  adapters::SubmitRequest last_submit() const {
    absl::MutexLock lock(&mu_);
    return submits_.back();
  }
  /// Every create sent, oldest first.
  std::vector<adapters::SubmitRequest> submitted() const {
    absl::MutexLock lock(&mu_);
    return submits_;
  }
  int polls() const {
    absl::MutexLock lock(&mu_);
    return polls_;
  }
  int cancels() const {
    absl::MutexLock lock(&mu_);
    return cancels_;
  }

 private:
  void Hold(absl::AnyInvocable<void() &&> fn) {
    {
      absl::MutexLock lock(&mu_);
      if (hold_async_) {
        held_.push_back(std::move(fn));
        return;
      }
    }
    std::move(fn)();
  }

  template <typename T>
  T Next(std::deque<T>& q, T fallback) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    if (q.empty()) return fallback;
    T v = q.front();
    if (q.size() > 1) q.pop_front();
    return v;
  }

  const adapters::ResubmitPolicy policy_;
  const std::string name_;
  mutable absl::Mutex mu_;
  bool reference_audio_ ABSL_GUARDED_BY(mu_) = false;
  std::deque<absl::StatusOr<std::string>> upload_answers_ ABSL_GUARDED_BY(mu_);
  std::deque<absl::StatusOr<std::string>> lookup_answers_ ABSL_GUARDED_BY(mu_);
  std::vector<adapters::ReferenceAudioUpload> uploads_ ABSL_GUARDED_BY(mu_);
  int lookups_ ABSL_GUARDED_BY(mu_) = 0;
  std::deque<absl::StatusOr<std::string>> submit_answers_ ABSL_GUARDED_BY(mu_);
  std::deque<absl::StatusOr<adapters::ProviderUpdate>> poll_answers_ ABSL_GUARDED_BY(mu_);
  std::map<std::string, adapters::ProviderUpdate> callbacks_ ABSL_GUARDED_BY(mu_);
  std::vector<adapters::SubmitRequest> submits_ ABSL_GUARDED_BY(mu_);
  int polls_ ABSL_GUARDED_BY(mu_) = 0;
  int cancels_ ABSL_GUARDED_BY(mu_) = 0;
  bool hold_async_ ABSL_GUARDED_BY(mu_) = false;
  std::deque<absl::AnyInvocable<void() &&>> held_ ABSL_GUARDED_BY(mu_);
};

}  // namespace music::service

#endif  // MUSIC_TESTS_TESTING_FAKE_PROVIDER_H_
