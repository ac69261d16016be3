#include "common/rules/rule_set.h"

#include <algorithm>
#include <unordered_map>
#include <utility>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"

namespace autostage::rules {
namespace {

size_t Utf8Length(unsigned char lead) {
  if (lead < 0x80) return 1;
  if ((lead >> 5) == 0x6) return 2;
  if ((lead >> 4) == 0xE) return 3;
  if ((lead >> 3) == 0x1E) return 4;
  return 1;
}

uint32_t Decode(std::string_view text, size_t pos, size_t* length) {
  const auto lead = static_cast<unsigned char>(text[pos]);
  size_t n = Utf8Length(lead);
  if (pos + n > text.size()) n = 1;
  *length = n;
  if (n == 1) return lead;
  uint32_t cp = lead & (0x7F >> n);
  for (size_t i = 1; i < n; ++i)
    cp = (cp << 6) | (static_cast<unsigned char>(text[pos + i]) & 0x3F);
  return cp;
}

// Escapes a normalized literal for Vectorscan (UTF-8 bytes pass through; HS_FLAG_UTF8 is set).
std::string Escape(std::string_view literal) {
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out;
  out.reserve(literal.size() * 2);
  for (char ch : literal) {
    const auto c = static_cast<unsigned char>(ch);
    if (c >= 0x80 || (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z')) {
      out.push_back(ch);
    } else {
      out += "\\x";
      out.push_back(kHex[c >> 4]);
      out.push_back(kHex[c & 0xF]);
    }
  }
  return out;
}

std::string Trim(std::string s) {
  const size_t b = s.find_first_not_of(' ');
  if (b == std::string::npos) return "";
  const size_t e = s.find_last_not_of(' ');
  return s.substr(b, e - b + 1);
}

std::string Where(const Rule& rule) {
  return absl::StrCat(rule.location.file, ":", rule.location.line, ": rule ", rule.id);
}

}  // namespace

bool IsWordChar(uint32_t cp) {
  if (cp < 0x80) {
    return (cp >= '0' && cp <= '9') || (cp >= 'a' && cp <= 'z') || (cp >= 'A' && cp <= 'Z');
  }
  // Latin-1 Supplement and Latin Extended-A/B letters (accented Latin), not × and ÷.
  return cp >= 0xC0 && cp <= 0x24F && cp != 0xD7 && cp != 0xF7;
}

uint32_t CodePointBefore(std::string_view text, size_t pos) {
  if (pos == 0 || pos > text.size()) return 0;
  size_t start = pos - 1;
  while (start > 0 && pos - start < 4 && (static_cast<unsigned char>(text[start]) & 0xC0) == 0x80) {
    --start;
  }
  size_t length = 0;
  return Decode(text, start, &length);
}

uint32_t CodePointAt(std::string_view text, size_t pos) {
  if (pos >= text.size()) return 0;
  size_t length = 0;
  return Decode(text, pos, &length);
}

namespace {

// GlobMatch for a glob without '?' (what attachment patterns are): the literal chunks between
// stars, leftmost first. A chunk of a valid UTF-8 glob starts with an ASCII or lead byte, so
// on valid UTF-8 text it only matches at code point boundaries, as the star's code-point steps
// in the general loop do; and for '*'-only globs the leftmost placement of each chunk is a
// match whenever any placement is. Linear in the text per chunk instead of backtracking.
bool StarGlobMatch(std::string_view glob, std::string_view text) {
  const size_t first_star = glob.find('*');
  if (first_star == std::string_view::npos) return glob == text;
  const size_t last_star = glob.rfind('*');
  const std::string_view prefix = glob.substr(0, first_star);
  const std::string_view suffix = glob.substr(last_star + 1);
  if (text.size() < prefix.size() + suffix.size() || !text.starts_with(prefix) ||
      !text.ends_with(suffix)) {
    return false;
  }
  const std::string_view middle = text.substr(0, text.size() - suffix.size());
  size_t t = prefix.size();
  for (size_t g = first_star + 1; g <= last_star;) {
    const size_t next = glob.find('*', g);
    const std::string_view chunk = glob.substr(g, next - g);
    if (!chunk.empty()) {
      const size_t at = middle.find(chunk, t);
      if (at == std::string_view::npos) return false;
      t = at + chunk.size();
    }
    g = next + 1;
  }
  return true;
}

}  // namespace

bool GlobMatch(std::string_view glob, std::string_view text) {
  if (glob.find('?') == std::string_view::npos) return StarGlobMatch(glob, text);
  size_t g = 0, t = 0;
  size_t star_g = std::string_view::npos, star_t = 0;
  while (t < text.size()) {
    if (g < glob.size() && glob[g] == '*') {
      star_g = g++;
      star_t = t;
      continue;
    }
    if (g < glob.size() && glob[g] == '?') {
      size_t n = 0;
      Decode(text, t, &n);
      ++g;
      t += n;
      continue;
    }
    if (g < glob.size() && glob[g] == text[t]) {
      ++g;
      ++t;
      continue;
    }
    if (star_g == std::string_view::npos) return false;
    // Backtrack: the star swallows one more code point.
    size_t n = 0;
    Decode(text, star_t, &n);
    star_t += n;
    t = star_t;
    g = star_g + 1;
  }
  while (g < glob.size() && glob[g] == '*') ++g;
  return g == glob.size();
}

uint64_t CompiledPipeline::StageMask(std::string_view source, bool rep, std::string_view direction,
                                     bool attachment) const {
  const int so = source == "email" ? 0 : source == "call" ? 1 : source == "chat" ? 2 : -1;
  const int di = direction == "inbound" ? 0 : direction == "outbound" ? 1 : -1;
  if (so < 0 || di < 0) return 0;
  return stage_masks_[so][rep ? 1 : 0][di][attachment ? 1 : 0];
}

class RuleSetBuilder {
 public:
  RuleSetBuilder(RuleSet* set) : set_(set) {}

