// RuleSet: the compiled, immutable form of a RulesConfig. Per pipeline, every term (normalized
// with the Normalizer), phrase and regex of the pipeline's rules is ONE Vectorscan block-mode
// database; identical terms share one pattern id, which lists every rule (and role) using it.
//
// Term semantics (docs/rules.md): a term whose first/last character is a Latin letter or
// digit only matches when the neighbouring character of the text is not one (checked after
// the match); a trailing `*` drops the right-hand check (prefix match). Literals are compiled
// without start-of-match tracking (start = end - length); phrases and regexes with
// HS_FLAG_SOM_LEFTMOST.
//
// Thread safety: immutable after Compile(); share it as std::shared_ptr<const RuleSet> between
// threads (a hot reload swaps the pointer). Scanning needs a per-thread scratch (matcher.h).
#ifndef AUTOSTAGE_COMMON_RULES_RULE_SET_H_
#define AUTOSTAGE_COMMON_RULES_RULE_SET_H_

#include <cstdint>
#include <map>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"
#include "common/rules/config.h"
#include "common/rules/vectorscan.h"
#include "common/text/normalize.h"

namespace autostage::rules {

struct Pattern {
  std::string expression;  // as given to Vectorscan
  std::string display;     // the term / phrase / regex as written (first user)
  bool literal = false;    // fixed byte length: start = end - length
  size_t length = 0;       // bytes, literals only
  bool left_boundary = false;
  bool right_boundary = false;
  // Non-literals only: the pattern alone with HS_FLAG_SOM_LEFTMOST, scanned over a short
  // window ending at a hit to find its start (see kSomWindow).
  std::shared_ptr<const hs_database_t> som_database;
};

// What the scan needs of a pattern for every hit, packed apart from Pattern's strings: with
// 10,000 rules the Pattern table is over a megabyte, while these 8 bytes per pattern keep the
// hot loop's lookups within a few cache lines.
struct PatternHot {
  uint32_t length = 0;  // Pattern::length (literals)
  uint8_t flags = 0;    // kPattern* bits
};
inline constexpr uint8_t kPatternLiteral = 1;
inline constexpr uint8_t kPatternLeftBoundary = 2;
inline constexpr uint8_t kPatternRightBoundary = 4;

// Start-of-match is never asked of the big database: Vectorscan 5.4.9 aborts ("buffer overflow
// detected", an unconditional snprintf into a 255-byte buffer in rvermicelliDoubleExecReal,
// fixed upstream in VectorCamp/vectorscan#392) when a SOM pattern such as 'a+b' reverse-scans
// more than 255 bytes. So the main database reports match ends only, and the start of a
// non-literal hit is found by its one-pattern SOM database over at most kSomWindow bytes
// before the end (a longer match is clamped to the window: evidence only).
inline constexpr size_t kSomWindow = 200;

// One compiled rule; term lists hold pattern ids.
struct CompiledRule {
  const Rule* rule = nullptr;  // points into RuleSet::config()
  int stage_index = 0;
  std::vector<uint32_t> anchors;  // any + phrase + regex
  // Normalized, without repeats (globs that differ only in case normalize alike);
  // attachment_index[i] is the position in rule->attachments of the first glob giving
  // attachment_globs[i].
  std::vector<std::string> attachment_globs;
  std::vector<uint32_t> attachment_index;
  std::vector<std::vector<uint32_t>> all_groups;  // one hit of each group
  std::vector<uint32_t> near;
  std::vector<uint32_t> none;
  // `near` and `none` sorted, without repeats: whether any of them occurs in a segment is one
  // walk along the segment's hits (sorted by pattern) instead of one search per term. The
  // lists above keep the rule's order, which names the matched term.
  std::vector<uint32_t> near_sorted;
  std::vector<uint32_t> none_sorted;
  bool source_email = false, source_call = false, source_chat = false;
  bool speaker_customer = false, speaker_rep = false;
  bool direction_inbound = false, direction_outbound = false;
  bool any_guard_blocks = false;
};

// What Matcher::PassesFilters needs of a rule, packed (16 bytes) so filtering candidates reads
// neither the CompiledRule nor the Rule it points to.
struct RuleFilter {
  uint8_t bits = 0;                  // kFilter* bits the rule accepts
  int64_t min_call_duration_s = -1;  // -1: no call condition
  int32_t stage_index = 0;
};
inline constexpr uint8_t kFilterEmail = 1;
inline constexpr uint8_t kFilterCall = 2;
inline constexpr uint8_t kFilterChat = 4;
inline constexpr uint8_t kFilterCustomer = 8;
inline constexpr uint8_t kFilterRep = 16;
inline constexpr uint8_t kFilterInbound = 32;
inline constexpr uint8_t kFilterOutbound = 64;

class CompiledPipeline {
 public:
  const Pipeline& pipeline() const { return *pipeline_; }
  const std::vector<Pattern>& patterns() const { return patterns_; }
  const std::vector<CompiledRule>& rules() const { return rules_; }
  // Index = pattern id / rule index.
  const std::vector<PatternHot>& pattern_hot() const { return pattern_hot_; }
  const std::vector<RuleFilter>& rule_filters() const { return rule_filters_; }
  // Rules anchored by a pattern (ascending rule indexes), one contiguous run of a flat array.
  std::span<const uint32_t> RulesAnchoredBy(uint32_t pattern) const {
    return {anchored_rules_.data() + anchored_begin_[pattern],
            anchored_rules_.data() + anchored_begin_[pattern + 1]};
  }
  // Rules with attachment globs.
  const std::vector<uint32_t>& attachment_rules() const { return attachment_rules_; }
  // Null when the pipeline has no term or regex at all.
  const hs_database_t* database() const { return database_.get(); }
  // Bit i set when a rule of stage i accepts a segment of this source, speaker, direction and
  // kind (attachment names vs. bodies/subjects), before any text is looked at; stages past 63
  // share bit 63. Lets the engine skip normalizing and scanning segments that no rule of the
  // stages it asks about can use. 0 for an unknown source or direction.
  uint64_t StageMask(std::string_view source, bool rep, std::string_view direction,
                     bool attachment) const;

