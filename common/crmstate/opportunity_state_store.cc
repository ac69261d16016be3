#include "common/crmstate/opportunity_state_store.h"

#include <algorithm>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "common/redis/key.h"
#include "common/status/status_macros.h"

namespace autostage::crmstate {
namespace {

using redis::Key;
using redis::Reply;

constexpr absl::string_view kContactsTag = "contacts";
// Review's global tag and pending-index prefix (services/review/proposal_store.h key layout).
constexpr absl::string_view kReviewTag = "review";

std::string ReviewIndexPrefix() { return Key("pending", kReviewTag) + ":"; }
std::string OppPrefix(absl::string_view opp) {
  return absl::StrCat(redis::kKeyPrefix, ":{", opp, "}:");
}
std::string PendingKey(absl::string_view opp) { return Key("pending", opp); }

// KEYS: opportunity, pending, contacts, tombstone, contact index keys to be in (open only)...
// ARGV: mode(apply|put) id pipeline stage status owner team updated_ms snapshot index_prefix
//       opp_prefix
// Returns 'applied', 'older' or 'deleted'.
constexpr absl::string_view kWriteLua = R"lua(
local mode, id, ts = ARGV[1], ARGV[2], tonumber(ARGV[8])
if mode == 'apply' then
  local cur = redis.call('HGET', KEYS[1], 'updated_at_ms')
  if cur and tonumber(cur) >= ts then return 'older' end
  local tomb = redis.call('GET', KEYS[4])
  if tomb and tonumber(tomb) >= ts then return 'deleted' end
end
redis.call('DEL', KEYS[4])
local old = redis.call('HMGET', KEYS[1], 'owner_id', 'team_id')
-- Review's time-in-stage analytics: a snapshot that changes the stage entered it at its
-- updated_at (unknown for an undated put: cleared). Review's confirm sets it too.
local prev_stage = redis.call('HGET', KEYS[1], 'stage')
if prev_stage and prev_stage ~= ARGV[4] then
  if ts and ts > 0 then
    redis.call('HSET', KEYS[1], 'stage_entered_ms', ARGV[8])
  else
    redis.call('HDEL', KEYS[1], 'stage_entered_ms')
  end
end
redis.call('HSET', KEYS[1], 'pipeline', ARGV[3], 'stage', ARGV[4], 'status', ARGV[5],
  'owner_id', ARGV[6], 'team_id', ARGV[7], 'updated_at_ms', ARGV[8], 'snapshot', ARGV[9])
redis.call('HINCRBY', KEYS[1], 'version', 1)
-- Contact index: leave the contacts no longer held, join the current ones.
local want = {}
for i = 5, #KEYS do want[KEYS[i]] = true end
for _, k in ipairs(redis.call('SMEMBERS', KEYS[3])) do
  if not want[k] then redis.call('SREM', k, id) end
end
redis.call('DEL', KEYS[3])
for i = 5, #KEYS do
  redis.call('SADD', KEYS[i], id)
  redis.call('SADD', KEYS[3], KEYS[i])
end
-- Owner/team change: pending proposals move to the new owner/team indexes.
local ip, op = ARGV[10], ARGV[11]
if (old[1] or '') ~= ARGV[6] or (old[2] or '') ~= ARGV[7] then
  local pend = redis.call('HGETALL', KEYS[2])
  for i = 2, #pend, 2 do
    local pid = pend[i]
    local pk = op .. 'proposal:' .. pid
    local f = redis.call('HMGET', pk, 'idx_owner', 'idx_team', 'created_ms')
    if f[1] and f[1] ~= '' then redis.call('ZREM', ip .. 'owner:' .. f[1], pid) end
    if f[2] and f[2] ~= '' then redis.call('ZREM', ip .. 'team:' .. f[2], pid) end
    if ARGV[6] ~= '' then redis.call('ZADD', ip .. 'owner:' .. ARGV[6], f[3] or 0, pid) end
    if ARGV[7] ~= '' then redis.call('ZADD', ip .. 'team:' .. ARGV[7], f[3] or 0, pid) end
    redis.call('HSET', pk, 'idx_owner', ARGV[6], 'idx_team', ARGV[7])
  end
end
return 'applied'
)lua";

// KEYS: opportunity, contacts, tombstone. ARGV: id tombstone_ms ttl_ms.
// Returns 'deleted', 'absent' or 'newer'.
constexpr absl::string_view kDeleteLua = R"lua(
local id, ts = ARGV[1], tonumber(ARGV[2])
local cur = redis.call('HGET', KEYS[1], 'updated_at_ms')
if cur and tonumber(cur) > ts then return 'newer' end
local prev = redis.call('GET', KEYS[3])
if not prev or tonumber(prev) < ts then
  redis.call('SET', KEYS[3], ARGV[2], 'PX', ARGV[3])
end
for _, k in ipairs(redis.call('SMEMBERS', KEYS[2])) do redis.call('SREM', k, id) end
redis.call('DEL', KEYS[2])
if redis.call('DEL', KEYS[1]) == 1 then return 'deleted' end
return 'absent'
)lua";

