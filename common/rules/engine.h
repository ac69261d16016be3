// Engine: the whole decision path for one event, decode excluded:
//   resolve → precheck → extract (new content) → normalize each segment once → match (one
//   Vectorscan scan per segment) → guards around anchors → judge.
//
// Only the furthest fired stage matters (judge.h), so Process() evaluates rules stage by
// stage, furthest reachable stage first (after the current stage, within max_skip), and stops
// after the first stage that fired: rules of lower stages, and their guards, never run. A
// segment is normalized and scanned only when a rule of the stage being evaluated accepts its
// speaker, source, direction and kind. Only when no reachable stage fired are the other
// stages tried, and then only until one rule fires, to tell "max_skip" and
// "backward_or_same" from "no_match". The decision is the one Decide() makes on every fired
// rule (what Match() and a traced Process() compute).
//
// Thread safety: an Engine is NOT thread-safe (it owns a Matcher: scratch + guard analyzer).
// Make one per worker thread over the shared std::shared_ptr<const RuleSet>.
#ifndef AUTOSTAGE_COMMON_RULES_ENGINE_H_
#define AUTOSTAGE_COMMON_RULES_ENGINE_H_

#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "autostage/v1/event.pb.h"
#include "common/rules/judge.h"
#include "common/rules/matcher.h"
#include "common/rules/resolver.h"
#include "common/rules/rule_set.h"
#include "common/text/guards.h"
#include "common/text/segment.h"

namespace autostage::rules {

// Everything `rulectl explain` shows.
struct SegmentTrace {
  size_t segment = 0;  // index into Trace::extraction.segments
  std::string normalized;
  std::vector<Hit> hits;
  std::vector<RuleTrace> rules;
};
struct Trace {
  Resolution resolution;
  bool extracted = false;
  text::Extraction extraction;
  const CompiledPipeline* pipeline = nullptr;
  std::vector<SegmentTrace> segments;
  std::vector<FiredRule> fired;
};

class Engine {
 public:
  static absl::StatusOr<std::unique_ptr<Engine>> Create(std::shared_ptr<const RuleSet> rules,
                                                        const text::GuardAnalyzer& guards);

  // `event` must be validated. Fails only on internal errors (Vectorscan runtime).
  absl::StatusOr<Decision> Process(const v1::Event& event, const OpportunityResolver& resolver,
                                   Trace* trace = nullptr);

  // The fired rules of an already extracted event (also used by benchmarks).
  absl::Status Match(const v1::Event& event, const CompiledPipeline& pipeline,
                     const text::Extraction& extraction, std::vector<FiredRule>* fired,
                     Trace* trace = nullptr);

  const RuleSet& rule_set() const { return matcher_->rule_set(); }

 private:
  // One extracted segment during a staged evaluation; normalized, scanned and its candidate
  // rules found on first use. Reused between events (capacity kept).
  struct SegmentState {
    bool prepared = false;
    uint64_t stage_mask = 0;  // CompiledPipeline::StageMask of the segment
    SegmentContext context;
    text::NormalizedText normalized;
    std::vector<Hit> hits;
    std::vector<uint32_t> candidates;
    SegmentCache cache;
  };

  explicit Engine(std::unique_ptr<Matcher> matcher) : matcher_(std::move(matcher)) {}
  // The staged evaluation described at the top; appends the deciding fired rules to `fired`.
  absl::Status MatchStaged(const v1::Event& event, const v1::Opportunity& opportunity,
                           const CompiledPipeline& pipeline, const text::Extraction& extraction,
                           std::vector<FiredRule>* fired);
  // Evaluates the rules of `stage` on every segment; with `first_only` stops at the first
  // firing. Returns whether any rule fired. Appends fired rules without evidence (their anchors
  // go to pending_).
  absl::StatusOr<bool> EvaluateStage(const CompiledPipeline& pipeline,
                                     const text::Extraction& extraction, int stage, bool first_only,
                                     std::vector<FiredRule>* fired);

  // Where the evidence of a staged firing is (anchor in the segment's normalized text); one
  // per fired rule MatchStaged appended, in order. Evidence (snippet, field, range) is built
  // only for the firings Decide keeps.
  struct PendingEvidence {
    size_t segment = 0;
    size_t begin = 0;
    size_t end = 0;
  };

  std::unique_ptr<Matcher> matcher_;
  std::vector<Firing> firings_;
  std::vector<PendingEvidence> pending_;
  std::vector<FiredRule> fired_;  // Process's, reused (capacity kept)
  std::vector<size_t> evidence_order_;
  std::vector<SegmentState> segments_;  // [0, segment_count_) in use
  text::Extraction extraction_;         // Process's, reused (capacity kept)
  size_t segment_count_ = 0;
};

// A window of about `context` code points of `text` on each side of [begin, end), cut on UTF-8
// boundaries, whitespace runs folded to one space, "…" where cut.
std::string Snippet(std::string_view text, size_t begin, size_t end, size_t context = 30);

}  // namespace autostage::rules

#endif  // AUTOSTAGE_COMMON_RULES_ENGINE_H_
