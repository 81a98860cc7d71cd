#ifndef MUSIC_TOOLS_MUSICCTL_CONSOLE_H_
#define MUSIC_TOOLS_MUSICCTL_CONSOLE_H_

#include <ostream>

#include "absl/strings/string_view.h"
#include "absl/time/time.h"

namespace music::musicctl {

/// Where and how commands print.
struct Console {
  /// Results: human text, or JSON lines with `json`.
  std::ostream* out = nullptr;
  /// Errors.
  std::ostream* err = nullptr;
  /// Print proto messages as JSON instead of human text.
  bool json = false;
  /// Also show watch heartbeats.
  bool verbose = false;
  /// `out` is a terminal: ANSI dimming is allowed.
  bool color = false;
  /// Time zone of printed times.
  absl::TimeZone tz = absl::UTCTimeZone();

  /// A status line (e.g. "reconnected"): on `out` in human mode, on `err` in JSON mode so that
  /// `out` stays pure JSON.
  void Notice(absl::string_view line) const { (json ? *err : *out) << line << "\n" << std::flush; }
};

}  // namespace music::musicctl

#endif  // MUSIC_TOOLS_MUSICCTL_CONSOLE_H_
