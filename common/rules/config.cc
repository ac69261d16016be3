#include "common/rules/config.h"

#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <filesystem>
#include <map>
#include <set>
#include <utility>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "common/rules/vectorscan.h"

namespace autostage::rules {
namespace {

namespace fs = std::filesystem;

// Keys a rule may hold; `defaults:` may hold all of them but the identity keys.
const std::set<std::string>& RuleKeys() {
  static const auto* const kKeys = new std::set<std::string>{
      "id",         "stage", "description", "confidence", "sources",     "speakers",
      "directions", "any",   "phrase",      "regex",      "attachments", "all",
      "near",       "none",  "guards",      "call",       "classifier"};
  return *kKeys;
}

bool IsDefaultableKey(const std::string& key) {
  return key != "id" && key != "stage" && key != "description";
}

// Collects diagnostics while one file is parsed.
class FileParser {
 public:
  FileParser(std::string file, std::vector<Diagnostic>* diagnostics)
      : file_(std::move(file)), diagnostics_(diagnostics) {}

  SourceLocation Loc(const YAML::Node& node) const {
    const YAML::Mark mark = node.Mark();
    return SourceLocation{file_, mark.line >= 0 ? mark.line + 1 : 0};
  }

  void Error(const YAML::Node& node, std::string message) {
    diagnostics_->push_back({Loc(node), std::move(message), Diagnostic::Severity::kError});
  }
  void Warning(const YAML::Node& node, std::string message) {
    diagnostics_->push_back({Loc(node), std::move(message), Diagnostic::Severity::kWarning});
  }
  // An error of the whole file (line 0) or of a YAML mark. Built member by member: GCC 12 at
  // -O3 reports a false -Wmaybe-uninitialized on a braced temporary inside a catch block.
  void FileError(int mark_line, std::string message) {
    Diagnostic d;
    d.location.file = file_;
    d.location.line = mark_line >= 0 ? mark_line + 1 : 0;
    d.message = std::move(message);
    d.severity = Diagnostic::Severity::kError;
    diagnostics_->push_back(std::move(d));
  }

  // Reports keys of `map` outside `allowed`; returns false when `map` is not a map.
  bool CheckMap(const YAML::Node& map, const std::set<std::string>& allowed,
                const std::string& what) {
    if (!map.IsMap()) {
      Error(map, absl::StrCat(what, ": expected a mapping"));
      return false;
    }
    for (const auto& kv : map) {
      const std::string key = kv.first.Scalar();
      if (allowed.count(key) == 0) Error(kv.first, absl::StrCat(what, ": unknown key '", key, "'"));
    }
    return true;
  }

  std::optional<std::string> String(const YAML::Node& node, const std::string& what) {
    if (!node.IsScalar()) {
      Error(node, absl::StrCat(what, ": expected a string"));
      return std::nullopt;
    }
    return node.Scalar();
  }

  template <typename T>
  std::optional<T> Number(const YAML::Node& node, const std::string& what) {
    T value{};
    if (!node.IsScalar() || !YAML::convert<T>::decode(node, value)) {
      Error(node, absl::StrCat(what, ": expected a number, got '",
                               node.IsScalar() ? node.Scalar() : "non-scalar", "'"));
      return std::nullopt;
    }
    return value;
  }

  std::vector<std::string> StringList(const YAML::Node& node, const std::string& what) {
    std::vector<std::string> out;
    if (!node.IsSequence()) {
      Error(node, absl::StrCat(what, ": expected a list"));
      return out;
    }
    for (const auto& item : node) {
      if (auto s = String(item, what)) out.push_back(*s);
    }
    return out;
  }

