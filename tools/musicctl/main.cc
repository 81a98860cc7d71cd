// musicctl: the command-line client of music.v1.MusicService. See `musicctl help`.

#include <unistd.h>

#include <iostream>
#include <string>
#include <vector>

#include "tools/musicctl/musicctl.h"

int main(int argc, char** argv) {
  std::vector<std::string> args(argv + 1, argv + argc);
  auto term = music::musicctl::ProcessEnv("TERM");
  bool color = isatty(STDOUT_FILENO) && !music::musicctl::ProcessEnv("NO_COLOR") &&
               (!term || *term != "dumb");
  return music::musicctl::Main(args, &music::musicctl::ProcessEnv, std::cout, std::cerr, color);
}
