// rulectl: the rules command line as a library, so tests call the commands in-process and
// main.cc only parses flags. Every command writes its report to `out`, problems to `err`, and
// returns the process exit code.
//
// Thread safety: each call builds its own engine; calls are independent.
#ifndef AUTOSTAGE_TOOLS_RULECTL_RULECTL_H_
#define AUTOSTAGE_TOOLS_RULECTL_RULECTL_H_

#include <optional>
#include <ostream>
#include <string>
#include <vector>

namespace autostage::rulectl {

// `lint PATH...`: every diagnostic as "file:line: message"; 1 on any error.
int Lint(const std::vector<std::string>& paths, std::ostream& out);

// `run`: one JSON line per input line of `events` (in order):
//   {"event_id","opportunity_id"|null,"proposal":null|{...},"reason"}
// or {"line":N,"error":"..."} for a line that does not decode. 1 when a file cannot be read or
// the rules do not load.
int Run(const std::string& rules_dir, const std::string& opportunities, const std::string& events,
        std::ostream& out, std::ostream& err);

struct EvalOptions {
  bool json = false;
  std::optional<double> min_precision;
  std::optional<double> min_recall;
};
// `eval`: precision / recall / F1 overall, per stage and per source, then every miss and false
// proposal. 1 when a threshold is not met, 2 when files cannot be read.
int Eval(const std::string& rules_dir, const std::string& corpus_dir, const EvalOptions& options,
         std::ostream& out, std::ostream& err);

// `explain`: segments kept and dropped, normalized text, hits, rule outcomes, guards, decision.
// `event_file` "-" reads stdin; the first non-blank line is the event.
int Explain(const std::string& rules_dir, const std::string& opportunities,
            const std::string& event_file, std::ostream& out, std::ostream& err);

}  // namespace autostage::rulectl

#endif  // AUTOSTAGE_TOOLS_RULECTL_RULECTL_H_