  absl::Status Build() {
    for (const Pipeline& pipeline : set_->config_.pipelines) {
      auto compiled = std::make_unique<CompiledPipeline>();
      compiled->pipeline_ = &pipeline;
      keys_.clear();
      flags_.clear();
      for (const RulePack& pack : set_->config_.packs) {
        if (pack.pipeline != pipeline.id) continue;
        for (const Rule& rule : pack.rules) AddRule(rule, compiled.get());
      }
      if (!errors_.empty()) continue;
      BuildTables(compiled.get());
      for (uint32_t r = 0; r < compiled->rules_.size(); ++r) {
        const CompiledRule& rule = compiled->rules_[r];
        if (!rule.attachment_globs.empty()) compiled->attachment_rules_.push_back(r);
        const bool sources[3] = {rule.source_email, rule.source_call, rule.source_chat};
        const bool speakers[2] = {rule.speaker_customer, rule.speaker_rep};
        const bool directions[2] = {rule.direction_inbound, rule.direction_outbound};
        const bool kinds[2] = {!rule.anchors.empty(), !rule.attachment_globs.empty()};
        for (int so = 0; so < 3; ++so) {
          for (int sp = 0; sp < 2; ++sp) {
            for (int di = 0; di < 2; ++di) {
              for (int k = 0; k < 2; ++k) {
                if (sources[so] && speakers[sp] && directions[di] && kinds[k]) {
                  compiled->stage_masks_[so][sp][di][k] |= StageBit(rule.stage_index);
                }
              }
            }
          }
        }
      }
      CompileDatabase(compiled.get());
      set_->pipelines_.emplace(pipeline.id, std::move(compiled));
    }
    if (!errors_.empty()) return absl::InvalidArgumentError(absl::StrJoin(errors_, "\n"));
    return absl::OkStatus();
  }

