// NewSafeFetcher and IsForbiddenAddress. The positive paths run against real cpp-httplib HTTPS
// servers on 127.0.0.1 (port 0) with a self-signed certificate made here; nothing resolves a
// public name, and every refusal that must happen before the network is checked against the
// servers' hit counters.

// Debian's cpp-httplib.pc defines it too; httplib.h needs it before inclusion either way.
#ifndef CPPHTTPLIB_OPENSSL_SUPPORT
#define CPPHTTPLIB_OPENSSL_SUPPORT
#endif
#include "adapters/http/safe_fetcher.h"

#include <arpa/inet.h>
#include <httplib.h>
#include <netinet/in.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstring>
#include <memory>
#include <ostream>
#include <string>
#include <thread>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "gtest/gtest.h"
#include "tests/testing/self_signed_cert.h"
#include "tests/testing/status_matchers.h"
#include "tests/testing/temp_dir.h"
#include "tests/testing/wait_for.h"

namespace music::http {
namespace {

using ::music::testing::WriteSelfSignedCert;

using ::testing::TestWithParam;

// ---------------------------------------------------------------------------------------------
// IsForbiddenAddress.

sockaddr_storage Addr(const char* text) {
  sockaddr_storage storage;
  std::memset(&storage, 0, sizeof(storage));
  auto* in = reinterpret_cast<sockaddr_in*>(&storage);
  auto* in6 = reinterpret_cast<sockaddr_in6*>(&storage);
  if (inet_pton(AF_INET, text, &in->sin_addr) == 1) {
    in->sin_family = AF_INET;
  } else if (inet_pton(AF_INET6, text, &in6->sin6_addr) == 1) {
    in6->sin6_family = AF_INET6;
  } else {
    ADD_FAILURE() << "not an address: " << text;
  }
  return storage;
}

bool Forbidden(const char* text, bool allow_loopback) {
  const sockaddr_storage storage = Addr(text);
  return IsForbiddenAddress(reinterpret_cast<const sockaddr*>(&storage), allow_loopback);
}

struct AddressCase {
  const char* address;
  bool forbidden;  // with allow_loopback = false
  bool forbidden_with_loopback_allowed;
};

void PrintTo(const AddressCase& c, std::ostream* os) { *os << c.address; }

class IsForbiddenAddressTest : public TestWithParam<AddressCase> {};

TEST_P(IsForbiddenAddressTest, Classifies) {
  const AddressCase& c = GetParam();
  EXPECT_EQ(Forbidden(c.address, false), c.forbidden) << c.address;
  EXPECT_EQ(Forbidden(c.address, true), c.forbidden_with_loopback_allowed)
      << c.address << " with allow_loopback";
}

INSTANTIATE_TEST_SUITE_P(
    Ranges, IsForbiddenAddressTest,
    ::testing::Values(
        // Loopback: the only range allow_loopback opens.
        AddressCase{"127.0.0.1", true, false}, AddressCase{"127.1.2.3", true, false},
        AddressCase{"127.255.255.254", true, false}, AddressCase{"::1", true, false},
        AddressCase{"::ffff:127.0.0.1", true, false},
        // Unspecified / this network.
        AddressCase{"0.0.0.0", true, true}, AddressCase{"0.1.2.3", true, true},
        AddressCase{"::", true, true},
        // Private.
        AddressCase{"10.0.0.1", true, true}, AddressCase{"10.1.2.3", true, true},
        AddressCase{"10.255.255.255", true, true}, AddressCase{"172.16.0.1", true, true},
        AddressCase{"172.31.255.255", true, true}, AddressCase{"192.168.0.1", true, true},
        AddressCase{"192.168.255.255", true, true}, AddressCase{"fc00::1", true, true},
        AddressCase{"fd12:3456:789a::1", true, true},
        // Link-local, the cloud metadata service among them.
        AddressCase{"169.254.169.254", true, true}, AddressCase{"169.254.0.1", true, true},
        AddressCase{"fe80::1", true, true}, AddressCase{"febf:ffff::1", true, true},
        AddressCase{"fec0::1", true, true},
        // CGNAT shared address space.
        AddressCase{"100.64.0.1", true, true}, AddressCase{"100.127.255.255", true, true},
        // Multicast, reserved, broadcast.
        AddressCase{"224.0.0.1", true, true}, AddressCase{"239.255.255.250", true, true},
        AddressCase{"240.0.0.1", true, true}, AddressCase{"255.255.255.255", true, true},
        AddressCase{"ff02::1", true, true}, AddressCase{"ff05::1:3", true, true},
        AddressCase{"100::1", true, true}, AddressCase{"4000::1", true, true},
        // Documentation, benchmarking, protocol assignments.
        AddressCase{"192.0.2.1", true, true}, AddressCase{"198.51.100.7", true, true},
        AddressCase{"203.0.113.9", true, true}, AddressCase{"198.18.0.1", true, true},
        AddressCase{"192.0.0.8", true, true}, AddressCase{"2001:db8::1", true, true},
        AddressCase{"3fff::1", true, true}, AddressCase{"2001:0:4136:e378::1", true, true},
        // IPv4-mapped IPv6 is judged by the IPv4 inside.
        AddressCase{"::ffff:10.0.0.1", true, true},
        AddressCase{"::ffff:169.254.169.254", true, true},
        AddressCase{"::ffff:192.168.1.1", true, true},
        AddressCase{"::ffff:93.184.216.34", false, false},
        // IPv4-compatible (deprecated): refused whatever is inside.
        AddressCase{"::127.0.0.1", true, true}, AddressCase{"::10.0.0.1", true, true},
        AddressCase{"::93.184.216.34", true, true},
        // NAT64 and 6to4 are judged by the IPv4 inside; loopback behind them is never allowed.
        AddressCase{"64:ff9b::10.0.0.1", true, true},
        AddressCase{"64:ff9b::169.254.169.254", true, true},
        AddressCase{"64:ff9b::127.0.0.1", true, true},
        AddressCase{"64:ff9b::93.184.216.34", false, false},
        AddressCase{"64:ff9b:1::1", true, true}, AddressCase{"2002:a00:1::1", true, true},
        AddressCase{"2002:a9fe:a9fe::1", true, true}, AddressCase{"2002:7f00:1::1", true, true},
        AddressCase{"2002:5db8:d822::1", false, false},
        // Public unicast, including the neighbours of forbidden ranges.
        AddressCase{"93.184.216.34", false, false}, AddressCase{"8.8.8.8", false, false},
        AddressCase{"1.1.1.1", false, false}, AddressCase{"9.255.255.255", false, false},
        AddressCase{"11.0.0.0", false, false}, AddressCase{"100.63.255.255", false, false},
        AddressCase{"100.128.0.0", false, false}, AddressCase{"169.253.255.255", false, false},
        AddressCase{"169.255.0.0", false, false}, AddressCase{"172.15.255.255", false, false},
        AddressCase{"172.32.0.0", false, false}, AddressCase{"192.167.255.255", false, false},
        AddressCase{"192.169.0.0", false, false}, AddressCase{"223.255.255.255", false, false},
        AddressCase{"2606:4700::1", false, false}, AddressCase{"2a00:1450:4001::1", false, false},
        AddressCase{"2001:4860:4860::8888", false, false}),
    [](const ::testing::TestParamInfo<AddressCase>& info) {
      // "::ffff:10.0.0.1" -> "__ffff_10_0_0_1": test names allow only [A-Za-z0-9_].
      std::string name = info.param.address;
      for (char& c : name) {
        if (!absl::ascii_isalnum(static_cast<unsigned char>(c))) c = '_';
      }
      return name;
    });

TEST(IsForbiddenAddressTest, NonIpFamiliesAndNullAreForbidden) {
  EXPECT_TRUE(IsForbiddenAddress(nullptr, true));
  sockaddr_un un;
  std::memset(&un, 0, sizeof(un));
  un.sun_family = AF_UNIX;
  std::strcpy(un.sun_path, "/tmp/socket");
  EXPECT_TRUE(IsForbiddenAddress(reinterpret_cast<const sockaddr*>(&un), true));
}

// ---------------------------------------------------------------------------------------------
// Refusals decided before any network traffic.

TEST(SafeFetcherPolicyTest, RefusesForbiddenLiteralsAndSchemesWithoutNetwork) {
  auto fetcher = NewSafeFetcher({});
  struct Case {
    const char* url;
    absl::StatusCode code;
  };
  const Case cases[] = {
      {"https://127.0.0.1/audio.mp3", absl::StatusCode::kInvalidArgument},
      {"https://10.0.0.1/x", absl::StatusCode::kInvalidArgument},
      {"https://169.254.169.254/latest/meta-data", absl::StatusCode::kInvalidArgument},
      {"https://[::ffff:127.0.0.1]/", absl::StatusCode::kInvalidArgument},
      {"https://[::ffff:10.0.0.1]/", absl::StatusCode::kInvalidArgument},
      {"https://[::1]/", absl::StatusCode::kInvalidArgument},
      {"https://[fe80::1]/", absl::StatusCode::kInvalidArgument},
      {"https://[64:ff9b::a9fe:a9fe]/", absl::StatusCode::kInvalidArgument},
      {"https://0.0.0.0/", absl::StatusCode::kInvalidArgument},
      {"https://192.168.1.1:8443/a", absl::StatusCode::kInvalidArgument},
      {"http://example.com", absl::StatusCode::kInvalidArgument},
      {"ftp://example.com/a.mp3", absl::StatusCode::kInvalidArgument},
      {"file:///etc/passwd", absl::StatusCode::kInvalidArgument},
      {"gopher://example.com/", absl::StatusCode::kInvalidArgument},
      {"https://user:pass@example.com/a.mp3", absl::StatusCode::kInvalidArgument},
      {"https://user@example.com/a.mp3", absl::StatusCode::kInvalidArgument},
      {"example.com/a.mp3", absl::StatusCode::kInvalidArgument},
      {"", absl::StatusCode::kInvalidArgument},
      {"https://", absl::StatusCode::kInvalidArgument},
      {"https://exa mple.com/", absl::StatusCode::kInvalidArgument},
  };
  for (const Case& c : cases) {
    const absl::Time start = RealClock::Get()->Now();
    absl::StatusOr<FetchedAudio> fetched = fetcher->Fetch(c.url);
    ASSERT_FALSE(fetched.ok()) << c.url;
    EXPECT_THAT(fetched, StatusIs(c.code)) << c.url << ": " << fetched.status();
    EXPECT_LT(RealClock::Get()->Now() - start, absl::Milliseconds(500)) << c.url;
  }
}

TEST(SafeFetcherPolicyTest, ForbiddenLiteralsStayForbiddenWithLoopbackAllowed) {
  SafeFetchOptions options;
  options.allow_loopback = true;
  auto fetcher = NewSafeFetcher(options);
  for (const char* url : {"https://10.0.0.1/x", "https://169.254.169.254/latest/meta-data",
                          "https://[::ffff:10.0.0.1]/", "https://100.64.0.1/"}) {
    absl::StatusOr<FetchedAudio> fetched = fetcher->Fetch(url);
    ASSERT_FALSE(fetched.ok()) << url;
    EXPECT_THAT(fetched, StatusIs(absl::StatusCode::kInvalidArgument))
        << url << ": " << fetched.status();
  }
}

TEST(SafeFetcherPolicyTest, MessagesDoNotEchoQueryOrPassword) {
  auto fetcher = NewSafeFetcher({});
  for (const char* url : {"https://10.0.0.1/a.mp3?X-Amz-Signature=topsecret",
                          "https://user:topsecret@example.com/a.mp3", "ftp://h/?topsecret"}) {
    absl::StatusOr<FetchedAudio> fetched = fetcher->Fetch(url);
    ASSERT_FALSE(fetched.ok()) << url;
    EXPECT_FALSE(absl::StrContains(fetched.status().message(), "topsecret")) << fetched.status();
  }
}

// ---------------------------------------------------------------------------------------------
// Against real local servers.

// A server running on its own thread until Stop().
struct RunningServer {
  std::unique_ptr<httplib::Server> server;
  std::thread thread;
  int port = 0;