int64_t ToMillis(const google::protobuf::Timestamp& t) {
  return t.seconds() * 1000 + t.nanos() / 1000000;
}

int64_t ParseInt(const std::string& s) {
  int64_t v = 0;
  return absl::SimpleAtoi(s, &v) ? v : 0;
}

// Redis being slow or down is always "retry" for callers.
absl::Status AsUnavailable(const absl::Status& s) {
  if (absl::IsDeadlineExceeded(s)) return absl::UnavailableError(s.message());
  return s;
}

}  // namespace

OpportunityStateStore::OpportunityStateStore(redis::RedisPool& pool, StoreOptions options)
    : pool_(pool),
      options_(options),
      write_script_(std::string(kWriteLua)),
      delete_script_(std::string(kDeleteLua)) {}

std::string OpportunityStateStore::OpportunityKey(absl::string_view id) {
  return Key("opportunity", id);
}
std::string OpportunityStateStore::ContactsKey(absl::string_view id) { return Key("contacts", id); }
std::string OpportunityStateStore::TombstoneKey(absl::string_view id) {
  return Key("tombstone", id);
}
std::string OpportunityStateStore::ContactIndexKey(absl::string_view contact_key) {
  return Key("contact", kContactsTag, contact_key);
}

absl::StatusOr<redis::RedisPool::Lease> OpportunityStateStore::Lease() {
  absl::StatusOr<redis::RedisPool::Lease> lease = pool_.Acquire(options_.pool_wait);
  if (!lease.ok()) return AsUnavailable(lease.status());
  return lease;
}

absl::StatusOr<ApplyOutcome> OpportunityStateStore::Apply(const v1::Opportunity& snapshot) {
  return Write(snapshot, /*unconditional=*/false);
}

absl::Status OpportunityStateStore::Put(const v1::Opportunity& snapshot) {
  return Write(snapshot, /*unconditional=*/true).status();
}

absl::StatusOr<ApplyOutcome> OpportunityStateStore::Write(const v1::Opportunity& s,
                                                          bool unconditional) {
  if (s.opportunity_id().empty() || s.pipeline().empty() || s.stage().empty()) {
    return absl::InvalidArgumentError("opportunity_id, pipeline and stage are required");
  }
  const std::string& id = s.opportunity_id();
  const std::string status = s.status().empty() ? "open" : s.status();
  std::vector<std::string> keys = {OpportunityKey(id), PendingKey(id), ContactsKey(id),
                                   TombstoneKey(id)};
  if (status == "open") {
    std::set<std::string> unique;
    for (const std::string& k : rules::OpportunityContactKeys(s)) {
      if (unique.insert(k).second) keys.push_back(ContactIndexKey(k));
    }
  }
  const std::vector<std::string> args = {unconditional ? "put" : "apply",
                                         id,
                                         s.pipeline(),
                                         s.stage(),
                                         status,
                                         s.owner_id(),
                                         s.team_id(),
                                         absl::StrCat(ToMillis(s.updated_at())),
                                         s.SerializeAsString(),
                                         ReviewIndexPrefix(),
                                         OppPrefix(id)};
  ASSIGN_OR_RETURN(redis::RedisPool::Lease lease, Lease());
  ASSIGN_OR_RETURN(Reply r, write_script_.Run(*lease, keys, args));
  if (r.str() == "applied") {
    applied_.fetch_add(1, std::memory_order_relaxed);
    return ApplyOutcome::kApplied;
  }
  if (r.str() == "older") {
    ignored_older_.fetch_add(1, std::memory_order_relaxed);
    return ApplyOutcome::kIgnoredOlder;
  }
  if (r.str() == "deleted") {
    ignored_deleted_.fetch_add(1, std::memory_order_relaxed);
    return ApplyOutcome::kIgnoredDeleted;
  }
  return absl::InternalError(absl::StrCat("write script: unexpected reply ", r.DebugString()));
}

