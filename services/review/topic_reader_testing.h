// Test helper: reads a whole Kafka topic from the beginning to its current end (every
// partition), for asserting what the outbox publisher put there. Tests only.
//
// Thread safety: a plain function; each call has its own consumer.
#ifndef AUTOSTAGE_SERVICES_REVIEW_TOPIC_READER_TESTING_H_
#define AUTOSTAGE_SERVICES_REVIEW_TOPIC_READER_TESTING_H_

#include <librdkafka/rdkafka.h>

#include <algorithm>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "common/status/status_macros.h"
#include "common/testing/kafka_client.h"

namespace autostage::review {

struct TopicRecord {
  int32_t partition = 0;
  std::string key;
  std::string value;
  std::string change_id;  // the `change_id` header
};

// Every record of `topic` (partitions 0..partitions-1), in partition then offset order.
inline absl::StatusOr<std::vector<TopicRecord>> ReadTopic(const std::string& bootstrap,
                                                          const std::string& topic, int partitions,
                                                          absl::Duration timeout) {
  using ::autostage::testing::KafkaClient;
  using ::autostage::testing::KafkaMessage;
  using ::autostage::testing::KafkaPartitionList;
  ASSIGN_OR_RETURN(::autostage::testing::KafkaConf conf,
                   ::autostage::testing::NewKafkaConf({{"bootstrap.servers", bootstrap},
                                                       {"group.id", "topic-reader"},
                                                       {"enable.partition.eof", "true"},
                                                       {"enable.auto.commit", "false"}}));
  ASSIGN_OR_RETURN(KafkaClient consumer,
                   ::autostage::testing::NewKafkaClient(RD_KAFKA_CONSUMER, std::move(conf)));
  rd_kafka_poll_set_consumer(consumer.get());
  KafkaPartitionList list(rd_kafka_topic_partition_list_new(partitions));
  for (int p = 0; p < partitions; ++p) {
    rd_kafka_topic_partition_list_add(list.get(), topic.c_str(), p)->offset =
        RD_KAFKA_OFFSET_BEGINNING;
  }
  if (rd_kafka_resp_err_t err = rd_kafka_assign(consumer.get(), list.get()); err) {
    return absl::InternalError(absl::StrCat("assign: ", rd_kafka_err2str(err)));
  }
  std::vector<TopicRecord> out;
  std::set<int32_t> at_end;
  const absl::Time deadline = absl::Now() + timeout;
  while (static_cast<int>(at_end.size()) < partitions) {
    if (absl::Now() > deadline) {
      return absl::DeadlineExceededError(
          absl::StrCat("read ", out.size(), " records of ", topic, ", end not reached"));
    }
    KafkaMessage m(rd_kafka_consumer_poll(consumer.get(), 100));
    if (!m) continue;
    if (m->err == RD_KAFKA_RESP_ERR__PARTITION_EOF) {
      at_end.insert(m->partition);
      continue;
    }
    if (m->err != RD_KAFKA_RESP_ERR_NO_ERROR) continue;  // transient (broker just came back)
    at_end.erase(m->partition);
    TopicRecord r;
    r.partition = m->partition;
    if (m->key != nullptr) r.key.assign(static_cast<const char*>(m->key), m->key_len);
    if (m->payload != nullptr) r.value.assign(static_cast<const char*>(m->payload), m->len);
    rd_kafka_headers_t* headers = nullptr;
    if (rd_kafka_message_headers(m.get(), &headers) == RD_KAFKA_RESP_ERR_NO_ERROR) {
      const void* value = nullptr;
      size_t size = 0;
      if (rd_kafka_header_get_last(headers, "change_id", &value, &size) ==
              RD_KAFKA_RESP_ERR_NO_ERROR &&
          value != nullptr) {
        r.change_id.assign(static_cast<const char*>(value), size);
      }
    }
    out.push_back(std::move(r));
  }
  rd_kafka_consumer_close(consumer.get());
  std::stable_sort(out.begin(), out.end(), [](const TopicRecord& a, const TopicRecord& b) {
    return a.partition < b.partition;
  });
  return out;
}

}  // namespace autostage::review

#endif  // AUTOSTAGE_SERVICES_REVIEW_TOPIC_READER_TESTING_H_