  bool Start() {
    server->set_keep_alive_timeout(1);
    port = server->bind_to_any_port("127.0.0.1");
    if (port <= 0) return false;
    thread = std::thread([this] { server->listen_after_bind(); });
    // stop() is a no-op until the accept loop runs.
    WaitFor([this] { return server->is_running(); }, absl::Seconds(5), "the test server");
    return true;
  }
  void Stop() {
    if (server != nullptr) server->stop();
    if (thread.joinable()) thread.join();
  }
};

std::string AudioBytes() {
  std::string bytes(200000, '\0');
  uint32_t x = 2463534242u;
  for (char& c : bytes) {
    x ^= x << 13;
    x ^= x >> 17;
    x ^= x << 5;
    c = static_cast<char>(x & 0xff);
  }
  return bytes;
}

// One set of servers for the suite: main (HTTPS), other (HTTPS, another port, the "other host"
// of redirects) and plain (HTTP).
class SafeFetcherServerTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    dir_ = std::make_unique<TempDir>("safe_fetcher_test");
    if (dir_->path().empty()) return;
    cert_path_ = dir_->File("cert.pem");
    key_path_ = dir_->File("key.pem");
    if (!WriteSelfSignedCert(cert_path_, key_path_)) return;

    other_.server = std::make_unique<httplib::SSLServer>(cert_path_.c_str(), key_path_.c_str());
    other_.server->Get("/.*", [](const httplib::Request&, httplib::Response& res) {
      ++other_hits_;
      res.set_content("other", "text/plain");
    });
    plain_.server = std::make_unique<httplib::Server>();
    plain_.server->Get("/.*", [](const httplib::Request&, httplib::Response& res) {
      ++plain_hits_;
      res.set_content(Audio(), "audio/mpeg");
    });
    auto* main = new httplib::SSLServer(cert_path_.c_str(), key_path_.c_str());
    main_.server.reset(main);
    if (!main->is_valid() || !other_.Start() || !plain_.Start()) return;
    AddMainRoutes(*main);
    if (!main_.Start()) return;
    ready_ = true;
  }

