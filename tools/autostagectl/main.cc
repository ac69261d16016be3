// autostagectl: the CLI for reps (pending, show, confirm, reject, watch) and ops (dlq, replay,
// rules check). Everything is in the autostagectl library (cli.h); this reads the environment.
#include <unistd.h>

#include <cstdlib>
#include <iostream>
#include <string>
#include <vector>

#include "absl/time/clock.h"
#include "tools/autostagectl/cli.h"

int main(int argc, char** argv) {
  autostage::ctl::CliEnvironment env;
  if (const char* token = std::getenv("AUTOSTAGE_TOKEN")) env.token = token;
  if (const char* home = std::getenv("HOME")) env.home = home;
  env.no_color = std::getenv("NO_COLOR") != nullptr;
  env.stdout_is_tty = isatty(STDOUT_FILENO) == 1;
  env.now = absl::Now();
  const std::vector<std::string> args(argv + 1, argv + argc);
  return autostage::ctl::RunCli(args, env, std::cout, std::cerr);
}