  // A list of string enum values, each checked against `allowed`.
  std::vector<std::string> EnumList(const YAML::Node& node, const std::string& what,
                                    const std::set<std::string>& allowed) {
    std::vector<std::string> out;
    if (!node.IsSequence()) {
      Error(node, absl::StrCat(what, ": expected a list"));
      return out;
    }
    for (const auto& item : node) {
      auto s = String(item, what);
      if (!s) continue;
      if (allowed.count(*s) == 0) {
        Error(item, absl::StrCat(what, ": invalid value '", *s, "' (expected one of ",
                                 absl::StrJoin(allowed, ", "), ")"));
        continue;
      }
      out.push_back(*s);
    }
    if (out.empty() && node.size() == 0) Error(node, absl::StrCat(what, ": empty list"));
    return out;
  }

  void ParsePipelines(const YAML::Node& node, std::vector<Pipeline>* out) {
    if (!node.IsSequence()) {
      Error(node, "pipelines: expected a list");
      return;
    }
    for (const auto& p : node) {
      if (!CheckMap(p, {"id", "stages", "max_skip"}, "pipeline")) continue;
      Pipeline pipeline;
      pipeline.location = Loc(p);
      if (!p["id"]) {
        Error(p, "pipeline: missing 'id'");
        continue;
      }
      if (auto id = String(p["id"], "pipeline.id")) pipeline.id = *id;
      if (!p["stages"] || !p["stages"].IsSequence() || p["stages"].size() == 0) {
        Error(p, absl::StrCat("pipeline ", pipeline.id, ": 'stages' must be a non-empty list"));
        continue;
      }
      std::set<std::string> seen;
      for (const auto& s : p["stages"]) {
        if (!CheckMap(s, {"id", "zh", "en"}, "stage")) continue;
        Stage stage;
        if (!s["id"]) {
          Error(s, "stage: missing 'id'");
          continue;
        }
        if (auto v = String(s["id"], "stage.id")) stage.id = *v;
        if (s["zh"]) stage.zh = String(s["zh"], "stage.zh").value_or("");
        if (s["en"]) stage.en = String(s["en"], "stage.en").value_or("");
        if (stage.id.empty()) {
          Error(s, "stage: empty id");
          continue;
        }
        if (!seen.insert(stage.id).second) {
          Error(s, absl::StrCat("pipeline ", pipeline.id, ": duplicate stage '", stage.id, "'"));
          continue;
        }
        pipeline.stages.push_back(std::move(stage));
      }
      if (p["max_skip"]) {
        auto v = Number<int>(p["max_skip"], "max_skip");
        if (v && *v < 0) {
          Error(p["max_skip"], "max_skip: must be >= 0");
        } else if (v) {
          pipeline.max_skip = *v;
        }
      }
      out->push_back(std::move(pipeline));
    }
  }

  // Term lists: "@name" refers to the pack's lexicon.
  std::vector<TermGroup> Terms(const YAML::Node& node, const std::string& what,
                               const std::map<std::string, std::vector<std::string>>& lexicon) {
    std::vector<TermGroup> out;
    for (const std::string& term : StringList(node, what)) {
      if (!term.empty() && term[0] == '@') {
        auto it = lexicon.find(term.substr(1));
        if (it == lexicon.end()) {
          Error(node, absl::StrCat(what, ": unknown lexicon '", term, "'"));
          continue;
        }
        out.push_back({term, it->second});
        continue;
      }
      if (!CheckTerm(node, what, term)) continue;
      out.push_back({term, {term}});
    }
    return out;
  }

  bool CheckTerm(const YAML::Node& node, const std::string& what, const std::string& term) {
    if (term.find_first_not_of(" \t\r\n") == std::string::npos) {
      Error(node, absl::StrCat(what, ": empty term"));
      return false;
    }
    if (term == "*") {
      Error(node, absl::StrCat(what, ": '*' alone is not a term"));
      return false;
    }
    return true;
  }

  GuardMode ParseGuard(const YAML::Node& node, const std::string& name) {
    auto s = String(node, name);
    if (s && *s == "block") return GuardMode::kBlock;
    if (s && *s == "allow") return GuardMode::kAllow;
    if (s)
      Error(node,
            absl::StrCat("guards.", name, ": invalid value '", *s, "' (expected block or allow)"));
    return GuardMode::kBlock;
  }