  static void AddMainRoutes(httplib::Server& s) {
    s.Get("/audio", [](const httplib::Request&, httplib::Response& res) {
      ++main_hits_;
      res.set_content(Audio(), "audio/mpeg");
    });
    s.Get(R"(/bytes/(\d+))", [](const httplib::Request& req, httplib::Response& res) {
      ++main_hits_;
      res.set_content(std::string(std::stoul(req.matches[1]), 'x'), "audio/wav");
    });
    s.Get(R"(/chunked/(\d+))", [](const httplib::Request& req, httplib::Response& res) {
      ++main_hits_;
      const size_t total = std::stoul(req.matches[1]);
      res.set_chunked_content_provider(
          "audio/wav", [total](size_t offset, httplib::DataSink& sink) {
            if (offset >= total) {
              sink.done();
              return true;
            }
            const std::string chunk(std::min<size_t>(4096, total - offset), 'y');
            return sink.write(chunk.data(), chunk.size());
          });
    });
    // Never ends: only a client that stops reading at the cap gets an answer in time.
    s.Get("/endless", [](const httplib::Request&, httplib::Response& res) {
      ++main_hits_;
      res.set_chunked_content_provider("audio/wav", [](size_t, httplib::DataSink& sink) {
        if (stopping_) return false;
        const std::string chunk(16384, 'z');
        endless_bytes_ += chunk.size();
        return sink.write(chunk.data(), chunk.size());
      });
    });
    // Announces 1 GiB, then trickles: refused on the Content-Length alone.
    s.Get("/announced-huge", [](const httplib::Request&, httplib::Response& res) {
      ++main_hits_;
      res.set_content_provider(size_t{1} << 30, "audio/wav",
                               [](size_t, size_t, httplib::DataSink& sink) {
                                 if (stopping_) return false;
                                 ServerDelay(absl::Milliseconds(20), stopping_);
                                 return sink.write("a", 1);
                               });
    });
    // 1000 bytes of a 1 MB body, then silence until the test releases it: a CDN that stalls.
    s.Get("/stall", [](const httplib::Request&, httplib::Response& res) {
      ++main_hits_;
      res.set_content_provider(size_t{1} << 20, "audio/mpeg",
                               [](size_t offset, size_t, httplib::DataSink& sink) {
                                 if (offset == 0) {
                                   stall_started_ = true;
                                   return sink.write(std::string(1000, 's').data(), 1000);
                                 }
                                 while (!stopping_ && !stall_release_) {
                                   ServerDelay(absl::Milliseconds(10), stopping_);
                                 }
                                 return false;  // never the rest of the body
                               });
    });
    s.Get(R"(/status/(\d+))", [](const httplib::Request& req, httplib::Response& res) {
      ++main_hits_;
      res.status = std::stoi(req.matches[1]);
      res.set_content("nope", "text/plain");
    });
    s.Get("/slow", [](const httplib::Request&, httplib::Response& res) {
      ++main_hits_;
      ServerDelay(absl::Seconds(2), stopping_);
      res.set_content("late", "text/plain");
    });
    s.Get(R"(/redirect/(.*))", [](const httplib::Request& req, httplib::Response& res) {
      ++main_hits_;
      const std::string to = req.matches[1];
      if (to == "relative") {
        res.set_redirect("/audio");
      } else if (to == "absolute") {
        res.set_redirect(absl::StrCat("https://127.0.0.1:", main_.port, "/audio"), 301);
      } else if (to == "other-port") {
        res.set_redirect(absl::StrCat("https://127.0.0.1:", other_.port, "/audio"), 307);
      } else if (to == "localhost") {
        res.set_redirect(absl::StrCat("https://localhost:", other_.port, "/audio"));
      } else if (to == "private") {
        res.set_redirect("https://10.0.0.1/audio");
      } else if (to == "metadata") {
        res.set_redirect("https://169.254.169.254/latest/meta-data/", 308);
      } else if (to == "http") {
        res.set_redirect(absl::StrCat("http://127.0.0.1:", plain_.port, "/audio"));
      } else if (to == "userinfo") {
        res.set_redirect(absl::StrCat("https://u:p@127.0.0.1:", main_.port, "/audio"));
      } else if (to == "loop") {
        res.set_redirect("/redirect/loop");
      } else if (to == "no-location") {
        res.status = 302;
      } else if (absl::StartsWith(to, "chain/")) {
        const int left = std::stoi(to.substr(6));
        res.set_redirect(left == 0 ? "/audio" : absl::StrCat("/redirect/chain/", left - 1));
      }
    });
  }

