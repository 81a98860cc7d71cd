#include "tools/musicctl/musicctl.h"

#include "absl/status/statusor.h"
#include "grpcpp/create_channel.h"
#include "grpcpp/security/credentials.h"
#include "grpcpp/support/channel_arguments.h"
#include "music/v1/music_service.grpc.pb.h"
#include "tools/musicctl/billing_commands.h"
#include "tools/musicctl/clip_commands.h"
#include "tools/musicctl/commands.h"
#include "tools/musicctl/console.h"

namespace music::musicctl {

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
    auto channel =
        grpc::CreateCustomChannel(options->server, grpc::InsecureChannelCredentials(), args);
    auto billing = music::v1::BillingService::NewStub(channel);
    auto reconciliation = music::v1::ReconciliationService::NewStub(channel);
    if (options->command == Command::kBalance) return ProviderBalance(*options, *billing, console);
    return RunBillingCommand(*options, *billing, *reconciliation, console);
  }
  auto channel = grpc::CreateChannel(options->server, grpc::InsecureChannelCredentials());
  auto stub = music::v1::MusicService::NewStub(channel);
  if (IsClipCommand(options->command)) return RunClipCommand(*options, *stub, console);
  return RunCommand(*options, *stub, console);
}

}  // namespace music::musicctl