  void ParsePack(const YAML::Node& root, std::vector<RulePack>* out) {
    RulePack pack;
    pack.location = Loc(root);
    if (!root["pack"]) {
      Error(root, "rule pack: missing 'pack'");
    } else {
      pack.name = String(root["pack"], "pack").value_or("");
    }
    if (!root["pipeline"]) {
      Error(root, "rule pack: missing 'pipeline'");
    } else {
      pack.pipeline = String(root["pipeline"], "pipeline").value_or("");
    }
    std::map<std::string, std::vector<std::string>> lexicon;
    if (const YAML::Node lex = root["lexicon"]) {
      if (!lex.IsMap()) {
        Error(lex, "lexicon: expected a mapping of name to term list");
      } else {
        for (const auto& kv : lex) {
          std::vector<std::string> terms;
          for (const std::string& t : StringList(kv.second, "lexicon")) {
            if (!t.empty() && t[0] == '@') {
              Error(kv.second, absl::StrCat("lexicon ", kv.first.Scalar(),
                                            ": nested lexicon reference '", t, "'"));
              continue;
            }
            if (CheckTerm(kv.second, "lexicon", t)) terms.push_back(t);
          }
          if (terms.empty())
            Error(kv.first, absl::StrCat("lexicon ", kv.first.Scalar(), ": empty"));
          lexicon[kv.first.Scalar()] = std::move(terms);
        }
      }
    }
    YAML::Node defaults;
    if (root["defaults"]) {
      defaults.reset(root["defaults"]);
      if (CheckMap(defaults, RuleKeys(), "defaults")) {
        for (const auto& kv : defaults) {
          if (!IsDefaultableKey(kv.first.Scalar())) {
            Error(kv.first,
                  absl::StrCat("defaults: '", kv.first.Scalar(), "' cannot be defaulted"));
          }
        }
      } else {
        defaults.reset();
      }
    }
    const YAML::Node rules = root["rules"];
    if (!rules || !rules.IsSequence()) {
      Error(root, absl::StrCat("rule pack ", pack.name, ": 'rules' must be a list"));
    } else {
      for (const auto& r : rules) ParseRule(r, defaults, pack, lexicon);
    }
    out->push_back(std::move(pack));
  }

