#ifndef MUSIC_TOOLS_MUSICCTL_OPTIONS_H_
#define MUSIC_TOOLS_MUSICCTL_OPTIONS_H_

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "music/v1/task.pb.h"

namespace music::musicctl {

/// Process exit codes.
inline constexpr int kExitOk = 0;
/// An RPC failed (or a watch gave up before the task ended).
inline constexpr int kExitRpcError = 1;
/// The watched task ended FAILED or CANCELED.
inline constexpr int kExitTaskFailed = 2;
/// billing check-ledger found violations, or reconcile found more discrepancies than allowed.
inline constexpr int kExitFindings = 3;
/// The command line was wrong (sysexits EX_USAGE).
inline constexpr int kExitUsage = 64;

/// Server address used when neither --server nor MUSIC_SERVER is given.
inline constexpr char kDefaultServer[] = "127.0.0.1:50051";

/// The subcommands.
enum class Command {
  kHelp,
  kCreate,
  kLyrics,
  kContinue,
  kGet,
  kList,
  kCancel,
  kModels,
  kWatch,
  kDownload,
  kBillingList,
  kBillingExport,
  kBillingImportUsage,
  kBillingCheckLedger,
  kReconcile,
  kStems,
  kWav,
  kVideo,
  kLyricsTiming,
  kBoostStyle,
  kBalance,
  /// An operation on the caller's own audio (CreateAudioOperation), from a local file
  /// (uploaded first) or --reference_audio_uri / --reference_audio_id; always watched.
  kCover,
  kAudioOp,
};

/// True for the commands of BillingService and ReconciliationService.
inline bool IsBillingCommand(Command c) {
  return c == Command::kBillingList || c == Command::kBillingExport ||
         c == Command::kBillingImportUsage || c == Command::kBillingCheckLedger ||
         c == Command::kReconcile || c == Command::kBalance;
}

/// Everything the command line says. Fields that a command does not take keep their defaults.
struct Options {
  Command command = Command::kHelp;

  // Common to every command.
  std::string server = kDefaultServer;
  absl::Duration timeout = absl::Seconds(30);
  bool json = false;
  bool verbose = false;
  /// Bearer token sent as `authorization: Bearer <token>` (default $MUSIC_TOKEN); "" = none.
  /// Never printed.
  std::string token;
  /// TLS to the server; ca_file: the CA bundle that signed the server's certificate ("" = the
  /// system's); cert_file / key_file: a client certificate for mTLS (both or neither).
  bool tls = false;
  std::string ca_file;
  std::string cert_file;
  std::string key_file;

  // create / lyrics / continue.
  std::string request_id;
  std::string model;
  std::string prompt;
  std::string style;
  std::string title;
  std::string lyrics;
  /// Read the lyrics from this file ("-" is stdin); exclusive with `lyrics`.
  std::string lyrics_file;
  bool instrumental = false;
  std::string negative_tags;
  std::string reference_audio_uri;
  std::string reference_audio_id;
  int64_t seed = 0;
  std::string clip_id;
  double continue_at_seconds = 0;
  /// Watch the created task until it ends.
  bool watch = false;
  /// cover / audio-op: the operation (cover: COVER; audio-op: its first argument). The local
  /// audio file, when given, is `file`.
  music::v1::AudioOperation audio_operation = music::v1::AUDIO_OPERATION_UNSPECIFIED;

  // get / cancel / watch.
  std::string task_id;
  int64_t since_version = 0;
  /// Total time a watch may take, reconnects included.
  absl::Duration watch_timeout = absl::Seconds(600);

  // download: the clip (default the first) and the output file (default
  // "<task_id>[-<clip>]<extension of the content type>"; "-" is stdout).
  std::string clip;
  std::string out;

  // list.
  music::v1::TaskState state = music::v1::TASK_STATE_UNSPECIFIED;
  music::v1::TaskKind kind = music::v1::TASK_KIND_UNSPECIFIED;
  int32_t page_size = 0;
  std::string page_token;
  /// Follow next_page_token to the last page.
  bool all = false;

  // billing / reconcile.
  /// Time range; InfinitePast / InfiniteFuture when not given.
  absl::Time start = absl::InfinitePast();
  absl::Time end = absl::InfiniteFuture();
  /// billing export: "csv" or "json" (JSON lines).
  std::string format = "csv";
  /// billing import-usage: the provider and the usage file ("-" is stdin).
  std::string provider;
  std::string file;
  /// reconcile: comma-separated providers; "" means all.
  std::string providers;
  int64_t tolerance_micros = 0;
  bool dry_run = false;
  /// reconcile: tasks with only a reservation or only usage younger than this before --end are
  /// left for a later run; nullopt: the server's default (1 hour).
  std::optional<absl::Duration> in_flight_grace;
  /// reconcile exits kExitFindings when it finds more discrepancies than this.
  int64_t max_discrepancies = 0;

  // stems / wav / video / lyrics-timing (the clip is `clip_id`, given as the argument).
  /// stems: all stems (split_stem) instead of vocals + instrumental.
  bool split = false;
  /// video: the author and domain name shown in the video.
  std::string author;
  std::string domain;
  /// lyrics-timing: write the LRC file here ("" or "-": stdout).
  std::string lrc;
};

/// Looks up an environment variable; nullopt when unset.
using EnvLookup = std::function<std::optional<std::string>(absl::string_view name)>;

/// The process environment (getenv).
std::optional<std::string> ProcessEnv(absl::string_view name);

/// Parses `args` (argv without the program name): the subcommand first, then its flags
/// (`--name=value`, `--name value`, `--bool`, `--nobool`) and positional arguments in any order;
/// `--` ends the flags. MUSIC_SERVER (from `env`) replaces the default server. Returns
/// INVALID_ARGUMENT with a one-line reason on a usage error.
absl::StatusOr<Options> ParseArgs(const std::vector<std::string>& args, const EnvLookup& env);

/// The usage text: every command and its flags.
std::string UsageText();

/// The first part of UsageText: the commands and their synopses, without the flag list.
std::string ShortUsageText();

/// Parses a --state value ("succeeded", "SUCCEEDED", "TASK_STATE_SUCCEEDED", ...).
std::optional<music::v1::TaskState> ParseTaskState(absl::string_view text);

/// Parses a --kind value ("music", "lyrics", "continuation", or the TASK_KIND_ names).
std::optional<music::v1::TaskKind> ParseTaskKind(absl::string_view text);

}  // namespace music::musicctl

#endif  // MUSIC_TOOLS_MUSICCTL_OPTIONS_H_
