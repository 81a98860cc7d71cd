// musicctl against an in-process fake MusicService: the built binary runs with popen and its
// output and exit code are checked. Also unit tests of the argument parser and the formatting.

#include <sys/wait.h>

#include <cstdio>
#include <functional>
#include <fstream>
#include <sstream>
#include <map>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "absl/synchronization/mutex.h"
#include "domain/clock.h"
#include "domain/sha256.h"
#include "gmock/gmock.h"
#include "google/protobuf/util/json_util.h"
#include "google/rpc/error_details.pb.h"
#include "google/rpc/status.pb.h"
#include "grpcpp/grpcpp.h"
#include "gtest/gtest.h"
#include "music/v1/music_service.grpc.pb.h"
#include "tools/musicctl/format.h"
#include "tools/musicctl/options.h"
#include "tools/musicctl/rpc_error.h"

namespace music::musicctl {
namespace {

using music::v1::Task;
using music::v1::WatchTaskResponse;
using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::Not;

Task MakeTask(const std::string& id, int64_t version, music::v1::TaskState state) {
  Task task;
  task.set_task_id(id);
  task.set_kind(music::v1::TASK_KIND_MUSIC);
  task.set_model("suno-v4.5");
  task.set_provider("kie");
  task.set_version(version);
  task.set_state(state);
  task.mutable_input()->set_prompt("a calm song");
  task.mutable_create_time()->set_seconds(1700000000);
  task.mutable_update_time()->set_seconds(1700000000 + version);
  return task;
}

music::v1::Clip* AddClip(Task* task, const std::string& id, bool audio) {
  music::v1::Clip* clip = task->add_clips();
  clip->set_clip_id(id);
  clip->set_title(absl::StrCat("Song ", id));
  clip->set_duration_seconds(181.5);
  clip->set_stream_audio_url(absl::StrCat("https://cdn.example/stream/", id));
  clip->set_image_url(absl::StrCat("https://cdn.example/img/", id, ".jpg"));
  if (audio) clip->set_audio_url(absl::StrCat("https://cdn.example/audio/", id, ".mp3"));
  return clip;
}

WatchTaskResponse TaskEvent(Task task) {
  WatchTaskResponse event;
  *event.mutable_task() = std::move(task);
  return event;
}

WatchTaskResponse HeartbeatEvent(int64_t version) {
  WatchTaskResponse event;
  event.mutable_heartbeat()->set_version(version);
  event.mutable_heartbeat()->mutable_time()->set_seconds(1700000100);
  return event;
}

/// One WatchTask stream: the events, then the status it ends with.
struct Stream {
  std::vector<WatchTaskResponse> events;
  grpc::Status end = grpc::Status::OK;
};

/// Writes GetClipAudio messages one at a time, then the status.
class AudioWriter : public grpc::ServerWriteReactor<music::v1::GetClipAudioResponse> {
 public:
  AudioWriter(std::vector<music::v1::GetClipAudioResponse> messages, grpc::Status end)
      : messages_(std::move(messages)), end_(std::move(end)) {
    Next();
  }
  void OnWriteDone(bool ok) override {
    if (!ok) {
      Finish(grpc::Status(grpc::StatusCode::CANCELLED, "write failed"));
      return;
    }
    Next();
  }
  void OnDone() override { delete this; }

 private:
  void Next() {
    if (next_ < messages_.size()) {
      StartWrite(&messages_[next_++]);
    } else {
      Finish(end_);
    }
  }
  std::vector<music::v1::GetClipAudioResponse> messages_;
  grpc::Status end_;
  size_t next_ = 0;
};

/// Writes a scripted stream one message at a time (route_guide's callback-server shape).
class ScriptedWriter : public grpc::ServerWriteReactor<WatchTaskResponse> {
 public:
  ScriptedWriter(std::vector<WatchTaskResponse> events, grpc::Status end)
      : events_(std::move(events)), end_(std::move(end)) {
    Next();
  }
  void OnWriteDone(bool ok) override {
    if (!ok) {
      Finish(grpc::Status(grpc::StatusCode::CANCELLED, "write failed"));
      return;
    }
    Next();
  }
  void OnDone() override { delete this; }

 private:
  void Next() {
    if (next_ < events_.size()) {
      StartWrite(&events_[next_++]);
    } else {
      Finish(end_);
    }
  }
  std::vector<WatchTaskResponse> events_;
  grpc::Status end_;
  size_t next_ = 0;
};

/// The tag the fake answers in its ids: musicctl passes the id on as it is (it is opaque).
constexpr char kFakeTag[] = "AAAAAAAAAAAAAAAAAAAAAA";

/// Reads an UploadReferenceAudio stream: the metadata, then the bytes; answers an id of the form
/// the server issues, "kie/<tag>/<file name>".
class UploadReader : public grpc::ServerReadReactor<music::v1::UploadReferenceAudioRequest> {
 public:
  UploadReader(music::v1::UploadReferenceAudioResponse* response,
               std::function<void(const music::v1::ReferenceAudioMetadata&, const std::string&)>
                   done)
      : response_(response), done_(std::move(done)) {
    StartRead(&message_);
  }
  void OnReadDone(bool ok) override {
    if (!ok) {
      done_(metadata_, bytes_);
      response_->set_reference_audio_id(absl::StrCat("kie/", kFakeTag, "/", metadata_.filename()));
      response_->set_provider("kie");
      response_->set_size_bytes(static_cast<int64_t>(bytes_.size()));
      Finish(grpc::Status::OK);
      return;
    }
    if (message_.has_metadata()) metadata_ = message_.metadata();
    bytes_ += message_.chunk();
    StartRead(&message_);
  }
  void OnDone() override { delete this; }