 private:
  // The packed tables of CompiledPipeline: pattern_hot_, rule_filters_ and the anchored-by
  // index (a counting sort of (pattern, rule) pairs; a rule's anchors are unique and rules are
  // visited in order, so each run is ascending).
  static void BuildTables(CompiledPipeline* out) {
    const size_t n = out->patterns_.size();
    out->pattern_hot_.resize(n);
    for (size_t i = 0; i < n; ++i) {
      const Pattern& p = out->patterns_[i];
      PatternHot& hot = out->pattern_hot_[i];
      hot.length = static_cast<uint32_t>(p.length);
      hot.flags = static_cast<uint8_t>((p.literal ? kPatternLiteral : 0) |
                                       (p.left_boundary ? kPatternLeftBoundary : 0) |
                                       (p.right_boundary ? kPatternRightBoundary : 0));
    }
    out->anchored_begin_.assign(n + 1, 0);
    for (const CompiledRule& rule : out->rules_) {
      for (uint32_t p : rule.anchors) ++out->anchored_begin_[p + 1];
    }
    for (size_t i = 0; i < n; ++i) out->anchored_begin_[i + 1] += out->anchored_begin_[i];
    out->anchored_rules_.resize(out->anchored_begin_[n]);
    std::vector<uint32_t> next(out->anchored_begin_.begin(), out->anchored_begin_.end() - 1);
    out->rule_filters_.resize(out->rules_.size());
    for (uint32_t r = 0; r < out->rules_.size(); ++r) {
      const CompiledRule& rule = out->rules_[r];
      for (uint32_t p : rule.anchors) out->anchored_rules_[next[p]++] = r;
      RuleFilter& f = out->rule_filters_[r];
      f.bits = static_cast<uint8_t>(
          (rule.source_email ? kFilterEmail : 0) | (rule.source_call ? kFilterCall : 0) |
          (rule.source_chat ? kFilterChat : 0) | (rule.speaker_customer ? kFilterCustomer : 0) |
          (rule.speaker_rep ? kFilterRep : 0) | (rule.direction_inbound ? kFilterInbound : 0) |
          (rule.direction_outbound ? kFilterOutbound : 0));
      f.min_call_duration_s = rule.rule->min_call_duration_s.value_or(-1);
      f.stage_index = rule.stage_index;
    }
  }

  uint32_t Intern(CompiledPipeline* out, const std::string& key, Pattern pattern, unsigned flags) {
    auto it = keys_.find(key);
    if (it != keys_.end()) return it->second;
    const auto id = static_cast<uint32_t>(out->patterns_.size());
    out->patterns_.push_back(std::move(pattern));
    flags_.push_back(flags);
    keys_.emplace(key, id);
    return id;
  }

  // Returns false (and records an error) when the term normalizes to nothing.
  bool AddTerm(const Rule& rule, const std::string& term, CompiledPipeline* out, uint32_t* id) {
    std::string raw = term;
    bool prefix = false;
    while (!raw.empty() && (raw.back() == ' ' || raw.back() == '\t')) raw.pop_back();
    if (!raw.empty() && raw.back() == '*') {
      prefix = true;
      raw.pop_back();
    }
    const std::string normalized = Trim(set_->normalizer_->NormalizeString(raw));
    if (normalized.empty()) {
      errors_.push_back(absl::StrCat(Where(rule), ": term '", term, "' is empty once normalized"));
      return false;
    }
    Pattern p;
    p.expression = Escape(normalized);
    p.display = term;
    p.literal = true;
    p.length = normalized.size();
    p.left_boundary = IsWordChar(CodePointAt(normalized, 0));
    p.right_boundary = !prefix && IsWordChar(CodePointBefore(normalized, normalized.size()));
    *id = Intern(out, absl::StrCat(prefix ? "T*:" : "T:", normalized), std::move(p), HS_FLAG_UTF8);
    return true;
  }

  bool AddPhrase(const Rule& rule, const std::string& phrase, CompiledPipeline* out, uint32_t* id) {
    const std::string normalized = Trim(set_->normalizer_->NormalizeString(phrase));
    std::vector<std::string> tokens = absl::StrSplit(normalized, ' ', absl::SkipEmpty());
    if (tokens.empty()) {
      errors_.push_back(
          absl::StrCat(Where(rule), ": phrase '", phrase, "' is empty once normalized"));
      return false;
    }
    if (tokens.size() == 1) return AddTerm(rule, tokens[0], out, id);
    Pattern p;
    std::vector<std::string> escaped;
    for (const std::string& t : tokens) escaped.push_back(Escape(t));
    // Whitespace-insensitive: any (or no) whitespace between the words.
    p.expression = absl::StrJoin(escaped, "\\s*");
    p.display = phrase;
    p.left_boundary = IsWordChar(CodePointAt(normalized, 0));
    p.right_boundary = IsWordChar(CodePointBefore(normalized, normalized.size()));
    *id = Intern(out, absl::StrCat("P:", absl::StrJoin(tokens, " ")), std::move(p), HS_FLAG_UTF8);
    return true;
  }

