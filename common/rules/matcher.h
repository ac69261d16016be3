// Matcher: scans one normalized segment once with the pipeline's Vectorscan database and
// evaluates the rules anchored by the hits (conditions, guards around the anchor, speaker /
// source / direction / call filters). Never loops over rules × text: only rules that own a
// hit are looked at, and guards run only on anchors.
//
// Thread safety: a Matcher is NOT thread-safe (it owns a Vectorscan scratch and a
// GuardAnalyzer); make one per worker thread over the shared immutable RuleSet.
#ifndef AUTOSTAGE_COMMON_RULES_MATCHER_H_
#define AUTOSTAGE_COMMON_RULES_MATCHER_H_

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <tuple>
#include <vector>

#include "absl/status/statusor.h"
#include "common/rules/rule_set.h"
#include "common/rules/vectorscan.h"
#include "common/text/guards.h"
#include "common/text/segment.h"

namespace autostage::rules {

// A pattern occurrence in normalized text, after boundary checks.
struct Hit {
  uint32_t pattern = 0;
  uint32_t start = 0;
  uint32_t end = 0;
};

// What the rule filters need to know about the segment and its event.
struct SegmentContext {
  std::string_view source;     // "email" | "call" | "chat"
  std::string_view direction;  // "inbound" | "outbound"
  text::Speaker speaker = text::Speaker::kCustomer;
  text::SegmentKind kind = text::SegmentKind::kBody;
  int64_t call_duration_s = 0;
  bool call_answered = false;
};

// A rule that fired on a segment.
struct Firing {
  uint32_t rule = 0;                       // index into CompiledPipeline::rules()
  text::ByteRange anchor;                  // normalized text offsets
  std::vector<std::string> matched_terms;  // as written in the rule
  text::GuardFindings guards;              // empty when no guard ran
};

// Why a candidate rule did or did not fire, for `rulectl explain`.
struct RuleTrace {
  uint32_t rule = 0;
  text::ByteRange anchor;
  std::string outcome;  // "fired", "filtered: speaker", "all: missing 合同", "guard: negation (没)"
  text::GuardFindings guards;
  bool guards_ran = false;
};

// Sentence / clause / guard results of one segment, shared by every rule evaluated on it
// (sentences and clauses partition the text, so one found range serves every anchor inside
// it; guard findings of one anchor range serve every rule anchored there). Clear() it when
// the segment changes; keeping one per segment lets rules of one segment be evaluated in
// several rounds (the engine's furthest-stage-first order) without recomputing.
struct SegmentCache {
  std::vector<text::ByteRange> sentences;
  std::vector<text::ByteRange> clauses;
  std::vector<std::tuple<uint32_t, uint32_t, text::GuardFindings>> findings;
  void Clear() {
    sentences.clear();
    clauses.clear();
    findings.clear();
  }
};

class Matcher {
 public:
  // Clones the rule set's scratch prototype and the guard analyzer (one per thread).
  static absl::StatusOr<std::unique_ptr<Matcher>> Create(std::shared_ptr<const RuleSet> rules,
                                                         const text::GuardAnalyzer& guards);

  const RuleSet& rule_set() const { return *rules_; }

  // Every pattern occurrence in `normalized`, sorted by (pattern, start). Fails only on a
  // Vectorscan runtime error (kInternal).
  absl::Status Scan(const CompiledPipeline& pipeline, std::string_view normalized,
                    std::vector<Hit>* hits);

  // Scans and evaluates; appends one Firing per rule that fired (its first passing anchor).
  // `trace` (optional) receives one entry per candidate anchor examined.
  absl::Status Evaluate(const CompiledPipeline& pipeline, const SegmentContext& context,
                        std::string_view normalized, std::vector<Firing>* firings,
                        std::vector<RuleTrace>* trace = nullptr, std::vector<Hit>* hits = nullptr);

  // The two halves of Evaluate, for callers that evaluate a segment's rules selectively (the
  // engine evaluates the furthest stage first and stops once a stage fired).
  //
  // Appends to `candidates` (cleared first), in rule order, the rules worth evaluating on a
  // scanned segment: on a body or subject the rules anchored by `hits`, on an attachment name
  // the rules with a glob matching it; in both cases only those passing the speaker, source,
  // direction and call filters.
  void Candidates(const CompiledPipeline& pipeline, const SegmentContext& context,
                  std::string_view normalized, const std::vector<Hit>& hits,
                  std::vector<uint32_t>* candidates) const;
  // Evaluates candidate rule `rule` (filters already passed) on the segment: appends a Firing
  // and returns true when it fires. `cache` belongs to this segment.
  bool EvaluateRule(const CompiledPipeline& pipeline, const SegmentContext& context,
                    std::string_view normalized, const std::vector<Hit>& hits, uint32_t rule,
                    SegmentCache* cache, std::vector<Firing>* firings,
                    std::vector<RuleTrace>* trace = nullptr);

 private:
  Matcher(std::shared_ptr<const RuleSet> rules, HsScratch scratch,
          std::unique_ptr<text::GuardAnalyzer> guards);
  // `why` (optional) receives the reason of a rejection.
  bool PassesFilters(const CompiledPipeline& pipeline, uint32_t rule, const SegmentContext& context,
                     std::string* why) const;
  bool EvaluateAttachmentRule(const CompiledPipeline& pipeline, std::string_view normalized,
                              const std::vector<Hit>& hits, uint32_t rule,
                              std::vector<Firing>* firings, std::vector<RuleTrace>* trace);
  void EvaluateAttachment(const CompiledPipeline& pipeline, const SegmentContext& context,
                          std::string_view normalized, const std::vector<Hit>& hits,
                          std::vector<Firing>* firings, std::vector<RuleTrace>* trace);

  bool AllGroupsPresent(const std::vector<Hit>& hits,
                        const std::vector<std::vector<uint32_t>>& groups) const;
  // Whether a hit of `near_hits` (the segment's hits of the rule's near terms) is within
  // reach of `anchor` in bytes: a cheap test before the sentence is looked for.
  bool NearPossible(const std::vector<Hit>& near_hits, const CompiledRule& rule,
                    const Hit& anchor) const;
  text::ByteRange SentenceAt(std::string_view text, const Hit& anchor, SegmentCache* cache);
  // With `analyze`, the clause comes from AnalyzeAt (cached findings) instead of a separate scan.
  text::ByteRange ClauseAt(std::string_view text, const Hit& anchor, bool analyze,
                           SegmentCache* cache);
  const text::GuardFindings& AnalyzeAt(std::string_view text, const Hit& anchor,
                                       SegmentCache* cache);

  std::shared_ptr<const RuleSet> rules_;
  HsScratch scratch_;
  std::unique_ptr<text::GuardAnalyzer> guards_;
  std::vector<Hit> raw_hits_;  // reused between calls
  std::vector<Hit> own_hits_;
  std::vector<uint32_t> candidates_;
  std::vector<Hit> anchors_;        // EvaluateRule's anchors of one rule
  std::vector<uint32_t> term_ids_;  // EvaluateRule's matched patterns of one anchor
  std::vector<Hit> near_hits_;      // EvaluateRule's hits of the rule's near terms
  SegmentCache cache_;              // Evaluate's (cleared per call)
};

}  // namespace autostage::rules

#endif  // AUTOSTAGE_COMMON_RULES_MATCHER_H_
