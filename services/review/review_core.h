// ReviewCore: the review service's logic behind the gRPC adapter — authentication, the
// authorization table (auth.h), request validation and auditing of refusals — over a
// ProposalStore. Knows nothing of gRPC: the adapter passes the `authorization` metadata value
// and the peer, and maps the returned absl::Status codes 1:1 onto gRPC codes.
//
// Codes besides the store's: kUnauthenticated (missing/unknown token), kPermissionDenied (the
// principal may not do this; audited), kInvalidArgument (missing id, reject without reason).
//
// Optional collaborators (null when a test does not care): ReviewMetrics counts submits,
// applied decisions and refusals; a WatchHub serves WatchProposals (without one, an
// authorized watch gets kUnimplemented).
//
// Thread safety: thread-safe; the store, token table, metrics and hub are borrowed and must
// outlive it.
#ifndef AUTOSTAGE_SERVICES_REVIEW_REVIEW_CORE_H_
#define AUTOSTAGE_SERVICES_REVIEW_REVIEW_CORE_H_

#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "autostage/v1/review.pb.h"
#include "services/review/auth.h"
#include "services/review/proposal_store.h"
#include "services/review/review_metrics.h"
#include "services/review/watch_hub.h"

namespace autostage::review {

// Who is calling, from where, and which method (for audit records).
struct CallInfo {
  std::string authorization;  // the `authorization` metadata value
  std::string peer;
  std::string method;  // e.g. "ConfirmProposal"
};

class ReviewCore {
 public:
  ReviewCore(ProposalStore& store, const TokenTable& tokens, ReviewMetrics* metrics = nullptr,
             WatchHub* hub = nullptr)
      : store_(store), tokens_(tokens), metrics_(metrics), hub_(hub) {}

  absl::StatusOr<v1::SubmitProposalsResponse> SubmitProposals(
      const CallInfo& call, const v1::SubmitProposalsRequest& request);
  absl::StatusOr<v1::ListPendingResponse> ListPending(const CallInfo& call,
                                                      const v1::ListPendingRequest& request);
  absl::StatusOr<v1::ReviewedProposal> GetProposal(const CallInfo& call,
                                                   const v1::GetProposalRequest& request);
  absl::StatusOr<v1::ReviewedProposal> ConfirmProposal(const CallInfo& call,
                                                       const v1::ConfirmProposalRequest& request);
  absl::StatusOr<v1::ReviewedProposal> RejectProposal(const CallInfo& call,
                                                      const v1::RejectProposalRequest& request);
  // A subscription to changes in the caller's scope (rep: own, manager: team, admin: all)
  // matching the request's filters. Any principal but ingest may watch; an opportunity_id
  // filter outside the caller's scope is kPermissionDenied (as for ListPending).
  // kUnimplemented without a hub, kUnavailable once the hub stopped.
  absl::StatusOr<std::shared_ptr<Subscription>> WatchProposals(
      const CallInfo& call, const v1::WatchProposalsRequest& request);

  // Ends every open watch with kUnavailable and refuses new ones (server shutdown).
  void StopWatches() {
    if (hub_ != nullptr) hub_->Stop();
  }

  ReviewMetrics* metrics() const { return metrics_; }

 private:
  // Authenticates; an unauthenticated call is audited.
  absl::StatusOr<Principal> Authenticate(const CallInfo& call);
  // Audits the refusal and returns kPermissionDenied with `why`.
  absl::Status Deny(const CallInfo& call, const Principal& p, absl::string_view proposal_id,
                    absl::string_view opportunity_id, absl::string_view why);
  // Loads the proposal's opportunity ownership and checks `p` may decide (or view) it.
  // (GetProposal; a decision checks the scope inside the store's decide script.)
  absl::StatusOr<Ownership> Authorize(const CallInfo& call, const Principal& p,
                                      const std::string& proposal_id, bool decide);
  absl::StatusOr<v1::ReviewedProposal> Decide(const CallInfo& call, DecisionRequest request);

  ProposalStore& store_;
  const TokenTable& tokens_;
  ReviewMetrics* const metrics_;
  WatchHub* const hub_;
};

}  // namespace autostage::review

#endif  // AUTOSTAGE_SERVICES_REVIEW_REVIEW_CORE_H_
