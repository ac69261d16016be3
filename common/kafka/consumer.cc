#include "common/kafka/consumer.h"

#include <algorithm>
#include <cstring>
#include <memory>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "common/status/status_macros.h"

namespace autostage::kafka {

namespace {

int TimeoutMs(absl::Duration timeout) {
  return static_cast<int>(
      std::clamp<int64_t>(absl::ToInt64Milliseconds(timeout), 0, int64_t{1} << 30));
}

// librdkafka's "unknown" offsets (RD_KAFKA_OFFSET_INVALID and other logical values) as -1.
int64_t KnownOrMinusOne(int64_t offset) { return offset >= 0 ? offset : -1; }

}  // namespace

absl::StatusOr<std::unique_ptr<Consumer>> Consumer::Create(const KafkaConfig& config,
                                                           RebalanceListener* listener) {
  if (config.count("group.id") == 0) {
    return absl::InvalidArgumentError("kafka consumer: group.id is required");
  }
  KafkaConfig effective = config;
  effective.emplace("enable.auto.offset.store", "false");  // unless the caller set it
  ASSIGN_OR_RETURN(internal::ConfHandle conf, internal::BuildConf(effective));
  std::unique_ptr<Consumer> consumer(new Consumer(listener));
  rd_kafka_conf_set_opaque(conf.get(), consumer.get());  // stable: the Consumer is on the heap
  rd_kafka_conf_set_rebalance_cb(conf.get(), &Consumer::OnRebalance);

  char errstr[512];
  consumer->kafka_.reset(rd_kafka_new(RD_KAFKA_CONSUMER, conf.get(), errstr, sizeof(errstr)));
  if (!consumer->kafka_) {
    return absl::InvalidArgumentError(absl::StrCat("kafka consumer: ", errstr));  // conf ours
  }
  conf.release();  // owned by the rd_kafka_t now
  // Route the main queue (errors, logs, rebalances) to rd_kafka_consumer_poll.
  rd_kafka_poll_set_consumer(consumer->kafka_.get());
  return consumer;
}

Consumer::~Consumer() {
  if (!Close().ok()) {
    // Nothing more to do: the handle is destroyed either way; the group will time us out.
  }
}

void Consumer::OnRebalance(rd_kafka_t* rk, rd_kafka_resp_err_t err,
                           rd_kafka_topic_partition_list_t* partitions, void* opaque) {
  auto* self = static_cast<Consumer*>(opaque);
  const bool cooperative = std::strcmp(rd_kafka_rebalance_protocol(rk), "COOPERATIVE") == 0;
  const std::vector<TopicPartition> list = internal::FromList(partitions);
  absl::Status status;
  if (err == RD_KAFKA_RESP_ERR__ASSIGN_PARTITIONS) {
    status = cooperative ? internal::ErrorToStatus(rd_kafka_incremental_assign(rk, partitions),
                                                   "incremental assign")
                         : KafkaStatus(rd_kafka_assign(rk, partitions), "assign");
    if (status.ok() && self->listener_ != nullptr) self->listener_->OnAssigned(list);
  } else if (err == RD_KAFKA_RESP_ERR__REVOKE_PARTITIONS) {
    // Tell the listener first: it may still store offsets for these partitions.
    if (self->listener_ != nullptr) {
      self->listener_->OnRevoked(list, rd_kafka_assignment_lost(rk) != 0);
    }
    status = cooperative ? internal::ErrorToStatus(rd_kafka_incremental_unassign(rk, partitions),
                                                   "incremental unassign")
                         : KafkaStatus(rd_kafka_assign(rk, nullptr), "unassign");
  } else {
    // A rebalance error (e.g. an assignor failure): drop the whole assignment, as the
    // librdkafka docs prescribe, and report it.
    status = KafkaStatus(err, "rebalance");
    if (cooperative) {
      rd_kafka_error_destroy(rd_kafka_incremental_unassign(rk, partitions));
    } else {
      rd_kafka_assign(rk, nullptr);
    }
  }
  if (!status.ok() && self->listener_ != nullptr) self->listener_->OnRebalanceError(status);
}

absl::Status Consumer::Subscribe(const std::vector<std::string>& topics) {
  if (closed_) return absl::FailedPreconditionError("kafka consumer: closed");
  internal::PartitionListHandle list(
      rd_kafka_topic_partition_list_new(static_cast<int>(topics.size())));
  for (const std::string& topic : topics) {
    rd_kafka_topic_partition_list_add(list.get(), topic.c_str(), RD_KAFKA_PARTITION_UA);
  }
  return KafkaStatus(rd_kafka_subscribe(kafka_.get(), list.get()), "subscribe");
}

std::optional<Message> Consumer::Poll(absl::Duration timeout) {
  if (closed_) return std::nullopt;
  rd_kafka_message_t* message = rd_kafka_consumer_poll(kafka_.get(), TimeoutMs(timeout));
  if (message == nullptr) return std::nullopt;
  return Message(message);
}

absl::Status Consumer::StoreOffset(const Message& message) {
  if (!message.ok()) {
    return absl::InvalidArgumentError("kafka: cannot store the offset of an error event");
  }
  return StoreOffsets({TopicPartition{message.topic(), message.partition(), message.offset() + 1}});
}

absl::Status Consumer::StoreOffsets(const std::vector<TopicPartition>& next_offsets) {
  if (closed_) return absl::FailedPreconditionError("kafka consumer: closed");
  internal::PartitionListHandle list = internal::ToList(next_offsets);
  const rd_kafka_resp_err_t err = rd_kafka_offsets_store(kafka_.get(), list.get());
  // The per-partition errors say which partition was refused (e.g. no longer assigned).
  RETURN_IF_ERROR(internal::FirstPartitionError(list.get(), "store offset"));
  return KafkaStatus(err, "store offsets");
}

absl::Status Consumer::CommitSync() {
  if (closed_) return absl::FailedPreconditionError("kafka consumer: closed");
  const rd_kafka_resp_err_t err = rd_kafka_commit(kafka_.get(), nullptr, /*async=*/0);
  if (err == RD_KAFKA_RESP_ERR__NO_OFFSET) return absl::OkStatus();  // nothing stored
  return KafkaStatus(err, "commit");
}

absl::Status Consumer::Pause(const std::vector<TopicPartition>& partitions) {
  internal::PartitionListHandle list = internal::ToList(partitions);
  RETURN_IF_ERROR(KafkaStatus(rd_kafka_pause_partitions(kafka_.get(), list.get()), "pause"));
  return internal::FirstPartitionError(list.get(), "pause");
}

absl::Status Consumer::Resume(const std::vector<TopicPartition>& partitions) {
  internal::PartitionListHandle list = internal::ToList(partitions);
  RETURN_IF_ERROR(KafkaStatus(rd_kafka_resume_partitions(kafka_.get(), list.get()), "resume"));
  return internal::FirstPartitionError(list.get(), "resume");
}

absl::StatusOr<std::vector<TopicPartition>> Consumer::Assignment() const {
  rd_kafka_topic_partition_list_t* raw = nullptr;
  RETURN_IF_ERROR(KafkaStatus(rd_kafka_assignment(kafka_.get(), &raw), "assignment"));
  internal::PartitionListHandle list(raw);
  return internal::FromList(list.get());
}

std::vector<PartitionOffsets> Consumer::CachedOffsets(
    const std::vector<TopicPartition>& partitions) const {
  std::vector<PartitionOffsets> out;
  out.reserve(partitions.size());
  internal::PartitionListHandle list = internal::ToList(partitions);
  // Fills each element's offset with the position; errors leave it RD_KAFKA_OFFSET_INVALID.
  (void)rd_kafka_position(kafka_.get(), list.get());
  for (int i = 0; i < list->cnt; ++i) {
    const rd_kafka_topic_partition_t& tp = list->elems[i];
    PartitionOffsets offsets{.topic = tp.topic, .partition = tp.partition};
    offsets.position = tp.err == RD_KAFKA_RESP_ERR_NO_ERROR ? KnownOrMinusOne(tp.offset) : -1;
    int64_t low = -1;
    int64_t high = -1;
    if (rd_kafka_get_watermark_offsets(kafka_.get(), tp.topic, tp.partition, &low, &high) ==
        RD_KAFKA_RESP_ERR_NO_ERROR) {
      offsets.low = KnownOrMinusOne(low);
      offsets.high = KnownOrMinusOne(high);
    }
    out.push_back(std::move(offsets));
  }
  return out;
}

absl::StatusOr<PartitionOffsets> Consumer::QueryWatermarks(const std::string& topic,
                                                           int32_t partition,
                                                           absl::Duration timeout) const {
  int64_t low = -1;
  int64_t high = -1;
  RETURN_IF_ERROR(
      KafkaStatus(rd_kafka_query_watermark_offsets(kafka_.get(), topic.c_str(), partition, &low,
                                                   &high, TimeoutMs(timeout)),
                  absl::StrCat("query watermarks of ", topic, "/", partition)));
  return PartitionOffsets{
      .topic = topic, .partition = partition, .low = low, .high = high, .position = -1};
}

absl::StatusOr<std::vector<TopicPartition>> Consumer::Committed(
    const std::vector<TopicPartition>& partitions, absl::Duration timeout) const {
  internal::PartitionListHandle list = internal::ToList(partitions);
  RETURN_IF_ERROR(
      KafkaStatus(rd_kafka_committed(kafka_.get(), list.get(), TimeoutMs(timeout)), "committed"));
  RETURN_IF_ERROR(internal::FirstPartitionError(list.get(), "committed"));
  return internal::FromList(list.get());
}

std::string Consumer::RebalanceProtocol() const {
  return rd_kafka_rebalance_protocol(kafka_.get());
}

absl::Status Consumer::Close() {
  if (closed_) return absl::OkStatus();
  closed_ = true;
  // Serves the final revoke through OnRebalance and commits stored offsets.
  return KafkaStatus(rd_kafka_consumer_close(kafka_.get()), "close");
}

}  // namespace autostage::kafka
