// Internal to the review store: key names, the Lua helpers shared by its scripts and small
// conversions used by both proposal_store.cc (reads, decisions, expiry) and
// proposal_store_submit.cc (SubmitProposals). Not part of the store's interface.
#ifndef AUTOSTAGE_SERVICES_REVIEW_PROPOSAL_STORE_INTERNAL_H_
#define AUTOSTAGE_SERVICES_REVIEW_PROPOSAL_STORE_INTERNAL_H_

#include <cstdint>
#include <string>

#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"
#include "common/redis/key.h"
#include "google/protobuf/timestamp.pb.h"

namespace autostage::review::store_internal {

using redis::Key;

// Global keys share the {review} tag.
inline constexpr absl::string_view kGlobalTag = "review";
inline constexpr int kMaxBatch = 1000;

inline std::string LocatorKey() { return Key("locator", kGlobalTag); }
inline std::string IndexPrefix() { return Key("pending", kGlobalTag) + ":"; }
inline std::string OppPrefix(absl::string_view opp) {
  return absl::StrCat(redis::kKeyPrefix, ":{", opp, "}:");
}
inline std::string OppKey(absl::string_view opp) { return Key("opportunity", opp); }
inline std::string PendingKey(absl::string_view opp) { return Key("pending", opp); }
// Merged proposal id -> the pending proposal id it was merged into (SubmitProposals'
// idempotency record for merged ids; stored ids are in the locator). Global, so a batch reads
// it with one HMGET.
inline std::string MergedKey() { return Key("merged", kGlobalTag); }
inline std::string ProposalKey(absl::string_view opp, absl::string_view id) {
  return Key("proposal", opp, id);
}

// A proposal's evidence is two fields of its hash (one key per proposal, no evidence zset):
// `evidence`, the Evidence messages newest first in protobuf wire format as the repeated
// field 8 of Proposal (so Proposal::MergeFromString appends them), and `evidence_ms`, their
// ordering times (occurred_at in ms, else the submission time), comma-separated in the same
// order. Order: time descending, then serialized bytes descending (as a sorted set's reverse
// range ordered them); an identical Evidence is kept once, with its latest submitted time.
inline constexpr char kEvidenceTag = 0x42;  // field 8, wire type 2 (length-delimited)

// Shared Lua helpers. `stages` is the pipeline's ordered stage list from ARGV.
inline constexpr absl::string_view kLuaHelpers = R"lua(
local function rank(stages, s)
  for i, v in ipairs(stages) do if v == s then return i end end
  return nil
end
local function read_stages(first)
  local n = tonumber(ARGV[first])
  local stages = {}
  for i = 1, n do stages[i] = ARGV[first + i] end
  return stages, first + n + 1
end
local function read_varint(s, i)
  local n, mul = 0, 1
  while true do
    local b = string.byte(s, i)
    if b == nil then return nil, i end
    i = i + 1
    n = n + (b % 128) * mul
    if b < 128 then return n, i end
    mul = mul * 128
  end
end
-- The serialized Evidence messages of an `evidence` field (see kEvidenceTag), in order, and
-- each one's whole field (tag, length, bytes) as `chunks`.
local function evidence_list(blob)
  local bodies, chunks, i = {}, {}, 1
  while i <= #blob do
    local len, j = read_varint(blob, i + 1)
    if len == nil then break end
    bodies[#bodies + 1] = string.sub(blob, j, j + len - 1)
    chunks[#chunks + 1] = string.sub(blob, i, j + len - 1)
    i = j + len
  end
  return bodies, chunks
end
-- The updates stream's one retention, for every writer (decisions, expiry, submit batches):
-- about the last UPDATES_MAXLEN entries (docs/api.md, contract C1).
local UPDATES_MAXLEN = 1000
-- One entry on the updates stream (contract C1) describing proposal `pid` as it is now.
local function emit_update(ukey, kind, pk, pid, opp)
  local f = redis.call('HMGET', pk, 'idx_owner', 'idx_team', 'status', 'version', 'to_stage',
    'sources')
  redis.call('XADD', ukey, 'MAXLEN', '~', UPDATES_MAXLEN, '*', 'kind', kind, 'proposal_id', pid,
    'opportunity_id', opp, 'owner_id', f[1] or '', 'team_id', f[2] or '', 'status', f[3] or '',
    'version', f[4] or '0', 'to_stage', f[5] or '', 'source', f[6] or '')
end
)lua";

inline std::string WithHelpers(absl::string_view body) { return absl::StrCat(kLuaHelpers, body); }

inline int64_t ToMillis(const google::protobuf::Timestamp& t) {
  return t.seconds() * 1000 + t.nanos() / 1000000;
}

// The submit script's body (defined beside ProposalStore::Submit).
extern const absl::string_view kSubmitLua;

}  // namespace autostage::review::store_internal

#endif  // AUTOSTAGE_SERVICES_REVIEW_PROPOSAL_STORE_INTERNAL_H_
