// Types shared by Producer and Consumer: configuration, headers, topic partitions, and the
// mapping from librdkafka error codes to absl::Status.
#ifndef AUTOSTAGE_COMMON_KAFKA_KAFKA_TYPES_H_
#define AUTOSTAGE_COMMON_KAFKA_KAFKA_TYPES_H_

#include <librdkafka/rdkafka.h>

#include <cstdint>
#include <map>
#include <string>

#include "absl/status/status.h"
#include "absl/strings/string_view.h"

namespace autostage::kafka {

// librdkafka properties, passed through unchanged ("bootstrap.servers", "group.id",
// "partition.assignment.strategy", ...). Unknown names and bad values are reported by
// Producer::Create / Consumer::Create as kInvalidArgument naming the property.
using KafkaConfig = std::map<std::string, std::string>;

struct Header {
  std::string key;
  std::string value;  // a null header value reads as ""
  friend bool operator==(const Header& a, const Header& b) {
    return a.key == b.key && a.value == b.value;
  }
};

struct TopicPartition {
  std::string topic;
  int32_t partition = 0;
  // Meaning depends on the call: the next offset to read (StoreOffsets), or unused.
  int64_t offset = RD_KAFKA_OFFSET_INVALID;
  friend bool operator==(const TopicPartition& a, const TopicPartition& b) {
    return a.topic == b.topic && a.partition == b.partition && a.offset == b.offset;
  }
  friend bool operator<(const TopicPartition& a, const TopicPartition& b) {
    return a.topic != b.topic ? a.topic < b.topic : a.partition < b.partition;
  }
};

// Maps a librdkafka error to a Status by what the caller should do:
//   kUnavailable        transport, broker down, timed out, coordinator moving, rebalancing:
//                       retry (librdkafka often retries itself).
//   kResourceExhausted  local queue full: poll/flush, then retry.
//   kDeadlineExceeded   message timed out undelivered (message.timeout.ms).
//   kNotFound           unknown topic or partition.
//   kInvalidArgument    message too large, invalid argument, bad config.
//   kFailedPrecondition wrong state, e.g. storing an offset for a partition no longer
//                       assigned (after a revoke: not fatal, the new owner re-reads it).
//   kCancelled          purged (producer closing).
//   kOutOfRange         OFFSET_OUT_OF_RANGE / auto offset reset (retention deleted data).
//   kInternal           fatal errors (idempotence broken) and everything else.
// `context` prefixes the message ("produce to crm.stage-changes").
absl::Status KafkaStatus(rd_kafka_resp_err_t err, absl::string_view context);

}  // namespace autostage::kafka

#endif  // AUTOSTAGE_COMMON_KAFKA_KAFKA_TYPES_H_
