#include "tools/musicctl/musicctl.h"

#include <fstream>
#include <memory>
#include <optional>
#include <sstream>
#include <string>
#include <tuple>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/str_cat.h"
#include "grpcpp/create_channel.h"
#include "grpcpp/security/credentials.h"
#include "grpcpp/support/channel_arguments.h"
#include "grpcpp/support/client_interceptor.h"
#include "music/v1/music_service.grpc.pb.h"
#include "tools/musicctl/billing_commands.h"
#include "tools/musicctl/clip_commands.h"
#include "tools/musicctl/commands.h"
#include "tools/musicctl/console.h"

namespace music::musicctl {
namespace {

// Adds `authorization: Bearer <token>` to every call (call credentials would be dropped on a
// plaintext channel, which loopback development uses).
class TokenInterceptor final : public grpc::experimental::Interceptor {
 public:
  explicit TokenInterceptor(const std::string* token) : token_(token) {}
  void Intercept(grpc::experimental::InterceptorBatchMethods* methods) override {
    if (methods->QueryInterceptionHookPoint(
            grpc::experimental::InterceptionHookPoints::PRE_SEND_INITIAL_METADATA)) {
      methods->GetSendInitialMetadata()->insert({"authorization", "Bearer " + *token_});
    }
    methods->Proceed();
  }

 private:
  const std::string* const token_;
};

class TokenInterceptorFactory final : public grpc::experimental::ClientInterceptorFactoryInterface {
 public:
  explicit TokenInterceptorFactory(std::string token) : token_(std::move(token)) {}
  grpc::experimental::Interceptor* CreateClientInterceptor(
      grpc::experimental::ClientRpcInfo* /*info*/) override {
    return new TokenInterceptor(&token_);
  }

 private:
  const std::string token_;
};

// The whole file, or nullopt.
std::optional<std::string> ReadWholeFile(const std::string& path) {
  std::ifstream in(path);
  if (!in) return std::nullopt;
  std::stringstream buffer;
  buffer << in.rdbuf();
  return buffer.str();
}

// The channel the options describe: plaintext or TLS (with a client certificate for mTLS), and
// the caller's token on every call. An unreadable file is an error naming its flag.
absl::StatusOr<std::shared_ptr<grpc::Channel>> MakeChannel(const Options& options,
                                                           const grpc::ChannelArguments& args) {
  std::shared_ptr<grpc::ChannelCredentials> credentials = grpc::InsecureChannelCredentials();
  if (options.tls || !options.ca_file.empty() || !options.cert_file.empty()) {
    grpc::SslCredentialsOptions ssl;
    for (const auto& [flag, path, out] :
         {std::tuple("--ca_file", &options.ca_file, &ssl.pem_root_certs),
          std::tuple("--cert_file", &options.cert_file, &ssl.pem_cert_chain),
          std::tuple("--key_file", &options.key_file, &ssl.pem_private_key)}) {
      if (path->empty()) continue;
      std::optional<std::string> pem = ReadWholeFile(*path);
      if (!pem) return absl::InvalidArgumentError(absl::StrCat(flag, ": cannot read ", *path));
      *out = *std::move(pem);
    }
    if (ssl.pem_cert_chain.empty() != ssl.pem_private_key.empty()) {
      return absl::InvalidArgumentError("--cert_file and --key_file go together");
    }
    credentials = grpc::SslCredentials(ssl);
  }
  std::vector<std::unique_ptr<grpc::experimental::ClientInterceptorFactoryInterface>> interceptors;
  if (!options.token.empty()) {
    interceptors.push_back(std::make_unique<TokenInterceptorFactory>(options.token));
  }
  return grpc::experimental::CreateCustomChannelWithInterceptors(options.server, credentials, args,
                                                                 std::move(interceptors));
}

}  // namespace

int Main(const std::vector<std::string>& args, const EnvLookup& env, std::ostream& out,
         std::ostream& err, bool color) {
  absl::StatusOr<Options> options = ParseArgs(args, env);
  if (!options.ok()) {
    err << "musicctl: " << options.status().message() << "\n\n"
        << ShortUsageText() << "\nRun `musicctl help` for the flags.\n"
        << std::flush;
    return kExitUsage;
  }
  if (options->command == Command::kHelp) {
    out << UsageText() << std::flush;
    return kExitOk;
  }
  Console console;
  console.out = &out;
  console.err = &err;
  console.json = options->json;
  console.verbose = options->verbose;
  console.color = color;
  console.tz = absl::LocalTimeZone();

  if (IsBillingCommand(options->command)) {
    // A ledger export is one message: lift the 4 MB default on what the client accepts.
    grpc::ChannelArguments args;
    args.SetMaxReceiveMessageSize(-1);
    auto made = MakeChannel(*options, args);
    if (!made.ok()) {
      err << "musicctl: " << made.status().message() << "\n" << std::flush;
      return kExitUsage;
    }
    auto channel = *std::move(made);
    auto billing = music::v1::BillingService::NewStub(channel);
    auto reconciliation = music::v1::ReconciliationService::NewStub(channel);
    if (options->command == Command::kBalance) return ProviderBalance(*options, *billing, console);
    return RunBillingCommand(*options, *billing, *reconciliation, console);
  }
  auto made = MakeChannel(*options, grpc::ChannelArguments());
  if (!made.ok()) {
    err << "musicctl: " << made.status().message() << "\n" << std::flush;
    return kExitUsage;
  }
  auto channel = *std::move(made);
  auto stub = music::v1::MusicService::NewStub(channel);
  if (IsClipCommand(options->command)) return RunClipCommand(*options, *stub, console);
  return RunCommand(*options, *stub, console);
}

}  // namespace music::musicctl
