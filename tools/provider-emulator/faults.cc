#include "tools/provider-emulator/faults.h"

#include <utility>

#include "absl/strings/ascii.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"

namespace music::emulator {

void ParseDirectives(absl::string_view text, Directives* out) {
  constexpr absl::string_view kOpen = "[emu:";
  size_t pos = 0;
  while ((pos = text.find(kOpen, pos)) != absl::string_view::npos) {
    const size_t start = pos + kOpen.size();
    const size_t end = text.find(']', start);
    if (end == absl::string_view::npos) return;
    pos = end + 1;
    absl::string_view body = absl::StripAsciiWhitespace(text.substr(start, end - start));
    absl::string_view name = body;
    absl::string_view value;
    if (const size_t eq = body.find('='); eq != absl::string_view::npos) {
      name = absl::StripAsciiWhitespace(body.substr(0, eq));
      value = absl::StripAsciiWhitespace(body.substr(eq + 1));
    }
    if (name == "fail") {
      out->fail_status = absl::AsciiStrToUpper(value);
    } else if (name == "no_audio") {
      out->no_audio = true;
    } else if (name == "lose_callbacks") {
      out->lose_callbacks = true;
    } else if (name == "duplicate_callbacks") {
      out->duplicate_callbacks = true;
    } else if (name == "reorder_callbacks") {
      out->reorder_callbacks = true;
    } else if (name == "malformed_poll") {
      int n = 1;
      if (!value.empty() && (!absl::SimpleAtoi(value, &n) || n < 0)) n = 1;
      out->malformed_polls = n;
    } else if (name == "slow_create") {
      out->slow_create = true;
    } else if (name == "malformed_create") {
      out->malformed_create = true;
    } else if (name == "create_error") {
      out->create_error = std::string(value);
    } else if (name == "task_error") {
      out->task_error = std::string(value);
    } else if (name == "task_error_once") {
      out->task_error_once = std::string(value);
    } else if (name == "duration_ms") {
      int64_t ms = 0;
      if (absl::SimpleAtoi(value, &ms) && ms >= 0) out->duration = absl::Milliseconds(ms);
    }
  }
}

absl::Status ValidateFaultConfig(const FaultConfig& c) {
  const std::pair<const char*, double> rates[] = {
      {"create_429_rate", c.create_429_rate},
      {"create_500_rate", c.create_500_rate},
      {"create_slow_rate", c.create_slow_rate},
      {"create_malformed_rate", c.create_malformed_rate},
      {"poll_500_rate", c.poll_500_rate},
      {"poll_malformed_rate", c.poll_malformed_rate},
      {"poll_slow_rate", c.poll_slow_rate},
      {"success_without_audio_rate", c.success_without_audio_rate},
      {"lose_callback_rate", c.lose_callback_rate},
      {"duplicate_callback_rate", c.duplicate_callback_rate},
      {"reorder_callbacks_rate", c.reorder_callbacks_rate},
      {"generate_audio_failed_rate", c.generate_audio_failed_rate},
      {"sensitive_word_rate", c.sensitive_word_rate},
  };
  for (const auto& [name, rate] : rates) {
    if (!(rate >= 0 && rate <= 1)) {
      return absl::InvalidArgumentError(absl::StrCat(name, " must be in [0,1], got ", rate));
    }
  }
  if (c.create_429_count < 0 || c.create_500_count < 0 || c.kie_402_count < 0) {
    return absl::InvalidArgumentError(
        "create_429_count, create_500_count and kie_402_count must be >= 0");
  }
  if (c.slow_delay < absl::ZeroDuration()) {
    return absl::InvalidArgumentError("slow_delay must be >= 0");
  }
  return absl::OkStatus();
}

FaultInjector::FaultInjector(const FaultConfig& config) { Set(config); }

void FaultInjector::Set(const FaultConfig& config) {
  absl::MutexLock lock(&mu_);
  config_ = config;
  rng_.seed(config.seed);
}

FaultConfig FaultInjector::Get() const {
  absl::MutexLock lock(&mu_);
  return config_;
}

absl::Duration FaultInjector::slow_delay() const {
  absl::MutexLock lock(&mu_);
  return config_.slow_delay;
}

bool FaultInjector::Draw(double rate) {
  // 53 random bits -> [0,1); the same on every platform, unlike std::uniform_real_distribution.
  const double u = static_cast<double>(rng_() >> 11) * 0x1.0p-53;
  return u < rate;
}

CreateFaults FaultInjector::NextCreate() {
  absl::MutexLock lock(&mu_);
  CreateFaults faults;
  const bool rate_limited = Draw(config_.create_429_rate);
  const bool server_error = Draw(config_.create_500_rate);
  faults.slow = Draw(config_.create_slow_rate);
  faults.malformed = Draw(config_.create_malformed_rate);
  if (config_.create_429_count > 0) {
    --config_.create_429_count;
    faults.rejection = CreateRejection::kRateLimited;
  } else if (config_.create_500_count > 0) {
    --config_.create_500_count;
    faults.rejection = CreateRejection::kServerError;
  } else if (rate_limited) {
    faults.rejection = CreateRejection::kRateLimited;
  } else if (server_error) {
    faults.rejection = CreateRejection::kServerError;
  }
  return faults;
}

bool FaultInjector::TakeKie402() {
  absl::MutexLock lock(&mu_);
  if (config_.kie_402_count <= 0) return false;
  --config_.kie_402_count;
  return true;
}

bool FaultInjector::kie_key_refused() const {
  absl::MutexLock lock(&mu_);
  return config_.kie_key_refused;
}

PollFaults FaultInjector::NextPoll() {
  absl::MutexLock lock(&mu_);
  PollFaults faults;
  faults.server_error = Draw(config_.poll_500_rate);
  faults.malformed = Draw(config_.poll_malformed_rate);
  faults.slow = Draw(config_.poll_slow_rate);
  return faults;
}

TaskFaults FaultInjector::NextTask() {
  absl::MutexLock lock(&mu_);
  TaskFaults faults;
  faults.no_audio = Draw(config_.success_without_audio_rate);
  faults.lose_callbacks = Draw(config_.lose_callback_rate);
  faults.duplicate_callbacks = Draw(config_.duplicate_callback_rate);
  faults.reorder_callbacks = Draw(config_.reorder_callbacks_rate);
  faults.generate_failed = Draw(config_.generate_audio_failed_rate);
  faults.sensitive_word = Draw(config_.sensitive_word_rate);
  return faults;
}

}  // namespace music::emulator
