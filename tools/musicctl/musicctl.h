#ifndef MUSIC_TOOLS_MUSICCTL_MUSICCTL_H_
#define MUSIC_TOOLS_MUSICCTL_MUSICCTL_H_

#include <ostream>
#include <string>
#include <vector>

#include "tools/musicctl/options.h"

namespace music::musicctl {

/// The whole program: parses `args` (argv without the program name), connects to the server and
/// runs the command. `color` allows ANSI dimming on `out`. Returns the process exit code.
int Main(const std::vector<std::string>& args, const EnvLookup& env, std::ostream& out,
         std::ostream& err, bool color);

}  // namespace music::musicctl

#endif  // MUSIC_TOOLS_MUSICCTL_MUSICCTL_H_
