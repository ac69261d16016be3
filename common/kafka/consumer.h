// Consumer: a Kafka group consumer that hands out one message per Poll() and commits only
// what the caller explicitly stores.
//
//   Consumer::Create({{"bootstrap.servers", b}, {"group.id", "ingest"},
//                     {"partition.assignment.strategy", "cooperative-sticky"}}, &listener);
//   consumer->Subscribe({"crm.events.email"});
//   while (running) {
//     std::optional<Message> m = consumer->Poll(absl::Milliseconds(100));
//     if (!m) continue;                       // nothing within the timeout
//     if (!m->ok()) { log(m->status()); if (m->is_fatal()) break; continue; }
//     Handle(*m);                             // the work...
//     consumer->StoreOffset(*m);              // ...then, and only then, mark it done
//   }
//   consumer->Close();                        // leaves the group, commits stored offsets
//
// Offsets: enable.auto.offset.store defaults to false, so nothing is committed unless the
// caller stored it (StoreOffset/StoreOffsets); stored offsets are committed by librdkafka's
// auto-commit (enable.auto.commit, default true), by CommitSync(), and by Close(). Storing an
// offset of a partition that was revoked meanwhile returns kFailedPrecondition: not fatal,
// the partition's new owner re-reads from the last commit (duplicates are harmless by design).
//
// Rebalances: handled inside Poll() (and Close()) on the calling thread, for both the eager
// and the COOPERATIVE protocol (rd_kafka_incremental_assign/unassign when
// rd_kafka_rebalance_protocol() is "COOPERATIVE"). The listener hears of each change:
// OnAssigned after the partitions were added, OnRevoked before they are given up (its last
// chance to store offsets for them). With the cooperative protocol the lists are increments.
//
// Uses rd_kafka_consumer_poll only: no batch-consume APIs (they can lose or duplicate messages
// around rebalances in librdkafka 2.0.x).
//
// Offsets: CachedOffsets() reads what the consumer already knows (watermarks from the last
// fetch response, the application's position) without a round trip; QueryWatermarks() and
// Committed() ask the broker (one round trip each, bounded by their timeout).
//
// Thread safety: Poll, Close and the listener callbacks belong to one thread. StoreOffset(s),
// CommitSync, Pause, Resume, Assignment, CachedOffsets, QueryWatermarks and Committed may be
// called from other threads too (librdkafka makes them thread-safe), e.g. by workers
// finishing messages, until the Consumer is destroyed.
#ifndef AUTOSTAGE_COMMON_KAFKA_CONSUMER_H_
#define AUTOSTAGE_COMMON_KAFKA_CONSUMER_H_

#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "common/kafka/internal/handles.h"
#include "common/kafka/kafka_types.h"
#include "common/kafka/message.h"

namespace autostage::kafka {

// Hears of partition assignment changes. Called on the thread running Consumer::Poll/Close.
class RebalanceListener {
 public:
  virtual ~RebalanceListener() = default;
  // Partitions added to this consumer (already assigned when called).
  virtual void OnAssigned(const std::vector<TopicPartition>& partitions) = 0;
  // Partitions about to be taken away. `lost`: the group already gave them to someone else
  // (session timeout), so offsets stored now may be refused.
  virtual void OnRevoked(const std::vector<TopicPartition>& partitions, bool lost) = 0;
  // Applying an assignment change failed; the consumer keeps going.
  virtual void OnRebalanceError(const absl::Status& /*error*/) {}
};

// What the consumer knows of one partition's offsets; -1 where it does not know (yet).
struct PartitionOffsets {
  std::string topic;
  int32_t partition = 0;
  int64_t low = -1;       // log start offset (the earliest readable)
  int64_t high = -1;      // high watermark (the offset the next produced message gets)
  int64_t position = -1;  // the next offset the application reads (last consumed + 1)
};

class Consumer {
 public:
  // `config` must set group.id (kInvalidArgument otherwise). `listener` may be null; if set it
  // is borrowed and must outlive the Consumer.
  static absl::StatusOr<std::unique_ptr<Consumer>> Create(const KafkaConfig& config,
                                                          RebalanceListener* listener);

  Consumer(const Consumer&) = delete;
  Consumer& operator=(const Consumer&) = delete;
  // Close()s if not closed yet.
  ~Consumer();

  absl::Status Subscribe(const std::vector<std::string>& topics);

  // The next message or consumer event, or nullopt when none arrived within `timeout`.
  // Serves rebalances. After Close(), returns nullopt at once.
  std::optional<Message> Poll(absl::Duration timeout);

  // Marks `message` done: its offset + 1 is what the group will resume from.
  absl::Status StoreOffset(const Message& message);
  // Stores `offset` (the next offset to read) for each partition.
  absl::Status StoreOffsets(const std::vector<TopicPartition>& next_offsets);
  // Commits the stored offsets now and waits for the broker's answer. OK when there was
  // nothing to commit.
  absl::Status CommitSync();

  // Stops/restarts fetching for these partitions (offsets ignored). Messages already fetched
  // for a paused partition are not returned until it is resumed.
  absl::Status Pause(const std::vector<TopicPartition>& partitions);
  absl::Status Resume(const std::vector<TopicPartition>& partitions);

  absl::StatusOr<std::vector<TopicPartition>> Assignment() const;
  // For each of `partitions`: the watermarks cached from the last fetch response and the
  // application's position. No round trip; a partition not fetched yet (e.g. paused since
  // its assignment) has low/high -1, one not consumed from yet has position -1.
  std::vector<PartitionOffsets> CachedOffsets(const std::vector<TopicPartition>& partitions) const;
  // Asks the partition's leader for its log start and high watermark (one round trip).
  // kUnavailable/kDeadlineExceeded when the broker does not answer within `timeout`.
  absl::StatusOr<PartitionOffsets> QueryWatermarks(const std::string& topic, int32_t partition,
                                                   absl::Duration timeout) const;
  // The group's committed offsets of `partitions` (one round trip to the coordinator); a
  // partition without a committed offset has offset RD_KAFKA_OFFSET_INVALID.
  absl::StatusOr<std::vector<TopicPartition>> Committed(
      const std::vector<TopicPartition>& partitions, absl::Duration timeout) const;

  // "NONE", "EAGER" or "COOPERATIVE" (known after the first assignment).
  std::string RebalanceProtocol() const;

  // Leaves the group (revoking partitions through the listener) and commits stored offsets
  // (when auto-commit is on). Idempotent.
  absl::Status Close();

 private:
  explicit Consumer(RebalanceListener* listener) : listener_(listener) {}
  static void OnRebalance(rd_kafka_t* rk, rd_kafka_resp_err_t err,
                          rd_kafka_topic_partition_list_t* partitions, void* opaque);

  RebalanceListener* const listener_;
  internal::KafkaHandle kafka_;
  bool closed_ = false;
};

}  // namespace autostage::kafka

#endif  // AUTOSTAGE_COMMON_KAFKA_CONSUMER_H_
