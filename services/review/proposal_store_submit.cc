// ProposalStore::Submit (SubmitProposals from ingest): validation, the submit script and its
// reply. Kept apart from proposal_store.cc so the submit path and the decision path can change
// independently; shared key names and Lua helpers are in proposal_store_internal.h.
#include <optional>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "common/status/status_macros.h"
#include "services/review/proposal_store.h"
#include "services/review/proposal_store_internal.h"

namespace autostage::review {
namespace {

using redis::Reply;
using store_internal::IndexPrefix;
using store_internal::kMaxBatch;
using store_internal::LocatorKey;
using store_internal::OppKey;
using store_internal::OppPrefix;
using store_internal::PendingKey;
using store_internal::SeenKey;
using store_internal::ToMillis;

// KEYS: opportunity, pending, seen, locator, updates.
// ARGV: pid opp pipeline to_stage proposal_bytes confidence now_ms cap index_prefix opp_prefix
//       sources n_stages stage... n_evidence (score bytes)...
constexpr absl::string_view kSubmitLuaBody = R"lua(
local pid, opp, pipeline, to = ARGV[1], ARGV[2], ARGV[3], ARGV[4]
local now, cap, ip, op = ARGV[7], tonumber(ARGV[8]), ARGV[9], ARGV[10]
local stages, at = read_stages(12)
local nev = tonumber(ARGV[at])
local seen = redis.call('HGET', KEYS[3], pid)
if seen then
  local v = redis.call('HGET', op .. 'proposal:' .. seen, 'version')
  return {'duplicate', seen, tonumber(v or '0'), ''}
end
local o = redis.call('HMGET', KEYS[1], 'pipeline', 'stage', 'status', 'owner_id', 'team_id')
if not o[1] then return {'invalid', '', 0, 'unknown opportunity ' .. opp} end
if o[1] ~= pipeline then
  return {'invalid', '', 0, 'opportunity is in pipeline ' .. o[1] .. ', not ' .. pipeline}
end
local rt = rank(stages, to)
if not rt then return {'invalid', '', 0, 'unknown stage ' .. to .. ' in pipeline ' .. pipeline} end
if o[3] and o[3] ~= 'open' then return {'stale', '', 0, 'opportunity is ' .. o[3]} end
local rc = rank(stages, o[2] or '')
if not rc then
  return {'invalid', '', 0, 'opportunity stage ' .. tostring(o[2]) .. ' is not in ' .. pipeline}
end
if rc >= rt then return {'stale', '', 0, 'opportunity is already at ' .. o[2]} end
local function add_evidence(key)
  for i = 0, nev - 1 do
    redis.call('ZADD', key, ARGV[at + 1 + 2 * i], ARGV[at + 2 + 2 * i])
  end
  local c = redis.call('ZCARD', key)
  if c > cap then redis.call('ZREMRANGEBYRANK', key, 0, c - cap - 1) end
end
local existing = redis.call('HGET', KEYS[2], to)
if existing then
  local pk = op .. 'proposal:' .. existing
  add_evidence(op .. 'evidence:' .. existing)
  local v = redis.call('HINCRBY', pk, 'version', 1)
  redis.call('HINCRBY', pk, 'submissions', 1)
  local f = redis.call('HMGET', pk, 'confidence', 'sources')
  if tonumber(ARGV[6]) > tonumber(f[1] or '0') then redis.call('HSET', pk, 'confidence', ARGV[6]) end
  local sources = f[2] or ''
  for s in string.gmatch(ARGV[11], '[^,]+') do
    if not string.find(',' .. sources .. ',', ',' .. s .. ',', 1, true) then
      sources = (sources == '') and s or (sources .. ',' .. s)
    end
  end
  redis.call('HSET', pk, 'sources', sources, 'updated_ms', now, 'from_stage', o[2])
  redis.call('HSET', KEYS[3], pid, existing)
  emit_update(KEYS[5], 'merged', pk, existing, opp)
  return {'merged', existing, v, ''}
end
local owner, team = o[4] or '', o[5] or ''
local pk = op .. 'proposal:' .. pid
redis.call('HSET', pk, 'proposal', ARGV[5], 'status', 'pending', 'version', 1,
  'from_stage', o[2], 'to_stage', to, 'confidence', ARGV[6], 'created_ms', now,
  'updated_ms', now, 'submissions', 1, 'sources', ARGV[11], 'idx_owner', owner,
  'idx_team', team)
add_evidence(op .. 'evidence:' .. pid)
redis.call('HSET', KEYS[2], to, pid)
redis.call('HSET', KEYS[3], pid, pid)
redis.call('HSET', KEYS[4], pid, opp)
redis.call('ZADD', ip .. 'all', now, pid)
if owner ~= '' then redis.call('ZADD', ip .. 'owner:' .. owner, now, pid) end
if team ~= '' then redis.call('ZADD', ip .. 'team:' .. team, now, pid) end
emit_update(KEYS[5], 'new', pk, pid, opp)
return {'stored', pid, 1, ''}
)lua";

absl::Status ValidateProposal(const v1::Proposal& p) {
  if (p.proposal_id().empty()) return absl::InvalidArgumentError("proposal_id is required");
  if (p.opportunity_id().empty()) return absl::InvalidArgumentError("opportunity_id is required");
  if (p.pipeline().empty()) return absl::InvalidArgumentError("pipeline is required");
  if (p.to_stage().empty()) return absl::InvalidArgumentError("to_stage is required");
  if (p.evidence_size() == 0) return absl::InvalidArgumentError("evidence is required");
  return absl::OkStatus();
}

}  // namespace

