// Message: one consumed Kafka message (or consumer event), owning its rd_kafka_message_t.
//
// A Message with ok() == false is an event from the consumer rather than data: partition EOF
// (only with enable.partition.eof=true), an offset reset, a transport error, or a fatal error.
// topic()/partition()/offset() are set when librdkafka knows them.
//
// key()/payload() views stay valid while the Message lives. Move-only.
// Thread safety: a Message may be handed to another thread, one owner at a time.
#ifndef AUTOSTAGE_COMMON_KAFKA_MESSAGE_H_
#define AUTOSTAGE_COMMON_KAFKA_MESSAGE_H_

#include <librdkafka/rdkafka.h>

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/string_view.h"
#include "common/kafka/internal/handles.h"
#include "common/kafka/kafka_types.h"

namespace autostage::kafka {

class Message {
 public:
  // Takes ownership of a message from rd_kafka_consumer_poll (non-null).
  explicit Message(rd_kafka_message_t* message) : message_(message) {}

  bool ok() const { return message_->err == RD_KAFKA_RESP_ERR_NO_ERROR; }
  rd_kafka_resp_err_t error_code() const { return message_->err; }
  // OK for data; otherwise the mapped error (see KafkaStatus) with librdkafka's text.
  absl::Status status() const;
  bool is_partition_eof() const { return message_->err == RD_KAFKA_RESP_ERR__PARTITION_EOF; }
  // ERR__FATAL: the client instance is unusable; recreate it.
  bool is_fatal() const { return message_->err == RD_KAFKA_RESP_ERR__FATAL; }

  // "" when the event is not about a topic.
  std::string topic() const;
  int32_t partition() const { return message_->partition; }
  int64_t offset() const { return message_->offset; }
  // Empty when the message has no key (use has_key() to tell null from empty).
  absl::string_view key() const;
  bool has_key() const { return message_->key != nullptr; }
  absl::string_view payload() const;
  // False for a null value (a tombstone on a compacted topic), true for any value, even empty.
  bool has_payload() const { return message_->payload != nullptr; }
  // Milliseconds since the epoch, or nullopt when the broker sent none.
  std::optional<int64_t> timestamp_ms() const;

  // All headers, in order (copies).
  std::vector<Header> headers() const;
  // The last value of header `key`, if present.
  std::optional<std::string> header(absl::string_view key) const;

 private:
  internal::MessageHandle message_;
};

}  // namespace autostage::kafka

#endif  // AUTOSTAGE_COMMON_KAFKA_MESSAGE_H_
