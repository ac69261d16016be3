// Judge: turns the rules that fired on an event into at most one Proposal, following
// spec/stage-policy.md: open opportunity, known pipeline and stage, never internal, never
// machine-made, forward only, the furthest evidenced stage within `max_skip`. Every event gets
// a decision reason:
//   "proposed", "no_match", "unresolved", "ambiguous_opportunity", "not_open",
//   "unknown_pipeline", "unknown_stage", "internal", "machine_made:<extraction reason>",
//   "backward_or_same", "max_skip".
//
// Thread safety: pure functions.
#ifndef AUTOSTAGE_COMMON_RULES_JUDGE_H_
#define AUTOSTAGE_COMMON_RULES_JUDGE_H_

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "autostage/v1/event.pb.h"
#include "autostage/v1/opportunity.pb.h"
#include "autostage/v1/proposal.pb.h"
#include "common/rules/resolver.h"
#include "common/rules/rule_set.h"

namespace autostage::rules {

// One rule that fired on one segment, with its evidence in the original field.
struct FiredRule {
  uint32_t rule = 0;  // index into CompiledPipeline::rules()
  std::vector<std::string> matched_terms;
  std::string field;    // e.g. "email.text"
  std::string snippet;  // original text around the match
  int64_t start = 0;    // byte range in the original field value
  int64_t end = 0;
};

struct Decision {
  std::string event_id;
  std::string opportunity_id;  // empty when unresolved
  std::optional<v1::Proposal> proposal;
  std::string reason;
  // Formats of the parts extraction dropped, one entry per dropped part (e.g. "quote_gt",
  // "signature"); views of string literals, valid forever. Empty when the event was not
  // extracted (it stopped at Precheck); filled for machine-made events too.
  std::vector<std::string_view> dropped_formats;
};

// Checks that need no text (resolution, policy rules 1 and 6, pipeline and stage known).
// Returns the reason when the event can yield nothing, or "" when it goes on.
std::string Precheck(const v1::Event& event, const Resolution& resolution, const RuleSet& rules);
// The same on a resolution that did not copy the snapshot.
std::string Precheck(const v1::Event& event, const ResolutionView& resolution,
                     const RuleSet& rules);

// Policy rules 1 and 2 on the fired rules. `opportunity` passed Precheck.
Decision Decide(const v1::Event& event, const v1::Opportunity& opportunity,
                const CompiledPipeline& pipeline, const std::vector<FiredRule>& fired);
// The same decision, but the evidence (matched terms, snippet, field) is moved out of `fired`
// into the proposal instead of copied: the engine's hot path, which needs `fired` no more.
Decision Decide(const v1::Event& event, const v1::Opportunity& opportunity,
                const CompiledPipeline& pipeline, std::vector<FiredRule>&& fired);

// Deterministic: hex SHA-256 of event_id, opportunity_id and to_stage (NUL-separated), first
// 32 hex digits.
std::string ProposalId(std::string_view event_id, std::string_view opportunity_id,
                       std::string_view to_stage);

// At most this many evidence entries per proposal (the strongest rules first).
inline constexpr size_t kMaxEvidence = 8;

}  // namespace autostage::rules

#endif  // AUTOSTAGE_COMMON_RULES_JUDGE_H_
