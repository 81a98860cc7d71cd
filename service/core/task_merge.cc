#include "service/core/task_merge.h"

#include <algorithm>
#include <string>

#include "absl/strings/match.h"
#include "google/protobuf/io/coded_stream.h"
#include "google/protobuf/io/zero_copy_stream_impl_lite.h"
#include "domain/task_record.h"

namespace music::service {
namespace {

using adapters::ProviderState;
using music::v1::Task;

// The task's bytes in deterministic serialization (map entries sorted): two tasks with the same
// fields give the same bytes. What MergeProviderUpdate compares before and after a merge: a
// poll that changes nothing (most of them) then costs two serializations, not a copy of the
// task and a reflection walk (MessageDifferencer was a tenth of the server's CPU with 10,000
// tasks polled every 5 s).
std::string DeterministicBytes(const Task& task) {
  std::string out;
  {
    google::protobuf::io::StringOutputStream stream(&out);
    google::protobuf::io::CodedOutputStream coded(&stream);
    coded.SetSerializationDeterministic(true);
    task.SerializeToCodedStream(&coded);
  }
  return out;
}

// How far along a report is; a report from an earlier stage than one already merged is stale.
int StageRank(bool lyrics_ready, bool first_clip_ready) {
  return first_clip_ready ? 2 : (lyrics_ready ? 1 : 0);
}

void MergeString(const std::string& from, std::string* to) {
  if (!from.empty()) *to = from;
}

void MergeClip(const music::v1::Clip& from, music::v1::Clip& to) {
  MergeString(from.audio_url(), to.mutable_audio_url());
  MergeString(from.stream_audio_url(), to.mutable_stream_audio_url());
  MergeString(from.image_url(), to.mutable_image_url());
  MergeString(from.video_url(), to.mutable_video_url());
  MergeString(from.title(), to.mutable_title());
  MergeString(from.tags(), to.mutable_tags());
  MergeString(from.lyrics(), to.mutable_lyrics());
  MergeString(from.model_name(), to.mutable_model_name());
  MergeString(from.artifact_id(), to.mutable_artifact_id());
  if (from.duration_seconds() > 0) to.set_duration_seconds(from.duration_seconds());
}

void MergeClips(const adapters::ProviderUpdate& update, Task& task) {
  for (const auto& clip : update.clips) {
    if (clip.clip_id().empty()) continue;
    music::v1::Clip* existing = nullptr;
    for (auto& c : *task.mutable_clips()) {
      if (c.clip_id() == clip.clip_id()) existing = &c;
    }
    if (existing == nullptr) {
      *task.add_clips() = clip;
    } else {
      MergeClip(clip, *existing);
    }
  }
  if (task.lyric_variants().empty()) {
    for (const auto& v : update.lyric_variants) *task.add_lyric_variants() = v;
  }
}

// Keeps the provider's own billing report on the task (the ledger settles from it).
void MergeBilling(const adapters::ProviderUpdate& update, Task& task) {
  auto* billing = task.mutable_billing();
  if (!update.provider_billing_transaction_id.empty()) {
    billing->set_provider_billing_transaction_id(update.provider_billing_transaction_id);
  }
  if (!update.has_billing) return;
  // A report in another currency than the reservation cannot settle it: it is not kept (the task
  // settles at its price) and reconciliation reports the provider's usage as a currency mismatch.
  if (!update.billing_currency.empty() && !billing->currency().empty() &&
      !absl::EqualsIgnoreCase(update.billing_currency, billing->currency())) {
    return;
  }
  billing->set_provider_charged_micros(update.charged_micros);
  billing->set_provider_refunded_micros(update.refunded_micros);
}

// A clip operation's result only grows: a URL once reported is kept, a later report adds to it.
void MergeOperationResult(const adapters::ProviderUpdate& update, Task& task) {
  if (!update.has_operation_result) return;
  const music::v1::ClipOperationResult& from = update.operation_result;
  music::v1::ClipOperationResult* to = task.mutable_operation_result();
  if (to->source_clip_id().empty()) to->set_source_clip_id(task.input().source_clip_id());
  MergeString(from.wav_url(), to->mutable_wav_url());
  MergeString(from.video_url(), to->mutable_video_url());
  for (const auto& [name, url] : from.stem_urls()) {
    if (!url.empty()) (*to->mutable_stem_urls())[name] = url;
  }
}

// Whether a clip operation task holds what its operation produces (a "completed" without the
// URL is a provider fault, not a success).
bool HasOperationResult(const Task& task) {
  const music::v1::ClipOperationResult& r = task.operation_result();
  switch (task.input().clip_operation()) {
    case music::v1::CLIP_OPERATION_CONVERT_TO_WAV:
      return !r.wav_url().empty();
    case music::v1::CLIP_OPERATION_CREATE_MUSIC_VIDEO:
      return !r.video_url().empty();
    case music::v1::CLIP_OPERATION_SEPARATE_VOCALS:
      return r.stem_urls().contains("vocals") || r.stem_urls().contains("instrumental");
    case music::v1::CLIP_OPERATION_SPLIT_STEMS:
      for (const auto& [name, url] : r.stem_urls()) {
        if (name != "origin") return true;
      }
      return false;
    default:
      return false;
  }
}

bool HasAudio(const Task& task) {
  for (const auto& c : task.clips()) {
    if (!c.audio_url().empty()) return true;
  }
  return false;
}

bool HasLyrics(const Task& task) {
  for (const auto& v : task.lyric_variants()) {
    if (!v.text().empty()) return true;
  }
  return false;
}

}  // namespace

void SetTimestamp(absl::Time t, google::protobuf::Timestamp* ts) {
  const int64_t us = absl::ToUnixMicros(t);
  ts->set_seconds(us / 1000000);
  ts->set_nanos(static_cast<int32_t>((us % 1000000) * 1000));
  if (ts->nanos() < 0) {
    ts->set_seconds(ts->seconds() - 1);
    ts->set_nanos(ts->nanos() + 1000000000);
  }
}

absl::Time FromTimestamp(const google::protobuf::Timestamp& ts) {
  return absl::FromUnixSeconds(ts.seconds()) + absl::Nanoseconds(ts.nanos());
}

bool FailTask(absl::StatusCode code, absl::string_view message, absl::string_view provider_status,
              absl::string_view provider_error_code, absl::Time now, Task& task) {
  if (domain::IsTerminal(task.state())) return false;
  task.set_state(music::v1::TASK_STATE_FAILED);
  auto* error = task.mutable_error();
  error->set_code(static_cast<int32_t>(code));
  error->set_message(std::string(message));
  error->set_provider_status(std::string(provider_status));
  error->set_provider_error_code(std::string(provider_error_code));
  error->clear_reason();  // set by the caller when the failure has one
  SetTimestamp(now, task.mutable_update_time());
  SetTimestamp(now, task.mutable_end_time());
  return true;
}

bool MergeProviderUpdate(const adapters::ProviderUpdate& update, absl::Time now, Task& task) {
  if (domain::IsTerminal(task.state())) return false;
  const std::string before = DeterministicBytes(task);

  if (!update.provider_task_id.empty() && task.provider_task_id().empty()) {
    task.set_provider_task_id(update.provider_task_id);
  }
  MergeClips(update, task);
  MergeBilling(update, task);
  MergeOperationResult(update, task);

  switch (update.state) {
    case ProviderState::kSucceeded: {
      if (task.kind() == music::v1::TASK_KIND_CLIP_OPERATION) {
        if (!HasOperationResult(task)) {
          FailTask(absl::StatusCode::kInternal,
                   "provider reported the clip operation done without its result URL",
                   update.provider_status, update.provider_error_code, now, task);
          return true;
        }
        task.set_state(music::v1::TASK_STATE_SUCCEEDED);
        task.mutable_progress()->set_provider_status(update.provider_status);
        task.mutable_progress()->set_percent(100);
        SetTimestamp(now, task.mutable_end_time());
        break;
      }
      const bool lyrics = task.kind() == music::v1::TASK_KIND_LYRICS;
      if (lyrics ? !HasLyrics(task) : !HasAudio(task)) {
        FailTask(absl::StatusCode::kInternal,
                 lyrics ? "provider reported success without lyrics"
                        : "provider reported success without an audio URL",
                 update.provider_status, update.provider_error_code, now, task);
        return true;
      }
      if (!lyrics) {
        // A clip reported while running whose audio never came is not a result.
        auto* clips = task.mutable_clips();
        clips->erase(std::remove_if(clips->begin(), clips->end(),
                                    [](const music::v1::Clip& c) { return c.audio_url().empty(); }),
                     clips->end());
      }
      task.set_state(music::v1::TASK_STATE_SUCCEEDED);
      task.mutable_progress()->set_provider_status(update.provider_status);
      // Done is 100% whatever the last running report said (providers rarely send 100).
      if (task.progress().percent() > 0 || update.progress_percent >= 0) {
        task.mutable_progress()->set_percent(100);
        if (!update.progress_stage.empty())
          task.mutable_progress()->set_stage(update.progress_stage);
      }
      if (!lyrics) task.mutable_progress()->set_first_clip_ready(true);
      SetTimestamp(now, task.mutable_end_time());
      break;
    }
    case ProviderState::kFailed:
      FailTask(
          update.error_code == absl::StatusCode::kOk ? absl::StatusCode::kUnknown
                                                     : update.error_code,
          update.error_message.empty() ? "the provider reported a failure" : update.error_message,
          update.provider_status, update.provider_error_code, now, task);
      return true;
    case ProviderState::kCanceled:
      task.set_state(music::v1::TASK_STATE_CANCELED);
      task.mutable_error()->set_code(static_cast<int32_t>(absl::StatusCode::kCancelled));
      task.mutable_error()->set_message("canceled at the provider");
      task.mutable_error()->set_provider_status(update.provider_status);
      SetTimestamp(now, task.mutable_end_time());
      break;
    case ProviderState::kPending:
    case ProviderState::kRunning: {
      auto* progress = task.mutable_progress();
      const int old_rank = StageRank(progress->lyrics_ready(), progress->first_clip_ready());
      const int new_rank = StageRank(update.lyrics_ready, update.first_clip_ready);
      if (update.lyrics_ready) progress->set_lyrics_ready(true);
      if (update.first_clip_ready) progress->set_first_clip_ready(true);
      if (new_rank >= old_rank && !update.provider_status.empty()) {
        progress->set_provider_status(update.provider_status);
      }
      // Percent only grows: a late or repeated report never moves the bar back.
      if (update.progress_percent >= 0 && update.progress_percent >= progress->percent()) {
        progress->set_percent(std::min(update.progress_percent, 100));
        if (!update.progress_stage.empty()) progress->set_stage(update.progress_stage);
        if (!update.progress_message.empty()) progress->set_message(update.progress_message);
      }
      // The provider has the task, so it is running from the caller's point of view.
      if (task.state() == music::v1::TASK_STATE_PENDING ||
          task.state() == music::v1::TASK_STATE_UNSPECIFIED) {
        task.set_state(music::v1::TASK_STATE_RUNNING);
      }
      break;
    }
  }

  if (DeterministicBytes(task) == before) return false;
  SetTimestamp(now, task.mutable_update_time());
  return true;
}

}  // namespace music::service
