// The exit codes of autostagectl, one per thing a script may want to react to differently
// (docs/reps.md lists them). Every failing command prints exactly one line on stderr
// ("autostagectl: ...") and returns one of these.
#ifndef AUTOSTAGE_TOOLS_AUTOSTAGECTL_EXIT_CODES_H_
#define AUTOSTAGE_TOOLS_AUTOSTAGECTL_EXIT_CODES_H_

#include <ostream>
#include <string>

#include "absl/strings/string_view.h"

namespace autostage::ctl {

enum ExitCode : int {
  kExitOk = 0,
  kExitError = 1,             // anything not listed below (internal errors, bad data)
  kExitUsage = 2,             // bad flags, bad config file, INVALID_ARGUMENT (e.g. no reason)
  kExitNoToken = 3,           // no token from --token, AUTOSTAGE_TOKEN or the config file
  kExitUnauthenticated = 4,   // review refused the token (UNAUTHENTICATED)
  kExitPermissionDenied = 5,  // PERMISSION_DENIED: not your opportunity / role
  kExitNotFound = 6,          // NOT_FOUND: unknown proposal id
  kExitAlreadyDecided = 7,    // FAILED_PRECONDITION: already confirmed or rejected
  kExitStale = 8,             // FAILED_PRECONDITION: superseded / expired / opportunity moved
  kExitVersionMoved = 9,      // ABORTED: new evidence merged since the version was read
  kExitUnavailable = 10,      // review unreachable (UNAVAILABLE, DEADLINE_EXCEEDED)
  kExitUnimplemented = 11,    // the server does not implement the call (watch, for now)
  kExitKafka = 12,            // Kafka unreachable or refused (dlq, replay, rules check)
};

// Writes "autostagectl: <message>" as one line (newlines in `message` become spaces) to `err`
// and returns `code`.
int Fail(std::ostream& err, int code, absl::string_view message);

// "a b" for "a\nb": server messages must not break the one-line contract.
std::string OneLine(absl::string_view text);

}  // namespace autostage::ctl

#endif  // AUTOSTAGE_TOOLS_AUTOSTAGECTL_EXIT_CODES_H_
