// ProposalStore::Submit (SubmitProposals from ingest): validation, the submit script and its
// reply. Kept apart from proposal_store.cc so the submit path and the decision path can change
// independently; shared key names and Lua helpers are in proposal_store_internal.h.
//
// Cost model (BENCHMARKS.md "Review"): a batch is ONE script call. Redis's time per proposal is
// then the commands the script runs and the keys they create, so the script keeps both few: a
// new proposal costs the opportunity (HMGET), claiming the stage's pending slot (HSETNX), ONE
// new key for the proposal with its evidence (HSET: evidence in a sorted set of its own cost
// as much again); the idempotency records (locator, merged) are read (HMGET) and written
// (HSET) once per batch, the three index zsets written once per batch, every proposal of the
// batch in one command each, and the updates stream gets ONE entry per batch (contract C1:
// a batch entry, MessagePack-packed; an XADD per proposal cost ~2 us more each). The evidence is
// ordered, deduplicated and capped here (EncodeEvidence), so the script stores a new proposal's as
// it comes.
//
// Measured and rejected (callgrind of redis-server, 3,000 submits in batches of 100): moving
// `proposal` and `evidence` to a string key of their own so the hash stays a listpack costs
// ~5 % MORE Redis instructions per new proposal (144.7k vs 137.5k): a new listpack hash is
// built field by field (a scan and a realloc per field), which for ~12 fields costs as much as
// the hashtable, and the extra key costs the rest. What did help: no Lua number formatting
// (version/submissions written as strings), a flat reply, index key names made once per batch
// (127.8k).
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
using store_internal::MergedKey;
using store_internal::ToMillis;

// Arguments per proposal in the submit script's ARGV.
constexpr size_t kSubmitArgsPerProposal = 9;