  void ParseRule(const YAML::Node& r, const YAML::Node& defaults, RulePack& pack,
                 const std::map<std::string, std::vector<std::string>>& lexicon) {
    if (!CheckMap(r, RuleKeys(), "rule")) return;
    Rule rule;
    rule.location = Loc(r);
    rule.pack = pack.name;
    rule.pipeline = pack.pipeline;
    // The rule's own value, else the pack default; undefined when neither exists.
    auto get = [&](const char* key) -> YAML::Node {
      if (r[key]) return r[key];
      if (defaults.IsDefined() && defaults.IsMap() && IsDefaultableKey(key) && defaults[key]) {
        return defaults[key];
      }
      return r[key];
    };
    if (!r["id"]) {
      Error(r, "rule: missing 'id'");
      return;
    }
    rule.id = String(r["id"], "id").value_or("");
    const std::string what = absl::StrCat("rule ", rule.id);
    if (rule.id.empty()) Error(r, "rule: empty id");
    if (!r["stage"]) {
      Error(r, absl::StrCat(what, ": missing 'stage'"));
    } else {
      rule.stage = String(r["stage"], "stage").value_or("");
    }
    if (r["description"]) rule.description = String(r["description"], "description").value_or("");
    if (YAML::Node n = get("confidence"); n.IsDefined()) {
      auto c = Number<double>(n, what + ": confidence");
      if (c && (*c < 0 || *c > 1)) {
        Error(n, absl::StrCat(what, ": confidence must be within 0..1"));
      } else if (c) {
        rule.confidence = *c;
      }
    }
    rule.sources = {"email", "call", "chat"};
    rule.speakers = {"customer"};
    rule.directions = {"inbound", "outbound"};
    if (YAML::Node n = get("sources"); n.IsDefined()) {
      rule.sources = EnumList(n, what + ": sources", {"email", "call", "chat"});
    }
    if (YAML::Node n = get("speakers"); n.IsDefined()) {
      rule.speakers = EnumList(n, what + ": speakers", {"customer", "rep"});
    }
    if (YAML::Node n = get("directions"); n.IsDefined()) {
      if (n.IsSequence()) {
        for (const auto& d : n) {
          if (d.IsScalar() && d.Scalar() == "internal") {
            Error(d, absl::StrCat(what, ": directions: 'internal' never counts"));
          }
        }
      }
      rule.directions = EnumList(n, what + ": directions", {"inbound", "outbound", "internal"});
      std::erase(rule.directions, "internal");
    }
    if (YAML::Node n = get("any"); n.IsDefined()) rule.any = Terms(n, what + ": any", lexicon);
    if (YAML::Node n = get("phrase"); n.IsDefined()) {
      for (const std::string& p : StringList(n, what + ": phrase")) {
        if (CheckTerm(n, what + ": phrase", p)) rule.phrase.push_back(p);
      }
    }
    if (YAML::Node n = get("regex"); n.IsDefined()) {
      if (n.IsSequence()) {
        for (const auto& item : n) {
          auto s = String(item, what + ": regex");
          if (!s) continue;
          if (s->empty()) {
            Error(item, absl::StrCat(what, ": regex: empty expression"));
            continue;
          }
          rule.regex.push_back(*s);
          rule.regex_locations.push_back(Loc(item));
        }
      } else {
        Error(n, absl::StrCat(what, ": regex: expected a list"));
      }
    }
    if (YAML::Node n = get("attachments"); n.IsDefined()) {
      for (const std::string& g : StringList(n, what + ": attachments")) {
        if (CheckTerm(n, what + ": attachments", g)) rule.attachments.push_back(g);
      }
    }
    if (rule.any.empty() && rule.phrase.empty() && rule.regex.empty() && rule.attachments.empty()) {
      Error(r, absl::StrCat(what,
                            ": no anchor (any, phrase, regex or attachments) or all "
                            "anchors empty"));
    }
    if (YAML::Node n = get("all"); n.IsDefined()) rule.all = Terms(n, what + ": all", lexicon);
    if (YAML::Node n = get("none"); n.IsDefined()) rule.none = Terms(n, what + ": none", lexicon);
    if (YAML::Node n = get("near"); n.IsDefined()) {
      if (CheckMap(n, {"terms", "within"}, what + ": near")) {
        Near near;
        if (!n["terms"]) {
          Error(n, absl::StrCat(what, ": near: missing 'terms'"));
        } else {
          near.terms = Terms(n["terms"], what + ": near.terms", lexicon);
        }
        if (!n["within"]) {
          Error(n, absl::StrCat(what, ": near: missing 'within'"));
        } else if (auto w = Number<int>(n["within"], what + ": near.within")) {
          if (*w <= 0) Error(n["within"], absl::StrCat(what, ": near.within must be > 0"));
          near.within = *w;
        }
        if (!near.terms.empty()) rule.near = std::move(near);
      }
    }
    if (YAML::Node n = get("guards"); n.IsDefined()) {
      if (CheckMap(n, {"negation", "hypothetical", "question"}, what + ": guards")) {
        if (n["negation"]) rule.guards.negation = ParseGuard(n["negation"], "negation");
        if (n["hypothetical"]) {
          rule.guards.hypothetical = ParseGuard(n["hypothetical"], "hypothetical");
        }
        if (n["question"]) rule.guards.question = ParseGuard(n["question"], "question");
      }
    }
    if (YAML::Node n = get("call"); n.IsDefined()) {
      if (CheckMap(n, {"min_duration_s"}, what + ": call") && n["min_duration_s"]) {
        auto d = Number<int64_t>(n["min_duration_s"], what + ": call.min_duration_s");
        if (d && *d < 0) {
          Error(n["min_duration_s"], absl::StrCat(what, ": call.min_duration_s must be >= 0"));
        } else if (d) {
          rule.min_call_duration_s = *d;
        }
      }
    }
    if (YAML::Node n = get("classifier"); n.IsDefined()) {
      if (CheckMap(n, {"label", "min_score"}, what + ": classifier")) {
        Classifier c;
        if (n["label"]) c.label = String(n["label"], "classifier.label").value_or("");
        if (c.label.empty()) Error(n, absl::StrCat(what, ": classifier: missing 'label'"));
        if (n["min_score"]) c.min_score = Number<double>(n["min_score"], "min_score").value_or(0);
        Warning(n, absl::StrCat(what,
                                ": classifier configured but no model is available; the "
                                "rule never fires"));
        rule.classifier = c;
      }
    }
    pack.rules.push_back(std::move(rule));
  }

