// The kie.ai adapter's operations on the caller's own audio and its file upload, against a fake
// HttpClient. Each expectation quotes shared/seeds/CONTRACT-NOTES.md (kie.ai, "From uploaded
// audio" and "File upload"); WIRE.md "Audio operations" / "File upload".

#include <rapidjson/document.h>

#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/time/time.h"
#include "adapters/kie/kie_adapter.h"
#include "adapters/provider_auth.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/testing/fake_clock.h"
#include "tests/testing/fake_http_client.h"
#include "tests/testing/status_matchers.h"

namespace music::adapters::kie {
namespace {

using absl::StatusCode;
using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::Not;
using ::testing::UnorderedElementsAreArray;

constexpr char kApiKey[] = "kie-secret-api-key-0123456789";
constexpr char kCallbackUrl[] = "https://svc.example/callbacks/kie/task-1";
constexpr char kUploadUrl[] = "https://kieai.redpandaai.co/files/abc/song.mp3";
constexpr char kCreated[] = R"({"code":200,"msg":"success","data":{"taskId":"op-1"}})";
// The upload answer's shape, CONTRACT-NOTES.md "File upload".
constexpr char kUploaded[] = R"({"success":true,"code":200,"msg":"File uploaded successfully",
    "data":{"fileName":"song.mp3","filePath":"music-gateway/reference-audio/song.mp3",
    "downloadUrl":"https://tempfile.redpandaai.co/xxx/song.mp3","fileSize":4,
    "mimeType":"audio/mpeg","uploadedAt":"2025-01-01T12:00:00.000Z"}})";

class KieAudioOperationsTest : public ::testing::Test {
 protected:
  std::unique_ptr<ProviderAdapter> Adapter() {
    KieOptions options;
    options.base_url = "https://kie.test";
    options.upload_base_url = "https://upload.kie.test/prefix/";
    options.api_key = kApiKey;
    return NewKieAdapter(options, client_, &clock_);
  }

  static SubmitRequest Operation(music::v1::AudioOperation op, const std::string& model) {
    SubmitRequest request;
    request.kind = music::v1::TASK_KIND_AUDIO_OPERATION;
    request.task_id = "task-1";
    request.provider_model = model;
    request.input.set_audio_operation(op);
    request.callback_url = kCallbackUrl;
    request.reference_artifact_id = kUploadUrl;  // what UploadReferenceAudio returned
    return request;
  }

  // Submits, answered by kCreated; returns the JSON body sent.
  rapidjson::Document SubmitAndParse(const SubmitRequest& request) {
    client_->Answer(200, kCreated);
    absl::StatusOr<SubmitResult> result = Adapter()->Submit(request);
    EXPECT_THAT(result, IsOk());
    if (result.ok()) {
      EXPECT_EQ(result->provider_task_id, "op-1");
    }
    rapidjson::Document doc;
    doc.Parse(client_->last().body.c_str());
    EXPECT_TRUE(!doc.HasParseError() && doc.IsObject()) << client_->last().body;
    return doc;
  }

  std::shared_ptr<http::FakeHttpClient> client_ = std::make_shared<http::FakeHttpClient>();
  FakeClock clock_{absl::FromUnixSeconds(1700000000)};
};

std::vector<std::string> Keys(const rapidjson::Document& doc) {
  std::vector<std::string> keys;
  for (const auto& m : doc.GetObject()) keys.emplace_back(m.name.GetString());
  return keys;
}

std::string Str(const rapidjson::Document& doc, const char* key) {
  const auto it = doc.FindMember(key);
  if (it == doc.MemberEnd() || !it->value.IsString()) return "<not a string>";
  return it->value.GetString();
}