 private:
  friend class RuleSetBuilder;
  const Pipeline* pipeline_ = nullptr;
  std::vector<Pattern> patterns_;
  std::vector<CompiledRule> rules_;
  std::vector<PatternHot> pattern_hot_;
  std::vector<RuleFilter> rule_filters_;
  // RulesAnchoredBy(p) = anchored_rules_[anchored_begin_[p], anchored_begin_[p + 1]).
  std::vector<uint32_t> anchored_begin_;
  std::vector<uint32_t> anchored_rules_;
  std::vector<uint32_t> attachment_rules_;
  // [source email|call|chat][speaker customer|rep][direction inbound|outbound][attachment].
  uint64_t stage_masks_[3][2][2][2] = {};
  HsDatabase database_;
};

class RuleSet {
 public:
  // Normalizes and compiles `config`. Errors (kInvalidArgument) name the rule id and
  // file:line, and for regexes Vectorscan refuses carry the compiler's message.
  static absl::StatusOr<std::shared_ptr<const RuleSet>> Compile(
      RulesConfig config, std::shared_ptr<const text::Normalizer> normalizer);

  const RulesConfig& config() const { return config_; }
  const text::Normalizer& normalizer() const { return *normalizer_; }
  // Null when the pipeline is not configured.
  const CompiledPipeline* FindPipeline(std::string_view id) const;
  size_t rule_count() const;
  size_t pattern_count() const;
  // Scratch sized for every pipeline database; Matchers clone it (hs_clone_scratch only reads
  // it, so concurrent clones are safe). Null when no pipeline has patterns.
  const hs_scratch_t* scratch_prototype() const { return scratch_prototype_.get(); }

 private:
  friend class RuleSetBuilder;
  RuleSet() = default;
  RulesConfig config_;
  std::shared_ptr<const text::Normalizer> normalizer_;
  std::map<std::string, std::unique_ptr<CompiledPipeline>, std::less<>> pipelines_;
  HsScratch scratch_prototype_;
};

// Bit of stage `index` in CompiledPipeline::StageMask.
inline uint64_t StageBit(int index) {
  return index < 0 ? 0 : uint64_t{1} << (index < 63 ? index : 63);
}

// Helpers shared with the matcher.
bool IsWordChar(uint32_t code_point);
// Code point ending just before byte `pos` of `text` (0 at the start).
uint32_t CodePointBefore(std::string_view text, size_t pos);
// Code point starting at byte `pos` (0 at the end).
uint32_t CodePointAt(std::string_view text, size_t pos);
// Glob over normalized strings: `*` any run, `?` one code point.
bool GlobMatch(std::string_view glob, std::string_view text);

}  // namespace autostage::rules

#endif  // AUTOSTAGE_COMMON_RULES_RULE_SET_H_
