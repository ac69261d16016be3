#include "common/rules/judge.h"

#include <algorithm>
#include <array>
#include <cstdint>
#include <type_traits>
#include <utility>

#include "absl/strings/str_cat.h"
#include "common/rules/sha256.h"

namespace autostage::rules {

std::string ProposalId(std::string_view event_id, std::string_view opportunity_id,
                       std::string_view to_stage) {
  std::string key;
  key.reserve(event_id.size() + opportunity_id.size() + to_stage.size() + 2);
  key.append(event_id.data(), event_id.size());
  key.push_back('\0');
  key.append(opportunity_id.data(), opportunity_id.size());
  key.push_back('\0');
  key.append(to_stage.data(), to_stage.size());
  // The first 16 bytes in hex, written straight into the id (no 64-digit string to cut).
  static constexpr char kHex[] = "0123456789abcdef";
  const std::array<uint8_t, 32> digest = Sha256(key);
  std::string id(32, '0');
  for (size_t i = 0; i < 16; ++i) {
    id[2 * i] = kHex[digest[i] >> 4];
    id[2 * i + 1] = kHex[digest[i] & 0xF];
  }
  return id;
}

namespace {

std::string PrecheckOpportunity(const v1::Event& event, const v1::Opportunity* opportunity,
                                const std::string& reason, const RuleSet& rules) {
  if (opportunity == nullptr) return reason.empty() ? "unresolved" : reason;
  const v1::Opportunity& o = *opportunity;
  if (o.status() != "open") return "not_open";
  const CompiledPipeline* pipeline = rules.FindPipeline(o.pipeline());
  if (pipeline == nullptr) return "unknown_pipeline";
  if (pipeline->pipeline().StageIndex(o.stage()) < 0) return "unknown_stage";
  if (event.direction() == "internal") return "internal";
  return "";
}

}  // namespace

std::string Precheck(const v1::Event& event, const Resolution& resolution, const RuleSet& rules) {
  return PrecheckOpportunity(event, resolution.opportunity ? &*resolution.opportunity : nullptr,
                             resolution.reason, rules);
}

std::string Precheck(const v1::Event& event, const ResolutionView& resolution,
                     const RuleSet& rules) {
  return PrecheckOpportunity(event, resolution.opportunity, resolution.reason, rules);
}

namespace {

// Decide's body. `FiredRules` is `const std::vector<FiredRule>` (evidence copied) or
// `std::vector<FiredRule>` (evidence moved into the proposal).
template <typename FiredRules>
Decision DecideImpl(const v1::Event& event, const v1::Opportunity& opportunity,
                    const CompiledPipeline& pipeline, FiredRules& fired) {
  constexpr bool kMove = !std::is_const_v<FiredRules>;
  Decision d;
  d.event_id = event.event_id();
  d.opportunity_id = opportunity.opportunity_id();
  if (fired.empty()) {
    d.reason = "no_match";
    return d;
  }
  const Pipeline& p = pipeline.pipeline();
  const std::vector<CompiledRule>& rules = pipeline.rules();
  const int current = p.StageIndex(opportunity.stage());
  int target = -1;
  bool forward = false;
  for (const FiredRule& f : fired) {
    const int stage = rules[f.rule].stage_index;
    if (stage <= current) continue;
    forward = true;
    if (p.max_skip && stage - current - 1 > *p.max_skip) continue;
    target = std::max(target, stage);
  }
  if (!forward) {
    d.reason = "backward_or_same";
    return d;
  }
  if (target < 0) {
    d.reason = "max_skip";
    return d;
  }
  // The evidence: the first kMaxEvidence firings of the target stage, strongest first (ties
  // keep the event order). Insertion into a fixed array: no allocation, and a stable order
  // because an entry only passes strictly weaker ones.
  std::array<size_t, kMaxEvidence> support;
  size_t count = 0;
  for (size_t i = 0; i < fired.size(); ++i) {
    const CompiledRule& rule = rules[fired[i].rule];
    if (rule.stage_index != target) continue;
    const double confidence = rule.rule->confidence;
    size_t at = count;
    while (at > 0 && rules[fired[support[at - 1]].rule].rule->confidence < confidence) --at;
    if (at == kMaxEvidence) continue;
    if (count < kMaxEvidence) ++count;
    for (size_t k = count - 1; k > at; --k) support[k] = support[k - 1];
    support[at] = i;
  }
  const std::string& to_stage = p.stages[target].id;
  d.proposal.emplace();
  v1::Proposal& proposal = *d.proposal;
  proposal.set_proposal_id(ProposalId(event.event_id(), opportunity.opportunity_id(), to_stage));
  proposal.set_opportunity_id(opportunity.opportunity_id());
  proposal.set_pipeline(p.id);
  proposal.set_from_stage(opportunity.stage());
  proposal.set_to_stage(to_stage);
  const Rule& best = *rules[fired[support[0]].rule].rule;
  proposal.set_rule_id(best.id);
  proposal.set_confidence(best.confidence);
  proposal.set_owner_id(opportunity.owner_id());
  proposal.set_team_id(opportunity.team_id());
  proposal.mutable_evidence()->Reserve(static_cast<int>(count));
  for (size_t i = 0; i < count; ++i) {
    auto& f = fired[support[i]];
    const Rule& rule = *rules[f.rule].rule;
    v1::Evidence* e = proposal.add_evidence();
    e->set_event_id(event.event_id());
    e->set_source(event.source());
    e->set_rule_id(rule.id);
    e->mutable_matched_terms()->Reserve(static_cast<int>(f.matched_terms.size()));
    if constexpr (kMove) {
      for (std::string& t : f.matched_terms) e->add_matched_terms(std::move(t));
      e->set_snippet(std::move(f.snippet));
      e->set_field(std::move(f.field));
    } else {
      for (const std::string& t : f.matched_terms) e->add_matched_terms(t);
      e->set_snippet(f.snippet);
      e->set_field(f.field);
    }
    e->set_start(f.start);
    e->set_end(f.end);
    e->set_confidence(rule.confidence);
    if (event.has_occurred_at()) *e->mutable_occurred_at() = event.occurred_at();
  }
  d.reason = "proposed";
  return d;
}

}  // namespace

Decision Decide(const v1::Event& event, const v1::Opportunity& opportunity,
                const CompiledPipeline& pipeline, const std::vector<FiredRule>& fired) {
  return DecideImpl(event, opportunity, pipeline, fired);
}

Decision Decide(const v1::Event& event, const v1::Opportunity& opportunity,
                const CompiledPipeline& pipeline, std::vector<FiredRule>&& fired) {
  return DecideImpl(event, opportunity, pipeline, fired);
}

}  // namespace autostage::rules