// "upload-cover (fields of generate plus uploadUrl; custom mode needs style, title, and prompt
// unless instrumental)".
TEST_F(KieAudioOperationsTest, CoverSendsGeneratesFieldsPlusUploadUrl) {
  SubmitRequest request = Operation(music::v1::AUDIO_OPERATION_COVER, "V4_5");
  request.input.set_prompt("[Verse] my words");
  request.input.set_style("jazz");
  request.input.set_title("My Cover");
  request.input.set_negative_tags("metal");
  rapidjson::Document body = SubmitAndParse(request);
  EXPECT_EQ(client_->last().url, "https://kie.test/api/v1/generate/upload-cover");
  EXPECT_EQ(client_->last().method, "POST");
  EXPECT_EQ(http::FindHeader(client_->last().headers, "Authorization"),
            absl::StrCat("Bearer ", kApiKey));
  EXPECT_THAT(Keys(body), UnorderedElementsAreArray({"uploadUrl", "prompt", "customMode",
                                                     "instrumental", "style", "title",
                                                     "negativeTags", "model", "callBackUrl"}));
  EXPECT_EQ(Str(body, "uploadUrl"), kUploadUrl);
  EXPECT_TRUE(body["customMode"].GetBool());
  EXPECT_FALSE(body["instrumental"].GetBool());
  EXPECT_EQ(Str(body, "model"), "V4_5");
  EXPECT_EQ(Str(body, "callBackUrl"), kCallbackUrl);
}

TEST_F(KieAudioOperationsTest, InstrumentalCoverInCustomModeLeavesOutThePrompt) {
  SubmitRequest request = Operation(music::v1::AUDIO_OPERATION_COVER, "V5");
  request.input.set_style("lofi");
  request.input.set_title("Quiet");
  request.input.set_instrumental(true);
  rapidjson::Document body = SubmitAndParse(request);
  EXPECT_THAT(Keys(body), UnorderedElementsAreArray({"uploadUrl", "customMode", "instrumental",
                                                     "style", "title", "model", "callBackUrl"}));
  EXPECT_TRUE(body["instrumental"].GetBool());
}

// "upload-extend (uploadUrl, defaultParamFlag, continueAt in (0, duration), prompt, style,
// title, model, ...)".
TEST_F(KieAudioOperationsTest, ExtendSendsTheDocumentedFields) {
  SubmitRequest request = Operation(music::v1::AUDIO_OPERATION_EXTEND, "V4_5");
  request.input.set_prompt("more words");
  request.input.set_style("rock");
  request.input.set_title("Longer");
  request.input.set_continue_at_seconds(12.5);
  rapidjson::Document body = SubmitAndParse(request);
  EXPECT_EQ(client_->last().url, "https://kie.test/api/v1/generate/upload-extend");
  EXPECT_THAT(Keys(body), UnorderedElementsAreArray({"uploadUrl", "defaultParamFlag", "continueAt",
                                                     "prompt", "style", "title", "model",
                                                     "callBackUrl"}));
  EXPECT_TRUE(body["defaultParamFlag"].GetBool());
  EXPECT_DOUBLE_EQ(body["continueAt"].GetDouble(), 12.5);
}

// "add-instrumental (uploadUrl, title, tags, negativeTags, model V4_5PLUS | V5)".
TEST_F(KieAudioOperationsTest, AddInstrumentalSendsTitleTagsAndModel) {
  SubmitRequest request = Operation(music::v1::AUDIO_OPERATION_ADD_INSTRUMENTAL, "V4_5PLUS");
  request.input.set_title("Backing");
  request.input.set_style("acoustic guitar");
  request.input.set_negative_tags("drums");
  rapidjson::Document body = SubmitAndParse(request);
  EXPECT_EQ(client_->last().url, "https://kie.test/api/v1/generate/add-instrumental");
  EXPECT_THAT(Keys(body), UnorderedElementsAreArray({"uploadUrl", "title", "tags", "negativeTags",
                                                     "model", "callBackUrl"}));
  EXPECT_EQ(Str(body, "tags"), "acoustic guitar");
  EXPECT_EQ(Str(body, "model"), "V4_5PLUS");
}

// "add-vocals (uploadUrl, prompt, style, title, negativeTags, model V4_5PLUS | V5)".
TEST_F(KieAudioOperationsTest, AddVocalsSendsPromptStyleTitleAndModel) {
  SubmitRequest request = Operation(music::v1::AUDIO_OPERATION_ADD_VOCALS, "V5");
  request.input.set_prompt("la la la");
  request.input.set_style("soul");
  request.input.set_title("Sung");
  rapidjson::Document body = SubmitAndParse(request);
  EXPECT_EQ(client_->last().url, "https://kie.test/api/v1/generate/add-vocals");
  EXPECT_THAT(Keys(body), UnorderedElementsAreArray(
                              {"uploadUrl", "prompt", "style", "title", "model", "callBackUrl"}));
  EXPECT_EQ(Str(body, "prompt"), "la la la");
}

