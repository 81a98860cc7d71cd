// provider-emulator: serves kie.ai's Suno API contract (adapters/kie/WIRE.md) with fault injection
// until SIGINT or SIGTERM. See README.md in this directory.
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <string>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/flags/usage.h"
#include "absl/status/status.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/time/time.h"
#include "tools/provider-emulator/emulator.h"
#include "tools/provider-emulator/faults.h"

ABSL_FLAG(std::string, host, "127.0.0.1", "Address to bind.");
ABSL_FLAG(int, port, 0, "Port to bind; 0 picks a free one (see --port_file).");
ABSL_FLAG(std::string, port_file, "", "If set, the bound port is written there once listening.");
ABSL_FLAG(std::string, kie_api_key, "emulator-kie-key",
          "Bearer key the kie API requires (empty: no check). When the flag is not given, "
          "$KIE_API_KEY is used if set.");
ABSL_FLAG(std::string, kie_webhook_hmac_key, "",
          "If set, kie callbacks carry X-Webhook-Timestamp and X-Webhook-Signature.");
ABSL_FLAG(std::string, piapi_api_key, "emulator-piapi-key",
          "x-api-key the PiAPI routes require (empty: no check); $PIAPI_API_KEY when not given.");
ABSL_FLAG(std::string, tokenlab_api_key, "emulator-tokenlab-key",
          "Bearer key the TokenLab routes require (empty: no check); $TOKENLAB_API_KEY when not "
          "given.");
ABSL_FLAG(
    std::string, beatra_api_key, "emulator-beatra-key",
    "Bearer key the beatra routes require (empty: no check); $BEATRA_API_KEY when not given.");
ABSL_FLAG(int64_t, task_duration_ms, 2000, "Time from creation to SUCCESS of every task.");
ABSL_FLAG(std::string, public_base_url, "",
          "Base of the audio/image URLs handed out (default http://host:port).");
ABSL_FLAG(double, clip_seconds, 8, "Length of the synthesised WAV clips.");
ABSL_FLAG(int64_t, callback_timeout_ms, 15000, "Timeout of one callback attempt.");
ABSL_FLAG(int, callback_max_retries, 3, "Callback retries after the first attempt.");
ABSL_FLAG(int64_t, callback_retry_backoff_ms, 200, "Retry n of a callback waits n times this.");
ABSL_FLAG(int, server_threads, 32,
          "Threads answering HTTP (one per open keep-alive connection; a slow poll holds one for "
          "--slow_delay_ms). Load tests raise it.");
ABSL_FLAG(int, callback_workers, 4, "Threads delivering callbacks.");

ABSL_FLAG(double, create_429_rate, 0, "Share of creates answered 429 (405 on lyrics).");
ABSL_FLAG(double, create_500_rate, 0, "Share of creates answered 500.");
ABSL_FLAG(double, create_slow_rate, 0, "Share of creates answered after --slow_delay_ms.");
ABSL_FLAG(double, create_malformed_rate, 0,
          "Share of creates answered with a truncated body (the task is created).");
ABSL_FLAG(int, create_429_count, 0, "Answer the next N creates 429.");
ABSL_FLAG(int, create_500_count, 0, "Then answer the next N creates 500.");
ABSL_FLAG(bool, media_expired, false,
          "Answer every media download (audio, stream, image) 403, as an expired link.");
ABSL_FLAG(int, kie_402_count, 0, "Answer the next N kie.ai creates 402 Insufficient Credits.");
ABSL_FLAG(bool, kie_key_refused, false, "Answer every kie.ai request 401 (a revoked key).");
ABSL_FLAG(bool, kie_rate_limits, false,
          "Enforce kie.ai's account limits: 20 creates per 10 s (429), 3 record-info requests per "
          "second per task (429).");
