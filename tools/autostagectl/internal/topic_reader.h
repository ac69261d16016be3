// TopicReader: reads fixed windows of a Kafka topic with a plain assigned consumer — no group
// membership, nothing committed — so ops commands can look at a topic (the DLQ, events) without
// disturbing the services' consumer groups.
//
//   ASSIGN_OR_RETURN(auto reader, TopicReader::Open(bootstrap, absl::Seconds(10)));
//   ASSIGN_OR_RETURN(std::vector<PartitionWindow> windows, reader->Windows(topic));  // whole
//   ASSIGN_OR_RETURN(std::vector<kafka::Message> messages, reader->Read(topic, windows));
//
// A window's end is fixed when it is computed (the high watermark at that moment), so
// re-producing into the topic being read cannot make a read run forever.
//
// Every kafka::Message returned must be destroyed before its reader: librdkafka's destroy waits
// for the messages that still reference the client.
//
// librdkafka's own logging is off (log_level 0): commands report errors as one line.
//
// Errors: kUnavailable when the cluster does not answer in time, kNotFound for an unknown
// topic, kDeadlineExceeded when a read does not reach its window ends in time.
//
// Thread safety: not thread-safe; one thread drives a reader.
#ifndef AUTOSTAGE_TOOLS_AUTOSTAGECTL_INTERNAL_TOPIC_READER_H_
#define AUTOSTAGE_TOOLS_AUTOSTAGECTL_INTERNAL_TOPIC_READER_H_

#include <librdkafka/rdkafka.h>

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "common/handle/handle.h"
#include "common/kafka/message.h"

namespace autostage::ctl::internal {

// Offsets [begin, end) of one partition.
struct PartitionWindow {
  int32_t partition = 0;
  int64_t begin = 0;
  int64_t end = 0;
};

class TopicReader {
 public:
  static absl::StatusOr<std::unique_ptr<TopicReader>> Open(const std::string& bootstrap,
                                                           absl::Duration timeout);
  ~TopicReader();
  TopicReader(const TopicReader&) = delete;
  TopicReader& operator=(const TopicReader&) = delete;

  // Every partition of `topic`, each window = [low watermark, high watermark).
  absl::StatusOr<std::vector<PartitionWindow>> Windows(const std::string& topic);

  // The first offset of `partition` whose timestamp is >= `time`, or -1 when the broker does
  // not know (no such message, or no timestamp index). Callers filter by timestamp too.
  absl::StatusOr<int64_t> OffsetForTime(const std::string& topic, int32_t partition,
                                        absl::Time time);

  // Every message of every window, in partition then offset order. Empty windows are skipped.
  absl::StatusOr<std::vector<kafka::Message>> Read(const std::string& topic,
                                                   const std::vector<PartitionWindow>& windows);

 private:
  using KafkaHandle = Handle<rd_kafka_t, &rd_kafka_destroy>;
  TopicReader(KafkaHandle kafka, absl::Duration timeout)
      : kafka_(std::move(kafka)), timeout_(timeout) {}

  KafkaHandle kafka_;
  absl::Duration timeout_;
};

}  // namespace autostage::ctl::internal

#endif  // AUTOSTAGE_TOOLS_AUTOSTAGECTL_INTERNAL_TOPIC_READER_H_
