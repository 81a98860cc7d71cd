// libFuzzer target: the callback endpoint's request handling below the HTTP listener, i.e. what
// CallbackServer's handler hands TaskEngine::HandleCallback to run: each provider adapter's
// ParseCallback (signature / secret checks, then the body parsers) on an arbitrary
// http::Request, for every task kind. The input is "<header lines>\n\n<body>" (a "Name: value"
// per line) or a bare body. kie.ai runs with and without a webhook HMAC key, PiAPI with its
// webhook secret, which the harness supplies when the input's headers carry
// "x-webhook-secret: $" so the fuzzer reaches the body parser behind the check. Seeds: the
// providers' callback samples (seed 004 kie.ai, seed 003 PiAPI; corpus/callback_request).
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>

#include "absl/strings/str_split.h"
#include "absl/strings/string_view.h"
#include "absl/strings/strip.h"
#include "adapters/beatra/beatra_adapter.h"
#include "adapters/http/http_types.h"
#include "adapters/kie/kie_adapter.h"
#include "adapters/piapi/piapi_adapter.h"
#include "adapters/tokenlab/tokenlab_adapter.h"
#include "tests/fuzz/fuzz_checks.h"

namespace {

namespace adapters = music::adapters;
constexpr char kPiapiSecret[] = "fuzz-webhook-secret";

struct Adapters {
  std::unique_ptr<adapters::ProviderAdapter> kie_signed, kie_unsigned, piapi, tokenlab, beatra;
};

// Built once: no client is ever used (ParseCallback sends nothing), so none is given.
const Adapters& All() {
  static const Adapters* all = [] {
    auto* a = new Adapters;
    adapters::kie::KieOptions kie;
    kie.api_key = "fuzz-key";
    a->kie_unsigned = adapters::kie::NewKieAdapter(kie, nullptr);
    kie.webhook_hmac_key = "fuzz-hmac-key";
    a->kie_signed = adapters::kie::NewKieAdapter(kie, nullptr);
    adapters::piapi::PiapiOptions piapi;
    piapi.api_key = "fuzz-key";
    piapi.webhook_secret = kPiapiSecret;
    a->piapi = adapters::piapi::NewPiapiAdapter(piapi, nullptr);
    adapters::tokenlab::TokenlabOptions tokenlab;
    tokenlab.api_key = "fuzz-key";
    a->tokenlab = adapters::tokenlab::NewTokenlabAdapter(tokenlab, nullptr);
    adapters::beatra::BeatraOptions beatra;
    beatra.api_key = "fuzz-key";
    a->beatra = adapters::beatra::NewBeatraAdapter(beatra, nullptr);
    return a;
  }();
  return *all;
}

music::http::Request ToRequest(absl::string_view input) {
  music::http::Request request;
  request.method = "POST";
  request.url = "/callbacks/fuzz/tsk_0000000000000000";
  const size_t split = input.find("\n\n");
  if (split == absl::string_view::npos) {
    request.body = std::string(input);
    return request;
  }
  for (absl::string_view line : absl::StrSplit(input.substr(0, split), '\n')) {
    const size_t colon = line.find(':');
    if (colon == absl::string_view::npos) continue;
    std::string name(absl::StripAsciiWhitespace(line.substr(0, colon)));
    std::string value(absl::StripAsciiWhitespace(line.substr(colon + 1)));
    if (value == "$") value = kPiapiSecret;
    request.headers.emplace_back(std::move(name), std::move(value));
  }
  request.body = std::string(input.substr(split + 2));
  return request;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const music::http::Request request =
      ToRequest(absl::string_view(reinterpret_cast<const char*>(data), size));
  const Adapters& a = All();
  for (int k = music::v1::TaskKind_MIN; k <= music::v1::TaskKind_MAX; ++k) {
    if (!music::v1::TaskKind_IsValid(k)) continue;
    const auto kind = static_cast<music::v1::TaskKind>(k);
    for (adapters::ProviderAdapter* adapter :
         {a.kie_signed.get(), a.kie_unsigned.get(), a.piapi.get(), a.tokenlab.get(),
          a.beatra.get()}) {
      music::fuzz::CheckUpdate(adapter->ParseCallback(kind, request));
    }
  }
  return 0;
}
