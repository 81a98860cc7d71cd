#include "tools/musicctl/commands.h"

#include <cstdio>
#include <fstream>
#include <iostream>
#include <iterator>
#include <memory>
#include <optional>
#include <sstream>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "domain/clock.h"
#include "domain/sha256.h"
#include "grpcpp/client_context.h"
#include "tools/musicctl/audio_op_commands.h"
#include "tools/musicctl/format.h"
#include "tools/musicctl/rpc_error.h"
#include "tools/musicctl/watch.h"

namespace music::musicctl {
namespace {

using music::v1::MusicService;
using music::v1::Task;
using music::domain::Sha256Hex;

/// A context whose deadline is --timeout from now.
class UnaryContext {
 public:
  explicit UnaryContext(const Options& options) { SetRpcDeadline(context_, options.timeout); }
  grpc::ClientContext* get() { return &context_; }

 private:
  grpc::ClientContext context_;
};

/// The file's contents ("-" reads stdin); nullopt when it cannot be read.
std::optional<std::string> ReadFile(const std::string& path) {
  if (path == "-") {
    return std::string(std::istreambuf_iterator<char>(std::cin), std::istreambuf_iterator<char>());
  }
  std::ifstream in(path, std::ios::binary);
  if (!in) return std::nullopt;
  std::ostringstream contents;
  contents << in.rdbuf();
  if (in.bad()) return std::nullopt;
  return contents.str();
}

WatchConfig WatchConfigFor(const Options& options) {
  WatchConfig config;
  config.timeout = options.watch_timeout;
  config.rpc_timeout = options.timeout;
  return config;
}

/// Prints a created task; with --watch, watches it to the end.
int AfterCreate(const google::protobuf::Message& response, const Task& task, const Options& options,
                MusicService::StubInterface& stub, const Console& console) {
  if (console.json) {
    *console.out << ToJsonLine(response) << std::flush;
  } else if (!options.watch) {
    *console.out << FormatTask(task, console.tz) << std::flush;
  } else {
    *console.out << "Created " << KindName(task.kind()) << " task " << task.task_id()
                 << "; watching it (Ctrl-C stops watching, not the task)\n"
                 << FormatWatchLine(task, music::RealClock::Get()->Now(), console.tz) << "\n"
                 << std::flush;
  }
  if (!options.watch) return kExitOk;
  return WatchUntilDone(stub, task.task_id(), task.version(), task, WatchConfigFor(options),
                        console);
}

int CreateMusic(const Options& options, MusicService::StubInterface& stub, const Console& console) {
  music::v1::CreateMusicRequest request;
  request.set_request_id(options.request_id);
  request.set_model(options.model);
  request.set_prompt(options.prompt);
  request.set_style(options.style);
  request.set_title(options.title);
  request.set_lyrics(options.lyrics);
  request.set_instrumental(options.instrumental);
  request.set_negative_tags(options.negative_tags);
  request.set_reference_audio_uri(options.reference_audio_uri);
  request.set_reference_audio_id(options.reference_audio_id);
  request.set_seed(options.seed);
  if (!options.lyrics_file.empty()) {
    std::optional<std::string> lyrics = ReadFile(options.lyrics_file);
    if (!lyrics) {
      *console.err << "error: cannot read --lyrics_file " << options.lyrics_file << "\n";
      return kExitUsage;
    }
    request.set_lyrics(*lyrics);
  }
  UnaryContext context(options);
  music::v1::CreateMusicResponse response;
  grpc::Status status = stub.CreateMusic(context.get(), request, &response);
  if (!status.ok()) return ReportRpcError(status, console);
  return AfterCreate(response, response.task(), options, stub, console);
}

int CreateLyrics(const Options& options, MusicService::StubInterface& stub,
                 const Console& console) {
  music::v1::CreateLyricsRequest request;
  request.set_request_id(options.request_id);
  request.set_model(options.model);
  request.set_prompt(options.prompt);
  UnaryContext context(options);
  music::v1::CreateLyricsResponse response;
  grpc::Status status = stub.CreateLyrics(context.get(), request, &response);
  if (!status.ok()) return ReportRpcError(status, console);
  return AfterCreate(response, response.task(), options, stub, console);
}

int ContinueClip(const Options& options, MusicService::StubInterface& stub,
                 const Console& console) {
  music::v1::ContinueClipRequest request;
  request.set_request_id(options.request_id);
  request.set_model(options.model);
  request.set_clip_id(options.clip_id);
  request.set_continue_at_seconds(options.continue_at_seconds);
  request.set_prompt(options.prompt);
  request.set_style(options.style);
  request.set_title(options.title);
  request.set_lyrics(options.lyrics);
  UnaryContext context(options);
  music::v1::ContinueClipResponse response;
  grpc::Status status = stub.ContinueClip(context.get(), request, &response);
  if (!status.ok()) return ReportRpcError(status, console);
  return AfterCreate(response, response.task(), options, stub, console);
}

int GetTask(const Options& options, MusicService::StubInterface& stub, const Console& console) {
  music::v1::GetTaskRequest request;
  request.set_task_id(options.task_id);
  UnaryContext context(options);
  music::v1::GetTaskResponse response;
  grpc::Status status = stub.GetTask(context.get(), request, &response);
  if (!status.ok()) return ReportRpcError(status, console);
  *console.out << (console.json ? ToJsonLine(response) : FormatTask(response.task(), console.tz))
               << std::flush;
  return kExitOk;
}

int CancelTask(const Options& options, MusicService::StubInterface& stub, const Console& console) {
  music::v1::CancelTaskRequest request;
  request.set_task_id(options.task_id);
  UnaryContext context(options);
  music::v1::CancelTaskResponse response;
  grpc::Status status = stub.CancelTask(context.get(), request, &response);
  if (!status.ok()) return ReportRpcError(status, console);
  *console.out << (console.json ? ToJsonLine(response) : FormatTask(response.task(), console.tz))
               << std::flush;
  return kExitOk;
}

int ListTasks(const Options& options, MusicService::StubInterface& stub, const Console& console) {
  music::v1::ListTasksRequest request;
  request.set_page_size(options.page_size);
  request.set_page_token(options.page_token);
  request.set_state(options.state);
  request.set_kind(options.kind);
  // With --all the pages are merged into one response.
  music::v1::ListTasksResponse all;
  while (true) {
    UnaryContext context(options);
    music::v1::ListTasksResponse page;
    grpc::Status status = stub.ListTasks(context.get(), request, &page);
    if (!status.ok()) return ReportRpcError(status, console);
    for (Task& task : *page.mutable_tasks()) *all.add_tasks() = std::move(task);
    all.set_next_page_token(page.next_page_token());
    if (!options.all || page.next_page_token().empty()) break;
    if (page.next_page_token() == request.page_token()) {
      *console.err << "error: the server returned the same page token twice; stopping\n";
      return kExitRpcError;
    }
    request.set_page_token(page.next_page_token());
  }
  if (console.json) {
    *console.out << ToJsonLine(all) << std::flush;
    return kExitOk;
  }
  if (all.tasks().empty()) {
    *console.out << "No tasks.\n";
  } else {
    std::vector<Task> tasks(all.tasks().begin(), all.tasks().end());
    *console.out << FormatTaskTable(tasks, console.tz);
  }
  if (!all.next_page_token().empty()) {
    *console.out << "\nMore tasks: add --page_token " << all.next_page_token()
                 << " (or use --all)\n";
  }
  *console.out << std::flush;
  return kExitOk;
}

int ListModels(const Options& options, MusicService::StubInterface& stub, const Console& console) {
  UnaryContext context(options);
  music::v1::ListModelsResponse response;
  grpc::Status status = stub.ListModels(context.get(), music::v1::ListModelsRequest(), &response);
  if (!status.ok()) return ReportRpcError(status, console);
  *console.out << (console.json ? ToJsonLine(response) : FormatModels(response)) << std::flush;
  return kExitOk;
}

// The file extension of an audio media type, for download's default file name.
std::string ExtensionOf(absl::string_view content_type) {
  if (content_type == "audio/wav" || content_type == "audio/x-wav") return ".wav";
  if (content_type == "audio/mpeg" || content_type == "audio/mp3") return ".mp3";
  if (content_type == "audio/flac") return ".flac";
  if (content_type == "audio/ogg") return ".ogg";
  if (content_type == "audio/mp4") return ".m4a";
  return ".bin";
}

// Streams GetClipAudio into a temporary file beside the target, checks the size and SHA-256
// the server announced, then renames it into place: a failed download leaves no partial file.
int Download(const Options& options, MusicService::StubInterface& stub, const Console& console) {
  music::v1::GetClipAudioRequest request;
  request.set_task_id(options.task_id);
  request.set_clip_id(options.clip);
  UnaryContext context(options);
  std::unique_ptr<grpc::ClientReaderInterface<music::v1::GetClipAudioResponse>> reader =
      stub.GetClipAudio(context.get(), request);
  music::v1::GetClipAudioResponse message;
  std::string bytes;
  std::string content_type;
  std::string sha256;
  int64_t total = -1;
  while (reader->Read(&message)) {
    if (total < 0) {
      total = message.total_size_bytes();
      content_type = message.content_type();
      sha256 = message.sha256();
    }
    if (message.offset() != static_cast<int64_t>(bytes.size())) {
      *console.err << "error: chunk at offset " << message.offset() << ", expected "
                   << bytes.size() << "\n";
      return kExitRpcError;
    }
    bytes += message.data();
  }
  grpc::Status status = reader->Finish();
  if (!status.ok()) return ReportRpcError(status, console);
  if (total != static_cast<int64_t>(bytes.size()) || Sha256Hex(bytes) != sha256) {
    *console.err << "error: the download does not match the archive's size " << total
                 << " and SHA-256 " << sha256 << "\n";
    return kExitRpcError;
  }
  std::string path = options.out;
  if (path.empty()) {
    path = absl::StrCat(options.task_id, options.clip.empty() ? "" : "-", options.clip,
                        ExtensionOf(content_type));
  }
  if (path == "-") {
    *console.out << bytes << std::flush;
    return kExitOk;
  }
  const std::string tmp = absl::StrCat(path, ".part");
  {
    std::ofstream file(tmp, std::ios::binary | std::ios::trunc);
    file.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
    file.close();
    if (!file) {
      std::remove(tmp.c_str());
      *console.err << "error: cannot write " << tmp << "\n";
      return kExitRpcError;
    }
  }
  if (std::rename(tmp.c_str(), path.c_str()) != 0) {
    std::remove(tmp.c_str());
    *console.err << "error: cannot rename " << tmp << " to " << path << "\n";
    return kExitRpcError;
  }
  if (console.json) {
    *console.out << "{\"file\":\"" << path << "\",\"size_bytes\":" << total
                 << ",\"content_type\":\"" << content_type << "\",\"sha256\":\"" << sha256
                 << "\"}\n"
                 << std::flush;
  } else {
    *console.out << "Saved " << total << " bytes (" << content_type << ", sha256 " << sha256
                 << ") to " << path << "\n"
                 << std::flush;
  }
  return kExitOk;
}

}  // namespace

int RunCommand(const Options& options, MusicService::StubInterface& stub, const Console& console) {
  switch (options.command) {
    case Command::kCreate:
      return CreateMusic(options, stub, console);
    case Command::kLyrics:
      return CreateLyrics(options, stub, console);
    case Command::kContinue:
      return ContinueClip(options, stub, console);
    case Command::kGet:
      return GetTask(options, stub, console);
    case Command::kList:
      return ListTasks(options, stub, console);
    case Command::kCancel:
      return CancelTask(options, stub, console);
    case Command::kModels:
      return ListModels(options, stub, console);
    case Command::kWatch:
      return WatchUntilDone(stub, options.task_id, options.since_version, std::nullopt,
                            WatchConfigFor(options), console);
    case Command::kDownload:
      return Download(options, stub, console);
    case Command::kCover:
    case Command::kAudioOp:
      return RunAudioOperation(options, stub, console);
    case Command::kHelp:
      break;
    // The billing commands run through RunBillingCommand (IsBillingCommand); named here so that
    // -Wswitch keeps this switch complete.
    case Command::kBillingList:
    case Command::kBillingExport:
    case Command::kBillingImportUsage:
    case Command::kBillingCheckLedger:
    case Command::kReconcile:
    // The clip commands run through RunClipCommand (IsClipCommand), balance as a billing one.
    case Command::kStems:
    case Command::kWav:
    case Command::kVideo:
    case Command::kLyricsTiming:
    case Command::kBoostStyle:
    case Command::kBalance:
      break;
  }
  *console.err << "error: no command\n";
  return kExitUsage;
}

}  // namespace music::musicctl
