// RAII holders for librdkafka C handles, and conversions shared by Producer and Consumer.
//
// Ownership subtleties recorded here once:
//  - rd_kafka_new() takes ownership of the conf only when it succeeds; on failure the caller
//    still owns (and must destroy) it. Hence: Conf conf = ...; rd_kafka_new(..., conf.get(),
//    ...); if it succeeded, conf.release().
//  - rd_kafka_producev() with RD_KAFKA_V_HEADERS takes the headers only on success.
//  - Headers read from a consumed message belong to the message.
#ifndef AUTOSTAGE_COMMON_KAFKA_INTERNAL_HANDLES_H_
#define AUTOSTAGE_COMMON_KAFKA_INTERNAL_HANDLES_H_

#include <librdkafka/rdkafka.h>

#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "common/handle/handle.h"
#include "common/kafka/kafka_types.h"

namespace autostage::kafka::internal {

using KafkaHandle = Handle<rd_kafka_t, &rd_kafka_destroy>;
using ConfHandle = Handle<rd_kafka_conf_t, &rd_kafka_conf_destroy>;
using PartitionListHandle =
    Handle<rd_kafka_topic_partition_list_t, &rd_kafka_topic_partition_list_destroy>;
using MessageHandle = Handle<rd_kafka_message_t, &rd_kafka_message_destroy>;
using HeadersHandle = Handle<rd_kafka_headers_t, &rd_kafka_headers_destroy>;
using ErrorHandle = Handle<rd_kafka_error_t, &rd_kafka_error_destroy>;

// A conf with every property set; kInvalidArgument names the first property librdkafka
// refused and says why.
absl::StatusOr<ConfHandle> BuildConf(const KafkaConfig& config);

PartitionListHandle ToList(const std::vector<TopicPartition>& partitions);
std::vector<TopicPartition> FromList(const rd_kafka_topic_partition_list_t* list);

// The first per-partition error in `list`, as a Status; OK if none.
absl::Status FirstPartitionError(const rd_kafka_topic_partition_list_t* list,
                                 absl::string_view context);

// Takes ownership of `error` (may be null = success).
absl::Status ErrorToStatus(rd_kafka_error_t* error, absl::string_view context);

}  // namespace autostage::kafka::internal

#endif  // AUTOSTAGE_COMMON_KAFKA_INTERNAL_HANDLES_H_