  static void TearDownTestSuite() {
    stopping_ = true;
    main_.Stop();
    other_.Stop();
    plain_.Stop();
    main_.server.reset();
    other_.server.reset();
    plain_.server.reset();
    dir_.reset();  // removes the certificate files
  }

  void SetUp() override { ASSERT_TRUE(ready_) << "test servers did not start"; }

  static const std::string& Audio() {
    static const std::string* audio = new std::string(AudioBytes());
    return *audio;
  }

  static std::string Url(absl::string_view path) {
    return absl::StrCat("https://127.0.0.1:", main_.port, path);
  }

  // What the tests run with: the test CA, loopback allowed, a timeout no test should reach.
  static SafeFetchOptions Options() {
    SafeFetchOptions options;
    options.allow_loopback = true;
    options.ca_file = cert_path_;
    options.total_timeout = absl::Seconds(10);
    return options;
  }

  static absl::StatusCode Code(const absl::StatusOr<FetchedAudio>& fetched) {
    return fetched.status().code();
  }

  static inline std::unique_ptr<TempDir> dir_;
  static inline std::string cert_path_;
  static inline std::string key_path_;
  static inline RunningServer main_;
  static inline RunningServer other_;
  static inline RunningServer plain_;
  static inline bool ready_ = false;
  static inline std::atomic<bool> stopping_{false};
  static inline std::atomic<int> main_hits_{0};
  static inline std::atomic<int> other_hits_{0};
  static inline std::atomic<int> plain_hits_{0};
  static inline std::atomic<size_t> endless_bytes_{0};
  static inline std::atomic<bool> stall_started_{false};
  static inline std::atomic<bool> stall_release_{false};
};

