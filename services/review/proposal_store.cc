#include "services/review/proposal_store.h"

#include <algorithm>
#include <array>
#include <optional>
#include <set>
#include <utility>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "autostage/v1/stage_change.pb.h"
#include "common/redis/key.h"
#include "common/status/status_macros.h"
#include "google/protobuf/util/time_util.h"
#include "services/review/proposal_store_internal.h"

namespace autostage::review {
namespace {

using redis::Key;
using redis::Reply;
using store_internal::IndexPrefix;
using store_internal::kGlobalTag;
using store_internal::LocatorKey;
using store_internal::OppKey;
using store_internal::OppPrefix;
using store_internal::PendingKey;
using store_internal::ProposalKey;
using store_internal::WithHelpers;

constexpr int kDefaultPageSize = 50;
constexpr int kMaxPageSize = 500;
// A listing examines at most this many index entries per call (filters may skip many); the
// page token then resumes after the last one examined.
constexpr int kMaxScanned = 5000;

// KEYS: locator, outbox, audit, updates.
// ARGV: decision pid version actor now_ms reason change_id confirmed_at(serialized Timestamp)
//       scope_kind(all|owner|team) scope_id expected(1|"") expected_owner expected_team peer
//       index_prefix key_prefix n_pipelines (pipeline n_stages stage...)...
// One round trip per decision: the script resolves the locator, checks the caller's scope
// against the opportunity hash, decides, writes the StageChange (protobuf wire format, built
// here from the stored proposal and its evidence, so it is written atomically with the
// confirmation) to the outbox, and answers with the proposal as it now is.
// Returns {code, message, opportunity_id, proposal fields (the values of kAnswerFields, in
//          that order, as they are after the decision), pipeline, from_stage, to_stage,
//          stage_entered_ms ('' unknown), moved ('1' | '')}
// for OK | REPLAY, else {code, message, opportunity_id}: NOT_FOUND | DENIED | ABORTED |
// FAILED_PRECONDITION.
//
// Check order (docs/api.md "Decisions and races"): an unknown proposal is NOT_FOUND, then the
// scope (DENIED), then: the same decision again is a replay at any version; a different
// decision on a decided proposal is ABORTED when the caller's version is not the current one
// (it lost a race: the winner bumped the version) and FAILED_PRECONDITION when it is (the
// caller saw the decision and still asks for the other one); superseded and expired proposals
// are FAILED_PRECONDITION at any version (reloading cannot help).
//
// Time in stage: the opportunity hash's stage_entered_ms (set here when a confirmation moves
// the stage, and by common/crmstate when a dated CRM snapshot does) is returned as it was
// before the move, so the service can observe how long the opportunity sat in from_stage.
constexpr absl::string_view kDecideLua = R"lua(
local decision, pid, actor, now = ARGV[1], ARGV[2], ARGV[4], ARGV[5]
local ip, kp = ARGV[15], ARGV[16]
-- Protobuf wire format, just what a StageChange needs.
local function varint(n)
  local out = {}
  while n >= 128 do
    out[#out + 1] = string.char(n % 128 + 128)
    n = math.floor(n / 128)
  end
  out[#out + 1] = string.char(n)
  return table.concat(out)
end
local function field(num, s) return string.char(num * 8 + 2) .. varint(#s) .. s end
-- proto3: an empty string field is not written.
local function str(num, s)
  if s == nil or s == '' then return '' end
  return field(num, s)
end
-- The length-delimited fields of a serialized message: field number -> (last) value.
local function strings_of(s)
  local out, i = {}, 1
  while i <= #s do
    local tag, len
    tag, i = read_varint(s, i)
    if tag == nil then break end
    local wt = tag % 8
    if wt == 0 then
      len, i = read_varint(s, i)
      if len == nil then break end
    elseif wt == 1 then i = i + 8
    elseif wt == 5 then i = i + 4
    elseif wt == 2 then
      len, i = read_varint(s, i)
      if len == nil then break end
      out[math.floor(tag / 8)] = string.sub(s, i, i + len - 1)
      i = i + len
    else break end
  end
  return out
end

local opp = redis.call('HGET', KEYS[1], pid)
if not opp then return {'NOT_FOUND', 'no proposal ' .. pid, ''} end
local op = kp .. ':{' .. opp .. '}:'
local okey, pendkey = op .. 'opportunity', op .. 'pending'
local o = redis.call('HMGET', okey, 'stage', 'status', 'owner_id', 'team_id', 'stage_entered_ms')
local owner, team = o[3] or '', o[4] or ''
local kind, sid = ARGV[9], ARGV[10]
if not (kind == 'all' or (kind == 'owner' and sid ~= '' and sid == owner) or
        (kind == 'team' and sid ~= '' and sid == team)) then
  return {'DENIED', '', opp}
end
local pk = op .. 'proposal:' .. pid
-- Everything the decision, the updates entry and the answer need, in one read.
local p = redis.call('HMGET', pk, 'status', 'version', 'from_stage', 'to_stage', 'decided_by',
  'reason', 'proposal', 'evidence', 'idx_owner', 'idx_team', 'sources', 'confidence',
  'decided_at_ms', 'updated_ms', 'submissions', 'change_id')
if not p[1] then return {'NOT_FOUND', 'no proposal ' .. pid, opp} end
local head = strings_of(p[7] or '')
local pipeline = head[3] or ''
local stages
do
  local at = 17
  for _ = 1, tonumber(ARGV[at]) do
    local n = tonumber(ARGV[at + 2])
    if ARGV[at + 1] == pipeline then
      stages = {}
      for i = 1, n do stages[i] = ARGV[at + 2 + i] end
    end
    at = at + 2 + n
  end
end
if not stages then
  return {'FAILED_PRECONDITION', 'pipeline ' .. pipeline .. ' is no longer configured', opp}
end
-- The proposal as the service parses it (kAnswerFields, in that order) once this script is
-- done: `set` holds the fields it wrote, the others are as read above (no re-read).
local function answer(code, set, moved, entered)
  set = set or {}
  local function v(name, i)
    local x = set[name]
    if x == nil then x = p[i] end
    return x or ''
  end
  return {code, '', opp, {v('proposal', 7), v('evidence', 8), v('from_stage', 3),
    v('confidence', 12), v('status', 1), v('version', 2), v('decided_by', 5),
    v('decided_at_ms', 13), v('reason', 6), v('updated_ms', 14), v('submissions', 15),
    v('change_id', 16)}, pipeline, p[3] or '', p[4] or '', entered or '', moved and '1' or ''}
end
local function unindex_from(id, idx_owner, idx_team)
  redis.call('ZREM', ip .. 'all', id)
  if idx_owner and idx_owner ~= '' then redis.call('ZREM', ip .. 'owner:' .. idx_owner, id) end
  if idx_team and idx_team ~= '' then redis.call('ZREM', ip .. 'team:' .. idx_team, id) end
end
local function unindex(id)
  local f = redis.call('HMGET', op .. 'proposal:' .. id, 'idx_owner', 'idx_team', 'to_stage')
  unindex_from(id, f[1], f[2])
  if f[3] and redis.call('HGET', pendkey, f[3]) == id then redis.call('HDEL', pendkey, f[3]) end
end
local function audit(action, id, detail)
  redis.call('XADD', KEYS[3], '*', 'action', action, 'principal', actor, 'proposal_id', id,
    'opportunity_id', opp, 'detail', detail, 'at_ms', now, 'peer', ARGV[14])
end
local function supersede(id, why)
  local sk = op .. 'proposal:' .. id
  unindex(id)
  redis.call('HSET', sk, 'status', 'superseded', 'reason', why, 'decided_at_ms', now)
  redis.call('HINCRBY', sk, 'version', 1)
  audit('superseded', id, why)
  emit_update(KEYS[4], 'superseded', sk, id, opp)
end
-- The decided proposal's updates entry (as emit_update writes it, from the fields read above).
local function emit_decided(status, version)
  redis.call('XADD', KEYS[4], 'MAXLEN', '~', UPDATES_MAXLEN, '*', 'kind', 'decided',
    'proposal_id', pid,
    'opportunity_id', opp, 'owner_id', p[9] or '', 'team_id', p[10] or '', 'status', status,
    'version', version, 'to_stage', p[4] or '', 'source', p[11] or '')
end
local want = (decision == 'confirm') and 'confirmed' or 'rejected'
if p[1] == want then return answer('REPLAY') end
if p[1] == 'confirmed' or p[1] == 'rejected' then
  if tonumber(p[2]) ~= tonumber(ARGV[3]) then
    return {'ABORTED', 'This suggestion was just ' .. p[1] .. ' by ' .. (p[5] or '?') ..
      ' (version ' .. p[2] .. ', you had ' .. ARGV[3] .. '): reload it.', opp}
  end
  return {'FAILED_PRECONDITION', 'This suggestion was already ' .. p[1] .. ' by ' ..
    (p[5] or '?') .. '.', opp}
end
if p[1] == 'superseded' then
  return {'FAILED_PRECONDITION', 'This suggestion no longer applies: ' .. (p[6] or '') .. '.',
    opp}
end
if p[1] ~= 'pending' then
  return {'FAILED_PRECONDITION', 'This suggestion is ' .. p[1] ..
    ' and can no longer be decided.', opp}
end
if tonumber(p[2]) ~= tonumber(ARGV[3]) then
  return {'ABORTED', 'The suggestion changed (new evidence) since you loaded it (version ' ..
    p[2] .. ', you had ' .. ARGV[3] .. '): reload it and decide again.', opp}
end
if ARGV[11] == '1' and (owner ~= ARGV[12] or team ~= ARGV[13]) then
  return {'ABORTED', 'The opportunity changed owner or team meanwhile: reload and try again.',
    opp}
end
-- The version after this decision (HSET with it instead of a separate HINCRBY).
local version = tostring(tonumber(p[2]) + 1)
if decision == 'confirm' then
  local closed = o[2] and o[2] ~= 'open'
  if closed or o[1] ~= p[3] then
    local why
    if closed then
      why = 'the opportunity is now ' .. o[2]
    else
      why = 'the opportunity is now at stage ' .. tostring(o[1]) .. ', not ' .. p[3] ..
        ' as when this was suggested'
    end
    supersede(pid, why)
    return {'FAILED_PRECONDITION', 'This suggestion no longer applies: ' .. why ..
      '. It was withdrawn and nothing was changed.', opp}
  end
  redis.call('HSET', okey, 'stage', p[4], 'stage_entered_ms', now)
  -- Read before this proposal leaves its slot: its own entry is dropped below, and the pending
  -- slot check needs no HGET of its own.
  local others = redis.call('HGETALL', pendkey)
  unindex_from(pid, p[9], p[10])
  redis.call('HSET', pk, 'status', 'confirmed', 'decided_by', actor, 'decided_at_ms', now,
    'change_id', ARGV[7], 'version', version)
  local rt = rank(stages, p[4]) or 0
  for i = 1, #others, 2 do
    local ts, id = others[i], others[i + 1]
    if id == pid then
      if ts == p[4] then redis.call('HDEL', pendkey, ts) end
    else
      local r = rank(stages, ts)
      if r == nil or r <= rt then
        supersede(id, 'the opportunity was moved to ' .. p[4] .. ' when another suggestion was confirmed')
      else
        redis.call('HSET', op .. 'proposal:' .. id, 'from_stage', p[4])
        redis.call('HINCRBY', op .. 'proposal:' .. id, 'version', 1)
      end
    end
  end
  -- The StageChange, fields in number order as protobuf serializes them.
  local change = {str(1, ARGV[7]), str(2, head[2] or opp), str(3, pipeline), str(4, p[3]),
    str(5, p[4]), str(6, head[1] or pid), str(7, actor), field(8, ARGV[8])}
  for _, e in ipairs(evidence_list(p[8] or '')) do
    local ev = strings_of(e)
    change[#change + 1] = field(9, str(1, ev[1]) .. str(2, ev[2]) .. str(3, ev[3]) ..
      str(4, ev[5]))
  end
  redis.call('XADD', KEYS[2], '*', 'change_id', ARGV[7], 'opportunity_id', opp, 'proposal_id',
    pid, 'change', table.concat(change))
  audit('confirm', pid, p[3] .. ' -> ' .. p[4])
  emit_decided('confirmed', version)
  return answer('OK', {status = 'confirmed', version = version, decided_by = actor,
    decided_at_ms = now, change_id = ARGV[7]}, true, o[5])
end
unindex_from(pid, p[9], p[10])
if p[4] and redis.call('HGET', pendkey, p[4]) == pid then redis.call('HDEL', pendkey, p[4]) end
redis.call('HSET', pk, 'status', 'rejected', 'decided_by', actor, 'decided_at_ms', now,
  'reason', ARGV[6], 'version', version)
audit('reject', pid, ARGV[6])
emit_decided('rejected', version)
return answer('OK', {status = 'rejected', version = version, decided_by = actor,
  decided_at_ms = now, reason = ARGV[6]})
)lua";

// KEYS: pending:all, locator, audit, updates.
// ARGV: cutoff_ms batch now_ms index_prefix key_prefix reason.
// Expires up to `batch` proposals created at or before cutoff_ms (oldest first). Every id it
// examines leaves pending:all, so repeated calls always make progress. Returns
// {expired, examined}.
constexpr absl::string_view kExpireLua = R"lua(
local ip, kp, now, reason = ARGV[4], ARGV[5], ARGV[3], ARGV[6]
local ids = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', ARGV[1], 'LIMIT', 0, tonumber(ARGV[2]))
local expired = 0
for _, id in ipairs(ids) do
  redis.call('ZREM', KEYS[1], id)
  local opp = redis.call('HGET', KEYS[2], id)
  if opp then
    local op = kp .. ':{' .. opp .. '}:'
    local pk = op .. 'proposal:' .. id
    local f = redis.call('HMGET', pk, 'status', 'idx_owner', 'idx_team', 'to_stage')
    if f[2] and f[2] ~= '' then redis.call('ZREM', ip .. 'owner:' .. f[2], id) end
    if f[3] and f[3] ~= '' then redis.call('ZREM', ip .. 'team:' .. f[3], id) end
    if f[4] and redis.call('HGET', op .. 'pending', f[4]) == id then
      redis.call('HDEL', op .. 'pending', f[4])
    end
    if f[1] == 'pending' then
      redis.call('HSET', pk, 'status', 'expired', 'reason', reason, 'decided_at_ms', now)
      redis.call('HINCRBY', pk, 'version', 1)
      redis.call('XADD', KEYS[3], '*', 'action', 'expired', 'principal', 'autostage-review',
        'proposal_id', id, 'opportunity_id', opp, 'detail', reason, 'at_ms', now, 'peer', '')
      emit_update(KEYS[4], 'expired', pk, id, opp)
      expired = expired + 1
    end
  end
end
return {expired, #ids}
)lua";

// The opportunity state and its owner/team moves of pending proposals live in common/crmstate
// (contract C2); PutOpportunity/GetOpportunity delegate to it.

google::protobuf::Timestamp FromMillis(int64_t ms) {
  return google::protobuf::util::TimeUtil::MillisecondsToTimestamp(ms);
}

int64_t ParseInt(const std::string& s) {
  int64_t v = 0;
  return absl::SimpleAtoi(s, &v) ? v : 0;
}

v1::ProposalStatus ParseStatus(const std::string& s) {
  if (s == "pending") return v1::PROPOSAL_STATUS_PENDING;
  if (s == "confirmed") return v1::PROPOSAL_STATUS_CONFIRMED;
  if (s == "rejected") return v1::PROPOSAL_STATUS_REJECTED;
  if (s == "superseded") return v1::PROPOSAL_STATUS_SUPERSEDED;
  if (s == "expired") return v1::PROPOSAL_STATUS_EXPIRED;
  return v1::PROPOSAL_STATUS_UNSPECIFIED;
}

// The hash fields a ReviewedProposal is built from. The decide script answers with their
// values in this order (its `answer`), so a decision needs no HGETALL.
enum AnswerField {
  kProposal,
  kEvidence,
  kFromStage,
  kConfidence,
  kStatus,
  kVersion,
  kDecidedBy,
  kDecidedAtMs,
  kReason,
  kUpdatedMs,
  kSubmissions,
  kChangeId,
  kAnswerFieldCount
};
constexpr std::array<absl::string_view, kAnswerFieldCount> kAnswerFields = {
    "proposal",   "evidence",      "from_stage", "confidence", "status",      "version",
    "decided_by", "decided_at_ms", "reason",     "updated_ms", "submissions", "change_id"};
// Values by AnswerField, pointing into a reply; null: the field is missing (as '').
using StoredFields = std::array<const std::string*, kAnswerFieldCount>;

// A stored proposal from its fields (the evidence is its `evidence` field, see
// proposal_store_internal.h).
absl::StatusOr<v1::ReviewedProposal> BuildProposal(const std::string& id,
                                                   const StoredFields& fields) {
  const std::string empty;
  auto f = [&](AnswerField k) -> const std::string& {
    return fields[k] != nullptr ? *fields[k] : empty;
  };
  v1::ReviewedProposal out;
  v1::Proposal* p = out.mutable_proposal();
  if (!p->ParseFromString(f(kProposal))) {
    return absl::DataLossError(absl::StrCat("proposal ", id, " is corrupt"));
  }
  p->set_from_stage(f(kFromStage));
  double confidence = 0;
  if (absl::SimpleAtod(f(kConfidence), &confidence)) p->set_confidence(confidence);
  // Field 8 of Proposal in wire format: merging appends the evidence in stored order.
  if (!p->MergeFromString(f(kEvidence))) {
    return absl::DataLossError(absl::StrCat("evidence of proposal ", id, " is corrupt"));
  }
  out.set_status(ParseStatus(f(kStatus)));
  out.set_version(ParseInt(f(kVersion)));
  out.set_decided_by(f(kDecidedBy));
  if (!f(kDecidedAtMs).empty()) {
    *out.mutable_decided_at() = FromMillis(ParseInt(f(kDecidedAtMs)));
  }
  out.set_reason(f(kReason));
  *out.mutable_updated_at() = FromMillis(ParseInt(f(kUpdatedMs)));
  out.set_submissions(static_cast<int32_t>(ParseInt(f(kSubmissions))));
  out.set_change_id(f(kChangeId));
  return out;
}

// A stored proposal from its hash (HGETALL reply).
absl::StatusOr<v1::ReviewedProposal> ParseProposal(const std::string& id, const Reply& fields) {
  if (fields.size() < 2) return absl::NotFoundError(absl::StrCat("no proposal ", id));
  StoredFields f{};
  for (size_t i = 0; i + 1 < fields.size(); i += 2) {
    auto known = std::find(kAnswerFields.begin(), kAnswerFields.end(), fields[i].str());
    if (known != kAnswerFields.end()) f[known - kAnswerFields.begin()] = &fields[i + 1].str();
  }
  return BuildProposal(id, f);
}

// Keyset page token: "<order>:<score>:<proposal id>" of the last entry examined.
struct Cursor {
  int64_t score = 0;
  std::string id;
};

std::string EncodeToken(v1::ListOrder order, const Cursor& c) {
  return absl::StrCat(order == v1::LIST_ORDER_OLDEST_FIRST ? "o" : "n", ":", c.score, ":", c.id);
}

absl::StatusOr<Cursor> DecodeToken(v1::ListOrder order, const std::string& token) {
  std::vector<std::string> parts = absl::StrSplit(token, absl::MaxSplits(':', 2));
  Cursor c;
  const std::string want = order == v1::LIST_ORDER_OLDEST_FIRST ? "o" : "n";
  if (parts.size() != 3 || parts[0] != want || !absl::SimpleAtoi(parts[1], &c.score) ||
      parts[2].empty()) {
    return absl::InvalidArgumentError("invalid page_token (or the order changed)");
  }
  c.id = parts[2];
  return c;
}

// True if (score, id) comes strictly after the cursor in the listing order. Redis orders
// equal scores by member bytes, ascending (reversed for newest-first).
bool After(bool newest, const Cursor& c, int64_t score, const std::string& id) {
  if (score != c.score) return newest ? score < c.score : score > c.score;
  return newest ? id < c.id : id > c.id;
}

}  // namespace

ProposalStore::ProposalStore(redis::RedisPool& pool, Pipelines pipelines, const Clock& clock,
                             StoreOptions options)
    : pool_(pool),
      pipelines_(std::move(pipelines)),
      clock_(clock),
      options_(options),
      submit_script_(WithHelpers(store_internal::kSubmitLua)),
      decide_script_(WithHelpers(kDecideLua)),
      expire_script_(WithHelpers(kExpireLua)),
      pipeline_args_(PipelineArgs(pipelines_)),
      opportunities_(pool, crmstate::StoreOptions{.pool_wait = options.pool_wait}) {}

std::string ProposalStore::OutboxKey() { return Key("outbox", kGlobalTag); }
std::string ProposalStore::AuditKey() { return Key("audit", kGlobalTag); }
std::string ProposalStore::UpdatesKey() { return Key("updates", kGlobalTag); }

absl::Status ProposalStore::PutOpportunity(const OpportunityState& s) {
  if (s.opportunity_id.empty() || s.pipeline.empty() || s.stage.empty()) {
    return absl::InvalidArgumentError("opportunity_id, pipeline and stage are required");
  }
  v1::Opportunity o;
  o.set_opportunity_id(s.opportunity_id);
  o.set_pipeline(s.pipeline);
  o.set_stage(s.stage);
  o.set_status(s.status);
  o.set_owner_id(s.owner_id);
  o.set_team_id(s.team_id);
  // Unconditional: an administrative write, not a CRM snapshot with an updated_at to order by.
  return opportunities_.Put(o);
}

absl::StatusOr<OpportunityState> ProposalStore::GetOpportunity(absl::string_view id) {
  ASSIGN_OR_RETURN(crmstate::StoredOpportunity stored, opportunities_.Get(id));
  const v1::Opportunity& o = stored.opportunity;
  return OpportunityState{.opportunity_id = o.opportunity_id(),
                          .pipeline = o.pipeline(),
                          .stage = o.stage(),
                          .status = o.status(),
                          .owner_id = o.owner_id(),
                          .team_id = o.team_id()};
}

absl::StatusOr<std::string> ProposalStore::OpportunityOf(absl::string_view proposal_id) {
  ASSIGN_OR_RETURN(redis::RedisPool::Lease lease, pool_.Acquire(options_.pool_wait));
  return Locate(*lease, proposal_id);
}

absl::StatusOr<std::string> ProposalStore::Locate(redis::RedisClient& client,
                                                  absl::string_view proposal_id) {
  ASSIGN_OR_RETURN(Reply r, client.Command("HGET", LocatorKey(), proposal_id));
  if (!r.is_string()) return absl::NotFoundError(absl::StrCat("no proposal ", proposal_id));
  return r.str();
}

absl::StatusOr<v1::ReviewedProposal> ProposalStore::Get(absl::string_view proposal_id) {
  // One lease for the locator and the load: a second lease would be a second wait on the pool.
  ASSIGN_OR_RETURN(redis::RedisPool::Lease lease, pool_.Acquire(options_.pool_wait));
  ASSIGN_OR_RETURN(std::string opp, Locate(*lease, proposal_id));
  return Load(*lease, opp, std::string(proposal_id));
}

absl::StatusOr<v1::ReviewedProposal> ProposalStore::Load(redis::RedisClient& client,
                                                         const std::string& opp,
                                                         const std::string& id) {
  ASSIGN_OR_RETURN(Reply fields, client.Command("HGETALL", ProposalKey(opp, id)));
  return ParseProposal(id, fields);
}

absl::StatusOr<v1::ListPendingResponse> ProposalStore::ListPending(
    const v1::ListPendingRequest& request, const ListScope& scope) {
  const int page_size =
      request.page_size() <= 0 ? kDefaultPageSize : std::min(request.page_size(), kMaxPageSize);
  const bool newest = request.order() != v1::LIST_ORDER_OLDEST_FIRST;
  std::optional<Cursor> cursor;
  if (!request.page_token().empty()) {
    ASSIGN_OR_RETURN(cursor, DecodeToken(request.order(), request.page_token()));
  }
  ASSIGN_OR_RETURN(redis::RedisPool::Lease lease, pool_.Acquire(options_.pool_wait));
  v1::ListPendingResponse response;

  auto accept = [&](const std::string& opp, const std::string& id) -> absl::StatusOr<bool> {
    absl::StatusOr<v1::ReviewedProposal> rp = Load(*lease, opp, id);
    if (absl::IsNotFound(rp.status())) return false;
    if (!rp.ok()) return rp.status();
    if (rp->status() != v1::PROPOSAL_STATUS_PENDING) return false;
    if (!request.to_stage().empty() && rp->proposal().to_stage() != request.to_stage()) {
      return false;
    }
    if (!request.source().empty()) {
      bool any = false;
      for (const v1::Evidence& e : rp->proposal().evidence()) any |= e.source() == request.source();
      if (!any) return false;
    }
    *response.add_proposals() = *std::move(rp);
    return true;
  };

  if (!request.opportunity_id().empty()) {
    // One opportunity holds at most one pending proposal per stage: read them all and order.
    const std::string& opp = request.opportunity_id();
    ASSIGN_OR_RETURN(Reply ids, lease->Command("HVALS", PendingKey(opp)));
    std::vector<std::pair<int64_t, std::string>> entries;
    for (const Reply& id : ids.elements()) {
      ASSIGN_OR_RETURN(Reply created,
                       lease->Command("HGET", ProposalKey(opp, id.str()), "created_ms"));
      entries.emplace_back(ParseInt(created.str()), id.str());
    }
    std::sort(entries.begin(), entries.end());
    if (newest) std::reverse(entries.begin(), entries.end());
    std::optional<Cursor> last_examined;
    for (const auto& [score, id] : entries) {
      if (cursor && !After(newest, *cursor, score, id)) continue;
      if (response.proposals_size() == page_size) {
        // More remain: resume after the last entry examined.
        response.set_next_page_token(EncodeToken(request.order(), *last_examined));
        break;
      }
      last_examined = Cursor{score, id};
      RETURN_IF_ERROR(accept(opp, id).status());
    }
    return response;
  }

  std::string index = IndexPrefix() + "all";
  if (scope.kind == ListScope::Kind::kOwner) index = IndexPrefix() + "owner:" + scope.id;
  if (scope.kind == ListScope::Kind::kTeam) index = IndexPrefix() + "team:" + scope.id;

  const int batch = std::max(64, page_size * 2);
  int scanned = 0;
  int offset = 0;
  const std::string start = cursor ? absl::StrCat(cursor->score) : (newest ? "+inf" : "-inf");
  const std::string end = newest ? "-inf" : "+inf";
  std::optional<Cursor> last_examined;
  bool exhausted = false;
  while (response.proposals_size() < page_size && scanned < kMaxScanned) {
    ASSIGN_OR_RETURN(Reply r, lease->Command(newest ? "ZREVRANGEBYSCORE" : "ZRANGEBYSCORE", index,
                                             start, end, "WITHSCORES", "LIMIT", offset, batch));
    const size_t n = r.size() / 2;
    offset += static_cast<int>(n);
    for (size_t i = 0; i < n && response.proposals_size() < page_size; ++i) {
      const std::string& id = r[2 * i].str();
      double score_d = 0;
      (void)absl::SimpleAtod(r[2 * i + 1].str(), &score_d);
      const auto score = static_cast<int64_t>(score_d);
      if (cursor && !After(newest, *cursor, score, id)) continue;
      ++scanned;
      last_examined = Cursor{score, id};
      ASSIGN_OR_RETURN(Reply opp, lease->Command("HGET", LocatorKey(), id));
      if (!opp.is_string()) continue;
      RETURN_IF_ERROR(accept(opp.str(), id).status());
    }
    if (n < static_cast<size_t>(batch)) {
      // Whole index read; done unless the page filled exactly at its end.
      exhausted = true;
      break;
    }
  }
  // A token whenever the index may hold more after the last entry examined.
  if (last_examined && !(exhausted && response.proposals_size() < page_size)) {
    response.set_next_page_token(EncodeToken(request.order(), *last_examined));
  }
  return response;
}

std::vector<std::string> ProposalStore::PipelineArgs(const Pipelines& pipelines) {
  std::vector<std::string> args = {absl::StrCat(pipelines.all().size())};
  for (const auto& [id, stages] : pipelines.all()) {
    args.push_back(id);
    args.push_back(absl::StrCat(stages.size()));
    args.insert(args.end(), stages.begin(), stages.end());
  }
  return args;
}

absl::StatusOr<v1::ReviewedProposal> ProposalStore::Decide(const DecisionRequest& request,
                                                           DecisionInfo* info) {
  DecisionInfo scratch;
  if (info == nullptr) info = &scratch;
  *info = DecisionInfo();
  const int64_t now = NowMillis();
  info->decided_at_ms = now;
  const bool confirm = request.decision == Decision::kConfirm;
  const std::optional<Ownership>& expected = request.expected.ownership;
  std::string confirmed_at;
  if (confirm) FromMillis(now).SerializeToString(&confirmed_at);
  const char* scope = "all";
  if (request.scope.kind == ListScope::Kind::kOwner) scope = "owner";
  if (request.scope.kind == ListScope::Kind::kTeam) scope = "team";
  std::vector<std::string> args = {confirm ? "confirm" : "reject",
                                   request.proposal_id,
                                   absl::StrCat(request.version),
                                   request.actor,
                                   absl::StrCat(now),
                                   request.reason,
                                   absl::StrCat("sc-", request.proposal_id),
                                   std::move(confirmed_at),
                                   scope,
                                   request.scope.id,
                                   expected ? "1" : "",
                                   expected ? expected->owner_id : "",
                                   expected ? expected->team_id : "",
                                   request.peer,
                                   IndexPrefix(),
                                   std::string(redis::kKeyPrefix)};
  args.insert(args.end(), pipeline_args_.begin(), pipeline_args_.end());
  ASSIGN_OR_RETURN(redis::RedisPool::Lease lease, pool_.Acquire(options_.pool_wait));
  ASSIGN_OR_RETURN(
      Reply r,
      decide_script_.Run(*lease, {LocatorKey(), OutboxKey(), AuditKey(), UpdatesKey()}, args));
  if (r.size() < 3) return absl::InternalError("decide script: unexpected reply");
  const std::string& code = r[0].str();
  const std::string& message = r[1].str();
  info->opportunity_id = r[2].str();
  if (code == "OK" || code == "REPLAY") {
    if (r.size() != 9) return absl::InternalError("decide script: unexpected reply");
    info->applied = code == "OK";
    info->pipeline = r[4].str();
    info->from_stage = r[5].str();
    info->to_stage = r[6].str();
    info->stage_changed = r[8].str() == "1";
    int64_t entered = 0;
    if (info->stage_changed && absl::SimpleAtoi(r[7].str(), &entered)) {
      info->stage_entered_ms = entered;
    }
    const Reply& values = r[3];
    if (values.size() != kAnswerFieldCount) {
      return absl::InternalError("decide script: unexpected proposal fields");
    }
    StoredFields fields;
    for (size_t k = 0; k < fields.size(); ++k) fields[k] = &values[k].str();
    return BuildProposal(request.proposal_id, fields);
  }
  if (code == "NOT_FOUND") return absl::NotFoundError(message);
  if (code == "DENIED") {
    return absl::PermissionDeniedError("the opportunity is outside the caller's scope");
  }
  if (code == "ABORTED") return absl::AbortedError(message);
  if (code == "FAILED_PRECONDITION") return absl::FailedPreconditionError(message);
  return absl::InternalError(absl::StrCat("decide script: ", code, " ", message));
}

absl::StatusOr<int64_t> ProposalStore::ExpirePending(absl::Duration max_age, int batch_size) {
  if (max_age <= absl::ZeroDuration() || batch_size <= 0) {
    return absl::InvalidArgumentError("max_age and batch_size must be positive");
  }
  const int64_t now = NowMillis();
  const int64_t cutoff = now - absl::ToInt64Milliseconds(max_age);
  const int64_t days = absl::ToInt64Hours(max_age) / 24;
  const std::string reason =
      days >= 1 ? absl::StrCat("no decision within ", days, days == 1 ? " day" : " days")
                : absl::StrCat("no decision within ", absl::FormatDuration(max_age));
  int64_t total = 0;
  for (;;) {
    // A lease per batch, so a long expiry run does not hold a connection others need.
    ASSIGN_OR_RETURN(redis::RedisPool::Lease lease, pool_.Acquire(options_.pool_wait));
    ASSIGN_OR_RETURN(
        Reply r,
        expire_script_.Run(*lease, {IndexPrefix() + "all", LocatorKey(), AuditKey(), UpdatesKey()},
                           {absl::StrCat(cutoff), absl::StrCat(batch_size), absl::StrCat(now),
                            IndexPrefix(), std::string(redis::kKeyPrefix), reason}));
    if (r.size() != 2) return absl::InternalError("expire script: unexpected reply");
    total += r[0].integer();
    if (r[1].integer() < batch_size) return total;
  }
}

absl::Status ProposalStore::Audit(const AuditRecord& a) {
  ASSIGN_OR_RETURN(redis::RedisPool::Lease lease, pool_.Acquire(options_.pool_wait));
  return lease
      ->Command("XADD", AuditKey(), "*", "action", a.action, "principal", a.principal, "method",
                a.method, "proposal_id", a.proposal_id, "opportunity_id", a.opportunity_id,
                "detail", a.detail, "at_ms", NowMillis(), "peer", a.peer)
      .status();
}

}  // namespace autostage::review
