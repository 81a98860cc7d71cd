// Bad input: INVALID_ARGUMENT naming the field (google.rpc.BadRequest in the status details), and
// nothing stored; requests that do not decode, huge ids, blank text.
#include <gmock/gmock.h>
#include <grpcpp/generic/generic_stub.h>

#include "google/rpc/error_details.pb.h"
#include "google/rpc/status.pb.h"
#include "service/core/validation.h"
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

// `message` serialized with the placeholder "@@@@" of a string field replaced by bytes that are
// not UTF-8: what a client with a bug or a hostile one puts on the wire.
std::string InvalidUtf8Body(const google::protobuf::Message& message) {
  std::string body = message.SerializeAsString();
  const size_t at = body.find("@@@@");
  EXPECT_NE(at, std::string::npos);
  if (at != std::string::npos) body.replace(at, 4, "\xff\xfe\xc3\x28");
  return body;
}

// Sends `body` as the one request message of `method` (unary, or server streaming when
// `streaming`) through the generic stub, so no client-side serialization checks it, and returns
// the call's status.
grpc::Status SendRaw(const std::shared_ptr<grpc::Channel>& channel, const std::string& method,
                     const std::string& body, bool streaming) {
  grpc::GenericStub stub(channel);
  grpc::CompletionQueue cq;
  grpc::ClientContext ctx;
  ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(10));
  grpc::Slice slice(body);
  grpc::ByteBuffer request(&slice, 1);
  grpc::ByteBuffer response;
  grpc::Status status;
  void* tag = nullptr;
  bool ok = false;
  if (!streaming) {
    auto call = stub.PrepareUnaryCall(&ctx, method, request, &cq);
    call->StartCall();
    call->Finish(&response, &status, reinterpret_cast<void*>(1));
    EXPECT_TRUE(cq.Next(&tag, &ok));
  } else {
    auto call = stub.PrepareCall(&ctx, method, &cq);
    call->StartCall(reinterpret_cast<void*>(1));
    EXPECT_TRUE(cq.Next(&tag, &ok));
    call->WriteLast(request, grpc::WriteOptions(), reinterpret_cast<void*>(2));
    EXPECT_TRUE(cq.Next(&tag, &ok));
    call->Finish(&status, reinterpret_cast<void*>(3));
    EXPECT_TRUE(cq.Next(&tag, &ok));
  }
  cq.Shutdown();
  while (cq.Next(&tag, &ok)) {
  }
  return status;
}

// gRPC's callback handlers answer an undecodable request UNIMPLEMENTED with an empty message
// (server_callback_handlers.h); the server's decode-error interceptor makes it INVALID_ARGUMENT
// on every service, and nothing is stored.
TEST_F(E2eTest, RequestThatDoesNotDecodeIsInvalidArgumentOnEveryService) {
  music::v1::CreateMusicRequest create;
  create.set_prompt("@@@@");
  music::v1::WatchTaskRequest watch;
  watch.set_task_id("@@@@");
  music::v1::ListBillingTransactionsRequest billing;
  billing.set_page_token("@@@@");
  music::v1::GetReconciliationRunRequest run;
  run.set_run_id("@@@@");
  struct Case {
    const char* method;
    const char* type;
    const google::protobuf::Message* request;
    bool streaming;
  };
  const Case cases[] = {
      {"/music.v1.MusicService/CreateMusic", "music.v1.CreateMusicRequest", &create, false},
      {"/music.v1.MusicService/WatchTask", "music.v1.WatchTaskRequest", &watch, true},
      {"/music.v1.BillingService/ListBillingTransactions",
       "music.v1.ListBillingTransactionsRequest", &billing, false},
      {"/music.v1.ReconciliationService/GetReconciliationRun",
       "music.v1.GetReconciliationRunRequest", &run, false},
  };
  for (const Case& c : cases) {
    grpc::Status s = SendRaw(channel_, c.method, InvalidUtf8Body(*c.request), c.streaming);
    EXPECT_EQ(s.error_code(), grpc::StatusCode::INVALID_ARGUMENT) << c.method;
    EXPECT_THAT(s.error_message(), ::testing::StartsWith("request could not be decoded: "))
        << c.method;
    EXPECT_THAT(s.error_message(), ::testing::HasSubstr(c.type)) << c.method;
  }
  // A body that is not a protobuf message at all (a truncated length-delimited field).
  grpc::Status truncated =
      SendRaw(channel_, "/music.v1.MusicService/GetTask", std::string("\x0a\x7f", 2), false);
  EXPECT_EQ(truncated.error_code(), grpc::StatusCode::INVALID_ARGUMENT);

  // The same call decoding fine still reaches its handler.
  create.set_prompt("a fine prompt");
  grpc::Status fine = SendRaw(channel_, "/music.v1.MusicService/CreateMusic",
                              create.SerializeAsString(), false);
  EXPECT_TRUE(fine.ok()) << fine.error_message();

  music::v1::ListTasksRequest lr;
  music::v1::ListTasksResponse list;
  grpc::ClientContext ctx;
  ASSERT_TRUE(stub_->ListTasks(&ctx, lr, &list).ok());
  EXPECT_EQ(list.tasks_size(), 1);  // only the fine one
}

