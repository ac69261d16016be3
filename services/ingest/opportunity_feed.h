// OpportunityFeed: follows crm.opportunities into the OpportunityStateStore.
//
// Every ingest instance reads the whole topic from the beginning: all partitions are assigned
// directly (rd_kafka_assign, no group membership, no rebalances) and nothing is committed.
// (librdkafka's assign API needs a group.id; one is set but never joined.) At start the
// partitions' high watermarks are taken; CaughtUp() becomes true once every partition was
// read up to that mark, so ingest can wait for state before judging events. The feed then
// keeps following new snapshots until Stop().
//
// Per message: a null value is a tombstone → store.Delete(key, message timestamp); otherwise
// the value is decoded as JSON or protobuf by the `content-type` header
// (event::DecodeOpportunity) → store.Apply(). A message that does not decode, has no key for
// a tombstone, or whose key differs from its opportunity_id is logged and counted as invalid
// and skipped: it never blocks the feed. A Redis error is retried with backoff until it
// succeeds (or Stop()): a snapshot is never skipped because Redis was down.
//
// Partitions added to the topic after start are not picked up until restart.
//
// Thread safety: Start/Stop from one owning thread; CaughtUp, WaitCaughtUp and stats from any
// thread.
#ifndef AUTOSTAGE_SERVICES_INGEST_OPPORTUNITY_FEED_H_
#define AUTOSTAGE_SERVICES_INGEST_OPPORTUNITY_FEED_H_

#include <atomic>
#include <cstdint>
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
#include "common/kafka/internal/handles.h"
#include "common/kafka/kafka_types.h"
#include "common/kafka/message.h"
#include "common/log/log.h"

namespace autostage::ingest {

struct OpportunityFeedOptions {
  // librdkafka properties (bootstrap.servers, security, ...). The feed sets
  // enable.auto.commit=false, enable.auto.offset.store=false, enable.partition.eof=true and,
  // unless given, group.id=autostage-opportunity-feed (never joined).
  kafka::KafkaConfig kafka;
  std::string topic = "crm.opportunities";
  event::DecodeLimits decode_limits;
  absl::Duration poll_timeout = absl::Milliseconds(100);
  // Metadata / watermark requests at start (retried until they succeed or Stop()).
  absl::Duration request_timeout = absl::Seconds(5);
  // Backoff of Redis retries and of start-up retries (doubles up to the max).
  absl::Duration retry_initial = absl::Milliseconds(50);
  absl::Duration retry_max = absl::Seconds(2);
};

struct OpportunityFeedStats {
  int64_t applied = 0;        // snapshots written
  int64_t ignored_older = 0;  // snapshots not newer than the stored one (or a tombstone)
  int64_t deleted = 0;        // tombstones applied (incl. nothing stored / newer kept)
  int64_t invalid = 0;        // undecodable or inconsistent messages, skipped
  int64_t redis_retries = 0;  // store calls that failed and were retried
  int64_t lag = 0;            // messages behind the high watermarks, all partitions
  int partitions = 0;         // assigned (0 until started)
  bool caught_up = false;
};

class OpportunityFeed {
 public:
  // `store` is borrowed and must outlive the feed. kInvalidArgument for bad Kafka properties.
  static absl::StatusOr<std::unique_ptr<OpportunityFeed>> Create(
      OpportunityFeedOptions options, crmstate::OpportunityStateStore& store, log::Logger log);
  // Stops and closes the consumer.
  ~OpportunityFeed();
  OpportunityFeed(const OpportunityFeed&) = delete;
  OpportunityFeed& operator=(const OpportunityFeed&) = delete;

  // Starts the feed thread (metadata, watermarks, assignment, then consuming). Idempotent.
  void Start();
  // Stops the feed thread (an in-progress Redis retry is abandoned). Idempotent.
  void Stop();

  // True once every partition was read up to the high watermark seen at start.
  bool CaughtUp() const { return caught_up_.load(std::memory_order_acquire); }
  // Waits until CaughtUp() or `timeout`; false on timeout.
  bool WaitCaughtUp(absl::Duration timeout) const;

  OpportunityFeedStats stats() const;

 private:
  struct PartitionState {
    int32_t partition = 0;
    int64_t start_high = 0;   // high watermark when the feed started
    int64_t next_offset = 0;  // after the last message handled
    bool caught_up = false;
  };

  OpportunityFeed(OpportunityFeedOptions options, crmstate::OpportunityStateStore& store,
                  log::Logger log)
      : options_(std::move(options)),
        store_(store),
        log_(std::move(log)),
        decoder_(options_.decode_limits) {}

  void Run();
  // Metadata + watermarks + assign; kUnavailable (retried by Run) when the broker does not
  // answer or the topic does not exist yet.
  absl::Status Setup();
  void Handle(const kafka::Message& message);
  void HandleSnapshot(const kafka::Message& message);
  void HandleTombstone(const kafka::Message& message);
  // Runs `call` until it succeeds, is refused as invalid (returned), or Stop().
  template <typename Call>
  auto Retry(const char* what, Call call) -> decltype(call());
  // Sleeps for *backoff (doubling it); false when stopping.
  bool Backoff(absl::Duration* backoff);
  void MarkHandled(int32_t partition, int64_t next_offset);
  void UpdateCaughtUp() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  const OpportunityFeedOptions options_;
  crmstate::OpportunityStateStore& store_;
  const log::Logger log_;
  kafka::internal::KafkaHandle kafka_;  // created by Create, used by the feed thread
  event::Decoder decoder_;              // feed thread only

  std::thread thread_;
  mutable absl::Mutex stop_mu_;
  bool stopping_ ABSL_GUARDED_BY(stop_mu_) = false;

  mutable absl::Mutex mu_;
  std::vector<PartitionState> partitions_ ABSL_GUARDED_BY(mu_);
  std::atomic<bool> caught_up_{false};

  std::atomic<int64_t> applied_{0};
  std::atomic<int64_t> ignored_older_{0};
  std::atomic<int64_t> deleted_{0};
  std::atomic<int64_t> invalid_{0};
  std::atomic<int64_t> redis_retries_{0};
};

}  // namespace autostage::ingest

#endif  // AUTOSTAGE_SERVICES_INGEST_OPPORTUNITY_FEED_H_
