#include "tools/musicctl/options.h"

#include <cstdlib>
#include <utility>
#include <type_traits>

#include "absl/flags/marshalling.h"
#include "absl/status/status.h"
#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/strip.h"

namespace music::musicctl {
namespace {

using Setter = bool (*)(Options&, absl::string_view, std::string*);

/// One flag: its name, its value placeholder (nullptr for booleans), its help and how it is set.
struct FlagDef {
  const char* name;
  const char* arg;
  const char* help;
  Setter set;
};

/// Sets a member of any type absl::ParseFlag knows (string, bool, integers, double).
template <auto Member>
bool SetValue(Options& options, absl::string_view text, std::string* error) {
  using T = std::remove_reference_t<decltype(options.*Member)>;
  return absl::ParseFlag<T>(text, &(options.*Member), error);
}

/// Sets a duration member from seconds ("2.5") or an absl duration ("1m30s").
template <auto Member>
bool SetSeconds(Options& options, absl::string_view text, std::string* error) {
  double seconds = 0;
  absl::Duration duration;
  if (absl::SimpleAtod(text, &seconds)) {
    duration = absl::Seconds(seconds);
  } else if (!absl::ParseDuration(text, &duration)) {
    *error = "not a number of seconds";
    return false;
  }
  if (duration <= absl::ZeroDuration()) {
    *error = "must be greater than 0";
    return false;
  }
  options.*Member = duration;
  return true;
}

bool SetState(Options& options, absl::string_view text, std::string* error) {
  auto state = ParseTaskState(text);
  if (!state) {
    *error = "expected pending, running, succeeded, failed or canceled";
    return false;
  }
  options.state = *state;
  return true;
}

bool SetKind(Options& options, absl::string_view text, std::string* error) {
  auto kind = ParseTaskKind(text);
  if (!kind) {
    *error = "expected music, lyrics or continuation";
    return false;
  }
  options.kind = *kind;
  return true;
}

/// Sets a time member from RFC 3339 ("2026-11-23T00:00:00Z").
template <auto Member>
bool SetTime(Options& options, absl::string_view text, std::string* error) {
  absl::Time t;
  if (!absl::ParseTime(absl::RFC3339_full, std::string(text), &t, error)) {
    *error = "expected an RFC 3339 time such as 2026-11-23T00:00:00Z";
    return false;
  }
  options.*Member = t;
  return true;
}

bool SetGrace(Options& options, absl::string_view text, std::string* error) {
  double seconds = 0;
  absl::Duration grace;
  if (absl::SimpleAtod(text, &seconds)) {
    grace = absl::Seconds(seconds);
  } else if (!absl::ParseDuration(text, &grace)) {
    *error = "not a number of seconds";
    return false;
  }
  if (grace < absl::ZeroDuration()) {
    *error = "must not be negative";
    return false;
  }
  options.in_flight_grace = grace;
  return true;
}

bool SetFormat(Options& options, absl::string_view text, std::string* error) {
  const std::string f = absl::AsciiStrToLower(text);
  if (f != "csv" && f != "json" && f != "jsonl") {
    *error = "expected csv or json";
    return false;
  }
  options.format = f == "jsonl" ? "json" : f;
  return true;
}

bool SetHelp(Options& options, absl::string_view text, std::string* error) {
  bool help = false;
  if (!absl::ParseFlag(text, &help, error)) return false;
  if (help) options.command = Command::kHelp;
  return true;
}

const FlagDef kFlags[] = {
    {"server", "HOST:PORT", "MusicService address (default $MUSIC_SERVER, else 127.0.0.1:50051)",
     &SetValue<&Options::server>},
    {"timeout", "SECONDS", "deadline of each unary call (default 30)",
     &SetSeconds<&Options::timeout>},
    {"json", nullptr, "print the proto messages as JSON, one per line", &SetValue<&Options::json>},
    {"verbose", nullptr, "also show watch heartbeats", &SetValue<&Options::verbose>},
    {"help", nullptr, "print this help", &SetHelp},
    {"token", "TOKEN", "bearer token of the caller (default $MUSIC_TOKEN)",
     &SetValue<&Options::token>},
    {"tls", nullptr, "connect with TLS (implied by --ca_file / --cert_file)",
     &SetValue<&Options::tls>},
    {"ca_file", "PEM", "CA bundle that signed the server's certificate (default: the system's)",
     &SetValue<&Options::ca_file>},
    {"cert_file", "PEM", "client certificate for mTLS (with --key_file)",
     &SetValue<&Options::cert_file>},
    {"key_file", "PEM", "client certificate's private key (with --cert_file)",
     &SetValue<&Options::key_file>},
    {"request_id", "ID", "idempotency key: repeating it returns the same task",
     &SetValue<&Options::request_id>},
    {"model", "M", "catalog model name (see `musicctl models`)", &SetValue<&Options::model>},
    {"prompt", "TEXT", "description of the music, or what the lyrics are about",
     &SetValue<&Options::prompt>},
    {"style", "S", "music style / tags", &SetValue<&Options::style>},
    {"title", "T", "song title", &SetValue<&Options::title>},
    {"lyrics", "L", "exact lyrics to sing", &SetValue<&Options::lyrics>},
    {"lyrics_file", "F", "read the lyrics from file F (- for stdin)",
     &SetValue<&Options::lyrics_file>},
    {"instrumental", nullptr, "no vocals", &SetValue<&Options::instrumental>},
    {"negative_tags", "N", "styles to avoid", &SetValue<&Options::negative_tags>},
    {"reference_audio_uri", "URL", "https URL of reference audio (models that take it)",
     &SetValue<&Options::reference_audio_uri>},
    {"reference_audio_id", "ID", "reference audio uploaded with UploadReferenceAudio",
     &SetValue<&Options::reference_audio_id>},
    {"seed", "N", "generation seed (models that take one); 0 = random", &SetValue<&Options::seed>},
    {"clip_id", "ID", "the clip to continue", &SetValue<&Options::clip_id>},
    {"continue_at", "SECONDS", "where the continuation starts in the source clip",
     &SetValue<&Options::continue_at_seconds>},
    {"watch", nullptr, "watch the new task until it ends", &SetValue<&Options::watch>},
    {"watch_timeout", "SECONDS", "give up watching after this long (default 600)",
     &SetSeconds<&Options::watch_timeout>},
    {"clip", "ID", "download: the clip (default the task's first)", &SetValue<&Options::clip>},
    {"out", "FILE", "download: where to write the audio (default TASK_ID.<ext>; - is stdout)",
     &SetValue<&Options::out>},
    {"since_version", "N", "watch: only changes after this task version",
     &SetValue<&Options::since_version>},
    {"state", "STATE", "list: pending, running, succeeded, failed or canceled", &SetState},
    {"kind", "KIND", "list: music, lyrics or continuation", &SetKind},
    {"page_size", "N", "list: tasks per page (server default 50)", &SetValue<&Options::page_size>},
    {"page_token", "TOKEN", "list: start at this page", &SetValue<&Options::page_token>},
    {"all", nullptr, "list: follow next_page_token to the last page", &SetValue<&Options::all>},
    {"start", "TIME", "billing/reconcile: from this RFC 3339 time (default: the beginning)",
     &SetTime<&Options::start>},
    {"end", "TIME", "billing/reconcile: before this RFC 3339 time (default: no end)",
     &SetTime<&Options::end>},
    {"format", "F", "billing export: csv or json (JSON lines); import-usage: csv or jsonl",
     &SetFormat},
    {"provider", "P", "billing import-usage: kie, piapi, tokenlab or beatra",
     &SetValue<&Options::provider>},
    {"providers", "P1,P2", "reconcile: only these providers (default all)",
     &SetValue<&Options::providers>},
    {"tolerance_micros", "N", "reconcile: amounts within N micros agree (default 0)",
     &SetValue<&Options::tolerance_micros>},
    {"dry_run", nullptr, "reconcile: do not store the run", &SetValue<&Options::dry_run>},
    {"in_flight_grace", "SECONDS",
     "reconcile: leave tasks this young before --end for a later run (server default 3600)",
     &SetGrace},
    {"split", nullptr, "stems: every stem (up to 12) instead of vocals + instrumental",
     &SetValue<&Options::split>},
    {"author", "A", "video: the author shown in the video (<= 50 chars)",
     &SetValue<&Options::author>},
    {"domain", "D", "video: the domain name shown in the video (<= 50 chars)",
     &SetValue<&Options::domain>},
    {"lrc", "FILE", "lyrics-timing: write the LRC file here (default stdout)",
     &SetValue<&Options::lrc>},
    {"max_discrepancies", "N",
     "reconcile: exit 3 when more than N tasks do not reconcile (default 0)",
     &SetValue<&Options::max_discrepancies>},
};

const char* const kCommonFlags[] = {"server",  "timeout", "json",      "verbose",  "help",
                                    "token",   "tls",     "ca_file",   "cert_file", "key_file"};

/// One subcommand: its name, synopsis, the flags it takes beyond the common ones, and whether it
/// takes a TASK_ID argument.
struct CommandDef {
  const char* name;
  Command command;
  const char* synopsis;
  std::vector<const char*> flags;
  bool takes_task_id;
  /// Takes one FILE argument instead (billing import-usage).
  bool takes_file = false;
  /// Takes one argument into this member instead (CLIP_ID, PROVIDER, TEXT), named `arg_name`.
  std::string Options::*takes_arg = nullptr;
  const char* arg_name = nullptr;
};

const std::vector<CommandDef>& Commands() {
  static const auto* const kCommands = new std::vector<CommandDef>{
      {"create",
       Command::kCreate,
       "--prompt TEXT [--model M] [--style S] [--title T] [--lyrics L | --lyrics_file F]\n"
       "           [--instrumental] [--negative_tags N] [--reference_audio_uri URL |\n"
       "           --reference_audio_id ID] [--seed N] [--request_id ID] [--watch]",
       {"request_id", "model", "prompt", "style", "title", "lyrics", "lyrics_file", "instrumental",
        "negative_tags", "reference_audio_uri", "reference_audio_id", "seed", "watch",
        "watch_timeout"},
       false},
      {"lyrics",
       Command::kLyrics,
       "--prompt TEXT [--model M] [--request_id ID] [--watch]",
       {"request_id", "model", "prompt", "watch", "watch_timeout"},
       false},
      {"continue",
       Command::kContinue,
       "--clip_id ID [--continue_at SECONDS] [--prompt P] [--style S] [--title T]\n"
       "           [--lyrics L] [--model M] [--request_id ID] [--watch]\n"
       "           (which of prompt/style/title/lyrics a model needs: its continuation style)",
       {"request_id", "model", "clip_id", "continue_at", "prompt", "style", "title", "lyrics",
        "watch", "watch_timeout"},
       false},
      {"cover",
       Command::kCover,
       "FILE --style S --title T [--prompt P] [--instrumental] [--model M]\n"
       "           [--negative_tags N] [--request_id ID]  (uploads FILE, watches the cover)",
       {"request_id", "model", "prompt", "style", "title", "instrumental", "negative_tags",
        "watch_timeout"},
       false,
       true},
      {"audio-op",
       Command::kAudioOp,
       "cover|extend|add-instrumental|add-vocals FILE | --reference_audio_uri URL |\n"
       "           --reference_audio_id ID [--prompt P] [--style S] [--title T]\n"
       "           [--continue_at SECONDS] [--instrumental] [--negative_tags N] [--model M]\n"
       "           [--request_id ID]  (watches the task to its end)",
       {"request_id", "model", "prompt", "style", "title", "instrumental", "negative_tags",
        "continue_at", "reference_audio_uri", "reference_audio_id", "watch_timeout"},
       false,
       true},
      {"get", Command::kGet, "TASK_ID", {}, true},
      {"list",
       Command::kList,
       "[--state STATE] [--kind KIND] [--page_size N] [--page_token TOKEN] [--all]",
       {"state", "kind", "page_size", "page_token", "all"},
       false},
      {"cancel", Command::kCancel, "TASK_ID", {}, true},
      {"models", Command::kModels, "", {}, false},
      {"watch",
       Command::kWatch,
       "TASK_ID [--since_version N] [--watch_timeout SECONDS]",
       {"since_version", "watch_timeout"},
       true},
      {"download",
       Command::kDownload,
       "TASK_ID [--clip ID] [--out FILE]  (the archived audio, checksum verified)",
       {"clip", "out"},
       true},
      {"stems",
       Command::kStems,
       "CLIP_ID [--split] [--out DIR] [--request_id ID]  (vocals + instrumental, or every stem)",
       {"split", "out", "request_id", "watch_timeout"},
       false,
       false,
       &Options::clip_id,
       "CLIP_ID"},
      {"wav",
       Command::kWav,
       "CLIP_ID [--out FILE] [--request_id ID]  (a WAV master of the clip)",
       {"out", "request_id", "watch_timeout"},
       false,
       false,
       &Options::clip_id,
       "CLIP_ID"},
      {"video",
       Command::kVideo,
       "CLIP_ID [--author A] [--domain D] [--out FILE] [--request_id ID]  (a music video)",
       {"author", "domain", "out", "request_id", "watch_timeout"},
       false,
       false,
       &Options::clip_id,
       "CLIP_ID"},
      {"lyrics-timing",
       Command::kLyricsTiming,
       "CLIP_ID [--lrc FILE]  (the words' timing as an LRC file)",
       {"lrc"},
       false,
       false,
       &Options::clip_id,
       "CLIP_ID"},
      {"boost-style",
       Command::kBoostStyle,
       "TEXT [--model M]  (a detailed style from a short one)",
       {"model"},
       false,
       false,
       &Options::prompt,
       "TEXT"},
      {"balance",
       Command::kBalance,
       "PROVIDER  (the provider account's remaining credits)",
       {},
       false,
       false,
       &Options::provider,
       "PROVIDER"},
      {"billing list",
       Command::kBillingList,
       "[--start TIME] [--end TIME] [--page_size N] [--page_token TOKEN] [--all]",
       {"start", "end", "page_size", "page_token", "all"},
       false},
      {"billing export",
       Command::kBillingExport,
       "--format csv|json [--start TIME] [--end TIME]  (the ledger file, on stdout)",
       {"start", "end", "format"},
       false},
      {"billing import-usage",
       Command::kBillingImportUsage,
       "--provider P --format csv|jsonl FILE  (FILE - is stdin)",
       {"provider", "format"},
       false,
       true},
      {"billing check-ledger", Command::kBillingCheckLedger, "(exit 3 on violations)", {}, false},
      {"reconcile",
       Command::kReconcile,
       "--start TIME --end TIME [--providers P1,P2] [--tolerance_micros N] [--dry_run]\n"
       "           [--max_discrepancies N]  (exit 3 over N)",
       {"start", "end", "providers", "tolerance_micros", "dry_run", "max_discrepancies",
        "in_flight_grace"},
       false},
  };
  return *kCommands;
}

const FlagDef* FindFlag(absl::string_view name) {
  for (const FlagDef& flag : kFlags) {
    if (name == flag.name) return &flag;
  }
  return nullptr;
}

bool Takes(const CommandDef& command, absl::string_view flag) {
  for (const char* name : kCommonFlags) {
    if (flag == name) return true;
  }
  for (const char* name : command.flags) {
    if (flag == name) return true;
  }
  return false;
}

absl::Status UsageError(absl::string_view message) { return absl::InvalidArgumentError(message); }

/// Checks what the flag parser cannot: required flags, exclusive flags, ranges.
absl::Status Validate(const CommandDef& command, const Options& options) {
  switch (options.command) {
    case Command::kCreate:
      if (options.prompt.empty() && options.lyrics.empty() && options.lyrics_file.empty()) {
        return UsageError("create needs --prompt (or --lyrics / --lyrics_file)");
      }
      if (!options.lyrics.empty() && !options.lyrics_file.empty()) {
        return UsageError("--lyrics and --lyrics_file are exclusive");
      }
      break;
    case Command::kLyrics:
      if (options.prompt.empty()) return UsageError("lyrics needs --prompt");
      break;
    case Command::kCover:
    case Command::kAudioOp: {
      const int sources = !options.file.empty() + !options.reference_audio_uri.empty() +
                          !options.reference_audio_id.empty();
      if (sources != 1) {
        return UsageError(absl::StrCat(
            command.name, " needs one FILE, --reference_audio_uri or --reference_audio_id"));
      }
      if (options.continue_at_seconds < 0) return UsageError("--continue_at must be >= 0");
      break;
    }
    case Command::kContinue:
      if (options.clip_id.empty()) return UsageError("continue needs --clip_id");
      if (options.continue_at_seconds < 0) return UsageError("--continue_at must be >= 0");
      break;
    case Command::kList:
      if (options.page_size < 0) return UsageError("--page_size must be >= 0");
      break;
    case Command::kWatch:
      if (options.since_version < 0) return UsageError("--since_version must be >= 0");
      break;
    case Command::kBillingList:
      if (options.page_size < 0) return UsageError("--page_size must be >= 0");
      break;
    case Command::kBillingImportUsage:
      if (options.provider.empty()) return UsageError("billing import-usage needs --provider");
      if (options.format != "csv" && options.format != "json") {
        return UsageError("billing import-usage needs --format csv or jsonl");
      }
      if (options.file.empty()) return UsageError("billing import-usage needs a FILE");
      break;
    case Command::kReconcile:
      if (options.start == absl::InfinitePast() || options.end == absl::InfiniteFuture()) {
        return UsageError("reconcile needs --start and --end");
      }
      if (options.end <= options.start) return UsageError("--end must be after --start");
      if (options.tolerance_micros < 0) return UsageError("--tolerance_micros must be >= 0");
      if (options.max_discrepancies < 0) return UsageError("--max_discrepancies must be >= 0");
      break;
    default:
      break;
  }
  if (command.takes_task_id && options.task_id.empty()) {
    return UsageError(absl::StrCat(command.name, " needs a TASK_ID"));
  }
  return absl::OkStatus();
}

}  // namespace

std::optional<std::string> ProcessEnv(absl::string_view name) {
  const char* value = std::getenv(std::string(name).c_str());
  if (value == nullptr) return std::nullopt;
  return std::string(value);
}

std::optional<music::v1::TaskState> ParseTaskState(absl::string_view text) {
  std::string name = absl::AsciiStrToUpper(text);
  if (name == "CANCELLED") name = "CANCELED";
  if (!absl::StartsWith(name, "TASK_STATE_")) name = absl::StrCat("TASK_STATE_", name);
  music::v1::TaskState state;
  if (!music::v1::TaskState_Parse(name, &state)) return std::nullopt;
  return state;
}

std::optional<music::v1::TaskKind> ParseTaskKind(absl::string_view text) {
  std::string name = absl::AsciiStrToUpper(text);
  if (!absl::StartsWith(name, "TASK_KIND_")) name = absl::StrCat("TASK_KIND_", name);
  music::v1::TaskKind kind;
  if (!music::v1::TaskKind_Parse(name, &kind)) return std::nullopt;
  return kind;
}

absl::StatusOr<Options> ParseArgs(const std::vector<std::string>& args, const EnvLookup& env) {
  Options options;
  if (auto server = env("MUSIC_SERVER"); server && !server->empty()) options.server = *server;
  if (auto token = env("MUSIC_TOKEN"); token && !token->empty()) options.token = *token;
  if (args.empty()) return UsageError("missing command");

  std::string name = args[0];
  if (name == "help" || name == "--help" || name == "-h" || name == "-help") return options;
  // "billing" groups its subcommands: "billing list", "billing export", ...
  size_t first_arg = 1;
  if (name == "billing") {
    if (args.size() < 2) {
      return UsageError("billing needs a subcommand: list, export, import-usage or check-ledger");
    }
    name = absl::StrCat("billing ", args[1]);
    first_arg = 2;
  }
  const CommandDef* command = nullptr;
  for (const CommandDef& def : Commands()) {
    if (name == def.name) command = &def;
  }
  if (command == nullptr) return UsageError(absl::StrCat("unknown command \"", name, "\""));
  options.command = command->command;

  std::vector<std::string> positional;
  bool flags_done = false;
  for (size_t i = first_arg; i < args.size(); ++i) {
    absl::string_view arg = args[i];
    if (flags_done || arg.size() < 2 || arg[0] != '-') {
      positional.emplace_back(arg);
      continue;
    }
    if (arg == "--") {
      flags_done = true;
      continue;
    }
    if (arg == "-h") arg = "--help";
    absl::string_view body = arg.substr(arg[1] == '-' ? 2 : 1);
    std::optional<absl::string_view> value;
    if (size_t eq = body.find('='); eq != absl::string_view::npos) {
      value = body.substr(eq + 1);
      body = body.substr(0, eq);
    }
    const FlagDef* flag = FindFlag(body);
    // --noFLAG sets a boolean flag to false.
    if (flag == nullptr && !value && absl::ConsumePrefix(&body, "no")) {
      flag = FindFlag(body);
      if (flag != nullptr && flag->arg == nullptr) value = "false";
      if (flag != nullptr && flag->arg != nullptr) flag = nullptr;
    }
    if (flag == nullptr || !Takes(*command, flag->name)) {
      return UsageError(absl::StrCat(command->name, ": unknown flag ", arg));
    }
    if (!value) {
      if (flag->arg == nullptr) {
        value = "true";
      } else if (i + 1 < args.size()) {
        value = args[++i];
      } else {
        return UsageError(absl::StrCat("--", flag->name, " needs a value"));
      }
    }
    std::string error;
    if (!flag->set(options, *value, &error)) {
      return UsageError(absl::StrCat("--", flag->name, "=", *value, ": ", error));
    }
  }
  if (options.command == Command::kHelp) return options;

  if (options.command == Command::kCover) {
    options.audio_operation = music::v1::AUDIO_OPERATION_COVER;
  } else if (options.command == Command::kAudioOp) {
    static constexpr std::pair<const char*, music::v1::AudioOperation> kOperations[] = {
        {"cover", music::v1::AUDIO_OPERATION_COVER},
        {"extend", music::v1::AUDIO_OPERATION_EXTEND},
        {"add-instrumental", music::v1::AUDIO_OPERATION_ADD_INSTRUMENTAL},
        {"add-vocals", music::v1::AUDIO_OPERATION_ADD_VOCALS},
    };
    for (const auto& [op_name, op] : kOperations) {
      if (!positional.empty() && positional[0] == op_name) options.audio_operation = op;
    }
    if (options.audio_operation == music::v1::AUDIO_OPERATION_UNSPECIFIED) {
      return UsageError("audio-op needs the operation first: cover, extend, add-instrumental or "
                        "add-vocals");
    }
    positional.erase(positional.begin());
  }
  if (command->takes_task_id) {
    if (positional.size() > 1) {
      return UsageError(absl::StrCat(command->name, " takes one TASK_ID"));
    }
    if (!positional.empty()) options.task_id = positional[0];
  } else if (command->takes_arg != nullptr) {
    if (positional.size() != 1) {
      return UsageError(absl::StrCat(command->name, " takes one ", command->arg_name));
    }
    options.*(command->takes_arg) = positional[0];
  } else if (command->takes_file) {
    if (positional.size() > 1) return UsageError(absl::StrCat(command->name, " takes one FILE"));
    if (!positional.empty()) options.file = positional[0];
  } else if (!positional.empty()) {
    return UsageError(absl::StrCat(command->name, ": unexpected argument \"", positional[0], "\""));
  }
  if (absl::Status status = Validate(*command, options); !status.ok()) return status;
  return options;
}

std::string ShortUsageText() {
  std::string text =
      "Usage: musicctl COMMAND [flags]\n"
      "\n"
      "Commands:\n";
  for (const CommandDef& command : Commands()) {
    std::string line = absl::StrFormat("  %-8s %s", command.name, command.synopsis);
    if (absl::string_view(command.name).size() > 8) {
      line = absl::StrFormat("  %s\n           %s", command.name, command.synopsis);
    }
    absl::StrAppend(&text, absl::StripTrailingAsciiWhitespace(line), "\n");
  }
  return text;
}

std::string UsageText() {
  std::string text = ShortUsageText();
  text += "\nFlags:\n";
  for (const FlagDef& flag : kFlags) {
    std::string left = absl::StrCat("--", flag.name, flag.arg ? " " : "", flag.arg ? flag.arg : "");
    absl::StrAppendFormat(&text, "  %-24s %s\n", left, flag.help);
  }
  text +=
      "\nCommon flags (--server, --timeout, --json, --verbose) work with every command.\n"
      "create, lyrics and continue also take --watch_timeout with --watch.\n"
      "\nExit codes: 0 success (a watched task SUCCEEDED), 1 RPC error, 2 task FAILED or\n"
      "CANCELED, 3 ledger violations or too many reconciliation discrepancies, 64 usage error.\n";
  return text;
}

}  // namespace music::musicctl
