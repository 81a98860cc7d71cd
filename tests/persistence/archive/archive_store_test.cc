// The ArchiveStore contract, run on the local directory store and on the S3 store against a real
// S3-compatible server (s3rver, started by the suite on a loopback port in a temp dir).
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <httplib.h>
#include <openssl/hmac.h>

#include <filesystem>
#include <fstream>
#include <functional>
#include <memory>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/escaping.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "domain/sha256.h"
#include "persistence/archive/local_archive_store.h"
#include "persistence/archive/s3_archive_store.h"
#include "persistence/archive_store.h"
#include "tests/testing/s3rver.h"
#include "tests/testing/status_matchers.h"
#include "tests/testing/temp_dir.h"

namespace music::persistence {
namespace {

using ::testing::HasSubstr;
using ::testing::StartsWith;

ArchiveObject ObjectOf(const std::string& bytes, std::string type = "audio/wav") {
  return {domain::Sha256Hex(bytes), static_cast<int64_t>(bytes.size()), std::move(type)};
}

// Bytes with every value and no repeating pattern short enough to hide an offset error.
std::string Pattern(size_t n) {
  std::string s(n, '\0');
  uint32_t x = 2463534242u;
  for (char& c : s) {
    x ^= x << 13;
    x ^= x >> 17;
    x ^= x << 5;
    c = static_cast<char>(x & 0xff);
  }
  return s;
}

struct Backend {
  std::string name;
  std::function<std::unique_ptr<ArchiveStore>(const std::string& dir)> open;
};

class ArchiveStoreTest : public ::testing::TestWithParam<std::string> {
 protected:
  static void SetUpTestSuite() {
    s3_dir_ = new TempDir("s3rver");
    s3rver_ = new S3rverProcess();
    ASSERT_TRUE(s3rver_->Start(s3_dir_->path(), "music-archive"));
  }
  static void TearDownTestSuite() {
    delete s3rver_;  // stops the server before its directory goes
    s3rver_ = nullptr;
    delete s3_dir_;
    s3_dir_ = nullptr;
  }

  void SetUp() override {
    if (GetParam() == "directory") {
      auto store = OpenLocalArchiveStore(dir_.File("archive"));
      ASSERT_THAT(store.status(), IsOk());
      store_ = *std::move(store);
    } else {
      ASSERT_NE(s3rver_, nullptr);
      ASSERT_GT(s3rver_->port(), 0);
      S3ArchiveOptions options;
      options.endpoint = s3rver_->endpoint();
      options.bucket = "music-archive";
      options.access_key_id = S3rverProcess::kAccessKey;
      options.secret_access_key = S3rverProcess::kSecretKey;
      // Each test in its own prefix: the server outlives the tests.
      options.key_prefix = ::testing::UnitTest::GetInstance()->current_test_info()->name();
      for (char& c : options.key_prefix) {
        if (c == '/') c = '-';
      }
      auto store = OpenS3ArchiveStore(options);
      ASSERT_THAT(store.status(), IsOk());
      store_ = *std::move(store);
    }
  }

