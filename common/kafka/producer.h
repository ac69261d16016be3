// Producer: an idempotent Kafka producer with per-message delivery callbacks.
//
//   ASSIGN_OR_RETURN(auto producer, Producer::Create({{"bootstrap.servers", brokers}}));
//   RETURN_IF_ERROR(producer->Produce("crm.stage-changes", opp_id, bytes, {{"change_id", id}},
//       [](const DeliveryReport& r) { if (r.status.ok()) Ack(...); }));
//   RETURN_IF_ERROR(producer->Flush(absl::Now() + absl::Seconds(10)));
//
// enable.idempotence defaults to true (no duplicates or reordering from librdkafka's own
// retries; implies acks=all); pass "enable.idempotence": "false" to opt out.
//
// Delivery callbacks run on the producer's own poll thread, exactly once per message accepted
// by Produce(): with OK once the broker has it, or with the error (kDeadlineExceeded after
// message.timeout.ms, kInternal for fatal idempotence errors, kCancelled when the producer is
// destroyed with the message still queued). Keep callbacks short; they must not call Flush().
//
// Produce() errors: kResourceExhausted (local queue full: wait for deliveries, retry),
// kInvalidArgument (too large), kNotFound (unknown topic), kInternal (fatal).
//
// Thread safety: all methods may be called from any thread concurrently.
#ifndef AUTOSTAGE_COMMON_KAFKA_PRODUCER_H_
#define AUTOSTAGE_COMMON_KAFKA_PRODUCER_H_

#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "common/kafka/internal/handles.h"
#include "common/kafka/kafka_types.h"

namespace autostage::kafka {

struct DeliveryReport {
  absl::Status status;
  std::string topic;
  int32_t partition = -1;
  int64_t offset = -1;  // the message's offset when status is OK
};

using DeliveryCallback = std::function<void(const DeliveryReport&)>;

class Producer {
 public:
  // `close_timeout`: how long the destructor waits for outstanding deliveries.
  static absl::StatusOr<std::unique_ptr<Producer>> Create(
      const KafkaConfig& config, absl::Duration close_timeout = absl::Seconds(5));

  Producer(const Producer&) = delete;
  Producer& operator=(const Producer&) = delete;
  // Waits up to close_timeout for outstanding deliveries (use Flush first for a chosen deadline),
  // then purges what is left (their callbacks get kCancelled) and destroys the handle.
  ~Producer();

  // Queues one message. An empty key means no key (the partitioner spreads such messages).
  // `on_delivery` may be null.
  absl::Status Produce(absl::string_view topic, absl::string_view key, absl::string_view value,
                       const std::vector<Header>& headers = {},
                       DeliveryCallback on_delivery = nullptr);

  // Waits until every queued message is delivered (or failed) and its callback ran.
  // kDeadlineExceeded if some are still outstanding at `deadline`.
  absl::Status Flush(absl::Time deadline);

  // Messages queued or in flight, callbacks not yet run.
  int outstanding() const;

 private:
  Producer() = default;
  static void OnDelivery(rd_kafka_t* rk, const rd_kafka_message_t* message, void* opaque);

  internal::KafkaHandle kafka_;
  absl::Duration close_timeout_;
  std::atomic<bool> stop_{false};
  // Messages accepted by Produce whose callback has not finished yet. rd_kafka_flush alone
  // may return while the poll thread is still inside a callback.
  mutable absl::Mutex mu_;
  int pending_ ABSL_GUARDED_BY(mu_) = 0;
  std::thread poller_;  // serves delivery reports; joined before kafka_ is destroyed
};

}  // namespace autostage::kafka

#endif  // AUTOSTAGE_COMMON_KAFKA_PRODUCER_H_