 private:
  music::v1::UploadReferenceAudioResponse* response_;
  std::function<void(const music::v1::ReferenceAudioMetadata&, const std::string&)> done_;
  music::v1::UploadReferenceAudioRequest message_;
  music::v1::ReferenceAudioMetadata metadata_;
  std::string bytes_;
};

/// A MusicService with scripted answers:
/// - CreateMusic: prompt "bad" is INVALID_ARGUMENT with BadRequest + ErrorInfo; prompt "fail"
///   creates "task-fail"; anything else creates "task-ok".
/// - WatchTask: "task-ok" runs v2..v4 to SUCCEEDED (with a heartbeat); "task-fail" ends FAILED;
///   "task-flaky" ends its first stream with UNAVAILABLE after v2, the second runs to SUCCEEDED.
/// - ListTasks: two pages ("" then "page-2").
class FakeMusicService final : public music::v1::MusicService::CallbackService {
 public:
  FakeMusicService() {
    Task ok2 = MakeTask("task-ok", 2, music::v1::TASK_STATE_RUNNING);
    ok2.mutable_progress()->set_provider_status("TEXT_SUCCESS");
    ok2.mutable_progress()->set_lyrics_ready(true);
    Task ok3 = ok2;
    ok3.set_version(3);
    ok3.mutable_progress()->set_provider_status("FIRST_SUCCESS");
    ok3.mutable_progress()->set_first_clip_ready(true);
    AddClip(&ok3, "clip-a", false);
    Task ok4 = MakeTask("task-ok", 4, music::v1::TASK_STATE_SUCCEEDED);
    *ok4.mutable_progress() = ok3.progress();
    ok4.mutable_progress()->set_provider_status("SUCCESS");
    AddClip(&ok4, "clip-a", true);
    AddClip(&ok4, "clip-b", true);
    ok4.mutable_end_time()->set_seconds(1700000004);
    tasks_["task-ok"] = ok4;
    streams_["task-ok"] = {
        {{TaskEvent(ok2), HeartbeatEvent(2), TaskEvent(ok3), TaskEvent(ok4)}, grpc::Status::OK}};

    Task fail2 = MakeTask("task-fail", 2, music::v1::TASK_STATE_RUNNING);
    Task fail3 = MakeTask("task-fail", 3, music::v1::TASK_STATE_FAILED);
    fail3.mutable_progress()->set_provider_status("SENSITIVE_WORD_ERROR");
    music::v1::TaskError* error = fail3.mutable_error();
    error->set_code(9);
    error->set_message("the provider rejected the lyrics");
    error->set_provider_status("SENSITIVE_WORD_ERROR");
    error->set_provider_error_code("400");
    tasks_["task-fail"] = fail3;
    streams_["task-fail"] = {{{TaskEvent(fail2), TaskEvent(fail3)}, grpc::Status::OK}};

    Task flaky1 = MakeTask("task-flaky", 1, music::v1::TASK_STATE_PENDING);
    Task flaky2 = MakeTask("task-flaky", 2, music::v1::TASK_STATE_RUNNING);
    Task flaky3 = MakeTask("task-flaky", 3, music::v1::TASK_STATE_SUCCEEDED);
    AddClip(&flaky3, "clip-z", true);
    tasks_["task-flaky"] = flaky3;
    std::vector<WatchTaskResponse> all = {TaskEvent(flaky1), TaskEvent(flaky2), TaskEvent(flaky3)};
    streams_["task-flaky"] = {{{TaskEvent(flaky1), TaskEvent(flaky2)},
                               grpc::Status(grpc::StatusCode::UNAVAILABLE, "server shutting down")},
                              {all, grpc::Status::OK}};
  }

  grpc::ServerUnaryReactor* CreateMusic(grpc::CallbackServerContext* context,
                                        const music::v1::CreateMusicRequest* request,
                                        music::v1::CreateMusicResponse* response) override {
    grpc::ServerUnaryReactor* reactor = context->DefaultReactor();
    {
      absl::MutexLock lock(&mu_);
      create_requests_.push_back(*request);
    }
    if (request->prompt() == "bad") {
      reactor->Finish(BadRequest());
      return reactor;
    }
    std::string id = request->prompt() == "fail" ? "task-fail" : "task-ok";
    *response->mutable_task() = MakeTask(id, 1, music::v1::TASK_STATE_PENDING);
    response->mutable_task()->set_request_id(request->request_id());
    reactor->Finish(grpc::Status::OK);
    return reactor;
  }

  /// UploadReferenceAudio: records the metadata and bytes, answers "kie/<tag>/<file name>".
  grpc::ServerReadReactor<music::v1::UploadReferenceAudioRequest>* UploadReferenceAudio(
      grpc::CallbackServerContext* context,
      music::v1::UploadReferenceAudioResponse* response) override {
    return new UploadReader(response, [this](const music::v1::ReferenceAudioMetadata& metadata,
                                             const std::string& bytes) {
      absl::MutexLock lock(&mu_);
      uploads_.emplace_back(metadata, bytes);
    });
  }

