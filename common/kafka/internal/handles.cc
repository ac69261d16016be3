#include "common/kafka/internal/handles.h"

#include <string>
#include <vector>

#include "absl/strings/str_cat.h"

namespace autostage::kafka::internal {

absl::StatusOr<ConfHandle> BuildConf(const KafkaConfig& config) {
  ConfHandle conf(rd_kafka_conf_new());
  char errstr[512];
  for (const auto& [name, value] : config) {
    if (rd_kafka_conf_set(conf.get(), name.c_str(), value.c_str(), errstr, sizeof(errstr)) !=
        RD_KAFKA_CONF_OK) {
      return absl::InvalidArgumentError(
          absl::StrCat("kafka config ", name, "=", value, ": ", errstr));
    }
  }
  return conf;
}

PartitionListHandle ToList(const std::vector<TopicPartition>& partitions) {
  PartitionListHandle list(rd_kafka_topic_partition_list_new(static_cast<int>(partitions.size())));
  for (const TopicPartition& tp : partitions) {
    rd_kafka_topic_partition_list_add(list.get(), tp.topic.c_str(), tp.partition)->offset =
        tp.offset;
  }
  return list;
}

std::vector<TopicPartition> FromList(const rd_kafka_topic_partition_list_t* list) {
  std::vector<TopicPartition> partitions;
  if (list == nullptr) return partitions;
  partitions.reserve(static_cast<size_t>(list->cnt));
  for (int i = 0; i < list->cnt; ++i) {
    const rd_kafka_topic_partition_t& e = list->elems[i];
    partitions.push_back(TopicPartition{e.topic, e.partition, e.offset});
  }
  return partitions;
}

absl::Status FirstPartitionError(const rd_kafka_topic_partition_list_t* list,
                                 absl::string_view context) {
  for (int i = 0; list != nullptr && i < list->cnt; ++i) {
    const rd_kafka_topic_partition_t& e = list->elems[i];
    if (e.err != RD_KAFKA_RESP_ERR_NO_ERROR) {
      return KafkaStatus(e.err, absl::StrCat(context, " ", e.topic, "[", e.partition, "]"));
    }
  }
  return absl::OkStatus();
}

absl::Status ErrorToStatus(rd_kafka_error_t* error, absl::string_view context) {
  ErrorHandle owned(error);
  if (!owned) return absl::OkStatus();
  const absl::Status mapped = KafkaStatus(rd_kafka_error_code(owned.get()), context);
  return absl::Status(
      mapped.code(), absl::StrCat(mapped.message(), " (", rd_kafka_error_string(owned.get()), ")"));
}

}  // namespace autostage::kafka::internal