namespace store_internal {
const absl::string_view kSubmitLua = kSubmitLuaBody;
}  // namespace store_internal

absl::StatusOr<v1::SubmitProposalsResponse> ProposalStore::Submit(
    const v1::SubmitProposalsRequest& request) {
  if (request.proposals_size() > kMaxBatch) {
    return absl::InvalidArgumentError(absl::StrCat("at most ", kMaxBatch, " proposals per call"));
  }
  // Malformed proposals are answered here; the valid ones go to Redis as one pipeline of
  // submit scripts (one round trip for the batch). Redis runs them in request order, so
  // proposals of one batch that touch each other (same id, same stage) see each other exactly
  // as they did when sent one by one.
  v1::SubmitProposalsResponse response;
  std::vector<redis::Script::Invocation> invocations;
  std::vector<int> sent;  // response index of each invocation
  for (const v1::Proposal& p : request.proposals()) {
    v1::SubmitResult* result = response.add_results();
    result->set_proposal_id(p.proposal_id());
    if (std::optional<redis::Script::Invocation> inv = PrepareSubmit(p, *result)) {
      invocations.push_back(*std::move(inv));
      sent.push_back(response.results_size() - 1);
    }
  }
  if (invocations.empty()) return response;
  ASSIGN_OR_RETURN(redis::RedisPool::Lease lease, pool_.Acquire(options_.pool_wait));
  ASSIGN_OR_RETURN(std::vector<Reply> replies, submit_script_.RunPipelined(*lease, invocations));
  if (replies.size() != invocations.size()) {
    return absl::InternalError("submit script: wrong number of replies");
  }
  for (size_t i = 0; i < replies.size(); ++i) {
    // A script error fails the call (as before); the batch is idempotent, so retrying it is
    // safe even though later proposals of this batch may have been stored.
    if (replies[i].is_error()) return replies[i].ToStatus();
    RETURN_IF_ERROR(ParseSubmitReply(replies[i], *response.mutable_results(sent[i])));
  }
  return response;
}

std::optional<redis::Script::Invocation> ProposalStore::PrepareSubmit(const v1::Proposal& p,
                                                                      v1::SubmitResult& result) {
  if (absl::Status valid = ValidateProposal(p); !valid.ok()) {
    result.set_outcome(v1::SUBMIT_OUTCOME_INVALID);
    result.set_message(std::string(valid.message()));
    return std::nullopt;
  }
  const std::vector<std::string>* stages = pipelines_.Find(p.pipeline());
  if (stages == nullptr) {
    result.set_outcome(v1::SUBMIT_OUTCOME_INVALID);
    result.set_message(absl::StrCat("unknown pipeline ", p.pipeline()));
    return std::nullopt;
  }
  const int64_t now = NowMillis();
  v1::Proposal head = p;
  head.clear_evidence();
  std::set<std::string> sources;
  for (const v1::Evidence& e : p.evidence()) {
    if (!e.source().empty()) sources.insert(e.source());
  }
  std::vector<std::string> args = {p.proposal_id(),
                                   p.opportunity_id(),
                                   p.pipeline(),
                                   p.to_stage(),
                                   head.SerializeAsString(),
                                   absl::StrCat(p.confidence()),
                                   absl::StrCat(now),
                                   absl::StrCat(options_.evidence_cap),
                                   IndexPrefix(),
                                   OppPrefix(p.opportunity_id()),
                                   absl::StrJoin(sources, ","),
                                   absl::StrCat(stages->size())};
  args.insert(args.end(), stages->begin(), stages->end());
  args.push_back(absl::StrCat(p.evidence_size()));
  for (const v1::Evidence& e : p.evidence()) {
    args.push_back(absl::StrCat(e.has_occurred_at() ? ToMillis(e.occurred_at()) : now));
    args.push_back(e.SerializeAsString());
  }
  const std::string& opp = p.opportunity_id();
  return redis::Script::Invocation{
      .keys = {OppKey(opp), PendingKey(opp), SeenKey(opp), LocatorKey(), UpdatesKey()},
      .args = std::move(args)};
}

absl::Status ProposalStore::ParseSubmitReply(const Reply& r, v1::SubmitResult& result) {
  if (r.size() != 4) return absl::InternalError("submit script: unexpected reply");
  const std::string& outcome = r[0].str();
  if (outcome == "stored") {
    result.set_outcome(v1::SUBMIT_OUTCOME_STORED);
  } else if (outcome == "merged") {
    result.set_outcome(v1::SUBMIT_OUTCOME_MERGED);
  } else if (outcome == "duplicate") {
    result.set_outcome(v1::SUBMIT_OUTCOME_DUPLICATE);
  } else if (outcome == "stale") {
    result.set_outcome(v1::SUBMIT_OUTCOME_STALE);
  } else {
    result.set_outcome(v1::SUBMIT_OUTCOME_INVALID);
  }
  result.set_stored_as(r[1].str());
  result.set_version(r[2].integer());
  result.set_message(r[3].str());
  return absl::OkStatus();
}

}  // namespace autostage::review
