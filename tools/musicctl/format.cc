#include "tools/musicctl/format.h"

#include <algorithm>
#include <cmath>
#include <map>
#include <string>

#include "absl/status/status.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_replace.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "google/protobuf/timestamp.pb.h"
#include "google/protobuf/util/json_util.h"

namespace music::musicctl {
namespace {

using music::v1::Task;

constexpr int kLabelWidth = 14;

/// Display width of UTF-8 text, in code points.
size_t Width(absl::string_view text) {
  return std::count_if(text.begin(), text.end(),
                       [](char c) { return (static_cast<unsigned char>(c) & 0xC0) != 0x80; });
}

/// `text` on one line, cut to `max` code points with "..." when longer.
std::string OneLine(absl::string_view text, size_t max) {
  std::string line = absl::StrReplaceAll(text, {{"\r\n", " "}, {"\n", " "}, {"\t", " "}});
  if (Width(line) <= max) return line;
  size_t keep = max > 3 ? max - 3 : 0;
  size_t i = 0;
  for (size_t seen = 0; i < line.size(); ++i) {
    if ((static_cast<unsigned char>(line[i]) & 0xC0) != 0x80 && seen++ == keep) break;
  }
  return absl::StrCat(line.substr(0, i), "...");
}

std::string PadRight(absl::string_view text, size_t width) {
  size_t w = Width(text);
  return absl::StrCat(text, std::string(w < width ? width - w : 0, ' '));
}

/// Columns padded to the widest cell, two spaces apart; no trailing spaces.
std::string RenderTable(const std::vector<std::vector<std::string>>& rows) {
  std::vector<size_t> widths;
  for (const auto& row : rows) {
    if (widths.size() < row.size()) widths.resize(row.size(), 0);
    for (size_t i = 0; i < row.size(); ++i) widths[i] = std::max(widths[i], Width(row[i]));
  }
  std::string out;
  for (const auto& row : rows) {
    std::string line;
    for (size_t i = 0; i < row.size(); ++i) {
      absl::StrAppend(&line, i + 1 < row.size() ? PadRight(row[i], widths[i] + 2) : row[i]);
    }
    absl::StrAppend(&out, absl::StripTrailingAsciiWhitespace(line), "\n");
  }
  return out;
}

void Field(std::string* out, absl::string_view label, absl::string_view value) {
  absl::StrAppend(out, PadRight(label, kLabelWidth), value, "\n");
}

absl::Time ToTime(const google::protobuf::Timestamp& ts) {
  return absl::FromUnixSeconds(ts.seconds()) + absl::Nanoseconds(ts.nanos());
}

std::string FormatTimestamp(const google::protobuf::Timestamp& ts, absl::TimeZone tz) {
  return absl::FormatTime("%Y-%m-%d %H:%M:%S %Z", ToTime(ts), tz);
}

std::string FormatDuration(double seconds) {
  int whole = static_cast<int>(std::lround(seconds));
  return absl::StrFormat("%.1f s (%d:%02d)", seconds, whole / 60, whole % 60);
}

std::string OrDash(absl::string_view text) { return text.empty() ? "-" : std::string(text); }

std::string FormatProgress(const music::v1::TaskProgress& progress) {
  std::vector<std::string> parts;
  if (!progress.provider_status().empty()) {
    parts.push_back(absl::StrCat("provider status ", progress.provider_status()));
  }
  if (progress.lyrics_ready()) parts.push_back("lyrics ready");
  if (progress.first_clip_ready()) parts.push_back("first clip ready");
  return parts.empty() ? "-" : absl::StrJoin(parts, ", ");
}

std::string FormatError(const music::v1::TaskError& error) {
  std::string text = absl::StrCat(CodeName(error.code()), ": ", OrDash(error.message()));
  std::vector<std::string> provider;
  if (!error.provider_status().empty()) {
    provider.push_back(absl::StrCat("provider status ", error.provider_status()));
  }
  if (!error.provider_error_code().empty()) {
    provider.push_back(absl::StrCat("provider code ", error.provider_error_code()));
  }
  if (!provider.empty()) absl::StrAppend(&text, " (", absl::StrJoin(provider, ", "), ")");
  return text;
}

/// `text` with every line indented by `indent` spaces.
std::string Indent(absl::string_view text, int indent) {
  std::string out;
  std::string pad(indent, ' ');
  for (absl::string_view line : absl::StrSplit(absl::StripTrailingAsciiWhitespace(text), '\n')) {
    absl::StrAppend(&out, pad, absl::StripTrailingAsciiWhitespace(line), "\n");
  }
  return out;
}

void AppendInput(const Task& task, std::string* out) {
  const music::v1::TaskInput& input = task.input();
  if (!input.continue_from_clip_id().empty()) {
    Field(out, "Continues",
          absl::StrFormat("clip %s at %.1f s", input.continue_from_clip_id(),
                          input.continue_at_seconds()));
  }
  if (!input.prompt().empty()) Field(out, "Prompt", OneLine(input.prompt(), 100));
  if (!input.style().empty()) Field(out, "Style", OneLine(input.style(), 100));
  if (!input.title().empty()) Field(out, "Title", OneLine(input.title(), 100));
  if (!input.lyrics().empty()) Field(out, "Input lyrics", OneLine(input.lyrics(), 100));
  if (!input.negative_tags().empty()) Field(out, "Negative tags", input.negative_tags());
  if (input.instrumental()) Field(out, "Instrumental", "yes");
}

void AppendClips(const Task& task, std::string* out) {
  Field(out, "Clips", absl::StrCat(task.clips_size()));
  int n = 0;
  for (const music::v1::Clip& clip : task.clips()) {
    absl::StrAppendFormat(out, "  [%d] %s  \"%s\"  %s\n", ++n, OrDash(clip.clip_id()), clip.title(),
                          FormatDuration(clip.duration_seconds()));
    absl::StrAppend(out, "      audio   ", OrDash(clip.audio_url()), "\n");
    absl::StrAppend(out, "      stream  ", OrDash(clip.stream_audio_url()), "\n");
    absl::StrAppend(out, "      image   ", OrDash(clip.image_url()), "\n");
    if (!clip.video_url().empty()) absl::StrAppend(out, "      video   ", clip.video_url(), "\n");
    // The service's own copy (musicctl download), which outlives the provider's links.
    if (clip.has_audio_archive()) {
      absl::StrAppend(out, "      archive ", clip.audio_archive().location(), " (",
                      clip.audio_archive().size_bytes(), " bytes, sha256 ",
                      clip.audio_archive().sha256().substr(0, 12), "...)\n");
    }
  }
}

void AppendLyricVariants(const Task& task, std::string* out) {
  Field(out, "Variants", absl::StrCat(task.lyric_variants_size()));
  int n = 0;
  for (const music::v1::LyricVariant& variant : task.lyric_variants()) {
    absl::StrAppendFormat(out, "  [%d] \"%s\"\n", ++n, variant.title());
    absl::StrAppend(out, Indent(variant.text(), 6));
  }
}

/// "1 clip", "2 clips".
std::string Count(int n, absl::string_view noun) {
  return absl::StrCat(n, " ", noun, n == 1 ? "" : "s");
}

std::string Results(const Task& task) {
  if (task.kind() == music::v1::TASK_KIND_LYRICS || task.lyric_variants_size() > 0) {
    return Count(task.lyric_variants_size(), "variant");
  }
  return Count(task.clips_size(), "clip");
}

/// What the task is about, for one table cell.
std::string Subject(const Task& task) {
  const music::v1::TaskInput& input = task.input();
  if (!input.title().empty()) return OneLine(input.title(), 40);
  if (!input.prompt().empty()) return OneLine(input.prompt(), 40);
  if (!input.continue_from_clip_id().empty()) return "continues " + input.continue_from_clip_id();
  return "";
}

}  // namespace

std::string StateName(music::v1::TaskState state) {
  std::string name = music::v1::TaskState_Name(state);
  if (name.empty()) return absl::StrCat("STATE_", static_cast<int>(state));
  return std::string(absl::StripPrefix(name, "TASK_STATE_"));
}

std::string KindName(music::v1::TaskKind kind) {
  std::string name = music::v1::TaskKind_Name(kind);
  if (name.empty()) return absl::StrCat("KIND_", static_cast<int>(kind));
  return std::string(absl::StripPrefix(name, "TASK_KIND_"));
}

std::string ClipOperationName(music::v1::ClipOperation operation) {
  return std::string(
      absl::StripPrefix(music::v1::ClipOperation_Name(operation), "CLIP_OPERATION_"));
}

std::string CodeName(int code) {
  static constexpr const char* kNames[] = {"OK",
                                           "CANCELLED",
                                           "UNKNOWN",
                                           "INVALID_ARGUMENT",
                                           "DEADLINE_EXCEEDED",
                                           "NOT_FOUND",
                                           "ALREADY_EXISTS",
                                           "PERMISSION_DENIED",
                                           "RESOURCE_EXHAUSTED",
                                           "FAILED_PRECONDITION",
                                           "ABORTED",
                                           "OUT_OF_RANGE",
                                           "UNIMPLEMENTED",
                                           "INTERNAL",
                                           "UNAVAILABLE",
                                           "DATA_LOSS",
                                           "UNAUTHENTICATED"};
  if (code >= 0 && code < static_cast<int>(std::size(kNames))) return kNames[code];
  return absl::StrCat("CODE_", code);
}

bool IsTerminal(music::v1::TaskState state) {
  return state == music::v1::TASK_STATE_SUCCEEDED || state == music::v1::TASK_STATE_FAILED ||
         state == music::v1::TASK_STATE_CANCELED;
}

std::string FormatTask(const Task& task, absl::TimeZone tz) {
  std::string out;
  Field(&out, "Task", OrDash(task.task_id()));
  Field(&out, "Kind", KindName(task.kind()));
  Field(&out, "State", StateName(task.state()));
  Field(&out, "Model", OrDash(task.model()));
  if (!task.provider().empty() || !task.provider_task_id().empty()) {
    std::string provider = OrDash(task.provider());
    if (!task.provider_task_id().empty()) {
      absl::StrAppend(&provider, " (task ", task.provider_task_id(), ")");
    }
    if (!task.provider_model().empty())
      absl::StrAppend(&provider, ", model ", task.provider_model());
    Field(&out, "Provider", provider);
  }
  for (const auto& f : task.failovers()) {
    Field(&out, "Failed over",
          absl::StrCat(f.provider(), " ", f.provider_model(), ": ",
                       absl::StatusCodeToString(static_cast<absl::StatusCode>(f.code())), " ",
                       f.message()));
  }
  if (task.has_billing() && !task.billing().currency().empty()) {
    const auto& b = task.billing();
    auto amount = [&](int64_t micros) {
      return absl::StrFormat("%d.%06d %s", micros / 1000000, micros % 1000000, b.currency());
    };
    Field(&out, "Billing",
          absl::StrCat("reserved ", amount(b.reserved_micros()), ", charged ",
                       amount(b.charged_micros()), ", refunded ", amount(b.refunded_micros())));
  }
  if (!task.request_id().empty()) Field(&out, "Request id", task.request_id());
  Field(&out, "Version", absl::StrCat(task.version()));
  if (task.has_create_time()) Field(&out, "Created", FormatTimestamp(task.create_time(), tz));
  if (task.has_update_time()) Field(&out, "Updated", FormatTimestamp(task.update_time(), tz));
  if (task.has_end_time()) Field(&out, "Ended", FormatTimestamp(task.end_time(), tz));
  if (!IsTerminal(task.state()) || task.has_progress()) {
    Field(&out, "Progress", FormatProgress(task.progress()));
  }
  if (task.has_error()) Field(&out, "Error", FormatError(task.error()));
  AppendInput(task, &out);
  if (task.kind() == music::v1::TASK_KIND_LYRICS || task.lyric_variants_size() > 0) {
    AppendLyricVariants(task, &out);
  }
  if (task.kind() == music::v1::TASK_KIND_CLIP_OPERATION) {
    const music::v1::ClipOperationResult& r = task.operation_result();
    Field(&out, "Operation",
          absl::StrCat(ClipOperationName(task.input().clip_operation()), " of clip ",
                       task.input().source_clip_id()));
    if (!r.wav_url().empty()) Field(&out, "WAV", r.wav_url());
    if (!r.video_url().empty()) Field(&out, "Video", r.video_url());
    std::map<std::string, std::string> stems(r.stem_urls().begin(), r.stem_urls().end());
    for (const auto& [name, url] : stems) Field(&out, absl::StrCat("Stem ", name), url);
    return out;
  }
  if (task.kind() != music::v1::TASK_KIND_LYRICS || task.clips_size() > 0) {
    AppendClips(task, &out);
  }
  return out;
}

std::string FormatWatchLine(const Task& task, absl::Time now, absl::TimeZone tz) {
  absl::Time time = task.has_update_time() ? ToTime(task.update_time()) : now;
  const music::v1::TaskProgress& progress = task.progress();
  std::string count = task.kind() == music::v1::TASK_KIND_LYRICS
                          ? absl::StrCat("variants ", task.lyric_variants_size())
                          : absl::StrCat("clips ", task.clips_size());
  std::string line = absl::StrFormat("%s  v%-4d %-10s %-22s lyrics %-6s first clip %-6s %s",
                                     absl::FormatTime("%H:%M:%S", time, tz), task.version(),
                                     StateName(task.state()), OrDash(progress.provider_status()),
                                     progress.lyrics_ready() ? "ready" : "-",
                                     progress.first_clip_ready() ? "ready" : "-", count);
  return line;
}

std::string FormatHeartbeatLine(const music::v1::Heartbeat& heartbeat, absl::Time now,
                                absl::TimeZone tz, bool color) {
  absl::Time time = heartbeat.has_time() ? ToTime(heartbeat.time()) : now;
  std::string line = absl::StrFormat("%s  v%-4d . heartbeat",
                                     absl::FormatTime("%H:%M:%S", time, tz), heartbeat.version());
  return color ? absl::StrCat("\x1b[2m", line, "\x1b[0m") : line;
}

std::string FormatTaskTable(const std::vector<Task>& tasks, absl::TimeZone tz) {
  std::vector<std::vector<std::string>> rows = {
      {"TASK ID", "KIND", "STATE", "MODEL", "VERSION", "RESULTS", "CREATED", "SUBJECT"}};
  for (const Task& task : tasks) {
    rows.push_back({task.task_id(), KindName(task.kind()), StateName(task.state()),
                    OrDash(task.model()), absl::StrCat(task.version()), Results(task),
                    task.has_create_time() ? FormatTimestamp(task.create_time(), tz) : "-",
                    Subject(task)});
  }
  return RenderTable(rows);
}

std::string FormatModels(const music::v1::ListModelsResponse& response) {
  std::vector<std::vector<std::string>> rows = {
      {"NAME", "PROVIDER", "PROVIDER MODEL", "CAN", "MAX LENGTH", "AVAILABLE"}};
  for (const music::v1::Model& model : response.models()) {
    const music::v1::ModelCapabilities& caps = model.capabilities();
    std::vector<std::string> can;
    if (caps.music()) can.push_back("music");
    if (caps.lyrics()) can.push_back("lyrics");
    if (caps.continuation()) can.push_back("continuation");
    if (caps.instrumental()) can.push_back("instrumental");
    std::string name = model.name();
    if (name == response.default_model()) name += " *";
    std::string available = model.available() ? "yes" : "no";
    if (!model.available() && !model.unavailable_reason().empty()) {
      absl::StrAppend(&available, ": ", OneLine(model.unavailable_reason(), 60));
    }
    rows.push_back(
        {name, OrDash(model.provider()), OrDash(model.provider_model()),
         can.empty() ? "-" : absl::StrJoin(can, ","),
         caps.max_duration_seconds() > 0 ? absl::StrCat(caps.max_duration_seconds(), " s") : "-",
         available});
  }
  std::string out = RenderTable(rows);
  if (!response.default_model().empty()) {
    absl::StrAppend(&out, "\n* default model: ", response.default_model(), "\n");
  }
  return out;
}

std::string ToJsonLine(const google::protobuf::Message& message) {
  std::string json;
  google::protobuf::util::JsonPrintOptions options;
  options.add_whitespace = false;
  auto status = google::protobuf::util::MessageToJsonString(message, &json, options);
  if (!status.ok()) {
    json = absl::StrCat(R"({"error":"cannot print )", message.GetTypeName(), R"( as JSON"})");
  }
  return absl::StrCat(json, "\n");
}

}  // namespace music::musicctl
