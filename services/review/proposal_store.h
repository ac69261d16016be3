// ProposalStore: review's state in Redis — opportunities (as ingest writes them), proposals,
// pending indexes, the outbox and the audit stream. Transport-free and authorization-free: the
// service checks who may call what, the store keeps the data consistent.
//
// Key layout (docs/api.md "Redis keys"; O = opportunity id, used as the hash tag):
//   autostage:{O}:opportunity          HASH  pipeline stage status owner_id team_id
//   autostage:{O}:pending              HASH  to_stage → pending proposal id (one per stage)
//   autostage:{O}:proposal:<P>         HASH  proposal evidence evidence_ms status version
//                                            from_stage to_stage ... (evidence: newest first)
//   autostage:{review}:locator         HASH  stored proposal id → O (submit idempotency too)
//   autostage:{review}:merged          HASH  merged proposal id → id it was merged into
//   autostage:{review}:pending:all     ZSET  pending proposal ids by creation time (ms)
//   autostage:{review}:pending:owner:<owner_id>, ...:pending:team:<team_id>   same, scoped
//   autostage:{review}:outbox          STREAM change_id opportunity_id proposal_id change
//   autostage:{review}:audit           STREAM action principal proposal_id opportunity_id ...
//   autostage:{review}:updates         STREAM kind proposal_id opportunity_id owner_id ... (C1)
// Every change is one Lua script, so the state is consistent after any crash. The {review}
// keys make the scripts span two hash tags: a single Redis (or a one-shard deployment) only,
// for now.
//
// Every script that creates, merges, decides, supersedes or expires a proposal appends its
// updates to the updates stream in the same script (contract C1: one entry per update, or one
// batch entry per submit call), so a watcher reading it never sees a change that did not
// happen, nor misses one that did.
//
// Error codes: kUnavailable when Redis is unreachable (retry); kNotFound for an unknown
// proposal; kAborted for a version or ownership mismatch (reload, decide again), including
// the loser of a confirm/reject race; kFailedPrecondition when the decision cannot apply
// (decided differently at the current version, superseded, expired); kInvalidArgument for
// malformed requests.
//
// Thread safety: all methods are thread-safe (each call leases its own Redis connection).
#ifndef AUTOSTAGE_SERVICES_REVIEW_PROPOSAL_STORE_H_
#define AUTOSTAGE_SERVICES_REVIEW_PROPOSAL_STORE_H_

#include <cstdint>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "autostage/v1/review.pb.h"
#include "common/crmstate/opportunity_state_store.h"
#include "common/redis/redis_pool.h"
#include "common/redis/script.h"
#include "services/review/auth.h"
#include "services/review/clock.h"
#include "services/review/pipelines.h"

namespace autostage::review {

// The opportunity facts review needs; ingest writes them from crm.opportunities.
struct OpportunityState {
  std::string opportunity_id;
  std::string pipeline;
  std::string stage;
  std::string status = "open";  // open | won | lost
  std::string owner_id;
  std::string team_id;
};

enum class Decision { kConfirm, kReject };

// Which pending index a listing reads; for a decision, whose opportunities the caller may
// decide (owner: the opportunity's owner_id, team: its team_id, all: any).
struct ListScope {
  enum class Kind { kAll, kOwner, kTeam };
  Kind kind = Kind::kAll;
  std::string id;  // owner or team id
};

struct DecisionRequest {
  std::string proposal_id;
  int64_t version = 0;
  Decision decision = Decision::kConfirm;
  std::string actor;   // principal id, recorded as decided_by / confirmed_by
  std::string reason;  // reject only
  std::string peer;    // where the call came from, for the audit stream
  // The caller's scope, checked by the decide script against the opportunity hash in the same
  // atomic step as the decision: outside it, kPermissionDenied and nothing changes (the
  // caller audits the refusal). Default: all.
  ListScope scope;
  // Optional ownership the caller authorized against beforehand; the script refuses
  // (kAborted) if it changed in between, so such an authorization is never applied to a moved
  // opportunity. Written `.expected = {"alice", "east"}` or `= Ownership{...}`; default: not
  // checked.
  struct Expected {
    Expected() = default;
    Expected(std::string owner_id, std::string team_id)
        : ownership(Ownership{std::move(owner_id), std::move(team_id)}) {}
    Expected(Ownership o) : ownership(std::move(o)) {}  // NOLINT(google-explicit-constructor)
    std::optional<Ownership> ownership;
  } expected;
};

// What a decision did besides the proposal Decide returns (for metrics and audits).
struct DecisionInfo {
  // The opportunity the proposal belongs to (also set on kPermissionDenied).
  std::string opportunity_id;
  // False for a replay of the same decision (nothing was written).
  bool applied = false;
  // A confirmation that moved the opportunity: its pipeline, from_stage -> to_stage, and
  // when it had entered from_stage (ms since the epoch; nullopt when unknown: entered before
  // review or the CRM recorded the stage, or set by an undated administrative write).
  bool stage_changed = false;
  std::string pipeline;
  std::string from_stage;
  std::string to_stage;
  std::optional<int64_t> stage_entered_ms;
  int64_t decided_at_ms = 0;
};

// One audit stream entry written outside a decision (denials, unauthenticated calls).
struct AuditRecord {
  std::string action;  // e.g. "denied", "unauthenticated"
  std::string principal;
  std::string method;
  std::string proposal_id;
  std::string opportunity_id;
  std::string detail;
  std::string peer;
};

struct StoreOptions {
  // Evidence kept per pending proposal (newest by occurred_at).
  int evidence_cap = 20;
  // How long a call waits for a free Redis connection.
  absl::Duration pool_wait = absl::Seconds(2);
};

class ProposalStore {
 public:
  // `pool` and `clock` are borrowed and must outlive the store.
  ProposalStore(redis::RedisPool& pool, Pipelines pipelines, const Clock& clock,
                StoreOptions options = {});