TEST_F(KieAudioOperationsTest, RefusesUnusableOperationsWithoutSending) {
  // add-* exist on V4_5PLUS and V5 only.
  SubmitRequest other_model = Operation(music::v1::AUDIO_OPERATION_ADD_VOCALS, "V4_5");
  EXPECT_THAT(Adapter()->Submit(other_model), StatusIs(StatusCode::kInvalidArgument));
  SubmitRequest no_audio = Operation(music::v1::AUDIO_OPERATION_COVER, "V4_5");
  no_audio.reference_artifact_id.clear();
  EXPECT_THAT(Adapter()->Submit(no_audio), StatusIs(StatusCode::kInvalidArgument));
  SubmitRequest no_operation = Operation(music::v1::AUDIO_OPERATION_UNSPECIFIED, "V4_5");
  EXPECT_THAT(Adapter()->Submit(no_operation), StatusIs(StatusCode::kInvalidArgument));
  EXPECT_TRUE(client_->requests().empty());
}

// "results like generate": record-info (`operationType` upload_cover) and the music callbacks.
TEST_F(KieAudioOperationsTest, PollsGeneratesRecordInfoAndReadsItsCallbacks) {
  client_->Answer(200, R"({"code":200,"msg":"success","data":{"taskId":"op-1",
      "operationType":"upload_cover","status":"SUCCESS","response":{"taskId":"op-1",
      "sunoData":[{"id":"c1","audioUrl":"https://cdn.example/c1.mp3","streamAudioUrl":"",
      "imageUrl":"","prompt":"p","modelName":"chirp-v4-5","title":"t","tags":"jazz",
      "createTime":"2025-01-01 00:00:00","duration":30.5}]},"errorCode":null,
      "errorMessage":null}})");
  PollTarget target;
  target.kind = music::v1::TASK_KIND_AUDIO_OPERATION;
  target.provider_task_id = "op-1";
  absl::StatusOr<ProviderUpdate> polled = Adapter()->Poll(target);
  ASSERT_THAT(polled, IsOk());
  EXPECT_EQ(client_->last().url, "https://kie.test/api/v1/generate/record-info?taskId=op-1");
  EXPECT_EQ(polled->state, ProviderState::kSucceeded);
  ASSERT_EQ(polled->clips.size(), 1u);
  EXPECT_EQ(polled->clips[0].audio_url(), "https://cdn.example/c1.mp3");

  http::Request callback;
  callback.method = "POST";
  callback.body = R"({"code":200,"msg":"All generated successfully.","data":{
      "callbackType":"complete","task_id":"op-1","data":[{"id":"c1",
      "audio_url":"https://cdn.example/c1.mp3","stream_audio_url":"","image_url":"",
      "prompt":"p","model_name":"chirp-v4-5","title":"t","tags":"jazz",
      "createTime":"2025-01-01 00:00:00","duration":30.5}]}})";
  absl::StatusOr<ProviderUpdate> called =
      Adapter()->ParseCallback(music::v1::TASK_KIND_AUDIO_OPERATION, callback);
  ASSERT_THAT(called, IsOk());
  EXPECT_EQ(called->provider_task_id, "op-1");
  EXPECT_EQ(called->state, ProviderState::kSucceeded);
}