ABSL_FLAG(int64_t, slow_delay_ms, 3000, "How long slow creates and polls wait.");
ABSL_FLAG(double, poll_500_rate, 0, "Share of polls answered 500.");
ABSL_FLAG(double, poll_malformed_rate, 0, "Share of polls answered with a truncated body.");
ABSL_FLAG(double, poll_slow_rate, 0, "Share of polls answered after --slow_delay_ms.");
ABSL_FLAG(double, success_without_audio_rate, 0, "Share of tasks that succeed without audio.");
ABSL_FLAG(double, lose_callback_rate, 0, "Share of tasks whose callbacks are never sent.");
ABSL_FLAG(double, duplicate_callback_rate, 0, "Share of tasks whose callbacks are sent twice.");
ABSL_FLAG(double, reorder_callbacks_rate, 0,
          "Share of tasks whose callbacks arrive complete-first.");
ABSL_FLAG(double, generate_audio_failed_rate, 0,
          "Share of tasks ending GENERATE_AUDIO_FAILED (lyrics: GENERATE_LYRICS_FAILED).");
ABSL_FLAG(double, sensitive_word_rate, 0, "Share of tasks ending SENSITIVE_WORD_ERROR.");
ABSL_FLAG(uint64_t, seed, 1, "Seed of the fault generator.");

namespace {

// Whether --NAME (or -NAME) appears before a bare "--".
bool FlagGiven(int argc, char** argv, const std::string& name) {
  for (int i = 1; i < argc; ++i) {
    const std::string arg = argv[i];
    if (arg == "--") break;
    for (const std::string& prefix : {"--" + name, "-" + name}) {
      if (arg == prefix || absl::StartsWith(arg, prefix + "=")) return true;
    }
  }
  return false;
}

bool WritePortFile(const std::string& path, int port) {
  const std::string tmp = path + ".tmp";
  {
    std::ofstream out(tmp, std::ios::trunc);
    if (!(out << port << "\n")) return false;
  }
  return std::rename(tmp.c_str(), path.c_str()) == 0;
}

}  // namespace

