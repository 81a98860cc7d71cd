#include "tools/musicctl/clip_commands.h"

#include <httplib.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <fstream>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "domain/clock.h"
#include "grpcpp/client_context.h"
#include "tools/musicctl/format.h"
#include "tools/musicctl/rpc_error.h"
#include "tools/musicctl/watch.h"

namespace music::musicctl {
namespace {

using music::v1::MusicService;

// Writes `bytes` to `path` through a temporary file, so a failure leaves no partial file.
bool WriteFile(const std::string& path, const std::string& bytes, const Console& console) {
  const std::string tmp = absl::StrCat(path, ".part");
  std::ofstream file(tmp, std::ios::binary | std::ios::trunc);
  file.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
  file.close();
  if (!file || std::rename(tmp.c_str(), path.c_str()) != 0) {
    std::remove(tmp.c_str());
    *console.err << "error: cannot write " << path << "\n";
    return false;
  }
  return true;
}

// GETs an http(s) media URL (a provider's result link) into `path`.
bool DownloadUrl(const std::string& url, const std::string& path, const Console& console) {
  const size_t scheme_end = url.find("://");
  const size_t path_start =
      scheme_end == std::string::npos ? std::string::npos : url.find('/', scheme_end + 3);
  if (path_start == std::string::npos) {
    *console.err << "error: not an http(s) URL: " << url << "\n";
    return false;
  }
  httplib::Client client(url.substr(0, path_start));
  client.set_follow_location(true);
  if (!client.is_valid()) {
    *console.err << "error: cannot download " << url << "\n";
    return false;
  }
  auto res = client.Get(url.substr(path_start));
  if (!res || res->status != 200) {
    *console.err << "error: GET " << url << " answered "
                 << (res ? absl::StrCat(res->status) : httplib::to_string(res.error())) << "\n";
    return false;
  }
  if (!WriteFile(path, res->body, console)) return false;
  *console.out << "Saved " << res->body.size() << " bytes to " << path << "\n" << std::flush;
  return true;
}

// Creates the operation, watches it to the end (progress lines), and returns the final task.
int CreateAndWatch(const Options& options, music::v1::ClipOperation operation,
                   MusicService::StubInterface& stub, const Console& console,
                   music::v1::Task* final_task) {
  music::v1::CreateClipOperationRequest request;
  request.set_request_id(options.request_id);
  request.set_clip_id(options.clip_id);
  request.set_operation(operation);
  request.set_video_author(options.author);
  request.set_video_domain_name(options.domain);
  music::v1::CreateClipOperationResponse response;
  {
    grpc::ClientContext context;
    SetRpcDeadline(context, options.timeout);
    grpc::Status status = stub.CreateClipOperation(&context, request, &response);
    if (!status.ok()) return ReportRpcError(status, console);
  }
  const music::v1::Task& task = response.task();
  if (!console.json) {
    *console.out << "Created " << KindName(task.kind()) << " task " << task.task_id() << " ("
                 << ClipOperationName(operation) << " of clip " << options.clip_id
                 << "); watching it\n"
                 << FormatWatchLine(task, music::RealClock::Get()->Now(), console.tz) << "\n"
                 << std::flush;
  }
  WatchConfig config;
  config.timeout = options.watch_timeout;
  config.rpc_timeout = options.timeout;
  const int code = WatchUntilDone(stub, task.task_id(), task.version(), task, config, console);
  if (code != kExitOk) return code;
  music::v1::GetTaskRequest get;
  get.set_task_id(task.task_id());
  music::v1::GetTaskResponse got;
  grpc::ClientContext context;
  SetRpcDeadline(context, options.timeout);
  grpc::Status status = stub.GetTask(&context, get, &got);
  if (!status.ok()) return ReportRpcError(status, console);
  *final_task = std::move(*got.mutable_task());
  return kExitOk;
}

int Stems(const Options& options, MusicService::StubInterface& stub, const Console& console) {
  music::v1::Task task;
  const int code = CreateAndWatch(options,
                                  options.split ? music::v1::CLIP_OPERATION_SPLIT_STEMS
                                                : music::v1::CLIP_OPERATION_SEPARATE_VOCALS,
                                  stub, console, &task);
  if (code != kExitOk) return code;
  const std::string dir = options.out.empty() ? "." : options.out;
  // The map's order is unspecified: sort by stem name so the output is stable.
  std::vector<std::pair<std::string, std::string>> stems(
      task.operation_result().stem_urls().begin(), task.operation_result().stem_urls().end());
  std::sort(stems.begin(), stems.end());
  for (const auto& [name, url] : stems) {
    const std::string path = absl::StrCat(dir, "/", options.clip_id, "-", name, ".wav");
    if (!DownloadUrl(url, path, console)) return kExitRpcError;
  }
  return kExitOk;
}

int Wav(const Options& options, MusicService::StubInterface& stub, const Console& console) {
  music::v1::Task task;
  const int code =
      CreateAndWatch(options, music::v1::CLIP_OPERATION_CONVERT_TO_WAV, stub, console, &task);
  if (code != kExitOk) return code;
  if (options.out.empty()) return kExitOk;  // the URL is in the task printed above
  return DownloadUrl(task.operation_result().wav_url(), options.out, console) ? kExitOk
                                                                              : kExitRpcError;
}

int Video(const Options& options, MusicService::StubInterface& stub, const Console& console) {
  music::v1::Task task;
  const int code =
      CreateAndWatch(options, music::v1::CLIP_OPERATION_CREATE_MUSIC_VIDEO, stub, console, &task);
  if (code != kExitOk) return code;
  if (options.out.empty()) return kExitOk;
  return DownloadUrl(task.operation_result().video_url(), options.out, console) ? kExitOk
                                                                                : kExitRpcError;
}

int LyricsTiming(const Options& options, MusicService::StubInterface& stub,
                 const Console& console) {
  music::v1::GetTimestampedLyricsRequest request;
  request.set_clip_id(options.clip_id);
  music::v1::GetTimestampedLyricsResponse response;
  grpc::ClientContext context;
  SetRpcDeadline(context, options.timeout);
  grpc::Status status = stub.GetTimestampedLyrics(&context, request, &response);
  if (!status.ok()) return ReportRpcError(status, console);
  if (console.json) {
    *console.out << ToJsonLine(response) << std::flush;
    return kExitOk;
  }
  const std::string lrc = FormatLrc(response);
  if (options.lrc.empty() || options.lrc == "-") {
    *console.out << (lrc.empty() ? "No sung words (an instrumental clip).\n" : lrc) << std::flush;
    return kExitOk;
  }
  if (!WriteFile(options.lrc, lrc, console)) return kExitRpcError;
  *console.out << "Wrote " << response.aligned_words_size() << " timed words to " << options.lrc
               << "\n"
               << std::flush;
  return kExitOk;
}

int BoostStyle(const Options& options, MusicService::StubInterface& stub, const Console& console) {
  music::v1::BoostStyleRequest request;
  request.set_model(options.model);
  request.set_content(options.prompt);
  music::v1::BoostStyleResponse response;
  grpc::ClientContext context;
  SetRpcDeadline(context, options.timeout);
  grpc::Status status = stub.BoostStyle(&context, request, &response);
  if (!status.ok()) return ReportRpcError(status, console);
  if (console.json) {
    *console.out << ToJsonLine(response) << std::flush;
  } else {
    *console.out << response.style() << "\n" << std::flush;
  }
  return kExitOk;
}

// "[mm:ss.xx]" of a time in seconds.
std::string LrcTime(double seconds) {
  const int64_t centis = std::max<int64_t>(0, std::llround(seconds * 100));
  return absl::StrFormat("[%02d:%02d.%02d]", centis / 6000, (centis / 100) % 60, centis % 100);
}

}  // namespace

std::string FormatLrc(const music::v1::GetTimestampedLyricsResponse& lyrics) {
  std::string out;
  std::string line;
  double line_start = 0;
  auto end_line = [&] {
    const absl::string_view text = absl::StripAsciiWhitespace(line);
    // A section marker ("[Verse]", "[Chorus]") is not sung.
    if (!text.empty() && !(absl::StartsWith(text, "[") && absl::EndsWith(text, "]"))) {
      absl::StrAppend(&out, LrcTime(line_start), text, "\n");
    }
    line.clear();
  };
  for (const music::v1::AlignedWord& word : lyrics.aligned_words()) {
    // A word may carry line breaks before or after its text.
    std::vector<absl::string_view> parts = absl::StrSplit(word.word(), '\n');
    for (size_t i = 0; i < parts.size(); ++i) {
      if (i > 0) end_line();
      const absl::string_view part = absl::StripAsciiWhitespace(parts[i]);
      if (part.empty()) continue;
      if (absl::StripAsciiWhitespace(line).empty()) line_start = word.start_seconds();
      absl::StrAppend(&line, line.empty() ? "" : " ", part);
    }
  }
  end_line();
  return out;
}

int RunClipCommand(const Options& options, MusicService::StubInterface& stub,
                   const Console& console) {
  switch (options.command) {
    case Command::kStems:
      return Stems(options, stub, console);
    case Command::kWav:
      return Wav(options, stub, console);
    case Command::kVideo:
      return Video(options, stub, console);
    case Command::kLyricsTiming:
      return LyricsTiming(options, stub, console);
    case Command::kBoostStyle:
      return BoostStyle(options, stub, console);
    default:
      break;
  }
  *console.err << "error: not a clip command\n";
  return kExitUsage;
}

int ProviderBalance(const Options& options, music::v1::BillingService::StubInterface& billing,
                    const Console& console) {
  music::v1::GetProviderBalanceRequest request;
  request.set_provider(options.provider);
  music::v1::GetProviderBalanceResponse response;
  grpc::ClientContext context;
  SetRpcDeadline(context, options.timeout);
  grpc::Status status = billing.GetProviderBalance(&context, request, &response);
  if (!status.ok()) return ReportRpcError(status, console);
  if (console.json) {
    *console.out << ToJsonLine(response) << std::flush;
  } else {
    const int64_t micros = response.balance_micros();
    *console.out << response.provider() << ": "
                 << absl::StrFormat("%d.%06d", micros / 1000000, std::abs(micros % 1000000)) << " "
                 << response.currency() << "\n"
                 << std::flush;
  }
  return kExitOk;
}

}  // namespace music::musicctl
