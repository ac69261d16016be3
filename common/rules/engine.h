// Engine: the whole decision path for one event, decode excluded:
//   resolve → precheck → extract (new content) → normalize each segment once → match (one
//   Vectorscan scan per segment) → guards around anchors → judge.
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
  explicit Engine(std::unique_ptr<Matcher> matcher) : matcher_(std::move(matcher)) {}
  std::unique_ptr<Matcher> matcher_;
  std::vector<Firing> firings_;
};

// A window of about `context` code points of `text` on each side of [begin, end), cut on UTF-8
// boundaries, whitespace runs folded to one space, "…" where cut.
std::string Snippet(std::string_view text, size_t begin, size_t end, size_t context = 30);

}  // namespace autostage::rules

#endif  // AUTOSTAGE_COMMON_RULES_ENGINE_H_