  void ParseFile(RulesConfig* config) {
    YAML::Node root;
    try {
      root = YAML::LoadFile(file_);
    } catch (const YAML::ParserException& e) {
      FileError(e.mark.line, absl::StrCat("YAML syntax error: ", e.msg));
      return;
    } catch (const YAML::Exception& e) {
      FileError(-1, absl::StrCat("cannot read: ", e.what()));
      return;
    }
    if (root.IsNull()) return;  // an empty file
    if (!CheckMap(root, {"pipelines", "pack", "pipeline", "defaults", "lexicon", "rules"},
                  "file")) {
      return;
    }
    try {
      if (root["pipelines"]) ParsePipelines(root["pipelines"], &config->pipelines);
      if (root["pack"] || root["rules"] || root["pipeline"] || root["lexicon"] ||
          root["defaults"]) {
        ParsePack(root, &config->packs);
      }
    } catch (const YAML::Exception& e) {
      FileError(e.mark.line, absl::StrCat("invalid structure: ", e.msg));
    }
  }

 private:
  std::string file_;
  std::vector<Diagnostic>* diagnostics_;
};

// Checks that need the whole configuration: unique ids, targets that exist.
void CrossCheck(const RulesConfig& config, std::vector<Diagnostic>* diagnostics) {
  auto error = [&](const SourceLocation& loc, std::string message) {
    diagnostics->push_back({loc, std::move(message), Diagnostic::Severity::kError});
  };
  std::map<std::string, SourceLocation> pipelines;
  for (const Pipeline& p : config.pipelines) {
    auto [it, inserted] = pipelines.emplace(p.id, p.location);
    if (!inserted) {
      error(p.location, absl::StrCat("duplicate pipeline '", p.id, "' (first at ", it->second.file,
                                     ":", it->second.line, ")"));
    }
  }
  std::map<std::string, SourceLocation> packs;
  std::map<std::string, SourceLocation> rules;
  for (const RulePack& pack : config.packs) {
    if (!pack.name.empty()) {
      auto [it, inserted] = packs.emplace(pack.name, pack.location);
      if (!inserted) {
        error(pack.location, absl::StrCat("duplicate pack '", pack.name, "' (first at ",
                                          it->second.file, ":", it->second.line, ")"));
      }
    }
    const Pipeline* pipeline = config.FindPipeline(pack.pipeline);
    if (pipeline == nullptr && !pack.pipeline.empty()) {
      error(pack.location,
            absl::StrCat("pack ", pack.name, ": unknown pipeline '", pack.pipeline, "'"));
    }
    for (const Rule& rule : pack.rules) {
      if (!rule.id.empty()) {
        auto [it, inserted] = rules.emplace(rule.id, rule.location);
        if (!inserted) {
          error(rule.location, absl::StrCat("duplicate rule id '", rule.id, "' (first at ",
                                            it->second.file, ":", it->second.line, ")"));
        }
      }
      if (pipeline != nullptr && !rule.stage.empty() && pipeline->StageIndex(rule.stage) < 0) {
        error(rule.location, absl::StrCat("rule ", rule.id, ": stage '", rule.stage,
                                          "' is not a stage of pipeline '", pipeline->id, "'"));
      }
    }
  }
}

// A diagnostic of a whole path. Built member by member: GCC 12 at -O3 reports a false
// -Wmaybe-uninitialized on a braced Diagnostic temporary.
void PathError(const std::string& path, std::string message, std::vector<Diagnostic>* out) {
  Diagnostic d;
  d.location.file = path;
  d.message = std::move(message);
  d.severity = Diagnostic::Severity::kError;
  out->push_back(std::move(d));
}

std::vector<std::string> ListYamlFiles(const std::vector<std::string>& paths,
                                       std::vector<Diagnostic>* diagnostics) {
  std::vector<std::string> files;
  for (const std::string& path : paths) {
    std::error_code ec;
    if (fs::is_directory(path, ec)) {
      std::vector<std::string> found;
      for (const auto& entry : fs::directory_iterator(path, ec)) {
        const std::string ext = entry.path().extension().string();
        if (entry.is_regular_file() && (ext == ".yaml" || ext == ".yml")) {
          found.push_back(entry.path().string());
        }
      }
      if (ec) {
        PathError(path, "cannot list: " + ec.message(), diagnostics);
      }
      std::sort(found.begin(), found.end());
      if (found.empty()) {
        PathError(path, "no *.yaml files", diagnostics);
      }
      files.insert(files.end(), found.begin(), found.end());
    } else if (fs::is_regular_file(path, ec)) {
      files.push_back(path);
    } else {
      PathError(path, "no such file or directory", diagnostics);
    }
  }
  return files;
}

}  // namespace

std::string Diagnostic::ToString() const {
  return absl::StrCat(location.file, ":", location.line, ": ",
                      severity == Severity::kWarning ? "warning: " : "", message);
}

int Pipeline::StageIndex(std::string_view stage_id) const {
  for (size_t i = 0; i < stages.size(); ++i) {
    if (stages[i].id == stage_id) return static_cast<int>(i);
  }
  return -1;
}

const Pipeline* RulesConfig::FindPipeline(std::string_view id) const {
  for (const Pipeline& p : pipelines) {
    if (p.id == id) return &p;
  }
  return nullptr;
}

bool LoadResult::ok() const {
  return std::none_of(diagnostics.begin(), diagnostics.end(), [](const Diagnostic& d) {
    return d.severity == Diagnostic::Severity::kError;
  });
}

LoadResult LoadRules(const std::vector<std::string>& paths) {
  LoadResult result;
  for (const std::string& file : ListYamlFiles(paths, &result.diagnostics)) {
    FileParser(file, &result.diagnostics).ParseFile(&result.config);
  }
  CrossCheck(result.config, &result.diagnostics);
  return result;
}

absl::StatusOr<RulesConfig> LoadRulesDir(const std::string& dir) {
  LoadResult result = LoadRules({dir});
  if (!result.ok()) {
    std::vector<std::string> lines;
    for (const Diagnostic& d : result.diagnostics) {
      if (d.severity == Diagnostic::Severity::kError) lines.push_back(d.ToString());
    }
    return absl::InvalidArgumentError(absl::StrJoin(lines, "\n"));
  }
  return std::move(result.config);
}

std::vector<Diagnostic> Lint(const std::vector<std::string>& paths) {
  LoadResult result = LoadRules(paths);
  for (const RulePack& pack : result.config.packs) {
    for (const Rule& rule : pack.rules) {
      for (size_t i = 0; i < rule.regex.size(); ++i) {
        if (auto message = CheckExpression(rule.regex[i], kRegexFlags)) {
          result.diagnostics.push_back({rule.regex_locations[i],
                                        absl::StrCat("rule ", rule.id, ": regex '", rule.regex[i],
                                                     "' refused by Vectorscan: ", *message),
                                        Diagnostic::Severity::kError});
        }
      }
    }
  }
  std::stable_sort(result.diagnostics.begin(), result.diagnostics.end(),
                   [](const Diagnostic& a, const Diagnostic& b) {
                     return std::tie(a.location.file, a.location.line) <
                            std::tie(b.location.file, b.location.line);
                   });
  return std::move(result.diagnostics);
}

}  // namespace autostage::rules