  static TempDir* s3_dir_;
  static S3rverProcess* s3rver_;
  TempDir dir_{"archive_store"};
  std::unique_ptr<ArchiveStore> store_;
};

TempDir* ArchiveStoreTest::s3_dir_ = nullptr;
S3rverProcess* ArchiveStoreTest::s3rver_ = nullptr;

TEST_P(ArchiveStoreTest, PutThenReadBackWholeAndRanges) {
  const std::string bytes = Pattern(300'000);
  const std::string key = "default/t1/c1/audio.wav";
  EXPECT_THAT(store_->Exists(key), IsOkAndHolds(false));
  ASSERT_THAT(store_->Put(key, bytes, ObjectOf(bytes)), IsOk());
  EXPECT_THAT(store_->Exists(key), IsOkAndHolds(true));
  EXPECT_THAT(store_->Size(key), IsOkAndHolds(300'000));
  auto all = store_->Read(key, 0, 1 << 30);
  ASSERT_THAT(all.status(), IsOk());
  EXPECT_EQ(domain::Sha256Hex(*all), domain::Sha256Hex(bytes));
  EXPECT_THAT(store_->Read(key, 1000, 17), IsOkAndHolds(bytes.substr(1000, 17)));
  EXPECT_THAT(store_->Read(key, 299'990, 100), IsOkAndHolds(bytes.substr(299'990)));
  EXPECT_THAT(store_->Read(key, 300'000, 10), IsOkAndHolds(""));
  EXPECT_THAT(store_->Read(key, 0, 0), IsOkAndHolds(""));
  EXPECT_THAT(store_->Read(key, 300'001, 1), StatusIs(absl::StatusCode::kOutOfRange));
  EXPECT_THAT(store_->Read(key, -1, 1), StatusIs(absl::StatusCode::kOutOfRange));
  EXPECT_THAT(store_->Read(key, 0, -1), StatusIs(absl::StatusCode::kInvalidArgument));
}

TEST_P(ArchiveStoreTest, PutReplacesAnEarlierObject) {
  const std::string key = "default/t1/c1/image.png";
  ASSERT_THAT(store_->Put(key, "first version", ObjectOf("first version", "image/png")), IsOk());
  ASSERT_THAT(store_->Put(key, "second", ObjectOf("second", "image/png")), IsOk());
  EXPECT_THAT(store_->Read(key, 0, 100), IsOkAndHolds("second"));
  EXPECT_THAT(store_->Size(key), IsOkAndHolds(6));
}

TEST_P(ArchiveStoreTest, PutRefusesBytesThatDoNotMatchTheDeclaredSizeOrChecksum) {
  const std::string key = "default/t1/c1/audio.wav";
  ArchiveObject object = ObjectOf("abc");
  object.size_bytes = 4;
  EXPECT_THAT(store_->Put(key, "abc", object), StatusIs(absl::StatusCode::kInvalidArgument));
  object = ObjectOf("abd");
  EXPECT_THAT(store_->Put(key, "abc", object),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("SHA-256")));
  EXPECT_THAT(store_->Exists(key), IsOkAndHolds(false));
}

TEST_P(ArchiveStoreTest, MissingObjectsAreNotFound) {
  EXPECT_THAT(store_->Size("default/none/c/audio.wav"), StatusIs(absl::StatusCode::kNotFound));
  EXPECT_THAT(store_->Read("default/none/c/audio.wav", 0, 10),
              StatusIs(absl::StatusCode::kNotFound));
}

TEST_P(ArchiveStoreTest, BadKeysAreRefusedBeforeAnyIo) {
  for (const char* key : {"", "/abs", "a//b", "a/../b", "..", "a/./b", "a/b c", "a/%2e%2e",
                          "trailing/"}) {
    EXPECT_THAT(store_->Put(key, "x", ObjectOf("x")), StatusIs(absl::StatusCode::kInvalidArgument))
        << key;
    EXPECT_THAT(store_->Read(key, 0, 1), StatusIs(absl::StatusCode::kInvalidArgument)) << key;
  }
}

TEST_P(ArchiveStoreTest, ConcurrentPutsOfDifferentKeysAllLand) {
  std::vector<std::thread> threads;
  for (int i = 0; i < 8; ++i) {
    threads.emplace_back([this, i] {
      const std::string bytes = Pattern(1000 + static_cast<size_t>(i));
      EXPECT_THAT(store_->Put(absl::StrCat("default/t", i, "/c/audio.wav"), bytes, ObjectOf(bytes)),
                  IsOk());
    });
  }
  for (std::thread& t : threads) t.join();
  for (int i = 0; i < 8; ++i) {
    EXPECT_THAT(store_->Size(absl::StrCat("default/t", i, "/c/audio.wav")),
                IsOkAndHolds(1000 + i));
  }
}

TEST_P(ArchiveStoreTest, LocationNamesTheObject) {
  const std::string location = store_->Location("default/t1/c1/audio.wav");
  if (GetParam() == "directory") {
    EXPECT_THAT(location, StartsWith("file:///"));
  } else {
    EXPECT_THAT(location, StartsWith("s3://music-archive/"));
  }
  EXPECT_THAT(location, ::testing::EndsWith("/default/t1/c1/audio.wav"));
}

INSTANTIATE_TEST_SUITE_P(Backends, ArchiveStoreTest, ::testing::Values("directory", "s3"),
                         [](const auto& info) { return info.param; });

// What only the directory store does.

TEST(LocalArchiveStoreTest, ObjectsAreFilesUnderTheRootAndNoTemporaryFileIsLeft) {
  TempDir dir("local_archive");
  auto store = OpenLocalArchiveStore(dir.File("a/b/archive"));
  ASSERT_THAT(store.status(), IsOk());
  ASSERT_THAT((*store)->Put("default/t1/c1/audio.wav", "RIFFdata", ObjectOf("RIFFdata")), IsOk());
  std::ifstream in(dir.File("a/b/archive/default/t1/c1/audio.wav"), std::ios::binary);
  std::stringstream content;
  content << in.rdbuf();
  EXPECT_EQ(content.str(), "RIFFdata");
  int files = 0;
  for (const auto& entry :
       std::filesystem::recursive_directory_iterator(dir.File("a/b/archive"))) {
    if (entry.is_regular_file()) ++files;
  }
  EXPECT_EQ(files, 1);
  EXPECT_EQ((*store)->Location("default/t1/c1/audio.wav"),
            "file://" + std::filesystem::path(dir.File("a/b/archive/default/t1/c1/audio.wav"))
                            .lexically_normal()
                            .string());
}

TEST(LocalArchiveStoreTest, RootThatIsAFileIsRefused) {
  TempDir dir("local_archive");
  std::ofstream(dir.File("file")) << "x";
  EXPECT_THAT(OpenLocalArchiveStore(dir.File("file")).status(),
              StatusIs(absl::StatusCode::kInternal));
  EXPECT_THAT(OpenLocalArchiveStore("").status(), StatusIs(absl::StatusCode::kInvalidArgument));
}

TEST(S3ArchiveStoreTest, BadOptionsAreRefused) {
  S3ArchiveOptions options;
  options.endpoint = "ftp://example.com";
  options.bucket = "b";
  EXPECT_THAT(OpenS3ArchiveStore(options).status(), StatusIs(absl::StatusCode::kInvalidArgument));
  options.endpoint = "https://s3.example.com";
  options.bucket = "";
  EXPECT_THAT(OpenS3ArchiveStore(options).status(), StatusIs(absl::StatusCode::kInvalidArgument));
}

TEST(S3ArchiveStoreTest, AnUnknownAccessKeyIsPermissionDenied) {
  TempDir dir("s3rver_keys");
  S3rverProcess server;
  ASSERT_TRUE(server.Start(dir.path(), "music-archive"));
  S3ArchiveOptions options;
  options.endpoint = server.endpoint();
  options.bucket = "music-archive";
  options.access_key_id = "NOT-A-KEY";
  options.secret_access_key = "x";
  auto store = OpenS3ArchiveStore(options);
  ASSERT_THAT(store.status(), IsOk());
  EXPECT_THAT((*store)->Put("default/t/c/audio.wav", "x", ObjectOf("x")),
              StatusIs(absl::StatusCode::kPermissionDenied));
}

TEST(S3ArchiveStoreTest, AServerThatIsDownIsUnavailable) {
  S3ArchiveOptions options;
  options.endpoint = "http://127.0.0.1:1";  // nothing listens on port 1
  options.bucket = "music-archive";
  options.access_key_id = "k";
  options.secret_access_key = "s";
  auto store = OpenS3ArchiveStore(options);
  ASSERT_THAT(store.status(), IsOk());
  EXPECT_THAT((*store)->Size("default/t/c/audio.wav"), StatusIs(absl::StatusCode::kUnavailable));
}

// s3rver does not recompute V4 signatures, so this test does: a local HTTP server records what
// the S3 store sends, and the signature is computed again from the received request with the
// AWS Signature Version 4 algorithm (canonical request, string to sign, derived key).
std::string Hmac(absl::string_view key, absl::string_view data) {
  unsigned char out[32];
  unsigned int len = 0;
  HMAC(EVP_sha256(), key.data(), static_cast<int>(key.size()),
       reinterpret_cast<const unsigned char*>(data.data()), data.size(), out, &len);
  return std::string(reinterpret_cast<const char*>(out), len);
}

std::string ExpectedSignature(const httplib::Request& req, const std::string& secret,
                              const std::string& region) {
  // Authorization: AWS4-HMAC-SHA256 Credential=KEY/DATE/REGION/s3/aws4_request,
  // SignedHeaders=a;b;c, Signature=hex
  const std::string auth = req.get_header_value("Authorization");
  const size_t sh = auth.find("SignedHeaders=");
  const std::string signed_headers =
      auth.substr(sh + 14, auth.find(',', sh) - (sh + 14));
  const std::string amz_date = req.get_header_value("x-amz-date");
  const std::string date = amz_date.substr(0, 8);
  std::string canonical_headers;
  for (absl::string_view name : absl::StrSplit(signed_headers, ';')) {
    canonical_headers += absl::StrCat(
        name, ":", absl::StripAsciiWhitespace(req.get_header_value(std::string(name))), "\n");
  }
  const std::string canonical =
      absl::StrCat(req.method, "\n", req.path, "\n", "", "\n", canonical_headers, "\n",
                   signed_headers, "\n", req.get_header_value("x-amz-content-sha256"));
  const std::string scope = absl::StrCat(date, "/", region, "/s3/aws4_request");
  const std::string to_sign = absl::StrCat("AWS4-HMAC-SHA256\n", amz_date, "\n", scope, "\n",
                                           domain::Sha256Hex(canonical));
  std::string key = Hmac(absl::StrCat("AWS4", secret), date);
  key = Hmac(key, region);
  key = Hmac(key, "s3");
  key = Hmac(key, "aws4_request");
  return absl::BytesToHexString(Hmac(key, to_sign));
}

TEST(S3ArchiveStoreTest, RequestsCarryAValidSigV4SignatureAndThePayloadHash) {
  httplib::Server server;
  absl::Mutex mu;
  std::vector<httplib::Request> seen;
  auto record = [&](const httplib::Request& req, httplib::Response& res) {
    {
      absl::MutexLock lock(&mu);
      seen.push_back(req);
    }
    // The stored object; httplib answers HEAD with its length and a Range with its slice.
    if (req.method != "PUT") res.set_content("hello", "audio/wav");
  };
  server.Put(".*", record);
  server.Get(".*", record);
  const int port = server.bind_to_any_port("127.0.0.1");
  ASSERT_GT(port, 0);
  std::thread thread([&] { server.listen_after_bind(); });

  S3ArchiveOptions options;
  options.endpoint = absl::StrCat("http://127.0.0.1:", port);
  options.bucket = "music-archive";
  options.region = "eu-west-3";
  options.access_key_id = "AKIDEXAMPLE";
  options.secret_access_key = "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY";
  auto store = OpenS3ArchiveStore(options);
  ASSERT_THAT(store.status(), IsOk());
  EXPECT_THAT((*store)->Put("default/t1/c1/audio.wav", "hello", ObjectOf("hello")), IsOk());
  EXPECT_THAT((*store)->Read("default/t1/c1/audio.wav", 1, 3), IsOkAndHolds("ell"));
  server.stop();
  thread.join();

  absl::MutexLock lock(&mu);
  ASSERT_EQ(seen.size(), 3u);  // PUT, HEAD (the size), ranged GET
  EXPECT_EQ(seen[0].method, "PUT");
  EXPECT_EQ(seen[0].path, "/music-archive/default/t1/c1/audio.wav");
  EXPECT_EQ(seen[0].body, "hello");
  EXPECT_EQ(seen[0].get_header_value("x-amz-content-sha256"), domain::Sha256Hex("hello"));
  EXPECT_EQ(seen[0].get_header_value("Content-Type"), "audio/wav");
  EXPECT_EQ(seen[1].method, "HEAD");
  EXPECT_EQ(seen[2].get_header_value("Range"), "bytes=1-3");
  EXPECT_EQ(seen[2].get_header_value("x-amz-content-sha256"), domain::Sha256Hex(""));
  for (const httplib::Request& req : seen) {
    const std::string auth = req.get_header_value("Authorization");
    EXPECT_THAT(auth, StartsWith("AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/"));
    EXPECT_THAT(auth, HasSubstr("/eu-west-3/s3/aws4_request"));
    EXPECT_THAT(auth, HasSubstr("x-amz-content-sha256"));  // the payload hash is signed
    EXPECT_THAT(auth, HasSubstr(absl::StrCat(
                          "Signature=", ExpectedSignature(req, options.secret_access_key,
                                                          "eu-west-3"))))
        << req.method;
  }
}

}  // namespace
}  // namespace music::persistence
