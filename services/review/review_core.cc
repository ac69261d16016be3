#include "services/review/review_core.h"

#include <optional>
#include <string>
#include <utility>

#include "absl/strings/str_cat.h"
#include "common/status/status_macros.h"

namespace autostage::review {
namespace {

// The pending index a principal lists, and the opportunities it may decide: rep own, manager
// team, admin all (auth.h MayView).
ListScope ScopeOf(const Principal& p) {
  switch (p.role) {
    case Role::kRep:
      return {ListScope::Kind::kOwner, p.id};
    case Role::kManager:
      return {ListScope::Kind::kTeam, p.team};
    default:
      return {ListScope::Kind::kAll, ""};
  }
}

std::string OutsideScope(const Principal& p) {
  return p.role == Role::kManager ? "this opportunity belongs to another team"
                                  : "this opportunity belongs to another rep";
}

}  // namespace

absl::StatusOr<Principal> ReviewCore::Authenticate(const CallInfo& call) {
  absl::StatusOr<Principal> p = tokens_.Authenticate(call.authorization);
  if (!p.ok()) {
    if (metrics_ != nullptr) metrics_->ObserveUnauthenticated(call.method);
    // The audit write is best effort: a refused call stays refused if Redis is down.
    (void)store_.Audit({.action = "unauthenticated",
                        .method = call.method,
                        .detail = std::string(p.status().message()),
                        .peer = call.peer});
  }
  return p;
}

absl::Status ReviewCore::Deny(const CallInfo& call, const Principal& p,
                              absl::string_view proposal_id, absl::string_view opportunity_id,
                              absl::string_view why) {
  if (metrics_ != nullptr) metrics_->ObserveDenied(call.method);
  (void)store_.Audit({.action = "denied",
                      .principal = p.id,
                      .method = call.method,
                      .proposal_id = std::string(proposal_id),
                      .opportunity_id = std::string(opportunity_id),
                      .detail = std::string(why),
                      .peer = call.peer});
  return absl::PermissionDeniedError(why);
}

absl::StatusOr<Ownership> ReviewCore::Authorize(const CallInfo& call, const Principal& p,
                                                const std::string& proposal_id, bool decide) {
  if (decide && p.kind != PrincipalKind::kHuman) {
    return Deny(call, p, proposal_id, "", "only a person can confirm or reject a suggestion");
  }
  if (!MayList(p)) return Deny(call, p, proposal_id, "", "ingest may only submit proposals");
  ASSIGN_OR_RETURN(std::string opp, store_.OpportunityOf(proposal_id));
  Ownership o;
  absl::StatusOr<OpportunityState> state = store_.GetOpportunity(opp);
  if (state.ok()) {
    o = {state->owner_id, state->team_id};
  } else if (!absl::IsNotFound(state.status())) {
    return state.status();
  }
  if (!(decide ? MayDecide(p, o) : MayView(p, o))) {
    return Deny(call, p, proposal_id, opp, OutsideScope(p));
  }
  return o;
}

absl::StatusOr<v1::SubmitProposalsResponse> ReviewCore::SubmitProposals(
    const CallInfo& call, const v1::SubmitProposalsRequest& request) {
  ASSIGN_OR_RETURN(Principal p, Authenticate(call));
  if (!MaySubmit(p)) return Deny(call, p, "", "", "only the ingest service submits proposals");
  absl::StatusOr<v1::SubmitProposalsResponse> response = store_.Submit(request);
  if (response.ok() && metrics_ != nullptr) metrics_->ObserveSubmit(*response);
  return response;
}

absl::StatusOr<v1::ListPendingResponse> ReviewCore::ListPending(
    const CallInfo& call, const v1::ListPendingRequest& request) {
  ASSIGN_OR_RETURN(Principal p, Authenticate(call));
  if (!MayList(p)) return Deny(call, p, "", "", "ingest may only submit proposals");
  const ListScope scope = ScopeOf(p);
  if (!request.opportunity_id().empty()) {
    absl::StatusOr<OpportunityState> state = store_.GetOpportunity(request.opportunity_id());
    if (absl::IsNotFound(state.status())) return v1::ListPendingResponse();
    RETURN_IF_ERROR(state.status());
    if (!MayView(p, {state->owner_id, state->team_id})) {
      return Deny(call, p, "", request.opportunity_id(), "this opportunity is not yours to review");
    }
  }
  return store_.ListPending(request, scope);
}

absl::StatusOr<v1::ReviewedProposal> ReviewCore::GetProposal(
    const CallInfo& call, const v1::GetProposalRequest& request) {
  ASSIGN_OR_RETURN(Principal p, Authenticate(call));
  if (request.proposal_id().empty()) return absl::InvalidArgumentError("proposal_id is required");
  RETURN_IF_ERROR(Authorize(call, p, request.proposal_id(), /*decide=*/false).status());
  return store_.Get(request.proposal_id());
}

absl::StatusOr<v1::ReviewedProposal> ReviewCore::Decide(const CallInfo& call,
                                                        DecisionRequest request) {
  ASSIGN_OR_RETURN(Principal p, Authenticate(call));
  if (request.proposal_id.empty()) return absl::InvalidArgumentError("proposal_id is required");
  if (request.decision == Decision::kReject && request.reason.empty()) {
    return absl::InvalidArgumentError("a reason is required to reject a suggestion");
  }
  // What needs no Redis is refused here; the ownership part of the table (MayDecide) is the
  // scope the decide script checks against the opportunity in the same atomic step as the
  // decision, so a confirm is one Redis round trip.
  if (p.kind != PrincipalKind::kHuman) {
    return Deny(call, p, request.proposal_id, "",
                "only a person can confirm or reject a suggestion");
  }
  if (!MayList(p))
    return Deny(call, p, request.proposal_id, "", "ingest may only submit proposals");
  request.scope = ScopeOf(p);
  request.actor = p.id;
  request.peer = call.peer;
  DecisionInfo info;
  absl::StatusOr<v1::ReviewedProposal> decided = store_.Decide(request, &info);
  if (absl::IsPermissionDenied(decided.status())) {
    return Deny(call, p, request.proposal_id, info.opportunity_id, OutsideScope(p));
  }
  // The store tells a replay from the first decision: only applied decisions are counted.
  if (decided.ok() && info.applied && metrics_ != nullptr) {
    metrics_->ObserveDecision(request.decision == Decision::kConfirm, *decided);
    if (info.stage_changed) {
      std::optional<absl::Duration> in_stage;
      if (info.stage_entered_ms.has_value()) {
        in_stage = absl::Milliseconds(info.decided_at_ms - *info.stage_entered_ms);
      }
      metrics_->ObserveStageChange(info.pipeline, info.from_stage, info.to_stage, in_stage);
    }
  }
  return decided;
}

absl::StatusOr<v1::ReviewedProposal> ReviewCore::ConfirmProposal(
    const CallInfo& call, const v1::ConfirmProposalRequest& request) {
  return Decide(call, {.proposal_id = request.proposal_id(),
                       .version = request.version(),
                       .decision = Decision::kConfirm});
}

absl::StatusOr<v1::ReviewedProposal> ReviewCore::RejectProposal(
    const CallInfo& call, const v1::RejectProposalRequest& request) {
  return Decide(call, {.proposal_id = request.proposal_id(),
                       .version = request.version(),
                       .decision = Decision::kReject,
                       .reason = request.reason()});
}

absl::StatusOr<std::shared_ptr<Subscription>> ReviewCore::WatchProposals(
    const CallInfo& call, const v1::WatchProposalsRequest& request) {
  ASSIGN_OR_RETURN(Principal p, Authenticate(call));
  if (!MayList(p)) return Deny(call, p, "", "", "ingest may only submit proposals");
  if (!request.opportunity_id().empty()) {
    absl::StatusOr<OpportunityState> state = store_.GetOpportunity(request.opportunity_id());
    if (state.ok()) {
      if (!MayView(p, {state->owner_id, state->team_id})) {
        return Deny(call, p, "", request.opportunity_id(),
                    "this opportunity is not yours to review");
      }
    } else if (!absl::IsNotFound(state.status())) {
      return state.status();
    }
    // Unknown opportunity: allowed; the scope filter below still applies to every update.
  }
  if (hub_ == nullptr) {
    return absl::UnimplementedError("WatchProposals is not enabled on this server");
  }
  WatchFilter filter;
  filter.opportunity_id = request.opportunity_id();
  filter.to_stage = request.to_stage();
  switch (p.role) {
    case Role::kRep:
      filter.scope = WatchFilter::Scope::kOwner;
      filter.scope_id = p.id;
      break;
    case Role::kManager:
      filter.scope = WatchFilter::Scope::kTeam;
      filter.scope_id = p.team;
      break;
    default:
      filter.scope = WatchFilter::Scope::kAll;
      break;
  }
  return hub_->Subscribe(std::move(filter));
}

}  // namespace autostage::review