// A 1 MB id is refused naming the field, a long one that fits is echoed truncated: every answer
// stays far below the clients' default metadata limit (8 KiB), so the client sees our code and
// not a broken call.
TEST_F(E2eTest, HugeIdsAreRefusedAndEchoesAreTruncated) {
  const std::string huge(1 << 20, 'x');
  auto small = [](const grpc::Status& s) {
    return s.error_message().size() + s.error_details().size() < 1024;
  };
  {
    music::v1::GetTaskRequest r;
    r.set_task_id(huge);
    music::v1::GetTaskResponse resp;
    grpc::ClientContext ctx;
    grpc::Status s = stub_->GetTask(&ctx, r, &resp);
    EXPECT_EQ(s.error_code(), grpc::StatusCode::INVALID_ARGUMENT) << s.error_message();
    EXPECT_EQ(ViolatedFields(s), std::vector<std::string>{"task_id"});
    EXPECT_TRUE(small(s)) << s.error_message().size();
  }
  {
    music::v1::CancelTaskRequest r;
    r.set_task_id(huge);
    music::v1::CancelTaskResponse resp;
    grpc::ClientContext ctx;
    grpc::Status s = stub_->CancelTask(&ctx, r, &resp);
    EXPECT_EQ(s.error_code(), grpc::StatusCode::INVALID_ARGUMENT) << s.error_message();
    EXPECT_EQ(ViolatedFields(s), std::vector<std::string>{"task_id"});
    EXPECT_TRUE(small(s)) << s.error_message().size();
  }
  {
    music::v1::WatchTaskRequest r;
    r.set_task_id(huge);
    grpc::ClientContext ctx;
    auto reader = stub_->WatchTask(&ctx, r);
    music::v1::WatchTaskResponse resp;
    while (reader->Read(&resp)) {
    }
    grpc::Status s = reader->Finish();
    EXPECT_EQ(s.error_code(), grpc::StatusCode::INVALID_ARGUMENT) << s.error_message();
    EXPECT_TRUE(small(s)) << s.error_message().size();
  }
  {
    // Within the id cap but long: NOT_FOUND quoting only its first 64 bytes and its length.
    music::v1::GetTaskRequest r;
    r.set_task_id(std::string(200, 'y'));
    music::v1::GetTaskResponse resp;
    grpc::ClientContext ctx;
    grpc::Status s = stub_->GetTask(&ctx, r, &resp);
    EXPECT_EQ(s.error_code(), grpc::StatusCode::NOT_FOUND);
    EXPECT_THAT(s.error_message(), ::testing::HasSubstr(std::string(64, 'y') + "...(200 bytes)"));
    EXPECT_THAT(s.error_message(), ::testing::Not(::testing::HasSubstr(std::string(65, 'y'))));
  }
  {
    // A model name is echoed too ("unknown model ..."), and clip ids in FAILED_PRECONDITION.
    music::v1::CreateMusicRequest r;
    r.set_prompt("fine prompt");
    r.set_model(huge);
    music::v1::CreateMusicResponse resp;
    grpc::ClientContext ctx;
    grpc::Status s = stub_->CreateMusic(&ctx, r, &resp);
    EXPECT_EQ(s.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
    EXPECT_EQ(ViolatedFields(s), std::vector<std::string>{"model"});
    EXPECT_TRUE(small(s)) << s.error_message().size();
  }
  {
    music::v1::ContinueClipRequest r;
    r.set_clip_id(std::string(service::kMaxIdBytes, 'c'));
    music::v1::ContinueClipResponse resp;
    grpc::ClientContext ctx;
    grpc::Status s = stub_->ContinueClip(&ctx, r, &resp);
    EXPECT_EQ(s.error_code(), grpc::StatusCode::FAILED_PRECONDITION) << s.error_message();
    EXPECT_TRUE(small(s)) << s.error_message().size();
  }
}

// Whitespace-only, NUL and control-character-only text is refused naming the field before
// anything is stored, reserved or sent.
TEST_F(E2eTest, BlankOrNulTextIsRefusedNamingTheFieldAndNothingIsBilled) {
  const std::vector<BadCase> cases = {
      {"spaces prompt", [](auto& r) { r.set_prompt("   "); }, "prompt"},
      {"tabs and newlines prompt", [](auto& r) { r.set_prompt("\t\r\n \v\f"); }, "prompt"},
      {"NUL prompt", [](auto& r) { r.set_prompt(std::string("\0\0\0", 3)); }, "prompt"},
      {"NUL inside prompt", [](auto& r) { r.set_prompt(std::string("a calm\0piece", 13)); },
       "prompt"},
      {"control characters prompt", [](auto& r) { r.set_prompt("\x01\x02\x1b\x7f"); },
       "prompt"},
      {"unicode spaces prompt",
       [](auto& r) { r.set_prompt("\xc2\xa0\xe2\x80\x8b\xe3\x80\x80\xef\xbb\xbf"); },
       "prompt"},
      {"blank style",
       [](auto& r) {
         r.set_prompt("");
         r.set_style("  ");
         r.set_title("t");
         r.set_instrumental(true);
       },
       "style"},
      {"blank title",
       [](auto& r) {
         r.set_prompt("");
         r.set_style("rock");
         r.set_title("\n\n");
         r.set_instrumental(true);
       },
       "title"},
      {"blank lyrics",
       [](auto& r) {
         r.set_prompt("");
         r.set_style("rock");
         r.set_title("t");
         r.set_lyrics(" \t ");
       },
       "lyrics"},
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
  }
  music::v1::CreateLyricsRequest lyrics;
  lyrics.set_prompt(" \t\n");
  music::v1::CreateLyricsResponse lresp;
  grpc::ClientContext lctx;
  grpc::Status ls = stub_->CreateLyrics(&lctx, lyrics, &lresp);
  EXPECT_EQ(ls.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_EQ(ViolatedFields(ls), std::vector<std::string>{"prompt"});

  // A prompt with words around spaces and controls is fine.
  CreateMusic(" \ta calm piano piece\n");

  music::v1::ListTasksRequest lr;
  music::v1::ListTasksResponse list;
  grpc::ClientContext ctx;
  ASSERT_TRUE(stub_->ListTasks(&ctx, lr, &list).ok());
  EXPECT_EQ(list.tasks_size(), 1);
  // The ledger holds the one accepted task's reservation only.
  auto billing = Billing();
  music::v1::ListBillingTransactionsRequest br;
  music::v1::ListBillingTransactionsResponse bresp;
  grpc::ClientContext bctx;
  ASSERT_TRUE(billing->ListBillingTransactions(&bctx, br, &bresp).ok());
  ASSERT_GE(bresp.transactions_size(), 1);
  for (const auto& t : bresp.transactions()) EXPECT_EQ(t.task_id(), list.tasks(0).task_id());
}

}  // namespace
}  // namespace music::e2e