  /// CreateAudioOperation: records the request and creates "task-ok".
  grpc::ServerUnaryReactor* CreateAudioOperation(
      grpc::CallbackServerContext* context, const music::v1::CreateAudioOperationRequest* request,
      music::v1::CreateAudioOperationResponse* response) override {
    grpc::ServerUnaryReactor* reactor = context->DefaultReactor();
    {
      absl::MutexLock lock(&mu_);
      audio_op_requests_.push_back(*request);
    }
    *response->mutable_task() = MakeTask("task-ok", 1, music::v1::TASK_STATE_PENDING);
    response->mutable_task()->set_kind(music::v1::TASK_KIND_AUDIO_OPERATION);
    reactor->Finish(grpc::Status::OK);
    return reactor;
  }

  std::vector<std::pair<music::v1::ReferenceAudioMetadata, std::string>> Uploads() {
    absl::MutexLock lock(&mu_);
    return uploads_;
  }
  std::vector<music::v1::CreateAudioOperationRequest> AudioOpRequests() {
    absl::MutexLock lock(&mu_);
    return audio_op_requests_;
  }

  grpc::ServerUnaryReactor* GetTask(grpc::CallbackServerContext* context,
                                    const music::v1::GetTaskRequest* request,
                                    music::v1::GetTaskResponse* response) override {
    grpc::ServerUnaryReactor* reactor = context->DefaultReactor();
    auto it = tasks_.find(request->task_id());
    if (it == tasks_.end()) {
      reactor->Finish(grpc::Status(grpc::StatusCode::NOT_FOUND, "no such task"));
      return reactor;
    }
    *response->mutable_task() = it->second;
    reactor->Finish(grpc::Status::OK);
    return reactor;
  }

  grpc::ServerUnaryReactor* ListTasks(grpc::CallbackServerContext* context,
                                      const music::v1::ListTasksRequest* request,
                                      music::v1::ListTasksResponse* response) override {
    grpc::ServerUnaryReactor* reactor = context->DefaultReactor();
    {
      absl::MutexLock lock(&mu_);
      page_tokens_.push_back(request->page_token());
    }
    if (request->page_token().empty()) {
      *response->add_tasks() = tasks_["task-ok"];
      *response->add_tasks() = tasks_["task-fail"];
      response->set_next_page_token("page-2");
    } else if (request->page_token() == "page-2") {
      *response->add_tasks() = tasks_["task-flaky"];
    } else {
      reactor->Finish(grpc::Status(grpc::StatusCode::INVALID_ARGUMENT, "bad page token"));
      return reactor;
    }
    reactor->Finish(grpc::Status::OK);
    return reactor;
  }

  grpc::ServerWriteReactor<WatchTaskResponse>* WatchTask(
      grpc::CallbackServerContext* context, const music::v1::WatchTaskRequest* request) override {
    int call;
    {
      absl::MutexLock lock(&mu_);
      call = watch_calls_[request->task_id()]++;
      watch_since_[request->task_id()].push_back(request->since_version());
    }
    auto it = streams_.find(request->task_id());
    if (it == streams_.end()) {
      return new ScriptedWriter({}, grpc::Status(grpc::StatusCode::NOT_FOUND, "no such task"));
    }
    const Stream& stream = it->second[std::min<size_t>(call, it->second.size() - 1)];
    std::vector<WatchTaskResponse> events;
    for (const WatchTaskResponse& event : stream.events) {
      if (event.has_task() && event.task().version() <= request->since_version()) continue;
      events.push_back(event);
    }
    return new ScriptedWriter(std::move(events), stream.end);
  }

  /// GetClipAudio: "task-ok" streams kAudio in two chunks with its SHA-256; "task-corrupt"
  /// announces a checksum the bytes do not have; anything else is NOT_FOUND.
  grpc::ServerWriteReactor<music::v1::GetClipAudioResponse>* GetClipAudio(
      grpc::CallbackServerContext* context,
      const music::v1::GetClipAudioRequest* request) override {
    std::vector<music::v1::GetClipAudioResponse> messages(2);
    messages[0].set_content_type("audio/wav");
    messages[0].set_total_size_bytes(static_cast<int64_t>(kAudio.size()));
    messages[0].set_sha256(request->task_id() == "task-corrupt"
                               ? std::string(64, '0')
                               : music::domain::Sha256Hex(kAudio));
    messages[0].set_data(kAudio.substr(0, 5));
    messages[1].set_offset(5);
    messages[1].set_data(kAudio.substr(5));
    if (request->task_id() != "task-ok" && request->task_id() != "task-corrupt") {
      return new AudioWriter({}, grpc::Status(grpc::StatusCode::NOT_FOUND, "no such task"));
    }
    return new AudioWriter(std::move(messages), grpc::Status::OK);
  }
  static inline const std::string kAudio = "RIFF....WAVEfmt audio bytes";

  /// The since_version of every WatchTask call for `task_id`, in order.
  std::vector<int64_t> WatchSince(const std::string& task_id) {
    absl::MutexLock lock(&mu_);
    return watch_since_[task_id];
  }
  std::vector<std::string> PageTokens() {
    absl::MutexLock lock(&mu_);
    return page_tokens_;
  }
  std::vector<music::v1::CreateMusicRequest> CreateRequests() {
    absl::MutexLock lock(&mu_);
    return create_requests_;
  }