absl::StatusOr<DeleteOutcome> OpportunityStateStore::Delete(absl::string_view id,
                                                            absl::Time tombstone_time) {
  if (id.empty()) return absl::InvalidArgumentError("opportunity_id is required");
  const int64_t ttl_ms = std::max<int64_t>(1, absl::ToInt64Milliseconds(options_.tombstone_ttl));
  ASSIGN_OR_RETURN(redis::RedisPool::Lease lease, Lease());
  ASSIGN_OR_RETURN(Reply r, delete_script_.Run(
                                *lease, {OpportunityKey(id), ContactsKey(id), TombstoneKey(id)},
                                {std::string(id), absl::StrCat(absl::ToUnixMillis(tombstone_time)),
                                 absl::StrCat(ttl_ms)}));
  if (r.str() == "deleted") {
    deleted_.fetch_add(1, std::memory_order_relaxed);
    return DeleteOutcome::kDeleted;
  }
  if (r.str() == "absent") return DeleteOutcome::kAbsent;
  if (r.str() == "newer") {
    tombstones_ignored_.fetch_add(1, std::memory_order_relaxed);
    return DeleteOutcome::kIgnoredNewer;
  }
  return absl::InternalError(absl::StrCat("delete script: unexpected reply ", r.DebugString()));
}

absl::StatusOr<StoredOpportunity> OpportunityStateStore::Get(absl::string_view id) {
  ASSIGN_OR_RETURN(redis::RedisPool::Lease lease, Lease());
  return Load(*lease, id);
}

absl::StatusOr<StoredOpportunity> OpportunityStateStore::Load(redis::RedisClient& client,
                                                              absl::string_view id) {
  ASSIGN_OR_RETURN(Reply r, client.Command(LoadCommand(id)));
  return ParseLoaded(id, r);
}

redis::Args OpportunityStateStore::LoadCommand(absl::string_view id) {
  return {"HMGET",    OpportunityKey(id), "pipeline", "stage",         "status",
          "owner_id", "team_id",          "version",  "updated_at_ms", "snapshot"};
}

absl::StatusOr<StoredOpportunity> OpportunityStateStore::ParseLoaded(absl::string_view id,
                                                                     const Reply& r) {
  if (r.is_error()) return r.ToStatus();
  if (r.size() != 8 || r[0].is_nil()) {
    return absl::NotFoundError(absl::StrCat("unknown opportunity ", id));
  }
  StoredOpportunity out;
  v1::Opportunity& o = out.opportunity;
  if (!r[7].is_nil() && !o.ParseFromString(r[7].str())) {
    return absl::DataLossError(absl::StrCat("opportunity ", id, ": stored snapshot is corrupt"));
  }
  o.set_opportunity_id(std::string(id));
  o.set_pipeline(r[0].str());
  o.set_stage(r[1].str());
  o.set_status(r[2].is_nil() || r[2].str().empty() ? "open" : r[2].str());
  o.set_owner_id(r[3].str());
  o.set_team_id(r[4].str());
  out.version = ParseInt(r[5].str());
  out.updated_at_ms = ParseInt(r[6].str());
  return out;
}

absl::StatusOr<rules::Resolution> OpportunityStateStore::Resolve(const v1::Event& event) {
  ASSIGN_OR_RETURN(std::vector<absl::StatusOr<rules::Resolution>> resolved, ResolveMany({&event}));
  return std::move(resolved[0]);
}