// "File upload: base URL https://kieai.redpandaai.co, POST /api/file-stream-upload (multipart
// file, uploadPath, fileName)"; the answer's data.downloadUrl is what the operations take.
TEST_F(KieAudioOperationsTest, UploadSendsMultipartToTheUploadHostAndReturnsTheDownloadUrl) {
  client_->Answer(200, kUploaded);
  ReferenceAudioUpload upload;
  upload.filename = "song.mp3";
  upload.content_type = "audio/mpeg";
  upload.bytes = "ID3\x03";
  absl::StatusOr<std::string> id = Adapter()->UploadReferenceAudio(upload);
  ASSERT_THAT(id, IsOk());
  EXPECT_EQ(*id, "https://tempfile.redpandaai.co/xxx/song.mp3");
  const http::Request sent = client_->last();
  EXPECT_EQ(sent.method, "POST");
  EXPECT_EQ(sent.url, "https://upload.kie.test/prefix/api/file-stream-upload");
  EXPECT_EQ(http::FindHeader(sent.headers, "Authorization"), absl::StrCat("Bearer ", kApiKey));
  EXPECT_TRUE(absl::StartsWith(http::FindHeader(sent.headers, "Content-Type"),
                               "multipart/form-data; boundary="));
  EXPECT_THAT(sent.body, HasSubstr("name=\"file\"; filename=\"song.mp3\""));
  EXPECT_THAT(sent.body, HasSubstr("name=\"uploadPath\"\r\n\r\nmusic-gateway/reference-audio"));
  EXPECT_THAT(sent.body, HasSubstr("name=\"fileName\"\r\n\r\nsong.mp3"));
  EXPECT_THAT(sent.body, HasSubstr("Content-Type: audio/mpeg\r\n\r\nID3\x03\r\n"));
}

TEST_F(KieAudioOperationsTest, UploadErrorsFollowTheErrorTableAndNeverCarryTheKey) {
  ReferenceAudioUpload upload;
  upload.filename = "a\"b\r\n.mp3";  // quotes and line breaks never reach the part's header
  upload.content_type = "audio/mpeg";
  upload.bytes = "RIFF";
  client_->Answer(401, absl::StrCat(R"({"success":false,"code":401,"msg":"bad key )", kApiKey,
                                    R"(","data":null})"));
  absl::StatusOr<std::string> denied = Adapter()->UploadReferenceAudio(upload);
  // Our key refused is the provider's fault of ours, not the caller's: FAILED_PRECONDITION marked
  // PROVIDER_AUTH (adapters/provider_auth.h), as on every kie.ai route.
  EXPECT_THAT(denied, StatusIs(StatusCode::kFailedPrecondition));
  EXPECT_TRUE(adapters::IsProviderAuthError(denied.status())) << denied.status();
  EXPECT_THAT(std::string(denied.status().message()), Not(HasSubstr(kApiKey)));
  EXPECT_THAT(client_->last().body, HasSubstr("filename=\"a_b__.mp3\""));

  client_->Answer(200, R"({"success":false,"code":200,"msg":"??","data":null})");
  EXPECT_THAT(Adapter()->UploadReferenceAudio(upload), StatusIs(StatusCode::kInternal));
  client_->Answer(200, R"({"success":true,"code":200,"msg":"ok","data":{"downloadUrl":""}})");
  EXPECT_THAT(Adapter()->UploadReferenceAudio(upload), StatusIs(StatusCode::kInternal));

  upload.bytes.clear();
  const size_t sent = client_->requests().size();
  EXPECT_THAT(Adapter()->UploadReferenceAudio(upload), StatusIs(StatusCode::kInvalidArgument));
  EXPECT_EQ(client_->requests().size(), sent);
}

// ListModels: add-instrumental and add-vocals only on the models the notes name.
TEST_F(KieAudioOperationsTest, ModelsListTheirAudioOperations) {
  using music::v1::AUDIO_OPERATION_ADD_INSTRUMENTAL;
  using music::v1::AUDIO_OPERATION_ADD_VOCALS;
  using music::v1::AUDIO_OPERATION_COVER;
  using music::v1::AUDIO_OPERATION_EXTEND;
  for (const music::v1::Model& m : Adapter()->Models()) {
    SCOPED_TRACE(m.name());
    std::vector<int> ops(m.capabilities().audio_operations().begin(),
                         m.capabilities().audio_operations().end());
    if (m.provider_model() == "V4_5PLUS" || m.provider_model() == "V5") {
      EXPECT_THAT(ops, ElementsAre(AUDIO_OPERATION_COVER, AUDIO_OPERATION_EXTEND,
                                   AUDIO_OPERATION_ADD_INSTRUMENTAL, AUDIO_OPERATION_ADD_VOCALS));
    } else {
      EXPECT_THAT(ops, ElementsAre(AUDIO_OPERATION_COVER, AUDIO_OPERATION_EXTEND));
    }
  }
}

}  // namespace
}  // namespace music::adapters::kie
