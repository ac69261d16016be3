// Rule configuration (docs/rules.md): pipelines and rule packs loaded from a folder of YAML
// files into typed structs, validated once. Every problem is reported with `file:line`
// (yaml-cpp marks), and Lint() collects all of them instead of stopping at the first.
//
// Terms in the structs are as written (not normalized) with lexicon references already
// expanded; normalization and compilation happen in rule_set.h.
//
// Thread safety: the structs are plain values; the functions are pure (they read files).
#ifndef AUTOSTAGE_COMMON_RULES_CONFIG_H_
#define AUTOSTAGE_COMMON_RULES_CONFIG_H_

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"

namespace autostage::rules {

struct SourceLocation {
  std::string file;
  int line = 0;  // 1-based; 0 = whole file
};

struct Diagnostic {
  enum class Severity { kError, kWarning };
  SourceLocation location;
  std::string message;
  Severity severity = Severity::kError;
  // "file:line: message" (warnings say "warning: " before the message).
  std::string ToString() const;
};

struct Stage {
  std::string id;
  std::string zh;
  std::string en;
};

struct Pipeline {
  std::string id;
  std::vector<Stage> stages;  // in order
  std::optional<int> max_skip;
  SourceLocation location;
  // Index of a stage id, or -1.
  int StageIndex(std::string_view stage_id) const;
};

enum class GuardMode { kBlock, kAllow };

struct Guards {
  GuardMode negation = GuardMode::kBlock;
  GuardMode hypothetical = GuardMode::kBlock;
  GuardMode question = GuardMode::kBlock;
};

// A term list entry after lexicon expansion. A lexicon reference becomes one group holding
// every term of the lexicon; a plain term a group of one. `all` needs one term of EVERY group;
// the other lists treat all groups alike (any term of any group).
struct TermGroup {
  std::string name;                // the term, or "@lexicon"
  std::vector<std::string> terms;  // as written
};

struct Near {
  std::vector<TermGroup> terms;
  int within = 0;  // code points between the anchor and the term
};

struct Classifier {
  std::string label;
  double min_score = 0;
};

struct Rule {
  std::string id;
  std::string pack;
  std::string pipeline;
  std::string stage;
  std::string description;
  double confidence = 0.5;
  std::vector<std::string> sources;     // email | call | chat
  std::vector<std::string> speakers;    // customer | rep
  std::vector<std::string> directions;  // inbound | outbound
  // Anchors.
  std::vector<TermGroup> any;
  std::vector<std::string> phrase;
  std::vector<std::string> regex;
  std::vector<SourceLocation> regex_locations;  // parallel to `regex`
  std::vector<std::string> attachments;
  // Conditions.
  std::vector<TermGroup> all;
  std::optional<Near> near;
  std::vector<TermGroup> none;
  Guards guards;
  std::optional<int64_t> min_call_duration_s;
  std::optional<Classifier> classifier;
  SourceLocation location;
};

struct RulePack {
  std::string name;
  std::string pipeline;
  std::vector<Rule> rules;
  SourceLocation location;
};

struct RulesConfig {
  std::vector<Pipeline> pipelines;
  std::vector<RulePack> packs;

  const Pipeline* FindPipeline(std::string_view id) const;
};

// Parses every *.yaml / *.yml file of `paths` (folders are listed, files taken as they are) in
// name order, validates the whole configuration and returns it together with every
// diagnostic. Never throws. A result with no error diagnostic is usable.
struct LoadResult {
  RulesConfig config;
  std::vector<Diagnostic> diagnostics;
  bool ok() const;
};
LoadResult LoadRules(const std::vector<std::string>& paths);

// Loads `dir` and fails with kInvalidArgument (message: every error, one per line) when any
// error was found. Warnings are dropped.
absl::StatusOr<RulesConfig> LoadRulesDir(const std::string& dir);

// Every diagnostic of LoadRules plus regexes the matcher's compiler refuses (failure scenario
// 21), each with its rule id and file:line.
std::vector<Diagnostic> Lint(const std::vector<std::string>& paths);

}  // namespace autostage::rules

#endif  // AUTOSTAGE_COMMON_RULES_CONFIG_H_
