// ProposalStore::Submit (SubmitProposals from ingest): validation, the submit script and its
// reply. Kept apart from proposal_store.cc so the submit path and the decision path can change
// independently; shared key names and Lua helpers are in proposal_store_internal.h.
//
// Cost model (BENCHMARKS.md "Review"): a batch is ONE script call. Redis's time per proposal is
// then the commands the script runs, so the script keeps them few: a new proposal costs its
// seen lookup, the opportunity, claiming the stage's pending slot (HSETNX), the proposal hash,
// one ZADD of its evidence and the updates entry; the locator is read (HMGET) and written
// (HSET) once per batch, and the three index zsets written once per batch, every proposal of
// the batch in one command each.
#include <algorithm>
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
using store_internal::ToMillis;

// Arguments per proposal in the submit script's ARGV, with one evidence.
constexpr size_t kSubmitArgsPerProposal = 10;

// KEYS: locator, updates.
// ARGV: now_ms cap index_prefix key_prefix
//       n_pipelines (name n_stages stage...)...
//       n_proposals (pid opp pipeline to_stage proposal_bytes confidence sources n_evidence
//                    (occurred_ms evidence_bytes)...)...
// Returns one {outcome, stored_as, version, message} per proposal, in order. Proposals of one
// batch see each other exactly as if submitted one by one: the deferred writes (locator,
// indexes) are read by nothing in the loop, and `fresh` answers for the locator meanwhile.
constexpr absl::string_view kSubmitLuaBody = R"lua(
local now, cap, ip, kp = ARGV[1], tonumber(ARGV[2]), ARGV[3], ARGV[4]
local ranks = {}
local at = 6
for _ = 1, tonumber(ARGV[5]) do
  local r, n = {}, tonumber(ARGV[at + 1])
  for i = 1, n do r[ARGV[at + 1 + i]] = i end
  ranks[ARGV[at]] = r
  at = at + 2 + n
