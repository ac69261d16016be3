// OpportunityStateStore: the CRM's opportunity snapshots (crm.opportunities) kept in Redis, the
// one copy of opportunity state that ingest writes and review reads (contract C2).
//
// Key layout (O = opportunity id, used as the hash tag):
//   autostage:{O}:opportunity   HASH pipeline stage status owner_id team_id version
//                                    updated_at_ms snapshot (= serialized v1::Opportunity)
//   autostage:{O}:contacts      SET  the contact keys (below) O is indexed under now
//   autostage:{O}:tombstone     STRING tombstone time (ms), expires after tombstone_ttl
//   autostage:{contacts}:contact:<contact key>   SET  ids of OPEN opportunities with it
// and, when owner/team change, review's pending indexes (services/review/proposal_store.h):
//   autostage:{O}:pending, autostage:{O}:proposal:<P>, autostage:{review}:pending:owner:<id>,
//   autostage:{review}:pending:team:<id>.
// Contact keys are rules::OpportunityContactKeys / ParticipantContactKeys ("e:" lower-cased
// email, "p:" E.164 phone, "c:" chat id): the same definition SnapshotResolver uses.
//
// A contact is shared by many opportunities, so its key cannot carry an opportunity's hash
// tag; all contact keys share the {contacts} tag instead (a multi-key SUNION stays in one
// slot). The write scripts therefore span several tags ({O}, {contacts}, {review}): they need
// a single Redis (or a one-shard deployment), like review's scripts.
//
// Ordering: Apply() keeps the newest `updated_at` — an equal or older snapshot is ignored —
// so several ingest instances replaying crm.opportunities from the beginning never move
// state backwards. A tombstone deletes the state unless the stored snapshot is newer than the
// tombstone's time, and is remembered (tombstone_ttl) so a replayed older snapshot does not
// resurrect a deleted opportunity. Every change is one Lua script: consistent after a crash.
//
// Error codes: kUnavailable when Redis is unreachable or no pooled connection frees up in
// time (retry: never treat it as "unresolved"); kNotFound from Get for an unknown id;
// kInvalidArgument for a snapshot without opportunity_id/pipeline/stage; kDataLoss for a
// stored snapshot that does not parse.
//
// Thread safety: all methods are thread-safe (each call leases its own Redis connection).
#ifndef AUTOSTAGE_COMMON_CRMSTATE_OPPORTUNITY_STATE_STORE_H_
#define AUTOSTAGE_COMMON_CRMSTATE_OPPORTUNITY_STATE_STORE_H_

#include <atomic>
#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "autostage/v1/event.pb.h"
#include "autostage/v1/opportunity.pb.h"
#include "common/redis/redis_pool.h"
#include "common/redis/script.h"
#include "common/rules/resolver.h"

namespace autostage::crmstate {

struct StoreOptions {
  // How long a call waits for a free Redis connection (then kUnavailable).
  absl::Duration pool_wait = absl::Seconds(2);
  // How long a tombstone is remembered; keep it >= the topic's delete.retention.ms so a
  // replay cannot meet an older snapshot of a deleted opportunity after the marker expired.
  absl::Duration tombstone_ttl = absl::Hours(7 * 24);
};

enum class ApplyOutcome {
  kApplied,
  kIgnoredOlder,    // a snapshot with the same or a newer updated_at is stored
  kIgnoredDeleted,  // a tombstone at least as new as this snapshot was seen
};

enum class DeleteOutcome {
  kDeleted,
  kAbsent,        // nothing stored (the tombstone is still remembered)
  kIgnoredNewer,  // the stored snapshot is newer than the tombstone
};

// What Get() returns: the stored snapshot with the live fields of the hash (pipeline, stage,
// status, owner_id, team_id) written over it — review's confirm moves `stage` in the hash
// before the CRM publishes the new snapshot.
struct StoredOpportunity {
  v1::Opportunity opportunity;
  int64_t version = 0;        // incremented by every write
  int64_t updated_at_ms = 0;  // of the snapshot written last (0: none given)
};

// Counters since construction (for metrics).
struct StoreStats {
  int64_t applied = 0;
  int64_t ignored_older = 0;
  int64_t ignored_deleted = 0;
  int64_t deleted = 0;
  int64_t tombstones_ignored = 0;  // DeleteOutcome::kIgnoredNewer
};

class OpportunityStateStore {
 public:
  // `pool` is borrowed and must outlive the store.
  explicit OpportunityStateStore(redis::RedisPool& pool, StoreOptions options = {});
  OpportunityStateStore(const OpportunityStateStore&) = delete;
  OpportunityStateStore& operator=(const OpportunityStateStore&) = delete;