TEST_F(SafeFetcherServerTest, DownloadsOverHttps) {
  auto fetcher = NewSafeFetcher(Options());
  absl::StatusOr<FetchedAudio> fetched = fetcher->Fetch(Url("/audio"));
  ASSERT_THAT(fetched, IsOk());
  EXPECT_EQ(fetched->bytes, Audio());
  EXPECT_EQ(fetched->content_type, "audio/mpeg");
  EXPECT_EQ(fetched->final_url, Url("/audio"));
}

TEST_F(SafeFetcherServerTest, UpperCaseSchemeIsHttps) {
  auto fetcher = NewSafeFetcher(Options());
  absl::StatusOr<FetchedAudio> fetched =
      fetcher->Fetch(absl::StrCat("HTTPS://127.0.0.1:", main_.port, "/audio"));
  ASSERT_THAT(fetched, IsOk());
  EXPECT_EQ(fetched->bytes, Audio());
}

TEST_F(SafeFetcherServerTest, ConcurrentFetchesShareOneFetcher) {
  auto fetcher = NewSafeFetcher(Options());
  std::vector<std::thread> threads;
  std::atomic<int> good{0};
  for (int i = 0; i < 4; ++i) {
    threads.emplace_back([&] {
      absl::StatusOr<FetchedAudio> fetched = fetcher->Fetch(Url("/audio"));
      if (fetched.ok() && fetched->bytes == Audio()) ++good;
    });
  }
  for (std::thread& t : threads) t.join();
  EXPECT_EQ(good, 4);
}

TEST_F(SafeFetcherServerTest, LoopbackLiteralRefusedByDefaultBeforeConnecting) {
  SafeFetchOptions options = Options();
  options.allow_loopback = false;
  auto fetcher = NewSafeFetcher(options);
  const int hits = main_hits_;
  absl::StatusOr<FetchedAudio> fetched = fetcher->Fetch(Url("/audio"));
  EXPECT_EQ(Code(fetched), absl::StatusCode::kInvalidArgument) << fetched.status();
  EXPECT_EQ(main_hits_, hits);
}

// "localhost" passes every URL check; only the connect-time check sees that it is loopback.
TEST_F(SafeFetcherServerTest, NameResolvingToLoopbackRefusedAtConnect) {
  SafeFetchOptions options = Options();
  options.allow_loopback = false;
  auto fetcher = NewSafeFetcher(options);
  const int hits = main_hits_;
  absl::StatusOr<FetchedAudio> fetched =
      fetcher->Fetch(absl::StrCat("https://localhost:", main_.port, "/audio"));
  ASSERT_EQ(Code(fetched), absl::StatusCode::kPermissionDenied) << fetched.status();
  EXPECT_TRUE(absl::StrContains(fetched.status().message(), "loopback")) << fetched.status();
  // The reason is named, the address is not.
  EXPECT_FALSE(absl::StrContains(fetched.status().message(), "127.0.0.1")) << fetched.status();
  EXPECT_EQ(main_hits_, hits);

  // The same URL with loopback allowed works, so the refusal above was the address check.
  fetched =
      NewSafeFetcher(Options())->Fetch(absl::StrCat("https://localhost:", main_.port, "/audio"));
  ASSERT_THAT(fetched, IsOk());
  EXPECT_EQ(fetched->bytes, Audio());
}