namespace {

// A stored opportunity as a resolution; unknown ids (deleted between the index read and the
// load, or never known) resolve to "unresolved"; other errors stay errors.
absl::StatusOr<rules::Resolution> AsResolution(absl::StatusOr<StoredOpportunity> stored) {
  if (absl::IsNotFound(stored.status())) return rules::Resolution{std::nullopt, "unresolved"};
  if (!stored.ok()) return stored.status();
  return rules::Resolution{std::move(stored->opportunity), ""};
}

bool IsConnectionLevel(const absl::Status& status) {
  return absl::IsUnavailable(status) || absl::IsDeadlineExceeded(status) ||
         absl::IsResourceExhausted(status);
}

}  // namespace

absl::StatusOr<std::vector<absl::StatusOr<rules::Resolution>>> OpportunityStateStore::ResolveMany(
    const std::vector<const v1::Event*>& events) {
  std::vector<absl::StatusOr<rules::Resolution>> out(events.size(),
                                                     rules::Resolution{std::nullopt, "unresolved"});
  // Round 1: the hash of every event with an opportunity_id, the contact union of the others.
  std::vector<redis::Args> commands;
  std::vector<size_t> index;  // commands[k] is about events[index[k]]
  commands.reserve(events.size());
  index.reserve(events.size());
  for (size_t i = 0; i < events.size(); ++i) {
    const v1::Event& event = *events[i];
    if (!event.opportunity_id().empty()) {
      commands.push_back(LoadCommand(event.opportunity_id()));
      index.push_back(i);
      continue;
    }
    std::set<std::string> contact_keys;
    for (const std::string& k : rules::ParticipantContactKeys(event)) contact_keys.insert(k);
    if (contact_keys.empty()) continue;  // "unresolved"
    redis::Args command = {"SUNION"};
    for (const std::string& k : contact_keys) command.push_back(ContactIndexKey(k));
    commands.push_back(std::move(command));
    index.push_back(i);
  }
  if (commands.empty()) return out;
  ASSIGN_OR_RETURN(redis::RedisPool::Lease lease, Lease());
  ASSIGN_OR_RETURN(std::vector<Reply> replies, lease->Pipeline(commands));
  // Round 2: the hash of every event whose participants matched exactly one opportunity.
  std::vector<redis::Args> loads;
  std::vector<size_t> load_index;
  std::vector<std::string> load_ids;
  for (size_t k = 0; k < replies.size(); ++k) {
    const size_t i = index[k];
    const Reply& r = replies[k];
    if (r.is_error()) {
      const absl::Status error = r.ToStatus();
      if (IsConnectionLevel(error)) return error;
      out[i] = error;
      continue;
    }
    if (!events[i]->opportunity_id().empty()) {
      out[i] = AsResolution(ParseLoaded(events[i]->opportunity_id(), r));
      continue;
    }
    if (r.size() == 0) continue;  // "unresolved"
    if (r.size() > 1) {
      out[i] = rules::Resolution{std::nullopt, "ambiguous_opportunity"};
      continue;
    }
    load_ids.push_back(r[0].str());
    loads.push_back(LoadCommand(load_ids.back()));
    load_index.push_back(i);
  }
  if (loads.empty()) return out;
  ASSIGN_OR_RETURN(std::vector<Reply> loaded, lease->Pipeline(loads));
  for (size_t k = 0; k < loaded.size(); ++k) {
    absl::StatusOr<rules::Resolution> resolution =
        AsResolution(ParseLoaded(load_ids[k], loaded[k]));
    if (!resolution.ok() && IsConnectionLevel(resolution.status())) return resolution.status();
    out[load_index[k]] = std::move(resolution);
  }
  return out;
}

StoreStats OpportunityStateStore::stats() const {
  StoreStats s;
  s.applied = applied_.load(std::memory_order_relaxed);
  s.ignored_older = ignored_older_.load(std::memory_order_relaxed);
  s.ignored_deleted = ignored_deleted_.load(std::memory_order_relaxed);
  s.deleted = deleted_.load(std::memory_order_relaxed);
  s.tombstones_ignored = tombstones_ignored_.load(std::memory_order_relaxed);
  return s;
}

}  // namespace autostage::crmstate
