#include "common/kafka/message.h"

#include <string>
#include <vector>

#include "absl/strings/str_cat.h"

namespace autostage::kafka {

absl::Status Message::status() const {
  if (ok()) return absl::OkStatus();
  const absl::Status mapped =
      KafkaStatus(message_->err, absl::StrCat("consume ", topic(), "[", partition(), "]"));
  // For error events the payload holds librdkafka's description.
  return absl::Status(mapped.code(), absl::StrCat(mapped.message(), ": ", payload()));
}

std::string Message::topic() const {
  return message_->rkt != nullptr ? rd_kafka_topic_name(message_->rkt) : "";
}

absl::string_view Message::key() const {
  if (message_->key == nullptr) return {};
  return absl::string_view(static_cast<const char*>(message_->key), message_->key_len);
}

absl::string_view Message::payload() const {
  if (message_->payload == nullptr) return {};
  return absl::string_view(static_cast<const char*>(message_->payload), message_->len);
}

std::optional<int64_t> Message::timestamp_ms() const {
  rd_kafka_timestamp_type_t type;
  const int64_t ts = rd_kafka_message_timestamp(message_.get(), &type);
  if (type == RD_KAFKA_TIMESTAMP_NOT_AVAILABLE) return std::nullopt;
  return ts;
}

std::vector<Header> Message::headers() const {
  std::vector<Header> result;
  rd_kafka_headers_t* hdrs = nullptr;  // owned by the message
  if (rd_kafka_message_headers(message_.get(), &hdrs) != RD_KAFKA_RESP_ERR_NO_ERROR) {
    return result;
  }
  const char* name;
  const void* value;
  size_t size;
  for (size_t i = 0;
       rd_kafka_header_get_all(hdrs, i, &name, &value, &size) == RD_KAFKA_RESP_ERR_NO_ERROR; ++i) {
    result.push_back(Header{name, value != nullptr
                                      ? std::string(static_cast<const char*>(value), size)
                                      : std::string()});
  }
  return result;
}

std::optional<std::string> Message::header(absl::string_view key) const {
  rd_kafka_headers_t* hdrs = nullptr;
  if (rd_kafka_message_headers(message_.get(), &hdrs) != RD_KAFKA_RESP_ERR_NO_ERROR) {
    return std::nullopt;
  }
  const void* value;
  size_t size;
  if (rd_kafka_header_get_last(hdrs, std::string(key).c_str(), &value, &size) !=
      RD_KAFKA_RESP_ERR_NO_ERROR) {
    return std::nullopt;
  }
  return value != nullptr ? std::string(static_cast<const char*>(value), size) : std::string();
}

}  // namespace autostage::kafka