// libcurl rewrites numeric IPv4 spellings; whichever check catches them, none connects.
TEST_F(SafeFetcherServerTest, NumericHostSpellingsOfLoopbackRefused) {
  SafeFetchOptions options = Options();
  options.allow_loopback = false;
  auto fetcher = NewSafeFetcher(options);
  const int hits = main_hits_;
  for (const char* host :
       {"2130706433", "0x7f.1", "127.1", "0177.0.0.1", "[::1]", "[0:0:0:0:0:ffff:7f00:1]"}) {
    absl::StatusOr<FetchedAudio> fetched =
        fetcher->Fetch(absl::StrCat("https://", host, ":", main_.port, "/audio"));
    ASSERT_FALSE(fetched.ok()) << host;
    EXPECT_TRUE(Code(fetched) == absl::StatusCode::kInvalidArgument ||
                Code(fetched) == absl::StatusCode::kPermissionDenied)
        << host << ": " << fetched.status();
  }
  EXPECT_EQ(main_hits_, hits);
}

TEST_F(SafeFetcherServerTest, TlsVerificationIsOn) {
  SafeFetchOptions options = Options();
  options.ca_file.clear();  // the system bundle does not know the test certificate
  const int hits = main_hits_;
  absl::StatusOr<FetchedAudio> fetched = NewSafeFetcher(options)->Fetch(Url("/audio"));
  EXPECT_EQ(Code(fetched), absl::StatusCode::kFailedPrecondition) << fetched.status();
  EXPECT_EQ(main_hits_, hits);
}

TEST_F(SafeFetcherServerTest, UserinfoRefused) {
  auto fetcher = NewSafeFetcher(Options());
  absl::StatusOr<FetchedAudio> fetched =
      fetcher->Fetch(absl::StrCat("https://user:pw@127.0.0.1:", main_.port, "/audio"));
  EXPECT_EQ(Code(fetched), absl::StatusCode::kInvalidArgument) << fetched.status();
}

TEST_F(SafeFetcherServerTest, BodyOfExactlyMaxBytesIsAccepted) {
  SafeFetchOptions options = Options();
  options.max_bytes = 50000;
  absl::StatusOr<FetchedAudio> fetched = NewSafeFetcher(options)->Fetch(Url("/bytes/50000"));
  ASSERT_THAT(fetched, IsOk());
  EXPECT_EQ(fetched->bytes.size(), 50000u);
  fetched = NewSafeFetcher(options)->Fetch(Url("/chunked/50000"));
  ASSERT_THAT(fetched, IsOk());
  EXPECT_EQ(fetched->bytes.size(), 50000u);
}

TEST_F(SafeFetcherServerTest, BodyOverMaxBytesWithContentLengthRefused) {
  SafeFetchOptions options = Options();
  options.max_bytes = 50000;
  absl::StatusOr<FetchedAudio> fetched = NewSafeFetcher(options)->Fetch(Url("/bytes/50001"));
  EXPECT_EQ(Code(fetched), absl::StatusCode::kFailedPrecondition) << fetched.status();
  EXPECT_TRUE(absl::StrContains(fetched.status().message(), "50000")) << fetched.status();
}

TEST_F(SafeFetcherServerTest, BodyOverMaxBytesChunkedRefused) {
  SafeFetchOptions options = Options();
  options.max_bytes = 50000;
  absl::StatusOr<FetchedAudio> fetched = NewSafeFetcher(options)->Fetch(Url("/chunked/50001"));
  EXPECT_EQ(Code(fetched), absl::StatusCode::kFailedPrecondition) << fetched.status();
}

TEST_F(SafeFetcherServerTest, EndlessBodyStopsAtTheCap) {
  SafeFetchOptions options = Options();
  options.max_bytes = 1 << 20;
  const absl::Time start = RealClock::Get()->Now();
  absl::StatusOr<FetchedAudio> fetched = NewSafeFetcher(options)->Fetch(Url("/endless"));
  EXPECT_EQ(Code(fetched), absl::StatusCode::kFailedPrecondition) << fetched.status();
  EXPECT_LT(RealClock::Get()->Now() - start, absl::Seconds(5));
}

