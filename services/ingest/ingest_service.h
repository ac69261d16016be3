// IngestService: the consumer loop of autostage-ingest. One thread polls Kafka (single-message
// Poll, no batch APIs) and appends each event to its partition's inbox; a bounded worker pool
// takes a partition's queued events as one run (at most max_run_events), each partition on at
// most one worker at a time and in order, different partitions in parallel. Per run:
//
//   decode (content-type) + validate each → dedupe all (one pipelined round trip; events with
//   `autostage-replay: 1` skip it) → resolve all (ResolveMany: one or two pipelined round
//   trips) → rules::Engine on each with the current rule set, each proposal submitted to
//   review (batched) as soon as it is made → the run ends. The marker thread then writes the
//   dedupe marks (MarkDoneMany: one round trip for every run's events queued meanwhile) of the
//   events without a proposal, and of an event with a proposal once review acknowledges it →
//   the offsets may be stored.
//
// Runs exist because Redis round trips, not CPU, bounded the per-event path (three sequential
// round trips per event kept the workers waiting); a run costs two or three round trips for
// up to max_run_events events, and the marks are shared across runs and partitions. Order per
// partition is unchanged (a run is processed in offset order and the next run of the
// partition starts after it).
//
// Undecodable, invalid and oversized events go to the DLQ with the decoder's reason;
// unresolved ones to the DLQ (reason "unresolved" / "ambiguous_opportunity") or are skipped and
// counted, as configured. An offset is stored only when it and every offset before it in its
// partition are fully handled (OffsetTracker): no proposal, proposal acknowledged by review,
// or DLQ write acknowledged by the broker. Steps that fail transiently (Redis down, review
// down, broker refusing the DLQ write) are retried with backoff on the worker, never skipped;
// meanwhile the consumer pauses every assigned partition (it keeps polling, so it stays in
// the group), which keeps memory bounded by max_queued_events plus what was in flight.
//
// Revocation (cooperative or eager): queued events of the revoked partitions are dropped,
// running ones get `revoke_wait` to finish, the contiguous handled offsets are stored while
// the partition is still ours, and from then on nothing of that assignment is stored (epochs
// in OffsetTracker); the new owner re-reads from the commit, duplicates are harmless (dedupe +
// review's idempotent proposal ids).
//
// Stop(): no more events are handed out, partitions are paused, queued and in-flight events
// get until `drain_timeout` to finish, handled offsets are stored and committed, and the
// consumer is closed (it leaves the group). Run() then returns.
//
// Thread safety: Run() on one thread; Stop(), Health(), stats() from any thread.
#ifndef AUTOSTAGE_SERVICES_INGEST_INGEST_SERVICE_H_
#define AUTOSTAGE_SERVICES_INGEST_INGEST_SERVICE_H_

#include <atomic>
#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "common/crmstate/opportunity_state_store.h"
#include "common/event/decode.h"
#include "common/kafka/consumer.h"
#include "common/log/log.h"
#include "common/rules/engine.h"
#include "common/rules/rule_set.h"
#include "common/text/guards.h"
#include "services/ingest/deduper.h"
#include "services/ingest/dlq_writer.h"
#include "services/ingest/ingest_metrics.h"
#include "services/ingest/offset_tracker.h"
#include "services/ingest/partition_monitor.h"
#include "services/ingest/partition_queue.h"
#include "services/ingest/review_client.h"