end
local fresh = {}    -- proposal id -> opportunity, stored by this call (locator not yet written)
local locator = {}  -- HSET arguments for the locator, written once at the end
local index = {}    -- index key -> ZADD command, run once at the end
local function index_add(key, pid)
  local t = index[key]
  if not t then t = {'ZADD', key}; index[key] = t end
  t[#t + 1] = now
  t[#t + 1] = pid
end
-- The evidence arguments of the proposal at ARGV[ev] (n_evidence, then pairs) into one ZADD;
-- trimmed to the newest `cap` only when it may hold more (`merge`, or more pairs than cap).
local function add_evidence(key, ev, merge)
  local nev = tonumber(ARGV[ev])
  local zadd = {'ZADD', key}
  for i = 1, 2 * nev do zadd[i + 2] = ARGV[ev + i] end
  redis.call(unpack(zadd))
  if merge or nev > cap then
    local c = redis.call('ZCARD', key)
    if c > cap then redis.call('ZREMRANGEBYRANK', key, 0, c - cap - 1) end
  end
end
local function emit(kind, pid, opp, owner, team, status, version, to, sources)
  redis.call('XADD', KEYS[2], 'MAXLEN', '~', 100000, '*', 'kind', kind, 'proposal_id', pid,
    'opportunity_id', opp, 'owner_id', owner, 'team_id', team, 'status', status,
    'version', version, 'to_stage', to, 'source', sources)
end
local function submit(located, pid, opp, pipeline, to, bytes, conf, srcs, ev)
  local op = kp .. ':{' .. opp .. '}:'
  -- Idempotency: a stored id is in the locator (read for the whole batch up front, `located`),
  -- a merged one in its opportunity's seen hash.
  local home = fresh[pid] or located
  if home then
    local v = redis.call('HGET', kp .. ':{' .. home .. '}:proposal:' .. pid, 'version')
    return {'duplicate', pid, tonumber(v or '0'), ''}
  end
  local seen = redis.call('HGET', op .. 'seen', pid)
  if seen then
    local v = redis.call('HGET', op .. 'proposal:' .. seen, 'version')
    return {'duplicate', seen, tonumber(v or '0'), ''}
  end
  local o = redis.call('HMGET', op .. 'opportunity', 'pipeline', 'stage', 'status', 'owner_id',
    'team_id')
  if not o[1] then return {'invalid', '', 0, 'unknown opportunity ' .. opp} end
  if o[1] ~= pipeline then
    return {'invalid', '', 0, 'opportunity is in pipeline ' .. o[1] .. ', not ' .. pipeline}
  end
  local stages = ranks[pipeline]
  local rt = stages[to]
  if not rt then return {'invalid', '', 0, 'unknown stage ' .. to .. ' in pipeline ' .. pipeline} end
  if o[3] and o[3] ~= 'open' then return {'stale', '', 0, 'opportunity is ' .. o[3]} end
  local rc = stages[o[2] or '']
  if not rc then
    return {'invalid', '', 0, 'opportunity stage ' .. tostring(o[2]) .. ' is not in ' .. pipeline}
  end
  if rc >= rt then return {'stale', '', 0, 'opportunity is already at ' .. o[2]} end
  -- Claim the stage's pending slot; taken already means merge into its holder.
  if redis.call('HSETNX', op .. 'pending', to, pid) == 0 then
    local existing = redis.call('HGET', op .. 'pending', to)
    local pk = op .. 'proposal:' .. existing
    add_evidence(op .. 'evidence:' .. existing, ev, true)
    local f = redis.call('HMGET', pk, 'version', 'submissions', 'confidence', 'sources',
      'idx_owner', 'idx_team', 'status')
    local v = tonumber(f[1] or '0') + 1
    local sources = f[4] or ''
    for s in string.gmatch(srcs, '[^,]+') do
      if not string.find(',' .. sources .. ',', ',' .. s .. ',', 1, true) then
        sources = (sources == '') and s or (sources .. ',' .. s)
      end
    end
    local set = {'HSET', pk, 'version', v, 'submissions', tonumber(f[2] or '0') + 1,
      'sources', sources, 'updated_ms', now, 'from_stage', o[2]}
    if tonumber(conf) > tonumber(f[3] or '0') then
      set[#set + 1] = 'confidence'
      set[#set + 1] = conf
    end
    redis.call(unpack(set))
    redis.call('HSET', op .. 'seen', pid, existing)
    emit('merged', existing, opp, f[5] or '', f[6] or '', f[7] or '', v, to, sources)
    return {'merged', existing, v, ''}
  end
  local owner, team = o[4] or '', o[5] or ''
  redis.call('HSET', op .. 'proposal:' .. pid, 'proposal', bytes, 'status', 'pending',
    'version', 1, 'from_stage', o[2], 'to_stage', to, 'confidence', conf, 'created_ms', now,
    'updated_ms', now, 'submissions', 1, 'sources', srcs, 'idx_owner', owner, 'idx_team', team)
  add_evidence(op .. 'evidence:' .. pid, ev, false)
  fresh[pid] = opp
  locator[#locator + 1] = pid
  locator[#locator + 1] = opp
  index_add(ip .. 'all', pid)
  if owner ~= '' then index_add(ip .. 'owner:' .. owner, pid) end
  if team ~= '' then index_add(ip .. 'team:' .. team, pid) end
  emit('new', pid, opp, owner, team, 'pending', 1, to, srcs)
  return {'stored', pid, 1, ''}
end
local n = tonumber(ARGV[at])
at = at + 1
local starts, ids = {}, {'HMGET', KEYS[1]}
for i = 1, n do
  starts[i] = at
  ids[i + 2] = ARGV[at]
  at = at + 8 + 2 * tonumber(ARGV[at + 7])
end
local located = redis.call(unpack(ids))
local results = {}
for i = 1, n do
  local a = starts[i]
  results[i] = submit(located[i], ARGV[a], ARGV[a + 1], ARGV[a + 2], ARGV[a + 3], ARGV[a + 4],
    ARGV[a + 5], ARGV[a + 6], a + 7)
end
if #locator > 0 then redis.call('HSET', KEYS[1], unpack(locator)) end
for _, zadd in pairs(index) do redis.call(unpack(zadd)) end
return results
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
  // Malformed proposals are answered here; the valid ones go to Redis as ONE script call that
  // handles them in request order (see kSubmitLuaBody), so the batch is one round trip and one
  // script invocation, and its proposals see each other as if sent one by one.
  v1::SubmitProposalsResponse response;
  response.mutable_results()->Reserve(request.proposals_size());
  const int64_t now = NowMillis();
  std::vector<std::string> proposal_args;
  proposal_args.reserve(static_cast<size_t>(request.proposals_size()) * kSubmitArgsPerProposal);
  std::vector<std::pair<const std::string*, const std::vector<std::string>*>> pipelines;
  std::vector<int> sent;  // response index of each proposal sent
  for (const v1::Proposal& p : request.proposals()) {
    v1::SubmitResult* result = response.add_results();
    result->set_proposal_id(p.proposal_id());
    const std::vector<std::string>* stages = PrepareSubmit(p, now, *result, proposal_args);
    if (stages == nullptr) continue;
    sent.push_back(response.results_size() - 1);
    if (std::none_of(pipelines.begin(), pipelines.end(),
                     [&](const auto& known) { return *known.first == p.pipeline(); })) {
      pipelines.emplace_back(&p.pipeline(), stages);
    }
  }
  if (sent.empty()) return response;
  std::vector<std::string> args = {absl::StrCat(now), absl::StrCat(options_.evidence_cap),
                                   IndexPrefix(), std::string(redis::kKeyPrefix),
                                   absl::StrCat(pipelines.size())};
  for (const auto& [name, stages] : pipelines) {
    args.push_back(*name);
    args.push_back(absl::StrCat(stages->size()));
    args.insert(args.end(), stages->begin(), stages->end());
  }
  args.push_back(absl::StrCat(sent.size()));
  args.insert(args.end(), std::make_move_iterator(proposal_args.begin()),
              std::make_move_iterator(proposal_args.end()));
  ASSIGN_OR_RETURN(redis::RedisPool::Lease lease, pool_.Acquire(options_.pool_wait));
  // A script error fails the call; the batch is idempotent, so retrying it is safe even though
  // the proposals before the failing one may have been stored.
  ASSIGN_OR_RETURN(Reply reply, submit_script_.Run(*lease, {LocatorKey(), UpdatesKey()}, args));
  if (!reply.is_array() || reply.size() != sent.size()) {
    return absl::InternalError("submit script: wrong number of results");
  }
  for (size_t i = 0; i < sent.size(); ++i) {
    RETURN_IF_ERROR(ParseSubmitReply(reply[i], *response.mutable_results(sent[i])));
  }
  return response;
}

const std::vector<std::string>* ProposalStore::PrepareSubmit(const v1::Proposal& p, int64_t now,
                                                             v1::SubmitResult& result,
                                                             std::vector<std::string>& args) {
  if (absl::Status valid = ValidateProposal(p); !valid.ok()) {
    result.set_outcome(v1::SUBMIT_OUTCOME_INVALID);
    result.set_message(std::string(valid.message()));
    return nullptr;
  }
  const std::vector<std::string>* stages = pipelines_.Find(p.pipeline());
  if (stages == nullptr) {
    result.set_outcome(v1::SUBMIT_OUTCOME_INVALID);
    result.set_message(absl::StrCat("unknown pipeline ", p.pipeline()));
    return nullptr;
  }
  std::set<std::string> sources;
  for (const v1::Evidence& e : p.evidence()) {
    if (!e.source().empty()) sources.insert(e.source());
  }
  // The stored Proposal carries no evidence (that is the evidence zset).
  v1::Proposal head = p;
  head.clear_evidence();
  args.push_back(p.proposal_id());
  args.push_back(p.opportunity_id());
  args.push_back(p.pipeline());
  args.push_back(p.to_stage());
  args.push_back(head.SerializeAsString());
  args.push_back(absl::StrCat(p.confidence()));
  args.push_back(absl::StrJoin(sources, ","));
  args.push_back(absl::StrCat(p.evidence_size()));
  for (const v1::Evidence& e : p.evidence()) {
    args.push_back(absl::StrCat(e.has_occurred_at() ? ToMillis(e.occurred_at()) : now));
    args.push_back(e.SerializeAsString());
  }
  return stages;
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
