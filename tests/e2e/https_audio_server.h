#ifndef MUSIC_TESTS_E2E_HTTPS_AUDIO_SERVER_H_
#define MUSIC_TESTS_E2E_HTTPS_AUDIO_SERVER_H_

#include <httplib.h>

#include <atomic>
#include <memory>
#include <string>
#include <thread>

#include "absl/strings/str_cat.h"
#include "adapters/http/safe_fetcher.h"
#include "tests/testing/self_signed_cert.h"
#include "tests/testing/temp_dir.h"
#include "tests/testing/wait_for.h"

namespace music::e2e {

/// An https server on 127.0.0.1 (a self-signed certificate) serving `GET /hum.mp3`, and an
/// SSRF-safe fetcher that trusts it: loopback allowed by the fetcher's explicit test switch. For
/// e2e tests of a reference_audio_uri. Start() before use; the destructor stops it.
class HttpsAudioServer {
 public:
  /// 64 KiB that sniff as MP3 (an ID3 header).
  static std::string Mp3() {
    std::string bytes = std::string("ID3\x04", 4);
    bytes.resize(64 << 10);
    for (size_t i = 4; i < bytes.size(); ++i) bytes[i] = static_cast<char>((i * 2654435761u) >> 24);
    return bytes;
  }

  bool Start() {
    if (dir_.path().empty()) return false;
    const std::string cert = dir_.File("cert.pem");
    const std::string key = dir_.File("key.pem");
    if (!music::testing::WriteSelfSignedCert(cert, key)) return false;
    server_ = std::make_unique<httplib::SSLServer>(cert.c_str(), key.c_str());
    server_->Get("/hum.mp3", [this](const httplib::Request&, httplib::Response& res) {
      ++hits_;
      res.set_content(Mp3(), "audio/mpeg");
    });
    server_->set_keep_alive_timeout(1);
    port_ = server_->bind_to_any_port("127.0.0.1");
    thread_ = std::thread([this] { server_->listen_after_bind(); });
    if (!WaitFor([&] { return server_->is_running(); }, absl::Seconds(5), "the https server")) {
      return false;
    }
    http::SafeFetchOptions options;
    options.allow_loopback = true;  // the test switch: the server is on 127.0.0.1
    options.ca_file = cert;
    options.total_timeout = absl::Seconds(10);
    fetcher_ = http::NewSafeFetcher(options);
    return true;
  }

  ~HttpsAudioServer() {
    if (server_) server_->stop();
    if (thread_.joinable()) thread_.join();
  }

  /// https://127.0.0.1:<port>/hum.mp3
  std::string url() const { return absl::StrCat("https://127.0.0.1:", port_, "/hum.mp3"); }
  /// GETs of /hum.mp3 so far.
  int hits() const { return hits_.load(); }
  /// The fetcher to hand the engine (ServerOptions::engine.reference_fetcher).
  http::ReferenceAudioFetcher* fetcher() const { return fetcher_.get(); }

 private:
  TempDir dir_{"https_audio"};
  std::unique_ptr<httplib::SSLServer> server_;
  std::thread thread_;
  int port_ = 0;
  std::atomic<int> hits_{0};
  std::unique_ptr<http::ReferenceAudioFetcher> fetcher_;
};

}  // namespace music::e2e

#endif  // MUSIC_TESTS_E2E_HTTPS_AUDIO_SERVER_H_
