#include "tools/musicctl/audio_op_commands.h"

#include <algorithm>
#include <fstream>
#include <optional>
#include <sstream>
#include <string>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "domain/clock.h"
#include "grpcpp/client_context.h"
#include "tools/musicctl/format.h"
#include "tools/musicctl/rpc_error.h"
#include "tools/musicctl/watch.h"

namespace music::musicctl {
namespace {

// Chunks of the upload stream; the server takes up to 256 KiB per message comfortably.
constexpr size_t kChunkBytes = 256 << 10;

std::optional<std::string> ReadLocalFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return std::nullopt;
  std::ostringstream contents;
  contents << in.rdbuf();
  if (in.bad()) return std::nullopt;
  return contents.str();
}

// The audio type by file extension (the server checks it starts with "audio/").
std::string ContentTypeFor(const std::string& path) {
  const std::string lower = absl::AsciiStrToLower(path);
  if (absl::EndsWith(lower, ".wav")) return "audio/wav";
  if (absl::EndsWith(lower, ".flac")) return "audio/flac";
  if (absl::EndsWith(lower, ".ogg")) return "audio/ogg";
  if (absl::EndsWith(lower, ".m4a")) return "audio/mp4";
  return "audio/mpeg";
}

std::string BaseName(const std::string& path) {
  const size_t slash = path.find_last_of('/');
  return slash == std::string::npos ? path : path.substr(slash + 1);
}

// Uploads `options.file`; the reference_audio_id, or nullopt after printing the error to
// `*exit_code`.
std::optional<std::string> Upload(const Options& options,
                                  music::v1::MusicService::StubInterface& stub,
                                  const Console& console, int* exit_code) {
  std::optional<std::string> bytes = ReadLocalFile(options.file);
  if (!bytes) {
    *console.err << "error: cannot read " << options.file << "\n";
    *exit_code = kExitUsage;
    return std::nullopt;
  }
  std::string model = options.model;
  if (model.empty()) {
    // The upload is kept by the model's provider: the server's default, as the create will use.
    grpc::ClientContext context;
    SetRpcDeadline(context, options.timeout);
    music::v1::ListModelsResponse models;
    grpc::Status status = stub.ListModels(&context, music::v1::ListModelsRequest(), &models);
    if (!status.ok()) {
      *exit_code = ReportRpcError(status, console);
      return std::nullopt;
    }
    model = models.default_model();
  }
  grpc::ClientContext context;
  SetRpcDeadline(context, options.timeout);
  music::v1::UploadReferenceAudioResponse response;
  auto writer = stub.UploadReferenceAudio(&context, &response);
  music::v1::UploadReferenceAudioRequest first;
  first.mutable_metadata()->set_model(model);
  first.mutable_metadata()->set_filename(BaseName(options.file));
  first.mutable_metadata()->set_content_type(ContentTypeFor(options.file));
  bool open = writer->Write(first);
  for (size_t at = 0; open && at < bytes->size(); at += kChunkBytes) {
    music::v1::UploadReferenceAudioRequest chunk;
    chunk.set_chunk(bytes->substr(at, std::min(kChunkBytes, bytes->size() - at)));
    open = writer->Write(chunk);
  }
  if (open) writer->WritesDone();
  grpc::Status status = writer->Finish();
  if (!status.ok()) {
    *exit_code = ReportRpcError(status, console);
    return std::nullopt;
  }
  if (!console.json) {
    *console.out << "Uploaded " << options.file << " (" << response.size_bytes() << " bytes) to "
                 << response.provider() << " as " << response.reference_audio_id() << "\n"
                 << std::flush;
  }
  return response.reference_audio_id();
}

}  // namespace

int RunAudioOperation(const Options& options, music::v1::MusicService::StubInterface& stub,
                      const Console& console) {
  music::v1::CreateAudioOperationRequest request;
  request.set_request_id(options.request_id);
  request.set_model(options.model);
  request.set_operation(options.audio_operation);
  request.set_reference_audio_uri(options.reference_audio_uri);
  request.set_reference_audio_id(options.reference_audio_id);
  if (!options.file.empty()) {
    int exit_code = kExitOk;
    std::optional<std::string> id = Upload(options, stub, console, &exit_code);
    if (!id) return exit_code;
    request.set_reference_audio_id(*id);
  }
  request.set_prompt(options.prompt);
  request.set_style(options.style);
  request.set_title(options.title);
  request.set_instrumental(options.instrumental);
  request.set_negative_tags(options.negative_tags);
  request.set_continue_at_seconds(options.continue_at_seconds);

  grpc::ClientContext context;
  SetRpcDeadline(context, options.timeout);
  music::v1::CreateAudioOperationResponse response;
  grpc::Status status = stub.CreateAudioOperation(&context, request, &response);
  if (!status.ok()) return ReportRpcError(status, console);
  const music::v1::Task& task = response.task();
  if (console.json) {
    *console.out << ToJsonLine(response) << std::flush;
  } else {
    *console.out << "Created " << music::v1::AudioOperation_Name(options.audio_operation)
                 << " task " << task.task_id()
                 << "; watching it (Ctrl-C stops watching, not the task)\n"
                 << FormatWatchLine(task, music::RealClock::Get()->Now(), console.tz) << "\n"
                 << std::flush;
  }
  WatchConfig config;
  config.timeout = options.watch_timeout;
  config.rpc_timeout = options.timeout;
  return WatchUntilDone(stub, task.task_id(), task.version(), task, config, console);
}

}  // namespace music::musicctl
