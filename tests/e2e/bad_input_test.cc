// Bad input: INVALID_ARGUMENT naming the field (google.rpc.BadRequest in the status details), and
// nothing stored.
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

struct BadCase {
  const char* name;
  std::function<void(music::v1::CreateMusicRequest&)> edit;
  const char* field;
};

TEST_F(E2eTest, EachInvalidFieldIsNamedAndNothingIsStored) {
  const std::vector<BadCase> cases = {
      {"empty prompt", [](auto& r) { r.set_prompt(""); }, "prompt"},
      {"prompt over 500", [](auto& r) { r.set_prompt(std::string(501, 'a')); }, "prompt"},
      {"unknown model", [](auto& r) { r.set_model("suno-v9"); }, "model"},
      {"style over 1000",
       [](auto& r) {
         r.set_style(std::string(1001, 's'));
         r.set_title("t");
         r.set_instrumental(true);
       },
       "style"},
      {"style over 200 on V4",
       [](auto& r) {
         r.set_model("suno-v4");
         r.set_style(std::string(201, 's'));
         r.set_title("t");
         r.set_instrumental(true);
       },
       "style"},
      {"title over 80",
       [](auto& r) {
         r.set_style("rock");
         r.set_title(std::string(81, 't'));
         r.set_instrumental(true);
       },
       "title"},
      {"lyrics over 5000",
       [](auto& r) {
         r.set_prompt("");
         r.set_style("rock");
         r.set_title("t");
         r.set_lyrics(std::string(5001, 'l'));
       },
       "lyrics"},
      {"lyrics over 3000 on V3_5",
       [](auto& r) {
         r.set_model("suno-v3.5");
         r.set_prompt("");
         r.set_style("rock");
         r.set_title("t");
         r.set_lyrics(std::string(3001, 'l'));
       },
       "lyrics"},
      {"custom mode without title",
       [](auto& r) {
         r.set_style("rock");
         r.set_instrumental(true);
       },
       "title"},
      {"request_id with spaces", [](auto& r) { r.set_request_id("has space"); }, "request_id"},
      {"request_id too long", [](auto& r) { r.set_request_id(std::string(129, 'r')); },
       "request_id"},
  };
  for (const auto& c : cases) {
    music::v1::CreateMusicRequest req;
    req.set_prompt("fine prompt");
    c.edit(req);
    music::v1::CreateMusicResponse resp;
    grpc::ClientContext ctx;
    grpc::Status s = stub_->CreateMusic(&ctx, req, &resp);
    EXPECT_EQ(s.error_code(), grpc::StatusCode::INVALID_ARGUMENT) << c.name;
    const auto fields = ViolatedFields(s);
    EXPECT_NE(std::find(fields.begin(), fields.end(), c.field), fields.end())
        << c.name << ": " << s.error_message();
    EXPECT_NE(s.error_message().find(c.field), std::string::npos) << c.name;
  }

  music::v1::CreateLyricsRequest lyrics;
  lyrics.set_prompt(std::string(201, 'p'));
  music::v1::CreateLyricsResponse lresp;
  grpc::ClientContext lctx;
  grpc::Status ls = stub_->CreateLyrics(&lctx, lyrics, &lresp);
  EXPECT_EQ(ls.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_EQ(ViolatedFields(ls), std::vector<std::string>{"prompt"});

  music::v1::ContinueClipRequest cont;
  music::v1::ContinueClipResponse cresp;
  grpc::ClientContext cctx;
  grpc::Status cs = stub_->ContinueClip(&cctx, cont, &cresp);
  EXPECT_EQ(cs.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_EQ(ViolatedFields(cs), std::vector<std::string>{"clip_id"});

  music::v1::GetTaskRequest get;
  music::v1::GetTaskResponse gresp;
  grpc::ClientContext gctx;
  EXPECT_EQ(stub_->GetTask(&gctx, get, &gresp).error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  get.set_task_id("tsk_unknown");
  grpc::ClientContext gctx2;
  EXPECT_EQ(stub_->GetTask(&gctx2, get, &gresp).error_code(), grpc::StatusCode::NOT_FOUND);

  // Nothing was stored, nothing reached the provider.
  music::v1::ListTasksRequest lr;
  music::v1::ListTasksResponse list;
  grpc::ClientContext ctx;
  ASSERT_TRUE(stub_->ListTasks(&ctx, lr, &list).ok());
  EXPECT_EQ(list.tasks_size(), 0);
  EXPECT_EQ(emulator_->TaskCount(), 0);
}

}  // namespace
}  // namespace music::e2e
