// librdkafka conveniences for tests: RAII handle types, config from key/value pairs, client
// creation with the ownership rules spelled out, metadata and consume-until helpers.
//
// Thread safety: librdkafka handles are thread-safe; these functions add no shared state.
#ifndef AUTOSTAGE_COMMON_TESTING_KAFKA_CLIENT_H_
#define AUTOSTAGE_COMMON_TESTING_KAFKA_CLIENT_H_

#include <librdkafka/rdkafka.h>

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "common/handle/handle.h"

namespace autostage::testing {

using KafkaConf = Handle<rd_kafka_conf_t, &rd_kafka_conf_destroy>;
using KafkaClient = Handle<rd_kafka_t, &rd_kafka_destroy>;
using KafkaMessage = Handle<rd_kafka_message_t, &rd_kafka_message_destroy>;
using KafkaMetadata = Handle<const rd_kafka_metadata_t, &rd_kafka_metadata_destroy>;
using KafkaPartitionList =
    Handle<rd_kafka_topic_partition_list_t, &rd_kafka_topic_partition_list_destroy>;

using KafkaSettings = std::vector<std::pair<std::string, std::string>>;

// InvalidArgument names the setting librdkafka refused.
absl::StatusOr<KafkaConf> NewKafkaConf(const KafkaSettings& settings);

// Creates a client from `conf`. rd_kafka_new takes ownership of the conf only when it
// succeeds; on failure `conf` is destroyed here. Either way the caller's conf is consumed.
absl::StatusOr<KafkaClient> NewKafkaClient(rd_kafka_type_t type, KafkaConf conf);

// Metadata for all topics. Unavailable if the cluster does not answer within `timeout`.
absl::StatusOr<KafkaMetadata> FetchMetadata(rd_kafka_t* client, absl::Duration timeout);

// Delivery outcomes of a producer, in report order. Reports run inside rd_kafka_poll/flush on
// the thread that calls them, so the log needs no lock when one thread polls.
struct DeliveryLog {
  std::vector<rd_kafka_resp_err_t> errors;
  size_t ok_count() const;
};

// Routes `conf`'s delivery reports into `log`, which must outlive the client made from it.
void CollectDeliveryReports(rd_kafka_conf_t* conf, DeliveryLog* log);

// Enqueues one message (copied) for `topic`, RD_KAFKA_PARTITION_UA lets the partitioner pick.
absl::Status Produce(rd_kafka_t* producer, const std::string& topic, int32_t partition,
                     const std::string& key, const std::string& value);

struct ConsumedMessage {
  std::string topic;
  int32_t partition = 0;
  int64_t offset = 0;
  std::string key;
  std::string value;
};

// Polls a subscribed or assigned consumer until `count` messages arrived or `timeout` passed.
// Partition EOF and poll timeouts are normal; any other consumer error is returned (with the
// messages received so far lost), as is DeadlineExceeded with the count reached.
absl::StatusOr<std::vector<ConsumedMessage>> ConsumeMessages(rd_kafka_t* consumer, size_t count,
                                                             absl::Duration timeout);

}  // namespace autostage::testing

#endif  // AUTOSTAGE_COMMON_TESTING_KAFKA_CLIENT_H_