namespace autostage::ingest {

// The rule set workers should use, with a generation that changes on every successful reload
// (workers rebuild their Engine when it does). Must be thread-safe.
struct RuleSnapshot {
  std::shared_ptr<const rules::RuleSet> rules;
  uint64_t generation = 0;
};
using RuleSource = std::function<RuleSnapshot()>;

enum class UnresolvedPolicy { kDeadLetter, kSkip };

struct IngestServiceOptions {
  // librdkafka consumer properties (bootstrap.servers, group.id, session.timeout.ms, ...).
  // The service sets enable.auto.offset.store=false and, unless given,
  // partition.assignment.strategy=cooperative-sticky, auto.offset.reset=earliest.
  kafka::KafkaConfig kafka;
  std::vector<std::string> topics = {"crm.events.email", "crm.events.call", "crm.events.chat"};
  int workers = 2;
  // Events queued for workers before the consumer pauses (resumes below half).
  size_t max_queued_events = 2000;
  // Most events a worker takes from one partition at once (one run: see the top).
  size_t max_run_events = 500;
  // Events consumed and not fully handled before the consumer pauses (resumes below half).
  size_t max_pending_events = 20000;
  UnresolvedPolicy unresolved = UnresolvedPolicy::kDeadLetter;
  event::DecodeLimits decode_limits;
  // How long a revocation waits for the partition's running events.
  absl::Duration revoke_wait = absl::Seconds(2);
  // How long Stop() lets queued and in-flight events finish.
  absl::Duration drain_timeout = absl::Seconds(15);
  // Backoff of retried steps (doubles up to the max).
  absl::Duration retry_initial = absl::Milliseconds(50);
  absl::Duration retry_max = absl::Seconds(2);
  absl::Duration poll_timeout = absl::Milliseconds(50);
  // How often autostage_ingest_consumer_lag is refreshed (PartitionMonitor).
  absl::Duration lag_interval = absl::Seconds(5);
  // How long to wait for the opportunity feed to catch up before consuming events.
  absl::Duration state_ready_timeout = absl::Minutes(5);
};

// What the service uses; all borrowed, all must outlive it.
struct IngestDependencies {
  ProposalBatcher& proposals;
  DlqWriter& dlq;
  Deduper& deduper;
  crmstate::OpportunityStateStore& state;
  RuleSource rules;
  // Cloned per worker engine.
  const text::GuardAnalyzer& guards;
  IngestMetrics& metrics;
  log::Logger log;
  // True once the opportunity feed caught up (null: always ready).
  std::function<bool()> state_ready;
};

// Counters for tests and the final log line.
struct IngestStats {
  int64_t consumed = 0;
  int64_t handled = 0;
  int64_t proposals_acked = 0;
  int64_t dead_lettered = 0;
  int64_t deduped = 0;
  int64_t skipped_unresolved = 0;
  int64_t offsets_skipped = 0;
  int64_t pauses = 0;
  int64_t revocations = 0;
};

class IngestService : private kafka::RebalanceListener {
 public:
  // Creates the consumer and subscribes. kInvalidArgument for bad Kafka properties.
  static absl::StatusOr<std::unique_ptr<IngestService>> Create(IngestServiceOptions options,
                                                               IngestDependencies deps);
  ~IngestService() override;
  IngestService(const IngestService&) = delete;
  IngestService& operator=(const IngestService&) = delete;

  // Consumes until Stop(), then drains and closes (see top). Returns the close status, or
  // kInternal after a fatal consumer error.
  absl::Status Run();
  // Asks Run() to finish. Thread-safe, idempotent.
  void Stop();

  // NOT_SERVING (kUnavailable) while Redis calls fail or before the state feed caught up.
  absl::Status Health() const;
  IngestStats stats() const;

 private:
  // One consumed event on its way through a worker.
  struct Work;
  // Per worker-slot state: engine (rebuilt on rule generation change) and decoder.
  struct WorkerContext;

  IngestService(IngestServiceOptions options, IngestDependencies deps);

  // RebalanceListener (on the Run() thread).
  void OnAssigned(const std::vector<kafka::TopicPartition>& partitions) override;
  void OnRevoked(const std::vector<kafka::TopicPartition>& partitions, bool lost) override;
  void OnRebalanceError(const absl::Status& error) override;

  void Dispatch(kafka::Message message);
  void UpdatePause();
  void StoreCommittable();