  // Writes the opportunity state unconditionally (tests and tools; ingest writes CRM snapshots
  // through crmstate::OpportunityStateStore::Apply). Delegates to OpportunityStateStore::Put:
  // when owner or team change, the pending proposals move to the new owner/team indexes in the
  // same script.
  absl::Status PutOpportunity(const OpportunityState& state);
  // NotFound if review has no state for it.
  absl::StatusOr<OpportunityState> GetOpportunity(absl::string_view opportunity_id);

  // One result per proposal, in order. A malformed proposal gets SUBMIT_OUTCOME_INVALID; the
  // call fails only when Redis does (then some proposals may be stored: retry the batch, it
  // is idempotent).
  absl::StatusOr<v1::SubmitProposalsResponse> Submit(const v1::SubmitProposalsRequest& request);

  // The opportunity a stored proposal belongs to; NotFound otherwise.
  absl::StatusOr<std::string> OpportunityOf(absl::string_view proposal_id);
  absl::StatusOr<v1::ReviewedProposal> Get(absl::string_view proposal_id);

  // Pending proposals in `scope`, filtered and paged as the request says. When
  // request.opportunity_id is set the scope is not consulted (the caller authorized it).
  absl::StatusOr<v1::ListPendingResponse> ListPending(const v1::ListPendingRequest& request,
                                                      const ListScope& scope);

  // Confirm or reject, atomically, in one round trip (one decide script: locator, scope check,
  // decision, StageChange to the outbox, reply with the decided proposal and its evidence).
  // Codes as in the header comment, plus kPermissionDenied when the opportunity is outside
  // request.scope (checked after kNotFound for an unknown proposal id). Returns the decided
  // proposal; replaying the same decision returns it again without new outbox entries.
  // `info`, when given, says what the call did (filled as far as the script got).
  absl::StatusOr<v1::ReviewedProposal> Decide(const DecisionRequest& request,
                                              DecisionInfo* info = nullptr);

  absl::Status Audit(const AuditRecord& record);

  // Expires every pending proposal created at or before Now() - max_age (the injected
  // clock): status `expired`, version bumped, removed from every pending index and from the
  // opportunity's pending hash, one audit entry (action=expired) and one updates entry each.
  // Runs in Lua batches of `batch_size` (each atomic, each its own connection lease) until no
  // candidate is left. Returns how many proposals were expired; on error some batches may
  // have applied (calling again is safe). kInvalidArgument for non-positive arguments.
  absl::StatusOr<int64_t> ExpirePending(absl::Duration max_age, int batch_size = 500);

  // Key names, for tests and the outbox publisher.
  static std::string OutboxKey();
  static std::string AuditKey();
  // The updates stream of contract C1 (read by the WatchProposals hub).
  static std::string UpdatesKey();

 private:
  // The locator lookup on a connection the caller already holds.
  absl::StatusOr<std::string> Locate(redis::RedisClient& client, absl::string_view proposal_id);
  // Validates `proposal`: a malformed one gets its INVALID outcome in `result` and nullptr;
  // a valid one appends its part of the submit script's ARGV to `args` and returns its
  // pipeline's stages.
  const std::vector<std::string>* PrepareSubmit(const v1::Proposal& proposal, int64_t now_ms,
                                                v1::SubmitResult& result,
                                                std::vector<std::string>& args);
  // Fills `result` from one proposal's four values in the submit script's flat reply, at `at`.
  static absl::Status ParseSubmitReply(const redis::Reply& reply, size_t at,
                                       v1::SubmitResult& result);
  absl::StatusOr<v1::ReviewedProposal> Load(redis::RedisClient& client,
                                            const std::string& opportunity_id,
                                            const std::string& proposal_id);
  int64_t NowMillis() const { return absl::ToUnixMillis(clock_.Now()); }
  // The configured pipelines as the decide script's ARGV tail (n, then name n_stages stage...
  // each), built once: the script finds the proposal's pipeline itself.
  static std::vector<std::string> PipelineArgs(const Pipelines& pipelines);

  redis::RedisPool& pool_;
  const Pipelines pipelines_;
  const Clock& clock_;
  const StoreOptions options_;
  const redis::Script submit_script_;
  const redis::Script decide_script_;
  const redis::Script expire_script_;
  const std::vector<std::string> pipeline_args_;
  crmstate::OpportunityStateStore opportunities_;
};

}  // namespace autostage::review

#endif  // AUTOSTAGE_SERVICES_REVIEW_PROPOSAL_STORE_H_