int main(int argc, char** argv) {
  absl::SetProgramUsageMessage(
      "Serves kie.ai's Suno API contract with fault injection. Example:\n"
      "  provider-emulator --port 8089 --task_duration_ms 1000 --create_429_rate 0.1");
  const bool key_given = FlagGiven(argc, argv, "kie_api_key");
  const bool piapi_key_given = FlagGiven(argc, argv, "piapi_api_key");
  const bool tokenlab_key_given = FlagGiven(argc, argv, "tokenlab_api_key");
  const bool beatra_key_given = FlagGiven(argc, argv, "beatra_api_key");
  absl::ParseCommandLine(argc, argv);

  music::emulator::EmulatorOptions options;
  options.host = absl::GetFlag(FLAGS_host);
  options.port = absl::GetFlag(FLAGS_port);
  options.kie_api_key = absl::GetFlag(FLAGS_kie_api_key);
  if (const char* env = std::getenv("KIE_API_KEY"); !key_given && env != nullptr && *env != '\0') {
    options.kie_api_key = env;
  }
  options.kie_webhook_hmac_key = absl::GetFlag(FLAGS_kie_webhook_hmac_key);
  // A key flag wins; otherwise the variable the service reads its key from, so both agree.
  auto key = [](bool given, const std::string& flag, const char* env_name) {
    const char* env = std::getenv(env_name);
    return !given && env != nullptr && *env != '\0' ? std::string(env) : flag;
  };
  options.piapi_api_key = key(piapi_key_given, absl::GetFlag(FLAGS_piapi_api_key), "PIAPI_API_KEY");
  options.tokenlab_api_key =
      key(tokenlab_key_given, absl::GetFlag(FLAGS_tokenlab_api_key), "TOKENLAB_API_KEY");
  options.beatra_api_key =
      key(beatra_key_given, absl::GetFlag(FLAGS_beatra_api_key), "BEATRA_API_KEY");
  options.task_duration = absl::Milliseconds(absl::GetFlag(FLAGS_task_duration_ms));
  options.public_base_url = absl::GetFlag(FLAGS_public_base_url);
  options.clip_seconds = absl::GetFlag(FLAGS_clip_seconds);
  options.callback_timeout = absl::Milliseconds(absl::GetFlag(FLAGS_callback_timeout_ms));
  options.callback_max_retries = absl::GetFlag(FLAGS_callback_max_retries);
  options.callback_retry_backoff =
      absl::Milliseconds(absl::GetFlag(FLAGS_callback_retry_backoff_ms));
  options.server_threads = absl::GetFlag(FLAGS_server_threads);
  options.callback_workers = absl::GetFlag(FLAGS_callback_workers);

  music::emulator::FaultConfig& f = options.faults;
  f.create_429_rate = absl::GetFlag(FLAGS_create_429_rate);
  f.create_500_rate = absl::GetFlag(FLAGS_create_500_rate);
  f.create_slow_rate = absl::GetFlag(FLAGS_create_slow_rate);
  f.create_malformed_rate = absl::GetFlag(FLAGS_create_malformed_rate);
  f.create_429_count = absl::GetFlag(FLAGS_create_429_count);
  f.create_500_count = absl::GetFlag(FLAGS_create_500_count);
  f.slow_delay = absl::Milliseconds(absl::GetFlag(FLAGS_slow_delay_ms));
  f.media_expired = absl::GetFlag(FLAGS_media_expired);
  f.kie_402_count = absl::GetFlag(FLAGS_kie_402_count);
  f.kie_key_refused = absl::GetFlag(FLAGS_kie_key_refused);
  options.kie_rate_limits = absl::GetFlag(FLAGS_kie_rate_limits);
  f.poll_500_rate = absl::GetFlag(FLAGS_poll_500_rate);
  f.poll_malformed_rate = absl::GetFlag(FLAGS_poll_malformed_rate);
  f.poll_slow_rate = absl::GetFlag(FLAGS_poll_slow_rate);
  f.success_without_audio_rate = absl::GetFlag(FLAGS_success_without_audio_rate);
  f.lose_callback_rate = absl::GetFlag(FLAGS_lose_callback_rate);
  f.duplicate_callback_rate = absl::GetFlag(FLAGS_duplicate_callback_rate);
  f.reorder_callbacks_rate = absl::GetFlag(FLAGS_reorder_callbacks_rate);
  f.generate_audio_failed_rate = absl::GetFlag(FLAGS_generate_audio_failed_rate);
  f.sensitive_word_rate = absl::GetFlag(FLAGS_sensitive_word_rate);
  f.seed = absl::GetFlag(FLAGS_seed);
  if (absl::Status status = music::emulator::ValidateFaultConfig(f); !status.ok()) {
    std::fprintf(stderr, "provider-emulator: %s\n", std::string(status.message()).c_str());
    return 2;
  }
  if (options.task_duration < absl::ZeroDuration() || options.callback_max_retries < 0 ||
      options.server_threads < 1 || options.callback_workers < 1) {
    std::fprintf(stderr,
                 "provider-emulator: durations and retries must be >= 0, thread counts >= 1\n");
    return 2;
  }

  // Block the stop signals before any thread starts, so that only sigwait below sees them.
  sigset_t stop_signals;
  sigemptyset(&stop_signals);
  sigaddset(&stop_signals, SIGINT);
  sigaddset(&stop_signals, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &stop_signals, nullptr);

  music::emulator::ProviderEmulator emulator(options);
  if (absl::Status status = emulator.Start(); !status.ok()) {
    std::fprintf(stderr, "provider-emulator: %s\n", status.ToString().c_str());
    return 1;
  }
  const std::string port_file = absl::GetFlag(FLAGS_port_file);
  if (!port_file.empty() && !WritePortFile(port_file, emulator.port())) {
    std::fprintf(stderr, "provider-emulator: cannot write %s\n", port_file.c_str());
    return 1;
  }
  std::printf("provider-emulator listening on %s\n", emulator.base_url().c_str());
  std::fflush(stdout);

  int signal_number = 0;
  sigwait(&stop_signals, &signal_number);
  std::fprintf(stderr, "provider-emulator: signal %d, stopping\n", signal_number);
  emulator.Stop();
  return 0;
}