TEST_F(SafeFetcherServerTest, AnnouncedContentLengthOverCapRefusedUpFront) {
  SafeFetchOptions options = Options();
  options.max_bytes = 1 << 20;
  const absl::Time start = RealClock::Get()->Now();
  absl::StatusOr<FetchedAudio> fetched = NewSafeFetcher(options)->Fetch(Url("/announced-huge"));
  EXPECT_EQ(Code(fetched), absl::StatusCode::kFailedPrecondition) << fetched.status();
  // The body trickles at 50 B/s: only the announced length can have stopped it this fast.
  EXPECT_LT(RealClock::Get()->Now() - start, absl::Seconds(2));
}

TEST_F(SafeFetcherServerTest, NotFoundNamesTheStatus) {
  absl::StatusOr<FetchedAudio> fetched = NewSafeFetcher(Options())->Fetch(Url("/status/404"));
  EXPECT_EQ(Code(fetched), absl::StatusCode::kFailedPrecondition) << fetched.status();
  EXPECT_TRUE(absl::StrContains(fetched.status().message(), "404")) << fetched.status();
  fetched = NewSafeFetcher(Options())->Fetch(Url("/status/503"));
  EXPECT_EQ(Code(fetched), absl::StatusCode::kFailedPrecondition) << fetched.status();
  EXPECT_TRUE(absl::StrContains(fetched.status().message(), "503")) << fetched.status();
}

TEST_F(SafeFetcherServerTest, SlowServerTimesOut) {
  SafeFetchOptions options = Options();
  options.total_timeout = absl::Milliseconds(300);
  const absl::Time start = RealClock::Get()->Now();
  absl::StatusOr<FetchedAudio> fetched = NewSafeFetcher(options)->Fetch(Url("/slow"));
  EXPECT_EQ(Code(fetched), absl::StatusCode::kDeadlineExceeded) << fetched.status();
  EXPECT_LT(RealClock::Get()->Now() - start, absl::Seconds(1.5));
}

TEST_F(SafeFetcherServerTest, RedirectToSameHostIsFollowed) {
  auto fetcher = NewSafeFetcher(Options());
  for (const char* path : {"/redirect/relative", "/redirect/absolute", "/redirect/chain/2"}) {
    absl::StatusOr<FetchedAudio> fetched = fetcher->Fetch(Url(path));
    ASSERT_THAT(fetched, IsOk()) << path << ": " << fetched.status();
    EXPECT_EQ(fetched->bytes, Audio()) << path;
    EXPECT_EQ(fetched->final_url, Url("/audio")) << path;
  }
}

TEST_F(SafeFetcherServerTest, RedirectsAreCapped) {
  SafeFetchOptions options = Options();
  options.max_redirects = 3;
  auto fetcher = NewSafeFetcher(options);
  absl::StatusOr<FetchedAudio> fetched = fetcher->Fetch(Url("/redirect/chain/2"));  // 3 hops
  ASSERT_THAT(fetched, IsOk());
  fetched = fetcher->Fetch(Url("/redirect/chain/3"));  // 4 hops
  EXPECT_EQ(Code(fetched), absl::StatusCode::kFailedPrecondition) << fetched.status();
  fetched = fetcher->Fetch(Url("/redirect/loop"));
  EXPECT_EQ(Code(fetched), absl::StatusCode::kFailedPrecondition) << fetched.status();
  options.max_redirects = 0;
  fetched = NewSafeFetcher(options)->Fetch(Url("/redirect/relative"));
  EXPECT_EQ(Code(fetched), absl::StatusCode::kFailedPrecondition) << fetched.status();
}

TEST_F(SafeFetcherServerTest, RedirectWithoutLocationFails) {
  absl::StatusOr<FetchedAudio> fetched =
      NewSafeFetcher(Options())->Fetch(Url("/redirect/no-location"));
  EXPECT_EQ(Code(fetched), absl::StatusCode::kFailedPrecondition) << fetched.status();
}

TEST_F(SafeFetcherServerTest, RedirectToAnotherHostOrPortRefused) {
  auto fetcher = NewSafeFetcher(Options());
  const int other_hits = other_hits_;
  for (const char* path : {"/redirect/localhost", "/redirect/other-port"}) {
    absl::StatusOr<FetchedAudio> fetched = fetcher->Fetch(Url(path));
    EXPECT_EQ(Code(fetched), absl::StatusCode::kPermissionDenied)
        << path << ": " << fetched.status();
  }
  EXPECT_EQ(other_hits_, other_hits);
}

