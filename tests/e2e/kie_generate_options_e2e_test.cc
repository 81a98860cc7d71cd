// kie.ai generate options end to end (issue 12 A): a real server (SQLite file, libcurl, the kie
// adapter) and the provider emulator over HTTP. Every option of CONTRACT-NOTES.md kie.ai
// "Generate (and extend) optional fields" set on suno-v4.5-plus reaches kie.ai under its wire
// name (read back from the emulator's record-info `param`, "a JSON string of the request"), is
// stored with the task, and a bad one is INVALID_ARGUMENT naming the field before anything is
// sent.
#include <httplib.h>
#include <rapidjson/document.h>

#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "google/rpc/error_details.pb.h"
#include "google/rpc/status.pb.h"
#include "tests/e2e/e2e_fixture.h"

namespace music::e2e {
namespace {

std::vector<std::string> ViolatedFields(const grpc::Status& s) {
  std::vector<std::string> fields;
  google::rpc::Status details;
  if (!details.ParseFromString(s.error_details())) return fields;
  for (const auto& any : details.details()) {
    google::rpc::BadRequest bad;
    if (any.type_url() == "type.googleapis.com/google.rpc.BadRequest" &&
        bad.ParseFromString(any.value())) {
      for (const auto& v : bad.field_violations()) fields.push_back(v.field());
    }
  }
  return fields;
}

class KieGenerateOptionsE2eTest : public E2eTest {
 protected:
  static music::v1::CreateMusicRequest EveryOption() {
    music::v1::CreateMusicRequest r;
    r.set_model("suno-v4.5-plus");
    r.set_style("synthwave");
    r.set_title("Neon");
    r.set_lyrics("[Verse]\nneon rain on the glass");
    r.set_negative_tags("heavy metal");
    r.set_vocal_gender(music::v1::VOCAL_GENDER_FEMALE);
    r.set_style_weight(0.65);
    r.set_weirdness(0.29);
    r.set_audio_weight(0);  // set to 0: sent, not left out
    r.set_persona_id("persona-7f3a");
    return r;
  }

  grpc::Status Create(const music::v1::CreateMusicRequest& r, music::v1::Task* task) {
    music::v1::CreateMusicResponse resp;
    grpc::ClientContext ctx;
    grpc::Status s = stub_->CreateMusic(&ctx, r, &resp);
    *task = resp.task();
    return s;
  }

  // The request body kie.ai received for `provider_task_id`: record-info `param`, parsed.
  rapidjson::Document SentBody(const std::string& provider_task_id) {
    rapidjson::Document param;
    httplib::Client client("127.0.0.1", emulator_->port());
    auto res = client.Get(
        absl::StrCat("/api/v1/generate/record-info?taskId=", provider_task_id).c_str(),
        httplib::Headers{{"Authorization", absl::StrCat("Bearer ", kApiKey)}});
    EXPECT_TRUE(res);
    if (!res) return param;
    EXPECT_EQ(res->status, 200) << res->body;
    rapidjson::Document doc;
    doc.Parse(res->body.c_str());
    if (doc.HasParseError() || !doc.IsObject() || !doc["data"].IsObject() ||
        !doc["data"]["param"].IsString()) {
      ADD_FAILURE() << res->body;
      return param;
    }
    param.Parse(doc["data"]["param"].GetString());
    EXPECT_TRUE(param.IsObject()) << res->body;
    return param;
  }

