// rulectl: lint, run, eval and explain rule packs (see rulectl.h). Only parses flags.
#include <CLI/CLI.hpp>
#include <iostream>
#include <optional>
#include <string>
#include <vector>

#include "tools/rulectl/rulectl.h"

int main(int argc, char** argv) {
  CLI::App app{"rulectl: lint, run, evaluate and explain autostage rule packs"};
  app.require_subcommand(1);

  std::vector<std::string> lint_paths;
  CLI::App* lint = app.add_subcommand("lint", "check rule folders/files; exit 1 on any error");
  lint->add_option("paths", lint_paths, "rule folders or files")->required();

  std::string rules_dir, opportunities, events, corpus, event_file;
  CLI::App* run = app.add_subcommand("run", "one JSON decision line per event");
  run->add_option("--rules", rules_dir, "rules folder")->required();
  run->add_option("--opportunities", opportunities, "opportunity snapshots (JSON lines)")
      ->required();
  run->add_option("--events", events, "events (JSON lines)")->required();

  autostage::rulectl::EvalOptions eval_options;
  double min_precision = -1, min_recall = -1;
  CLI::App* eval = app.add_subcommand("eval", "precision / recall against a labeled corpus");
  eval->add_option("--rules", rules_dir, "rules folder")->required();
  eval->add_option("--corpus", corpus, "corpus folder")->required();
  eval->add_flag("--json", eval_options.json, "JSON report");
  eval->add_option("--min-precision", min_precision, "exit 1 below this precision");
  eval->add_option("--min-recall", min_recall, "exit 1 below this recall");

  CLI::App* explain = app.add_subcommand("explain", "why an event does or does not propose");
  explain->add_option("--rules", rules_dir, "rules folder")->required();
  explain->add_option("--opportunities", opportunities, "opportunity snapshots (JSON lines)")
      ->required();
  explain->add_option("--event", event_file, "event file (JSON), or - for stdin")->required();

  CLI11_PARSE(app, argc, argv);

  if (*lint) return autostage::rulectl::Lint(lint_paths, std::cout);
  if (*run) return autostage::rulectl::Run(rules_dir, opportunities, events, std::cout, std::cerr);
  if (*eval) {
    if (min_precision >= 0) eval_options.min_precision = min_precision;
    if (min_recall >= 0) eval_options.min_recall = min_recall;
    return autostage::rulectl::Eval(rules_dir, corpus, eval_options, std::cout, std::cerr);
  }
  if (*explain) {
    return autostage::rulectl::Explain(rules_dir, opportunities, event_file, std::cout, std::cerr);
  }
  return 2;
}