 private:
  static grpc::Status BadRequest() {
    google::rpc::BadRequest bad_request;
    auto* violation = bad_request.add_field_violations();
    violation->set_field("prompt");
    violation->set_description("must not be \"bad\"");
    google::rpc::ErrorInfo info;
    info.set_reason("INVALID_PROMPT");
    info.set_domain("music.v1");
    (*info.mutable_metadata())["max_chars"] = "500";
    google::rpc::Status details;
    details.set_code(grpc::StatusCode::INVALID_ARGUMENT);
    details.set_message("prompt is invalid");
    details.add_details()->PackFrom(bad_request);
    details.add_details()->PackFrom(info);
    return grpc::Status(grpc::StatusCode::INVALID_ARGUMENT, "prompt is invalid",
                        details.SerializeAsString());
  }

  // Read-only after construction.
  std::map<std::string, Task> tasks_;
  std::map<std::string, std::vector<Stream>> streams_;

  absl::Mutex mu_;
  std::map<std::string, int> watch_calls_ ABSL_GUARDED_BY(mu_);
  std::map<std::string, std::vector<int64_t>> watch_since_ ABSL_GUARDED_BY(mu_);
  std::vector<std::string> page_tokens_ ABSL_GUARDED_BY(mu_);
  std::vector<music::v1::CreateMusicRequest> create_requests_ ABSL_GUARDED_BY(mu_);
  std::vector<std::pair<music::v1::ReferenceAudioMetadata, std::string>> uploads_
      ABSL_GUARDED_BY(mu_);
  std::vector<music::v1::CreateAudioOperationRequest> audio_op_requests_ ABSL_GUARDED_BY(mu_);
};

/// What a musicctl run printed (stdout and stderr together) and its exit code.
struct RunResult {
  std::string output;
  int exit_code = -1;
};

std::string Quote(const std::string& arg) {
  std::string quoted = "'";
  for (char c : arg) {
    if (c == '\'') {
      quoted += "'\\''";
    } else {
      quoted += c;
    }
  }
  return quoted + "'";
}

class MusicctlTest : public ::testing::Test {
 protected:
  void SetUp() override {
    grpc::ServerBuilder builder;
    int port = 0;
    builder.AddListeningPort("127.0.0.1:0", grpc::InsecureServerCredentials(), &port);
    builder.RegisterService(&service_);
    server_ = builder.BuildAndStart();
    ASSERT_NE(server_, nullptr);
    ASSERT_GT(port, 0);
    address_ = absl::StrCat("127.0.0.1:", port);
  }
  void TearDown() override { server_->Shutdown(); }

  /// Runs musicctl with `args` plus --server; `env` is prepended to the command line.
  RunResult Musicctl(const std::vector<std::string>& args, const std::string& env = "",
                     bool with_server = true) {
    std::vector<std::string> quoted;
    quoted.reserve(args.size());
    for (const std::string& arg : args) quoted.push_back(Quote(arg));
    std::string command =
        absl::StrCat(env, env.empty() ? "" : " ", MUSICCTL_PATH, " ", absl::StrJoin(quoted, " "));
    if (with_server) absl::StrAppend(&command, " --server ", address_);
    absl::StrAppend(&command, " 2>&1");
    RunResult run;
    FILE* pipe = popen(command.c_str(), "r");
    if (pipe == nullptr) {
      ADD_FAILURE() << "popen failed: " << command;
      return run;
    }
    char buffer[4096];
    size_t n;
    while ((n = fread(buffer, 1, sizeof(buffer), pipe)) > 0) run.output.append(buffer, n);
    int status = pclose(pipe);
    run.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
    return run;
  }