// KEYS: locator, updates, merged.
// ARGV: now_ms cap index_prefix key_prefix
//       n_pipelines (name n_stages stage...)...
//       n_proposals (pid opp pipeline to_stage proposal_bytes confidence sources evidence
//                    evidence_ms)...
// `evidence`/`evidence_ms` are the proposal's own evidence already ordered, deduplicated and
// capped (PrepareSubmit), so a new proposal stores them as they are; a merge combines them
// with the stored ones (merge_evidence).
// Returns outcome, stored_as, version, message for each proposal, in order, as one flat array.
// Proposals of one batch see each other exactly as if submitted one by one: the deferred writes
// (locator, merged, indexes) are read by nothing in the loop, and `fresh` / `merged_now` answer for
// them meanwhile.
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
local fresh = {}       -- proposal id -> opportunity, stored by this call (locator not yet written)
local merged_now = {}  -- proposal id -> id it was merged into by this call
local locator = {}     -- HSET arguments for the locator, written once at the end
local merged = {}      -- HSET arguments for the merged ids, written once at the end
local index = {}       -- index key -> ZADD command, run once at the end
local index_all = ip .. 'all'
local owner_index, team_index = {}, {}  -- owner / team id -> its index key (made once)
local function index_add(key, pid)
  local t = index[key]
  if not t then t = {'ZADD', key}; index[key] = t end
  t[#t + 1] = now
  t[#t + 1] = pid
end
-- Byte order (memcmp), as a sorted set orders members of equal score.
local function bytes_less(a, b)
  for i = 1, math.min(#a, #b) do
    local x, y = string.byte(a, i), string.byte(b, i)
    if x ~= y then return x < y end
  end
  return #a < #b
end
-- The evidence fields after adding (blob, times) `nb`, `nm` to the stored `ob`, `om`: newest
-- first, an identical Evidence once with its latest submitted time, at most `cap`.
local function merge_evidence(ob, om, nb, nm)
  local list, by_body = {}, {}
  local function add(blob, ms)
    local bodies, chunks = evidence_list(blob)
    local k = 0
    for t in string.gmatch(ms, '[^,]+') do
      k = k + 1
      local body = bodies[k]
      if body == nil then break end
      local e = by_body[body]
      if e then
        e.ms, e.at = t, tonumber(t)
      else
        e = {body = body, chunk = chunks[k], ms = t, at = tonumber(t)}
        by_body[body] = e
        list[#list + 1] = e
      end
    end
  end
  add(ob, om)
  add(nb, nm)
  table.sort(list, function(a, b)
    if a.at ~= b.at then return a.at > b.at end
    return bytes_less(b.body, a.body)
  end)
  local blob, ms = {}, {}
  for i = 1, math.min(#list, cap) do
    blob[i] = list[i].chunk
    ms[i] = list[i].ms
  end
  return table.concat(blob), table.concat(ms, ',')
end
-- The C1 values of every update of the batch, 9 per update in the order below, written as ONE
-- batch entry at the end (contract C1; WatchHub fans it out).
local updates = {}
local function emit(kind, pid, opp, owner, team, status, version, to, sources)
  local u = #updates
  updates[u + 1], updates[u + 2], updates[u + 3] = kind, pid, opp
  updates[u + 4], updates[u + 5], updates[u + 6] = owner, team, status
  updates[u + 7], updates[u + 8], updates[u + 9] = version, to, sources
end
local function version_of(home, pid)
  local v = home and redis.call('HGET', kp .. ':{' .. home .. '}:proposal:' .. pid, 'version')
  return tonumber(v or '0')
end
local function submit(located, into, pid, opp, pipeline, to, bytes, conf, srcs, ev, ev_ms)
  -- Idempotency: a stored id is in the locator, a merged one in the merged hash (both read for
  -- the whole batch up front: `located`, `into`).
  local home = fresh[pid] or located
  if home then return 'duplicate', pid, version_of(home, pid), '' end
  local target = merged_now[pid] or into
  if target then
    local h = fresh[target] or redis.call('HGET', KEYS[1], target)
    return 'duplicate', target, version_of(h, target), ''
  end
  local op = kp .. ':{' .. opp .. '}:'
  local o = redis.call('HMGET', op .. 'opportunity', 'pipeline', 'stage', 'status', 'owner_id',
    'team_id')
  if not o[1] then return 'invalid', '', 0, 'unknown opportunity ' .. opp end
  if o[1] ~= pipeline then
    return 'invalid', '', 0, 'opportunity is in pipeline ' .. o[1] .. ', not ' .. pipeline
  end
  local stages = ranks[pipeline]
  local rt = stages[to]
  if not rt then return 'invalid', '', 0, 'unknown stage ' .. to .. ' in pipeline ' .. pipeline end
  if o[3] and o[3] ~= 'open' then return 'stale', '', 0, 'opportunity is ' .. o[3] end
  local rc = stages[o[2] or '']
  if not rc then
    return 'invalid', '', 0, 'opportunity stage ' .. tostring(o[2]) .. ' is not in ' .. pipeline
  end
  if rc >= rt then return 'stale', '', 0, 'opportunity is already at ' .. o[2] end
  -- Claim the stage's pending slot; taken already means merge into its holder.
  if redis.call('HSETNX', op .. 'pending', to, pid) == 0 then
    local existing = redis.call('HGET', op .. 'pending', to)
    local pk = op .. 'proposal:' .. existing
    local f = redis.call('HMGET', pk, 'version', 'submissions', 'confidence', 'sources',
      'idx_owner', 'idx_team', 'status', 'evidence', 'evidence_ms')
    local v = tonumber(f[1] or '0') + 1
    local sources = f[4] or ''
    for s in string.gmatch(srcs, '[^,]+') do
      if not string.find(',' .. sources .. ',', ',' .. s .. ',', 1, true) then
        sources = (sources == '') and s or (sources .. ',' .. s)
      end
    end
    local blob, ms = merge_evidence(f[8] or '', f[9] or '', ev, ev_ms)
    local set = {'HSET', pk, 'version', v, 'submissions', tonumber(f[2] or '0') + 1,
      'sources', sources, 'updated_ms', now, 'from_stage', o[2], 'evidence', blob,
      'evidence_ms', ms}
    if tonumber(conf) > tonumber(f[3] or '0') then
      set[#set + 1] = 'confidence'
      set[#set + 1] = conf
    end
    redis.call(unpack(set))
    merged_now[pid] = existing
    merged[#merged + 1] = pid
    merged[#merged + 1] = existing
    emit('merged', existing, opp, f[5] or '', f[6] or '', f[7] or '', v, to, sources)
    return 'merged', existing, v, ''
  end
  local owner, team = o[4] or '', o[5] or ''
  -- Version and submissions as strings: a Lua number would be formatted (sprintf) per call.
  redis.call('HSET', op .. 'proposal:' .. pid, 'proposal', bytes, 'evidence', ev, 'evidence_ms',
    ev_ms, 'status', 'pending', 'version', '1', 'from_stage', o[2], 'to_stage', to, 'confidence',
    conf, 'created_ms', now, 'updated_ms', now, 'submissions', '1', 'sources', srcs, 'idx_owner',
    owner, 'idx_team', team)
  fresh[pid] = opp
  locator[#locator + 1] = pid
  locator[#locator + 1] = opp
  index_add(index_all, pid)
  if owner ~= '' then
    local k = owner_index[owner]
    if not k then k = ip .. 'owner:' .. owner; owner_index[owner] = k end
    index_add(k, pid)
  end
  if team ~= '' then
    local k = team_index[team]
    if not k then k = ip .. 'team:' .. team; team_index[team] = k end
    index_add(k, pid)
  end
  emit('new', pid, opp, owner, team, 'pending', 1, to, srcs)
  return 'stored', pid, 1, ''
end
local n = tonumber(ARGV[at])
at = at + 1
local ids = {}
for i = 1, n do ids[i] = ARGV[at + 9 * (i - 1)] end
local located = redis.call('HMGET', KEYS[1], unpack(ids))
local into = redis.call('HMGET', KEYS[3], unpack(ids))
-- Flat: four values per proposal (one array reply, no nested table per proposal).
local results = {}
for i = 1, n do
  local a, r = at + 9 * (i - 1), 4 * (i - 1)
  results[r + 1], results[r + 2], results[r + 3], results[r + 4] = submit(located[i], into[i],
    ARGV[a], ARGV[a + 1], ARGV[a + 2], ARGV[a + 3], ARGV[a + 4], ARGV[a + 5], ARGV[a + 6],
    ARGV[a + 7], ARGV[a + 8])
end
if #locator > 0 then redis.call('HSET', KEYS[1], unpack(locator)) end
if #merged > 0 then redis.call('HSET', KEYS[3], unpack(merged)) end
for _, zadd in pairs(index) do redis.call(unpack(zadd)) end
if #updates > 0 then
  -- The stream's one retention (UPDATES_MAXLEN entries, as every writer trims).
  redis.call('XADD', KEYS[2], 'MAXLEN', '~', UPDATES_MAXLEN, '*', 'kind', 'batch', 'updates',
    cmsgpack.pack(updates))
end
return results
)lua";

// The `evidence` and `evidence_ms` fields (proposal_store_internal.h, kEvidenceTag) of `p`'s
// own evidence: ordered newest first (ties by bytes, descending), an identical Evidence once
// with its last time, at most `cap`.
std::pair<std::string, std::string> EncodeEvidence(const v1::Proposal& p, int64_t now, int cap) {
  struct Item {
    int64_t ms;
    std::string bytes;
  };
  std::vector<Item> items;
  items.reserve(static_cast<size_t>(p.evidence_size()));
  for (const v1::Evidence& e : p.evidence()) {
    Item item{e.has_occurred_at() ? ToMillis(e.occurred_at()) : now, e.SerializeAsString()};
    auto same = std::find_if(items.begin(), items.end(),
                             [&](const Item& known) { return known.bytes == item.bytes; });
    if (same != items.end()) {
      same->ms = item.ms;
    } else {
      items.push_back(std::move(item));
    }
  }
  std::sort(items.begin(), items.end(), [](const Item& a, const Item& b) {
    return a.ms != b.ms ? a.ms > b.ms : a.bytes > b.bytes;
  });
  if (items.size() > static_cast<size_t>(cap)) items.resize(static_cast<size_t>(cap));
  std::string blob;
  std::string ms;
  for (const Item& item : items) {
    blob.push_back(store_internal::kEvidenceTag);
    for (uint64_t n = item.bytes.size();; n >>= 7) {
      if (n < 0x80) {
        blob.push_back(static_cast<char>(n));
        break;
      }
      blob.push_back(static_cast<char>((n & 0x7f) | 0x80));
    }
    blob += item.bytes;
    absl::StrAppend(&ms, ms.empty() ? "" : ",", item.ms);
  }
  return {std::move(blob), std::move(ms)};
}

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
  ASSIGN_OR_RETURN(Reply reply,
                   submit_script_.Run(*lease, {LocatorKey(), UpdatesKey(), MergedKey()}, args));
  if (!reply.is_array() || reply.size() != 4 * sent.size()) {
    return absl::InternalError("submit script: wrong number of results");
  }
  for (size_t i = 0; i < sent.size(); ++i) {
    RETURN_IF_ERROR(ParseSubmitReply(reply, 4 * i, *response.mutable_results(sent[i])));
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
  // The stored Proposal carries no evidence (that is the `evidence` field).
  v1::Proposal head = p;
  head.clear_evidence();
  args.push_back(p.proposal_id());
  args.push_back(p.opportunity_id());
  args.push_back(p.pipeline());
  args.push_back(p.to_stage());
  args.push_back(head.SerializeAsString());
  args.push_back(absl::StrCat(p.confidence()));
  args.push_back(absl::StrJoin(sources, ","));
  auto [evidence, evidence_ms] = EncodeEvidence(p, now, options_.evidence_cap);
  args.push_back(std::move(evidence));
  args.push_back(std::move(evidence_ms));
  return stages;
}

absl::Status ProposalStore::ParseSubmitReply(const Reply& reply, size_t at,
                                             v1::SubmitResult& result) {
  if (!reply[at].is_string() || !reply[at + 1].is_string() || !reply[at + 3].is_string()) {
    return absl::InternalError("submit script: unexpected reply");
  }
  const Reply* r = &reply[at];
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