  // Worker side.
  // Takes the partition's queued events (a run) and processes them.
  void HandleRun(const PartitionKey& key);
  void ProcessRun(std::vector<std::shared_ptr<Work>> run);
  // Builds or rebuilds the context's engine when the rule generation changed.
  absl::Status EnsureEngine(WorkerContext& context);
  // Marks the events done in one round trip and finishes each.
  void FinishMany(const std::vector<std::shared_ptr<Work>>& works);
  // The marker thread: finishes events whose proposal review acknowledged and events that
  // made no proposal, many per MarkDoneMany (workers and the batcher's callbacks only queue
  // them, so neither waits on that round trip).
  void MarkerLoop();
  // Hands `works` (fully handled, not yet marked done) to the marker thread. Thread-safe.
  void QueueMarks(std::vector<std::shared_ptr<Work>> works);
  void SubmitProposal(const std::shared_ptr<Work>& work, v1::Proposal proposal);
  void DeadLetter(const std::shared_ptr<Work>& work, std::string reason, std::string detail);
  void Finish(const std::shared_ptr<Work>& work, bool mark_done);
  // Re-runs `step` on the partition's lane after a backoff (the completion came on a callback
  // thread that must not block).
  void RetryLater(const std::shared_ptr<Work>& work, const char* what, std::function<void()> step);
  // Sleeps `*backoff` (then doubles it) unless the work was abandoned; false when abandoned.
  bool Backoff(const Work& work, absl::Duration* backoff);
  bool Abandoned(const Work& work) const;
  std::unique_ptr<WorkerContext> AcquireContext();
  void ReleaseContext(std::unique_ptr<WorkerContext> context);
  void NoteRedis(const absl::Status& status);

  const IngestServiceOptions options_;
  IngestDependencies deps_;
  OffsetTracker tracker_;
  std::unique_ptr<kafka::Consumer> consumer_;
  // Lag gauges and scenario 9a at assignment; destroyed before the consumer it reads.
  std::unique_ptr<PartitionMonitor> monitor_;
  std::unique_ptr<PartitionQueue> pool_;

  // Consumed events not yet taken by a worker, per partition. A partition with a non-empty
  // inbox has exactly one HandleRun task queued or running (`scheduled`).
  struct Inbox {
    std::deque<std::shared_ptr<Work>> works;
    bool scheduled = false;
  };
  mutable absl::Mutex inbox_mu_;
  std::map<PartitionKey, Inbox> inboxes_ ABSL_GUARDED_BY(inbox_mu_);
  std::atomic<size_t> inbox_events_{0};

  // Handled events waiting for the marker thread (see MarkerLoop).
  absl::Mutex marks_mu_;
  std::vector<std::shared_ptr<Work>> marks_ ABSL_GUARDED_BY(marks_mu_);
  bool marks_stop_ ABSL_GUARDED_BY(marks_mu_) = false;
  std::thread marker_;

  std::atomic<bool> stopping_{false};
  // Set when the drain deadline passed: retry loops give up.
  std::atomic<bool> abandon_{false};
  std::atomic<bool> redis_ok_{true};
  std::atomic<bool> ready_{false};

  // Run-thread state.
  bool paused_ = false;
  std::map<PartitionKey, uint64_t> epochs_;  // assigned partitions → tracker epoch

  absl::Mutex engine_mu_;
  mutable absl::Mutex contexts_mu_;
  std::vector<std::unique_ptr<WorkerContext>> free_contexts_ ABSL_GUARDED_BY(contexts_mu_);

  // Wakes backoff sleeps on Stop().
  mutable absl::Mutex wake_mu_;
  bool wake_ ABSL_GUARDED_BY(wake_mu_) = false;

  std::atomic<int64_t> consumed_{0};
  std::atomic<int64_t> handled_{0};
  std::atomic<int64_t> proposals_acked_{0};
  std::atomic<int64_t> dead_lettered_{0};
  std::atomic<int64_t> deduped_{0};
  std::atomic<int64_t> skipped_unresolved_{0};
  std::atomic<int64_t> offsets_skipped_{0};
  std::atomic<int64_t> pauses_{0};
  std::atomic<int64_t> revocations_{0};
};

}  // namespace autostage::ingest

#endif  // AUTOSTAGE_SERVICES_INGEST_INGEST_SERVICE_H_