  FakeMusicService service_;
  std::unique_ptr<grpc::Server> server_;
  std::string address_;
};

std::vector<std::string> Lines(const std::string& text) {
  return absl::StrSplit(text, '\n', absl::SkipEmpty());
}

int CountLinesWith(const std::string& text, const std::string& needle) {
  int count = 0;
  for (const std::string& line : Lines(text)) count += line.find(needle) != std::string::npos;
  return count;
}

TEST_F(MusicctlTest, CreateWatchPrintsEachVersionThenTheClips) {
  RunResult run = Musicctl({"create", "--prompt", "a calm song", "--request_id", "r-1", "--watch"});
  EXPECT_EQ(run.exit_code, kExitOk) << run.output;
  EXPECT_THAT(run.output, HasSubstr("Created MUSIC task task-ok"));
  // One line per version, in order.
  for (const char* version : {"v1 ", "v2 ", "v3 ", "v4 "}) {
    EXPECT_EQ(CountLinesWith(run.output, version), 1) << version << "\n" << run.output;
  }
  EXPECT_LT(run.output.find("v1 "), run.output.find("v2 "));
  EXPECT_LT(run.output.find("v3 "), run.output.find("v4 "));
  EXPECT_THAT(run.output, HasSubstr("TEXT_SUCCESS"));
  EXPECT_THAT(run.output, HasSubstr("FIRST_SUCCESS"));
  EXPECT_THAT(run.output, Not(HasSubstr("heartbeat")));
  // The final task in full.
  EXPECT_THAT(run.output, HasSubstr("State         SUCCEEDED"));
  EXPECT_THAT(run.output, HasSubstr("Clips         2"));
  EXPECT_THAT(run.output, HasSubstr("clip-a  \"Song clip-a\"  181.5 s (3:02)"));
  EXPECT_THAT(run.output, HasSubstr("audio   https://cdn.example/audio/clip-b.mp3"));
  EXPECT_THAT(run.output, HasSubstr("stream  https://cdn.example/stream/clip-b"));
  EXPECT_THAT(run.output, HasSubstr("image   https://cdn.example/img/clip-b.jpg"));

  std::vector<music::v1::CreateMusicRequest> requests = service_.CreateRequests();
  ASSERT_EQ(requests.size(), 1u);
  EXPECT_EQ(requests[0].prompt(), "a calm song");
  EXPECT_EQ(requests[0].request_id(), "r-1");
  // The watch resumed after the version CreateMusic returned.
  EXPECT_THAT(service_.WatchSince("task-ok"), ElementsAre(1));
}

// `musicctl cover FILE`: the file is uploaded (its name, type and bytes), the cover created with
// the returned id, and its progress streamed to the clips.
TEST_F(MusicctlTest, CoverUploadsTheFileCreatesTheCoverAndWatchesIt) {
  const std::string path = ::testing::TempDir() + "/my song.wav";
  const std::string bytes(300 << 10, 'x');  // two upload chunks
  {
    std::ofstream out(path, std::ios::binary);
    out << bytes;
  }
  RunResult run = Musicctl({"cover", path, "--model", "suno-v4.5", "--style", "jazz", "--title",
                            "Mine", "--instrumental"});
  EXPECT_EQ(run.exit_code, kExitOk) << run.output;
  EXPECT_THAT(run.output, HasSubstr(absl::StrCat("as kie/", kFakeTag, "/my song.wav")));
  EXPECT_THAT(run.output, HasSubstr("Created AUDIO_OPERATION_COVER task task-ok"));
  EXPECT_THAT(run.output, HasSubstr("clip-b"));
  const auto uploads = service_.Uploads();
  ASSERT_EQ(uploads.size(), 1u);
  EXPECT_EQ(uploads[0].first.model(), "suno-v4.5");
  EXPECT_EQ(uploads[0].first.filename(), "my song.wav");
  EXPECT_EQ(uploads[0].first.content_type(), "audio/wav");
  EXPECT_EQ(uploads[0].second, bytes);
  const auto requests = service_.AudioOpRequests();
  ASSERT_EQ(requests.size(), 1u);
  EXPECT_EQ(requests[0].operation(), music::v1::AUDIO_OPERATION_COVER);
  EXPECT_EQ(requests[0].reference_audio_id(), absl::StrCat("kie/", kFakeTag, "/my song.wav"));
  EXPECT_EQ(requests[0].style(), "jazz");
  EXPECT_EQ(requests[0].title(), "Mine");
  EXPECT_TRUE(requests[0].instrumental());
}

TEST_F(MusicctlTest, AudioOpTakesTheOperationAndAnUrlWithoutUploading) {
  RunResult run = Musicctl({"audio-op", "extend", "--reference_audio_uri",
                            "https://example.com/a.mp3", "--continue_at", "12.5", "--prompt", "p",
                            "--style", "s", "--title", "t"});
  EXPECT_EQ(run.exit_code, kExitOk) << run.output;
  EXPECT_TRUE(service_.Uploads().empty());
  const auto requests = service_.AudioOpRequests();
  ASSERT_EQ(requests.size(), 1u);
  EXPECT_EQ(requests[0].operation(), music::v1::AUDIO_OPERATION_EXTEND);
  EXPECT_EQ(requests[0].reference_audio_uri(), "https://example.com/a.mp3");
  EXPECT_DOUBLE_EQ(requests[0].continue_at_seconds(), 12.5);

  EXPECT_EQ(Musicctl({"audio-op", "remix", "--reference_audio_id", "kie/x"}).exit_code,
            kExitUsage);
  EXPECT_EQ(Musicctl({"cover", "--style", "s"}).exit_code, kExitUsage);  // no audio
  EXPECT_EQ(Musicctl({"cover", "/nonexistent/file.mp3", "--style", "s", "--title", "t"}).exit_code,
            kExitUsage);
}

TEST_F(MusicctlTest, VerboseWatchShowsHeartbeats) {
  RunResult run = Musicctl({"watch", "task-ok", "--verbose"});
  EXPECT_EQ(run.exit_code, kExitOk) << run.output;
  EXPECT_EQ(CountLinesWith(run.output, "heartbeat"), 1) << run.output;
  EXPECT_THAT(service_.WatchSince("task-ok"), ElementsAre(0));
}

TEST_F(MusicctlTest, FailedTaskExitsTwoAndPrintsTheError) {
  RunResult run = Musicctl({"create", "--prompt", "fail", "--watch"});
  EXPECT_EQ(run.exit_code, kExitTaskFailed) << run.output;
  EXPECT_THAT(run.output, HasSubstr("State         FAILED"));
  EXPECT_THAT(run.output,
              HasSubstr("Error         FAILED_PRECONDITION: the provider rejected the lyrics "
                        "(provider status SENSITIVE_WORD_ERROR, provider code 400)"));
}

TEST_F(MusicctlTest, InvalidArgumentPrintsFieldViolationsAndErrorInfo) {
  RunResult run = Musicctl({"create", "--prompt", "bad"});
  EXPECT_EQ(run.exit_code, kExitRpcError) << run.output;
  EXPECT_THAT(run.output, HasSubstr("error: INVALID_ARGUMENT: prompt is invalid"));
  EXPECT_THAT(run.output, HasSubstr("field prompt: must not be \"bad\""));
  EXPECT_THAT(run.output, HasSubstr("reason INVALID_PROMPT (domain music.v1) max_chars=500"));
}

TEST_F(MusicctlTest, ListAllFollowsNextPageToken) {
  RunResult run = Musicctl({"list", "--all"});
  EXPECT_EQ(run.exit_code, kExitOk) << run.output;
  EXPECT_THAT(run.output, HasSubstr("TASK ID"));
  EXPECT_THAT(run.output, HasSubstr("task-ok"));
  EXPECT_THAT(run.output, HasSubstr("task-fail"));
  EXPECT_THAT(run.output, HasSubstr("task-flaky"));
  EXPECT_THAT(run.output, Not(HasSubstr("--page_token")));
  EXPECT_THAT(service_.PageTokens(), ElementsAre("", "page-2"));
}

TEST_F(MusicctlTest, ListWithoutAllShowsOnePageAndTheNextToken) {
  RunResult run = Musicctl({"list", "--state", "succeeded"});
  EXPECT_EQ(run.exit_code, kExitOk) << run.output;
  EXPECT_THAT(run.output, HasSubstr("task-ok"));
  EXPECT_THAT(run.output, Not(HasSubstr("task-flaky")));
  EXPECT_THAT(run.output, HasSubstr("--page_token page-2"));
  EXPECT_THAT(service_.PageTokens(), ElementsAre(""));
}

TEST_F(MusicctlTest, WatchReconnectsAfterUnavailableFromTheLastVersion) {
  RunResult run = Musicctl({"watch", "task-flaky"});
  EXPECT_EQ(run.exit_code, kExitOk) << run.output;
  EXPECT_THAT(run.output, HasSubstr("UNAVAILABLE: server shutting down"));
  EXPECT_THAT(run.output, HasSubstr("reconnected, resuming after version 2"));
  for (const char* version : {"v1 ", "v2 ", "v3 "}) {
    EXPECT_EQ(CountLinesWith(run.output, version), 1) << version << "\n" << run.output;
  }
  EXPECT_THAT(run.output, HasSubstr("State         SUCCEEDED"));
  EXPECT_THAT(service_.WatchSince("task-flaky"), ElementsAre(0, 2));
}

TEST_F(MusicctlTest, GetUsesMusicServerFromTheEnvironment) {
  RunResult run = Musicctl({"get", "task-ok"}, absl::StrCat("MUSIC_SERVER=", address_),
                           /*with_server=*/false);
  EXPECT_EQ(run.exit_code, kExitOk) << run.output;
  EXPECT_THAT(run.output, HasSubstr("Task          task-ok"));
  EXPECT_THAT(run.output, HasSubstr("State         SUCCEEDED"));
}

TEST_F(MusicctlTest, DownloadSavesTheArchivedAudioAfterCheckingItsChecksum) {
  const std::string out = ::testing::TempDir() + "/musicctl-download.wav";
  std::remove(out.c_str());
  RunResult run = Musicctl({"download", "task-ok", "--out", out});
  ASSERT_EQ(run.exit_code, kExitOk) << run.output;
  EXPECT_THAT(run.output, HasSubstr("Saved 27 bytes (audio/wav, sha256 "));
  std::ifstream in(out, std::ios::binary);
  std::stringstream bytes;
  bytes << in.rdbuf();
  EXPECT_EQ(bytes.str(), FakeMusicService::kAudio);
}

TEST_F(MusicctlTest, DownloadWithAWrongChecksumFailsAndLeavesNoFile) {
  const std::string out = ::testing::TempDir() + "/musicctl-corrupt.wav";
  std::remove(out.c_str());
  RunResult run = Musicctl({"download", "task-corrupt", "--out", out});
  EXPECT_EQ(run.exit_code, kExitRpcError) << run.output;
  EXPECT_THAT(run.output, HasSubstr("does not match"));
  EXPECT_FALSE(std::ifstream(out).good());
  EXPECT_FALSE(std::ifstream(out + ".part").good());

  run = Musicctl({"download", "nope", "--out", out});
  EXPECT_EQ(run.exit_code, kExitRpcError) << run.output;
  EXPECT_THAT(run.output, HasSubstr("NOT_FOUND"));
  EXPECT_EQ(Musicctl({"download"}).exit_code, kExitUsage);
}

TEST_F(MusicctlTest, GetUnknownTaskIsAnRpcError) {
  RunResult run = Musicctl({"get", "nope"});
  EXPECT_EQ(run.exit_code, kExitRpcError) << run.output;
  EXPECT_THAT(run.output, HasSubstr("error: NOT_FOUND: no such task"));
}

TEST_F(MusicctlTest, JsonPrintsTheProtoMessage) {
  RunResult run = Musicctl({"get", "task-ok", "--json"});
  ASSERT_EQ(run.exit_code, kExitOk) << run.output;
  music::v1::GetTaskResponse response;
  ASSERT_TRUE(google::protobuf::util::JsonStringToMessage(run.output, &response).ok())
      << run.output;
  EXPECT_EQ(response.task().task_id(), "task-ok");
  EXPECT_EQ(response.task().clips_size(), 2);
}

TEST_F(MusicctlTest, JsonWatchPrintsOneMessagePerLine) {
  RunResult run = Musicctl({"create", "--prompt", "x", "--watch", "--json"});
  ASSERT_EQ(run.exit_code, kExitOk) << run.output;
  std::vector<std::string> lines = Lines(run.output);
  ASSERT_EQ(lines.size(), 4u) << run.output;  // CreateMusicResponse, then v2, v3, v4.
  music::v1::CreateMusicResponse created;
  ASSERT_TRUE(google::protobuf::util::JsonStringToMessage(lines[0], &created).ok());
  EXPECT_EQ(created.task().version(), 1);
  WatchTaskResponse last;
  ASSERT_TRUE(google::protobuf::util::JsonStringToMessage(lines[3], &last).ok());
  EXPECT_EQ(last.task().state(), music::v1::TASK_STATE_SUCCEEDED);
}

TEST_F(MusicctlTest, UsageErrorsExit64) {
  EXPECT_EQ(Musicctl({}).exit_code, kExitUsage);
  EXPECT_EQ(Musicctl({"create"}).exit_code, kExitUsage);
  EXPECT_EQ(Musicctl({"create", "--prompt", "x", "--bogus"}).exit_code, kExitUsage);
  EXPECT_EQ(Musicctl({"get"}).exit_code, kExitUsage);
  EXPECT_EQ(Musicctl({"frobnicate"}).exit_code, kExitUsage);
  RunResult run = Musicctl({"list", "--page_size", "many"});
  EXPECT_EQ(run.exit_code, kExitUsage);
  EXPECT_THAT(run.output, HasSubstr("--page_size=many"));
  EXPECT_THAT(run.output, HasSubstr("Usage: musicctl COMMAND"));
  // Nothing reached the server.
  EXPECT_TRUE(service_.CreateRequests().empty());
}

TEST_F(MusicctlTest, WatchGivesUpAfterWatchTimeout) {
  RunResult run = Musicctl({"watch", "task-ok", "--server", "127.0.0.1:1", "--watch_timeout", "1"},
                           "", /*with_server=*/false);
  EXPECT_EQ(run.exit_code, kExitRpcError) << run.output;
  EXPECT_THAT(run.output, HasSubstr("watch timed out after 1.0 s"));
}

// Unit tests of musicctl_lib.

std::optional<std::string> NoEnv(absl::string_view) { return std::nullopt; }

TEST(ParseArgsTest, CreateFlagsInEveryForm) {
  absl::StatusOr<Options> options =
      ParseArgs({"create", "--prompt=a song", "--style", "folk", "-title", "T", "--instrumental",
                 "--watch", "--nowatch", "--timeout", "2.5", "--watch_timeout=1m"},
                &NoEnv);
  ASSERT_TRUE(options.ok()) << options.status();
  EXPECT_EQ(options->command, Command::kCreate);
  EXPECT_EQ(options->prompt, "a song");
  EXPECT_EQ(options->style, "folk");
  EXPECT_EQ(options->title, "T");
  EXPECT_TRUE(options->instrumental);
  EXPECT_FALSE(options->watch);
  EXPECT_EQ(options->timeout, absl::Milliseconds(2500));
  EXPECT_EQ(options->watch_timeout, absl::Minutes(1));
  EXPECT_EQ(options->server, kDefaultServer);
}

TEST(ParseArgsTest, ServerFromEnvironmentThenFlag) {
  auto env = [](absl::string_view name) -> std::optional<std::string> {
    if (name == "MUSIC_SERVER") return "music:443";
    return std::nullopt;
  };
  EXPECT_EQ(ParseArgs({"models"}, env)->server, "music:443");
  EXPECT_EQ(ParseArgs({"models", "--server", "x:1"}, env)->server, "x:1");
}

TEST(ParseArgsTest, TaskIdAndListFilters) {
  absl::StatusOr<Options> watch = ParseArgs({"watch", "--since_version", "7", "t-1"}, &NoEnv);
  ASSERT_TRUE(watch.ok()) << watch.status();
  EXPECT_EQ(watch->task_id, "t-1");
  EXPECT_EQ(watch->since_version, 7);

  absl::StatusOr<Options> list = ParseArgs(
      {"list", "--state", "FAILED", "--kind=lyrics", "--page_size", "5", "--all"}, &NoEnv);
  ASSERT_TRUE(list.ok()) << list.status();
  EXPECT_EQ(list->state, music::v1::TASK_STATE_FAILED);
  EXPECT_EQ(list->kind, music::v1::TASK_KIND_LYRICS);
  EXPECT_EQ(list->page_size, 5);
  EXPECT_TRUE(list->all);
}

// ContinueClipRequest.lyrics (CONTINUATION_STYLE_DESCRIPTION_OR_LYRICS models).
TEST(ParseArgsTest, ContinueTakesLyrics) {
  absl::StatusOr<Options> cont =
      ParseArgs({"continue", "--clip_id", "c-1", "--lyrics", "[Verse] snow"}, &NoEnv);
  ASSERT_TRUE(cont.ok()) << cont.status();
  EXPECT_EQ(cont->command, Command::kContinue);
  EXPECT_EQ(cont->clip_id, "c-1");
  EXPECT_EQ(cont->lyrics, "[Verse] snow");
  EXPECT_DOUBLE_EQ(cont->continue_at_seconds, 0);
}

TEST(ParseArgsTest, UsageErrors) {
  EXPECT_FALSE(ParseArgs({}, &NoEnv).ok());
  EXPECT_FALSE(ParseArgs({"get", "a", "b"}, &NoEnv).ok());
  EXPECT_FALSE(ParseArgs({"models", "extra"}, &NoEnv).ok());
  EXPECT_FALSE(ParseArgs({"get", "t", "--prompt", "x"}, &NoEnv).ok());  // not a get flag
  EXPECT_FALSE(ParseArgs({"create", "--lyrics", "a", "--lyrics_file", "f"}, &NoEnv).ok());
  EXPECT_FALSE(ParseArgs({"create", "--prompt"}, &NoEnv).ok());
  EXPECT_FALSE(ParseArgs({"continue", "--prompt", "x"}, &NoEnv).ok());
  EXPECT_FALSE(ParseArgs({"list", "--page_size", "-1"}, &NoEnv).ok());
  EXPECT_FALSE(ParseArgs({"list", "--kind", "video"}, &NoEnv).ok());
  EXPECT_FALSE(ParseArgs({"get", "t", "--timeout", "0"}, &NoEnv).ok());
  EXPECT_EQ(ParseArgs({"get", "--help"}, &NoEnv)->command, Command::kHelp);
}

TEST(FormatTest, LyricsTaskShowsEveryVariant) {
  Task task = MakeTask("t-l", 3, music::v1::TASK_STATE_SUCCEEDED);
  task.set_kind(music::v1::TASK_KIND_LYRICS);
  auto* variant = task.add_lyric_variants();
  variant->set_title("Rain");
  variant->set_text("[Verse]\nDrops on the glass\n");
  task.add_lyric_variants()->set_title("Sun");
  std::string text = FormatTask(task, absl::UTCTimeZone());
  EXPECT_THAT(text, HasSubstr("Kind          LYRICS"));
  EXPECT_THAT(text, HasSubstr("Variants      2"));
  EXPECT_THAT(text, HasSubstr("  [1] \"Rain\"\n      [Verse]\n      Drops on the glass\n"));
  EXPECT_THAT(text, HasSubstr("  [2] \"Sun\""));
  EXPECT_THAT(text, Not(HasSubstr("Clips")));
  EXPECT_THAT(text, HasSubstr("Created       2023-11-14 22:13:20 UTC"));
}

TEST(FormatTest, FailedOverTaskShowsTheRouteAndItsMoney) {
  Task task = MakeTask("t-r", 5, music::v1::TASK_STATE_SUCCEEDED);
  task.set_provider("kie");
  task.set_provider_model("V4_5");
  auto* f = task.add_failovers();
  f->set_provider("beatra");
  f->set_provider_model("suno-5.5");
  f->set_code(9);
  f->set_message("out of credits");
  auto* b = task.mutable_billing();
  b->set_currency("CREDITS");
  b->set_reserved_micros(80'000'000);
  b->set_charged_micros(12'000'000);
  b->set_refunded_micros(68'000'000);
  std::string text = FormatTask(task, absl::UTCTimeZone());
  EXPECT_THAT(text, HasSubstr("kie, model V4_5"));
  EXPECT_THAT(text, HasSubstr("Failed over   beatra suno-5.5: FAILED_PRECONDITION out of credits"));
  EXPECT_THAT(text, HasSubstr("reserved 80.000000 CREDITS, charged 12.000000 CREDITS, refunded "
                              "68.000000 CREDITS"));
}

TEST(FormatTest, AnArchivedClipShowsWhereItsCopyIs) {
  Task task = MakeTask("t-arch", 3, music::v1::TASK_STATE_SUCCEEDED);
  music::v1::Clip* clip = AddClip(&task, "c1", true);
  AddClip(&task, "c2", true);  // not archived yet: no archive line
  clip->mutable_audio_archive()->set_location("s3://songs/default/t-arch/c1/audio.mp3");
  clip->mutable_audio_archive()->set_size_bytes(1234);
  clip->mutable_audio_archive()->set_sha256(std::string(64, 'a'));
  const std::string text = FormatTask(task, absl::UTCTimeZone());
  EXPECT_THAT(text, HasSubstr("      archive s3://songs/default/t-arch/c1/audio.mp3 (1234 bytes, "
                              "sha256 aaaaaaaaaaaa...)\n"));
  EXPECT_EQ(text.find("archive"), text.rfind("archive"));
}

TEST(FormatTest, WatchLine) {
  Task task = MakeTask("t", 12, music::v1::TASK_STATE_RUNNING);
  task.mutable_progress()->set_provider_status("FIRST_SUCCESS");
  task.mutable_progress()->set_first_clip_ready(true);
  AddClip(&task, "c", false);
  EXPECT_EQ(FormatWatchLine(task, RealClock::Get()->Now(), absl::UTCTimeZone()),
            "22:13:32  v12   RUNNING    FIRST_SUCCESS          lyrics -      first clip ready  "
            "clips 1");
}

TEST(FormatTest, RpcErrorWithoutDetails) {
  EXPECT_EQ(FormatRpcError(grpc::Status(grpc::StatusCode::UNAVAILABLE, "down")),
            "error: UNAVAILABLE: down\n");
  EXPECT_EQ(CodeName(4), "DEADLINE_EXCEEDED");
  EXPECT_EQ(CodeName(99), "CODE_99");
  EXPECT_EQ(StateName(music::v1::TASK_STATE_CANCELED), "CANCELED");
}

}  // namespace
}  // namespace music::musicctl