// allow_loopback opens loopback only: a redirect to a private or metadata address is refused.
TEST_F(SafeFetcherServerTest, RedirectToPrivateOrMetadataRefusedEvenWithLoopbackAllowed) {
  auto fetcher = NewSafeFetcher(Options());
  for (const char* path : {"/redirect/private", "/redirect/metadata"}) {
    const absl::Time start = RealClock::Get()->Now();
    absl::StatusOr<FetchedAudio> fetched = fetcher->Fetch(Url(path));
    EXPECT_EQ(Code(fetched), absl::StatusCode::kPermissionDenied)
        << path << ": " << fetched.status();
    // Refused, not attempted: there is nothing to connect to on this machine.
    EXPECT_LT(RealClock::Get()->Now() - start, absl::Seconds(2)) << path;
  }
}

TEST_F(SafeFetcherServerTest, RedirectToHttpRefused) {
  const int plain_hits = plain_hits_;
  absl::StatusOr<FetchedAudio> fetched = NewSafeFetcher(Options())->Fetch(Url("/redirect/http"));
  EXPECT_EQ(Code(fetched), absl::StatusCode::kPermissionDenied) << fetched.status();
  // Not even allow_http permits a downgrade from https.
  SafeFetchOptions options = Options();
  options.allow_http = true;
  fetched = NewSafeFetcher(options)->Fetch(Url("/redirect/http"));
  EXPECT_EQ(Code(fetched), absl::StatusCode::kPermissionDenied) << fetched.status();
  EXPECT_EQ(plain_hits_, plain_hits);
}

TEST_F(SafeFetcherServerTest, RedirectWithUserinfoRefused) {
  absl::StatusOr<FetchedAudio> fetched =
      NewSafeFetcher(Options())->Fetch(Url("/redirect/userinfo"));
  EXPECT_EQ(Code(fetched), absl::StatusCode::kPermissionDenied) << fetched.status();
}

TEST_F(SafeFetcherServerTest, PlainHttpOnlyWithAllowHttp) {
  const std::string url = absl::StrCat("http://127.0.0.1:", plain_.port, "/audio");
  const int plain_hits = plain_hits_;
  absl::StatusOr<FetchedAudio> fetched = NewSafeFetcher(Options())->Fetch(url);
  EXPECT_EQ(Code(fetched), absl::StatusCode::kInvalidArgument) << fetched.status();
  EXPECT_EQ(plain_hits_, plain_hits);

  SafeFetchOptions options = Options();
  options.allow_http = true;
  fetched = NewSafeFetcher(options)->Fetch(url);
  ASSERT_THAT(fetched, IsOk());
  EXPECT_EQ(fetched->bytes, Audio());
}

TEST_F(SafeFetcherServerTest, ClosedPortIsUnavailable) {
  // Bind a port, then close it: nothing listens there afterwards.
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  ASSERT_GE(fd, 0);
  sockaddr_in addr;
  std::memset(&addr, 0, sizeof(addr));
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ASSERT_EQ(bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)), 0);
  socklen_t len = sizeof(addr);
  ASSERT_EQ(getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len), 0);
  close(fd);
  absl::StatusOr<FetchedAudio> fetched = NewSafeFetcher(Options())->Fetch(
      absl::StrCat("https://127.0.0.1:", ntohs(addr.sin_port), "/audio"));
  EXPECT_EQ(Code(fetched), absl::StatusCode::kUnavailable) << fetched.status();
}

// Shutdown within its grace (issue 11): a download stalled mid-body ends at AbortInFlight, long
// before total_timeout, and the fetcher keeps working for fetches started afterwards.
TEST_F(SafeFetcherServerTest, AbortInFlightEndsAStalledFetchAndLaterFetchesWork) {
  SafeFetchOptions options = Options();
  options.total_timeout = absl::Seconds(30);
  auto fetcher = NewSafeFetcher(options);
  absl::StatusOr<FetchedAudio> stalled;
  std::thread fetch([&] { stalled = fetcher->Fetch(Url("/stall")); });
  const bool started = WaitFor([] { return stall_started_.load(); }, absl::Seconds(5),
                               "the stalled body to start");
  const absl::Time abort = RealClock::Get()->Now();
  fetcher->AbortInFlight();
  fetch.join();
  const absl::Duration took = RealClock::Get()->Now() - abort;
  stall_release_ = true;
  ASSERT_TRUE(started);
  EXPECT_THAT(stalled, StatusIs(absl::StatusCode::kUnavailable,
                                ::testing::HasSubstr("aborted: shutting down")));
  // libcurl's progress callback runs about once a second while nothing arrives.
  EXPECT_LT(took, absl::Seconds(3));

  absl::StatusOr<FetchedAudio> later = fetcher->Fetch(Url("/audio"));
  ASSERT_THAT(later, IsOk());
  EXPECT_EQ(later->bytes, Audio());
}

}  // namespace
}  // namespace music::http
