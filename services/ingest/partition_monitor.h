// PartitionMonitor: per assigned partition, the consumer lag gauge and the detection of offsets
// lost to retention on a fresh assignment (failure scenario 9a).
//
//   PartitionMonitor monitor(*consumer, metrics, log, {.lag_interval = absl::Seconds(5)});
//   monitor.Start();                           // refreshes the lag gauges on its own thread
//   ...OnAssigned:  monitor.Assigned(partitions);   // reads the group's committed offsets
//   ...per message: monitor.Consumed(key, offset);  // 9a check on the first of an assignment
//   ...OnRevoked:   monitor.Revoked(partitions);    // their lag series disappear
//
// Lag: autostage_ingest_consumer_lag{topic,partition} = high watermark − the next offset to
// read, refreshed every `lag_interval` from Consumer::CachedOffsets (no round trip). The
// watermark cache only moves with fetch responses, so a partition whose cached high watermark
// and position did not move since the previous refresh (paused, idle, or not fetched yet) is
// asked of its leader instead (Consumer::QueryWatermarks, one round trip): the lag of a
// partition paused while review is down keeps growing, so the lag alert can fire. Before
// anything was consumed the next offset is the committed one, or the log start when there is
// none (ingest resets to the earliest offset); never below the log start.
//
// Retention (9a): Assigned() reads the group's committed offsets (Consumer::Committed, one
// round trip on the poll thread, bounded by `committed_timeout`). When the first offset
// consumed in that assignment lies beyond the committed one, librdkafka found the committed
// offset out of range and reset to the earliest available offset (auto.offset.reset=earliest):
// the offsets in between were deleted unread. Consumed() then logs "offsets skipped" with the
// count and adds it to autostage_ingest_offsets_skipped_total. A partition without a committed
// offset (a new group) never counts: nothing was owed to it. Gaps later in an assignment are
// OffsetTracker::Track's. (Topics must not be compacted or carry transaction markers, whose
// offsets are legitimately absent; the event topics carry neither.)
//
// Thread safety: Assigned, Revoked, Consumed and ConsumerError are called on the consumer's poll
// thread; RefreshNow, Start, Stop and skipped() from any thread. The consumer and metrics are
// borrowed and must outlive the monitor.
#ifndef AUTOSTAGE_SERVICES_INGEST_PARTITION_MONITOR_H_
#define AUTOSTAGE_SERVICES_INGEST_PARTITION_MONITOR_H_

#include <atomic>
#include <cstdint>
#include <map>
#include <thread>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "common/kafka/consumer.h"
#include "common/log/log.h"
#include "services/ingest/ingest_metrics.h"
#include "services/ingest/partition_queue.h"

namespace autostage::ingest {

struct PartitionMonitorOptions {
  // How often the lag gauges are refreshed.
  absl::Duration lag_interval = absl::Seconds(5);
  // Bound of the committed-offset read at assignment and of each watermark query.
  absl::Duration committed_timeout = absl::Seconds(2);
  absl::Duration query_timeout = absl::Seconds(2);
};

// Offsets deleted unread before the first offset consumed in an assignment: `first` minus the
// group's `committed` offset when that is known (>= 0) and behind `first`, else 0.
int64_t SkippedAtAssignment(int64_t committed, int64_t first);

// The lag of a partition from what is known of it (-1 = unknown): the high watermark minus
// the next offset to read (the position, else the committed offset, else the log start; never
// below the log start). -1 when the high watermark or every candidate is unknown.
int64_t ConsumerLag(int64_t low, int64_t high, int64_t position, int64_t committed);

class PartitionMonitor {
 public:
  PartitionMonitor(const kafka::Consumer& consumer, IngestMetrics& metrics, log::Logger log,
                   PartitionMonitorOptions options = {});
  ~PartitionMonitor();  // Stop()s
  PartitionMonitor(const PartitionMonitor&) = delete;
  PartitionMonitor& operator=(const PartitionMonitor&) = delete;

  // Starts/stops the refresh thread (Stop is idempotent; Start after Stop is not supported).
  void Start();
  void Stop();

  // Partitions added to the assignment: their committed offsets are read now.
  void Assigned(const std::vector<kafka::TopicPartition>& partitions);
  // Partitions given up: state and lag series removed.
  void Revoked(const std::vector<kafka::TopicPartition>& partitions);
  // `offset` of `key` was consumed. Returns the offsets skipped before it (only the first offset
  // of an assignment can report any; see the top), already logged and counted.
  int64_t Consumed(const PartitionKey& key, int64_t offset);

  // An error event of the consumer. ERR__MAX_POLL_EXCEEDED (failure scenario 4: the poll loop
  // stalled past max.poll.interval.ms, so librdkafka left the group and the partitions go to
  // other members) is logged as such and counted in
  // autostage_ingest_poll_interval_exceeded_total; returns whether it was that. What is still
  // in flight for those partitions is fenced: their revocation arrives as `lost`, so no offset
  // of theirs is stored (OffsetTracker epochs), and a late proposal carries the same id the
  // new owner's does, which review answers `duplicate`/`merged`.
  bool ConsumerError(const kafka::Message& error);

  // Refreshes every lag gauge now (the thread does it every lag_interval).
  void RefreshNow();

  // Offsets counted as skipped so far.
  int64_t skipped() const { return skipped_.load(); }

 private:
  struct State {
    uint64_t generation = 0;  // changes with every assignment: late refreshes are dropped
    int64_t committed = -1;   // at assignment; -1 none or unknown
    bool first_seen = false;
    // Cached values at the previous refresh (to tell a stale cache).
    int64_t last_high = -1;
    int64_t last_position = -1;
    prometheus::Gauge* gauge = nullptr;
  };

  void RefreshLoop();

  const kafka::Consumer& consumer_;
  IngestMetrics& metrics_;
  log::Logger log_;
  const PartitionMonitorOptions options_;

  absl::Mutex mu_;
  std::map<PartitionKey, State> partitions_ ABSL_GUARDED_BY(mu_);
  uint64_t next_generation_ ABSL_GUARDED_BY(mu_) = 1;
  bool stop_ ABSL_GUARDED_BY(mu_) = false;
  // Serializes refreshes (thread and RefreshNow) so cached "last" values stay consistent.
  absl::Mutex refresh_mu_;
  std::thread thread_;
  std::atomic<int64_t> skipped_{0};
};

}  // namespace autostage::ingest

#endif  // AUTOSTAGE_SERVICES_INGEST_PARTITION_MONITOR_H_