  std::vector<uint32_t> AddGroups(const Rule& rule, const std::vector<TermGroup>& groups,
                                  CompiledPipeline* out) {
    std::vector<uint32_t> ids;
    for (const TermGroup& g : groups) {
      for (const std::string& term : g.terms) {
        uint32_t id = 0;
        if (AddTerm(rule, term, out, &id)) ids.push_back(id);
      }
    }
    return ids;
  }

  void AddRule(const Rule& rule, CompiledPipeline* out) {
    // A classifier rule needs a model; none is configured in this build (lint warns).
    if (rule.classifier.has_value()) return;
    CompiledRule c;
    c.rule = &rule;
    c.stage_index = out->pipeline_->StageIndex(rule.stage);
    for (const TermGroup& g : rule.any) {
      for (const std::string& term : g.terms) {
        uint32_t id = 0;
        if (AddTerm(rule, term, out, &id)) c.anchors.push_back(id);
      }
    }
    for (const std::string& phrase : rule.phrase) {
      uint32_t id = 0;
      if (AddPhrase(rule, phrase, out, &id)) c.anchors.push_back(id);
    }
    for (size_t i = 0; i < rule.regex.size(); ++i) {
      const std::string& regex = rule.regex[i];
      if (auto message = CheckExpression(regex, kRegexFlags)) {
        const SourceLocation& loc = rule.regex_locations[i];
        errors_.push_back(absl::StrCat(loc.file, ":", loc.line, ": rule ", rule.id, ": regex '",
                                       regex, "' refused by Vectorscan: ", *message));
        continue;
      }
      Pattern p;
      p.expression = regex;
      p.display = regex;
      c.anchors.push_back(Intern(out, absl::StrCat("R:", regex), std::move(p),
                                 kRegexFlags & ~static_cast<unsigned>(HS_FLAG_SOM_LEFTMOST)));
    }
    for (size_t i = 0; i < rule.attachments.size(); ++i) {
      std::string glob = Trim(set_->normalizer_->NormalizeString(rule.attachments[i]));
      if (std::find(c.attachment_globs.begin(), c.attachment_globs.end(), glob) !=
          c.attachment_globs.end()) {
        continue;  // matches exactly what the earlier one does
      }
      c.attachment_globs.push_back(std::move(glob));
      c.attachment_index.push_back(static_cast<uint32_t>(i));
    }
    for (const TermGroup& g : rule.all) {
      std::vector<uint32_t> ids = AddGroups(rule, {g}, out);
      if (!ids.empty()) c.all_groups.push_back(std::move(ids));
    }
    if (rule.near) c.near = AddGroups(rule, rule.near->terms, out);
    c.none = AddGroups(rule, rule.none, out);
    for (auto [from, to] :
         {std::pair{&c.near, &c.near_sorted}, std::pair{&c.none, &c.none_sorted}}) {
      *to = *from;
      std::sort(to->begin(), to->end());
      to->erase(std::unique(to->begin(), to->end()), to->end());
    }
    for (const std::string& s : rule.sources) {
      c.source_email |= s == "email";
      c.source_call |= s == "call";
      c.source_chat |= s == "chat";
    }
    for (const std::string& s : rule.speakers) {
      c.speaker_customer |= s == "customer";
      c.speaker_rep |= s == "rep";
    }
    for (const std::string& d : rule.directions) {
      c.direction_inbound |= d == "inbound";
      c.direction_outbound |= d == "outbound";
    }
    c.any_guard_blocks = rule.guards.negation == GuardMode::kBlock ||
                         rule.guards.hypothetical == GuardMode::kBlock ||
                         rule.guards.question == GuardMode::kBlock;
    std::sort(c.anchors.begin(), c.anchors.end());
    c.anchors.erase(std::unique(c.anchors.begin(), c.anchors.end()), c.anchors.end());
    out->rules_.push_back(std::move(c));
  }

