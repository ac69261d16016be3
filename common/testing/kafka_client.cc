#include "common/testing/kafka_client.h"

#include <algorithm>

#include "absl/strings/str_cat.h"

namespace autostage::testing {

absl::StatusOr<KafkaConf> NewKafkaConf(const KafkaSettings& settings) {
  KafkaConf conf(rd_kafka_conf_new());
  char errstr[512];
  for (const auto& [key, value] : settings) {
    if (rd_kafka_conf_set(conf.get(), key.c_str(), value.c_str(), errstr, sizeof(errstr)) !=
        RD_KAFKA_CONF_OK) {
      return absl::InvalidArgumentError(
          absl::StrCat("kafka setting ", key, "=", value, ": ", errstr));
    }
  }
  return conf;
}

absl::StatusOr<KafkaClient> NewKafkaClient(rd_kafka_type_t type, KafkaConf conf) {
  char errstr[512] = {};
  KafkaClient client(rd_kafka_new(type, conf.get(), errstr, sizeof(errstr)));
  if (!client) return absl::InvalidArgumentError(absl::StrCat("rd_kafka_new: ", errstr));
  conf.release();  // Owned by the client now (and only because rd_kafka_new succeeded).
  return client;
}

absl::StatusOr<KafkaMetadata> FetchMetadata(rd_kafka_t* client, absl::Duration timeout) {
  const rd_kafka_metadata_t* raw = nullptr;
  const rd_kafka_resp_err_t err =
      rd_kafka_metadata(client, /*all_topics=*/1, nullptr, &raw,
                        static_cast<int>(absl::ToInt64Milliseconds(timeout)));
  KafkaMetadata metadata(raw);
  if (err != RD_KAFKA_RESP_ERR_NO_ERROR) {
    return absl::UnavailableError(absl::StrCat("metadata: ", rd_kafka_err2str(err)));
  }
  return metadata;
}

size_t DeliveryLog::ok_count() const {
  size_t ok = 0;
  for (rd_kafka_resp_err_t err : errors) ok += err == RD_KAFKA_RESP_ERR_NO_ERROR ? 1 : 0;
  return ok;
}

void CollectDeliveryReports(rd_kafka_conf_t* conf, DeliveryLog* log) {
  rd_kafka_conf_set_opaque(conf, log);
  rd_kafka_conf_set_dr_msg_cb(conf,
                              [](rd_kafka_t*, const rd_kafka_message_t* message, void* opaque) {
                                static_cast<DeliveryLog*>(opaque)->errors.push_back(message->err);
                              });
}

absl::Status Produce(rd_kafka_t* producer, const std::string& topic, int32_t partition,
                     const std::string& key, const std::string& value) {
  const rd_kafka_resp_err_t err = rd_kafka_producev(
      producer, RD_KAFKA_V_TOPIC(topic.c_str()), RD_KAFKA_V_PARTITION(partition),
      RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY),
      RD_KAFKA_V_KEY(const_cast<char*>(key.data()), key.size()),
      RD_KAFKA_V_VALUE(const_cast<char*>(value.data()), value.size()), RD_KAFKA_V_END);
  if (err != RD_KAFKA_RESP_ERR_NO_ERROR) {
    return absl::UnavailableError(absl::StrCat("produce to ", topic, ": ", rd_kafka_err2str(err)));
  }
  return absl::OkStatus();
}

absl::StatusOr<std::vector<ConsumedMessage>> ConsumeMessages(rd_kafka_t* consumer, size_t count,
                                                             absl::Duration timeout) {
  std::vector<ConsumedMessage> out;
  const absl::Time deadline = absl::Now() + timeout;
  while (out.size() < count) {
    const absl::Duration left = deadline - absl::Now();
    if (left <= absl::ZeroDuration()) {
      return absl::DeadlineExceededError(absl::StrCat("consumed ", out.size(), " of ", count,
                                                      " messages within ",
                                                      absl::FormatDuration(timeout)));
    }
    const int wait_ms = static_cast<int>(std::min<int64_t>(absl::ToInt64Milliseconds(left), 200));
    KafkaMessage message(rd_kafka_consumer_poll(consumer, wait_ms));
    if (!message) continue;
    if (message->err == RD_KAFKA_RESP_ERR__PARTITION_EOF) continue;
    if (message->err != RD_KAFKA_RESP_ERR_NO_ERROR) {
      return absl::UnavailableError(
          absl::StrCat("consume: ", rd_kafka_message_errstr(message.get())));
    }
    ConsumedMessage consumed;
    consumed.topic = rd_kafka_topic_name(message->rkt);
    consumed.partition = message->partition;
    consumed.offset = message->offset;
    if (message->key != nullptr) {
      consumed.key.assign(static_cast<const char*>(message->key), message->key_len);
    }
    if (message->payload != nullptr) {
      consumed.value.assign(static_cast<const char*>(message->payload), message->len);
    }
    out.push_back(std::move(consumed));
  }
  return out;
}

}  // namespace autostage::testing
