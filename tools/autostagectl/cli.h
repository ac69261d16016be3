// The autostagectl command line: parses arguments (CLI11), resolves settings (flags, then
// environment, then config file) and runs one command from review_commands.h or
// kafka_commands.h. main.cc only gathers the environment and calls RunCli, so tests run the
// whole command line in-process.
//
// Thread safety: RunCli has no shared state; concurrent calls are independent.
#ifndef AUTOSTAGE_TOOLS_AUTOSTAGECTL_CLI_H_
#define AUTOSTAGE_TOOLS_AUTOSTAGECTL_CLI_H_

#include <optional>
#include <ostream>
#include <string>
#include <vector>

#include "absl/time/time.h"

namespace autostage::ctl {

// What main() reads from the process environment, passed in so the library never calls getenv.
struct CliEnvironment {
  std::optional<std::string> token;  // $AUTOSTAGE_TOKEN
  std::string home;                  // $HOME
  bool stdout_is_tty = false;        // highlight with ANSI bold when true (and !no_color)
  bool no_color = false;             // $NO_COLOR set
  absl::Time now = absl::UnixEpoch();
};

// `args` excludes the program name. Returns the exit code (exit_codes.h); 0 for --help.
int RunCli(const std::vector<std::string>& args, const CliEnvironment& env, std::ostream& out,
           std::ostream& err);

}  // namespace autostage::ctl

#endif  // AUTOSTAGE_TOOLS_AUTOSTAGECTL_CLI_H_
