// OffsetTracker: per assigned partition, which consumed offsets are still being handled, and
// so the highest offset that may be stored: every offset below it is fully handled (no
// proposal, proposal acknowledged by review, or dead-lettered).
//
//   uint64_t epoch = tracker.Assign(key);                  // on assignment
//   int64_t skipped = tracker.Track(key, epoch, offset);   // when the consumer hands it out
//   tracker.Done(key, epoch, offset);                      // from any thread, out of order
//   for (auto& [key, next] : tracker.TakeCommittable()) consumer.StoreOffsets(...);
//   tracker.Revoke(key);                                   // late Done()s are then ignored
//
// Epochs fence revoked work: an assignment gets a fresh epoch, and Done() with an older epoch
// (an event of a partition that was revoked, maybe reassigned since) changes nothing, so an
// offset of a previous assignment is never stored.
//
// Gaps: offsets handed out for one partition should be consecutive. When one jumps ahead
// (the log start moved past unread events and the consumer was reset to the earliest
// offset, failure scenario 9a), Track() returns how many offsets were skipped.
//
// Thread safety: all methods are thread-safe.
#ifndef AUTOSTAGE_SERVICES_INGEST_OFFSET_TRACKER_H_
#define AUTOSTAGE_SERVICES_INGEST_OFFSET_TRACKER_H_

#include <cstdint>
#include <map>
#include <set>
#include <utility>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"
#include "services/ingest/partition_queue.h"

namespace autostage::ingest {

class OffsetTracker {
 public:
  // Starts tracking `key` (replacing an earlier assignment) and returns its epoch.
  uint64_t Assign(const PartitionKey& key);
  // Forgets `key`; later Track/Done calls of its epoch are ignored.
  void Revoke(const PartitionKey& key);

  // `offset` was handed out for handling. Returns the offsets skipped before it (0 normally;
  // the first offset of an assignment has no predecessor, so it never counts as a gap).
  // Ignored (returns 0) when `epoch` is not the current one.
  int64_t Track(const PartitionKey& key, uint64_t epoch, int64_t offset);
  // `offset` is fully handled. Ignored when `epoch` is not the current one.
  void Done(const PartitionKey& key, uint64_t epoch, int64_t offset);

  // Partitions whose storable next offset advanced since the last call, with that offset
  // (the first not fully handled one, or last handed out + 1 when all are done).
  std::vector<std::pair<PartitionKey, int64_t>> TakeCommittable();

  // Offsets handed out and not done: in one partition (0 when unknown) and in all.
  size_t Pending(const PartitionKey& key) const;
  size_t PendingTotal() const;
  // Whether `epoch` is the current assignment of `key`.
  bool IsCurrent(const PartitionKey& key, uint64_t epoch) const;
  // The partitions tracked now.
  std::vector<PartitionKey> Partitions() const;

 private:
  struct State {
    uint64_t epoch = 0;
    std::set<int64_t> pending;
    int64_t last_tracked = -1;  // -1: nothing handed out yet in this assignment
    int64_t stored = -1;        // next offset last returned by TakeCommittable
  };
  mutable absl::Mutex mu_;
  std::map<PartitionKey, State> partitions_ ABSL_GUARDED_BY(mu_);
  uint64_t next_epoch_ ABSL_GUARDED_BY(mu_) = 1;
};

}  // namespace autostage::ingest

#endif  // AUTOSTAGE_SERVICES_INGEST_OFFSET_TRACKER_H_