  // Writes `snapshot` if its updated_at is newer than the stored one (see the header comment),
  // re-indexes its contacts (closed opportunities leave the index) and moves its pending
  // proposals to the new owner/team indexes when those changed.
  absl::StatusOr<ApplyOutcome> Apply(const v1::Opportunity& snapshot);
  // Like Apply but unconditional (no ordering check, clears a tombstone): administrative
  // writes, review's ProposalStore::PutOpportunity and tests.
  absl::Status Put(const v1::Opportunity& snapshot);
  // A tombstone (null value on crm.opportunities) seen at `tombstone_time` (the message
  // timestamp). Removes the state and its contact index entries. Pending proposals stay.
  absl::StatusOr<DeleteOutcome> Delete(absl::string_view opportunity_id, absl::Time tombstone_time);
  absl::StatusOr<StoredOpportunity> Get(absl::string_view opportunity_id);

  // Exactly rules::SnapshotResolver's semantics over the stored state: `opportunity_id` first
  // (any status; unknown → "unresolved"), else the participants' contact keys against OPEN
  // opportunities (none → "unresolved", several → "ambiguous_opportunity"). Redis errors are
  // returned (kUnavailable), never turned into "unresolved".
  absl::StatusOr<rules::Resolution> Resolve(const v1::Event& event);
  // Resolve() of every event in at most two pipelined round trips (the opportunity hashes and
  // contact unions, then the hashes the unions named): one answer per event, in order. The
  // outer status is kUnavailable (or another connection-level code) when Redis failed — retry
  // the whole call, never treat it as "unresolved"; an inner status is a per-event error that
  // retrying will not fix (kDataLoss for a corrupt stored snapshot).
  absl::StatusOr<std::vector<absl::StatusOr<rules::Resolution>>> ResolveMany(
      const std::vector<const v1::Event*>& events);

  StoreStats stats() const;

  static std::string OpportunityKey(absl::string_view opportunity_id);
  static std::string ContactsKey(absl::string_view opportunity_id);
  static std::string TombstoneKey(absl::string_view opportunity_id);
  // The index key of one contact key ("e:wang@acme.com").
  static std::string ContactIndexKey(absl::string_view contact_key);

 private:
  absl::StatusOr<redis::RedisPool::Lease> Lease();
  absl::StatusOr<ApplyOutcome> Write(const v1::Opportunity& snapshot, bool unconditional);
  absl::StatusOr<StoredOpportunity> Load(redis::RedisClient& client, absl::string_view id);
  // The HMGET Load() sends, and its reply parsed (kNotFound for an unknown id).
  static redis::Args LoadCommand(absl::string_view id);
  static absl::StatusOr<StoredOpportunity> ParseLoaded(absl::string_view id,
                                                       const redis::Reply& reply);

  redis::RedisPool& pool_;
  const StoreOptions options_;
  const redis::Script write_script_;
  const redis::Script delete_script_;
  std::atomic<int64_t> applied_{0};
  std::atomic<int64_t> ignored_older_{0};
  std::atomic<int64_t> ignored_deleted_{0};
  std::atomic<int64_t> deleted_{0};
  std::atomic<int64_t> tombstones_ignored_{0};
};

// An OpportunityResolver that answers one precomputed Resolution, so a caller that resolved
// through the store (which may fail and be retried) can hand the answer to rules::Engine.
// Thread safety: immutable.
class FixedResolver : public rules::OpportunityResolver {
 public:
  explicit FixedResolver(rules::Resolution resolution) : resolution_(std::move(resolution)) {}
  rules::Resolution Resolve(const v1::Event& /*event*/) const override { return resolution_; }
  // Points at the held snapshot: no copy (valid while this resolver lives).
  void ResolveInto(const v1::Event& /*event*/, rules::ResolutionView* view) const override {
    view->opportunity = resolution_.opportunity ? &*resolution_.opportunity : nullptr;
    view->reason = resolution_.reason;
  }

 private:
  rules::Resolution resolution_;
};

}  // namespace autostage::crmstate

#endif  // AUTOSTAGE_COMMON_CRMSTATE_OPPORTUNITY_STATE_STORE_H_