  void CompileDatabase(CompiledPipeline* out) {
    if (out->patterns_.empty()) return;
    std::vector<const char*> expressions;
    std::vector<unsigned> ids;
    for (uint32_t i = 0; i < out->patterns_.size(); ++i) {
      expressions.push_back(out->patterns_[i].expression.c_str());
      ids.push_back(i);
    }
    hs_database_t* raw_db = nullptr;
    hs_compile_error_t* raw_error = nullptr;
    const hs_error_t rc = hs_compile_multi(expressions.data(), flags_.data(), ids.data(),
                                           static_cast<unsigned>(expressions.size()), HS_MODE_BLOCK,
                                           nullptr, &raw_db, &raw_error);
    HsCompileError error(raw_error);
    if (rc != HS_SUCCESS) {
      std::string which;
      if (error && error->expression >= 0 &&
          static_cast<size_t>(error->expression) < out->patterns_.size()) {
        which = absl::StrCat(" (pattern '", out->patterns_[error->expression].display, "')");
      }
      errors_.push_back(absl::StrCat("pipeline ", out->pipeline_->id,
                                     ": Vectorscan refused the rule set", which, ": ",
                                     error ? error->message : "unknown error"));
      return;
    }
    out->database_.reset(raw_db);
    GrowScratch(raw_db, out);
    for (uint32_t i = 0; i < out->patterns_.size(); ++i) {
      Pattern& p = out->patterns_[i];
      if (p.literal) continue;
      hs_database_t* som = nullptr;
      hs_compile_error_t* som_error = nullptr;
      const hs_error_t som_rc = hs_compile(p.expression.c_str(), flags_[i] | HS_FLAG_SOM_LEFTMOST,
                                           HS_MODE_BLOCK, nullptr, &som, &som_error);
      HsCompileError som_error_holder(som_error);
      if (som_rc != HS_SUCCESS) {
        errors_.push_back(absl::StrCat(
            "pipeline ", out->pipeline_->id, ": pattern '", p.display,
            "' refused with start-of-match: ", som_error ? som_error->message : "unknown error"));
        continue;
      }
      p.som_database.reset(som, &hs_free_database);
      GrowScratch(som, out);
    }
  }

  void GrowScratch(const hs_database_t* db, CompiledPipeline* out) {
    hs_scratch_t* scratch = set_->scratch_prototype_.release();
    if (hs_alloc_scratch(db, &scratch) != HS_SUCCESS) {
      errors_.push_back(
          absl::StrCat("pipeline ", out->pipeline_->id, ": cannot allocate Vectorscan scratch"));
    }
    set_->scratch_prototype_.reset(scratch);
  }

  RuleSet* set_;
  std::unordered_map<std::string, uint32_t> keys_;
  std::vector<unsigned> flags_;
  std::vector<std::string> errors_;
};

absl::StatusOr<std::shared_ptr<const RuleSet>> RuleSet::Compile(
    RulesConfig config, std::shared_ptr<const text::Normalizer> normalizer) {
  if (normalizer == nullptr) return absl::InvalidArgumentError("RuleSet: null normalizer");
  std::shared_ptr<RuleSet> set(new RuleSet());
  set->config_ = std::move(config);
  set->normalizer_ = std::move(normalizer);
  RuleSetBuilder builder(set.get());
  if (absl::Status s = builder.Build(); !s.ok()) return s;
  return std::shared_ptr<const RuleSet>(std::move(set));
}

const CompiledPipeline* RuleSet::FindPipeline(std::string_view id) const {
  auto it = pipelines_.find(id);
  return it == pipelines_.end() ? nullptr : it->second.get();
}

size_t RuleSet::rule_count() const {
  size_t n = 0;
  for (const auto& [id, p] : pipelines_) n += p->rules().size();
  return n;
}

size_t RuleSet::pattern_count() const {
  size_t n = 0;
  for (const auto& [id, p] : pipelines_) n += p->patterns().size();
  return n;
}

}  // namespace autostage::rules
