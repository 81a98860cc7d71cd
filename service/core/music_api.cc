#include "service/core/music_api.h"

#include <openssl/sha.h>

#include <vector>

#include "absl/strings/escaping.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "service/core/audio_operation_validation.h"
#include "service/core/reference_audio_id.h"
#include "service/core/status_details.h"
#include "service/core/task_merge.h"
#include "service/core/validation.h"

namespace music::service {
namespace {

// Page tokens are opaque to callers: web-safe base64 of "v1|state|kind|create_us|task_id". The
// filters are inside so a token reused with other filters is refused (AIP-158).
std::string EncodePageToken(const music::v1::ListTasksRequest& r, const music::v1::Task& last) {
  return absl::WebSafeBase64Escape(
      absl::StrCat("v1|", static_cast<int>(r.state()), "|", static_cast<int>(r.kind()), "|",
                   absl::ToUnixMicros(FromTimestamp(last.create_time())), "|", last.task_id()));
}

absl::StatusOr<persistence::ListCursor> DecodePageToken(const music::v1::ListTasksRequest& r) {
  std::string raw;
  auto bad = [](absl::string_view why) { return InvalidField("page_token", why); };
  if (!absl::WebSafeBase64Unescape(r.page_token(), &raw)) return bad("not a token of this API");
  std::vector<std::string> parts = absl::StrSplit(raw, absl::MaxSplits('|', 4));
  int state = 0, kind = 0;
  int64_t micros = 0;
  if (parts.size() != 5 || parts[0] != "v1" || !absl::SimpleAtoi(parts[1], &state) ||
      !absl::SimpleAtoi(parts[2], &kind) || !absl::SimpleAtoi(parts[3], &micros) ||
      parts[4].empty()) {
    return bad("not a token of this API");
  }
  if (state != r.state() || kind != r.kind()) {
    return bad("the filters changed since the token was issued; start again without a token");
  }
  return persistence::ListCursor{absl::FromUnixMicros(micros), parts[4]};
}

// The caller's free text of a task input (CheckText on each): a blank or NUL prompt is refused
// before anything is stored or reserved.
void CheckTexts(const music::v1::TaskInput& in, std::vector<FieldViolation>& out) {
  CheckText("prompt", in.prompt(), out);
  CheckText("style", in.style(), out);
  CheckText("title", in.title(), out);
  CheckText("lyrics", in.lyrics(), out);
  CheckText("negative_tags", in.negative_tags(), out);
}

// Resolves a model name or alias to its route. An unknown name joins the other field violations;
// no available candidate is FAILED_PRECONDITION, reported only once the request itself is valid.
absl::StatusOr<Route> ResolveRoute(const Catalog& catalog, absl::string_view name,
                                   std::vector<FieldViolation>& violations) {
  if (name.empty()) name = catalog.default_model();
  if (catalog.Find(name) == nullptr && catalog.FindAlias(name) == nullptr) {
    violations.push_back({"model", absl::StrCat("unknown model \"", TruncateForError(name),
                                                "\"; ListModels lists the models served")});
  }
  if (!violations.empty()) return InvalidArgument(std::move(violations));
  return catalog.Resolve(name);
}

// Keeps the candidates of `route` that `check` finds no fault with. When none is left the request
// is refused with the faults found for the first candidate (for a plain model: its only one), so
// the error names the field.
template <typename Check>
absl::Status FilterRoute(Route& route, std::vector<FieldViolation>& violations, Check check) {
  std::vector<const music::v1::Model*> kept;
  std::vector<FieldViolation> first;
  for (size_t i = 0; i < route.candidates.size(); ++i) {
    std::vector<FieldViolation> found;
    check(*route.candidates[i], found);
    if (found.empty()) {
      kept.push_back(route.candidates[i]);
    } else if (i == 0) {
      first = std::move(found);
    }
  }
  if (kept.empty()) {
    for (auto& v : first) {
      if (route.alias) {
        v.description = absl::StrCat(v.description, " (and no other model of alias ", route.name,
                                     " can do this request)");
      }
      violations.push_back(std::move(v));
    }
  }
  if (!violations.empty()) return InvalidArgument(std::move(violations));
  route.candidates = std::move(kept);
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<music::v1::CreateMusicResponse> MusicApi::CreateMusic(
    absl::string_view tenant, const music::v1::CreateMusicRequest& r,
    absl::string_view traceparent) {
  std::vector<FieldViolation> violations;
  ValidateRequestId(r.request_id(), violations);
  CheckTexts(MusicInput(r), violations);
  auto route = ResolveRoute(*catalog_, r.model(), violations);
  if (!route.ok()) return route.status();
  if (auto s = FilterRoute(*route, violations,
                           [&](const music::v1::Model& m, std::vector<FieldViolation>& out) {
                             ValidateCreateMusic(r, m, out);
                           });
      !s.ok()) {
    return s;
  }
  if (auto s = CheckReferenceAudioOwner(tenant, r.reference_audio_id()); !s.ok()) return s;

  CreateSpec spec;
  spec.tenant = std::string(tenant);
  spec.request_id = r.request_id();
  spec.kind = music::v1::TASK_KIND_MUSIC;
  spec.model = route->candidates.front();
  spec.model_name = route->name;
  spec.input = MusicInput(r);
  spec.traceparent = std::string(traceparent);
  auto outcome = engine_->Create(spec);
  if (!outcome.ok()) return outcome.status();
  music::v1::CreateMusicResponse response;
  *response.mutable_task() = std::move(outcome->task);
  return response;
}

absl::StatusOr<music::v1::CreateLyricsResponse> MusicApi::CreateLyrics(
    absl::string_view tenant, const music::v1::CreateLyricsRequest& r,
    absl::string_view traceparent) {
  std::vector<FieldViolation> violations;
  ValidateRequestId(r.request_id(), violations);
  CheckText("prompt", r.prompt(), violations);
  auto route = ResolveRoute(*catalog_, r.model(), violations);
  if (!route.ok()) return route.status();
  if (auto s = FilterRoute(*route, violations,
                           [&](const music::v1::Model& m, std::vector<FieldViolation>& out) {
                             ValidateCreateLyrics(r, m, out);
                           });
      !s.ok()) {
    return s;
  }

  CreateSpec spec;
  spec.tenant = std::string(tenant);
  spec.request_id = r.request_id();
  spec.kind = music::v1::TASK_KIND_LYRICS;
  spec.model = route->candidates.front();
  spec.model_name = route->name;
  spec.input.set_prompt(r.prompt());
  spec.traceparent = std::string(traceparent);
  auto outcome = engine_->Create(spec);
  if (!outcome.ok()) return outcome.status();
  music::v1::CreateLyricsResponse response;
  *response.mutable_task() = std::move(outcome->task);
  return response;
}

absl::StatusOr<music::v1::ContinueClipResponse> MusicApi::ContinueClip(
    absl::string_view tenant, const music::v1::ContinueClipRequest& r,
    absl::string_view traceparent) {
  std::vector<FieldViolation> violations;
  ValidateRequestId(r.request_id(), violations);
  CheckText("prompt", r.prompt(), violations);
  CheckText("style", r.style(), violations);
  CheckText("title", r.title(), violations);
  CheckText("lyrics", r.lyrics(), violations);
  CheckText("negative_tags", r.negative_tags(), violations);
  if (r.clip_id().empty()) {
    violations.push_back({"clip_id", "required (the clip to continue)"});
  } else if (r.clip_id().size() > kMaxIdBytes) {
    violations.push_back({"clip_id", absl::StrCat("at most ", kMaxIdBytes, " bytes")});
  }
  if (!violations.empty()) return InvalidArgument(std::move(violations));
  // The source decides the default model, so look it up first.
  auto found = FindSourceClip(tenant, r.clip_id(), "continue a clip of a succeeded task");
  if (!found.ok()) return found.status();
  const domain::TaskRecord* source = &found->record;
  const music::v1::Clip* clip = &found->clip;
  const std::string model_name = r.model().empty() ? source->task.model() : r.model();
  if (model_name != source->task.model()) {
    violations.push_back(
        {"model", absl::StrCat("must be the source clip's model (", source->task.model(), ")")});
  }
  if (clip->duration_seconds() > 0 && r.continue_at_seconds() >= clip->duration_seconds()) {
    violations.push_back(
        {"continue_at_seconds",
         absl::StrCat("must be less than the clip's duration (", clip->duration_seconds(), " s)")});
  }
  auto route = ResolveRoute(*catalog_, model_name, violations);
  if (!route.ok()) return route.status();
  // A continuation extends a clip where it was made: the source task's provider and model,
  // whatever alias the caller named (kie.ai, CONTRACT-NOTES: "The model must match the source
  // clip's model").
  const std::string& source_provider = source->task.provider();
  const std::string& source_model = source->task.provider_model();
  if (auto s = FilterRoute(*route, violations,
                           [&](const music::v1::Model& m, std::vector<FieldViolation>& out) {
                             ValidateContinueClip(r, m, out);
                             if (m.provider() != source_provider) {
                               out.push_back({"model", absl::StrCat("the source clip was made by ",
                                                                    source_provider)});
                             } else if (m.provider_model() != source_model) {
                               out.push_back({"model", absl::StrCat("the source clip was made by ",
                                                                    source_provider, " model ",
                                                                    source_model)});
                             }
                           });
      !s.ok()) {
    return s;
  }

  CreateSpec spec;
  spec.tenant = std::string(tenant);
  spec.request_id = r.request_id();
  spec.kind = music::v1::TASK_KIND_CONTINUATION;
  spec.model = route->candidates.front();
  spec.model_name = route->name;
  auto& in = spec.input;
  in.set_continue_from_clip_id(r.clip_id());
  in.set_continue_at_seconds(r.continue_at_seconds());
  in.set_prompt(r.prompt());
  in.set_style(r.style());
  in.set_title(r.title());
  in.set_negative_tags(r.negative_tags());
  CopyGenerateOptions(r, in);
  in.set_lyrics(r.lyrics());
  spec.traceparent = std::string(traceparent);
  auto outcome = engine_->Create(spec);
  if (!outcome.ok()) return outcome.status();
  music::v1::ContinueClipResponse response;
  *response.mutable_task() = std::move(outcome->task);
  return response;
}

absl::Status MusicApi::CheckReferenceAudioOwner(absl::string_view tenant,
                                                absl::string_view reference_audio_id) const {
  if (reference_audio_id.empty()) return absl::OkStatus();
  if (VerifyReferenceAudioId(engine_->callback_token_secrets(), tenant, reference_audio_id)) {
    return absl::OkStatus();
  }
  return FailedPrecondition("REFERENCE_AUDIO_NOT_FOUND", "reference_audio_id",
                            "no upload with this id for this tenant; UploadReferenceAudio "
                            "returns the ids this tenant may pass");
}

absl::StatusOr<MusicApi::SourceClip> MusicApi::FindSourceClip(absl::string_view tenant,
                                                              absl::string_view clip_id,
                                                              absl::string_view what) const {
  auto source = store_->FindByClipId(tenant, clip_id);
  if (!source.ok()) {
    if (absl::IsNotFound(source.status())) {
      return FailedPrecondition("CLIP_NOT_FOUND", clip_id,
                                absl::StrCat("no clip with this id; ", what));
    }
    return source.status();
  }
  if (source->task.state() != music::v1::TASK_STATE_SUCCEEDED) {
    return FailedPrecondition(
        "CLIP_NOT_READY", clip_id,
        absl::StrCat("the clip's task ", source->task.task_id(), " is ",
                     music::v1::TaskState_Name(source->task.state()), ", not SUCCEEDED"));
  }
  SourceClip out;
  bool has_audio = false;
  for (const auto& c : source->task.clips()) {
    if (c.clip_id() == clip_id) {
      out.clip = c;
      has_audio = !c.audio_url().empty();
    }
  }
  if (!has_audio) return FailedPrecondition("CLIP_NOT_READY", clip_id, "the clip has no audio");
  // The model that made the clip: the catalog entry of the task's provider and provider model
  // (Task.model may name an alias).
  for (const auto& m : catalog_->models()) {
    if (m.provider() == source->task.provider() &&
        m.provider_model() == source->task.provider_model()) {
      out.model = &m;
      break;
    }
  }
  out.record = *std::move(source);
  return out;
}

absl::StatusOr<music::v1::CreateClipOperationResponse> MusicApi::CreateClipOperation(
    absl::string_view tenant, const music::v1::CreateClipOperationRequest& r,
    absl::string_view traceparent) {
  std::vector<FieldViolation> violations;
  ValidateRequestId(r.request_id(), violations);
  ValidateClipOperation(r, violations);
  if (r.clip_id().size() > kMaxIdBytes) {
    violations.push_back({"clip_id", absl::StrCat("at most ", kMaxIdBytes, " bytes")});
  }
  if (!violations.empty()) return InvalidArgument(std::move(violations));
  auto source = FindSourceClip(tenant, r.clip_id(), "operate on a clip of a succeeded task");
  if (!source.ok()) return source.status();
  const music::v1::Model* model = source->model;
  if (model == nullptr || !OffersClipOperation(*model, r.operation())) {
    return FailedPrecondition(
        "OPERATION_NOT_SUPPORTED", r.clip_id(),
        absl::StrCat("the clip's model ", source->record.task.model(), " does not offer ",
                     music::v1::ClipOperation_Name(r.operation()),
                     " (ListModels: capabilities.clip_operations)"));
  }
  if (!model->available()) {
    return FailedPrecondition("MODEL_UNAVAILABLE", model->name(),
                              absl::StrCat("the clip's model ", model->name(),
                                           " is unavailable: ", model->unavailable_reason()));
  }
  // The operation's own price is reserved (billed on its own); the model's task price otherwise.
  music::v1::Model priced = *model;
  for (const auto& p : model->clip_operation_prices()) {
    if (p.operation() == r.operation()) *priced.mutable_price() = p.price();
  }

  CreateSpec spec;
  spec.tenant = std::string(tenant);
  spec.request_id = r.request_id();
  spec.kind = music::v1::TASK_KIND_CLIP_OPERATION;
  spec.model = &priced;  // read by Create only
  spec.model_name = model->name();
  auto& in = spec.input;
  in.set_clip_operation(r.operation());
  in.set_source_clip_id(r.clip_id());
  in.set_source_task_id(source->record.task.task_id());
  in.set_source_provider_task_id(source->record.task.provider_task_id());
  in.set_video_author(r.video_author());
  in.set_video_domain_name(r.video_domain_name());
  spec.traceparent = std::string(traceparent);
  auto outcome = engine_->Create(spec);
  if (!outcome.ok()) return outcome.status();
  music::v1::CreateClipOperationResponse response;
  *response.mutable_task() = std::move(outcome->task);
  return response;
}

absl::StatusOr<music::v1::CreateAudioOperationResponse> MusicApi::CreateAudioOperation(
    absl::string_view tenant, const music::v1::CreateAudioOperationRequest& r,
    absl::string_view traceparent) {
  std::vector<FieldViolation> violations;
  ValidateRequestId(r.request_id(), violations);
  const music::v1::TaskInput input = AudioOperationInput(r);
  ValidateAudioOperationFields(input, violations);
  CheckTexts(input, violations);
  auto route = ResolveRoute(*catalog_, r.model(), violations);
  if (!route.ok()) return route.status();
  bool offered = false;
  for (const music::v1::Model* m : route->candidates) {
    offered |= ModelOffersAudioOperation(*m, r.operation());
  }
  if (!offered) {
    return FailedPrecondition(
        "OPERATION_NOT_SUPPORTED", route->name,
        absl::StrCat("model ", route->name, " does not run ",
                     music::v1::AudioOperation_Name(r.operation()),
                     "; ListModels lists each model's capabilities.audio_operations"));
  }
  if (auto s = FilterRoute(*route, violations,
                           [&](const music::v1::Model& m, std::vector<FieldViolation>& out) {
                             if (!ModelOffersAudioOperation(m, r.operation())) {
                               out.push_back({"operation", absl::StrCat("model ", m.name(),
                                                                        " does not run it")});
                             }
                             ValidateAudioOperation(input, m, out);
                           });
      !s.ok()) {
    return s;
  }
  if (auto s = CheckReferenceAudioOwner(tenant, input.reference_audio_id()); !s.ok()) return s;

  CreateSpec spec;
  spec.tenant = std::string(tenant);
  spec.request_id = r.request_id();
  spec.kind = music::v1::TASK_KIND_AUDIO_OPERATION;
  spec.model = route->candidates.front();
  spec.model_name = route->name;
  spec.input = input;
  spec.traceparent = std::string(traceparent);
  auto outcome = engine_->Create(spec);
  if (!outcome.ok()) return outcome.status();
  music::v1::CreateAudioOperationResponse response;
  *response.mutable_task() = std::move(outcome->task);
  return response;
}


absl::StatusOr<music::v1::GetTimestampedLyricsResponse> MusicApi::GetTimestampedLyrics(
    absl::string_view tenant, const music::v1::GetTimestampedLyricsRequest& r) {
  if (r.clip_id().empty()) return InvalidField("clip_id", "required (the clip whose lyrics)");
  if (auto s = CheckIdLength("clip_id", r.clip_id()); !s.ok()) return s;
  auto source = FindSourceClip(tenant, r.clip_id(), "align lyrics of a clip of a succeeded task");
  if (!source.ok()) return source.status();
  adapters::ProviderAdapter* adapter =
      provider_calls_ == nullptr ? nullptr : provider_calls_->Find(source->record.task.provider());
  if (source->model == nullptr || !source->model->capabilities().timestamped_lyrics() ||
      adapter == nullptr) {
    return FailedPrecondition("OPERATION_NOT_SUPPORTED", r.clip_id(),
                              "the clip's model does not align lyrics "
                              "(ListModels: capabilities.timestamped_lyrics)");
  }
  adapters::ClipRef ref;
  ref.provider_task_id = source->record.task.provider_task_id();
  ref.clip_id = r.clip_id();
  auto lyrics = adapter->GetTimestampedLyrics(ref);
  if (!lyrics.ok()) return lyrics.status();
  lyrics->set_clip_id(r.clip_id());
  return lyrics;
}

absl::StatusOr<music::v1::BoostStyleResponse> MusicApi::BoostStyle(
    const music::v1::BoostStyleRequest& r) {
  std::vector<FieldViolation> violations;
  if (r.content().empty()) violations.push_back({"content", "required (the style to expand)"});
  CheckText("content", r.content(), violations);
  const std::string name = r.model().empty() ? catalog_->default_model() : r.model();
  auto route = ResolveRoute(*catalog_, name, violations);
  if (!route.ok()) return route.status();
  const music::v1::Model* model = nullptr;
  for (const music::v1::Model* m : route->candidates) {
    if (m->capabilities().style_boost() && provider_calls_ != nullptr &&
        provider_calls_->Find(m->provider()) != nullptr) {
      model = m;
      break;
    }
  }
  if (model == nullptr) {
    return FailedPrecondition("OPERATION_NOT_SUPPORTED", name,
                              "no model of this name boosts styles (capabilities.style_boost)");
  }
  auto boost = provider_calls_->Find(model->provider())->BoostStyle(r.content());
  if (!boost.ok()) return boost.status();
  music::v1::BoostStyleResponse response;
  response.set_style(boost->style);
  response.set_credits_consumed_micros(boost->credits_consumed_micros);
  response.set_credits_remaining_micros(boost->credits_remaining_micros);
  response.set_provider_task_id(boost->provider_task_id);
  return response;
}

absl::StatusOr<music::v1::Task> MusicApi::LoadTask(absl::string_view tenant,
                                                   absl::string_view task_id) {
  if (task_id.empty()) return InvalidField("task_id", "required");
  if (auto s = CheckIdLength("task_id", task_id); !s.ok()) return s;
  auto record = store_->Get(task_id);
  if (!record.ok() || record->task.tenant() != tenant) {
    if (record.ok() || absl::IsNotFound(record.status())) {
      return absl::NotFoundError(absl::StrCat("task ", TruncateForError(task_id), " not found"));
    }
    return record.status();
  }
  return std::move(record->task);
}

absl::StatusOr<music::v1::GetTaskResponse> MusicApi::GetTask(absl::string_view tenant,
                                                             const music::v1::GetTaskRequest& r) {
  auto task = LoadTask(tenant, r.task_id());
  if (!task.ok()) return task.status();
  music::v1::GetTaskResponse response;
  *response.mutable_task() = std::move(*task);
  return response;
}

absl::StatusOr<music::v1::ListTasksResponse> MusicApi::ListTasks(
    absl::string_view tenant, const music::v1::ListTasksRequest& r) {
  if (r.page_size() < 0) return InvalidField("page_size", "must not be negative");
  if (!music::v1::TaskState_IsValid(r.state())) return InvalidField("state", "unknown state");
  if (!music::v1::TaskKind_IsValid(r.kind())) return InvalidField("kind", "unknown kind");
  persistence::ListQuery query;
  query.tenant = std::string(tenant);
  query.state = r.state();
  query.kind = r.kind();
  query.page_size = r.page_size() == 0 ? kDefaultPageSize : std::min(r.page_size(), kMaxPageSize);
  if (!r.page_token().empty()) {
    auto cursor = DecodePageToken(r);
    if (!cursor.ok()) return cursor.status();
    query.after = *cursor;
  }
  auto page = store_->List(query);
  if (!page.ok()) return page.status();
  music::v1::ListTasksResponse response;
  size_t bytes = 0;
  bool cut = false;
  for (auto& record : page->records) {
    if (!FitsInPage(record.task, response.tasks_size(), &bytes)) {
      cut = true;  // the token continues after the last task kept, so this one comes next
      break;
    }
    *response.add_tasks() = std::move(record.task);
  }
  if ((page->has_more || cut) && response.tasks_size() > 0) {
    response.set_next_page_token(EncodePageToken(r, *response.tasks().rbegin()));
  }
  return response;
}

absl::StatusOr<music::v1::CancelTaskResponse> MusicApi::CancelTask(
    absl::string_view tenant, const music::v1::CancelTaskRequest& r) {
  if (r.task_id().empty()) return InvalidField("task_id", "required");
  if (auto s = CheckIdLength("task_id", r.task_id()); !s.ok()) return s;
  auto task = engine_->Cancel(tenant, r.task_id());
  if (!task.ok()) return task.status();
  music::v1::CancelTaskResponse response;
  *response.mutable_task() = std::move(*task);
  return response;
}

absl::StatusOr<music::v1::ListModelsResponse> MusicApi::ListModels(
    const music::v1::ListModelsRequest&) {
  music::v1::ListModelsResponse response;
  for (const auto& m : catalog_->models()) {
    music::v1::Model* listed = response.add_models();
    *listed = m;
    if (provider_health_ == nullptr || !m.available()) continue;
    if (std::optional<std::string> refused = provider_health_->UnavailableReason(m.provider())) {
      listed->set_available(false);
      listed->set_unavailable_reason(*refused);
    }
  }
  for (const auto& a : catalog_->aliases()) *response.add_aliases() = a;
  response.set_default_model(catalog_->default_model());
  return response;
}

absl::StatusOr<const music::v1::Model*> MusicApi::CheckReferenceAudioMetadata(
    const music::v1::ReferenceAudioMetadata& m) const {
  std::vector<FieldViolation> violations;
  if (m.model().empty()) violations.push_back({"metadata.model", "required"});
  if (m.filename().empty()) {
    violations.push_back({"metadata.filename", "required"});
  } else if (CharCount(m.filename()) > kMaxReferenceFilenameChars) {
    violations.push_back(
        {"metadata.filename", absl::StrCat("at most ", kMaxReferenceFilenameChars, " characters")});
  } else if (m.filename().find_first_of(std::string("/\\\0", 3)) != std::string::npos) {
    violations.push_back({"metadata.filename", "a file name, without directories"});
  }
  if (!absl::StartsWithIgnoreCase(m.content_type(), "audio/")) {
    violations.push_back({"metadata.content_type", "must start with \"audio/\", e.g. audio/mpeg"});
  }
  if (!m.model().empty() && catalog_->Find(m.model()) == nullptr &&
      catalog_->FindAlias(m.model()) == nullptr) {
    violations.push_back({"metadata.model", absl::StrCat("unknown model \"", TruncateForError(m.model()),
                                                         "\"; ListModels lists the models")});
  }
  if (!violations.empty()) return InvalidArgument(std::move(violations));
  if (providers_ == nullptr) {
    return FailedPrecondition("REFERENCE_AUDIO_DISABLED", "UploadReferenceAudio",
                              "reference audio uploads are disabled on this server");
  }
  auto route = catalog_->Resolve(m.model(), "metadata.model");
  if (!route.ok()) return route.status();
  for (const music::v1::Model* model : route->candidates) {
    const bool takes_audio = model->capabilities().reference_audio() ||
                             model->capabilities().audio_operations_size() > 0;
    if (takes_audio && providers_->Find(model->provider()) != nullptr) {
      return model;
    }
  }
  return InvalidField("metadata.model",
                      absl::StrCat("model ", TruncateForError(m.model()), " takes no reference audio"));
}

absl::StatusOr<music::v1::UploadReferenceAudioResponse> MusicApi::UploadReferenceAudio(
    absl::string_view tenant, const music::v1::ReferenceAudioMetadata& metadata,
    std::string bytes, size_t max_bytes) {
  auto model = CheckReferenceAudioMetadata(metadata);
  if (!model.ok()) return model.status();
  if (bytes.empty()) return InvalidField("chunk", "no audio bytes were sent after the metadata");
  if (bytes.size() > max_bytes) {
    return FailedPrecondition("REFERENCE_AUDIO_TOO_LARGE", metadata.filename(),
                              absl::StrCat("reference audio is at most ", max_bytes, " bytes"));
  }
  unsigned char digest[SHA256_DIGEST_LENGTH];
  SHA256(reinterpret_cast<const unsigned char*>(bytes.data()), bytes.size(), digest);
  const std::string provider = (*model)->provider();
  adapters::ProviderAdapter* adapter = providers_->Find(provider);
  music::v1::UploadReferenceAudioResponse response;
  response.set_size_bytes(static_cast<int64_t>(bytes.size()));
  response.set_sha256(absl::BytesToHexString(
      absl::string_view(reinterpret_cast<const char*>(digest), sizeof(digest))));
  adapters::ReferenceAudioUpload upload;
  upload.filename = metadata.filename();
  upload.content_type = metadata.content_type();
  upload.bytes = std::move(bytes);
  auto artifact = adapter->UploadReferenceAudio(upload);
  if (!artifact.ok()) return artifact.status();
  if (artifact->empty()) return absl::InternalError(provider + " returned no artifact id");
  const std::vector<std::string>& secrets = engine_->callback_token_secrets();
  std::string id =
      secrets.empty() ? "" : IssueReferenceAudioId(secrets.front(), tenant, provider, *artifact);
  // MusicServer does not start without a secret; an untagged id would be refused by every create.
  if (id.empty()) return absl::InternalError("no callback token secret to tag the upload with");
  response.set_reference_audio_id(std::move(id));
  response.set_provider(provider);
  return response;
}

}  // namespace music::service