  static std::string Str(const rapidjson::Value& v, const char* key) {
    if (!v.IsObject() || !v.HasMember(key) || !v[key].IsString()) return "<absent>";
    return v[key].GetString();
  }
  static double Num(const rapidjson::Value& v, const char* key) {
    if (!v.IsObject() || !v.HasMember(key) || !v[key].IsNumber()) return -1;
    return v[key].GetDouble();
  }
};

TEST_F(KieGenerateOptionsE2eTest, EveryOptionOnV45PlusReachesKieAndIsStored) {
  music::v1::Task created;
  ASSERT_TRUE(Create(EveryOption(), &created).ok());
  EXPECT_EQ(created.input().vocal_gender(), music::v1::VOCAL_GENDER_FEMALE);
  EXPECT_TRUE(created.input().has_audio_weight());

  const music::v1::Task done = WaitDone(created.task_id());
  ASSERT_EQ(done.state(), music::v1::TASK_STATE_SUCCEEDED) << done.DebugString();
  EXPECT_EQ(done.provider_model(), "V4_5PLUS");

  const rapidjson::Document sent = SentBody(done.provider_task_id());
  EXPECT_EQ(Str(sent, "model"), "V4_5PLUS");
  EXPECT_TRUE(sent["customMode"].IsBool() && sent["customMode"].GetBool());
  EXPECT_EQ(Str(sent, "negativeTags"), "heavy metal");
  EXPECT_EQ(Str(sent, "vocalGender"), "f");
  EXPECT_DOUBLE_EQ(Num(sent, "styleWeight"), 0.65);
  EXPECT_DOUBLE_EQ(Num(sent, "weirdnessConstraint"), 0.29);
  EXPECT_DOUBLE_EQ(Num(sent, "audioWeight"), 0);
  EXPECT_EQ(Str(sent, "personaId"), "persona-7f3a");

  // Stored with the task (read back from the SQLite file through GetTask).
  const music::v1::TaskInput stored = GetTask(created.task_id()).input();
  EXPECT_EQ(stored.negative_tags(), "heavy metal");
  EXPECT_EQ(stored.vocal_gender(), music::v1::VOCAL_GENDER_FEMALE);
  EXPECT_DOUBLE_EQ(stored.style_weight(), 0.65);
  EXPECT_DOUBLE_EQ(stored.weirdness(), 0.29);
  EXPECT_TRUE(stored.has_audio_weight());
  EXPECT_DOUBLE_EQ(stored.audio_weight(), 0);
  EXPECT_EQ(stored.persona_id(), "persona-7f3a");
}

TEST_F(KieGenerateOptionsE2eTest, ListModelsSaysWhichModelsTakeThem) {
  music::v1::ListModelsResponse resp;
  grpc::ClientContext ctx;
  ASSERT_TRUE(stub_->ListModels(&ctx, music::v1::ListModelsRequest(), &resp).ok());
  bool found = false;
  for (const auto& m : resp.models()) {
    if (m.name() != "suno-v4.5-plus" && m.name() != "suno-v4.5-all") continue;
    found = true;
    const auto& c = m.capabilities();
    EXPECT_TRUE(c.negative_tags() && c.vocal_gender() && c.style_weight() && c.weirdness() &&
                c.audio_weight() && c.persona_id())
        << m.name();
  }
  EXPECT_TRUE(found);
}

TEST_F(KieGenerateOptionsE2eTest, ContinuationSendsTheOptionsOnExtend) {
  const music::v1::Task source = WaitDone(CreateMusic("a song about the sea").task_id());
  ASSERT_EQ(source.state(), music::v1::TASK_STATE_SUCCEEDED) << source.DebugString();
  ASSERT_GE(source.clips_size(), 1);
  music::v1::ContinueClipRequest req;
  req.set_clip_id(source.clips(0).clip_id());
  req.set_continue_at_seconds(2);
  req.set_prompt("a second verse");
  req.set_style("folk");
  req.set_title("The Sea, Part 2");
  req.set_negative_tags("drums");
  req.set_vocal_gender(music::v1::VOCAL_GENDER_MALE);
  req.set_weirdness(0.5);
  music::v1::ContinueClipResponse resp;
  grpc::ClientContext ctx;
  grpc::Status s = stub_->ContinueClip(&ctx, req, &resp);
  ASSERT_TRUE(s.ok()) << s.error_message();
  const music::v1::Task done = WaitDone(resp.task().task_id());
  ASSERT_EQ(done.state(), music::v1::TASK_STATE_SUCCEEDED) << done.DebugString();
  const rapidjson::Document sent = SentBody(done.provider_task_id());
  EXPECT_EQ(Str(sent, "audioId"), source.clips(0).clip_id());
  EXPECT_EQ(Str(sent, "negativeTags"), "drums");
  EXPECT_EQ(Str(sent, "vocalGender"), "m");
  EXPECT_DOUBLE_EQ(Num(sent, "weirdnessConstraint"), 0.5);
  EXPECT_FALSE(sent.HasMember("styleWeight"));  // unset: left out
  EXPECT_EQ(emulator_->stats().extend_creates, 1);
}

TEST_F(KieGenerateOptionsE2eTest, BadOptionsAreInvalidArgumentAndNothingIsSent) {
  struct Case {
    const char* name;
    void (*edit)(music::v1::CreateMusicRequest&);
    const char* field;
  };
  const Case cases[] = {
      {"style_weight above 1", [](music::v1::CreateMusicRequest& r) { r.set_style_weight(1.5); }, "style_weight"},
      {"weirdness below 0", [](music::v1::CreateMusicRequest& r) { r.set_weirdness(-0.1); }, "weirdness"},
      {"three decimals", [](music::v1::CreateMusicRequest& r) { r.set_audio_weight(0.125); }, "audio_weight"},
      {"voice in simple mode",
       [](music::v1::CreateMusicRequest& r) {
         r.clear_style();
         r.clear_title();
         r.clear_lyrics();
         r.set_prompt("neon rain");
       },
       "vocal_gender"},
      {"persona in simple mode",
       [](music::v1::CreateMusicRequest& r) {
         r.clear_style();
         r.clear_title();
         r.clear_lyrics();
         r.set_prompt("neon rain");
       },
       "persona_id"},
      {"unknown vocal gender",
       [](music::v1::CreateMusicRequest& r) { r.set_vocal_gender(static_cast<music::v1::VocalGender>(7)); },
       "vocal_gender"},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.name);
    music::v1::CreateMusicRequest r = EveryOption();
    c.edit(r);
    music::v1::Task task;
    grpc::Status s = Create(r, &task);
    EXPECT_EQ(s.error_code(), grpc::StatusCode::INVALID_ARGUMENT) << s.error_message();
    EXPECT_THAT(ViolatedFields(s), ::testing::Contains(std::string(c.field)));
  }
  EXPECT_EQ(emulator_->TaskCount(), 0);
  music::v1::ListTasksResponse tasks;
  grpc::ClientContext ctx;
  ASSERT_TRUE(stub_->ListTasks(&ctx, music::v1::ListTasksRequest(), &tasks).ok());
  EXPECT_EQ(tasks.tasks_size(), 0);
}

}  // namespace
}  // namespace music::e2e
